//! Joining encoded pieces without re-encoding: each piece's video stream (demuxed and parsed
//! by `parsebin`) goes through a `concat` element, which lays them end to end in running time,
//! into the preset's muxer; the sound file's stream (already encoded in the preset's codec) is
//! muxed beside it. The result is written to a temp file, made reproducible (see
//! [`super::stable`]) and renamed onto the target.

use super::encode::{Tags, muxer, pending_error, set_tags, spool_path, temp_path, write_failure};
use super::{MediaError, make};
use crate::jobs::Job;
use crate::model::Preset;
use crate::model::output::{register_part, remove_stale_parts, unregister_part};
use gstreamer as gst;
use gstreamer::prelude::*;
use std::path::{Path, PathBuf};

/// Removes the temp files of a join unless it was renamed onto the target.
struct Parts {
    tmp: PathBuf,
    spool: PathBuf,
    done: bool,
}

impl Drop for Parts {
    fn drop(&mut self) {
        if !self.done {
            let _ = std::fs::remove_file(&self.tmp);
        }
        let _ = std::fs::remove_file(&self.spool);
        unregister_part(&self.tmp);
        unregister_part(&self.spool);
    }
}

/// Whether a new pad carries a stream of `prefix` ("video/", "audio/"): its caps when set, else
/// what it can carry (a demuxer may add the pad before its caps).
fn pad_kind(pad: &gst::Pad, prefix: &str) -> bool {
    let caps = pad.current_caps().unwrap_or_else(|| pad.query_caps(None));
    caps.structure(0).is_some_and(|s| s.name().starts_with(prefix))
}

/// Joins the video streams of `pieces` (in order) and muxes the sound stream of `audio` beside
/// them into `target` in `preset`'s container, copying the encoded data. `job` cancels.
pub fn concat_files(
    pieces: &[PathBuf],
    audio: Option<&Path>,
    preset: Preset,
    target: &Path,
    tags: &Tags,
    job: &Job,
) -> Result<PathBuf, MediaError> {
    super::init()?;
    super::encode::check_writable(target)?;
    for p in pieces.iter().map(PathBuf::as_path).chain(audio) {
        super::check_input(p)?;
    }
    remove_stale_parts(target);
    let internal = |e: gst::glib::BoolError| MediaError::Internal(e.to_string());
    let mut parts = Parts { tmp: temp_path(target), spool: spool_path(target), done: false };
    register_part(&parts.tmp);
    register_part(&parts.spool);
    let pipeline = gst::Pipeline::new();
    let mux = muxer(preset, &parts.spool)?;
    super::stable::fix_muxer(&mux);
    set_tags(&mux, tags);
    let sink = make("filesink")?;
    sink.set_property("location", &parts.tmp);
    let concat = make("concat")?;
    let vqueue = make("queue")?;
    pipeline.add_many([&mux, &sink, &concat, &vqueue]).map_err(internal)?;
    mux.link(&sink).map_err(internal)?;
    let mut vchain = vec![concat.clone()];
    if preset == Preset::Mp4 {
        let parse = make("h264parse")?;
        pipeline.add(&parse).map_err(internal)?;
        vchain.push(parse);
    }
    vchain.push(vqueue.clone());
    gst::Element::link_many(&vchain).map_err(internal)?;
    let vpad = mux
        .request_pad_simple("video_%u")
        .ok_or_else(|| MediaError::Internal("muxer without a video pad".into()))?;
    vqueue
        .static_pad("src")
        .ok_or_else(|| MediaError::Internal("queue without src".into()))?
        .link(&vpad)
        .map_err(|e| MediaError::Internal(format!("cannot link to the muxer: {e:?}")))?;
    for piece in pieces {
        let src = make("filesrc")?;
        src.set_property("location", piece);
        let parse = make("parsebin")?;
        pipeline.add_many([&src, &parse]).map_err(internal)?;
        src.link(&parse).map_err(internal)?;
        // Requested now, in order: concat plays its sink pads in the order they were made.
        let cpad = concat
            .request_pad_simple("sink_%u")
            .ok_or_else(|| MediaError::Internal("concat without a sink pad".into()))?;
        parse.connect_pad_added(move |_, pad| {
            let video = pad_kind(pad, "video/");
            if video && !cpad.is_linked() {
                let _ = pad.link(&cpad);
            }
        });
    }
    if let Some(audio) = audio {
        let src = make("filesrc")?;
        src.set_property("location", audio);
        let parse = make("parsebin")?;
        let aqueue = make("queue")?;
        // The sound waits here while the pictures catch up (the muxer interleaves by time).
        aqueue.set_property("max-size-buffers", 0u32);
        aqueue.set_property("max-size-bytes", 0u32);
        aqueue.set_property("max-size-time", 0u64);
        pipeline.add_many([&src, &parse, &aqueue]).map_err(internal)?;
        src.link(&parse).map_err(internal)?;
        let apad = mux
            .request_pad_simple("audio_%u")
            .ok_or_else(|| MediaError::Internal("muxer without a sound pad".into()))?;
        aqueue
            .static_pad("src")
            .ok_or_else(|| MediaError::Internal("queue without src".into()))?
            .link(&apad)
            .map_err(|e| MediaError::Internal(format!("cannot link to the muxer: {e:?}")))?;
        let qsink =
            aqueue.static_pad("sink").ok_or_else(|| MediaError::Internal("queue".into()))?;
        parse.connect_pad_added(move |_, pad| {
            let sound = pad_kind(pad, "audio/");
            if sound && !qsink.is_linked() {
                let _ = pad.link(&qsink);
            }
        });
    }
    if pipeline.set_state(gst::State::Playing).is_err() {
        let err = pending_error(&pipeline);
        let _ = pipeline.set_state(gst::State::Null);
        return Err(write_failure(target, err, "cannot start joining the pieces"));
    }
    let bus = pipeline.bus().ok_or_else(|| MediaError::Internal("pipeline without bus".into()))?;
    let outcome = loop {
        if job.is_cancelled() {
            break Err(None);
        }
        let msg = bus.timed_pop_filtered(
            gst::ClockTime::from_mseconds(100),
            &[gst::MessageType::Eos, gst::MessageType::Error],
        );
        match msg.as_ref().map(|m| m.view()) {
            Some(gst::MessageView::Eos(_)) => break Ok(()),
            Some(gst::MessageView::Error(e)) => break Err(Some(e.error())),
            _ => {}
        }
    };
    let _ = pipeline.set_state(gst::State::Null);
    if job.is_cancelled() {
        return Err(MediaError::Cancelled);
    }
    outcome.map_err(|e| write_failure(target, e, "joining the pieces failed"))?;
    super::stable::fix_file(&parts.tmp)
        .map_err(|e| MediaError::Write { path: parts.tmp.clone(), reason: e.to_string() })?;
    std::fs::rename(&parts.tmp, target)
        .map_err(|e| MediaError::Write { path: target.to_path_buf(), reason: e.to_string() })?;
    parts.done = true;
    Ok(target.to_path_buf())
}
