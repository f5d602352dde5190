//! Where the editor keeps its own files: autosaves (data dir) and settings with the recent
//! projects (config dir). `REDUB_DATA_DIR` overrides both, for tests and portable installs.

use crate::model::Project;
use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::keys::KeyPreset;

/// The editor's folders.
#[derive(Clone, Debug, PartialEq)]
pub struct Dirs {
    /// Autosaves live here.
    pub data: PathBuf,
    /// Settings live here.
    pub config: PathBuf,
}

impl Dirs {
    /// From `REDUB_DATA_DIR`, else the platform's folders, else a folder in the temp dir.
    pub fn from_env() -> Self {
        let (data, config) = crate::model::dirs::app_dirs();
        Self { data, config }
    }

    /// Both folders under one root (tests).
    pub fn under(root: &Path) -> Self {
        Self { data: root.join("data"), config: root.join("config") }
    }
}

/// Editor settings that outlive a session.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// Most recent first.
    #[serde(default)]
    pub recent: Vec<PathBuf>,
    /// Key bindings.
    #[serde(default)]
    pub key_preset: KeyPreset,
    /// Folders files were last imported from, opened from or saved to, most recent first (the
    /// built-in file browser lists them).
    #[serde(default)]
    pub recent_folders: Vec<PathBuf>,
    /// File ▸ Collect project… takes only the used ranges of the media (cut losslessly where
    /// the format allows).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub collect_trimmed: bool,
}

/// How many recent projects are remembered.
pub const MAX_RECENT: usize = 10;

impl Settings {
    fn path(dirs: &Dirs) -> PathBuf {
        dirs.config.join("settings.json")
    }

    /// Loads settings; a missing or broken file gives the defaults (settings are not precious).
    pub fn load(dirs: &Dirs) -> Self {
        std::fs::read_to_string(Self::path(dirs))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default()
    }

    /// Writes the settings.
    pub fn save(&self, dirs: &Dirs) -> anyhow::Result<()> {
        std::fs::create_dir_all(&dirs.config)
            .with_context(|| format!("creating {}", dirs.config.display()))?;
        let path = Self::path(dirs);
        let text = serde_json::to_string_pretty(self)?;
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))
    }

    /// Puts the folder of `path` (or `path`, a folder) at the top of the recent folders.
    pub fn add_recent_folder(&mut self, path: &Path) {
        let dir = if path.is_dir() { Some(path) } else { path.parent() };
        let Some(dir) = dir.filter(|d| !d.as_os_str().is_empty()) else { return };
        let d = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
        self.recent_folders.retain(|r| r != &d);
        self.recent_folders.insert(0, d);
        self.recent_folders.truncate(MAX_RECENT);
    }

    /// Puts a project at the top of the recent list.
    pub fn add_recent(&mut self, path: &Path) {
        let p = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        self.recent.retain(|r| r != &p);
        self.recent.insert(0, p);
        self.recent.truncate(MAX_RECENT);
    }
}

/// Sidecar of an autosave: which project it belongs to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct AutosaveMeta {
    source: Option<PathBuf>,
}

/// The autosave slot of one project file (or of the untitled project).
#[derive(Clone, Debug, PartialEq)]
pub struct AutosaveSlot {
    /// The autosaved project.
    pub file: PathBuf,
    meta: PathBuf,
    /// The user's project file it shadows, if any.
    pub source: Option<PathBuf>,
}

impl AutosaveSlot {
    /// The slot for a project file (`None`: untitled).
    pub fn for_project(dirs: &Dirs, source: Option<&Path>) -> Self {
        let key = match source {
            Some(p) => {
                let abs = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
                let digest =
                    <sha2::Sha256 as sha2::Digest>::digest(abs.to_string_lossy().as_bytes());
                crate::model::hash::hex(&digest[..8])
            }
            None => "untitled".to_string(),
        };
        let dir = dirs.data.join("autosave");
        Self {
            file: dir.join(format!("{key}.redub")),
            meta: dir.join(format!("{key}.json")),
            source: source.map(Path::to_path_buf),
        }
    }

    /// Writes the project (atomically, like a normal save) and the sidecar.
    pub fn write(&self, project: &Project) -> anyhow::Result<()> {
        if let Some(dir) = self.file.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let meta = AutosaveMeta { source: self.source.clone() };
        std::fs::write(&self.meta, serde_json::to_string(&meta)?)
            .with_context(|| format!("writing {}", self.meta.display()))?;
        project.save(&self.file).with_context(|| format!("autosaving {}", self.file.display()))
    }

    /// Removes the autosave (after a save, or a clean exit).
    pub fn clear(&self) {
        let _ = std::fs::remove_file(&self.file);
        let _ = std::fs::remove_file(&self.meta);
    }

    /// Whether an autosave exists and is newer than its project file (or the project has no
    /// file): the condition for offering recovery.
    pub fn is_recoverable(&self) -> bool {
        let Some(auto) = mtime(&self.file) else { return false };
        match self.source.as_deref().and_then(mtime) {
            Some(src) => auto > src,
            None => true,
        }
    }

    /// Loads the autosaved project.
    pub fn load(&self) -> anyhow::Result<Project> {
        Project::load(&self.file).with_context(|| format!("reading {}", self.file.display()))
    }
}

fn mtime(p: &Path) -> Option<SystemTime> {
    std::fs::metadata(p).and_then(|m| m.modified()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::FrameRate;

    #[test]
    fn autosave_is_offered_only_when_newer() {
        let dir = tempfile::tempdir().unwrap();
        let dirs = Dirs::under(dir.path());
        let file = dir.path().join("p.redub");
        let p = Project::new("p", FrameRate::FPS_25);
        p.save(&file).unwrap();
        let slot = AutosaveSlot::for_project(&dirs, Some(&file));
        assert!(!slot.is_recoverable());
        std::thread::sleep(std::time::Duration::from_millis(20));
        let mut q = p.clone();
        q.name = "edited".into();
        slot.write(&q).unwrap();
        assert!(slot.is_recoverable());
        assert_eq!(slot.load().unwrap().name, "edited");
        slot.clear();
        assert!(!slot.is_recoverable());
    }

    #[test]
    fn recent_list_is_unique_and_bounded() {
        let mut s = Settings::default();
        for i in 0..15 {
            s.add_recent(Path::new(&format!("/p/{i}.redub")));
        }
        s.add_recent(Path::new("/p/3.redub"));
        assert_eq!(s.recent.len(), MAX_RECENT);
        assert_eq!(s.recent[0], PathBuf::from("/p/3.redub"));
        assert_eq!(s.recent.iter().filter(|p| p.ends_with("3.redub")).count(), 1);
    }
}
