//! Keyboard bindings (DESIGN §10) with a Premiere and a Resolve preset: they differ in the split
//! key. Keys become [`AppCommand`]s; nothing here edits state.

use super::command::AppCommand;
use egui::{Key, Modifiers};

/// Which editor's habits the keys follow.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum KeyPreset {
    /// Ctrl+K splits.
    #[default]
    Premiere,
    /// Ctrl+B splits.
    Resolve,
}

impl KeyPreset {
    /// Menu name.
    pub fn name(self) -> &'static str {
        match self {
            KeyPreset::Premiere => "Premiere",
            KeyPreset::Resolve => "Resolve",
        }
    }

    /// The split key of this preset.
    pub fn split_key(self) -> Key {
        match self {
            KeyPreset::Premiere => Key::K,
            KeyPreset::Resolve => Key::B,
        }
    }
}

/// The shortcut a menu shows next to a command, as the keys of `preset` bind it.
pub fn shortcut_text(preset: KeyPreset, cmd: &AppCommand) -> Option<String> {
    use AppCommand as C;
    let ctrl = |k: &str| format!("Ctrl+{k}");
    Some(match cmd {
        C::Undo => ctrl("Z"),
        C::Redo => ctrl("Shift+Z"),
        C::Save => ctrl("S"),
        C::SaveAs(_) => ctrl("Shift+S"),
        C::Open(_) => ctrl("O"),
        C::Import { .. } => ctrl("I"),
        C::ShowExport => ctrl("E"),
        C::NewProject => ctrl("N"),
        C::Split => ctrl(preset.split_key().name()),
        C::TogglePlay => "Space".into(),
        C::GoToStart => "Home".into(),
        C::GoToEnd => "End".into(),
        C::SetIn => "I".into(),
        C::SetOut => "O".into(),
        C::AddMarker => "M".into(),
        // The key deletes the marker at the playhead; a marker's menu offers Go to first.
        C::DeleteMarker(_) | C::DeleteMarkerAtPlayhead => ctrl("Alt+M"),
        C::ToggleSnap => "S".into(),
        C::Delete => "Delete".into(),
        C::RippleDelete => "Shift+Delete".into(),
        C::InsertAtPlayhead => match preset {
            KeyPreset::Premiere => ",".into(),
            KeyPreset::Resolve => "F9".into(),
        },
        C::OverwriteAtPlayhead => match preset {
            KeyPreset::Premiere => ".".into(),
            KeyPreset::Resolve => "F10".into(),
        },
        _ => return None,
    })
}

/// A menu entry for `cmd` showing its shortcut in `preset`; clicked, it queues the command and
/// closes the menu.
pub fn menu_item(
    ui: &mut egui::Ui,
    label: &str,
    cmd: AppCommand,
    preset: KeyPreset,
    out: &mut Vec<AppCommand>,
) {
    let mut b = egui::Button::new(label);
    if let Some(k) = shortcut_text(preset, &cmd) {
        b = b.shortcut_text(k);
    }
    if ui.add(b).clicked() {
        out.push(cmd);
        ui.close();
    }
}

/// A shuttle press: repeated presses of the same direction speed up.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Shuttle {
    /// Current speed multiplier, negative for reverse.
    pub speed: i32,
}

impl Shuttle {
    /// Applies a J (−1), K (0) or L (+1) press and returns the new speed.
    pub fn press(&mut self, dir: i32) -> i32 {
        self.speed = match dir {
            0 => 0,
            d if d.signum() == self.speed.signum() && self.speed != 0 => {
                (self.speed * 2).clamp(-8, 8)
            }
            d => d.signum(),
        };
        self.speed
    }
}

/// Maps one key press to a command. `k_held` makes J/L step one frame (K+J / K+L).
pub fn command_for_key(
    preset: KeyPreset,
    key: Key,
    m: Modifiers,
    k_held: bool,
) -> Option<AppCommand> {
    use AppCommand as C;
    let cmd = m.command || m.ctrl;
    Some(match key {
        Key::Z if cmd && m.shift => C::Redo,
        Key::Z if cmd => C::Undo,
        Key::Y if cmd => C::Redo,
        Key::S if cmd && m.shift => C::SaveAs(None),
        Key::S if cmd => C::Save,
        Key::O if cmd => C::Open(None),
        Key::I if cmd => C::Import { paths: None, target: None },
        Key::E if cmd => C::ShowExport,
        Key::N if cmd => C::NewProject,
        Key::M if cmd && m.alt => C::DeleteMarkerAtPlayhead,
        k if cmd && k == preset.split_key() => C::Split,
        _ if cmd => return None,
        Key::Space => C::TogglePlay,
        Key::Backslash => C::ToggleBeforeAfter,
        Key::J if k_held => C::StepFrames(-1),
        Key::L if k_held => C::StepFrames(1),
        Key::J => C::Shuttle(-1),
        Key::K => C::Shuttle(0),
        Key::L => C::Shuttle(1),
        Key::ArrowLeft => C::StepFrames(if m.shift { -10 } else { -1 }),
        Key::ArrowRight => C::StepFrames(if m.shift { 10 } else { 1 }),
        Key::Home => C::GoToStart,
        Key::End => C::GoToEnd,
        Key::ArrowUp => C::PrevEdit,
        Key::ArrowDown => C::NextEdit,
        Key::I => C::SetIn,
        Key::O => C::SetOut,
        Key::M => C::AddMarker,
        // Premiere's `,` / `.` and Resolve's F9 / F10, in either preset (no other use).
        Key::Comma | Key::F9 => C::InsertAtPlayhead,
        Key::Period | Key::F10 => C::OverwriteAtPlayhead,
        Key::S => C::ToggleSnap,
        Key::Delete | Key::Backspace if m.shift => C::RippleDelete,
        Key::Delete | Key::Backspace => C::Delete,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_key_follows_the_preset() {
        let ctrl = Modifiers::CTRL;
        assert_eq!(
            command_for_key(KeyPreset::Premiere, Key::K, ctrl, false),
            Some(AppCommand::Split)
        );
        assert_eq!(command_for_key(KeyPreset::Premiere, Key::B, ctrl, false), None);
        assert_eq!(
            command_for_key(KeyPreset::Resolve, Key::B, ctrl, false),
            Some(AppCommand::Split)
        );
        assert_eq!(
            command_for_key(KeyPreset::Resolve, Key::Z, Modifiers::CTRL | Modifiers::SHIFT, false),
            Some(AppCommand::Redo)
        );
    }

    #[test]
    fn insert_and_overwrite_take_premiere_and_resolve_keys() {
        for preset in [KeyPreset::Premiere, KeyPreset::Resolve] {
            let key = |k| command_for_key(preset, k, Modifiers::NONE, false);
            assert_eq!(key(Key::Comma), Some(AppCommand::InsertAtPlayhead));
            assert_eq!(key(Key::F9), Some(AppCommand::InsertAtPlayhead));
            assert_eq!(key(Key::Period), Some(AppCommand::OverwriteAtPlayhead));
            assert_eq!(key(Key::F10), Some(AppCommand::OverwriteAtPlayhead));
        }
        let text = |p, c| shortcut_text(p, &c);
        assert_eq!(text(KeyPreset::Resolve, AppCommand::InsertAtPlayhead).as_deref(), Some("F9"));
        assert_eq!(
            text(KeyPreset::Premiere, AppCommand::OverwriteAtPlayhead).as_deref(),
            Some(".")
        );
    }

    #[test]
    fn ctrl_alt_m_deletes_the_marker_at_the_playhead() {
        let m = Modifiers::CTRL | Modifiers::ALT;
        let cmd = command_for_key(KeyPreset::Premiere, Key::M, m, false);
        assert_eq!(cmd, Some(AppCommand::DeleteMarkerAtPlayhead));
        let text = shortcut_text(KeyPreset::Resolve, &AppCommand::DeleteMarker(0));
        assert_eq!(text.as_deref(), Some("Ctrl+Alt+M"));
        assert_eq!(
            command_for_key(KeyPreset::Premiere, Key::M, Modifiers::NONE, false),
            Some(AppCommand::AddMarker)
        );
    }

    #[test]
    fn home_and_end_go_to_the_start_and_the_end() {
        let none = Modifiers::NONE;
        let key = |k| command_for_key(KeyPreset::Premiere, k, none, false);
        assert_eq!(key(Key::Home), Some(AppCommand::GoToStart));
        assert_eq!(key(Key::End), Some(AppCommand::GoToEnd));
    }

    #[test]
    fn comma_inserts_and_period_overwrites_as_in_premiere() {
        let key = |k| command_for_key(KeyPreset::Premiere, k, Modifiers::NONE, false);
        assert_eq!(key(Key::Comma), Some(AppCommand::InsertAtPlayhead));
        assert_eq!(key(Key::Period), Some(AppCommand::OverwriteAtPlayhead));
    }

    #[test]
    fn shuttle_speeds_up_and_reverses() {
        let mut s = Shuttle::default();
        assert_eq!(s.press(1), 1);
        assert_eq!(s.press(1), 2);
        assert_eq!(s.press(1), 4);
        assert_eq!(s.press(-1), -1);
        assert_eq!(s.press(0), 0);
    }
}
