//! Final Cut Pro 7 XML (xmeml version 5), which Premiere Pro, DaVinci Resolve and Kdenlive
//! import and export: one sequence with its rate and start timecode, a video track with the
//! shot, an audio track per Redub track with clip items (`start`/`end` on the sequence,
//! `in`/`out` in the source, a `file` with its `pathurl`), the clip gain as an Audio Levels
//! filter, and markers. Positions are whole frames (the format has nothing finer).

use super::{
    Cut, CutClip, CutMarker, CutTrack, InterchangeError, TrackKind, nearest_frame, url_to_path,
};
use crate::model::time::{FrameRate, Timecode};
use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesStart, BytesText, Event};

type W = Writer<Vec<u8>>;
type Res = std::io::Result<()>;

fn text_el(w: &mut W, name: &str, text: &str) -> Res {
    w.create_element(name).write_text_content(BytesText::new(text))?;
    Ok(())
}

fn rate_el(w: &mut W, rate: FrameRate) -> Res {
    w.create_element("rate").write_inner_content(|w| {
        text_el(w, "timebase", &rate.nominal_fps().to_string())?;
        text_el(w, "ntsc", if rate.den == 1001 { "TRUE" } else { "FALSE" })
    })?;
    Ok(())
}

/// The clip's gain as FCP7's Audio Levels filter (a linear factor, 1 = 0 dB).
fn levels_el(w: &mut W, gain_db: f32) -> Res {
    let linear = 10f64.powf(f64::from(gain_db) / 20.0);
    w.create_element("filter").write_inner_content(|w| {
        w.create_element("effect").write_inner_content(|w| {
            text_el(w, "name", "Audio Levels")?;
            text_el(w, "effectid", "audiolevels")?;
            text_el(w, "effectcategory", "audiolevels")?;
            text_el(w, "effecttype", "audiolevels")?;
            text_el(w, "mediatype", "audio")?;
            w.create_element("parameter").write_inner_content(|w| {
                text_el(w, "parameterid", "level")?;
                text_el(w, "name", "Level")?;
                text_el(w, "valuemin", "0")?;
                text_el(w, "valuemax", "3.98109")?;
                text_el(w, "value", &format!("{linear}"))
            })?;
            Ok(())
        })?;
        Ok(())
    })?;
    Ok(())
}

struct Ids {
    clip: usize,
    files: Vec<String>,
}

fn clip_el(w: &mut W, c: &CutClip, kind: TrackKind, rate: FrameRate, ids: &mut Ids) -> Res {
    ids.clip += 1;
    let start = nearest_frame(c.position, rate);
    let end = nearest_frame(c.end(), rate);
    let in_f = nearest_frame(c.source_in, rate);
    let out_f = in_f + (end - start);
    let media_frames = c.media_duration.map(|d| nearest_frame(d, rate)).unwrap_or(out_f);
    let id = format!("clipitem-{}", ids.clip);
    w.create_element("clipitem").with_attribute(("id", id.as_str())).write_inner_content(|w| {
        text_el(w, "name", &c.name)?;
        text_el(w, "enabled", "TRUE")?;
        text_el(w, "duration", &media_frames.to_string())?;
        rate_el(w, rate)?;
        text_el(w, "start", &start.to_string())?;
        text_el(w, "end", &end.to_string())?;
        text_el(w, "in", &in_f.to_string())?;
        text_el(w, "out", &out_f.to_string())?;
        if let Some(url) = &c.url {
            let known = ids.files.iter().position(|u| u == url);
            let n = known.unwrap_or(ids.files.len()) + 1;
            let file_id = format!("file-{n}");
            let el = w.create_element("file").with_attribute(("id", file_id.as_str()));
            if known.is_some() {
                el.write_empty()?;
            } else {
                ids.files.push(url.clone());
                let name = url_to_path(url)
                    .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                    .unwrap_or_else(|| c.name.clone());
                el.write_inner_content(|w| {
                    text_el(w, "name", &name)?;
                    text_el(w, "pathurl", url)?;
                    rate_el(w, rate)?;
                    text_el(w, "duration", &media_frames.to_string())?;
                    w.create_element("media").write_inner_content(|w| {
                        if kind == TrackKind::Video {
                            w.create_element("video").write_empty()?;
                        }
                        w.create_element("audio")
                            .write_inner_content(|w| text_el(w, "channelcount", "2"))?;
                        Ok(())
                    })?;
                    Ok(())
                })?;
            }
        }
        if kind == TrackKind::Audio {
            w.create_element("sourcetrack").write_inner_content(|w| {
                text_el(w, "mediatype", "audio")?;
                text_el(w, "trackindex", "1")
            })?;
            if let Some(g) = c.gain_db {
                levels_el(w, g)?;
            }
        }
        Ok(())
    })?;
    Ok(())
}

fn track_el(w: &mut W, t: &CutTrack, rate: FrameRate, ids: &mut Ids) -> Res {
    // `MZ.TrackName` is Premiere's attribute for a track's name; other readers ignore it.
    w.create_element("track")
        .with_attribute(("MZ.TrackName", t.name.as_str()))
        .write_inner_content(|w| {
            for c in &t.clips {
                clip_el(w, c, t.kind, rate, ids)?;
            }
            text_el(w, "enabled", "TRUE")?;
            text_el(w, "locked", "FALSE")
        })?;
    Ok(())
}

fn timecode_text(cut: &Cut) -> (String, bool) {
    let df =
        cut.drop_frame.unwrap_or(cut.rate.is_drop_frame_rate()) && cut.rate.is_drop_frame_rate();
    let tc = Timecode::from_frame(cut.start_frame.max(0), cut.rate, df)
        .map(|t| t.to_string())
        .unwrap_or_else(|_| "00:00:00:00".into());
    (tc, df)
}

/// The FCP7 XML text of a cut.
pub fn write(cut: &Cut) -> Result<String, InterchangeError> {
    let rate = cut.rate;
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    let io = |e: std::io::Error| InterchangeError::Unsupported(e.to_string());
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None))).map_err(io)?;
    w.write_event(Event::DocType(BytesText::from_escaped("xmeml"))).map_err(io)?;
    let duration = cut
        .tracks
        .iter()
        .flat_map(|t| &t.clips)
        .map(|c| nearest_frame(c.end(), rate))
        .chain(cut.markers.iter().map(|m| nearest_frame(m.time, rate)))
        .max()
        .unwrap_or(0);
    let mut ids = Ids { clip: 0, files: Vec::new() };
    let (tc, df) = timecode_text(cut);
    w.create_element("xmeml")
        .with_attribute(("version", "5"))
        .write_inner_content(|w| {
            w.create_element("sequence").with_attribute(("id", "sequence-1")).write_inner_content(
                |w| {
                    text_el(w, "name", &cut.name)?;
                    text_el(w, "duration", &duration.to_string())?;
                    rate_el(w, rate)?;
                    w.create_element("timecode").write_inner_content(|w| {
                        rate_el(w, rate)?;
                        text_el(w, "string", &tc)?;
                        text_el(w, "frame", &cut.start_frame.to_string())?;
                        text_el(w, "displayformat", if df { "DF" } else { "NDF" })
                    })?;
                    w.create_element("media").write_inner_content(|w| {
                        w.create_element("video").write_inner_content(|w| {
                            for t in cut.tracks.iter().filter(|t| t.kind == TrackKind::Video) {
                                track_el(w, t, rate, &mut ids)?;
                            }
                            Ok(())
                        })?;
                        w.create_element("audio").write_inner_content(|w| {
                            for t in cut.tracks.iter().filter(|t| t.kind == TrackKind::Audio) {
                                track_el(w, t, rate, &mut ids)?;
                            }
                            Ok(())
                        })?;
                        Ok(())
                    })?;
                    for m in &cut.markers {
                        w.create_element("marker").write_inner_content(|w| {
                            text_el(w, "name", &m.name)?;
                            text_el(w, "comment", "")?;
                            text_el(w, "in", &nearest_frame(m.time, rate).to_string())?;
                            text_el(w, "out", "-1")
                        })?;
                    }
                    Ok(())
                },
            )?;
            Ok(())
        })
        .map_err(io)?;
    let mut text = String::from_utf8(w.into_inner()).map_err(|e| io(std::io::Error::other(e)))?;
    text.push('\n');
    Ok(text)
}

// ---------------------------------------------------------------- reading

/// An element of the document: name, attributes, children and text.
#[derive(Debug, Default)]
struct Node {
    name: String,
    attrs: Vec<(String, String)>,
    children: Vec<Node>,
    text: String,
}

impl Node {
    fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }

    fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    fn text_of(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.trim())
    }

    fn int(&self, name: &str) -> Option<i64> {
        self.text_of(name)?.parse().ok()
    }
}

fn xml_error(e: impl std::fmt::Display, pos: u64) -> InterchangeError {
    InterchangeError::Malformed(format!("not valid XML (byte {pos}): {e}"))
}

fn parse(text: &str) -> Result<Node, InterchangeError> {
    use quick_xml::Reader;
    let mut reader = Reader::from_str(text);
    let mut stack: Vec<Node> = vec![Node::default()];
    let open = |e: &BytesStart, pos: u64| -> Result<Node, InterchangeError> {
        let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
        let mut attrs = Vec::new();
        for a in e.attributes() {
            let a = a.map_err(|err| xml_error(err, pos))?;
            let key = String::from_utf8_lossy(a.key.as_ref()).into_owned();
            let value = a
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map_err(|err| xml_error(err, pos))?
                .into_owned();
            attrs.push((key, value));
        }
        Ok(Node { name, attrs, ..Node::default() })
    };
    loop {
        let pos = reader.buffer_position();
        let event = reader.read_event().map_err(|e| xml_error(e, pos))?;
        match event {
            Event::Start(e) => stack.push(open(&e, pos)?),
            Event::Empty(e) => {
                let node = open(&e, pos)?;
                if let Some(top) = stack.last_mut() {
                    top.children.push(node);
                }
            }
            Event::End(_) => {
                let node = stack.pop().ok_or_else(|| xml_error("unbalanced end tag", pos))?;
                let top = stack.last_mut().ok_or_else(|| xml_error("unbalanced end tag", pos))?;
                top.children.push(node);
            }
            Event::Text(t) => {
                let raw = t.decode().map_err(|e| xml_error(e, pos))?;
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&raw);
                }
            }
            Event::CData(t) => {
                let raw = t.decode().map_err(|e| xml_error(e, pos))?;
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&raw);
                }
            }
            Event::GeneralRef(r) => {
                let resolved = if r.is_char_ref() {
                    r.resolve_char_ref().map_err(|e| xml_error(e, pos))?
                } else {
                    match r.decode().map_err(|e| xml_error(e, pos))?.as_ref() {
                        "amp" => Some('&'),
                        "lt" => Some('<'),
                        "gt" => Some('>'),
                        "quot" => Some('"'),
                        "apos" => Some('\''),
                        other => return Err(xml_error(format!("unknown entity &{other};"), pos)),
                    }
                };
                if let (Some(c), Some(top)) = (resolved, stack.last_mut()) {
                    top.text.push(c);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if stack.len() != 1 {
        return Err(xml_error("the document ends inside an element", text.len() as u64));
    }
    Ok(stack.pop().unwrap_or_default())
}

fn read_rate(node: &Node) -> Option<FrameRate> {
    let r = node.child("rate")?;
    let timebase: u32 = r.text_of("timebase")?.parse().ok()?;
    let ntsc = r.text_of("ntsc").is_some_and(|t| t.eq_ignore_ascii_case("TRUE"));
    if ntsc { FrameRate::new(timebase * 1000, 1001).ok() } else { FrameRate::new(timebase, 1).ok() }
}

fn malformed(what: String) -> InterchangeError {
    InterchangeError::Malformed(format!("not a valid FCP7 XML sequence: {what}"))
}

/// The linear Audio Levels of a clip item, in dB.
fn read_gain(item: &Node) -> Option<f32> {
    for f in item.all("filter") {
        let Some(e) = f.child("effect") else { continue };
        if e.text_of("effectid") != Some("audiolevels") {
            continue;
        }
        for p in e.all("parameter") {
            if p.text_of("parameterid") == Some("level") {
                let linear: f64 = p.text_of("value")?.parse().ok()?;
                return Some((20.0 * linear.max(1e-10).log10()) as f32);
            }
        }
    }
    None
}

struct Files<'a> {
    /// `file` elements with content, by id.
    by_id: Vec<(String, &'a Node)>,
}

impl<'a> Files<'a> {
    fn collect(node: &'a Node, out: &mut Vec<(String, &'a Node)>) {
        for c in &node.children {
            if let Some(id) = c.attr("id").filter(|_| c.name == "file" && !c.children.is_empty()) {
                out.push((id.to_string(), c));
            }
            Self::collect(c, out);
        }
    }

    fn resolve(&self, file: &'a Node) -> &'a Node {
        if !file.children.is_empty() {
            return file;
        }
        let id = file.attr("id").unwrap_or("");
        self.by_id.iter().find(|(k, _)| k == id).map_or(file, |(_, n)| n)
    }
}

fn read_track(
    t: &Node,
    kind: TrackKind,
    index: usize,
    rate: FrameRate,
    files: &Files,
    cut: &mut Cut,
) -> Result<(), InterchangeError> {
    let prefix = if kind == TrackKind::Video { "V" } else { "A" };
    let label = format!("{prefix}{}", index + 1);
    let name = t.attr("MZ.TrackName").map_or_else(|| label.clone(), str::to_string);
    let mut clips = Vec::new();
    for item in &t.children {
        match item.name.as_str() {
            "clipitem" => {
                let clip_name = item.text_of("name").unwrap_or("").to_string();
                let r = read_rate(item).unwrap_or(rate);
                let f = |n: &str| -> Result<i64, InterchangeError> {
                    item.int(n).ok_or_else(|| malformed(format!("clip {clip_name:?} has no <{n}>")))
                };
                let (start, end, in_f, out_f) = (f("start")?, f("end")?, f("in")?, f("out")?);
                if start < 0 || end < 0 {
                    cut.unsupported
                        .push(format!("the transition at clip {clip_name:?} on {label}"));
                }
                let start = if start < 0 { end - (out_f - in_f) } else { start };
                if item.text_of("enabled").is_some_and(|e| e.eq_ignore_ascii_case("FALSE")) {
                    cut.unsupported.push(format!("disabled clip {clip_name:?} on {label}"));
                    continue;
                }
                let file = item.child("file").map(|f| files.resolve(f));
                let url = file.and_then(|f| f.text_of("pathurl")).map(str::to_string);
                let media_duration = file
                    .and_then(|f| f.int("duration").map(|d| (d, read_rate(f).unwrap_or(r))))
                    .or_else(|| item.int("duration").map(|d| (d, r)))
                    .map(|(d, fr)| fr.frame_to_time(d));
                for fl in item.all("filter") {
                    let id = fl.child("effect").and_then(|e| e.text_of("effectid")).unwrap_or("");
                    if id != "audiolevels" {
                        let n = fl.child("effect").and_then(|e| e.text_of("name")).unwrap_or(id);
                        cut.unsupported.push(format!("filter {n:?} on clip {clip_name:?}"));
                    }
                }
                for m in item.all("marker") {
                    if let Some(mi) = m.int("in") {
                        let at = rate.frame_to_time(start + (mi - in_f));
                        let name = m.text_of("name").unwrap_or("").to_string();
                        cut.markers.push(CutMarker { time: at, name });
                    }
                }
                clips.push(CutClip {
                    name: clip_name,
                    position: rate.frame_to_time(start),
                    source_in: r.frame_to_time(in_f),
                    duration: rate.frame_to_time(start + (out_f - in_f))
                        - rate.frame_to_time(start),
                    url,
                    media_duration,
                    gain_db: if kind == TrackKind::Audio { read_gain(item) } else { None },
                    redub: None,
                });
            }
            "transitionitem" => cut.unsupported.push(format!("a transition on {label}")),
            "generatoritem" => cut.unsupported.push(format!("a generator on {label}")),
            _ => {}
        }
    }
    clips.sort_by_key(|c: &CutClip| c.position);
    cut.tracks.push(CutTrack { kind, name, clips, redub: None });
    Ok(())
}

/// Reads the first sequence of an FCP7 XML document into a cut.
pub fn read(text: &str) -> Result<Cut, InterchangeError> {
    let doc = parse(text)?;
    let root = doc.child("xmeml").ok_or_else(|| malformed("no <xmeml> element".into()))?;
    let seq = root
        .child("sequence")
        .or_else(|| root.child("project").and_then(|p| p.child("children")?.child("sequence")))
        .ok_or_else(|| malformed("no <sequence>".into()))?;
    let rate = read_rate(seq).ok_or_else(|| malformed("the sequence has no <rate>".into()))?;
    let mut by_id = Vec::new();
    Files::collect(root, &mut by_id);
    let files = Files { by_id };
    let (start_frame, drop_frame) = match seq.child("timecode") {
        Some(tc) => {
            let df = tc.text_of("displayformat").map(|d| d.eq_ignore_ascii_case("DF"));
            let frame = tc.int("frame").or_else(|| {
                let s = tc.text_of("string")?;
                Timecode::parse(s, rate).ok()?.to_frame(rate).ok()
            });
            (frame.unwrap_or(0), df)
        }
        None => (0, None),
    };
    let mut cut = Cut {
        name: seq.text_of("name").unwrap_or("").to_string(),
        rate,
        start_frame,
        drop_frame,
        tracks: Vec::new(),
        markers: Vec::new(),
        redub: None,
        unsupported: Vec::new(),
        rendered: None,
    };
    let media = seq.child("media");
    for (kind, el) in [(TrackKind::Video, "video"), (TrackKind::Audio, "audio")] {
        if let Some(m) = media.and_then(|m| m.child(el)) {
            for (i, t) in m.all("track").enumerate() {
                read_track(t, kind, i, rate, &files, &mut cut)?;
            }
        }
    }
    for m in seq.all("marker") {
        if let Some(f) = m.int("in") {
            let name = m.text_of("name").unwrap_or("").to_string();
            cut.markers.push(CutMarker { time: rate.frame_to_time(f), name });
        }
    }
    Ok(cut)
}
