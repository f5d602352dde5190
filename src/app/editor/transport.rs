//! Playback: starting and stopping the audio clock and output, and keeping the mix's decoded
//! sources in step with the project.

use super::*;

impl RedubApp {
    pub(super) fn start_play(&mut self, speed: i32) {
        let start =
            if speed > 0 && self.playhead >= self.end_time() { Time::ZERO } else { self.playhead };
        self.playhead = start;
        self.dropped_frames = 0;
        // Speeds above 1× are resampled (pitch goes up, like a tape shuttle); reverse is silent.
        let shuttle_note = match speed {
            1 => None,
            s if s > 1 => Some(format!("Shuttle {s}×: sound resampled")),
            s => Some(format!("Shuttle {s}×: reverse plays silent")),
        };
        if self.audio_enabled {
            match self.open_audio(start, speed) {
                Ok(state) => {
                    self.audio_notice = shuttle_note;
                    self.play = Some(state);
                    return;
                }
                Err(e) => {
                    // Once in the log (and a toast); then only the status bar's icon.
                    if !self.audio_warned {
                        self.audio_warned = true;
                        self.info(e.clone());
                    }
                    self.audio_notice = Some(e);
                }
            }
        } else {
            self.audio_notice = Some(match shuttle_note {
                Some(n) => format!("{n}; audio output off"),
                None => "Audio output off: playing silently".into(),
            });
        }
        self.play = Some(PlayState {
            clock: Clock::Wall { since: Instant::now(), start, speed: f64::from(speed) },
            since: (Instant::now(), start),
            ui_frames: 0,
            ui_time: Duration::ZERO,
            mixed_changes: None,
            _feed: None,
            _out: None,
        });
    }

    /// Starts the mixer and the audio output at a speed; the error is the notice to show.
    pub(super) fn open_audio(&mut self, start: Time, speed: i32) -> Result<PlayState, String> {
        let src = self
            .audio
            .sources
            .clone()
            .ok_or_else(|| "Audio is still loading: playing silently".to_string())?;
        // Warps change with edits; the cache restretches only clips whose warp changed.
        let warped = Arc::new(warped_clips(&self.project, &src.clips, &mut self.audio.warp_cache));
        let at = start.to_samples(SAMPLE_RATE);
        let (feed, mut pull) =
            MixFeed::start_at_speed(self.project.clone(), src, warped, at, speed)
                .map_err(|e| format!("Audio mixer failed ({e}): playing silently"))?;
        pull.set_tap(self.loudness.tap());
        let clock = pull.clock_at_speed(start, speed);
        let out =
            open_output(pull).map_err(|e| format!("No audio output ({e:#}): playing silently"))?;
        Ok(PlayState {
            clock,
            since: (Instant::now(), start),
            ui_frames: 0,
            ui_time: Duration::ZERO,
            mixed_changes: Some(self.changes),
            _feed: Some(feed),
            _out: Some(out),
        })
    }

    pub(super) fn stop(&mut self) {
        if let Some(p) = self.play.take() {
            let rate = self.project.timeline.frame_rate;
            let frames = (rate.time_to_frame(self.playhead) - rate.time_to_frame(p.since.1)).abs();
            let stats = format!(
                "Playback: {frames} frames in {:.1} s, {} dropped, {} UI frames built in {:.0} ms",
                p.since.0.elapsed().as_secs_f64(),
                self.dropped_frames,
                p.ui_frames,
                p.ui_time.as_secs_f64() * 1000.0
            );
            if std::env::var_os("REDUB_PLAYBACK_STATS").is_some() {
                tracing::info!("{stats}");
            }
            self.info(stats);
            // Land on a frame boundary so the viewer and timecode agree.
            let rate = self.project.timeline.frame_rate;
            self.playhead = rate.frame_to_time(rate.time_to_frame(self.playhead));
        }
        self.shuttle.speed = 0;
    }

    pub(super) fn update_audio_sources(&mut self) {
        if let Some((key, task)) = &mut self.audio.loading
            && let Some(r) = task.try_recv()
        {
            let key = key.clone();
            self.audio.loading = None;
            match r {
                Ok((s, p, d, skipped)) => {
                    for line in skipped {
                        self.error(format!("audio: {line}"));
                    }
                    self.audio.sources = Some(s);
                    self.audio.peaks = Some(p);
                    self.audio.dialogue = d;
                    self.audio.key = Some(key);
                }
                Err(e) => {
                    self.audio.key = Some(key);
                    self.error(format!("audio: {e}"));
                }
            }
        }
        let dir = self.project_dir();
        let mut key: Vec<(MediaId, PathBuf)> = Vec::new();
        let tl = &self.project.timeline;
        let mut ids: Vec<MediaId> =
            tl.dub_tracks.iter().flat_map(|t| t.clips.iter().map(|c| c.media)).collect();
        ids.extend(tl.original_audio.media);
        ids.extend(tl.me_track);
        ids.sort();
        ids.dedup();
        for id in ids {
            if let Some(p) = self.project.media(id).and_then(|m| resolve_media_path(m, &dir)) {
                key.push((id, p));
            }
        }
        let loading_key = self.audio.loading.as_ref().map(|(k, _)| k);
        if Some(&key) == self.audio.key.as_ref() || Some(&key) == loading_key {
            return;
        }
        let mut project = self.project.clone();
        // Decode every clip's media whatever the mute state, so muting never waits for a decode.
        project.timeline.original_audio.mute = false;
        project.timeline.me_mute = false;
        for t in &mut project.timeline.dub_tracks {
            t.mute = false;
            t.solo = false;
        }
        let ctx = self.ctx.clone();
        let spawned = Task::spawn("audio-load", 1, move |_, out| {
            let r = load_sources_lenient(&project, &dir).map_err(crate::app::error_line).map(
                |(s, skipped)| {
                    // What could not be read plays silent; the rest plays (one unreadable file
                    // used to silence every track and hide every waveform).
                    let skipped: Vec<String> = skipped
                        .into_iter()
                        .map(|(id, e)| {
                            let name = project.media(id).map_or_else(
                                || format!("media {}", id.0),
                                |m| m.path.display().to_string(),
                            );
                            let e = crate::app::error_line(e);
                            format!("{name} cannot be played ({e}); the rest plays without it")
                        })
                        .collect();
                    let of = |b: &crate::media::AudioBuffer| {
                        peaks(&b.samples, usize::from(b.channels), PEAK_BUCKET)
                    };
                    // The original dialogue, also when an M&E stem replaces it in the mix.
                    let dialogue = if s.is_me {
                        original_dialogue(&project, &dir)
                    } else {
                        s.original.as_ref().map(|b| (b.mono(), of(b)))
                    };
                    let speech = dialogue.as_ref().map_or_else(Vec::new, |(mono, _)| {
                        crate::dsp::vad::speech_times(
                            mono,
                            SAMPLE_RATE,
                            &crate::dsp::vad::VadConfig::default(),
                        )
                    });
                    let me = if s.is_me { s.original.as_ref().map(of) } else { None };
                    let (mono, original) = dialogue.unzip();
                    let vad = crate::dsp::vad::VadConfig::default();
                    let clip_speech = s
                        .clips
                        .iter()
                        .map(|(id, b)| {
                            (*id, crate::dsp::vad::speech_times(&b.mono(), b.rate, &vad))
                        })
                        .collect();
                    let w = Waveforms {
                        original: original.unwrap_or_default(),
                        clip_speech,
                        me: me.unwrap_or_default(),
                        clips: s.clips.iter().map(|(id, b)| (*id, of(b))).collect(),
                        speech,
                    };
                    (Arc::new(s), Arc::new(w), mono.map(Arc::new), skipped)
                },
            );
            out.send(r);
            ctx.request_repaint();
        });
        match spawned {
            Ok(task) => self.audio.loading = Some((key, task)),
            Err(e) => self.error(format!("cannot start audio loading: {e}")),
        }
    }
}
