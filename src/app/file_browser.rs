//! The built-in file browser, shown when the system's file dialog cannot open (no desktop
//! portal and no zenity, as under a plain X server) or when `REDUB_FILE_DIALOG=builtin` asks for
//! it: a path field that completes from the typed folder's entries (Tab completes the common
//! part), the matching entries to click, and the recently used folders.

use std::path::{Path, PathBuf};

/// Media files the importer offers.
pub const MEDIA_EXTENSIONS: &[&str] =
    &["mp4", "mov", "mkv", "webm", "wav", "flac", "mp3", "ogg", "opus", "m4a", "aac"];

/// What the chosen path is for.
#[derive(Clone, Debug, PartialEq)]
pub enum BrowsePurpose {
    /// Import a media file (with the drop target of the request, if any).
    Import(Option<(crate::model::TrackId, crate::model::Time)>),
    /// Open a project.
    Open,
    /// Save the project to a new file.
    SaveAs,
    /// Relink missing media from a folder.
    RelinkFolder,
    /// The export's output file.
    ExportOutput,
    /// A subtitle file whose lines to import.
    Subtitles,
    /// Where to write the timeline (.otio, .xml, .edl).
    ExportTimeline,
    /// A timeline to import (.otio, .xml, .edl).
    ImportTimeline,
    /// Where to write the project bundle (.redubz).
    CollectProject,
}

/// Timeline files the interchange reads and writes.
pub const TIMELINE_EXTENSIONS: &[&str] = &["otio", "xml", "edl"];

impl BrowsePurpose {
    fn title(&self) -> &'static str {
        match self {
            BrowsePurpose::Import(_) => "Import media",
            BrowsePurpose::Open => "Open project",
            BrowsePurpose::SaveAs => "Save project as",
            BrowsePurpose::RelinkFolder => "Relink media from a folder",
            BrowsePurpose::ExportOutput => "Export to",
            BrowsePurpose::Subtitles => "Import subtitles",
            BrowsePurpose::ExportTimeline => "Export timeline",
            BrowsePurpose::ImportTimeline => "Import timeline",
            BrowsePurpose::CollectProject => "Collect project",
        }
    }

    fn action(&self) -> &'static str {
        match self {
            BrowsePurpose::Import(_) => "Import",
            BrowsePurpose::Open => "Open",
            BrowsePurpose::SaveAs => "Save",
            BrowsePurpose::RelinkFolder => "Choose folder",
            BrowsePurpose::ExportOutput => "Choose",
            BrowsePurpose::Subtitles => "Import",
            BrowsePurpose::ExportTimeline => "Export",
            BrowsePurpose::ImportTimeline => "Import",
            BrowsePurpose::CollectProject => "Collect",
        }
    }

    /// Whether a file of this name is offered (folders always are).
    fn shows(&self, name: &str) -> bool {
        let ext = Path::new(name)
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        match self {
            BrowsePurpose::Import(_) => MEDIA_EXTENSIONS.contains(&ext.as_str()),
            BrowsePurpose::Open => ext == "redub" || ext == "redubz",
            BrowsePurpose::SaveAs => ext == "redub",
            BrowsePurpose::CollectProject => ext == "redubz",
            BrowsePurpose::RelinkFolder => false,
            BrowsePurpose::ExportOutput => true,
            BrowsePurpose::Subtitles => ext == "srt" || ext == "vtt",
            BrowsePurpose::ExportTimeline | BrowsePurpose::ImportTimeline => {
                TIMELINE_EXTENSIONS.contains(&ext.as_str())
            }
        }
    }
}

/// Whether the system's file dialog can open: rfd needs the xdg-desktop-portal on the session
/// bus, or zenity. `REDUB_FILE_DIALOG=builtin` (or `native`) decides instead. Returns why not.
pub fn native_dialog_unavailable() -> Option<String> {
    match std::env::var("REDUB_FILE_DIALOG").as_deref() {
        Ok("builtin") => return Some("REDUB_FILE_DIALOG=builtin asks for it".into()),
        Ok("native") => return None,
        _ => {}
    }
    let bus = std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some_and(|v| !v.is_empty())
        || std::env::var_os("XDG_RUNTIME_DIR").is_some_and(|d| Path::new(&d).join("bus").exists());
    let zenity = std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("zenity").is_file()));
    (!bus && !zenity).then(|| {
        "the system's file dialog cannot open here (no session bus for xdg-desktop-portal, no \
         zenity)"
            .into()
    })
}

/// One entry of a folder listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// File name.
    pub name: String,
    /// A folder.
    pub dir: bool,
}

/// The browser's state.
#[derive(Clone, Debug)]
pub struct FileBrowser {
    /// What the path is for.
    pub purpose: BrowsePurpose,
    /// The typed path.
    pub path: String,
    /// Why the built-in browser is shown.
    pub reason: String,
    /// Why the last choice was refused.
    pub problem: Option<String>,
    listing: Option<(PathBuf, Vec<Entry>)>,
}

/// What the user did in the browser this frame.
#[derive(Clone, Debug, PartialEq)]
pub enum BrowserAction {
    /// Nothing yet.
    None,
    /// Closed without a choice.
    Cancel,
    /// Chose this path (checked: an existing file to open or import, an existing folder to
    /// save into or relink from).
    Chosen(PathBuf),
}

impl FileBrowser {
    /// A browser starting in `dir` (with `name` typed after it when saving).
    pub fn new(purpose: BrowsePurpose, dir: &Path, reason: impl Into<String>) -> Self {
        let mut path = dir.display().to_string();
        if !path.ends_with('/') {
            path.push('/');
        }
        if purpose == BrowsePurpose::SaveAs {
            path.push_str("project.redub");
        }
        if purpose == BrowsePurpose::ExportTimeline {
            path.push_str("timeline.otio");
        }
        if purpose == BrowsePurpose::CollectProject {
            path.push_str("project.redubz");
        }
        Self { purpose, path, reason: reason.into(), problem: None, listing: None }
    }

    /// The folder the typed path lists and the name fragment typed in it.
    pub fn split(&self) -> (PathBuf, String) {
        let text = expand_home(&self.path);
        if text.ends_with('/') || text.is_empty() {
            let dir = if text.is_empty() { PathBuf::from("/") } else { PathBuf::from(&text) };
            return (dir, String::new());
        }
        let p = PathBuf::from(&text);
        let frag = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let dir = p.parent().map_or_else(|| PathBuf::from("/"), Path::to_path_buf);
        (dir, frag)
    }

    fn entries(&mut self, dir: &Path) -> &[Entry] {
        if self.listing.as_ref().is_none_or(|(d, _)| d != dir) {
            let mut v: Vec<Entry> = std::fs::read_dir(dir)
                .map(|rd| {
                    rd.flatten()
                        .map(|e| Entry {
                            name: e.file_name().to_string_lossy().into_owned(),
                            dir: e.path().is_dir(),
                        })
                        .collect()
                })
                .unwrap_or_default();
            v.sort_by(|a, b| b.dir.cmp(&a.dir).then_with(|| a.name.cmp(&b.name)));
            self.listing = Some((dir.to_path_buf(), v));
        }
        self.listing.as_ref().map_or(&[], |(_, v)| v.as_slice())
    }

    /// Entries of the typed folder whose names start with the typed fragment (folders first;
    /// hidden ones only when the fragment starts with a dot; files only of the purpose's kind).
    pub fn completions(&mut self) -> Vec<Entry> {
        let (dir, frag) = self.split();
        let purpose = self.purpose.clone();
        let lower = frag.to_lowercase();
        self.entries(&dir)
            .iter()
            .filter(|e| !e.name.starts_with('.') || frag.starts_with('.'))
            .filter(|e| e.name.to_lowercase().starts_with(&lower))
            .filter(|e| e.dir || purpose.shows(&e.name))
            .cloned()
            .collect()
    }

    /// Completes the typed name as far as the matching entries agree (Tab); a single folder
    /// gets its slash, so the next Tab lists inside it.
    pub fn complete(&mut self) {
        let matches = self.completions();
        let Some(first) = matches.first() else { return };
        let mut common = first.name.clone();
        for e in &matches[1..] {
            let n = common
                .chars()
                .zip(e.name.chars())
                .take_while(|(a, b)| a.to_lowercase().eq(b.to_lowercase()))
                .count();
            common = common.chars().take(n).collect();
        }
        let (dir, frag) = self.split();
        if common.chars().count() < frag.chars().count() {
            return;
        }
        let single_dir = matches.len() == 1 && first.dir;
        self.path = dir.join(&common).display().to_string();
        if single_dir {
            self.path.push('/');
        }
    }

    /// Puts an entry of the listed folder into the path field.
    pub fn pick(&mut self, e: &Entry) {
        let (dir, _) = self.split();
        self.path = dir.join(&e.name).display().to_string();
        if e.dir {
            self.path.push('/');
        }
    }

    /// Checks the typed path for the purpose: the chosen path, or why not.
    pub fn accept(&self) -> Result<PathBuf, String> {
        let text = expand_home(&self.path);
        let p = PathBuf::from(text.trim_end_matches('/'));
        let p = if p.as_os_str().is_empty() { PathBuf::from("/") } else { p };
        match &self.purpose {
            BrowsePurpose::Import(_)
            | BrowsePurpose::Open
            | BrowsePurpose::Subtitles
            | BrowsePurpose::ImportTimeline => {
                if p.is_file() {
                    Ok(p)
                } else if p.is_dir() {
                    Err(format!("{} is a folder: choose a file in it", p.display()))
                } else {
                    Err(format!("{} does not exist", p.display()))
                }
            }
            BrowsePurpose::SaveAs
            | BrowsePurpose::ExportOutput
            | BrowsePurpose::ExportTimeline
            | BrowsePurpose::CollectProject => {
                if p.is_dir() || text.ends_with('/') {
                    return Err("type a file name after the folder".into());
                }
                match p.parent() {
                    Some(d) if d.as_os_str().is_empty() || d.is_dir() => Ok(p),
                    _ => Err(format!("the folder of {} does not exist", p.display())),
                }
            }
            BrowsePurpose::RelinkFolder => {
                if p.is_dir() {
                    Ok(p)
                } else {
                    Err(format!("{} is not a folder", p.display()))
                }
            }
        }
    }
}

fn expand_home(text: &str) -> String {
    match (text.strip_prefix('~'), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) if rest.is_empty() || rest.starts_with('/') => {
            format!("{}{rest}", home.to_string_lossy())
        }
        _ => text.to_string(),
    }
}

/// Draws the browser window. `recent` are recently used folders, newest first.
pub fn file_browser_ui(
    ctx: &egui::Context,
    browser: &mut FileBrowser,
    recent: &[PathBuf],
) -> BrowserAction {
    let mut action = BrowserAction::None;
    let mut open = true;
    egui::Window::new(browser.purpose.title())
        .id(egui::Id::unique("file-browser"))
        .open(&mut open)
        .collapsible(false)
        .default_size([560.0, 420.0])
        .show(ctx, |ui| {
            ui.label(
                egui::RichText::new(format!("Redub's own file browser: {}.", browser.reason))
                    .weak(),
            );
            let mut accept = false;
            ui.horizontal(|ui| {
                let label = ui.label("Path");
                let edit = egui::TextEdit::singleline(&mut browser.path)
                    .id(egui::Id::unique("file-browser-path"))
                    .desired_width(ui.available_width())
                    .lock_focus(true)
                    .hint_text("/folder/file (Tab completes)");
                let resp = ui.add(edit).labelled_by(label.id);
                if resp.has_focus()
                    && ui.input_mut(|i| i.consume_key(egui::Modifiers::NONE, egui::Key::Tab))
                {
                    browser.complete();
                    browser.problem = None;
                    // Keep the cursor at the end of the completed text.
                    if let Some(mut state) = egui::TextEdit::load_state(ui.ctx(), resp.id) {
                        let end = egui::text::CCursor::new(browser.path.chars().count());
                        state.cursor.set_char_range(Some(egui::text::CCursorRange::one(end)));
                        state.store(ui.ctx(), resp.id);
                    }
                }
                if resp.changed() {
                    browser.problem = None;
                }
                if resp.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)) {
                    accept = true;
                }
            });
            let matches = browser.completions();
            ui.label(egui::RichText::new(format!("{} matching", matches.len())).small().weak());
            egui::ScrollArea::vertical().id_salt("file-browser-list").max_height(200.0).show(
                ui,
                |ui| {
                    for e in &matches {
                        let text = if e.dir { format!("{}/", e.name) } else { e.name.clone() };
                        let r = ui.selectable_label(false, text);
                        if r.double_clicked() && !e.dir {
                            browser.pick(e);
                            accept = true;
                        } else if r.clicked() {
                            browser.pick(e);
                            browser.problem = None;
                        }
                    }
                },
            );
            if !recent.is_empty() {
                ui.separator();
                ui.label(egui::RichText::new("Recent folders").strong());
                for d in recent {
                    if ui.link(d.display().to_string()).clicked() {
                        let mut s = d.display().to_string();
                        if !s.ends_with('/') {
                            s.push('/');
                        }
                        if browser.purpose == BrowsePurpose::SaveAs {
                            let (_, name) = browser.split();
                            s.push_str(if name.is_empty() { "project.redub" } else { &name });
                        }
                        browser.path = s;
                        browser.problem = None;
                    }
                }
            }
            if let Some(p) = &browser.problem {
                ui.colored_label(egui::Color32::from_rgb(240, 90, 80), p);
            }
            ui.separator();
            ui.horizontal(|ui| {
                if ui.button(browser.purpose.action()).clicked() {
                    accept = true;
                }
                if ui.button("Cancel").clicked() {
                    action = BrowserAction::Cancel;
                }
            });
            if accept {
                match browser.accept() {
                    Ok(p) => action = BrowserAction::Chosen(p),
                    Err(e) => browser.problem = Some(e),
                }
            }
        });
    if !open {
        action = BrowserAction::Cancel;
    }
    action
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completes_from_the_typed_folder_and_checks_the_choice() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("lines")).unwrap();
        std::fs::write(dir.path().join("line1.wav"), b"x").unwrap();
        std::fs::write(dir.path().join("line2.wav"), b"x").unwrap();
        std::fs::write(dir.path().join("notes.txt"), b"x").unwrap();
        let mut b = FileBrowser::new(BrowsePurpose::Import(None), dir.path(), "test");
        let names =
            |b: &mut FileBrowser| b.completions().into_iter().map(|e| e.name).collect::<Vec<_>>();
        // Folders first, then media files; the text file is not offered.
        assert_eq!(names(&mut b), ["lines", "line1.wav", "line2.wav"]);
        b.path = format!("{}/li", dir.path().display());
        b.complete();
        assert_eq!(b.path, format!("{}/line", dir.path().display()));
        b.path.push('1');
        b.complete();
        assert_eq!(b.path, format!("{}/line1.wav", dir.path().display()));
        assert_eq!(b.accept(), Ok(dir.path().join("line1.wav")));
        b.path = format!("{}/lin", dir.path().display());
        b.path.push_str("es");
        b.complete();
        assert_eq!(b.path, format!("{}/lines/", dir.path().display()), "a folder gets its slash");
        assert!(b.accept().is_err(), "a folder is not a file to import");
        let mut s = FileBrowser::new(BrowsePurpose::SaveAs, dir.path(), "test");
        assert_eq!(s.accept(), Ok(dir.path().join("project.redub")));
        s.path = format!("{}/missing/p.redub", dir.path().display());
        assert!(s.accept().is_err());
    }
}
