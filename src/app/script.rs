//! A start-up script of commands (`redub edit P --script "play;wait:2000;add-track"`): lets the
//! real-window smoke tests act like a user without an input-injection tool.

use super::command::AppCommand;
use crate::model::Time;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

#[derive(Clone, Debug, PartialEq)]
enum Step {
    Run(AppCommand),
    Wait(Duration),
}

/// Runs script steps as frames go by.
#[derive(Clone, Debug, Default)]
pub struct ScriptRunner {
    steps: VecDeque<Step>,
    wait_until: Option<Instant>,
}

/// Parses one script word; unknown words are reported on stderr and skipped.
fn parse_step(word: &str) -> Option<Step> {
    let (name, arg) = word.split_once(':').map_or((word, ""), |(a, b)| (a, b));
    Some(match name.trim() {
        "play" | "pause" => Step::Run(AppCommand::TogglePlay),
        "marker" => Step::Run(AppCommand::AddMarker),
        "add-track" => Step::Run(AppCommand::AddTrack),
        "split" => Step::Run(AppCommand::Split),
        "undo" => Step::Run(AppCommand::Undo),
        "recover" => Step::Run(AppCommand::RecoverAutosave),
        "save" => Step::Run(AppCommand::Save),
        "quit" => Step::Run(AppCommand::Quit),
        // Answers a "Save changes?" prompt (after `quit`, say): a benchmark that changed the
        // project (auto-bind) still exits.
        "discard" => Step::Run(AppCommand::Unsaved(super::command::UnsavedChoice::Discard)),
        "export" => Step::Run(AppCommand::ShowExport),
        "import" => Step::Run(AppCommand::Import { paths: None, target: None }),
        "before" => Step::Run(AppCommand::ToggleBeforeAfter),
        "wipe" => Step::Run(AppCommand::SetWipe(Some(arg.parse().unwrap_or(0.5)))),
        "mask" => Step::Run(AppCommand::ToggleMaskOverlay),
        "faces" => Step::Run(AppCommand::ToggleFaceBoxes),
        "reset-stats" => Step::Run(AppCommand::PlaybackStats { reset: true }),
        "stats" => Step::Run(AppCommand::PlaybackStats { reset: false }),
        "seek" => Step::Run(AppCommand::Seek(Time::from_seconds_f64(arg.parse().ok()?))),
        "wait" => Step::Wait(Duration::from_millis(arg.parse().ok()?)),
        "" => return None,
        other => {
            tracing::warn!("unknown script step {other:?}");
            return None;
        }
    })
}

impl ScriptRunner {
    /// Parses `a;b;wait:100;c`.
    pub fn new(script: &str) -> Self {
        Self { steps: script.split(';').filter_map(parse_step).collect(), wait_until: None }
    }

    /// Commands whose time has come.
    pub fn due(&mut self) -> Vec<AppCommand> {
        let mut out = Vec::new();
        if self.wait_until.is_some_and(|t| Instant::now() < t) {
            return out;
        }
        self.wait_until = None;
        while let Some(s) = self.steps.pop_front() {
            match s {
                Step::Run(c) => out.push(c),
                Step::Wait(d) => {
                    self.wait_until = Some(Instant::now() + d);
                    break;
                }
            }
        }
        out
    }

    /// How long until the next step, when one waits.
    pub fn next_wait(&self) -> Option<Duration> {
        self.wait_until.map(|t| t.saturating_duration_since(Instant::now()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_split_the_script() {
        let mut s = ScriptRunner::new("play;wait:50;add-track;bogus;quit;discard");
        assert_eq!(s.due(), vec![AppCommand::TogglePlay]);
        assert_eq!(s.due(), vec![]);
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(
            s.due(),
            vec![
                AppCommand::AddTrack,
                AppCommand::Quit,
                AppCommand::Unsaved(crate::app::command::UnsavedChoice::Discard)
            ]
        );
    }
}
