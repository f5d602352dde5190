//! OpenTimelineIO JSON (`.otio`): the serialisation of OTIO's `Timeline.1` schema and the
//! schemas under it (`Stack.1`, `Track.1`, `Clip.2`, `Gap.1`, `ExternalReference.1`,
//! `RationalTime.1`, `TimeRange.1`, `Marker.2`). Times are written at the timeline's frame rate
//! in (possibly fractional) frames. Redub's own data goes under `metadata.redub`.

use super::{
    Cut, CutClip, CutMarker, CutTrack, InterchangeError, TrackKind, frames_to_time, rate_from_f64,
    time_to_frames,
};
use crate::model::time::{FrameRate, Time};
use serde_json::{Value, json};

fn rational(t: Time, rate: FrameRate) -> Value {
    json!({ "OTIO_SCHEMA": "RationalTime.1", "rate": rate.as_f64(), "value": time_to_frames(t, rate) })
}

fn range(start: Time, duration: Time, rate: FrameRate) -> Value {
    json!({
        "OTIO_SCHEMA": "TimeRange.1",
        "duration": rational(duration, rate),
        "start_time": rational(start, rate),
    })
}

fn metadata(redub: &Option<Value>) -> Value {
    match redub {
        Some(r) => json!({ "redub": r }),
        None => json!({}),
    }
}

fn gap(duration: Time, rate: FrameRate) -> Value {
    json!({
        "OTIO_SCHEMA": "Gap.1",
        "name": "",
        "source_range": range(Time::ZERO, duration, rate),
        "effects": [],
        "markers": [],
        "enabled": true,
        "metadata": {},
    })
}

/// The media reference of a file.
fn external(url: &str, duration: Option<Time>, rate: FrameRate) -> Value {
    json!({
        "OTIO_SCHEMA": "ExternalReference.1",
        "name": "",
        "target_url": url,
        "available_range": duration.map(|d| range(Time::ZERO, d, rate)),
        "available_image_bounds": null,
        "metadata": {},
    })
}

/// The key of the rendered (lip-edited) picture among a picture clip's media references.
pub const RENDERED_KEY: &str = "REDUB_RENDERED";

fn clip(c: &CutClip, rate: FrameRate, rendered: Option<&str>) -> Value {
    let reference = match &c.url {
        Some(url) => external(url, c.media_duration, rate),
        None => json!({
            "OTIO_SCHEMA": "MissingReference.1",
            "name": "",
            "available_range": null,
            "available_image_bounds": null,
            "metadata": {},
        }),
    };
    let mut references = json!({ "DEFAULT_MEDIA": reference });
    if let Some(url) = rendered {
        references[RENDERED_KEY] = external(url, None, rate);
    }
    json!({
        "OTIO_SCHEMA": "Clip.2",
        "name": c.name,
        "source_range": range(c.source_in, c.duration, rate),
        "effects": [],
        "markers": [],
        "enabled": true,
        "metadata": metadata(&c.redub),
        "media_references": references,
        "active_media_reference_key": "DEFAULT_MEDIA",
    })
}

/// `rendered`: the render's URL, offered on the track's first clip (the picture track's shot).
fn track(t: &CutTrack, rate: FrameRate, rendered: Option<&str>) -> Value {
    let mut children = Vec::new();
    let mut at = Time::ZERO;
    for c in &t.clips {
        if c.position > at {
            children.push(gap(c.position - at, rate));
        }
        let first = children.iter().all(|v| v["OTIO_SCHEMA"] != "Clip.2");
        children.push(clip(c, rate, rendered.filter(|_| first)));
        at = c.end().max(at);
    }
    json!({
        "OTIO_SCHEMA": "Track.1",
        "name": t.name,
        "kind": match t.kind { TrackKind::Video => "Video", TrackKind::Audio => "Audio" },
        "source_range": null,
        "effects": [],
        "markers": [],
        "enabled": true,
        "metadata": metadata(&t.redub),
        "children": children,
    })
}

/// The OTIO JSON text of a cut.
pub fn write(cut: &Cut) -> String {
    let rate = cut.rate;
    let markers: Vec<Value> = cut
        .markers
        .iter()
        .map(|m| {
            json!({
                "OTIO_SCHEMA": "Marker.2",
                "name": m.name,
                "marked_range": range(m.time, Time::ZERO, rate),
                "color": "RED",
                "comment": "",
                "metadata": {},
            })
        })
        .collect();
    let rendered = cut.rendered.as_deref().map(super::path_to_url);
    let mut redub = cut.redub.clone().unwrap_or_else(|| json!({}));
    if let (Some(obj), Some(df)) = (redub.as_object_mut(), cut.drop_frame) {
        obj.insert("drop_frame".into(), json!(df));
    }
    let doc = json!({
        "OTIO_SCHEMA": "Timeline.1",
        "name": cut.name,
        "metadata": { "redub": redub },
        "global_start_time": {
            "OTIO_SCHEMA": "RationalTime.1",
            "rate": rate.as_f64(),
            "value": cut.start_frame as f64,
        },
        "tracks": {
            "OTIO_SCHEMA": "Stack.1",
            "name": "tracks",
            "source_range": null,
            "effects": [],
            "markers": markers,
            "enabled": true,
            "metadata": {},
            "children": cut
                .tracks
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    let picture = i == 0 && t.kind == TrackKind::Video;
                    track(t, rate, rendered.as_deref().filter(|_| picture))
                })
                .collect::<Vec<_>>(),
        },
    });
    let mut text = serde_json::to_string_pretty(&doc).unwrap_or_default();
    text.push('\n');
    text
}

// ---------------------------------------------------------------- reading

fn schema(v: &Value) -> (&str, u32) {
    let s = v["OTIO_SCHEMA"].as_str().unwrap_or("");
    match s.rsplit_once('.') {
        Some((name, version)) => (name, version.parse().unwrap_or(0)),
        None => (s, 0),
    }
}

fn malformed(what: &str) -> InterchangeError {
    InterchangeError::Malformed(format!("not a valid OpenTimelineIO file: {what}"))
}

/// A `RationalTime.1` as a time; `rate` is what the frames are counted in.
fn read_time(v: &Value, what: &str) -> Result<Time, InterchangeError> {
    let value = v["value"].as_f64().ok_or_else(|| malformed(&format!("{what} has no value")))?;
    let rate = v["rate"].as_f64().ok_or_else(|| malformed(&format!("{what} has no rate")))?;
    Ok(frames_to_time(value, rate_from_f64(rate)?))
}

/// A `TimeRange.1` as (start, duration).
fn read_range(v: &Value, what: &str) -> Result<Option<(Time, Time)>, InterchangeError> {
    if v.is_null() {
        return Ok(None);
    }
    Ok(Some((read_time(&v["start_time"], what)?, read_time(&v["duration"], what)?)))
}

fn redub_of(v: &Value) -> Option<Value> {
    v["metadata"].get("redub").cloned()
}

fn name_of(v: &Value) -> String {
    v["name"].as_str().unwrap_or_default().to_string()
}

fn count_effects(v: &Value, what: &str, out: &mut Vec<String>) {
    if let Some(effects) = v["effects"].as_array().filter(|e| !e.is_empty()) {
        for e in effects {
            let kind = e["effect_name"].as_str().filter(|s| !s.is_empty());
            let kind = kind.or(e["OTIO_SCHEMA"].as_str()).unwrap_or("effect");
            out.push(format!("effect {kind} on {what}"));
        }
    }
}

/// The media reference of a clip (`Clip.2`'s active one, or `Clip.1`'s only one).
fn reference(c: &Value) -> &Value {
    if let Some(refs) = c["media_references"].as_object() {
        let key = c["active_media_reference_key"].as_str().unwrap_or("DEFAULT_MEDIA");
        refs.get(key).unwrap_or(&Value::Null)
    } else {
        &c["media_reference"]
    }
}

fn read_markers(
    v: &Value,
    offset: Time,
    source_in: Time,
    out: &mut Vec<CutMarker>,
) -> Result<(), InterchangeError> {
    for m in v["markers"].as_array().into_iter().flatten() {
        if let Some((start, _)) = read_range(&m["marked_range"], "marker range")? {
            out.push(CutMarker { time: offset + (start - source_in), name: name_of(m) });
        }
    }
    Ok(())
}

fn read_track(t: &Value, index: usize, cut: &mut Cut) -> Result<(), InterchangeError> {
    let kind = match t["kind"].as_str() {
        Some("Audio") => TrackKind::Audio,
        Some("Video") => TrackKind::Video,
        other => {
            cut.unsupported.push(format!("track {} of kind {:?}", index + 1, other.unwrap_or("")));
            return Ok(());
        }
    };
    let name = name_of(t);
    let label = if name.is_empty() { format!("track {}", index + 1) } else { name.clone() };
    count_effects(t, &label, &mut cut.unsupported);
    if !t["source_range"].is_null() {
        cut.unsupported.push(format!("the trim of {label}"));
    }
    read_markers(t, Time::ZERO, Time::ZERO, &mut cut.markers)?;
    let mut clips = Vec::new();
    let mut at = Time::ZERO;
    for item in t["children"].as_array().into_iter().flatten() {
        let (kind_name, _) = schema(item);
        match kind_name {
            "Gap" => {
                let (_, d) = read_range(&item["source_range"], "gap range")?
                    .ok_or_else(|| malformed("a gap without a source range"))?;
                at += d;
            }
            "Clip" => {
                let r = reference(item);
                let available = read_range(&r["available_range"], "available range")?;
                let (source_in, duration) = match read_range(&item["source_range"], "clip range")? {
                    Some(range) => range,
                    None => available.ok_or_else(|| {
                        malformed(&format!("clip {:?} has no range", name_of(item)))
                    })?,
                };
                let (media_start, media_duration) = available.unzip();
                let clip_name = name_of(item);
                count_effects(item, &format!("clip {clip_name:?}"), &mut cut.unsupported);
                read_markers(item, at, source_in, &mut cut.markers)?;
                if item["enabled"].as_bool() == Some(false) {
                    cut.unsupported.push(format!("disabled clip {clip_name:?}"));
                    at += duration;
                    continue;
                }
                let url = match schema(r).0 {
                    "ExternalReference" => r["target_url"].as_str().map(str::to_string),
                    "ImageSequenceReference" | "GeneratorReference" => {
                        cut.unsupported.push(format!("{} of clip {clip_name:?}", schema(r).0));
                        None
                    }
                    _ => None,
                };
                // Source times relative to a media reference that starts at a timecode.
                let media_start = media_start.unwrap_or(Time::ZERO);
                clips.push(CutClip {
                    name: clip_name,
                    position: at,
                    source_in: source_in - media_start,
                    duration,
                    url,
                    media_duration,
                    gain_db: None,
                    redub: redub_of(item),
                });
                at += duration;
            }
            "Transition" => {
                cut.unsupported.push(format!("transition {:?} on {label}", name_of(item)));
            }
            other => {
                cut.unsupported.push(format!("{other} item on {label}"));
                if let Some((_, d)) = read_range(&item["source_range"], "item range")? {
                    at += d;
                }
            }
        }
    }
    cut.tracks.push(CutTrack { kind, name, clips, redub: redub_of(t) });
    Ok(())
}

/// Reads OTIO JSON text into a cut.
pub fn read(text: &str) -> Result<Cut, InterchangeError> {
    let doc: Value = serde_json::from_str(text).map_err(|e| {
        InterchangeError::Malformed(format!(
            "not a valid OpenTimelineIO file: line {}, column {}: {e}",
            e.line(),
            e.column()
        ))
    })?;
    if schema(&doc).0 != "Timeline" {
        return Err(malformed(&format!(
            "the top object is {:?}, not a Timeline",
            doc["OTIO_SCHEMA"].as_str().unwrap_or("")
        )));
    }
    let stack = &doc["tracks"];
    let redub = redub_of(&doc);
    // The rate: the global start time's, else the first clip's.
    let start = &doc["global_start_time"];
    let rate_value = start["rate"].as_f64().or_else(|| first_rate(stack));
    let rate = rate_from_f64(rate_value.unwrap_or(24.0))?;
    let start_frame = if start.is_null() {
        0
    } else {
        crate::model::interchange::nearest_frame(read_time(start, "global start time")?, rate)
    };
    let drop_frame = redub.as_ref().and_then(|r| r["drop_frame"].as_bool());
    let mut cut = Cut {
        name: name_of(&doc),
        rate,
        start_frame,
        drop_frame,
        tracks: Vec::new(),
        markers: Vec::new(),
        redub,
        unsupported: Vec::new(),
        rendered: None,
    };
    count_effects(stack, "the timeline", &mut cut.unsupported);
    read_markers(stack, Time::ZERO, Time::ZERO, &mut cut.markers)?;
    for (i, t) in stack["children"].as_array().into_iter().flatten().enumerate() {
        match schema(t).0 {
            "Track" => read_track(t, i, &mut cut)?,
            other => cut.unsupported.push(format!("{other} at the top of the timeline")),
        }
    }
    Ok(cut)
}

/// The rate of the first clip range found under `v`.
fn first_rate(v: &Value) -> Option<f64> {
    match v {
        Value::Object(map) => {
            if map.get("OTIO_SCHEMA").and_then(Value::as_str) == Some("RationalTime.1") {
                return map.get("rate").and_then(Value::as_f64);
            }
            map.values().find_map(first_rate)
        }
        Value::Array(items) => items.iter().find_map(first_rate),
        _ => None,
    }
}
