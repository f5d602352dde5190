//! Where the app keeps its own files (settings, autosaves, models fetched for a user).

use std::path::PathBuf;

/// The folders the app keeps its files in: `REDUB_DATA_DIR`'s `data` and `config`, else the
/// platform's, else a folder in the temp dir. The editor's settings and autosaves live there.
pub fn app_dirs() -> (PathBuf, PathBuf) {
    if let Some(d) = std::env::var_os("REDUB_DATA_DIR") {
        let d = PathBuf::from(d);
        return (d.join("data"), d.join("config"));
    }
    match directories::ProjectDirs::from("", "", "redub") {
        Some(p) => (p.data_dir().to_path_buf(), p.config_dir().to_path_buf()),
        None => {
            let d = std::env::temp_dir().join("redub");
            (d.join("data"), d.join("config"))
        }
    }
}
