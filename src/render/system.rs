//! What this machine gives Redub (`redub doctor`, the editor's Help ▸ System check): the
//! GStreamer elements the presets and the decoder need (with the Debian package of each missing
//! one), the ONNX Runtime library, the models and their checksums, the compositor that will draw
//! lip edits and why, the audio output, and the data and cache folders with their sizes.

use crate::inference::registry::{Registry, file_sha256};
use crate::render::compositor::{Backend, Compositor};
use serde::Serialize;
use std::path::Path;

/// How one check came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Present and working.
    Ok,
    /// Missing or degraded, but Redub works without it (a preset, the GPU, sound output).
    Warn,
    /// Missing and needed: something Redub cannot do without.
    Fail,
}

/// One line of the report.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Check {
    /// The group: "gstreamer", "onnxruntime", "models", "compositor", "audio", "folders".
    pub group: &'static str,
    /// What was checked.
    pub name: String,
    /// The outcome.
    pub status: Status,
    /// What was found, or what to do about it.
    pub detail: String,
}

/// The whole report.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SystemReport {
    /// Redub's version.
    pub version: String,
    /// Every check, in groups.
    pub checks: Vec<Check>,
}

impl SystemReport {
    /// Whether something needed is missing.
    pub fn failed(&self) -> bool {
        self.checks.iter().any(|c| c.status == Status::Fail)
    }

    /// The report as lines of text (one per check, grouped), as `redub doctor` prints it.
    pub fn to_text(&self) -> String {
        let mut out = format!("Redub {}\n", self.version);
        let mut group = "";
        for c in &self.checks {
            if c.group != group {
                group = c.group;
                out.push_str(&format!("{group}\n"));
            }
            let mark = match c.status {
                Status::Ok => "ok  ",
                Status::Warn => "warn",
                Status::Fail => "FAIL",
            };
            out.push_str(&format!("  {mark} {:<22} {}\n", c.name, c.detail));
        }
        let fails = self.checks.iter().filter(|c| c.status == Status::Fail).count();
        let warns = self.checks.iter().filter(|c| c.status == Status::Warn).count();
        out.push_str(&match (fails, warns) {
            (0, 0) => "everything Redub needs is here\n".to_string(),
            (0, w) => format!("everything Redub needs is here ({w} warning(s))\n"),
            (f, _) => format!("{f} needed item(s) missing: see FAIL above\n"),
        });
        out
    }
}

/// Elements every video export and the decoder need.
const NEEDED_ELEMENTS: &[&str] = &[
    "decodebin",
    "videoconvert",
    "videoscale",
    "audioconvert",
    "audioresample",
    "appsrc",
    "appsink",
    "qtdemux",
    "avdec_h264",
    "x264enc",
    "h264parse",
    "mp4mux",
    "wavenc",
    "wavparse",
];

/// Elements of the other presets (WebM, ProRes MOV): their export is refused without them.
const PRESET_ELEMENTS: &[(&str, &str)] = &[
    ("vp9enc", "WebM preset"),
    ("opusenc", "WebM preset"),
    ("webmmux", "WebM preset"),
    ("matroskademux", "reading WebM/MKV"),
    ("avenc_prores_ks", "MOV (ProRes) preset"),
    ("qtmux", "MOV (ProRes) preset"),
];

pub use crate::model::dirs::app_dirs;

/// Bytes in the files under `dir` (0 when it does not exist).
fn folder_size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => folder_size(&e.path()),
            Ok(t) if t.is_file() => e.metadata().map_or(0, |m| m.len()),
            _ => 0,
        })
        .sum()
}

fn size_text(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 30 => format!("{:.1} GiB", b as f64 / (1u64 << 30) as f64),
        b if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / (1u64 << 20) as f64),
        b => format!("{:.0} KiB", b as f64 / 1024.0),
    }
}

/// Runs every check. `compositor`: whether to open the GPU compositor to say which will draw
/// (it opens a wgpu device; the editor passes what it already knows instead).
pub fn gather(compositor: Option<Backend>) -> SystemReport {
    let mut checks = Vec::new();
    let mut add = |group, name: String, status, detail: String| {
        checks.push(Check { group, name, status, detail });
    };

    // GStreamer.
    match crate::media::init() {
        Ok(()) => {
            add(
                "gstreamer",
                "GStreamer".into(),
                Status::Ok,
                gstreamer::version_string().to_string(),
            );
            for e in NEEDED_ELEMENTS {
                let here = crate::media::has_element(e);
                let status = if here { Status::Ok } else { Status::Fail };
                let detail = if here {
                    "installed".to_string()
                } else {
                    format!("missing: apt install {}", crate::media::package_for_element(e))
                };
                add("gstreamer", (*e).to_string(), status, detail);
            }
            let aac = crate::media::encode::aac_encoder_name();
            add(
                "gstreamer",
                "AAC encoder".into(),
                if aac.is_ok() { Status::Ok } else { Status::Fail },
                match aac {
                    Ok(n) => format!("{n} (MP4 sound)"),
                    Err(_) => "missing: apt install gstreamer1.0-libav".into(),
                },
            );
            for (e, what) in PRESET_ELEMENTS {
                let here = crate::media::has_element(e);
                add(
                    "gstreamer",
                    (*e).to_string(),
                    if here { Status::Ok } else { Status::Warn },
                    if here {
                        format!("installed ({what})")
                    } else {
                        format!(
                            "missing, needed for the {what}: apt install {}",
                            crate::media::package_for_element(e)
                        )
                    },
                );
            }
        }
        Err(e) => add("gstreamer", "GStreamer".into(), Status::Fail, format!("{e}")),
    }

    // ONNX Runtime and the models.
    match crate::inference::find_library() {
        Ok(lib) => match crate::inference::runtime() {
            Ok(rt) => add(
                "onnxruntime",
                "library".into(),
                Status::Ok,
                format!("{} (accelerators: {})", lib.display(), {
                    let a = rt.accelerators();
                    if a.is_empty() { "none, the CPU runs the models".into() } else { a.join(", ") }
                }),
            ),
            Err(e) => add("onnxruntime", "library".into(), Status::Fail, format!("{e}")),
        },
        Err(e) => add(
            "onnxruntime",
            "library".into(),
            Status::Fail,
            format!("{e}; run `redub models fetch`"),
        ),
    }
    let models = crate::inference::models_dir();
    match Registry::installed() {
        Ok(reg) if reg.entries().is_empty() => add(
            "models",
            models.display().to_string(),
            Status::Fail,
            format!(
                "no model manifests (*.toml) in {}: REDUB_MODELS_DIR points elsewhere, or \
                 reinstall redub",
                crate::inference::manifests_dir().display()
            ),
        ),
        Ok(reg) => {
            for m in reg.entries() {
                // Test fixtures are not models the app runs.
                if m.manifest.file_stem().is_some_and(|s| s == "fixtures") {
                    continue;
                }
                let (status, detail) = if !m.path.is_file() {
                    (
                        Status::Fail,
                        format!("missing: {} (`redub models fetch` fetches it)", m.path.display()),
                    )
                } else {
                    match file_sha256(&m.path) {
                        Ok(h) if h == m.sha256 => (
                            Status::Ok,
                            format!(
                                "sha256 verified, {}{}",
                                size_text(std::fs::metadata(&m.path).map_or(0, |x| x.len())),
                                m.licence.as_deref().map_or(String::new(), |l| format!(", {l}"))
                            ),
                        ),
                        Ok(h) => (
                            Status::Fail,
                            format!("{}: sha256 {h}, expected {}", m.path.display(), m.sha256),
                        ),
                        Err(e) => (Status::Fail, format!("{e}")),
                    }
                };
                add("models", m.name.clone(), status, detail);
            }
        }
        Err(e) => add("models", models.display().to_string(), Status::Fail, format!("{e}")),
    }

    // The compositor that draws lip edits.
    let backend = compositor.unwrap_or_else(|| Compositor::shared().backend());
    match backend {
        Backend::Gpu(name) => {
            add("compositor", "lip edits".into(), Status::Ok, format!("GPU ({name})"))
        }
        Backend::Cpu(why) => {
            add("compositor", "lip edits".into(), Status::Warn, format!("CPU: {why}"))
        }
    }

    // Sound output (the editor plays without it, silently).
    {
        use cpal::traits::{DeviceTrait, HostTrait};
        let host = cpal::default_host();
        let name = |d: &cpal::Device| {
            d.description().map_or_else(|_| "the default device".into(), |n| n.to_string())
        };
        match host.default_output_device() {
            Some(d) => match d.default_output_config() {
                Ok(c) => add(
                    "audio",
                    "output".into(),
                    Status::Ok,
                    format!("{} ({} Hz, {} channels)", name(&d), c.sample_rate(), c.channels()),
                ),
                Err(e) => add(
                    "audio",
                    "output".into(),
                    Status::Warn,
                    format!("{} cannot play ({e}): the editor plays without sound", name(&d)),
                ),
            },
            None => add(
                "audio",
                "output".into(),
                Status::Warn,
                "no audio output device: the editor plays without sound".into(),
            ),
        }
    }

    // Folders.
    let (data, config) = app_dirs();
    let folders = [
        ("data (autosaves)", Some(data)),
        ("settings", Some(config)),
        ("analysis cache", crate::analysis::cache::cache_dir()),
        ("mouth bank cache", crate::lipsync::cache::cache_dir()),
        ("models", Some(models)),
    ];
    for (what, dir) in folders {
        match dir {
            Some(d) => add(
                "folders",
                what.to_string(),
                Status::Ok,
                format!("{} ({})", d.display(), size_text(folder_size(&d))),
            ),
            None => add("folders", what.to_string(), Status::Warn, "no home folder".into()),
        }
    }
    SystemReport { version: crate::VERSION.to_string(), checks }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_names_each_failure_and_the_verdict() {
        let report = SystemReport {
            version: "0.0.0".into(),
            checks: vec![
                Check {
                    group: "gstreamer",
                    name: "x264enc".into(),
                    status: Status::Fail,
                    detail: "missing: apt install gstreamer1.0-plugins-ugly".into(),
                },
                Check {
                    group: "audio",
                    name: "output".into(),
                    status: Status::Warn,
                    detail: "none".into(),
                },
            ],
        };
        assert!(report.failed());
        let text = report.to_text();
        assert!(text.contains("FAIL x264enc"), "{text}");
        assert!(text.contains("gstreamer1.0-plugins-ugly"));
        assert!(text.ends_with("1 needed item(s) missing: see FAIL above\n"), "{text}");
        assert_eq!(size_text(3 << 20), "3.0 MiB");
    }
}
