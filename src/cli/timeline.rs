//! `redub timeline export|import`: the project's timeline as OpenTimelineIO, FCP7 XML or CMX 3600
//! EDL, and a project from such a file (see [`crate::model::interchange`]).

use super::CliError;
use crate::model::interchange::{self, Cut, Format, edl};
use crate::model::output::{check_output, project_inputs};
use crate::model::project::project_dir;
use crate::model::{FrameRate, Project};
use std::io::Write;
use std::path::{Path, PathBuf};

fn format_of(path: &Path, given: Option<&str>) -> Result<Format, CliError> {
    match given {
        Some(name) => Format::from_name(name).ok_or_else(|| {
            CliError::User(format!("unknown timeline format {name:?} (otio, xml or edl)"))
        }),
        None => Format::from_path(path).ok_or_else(|| {
            CliError::User(format!(
                "{}: cannot tell the format from the extension: use .otio, .xml or .edl, or \
                 --format",
                path.display()
            ))
        }),
    }
}

/// Writes `text` to `path` through a temp file in the same folder and a rename, so a reader
/// never sees half a file.
fn write_atomic(path: &Path, text: &str) -> Result<(), CliError> {
    let fail = |e: std::io::Error| CliError::User(format!("{}: cannot write: {e}", path.display()));
    let dir = project_dir(path);
    let mut tmp =
        tempfile::Builder::new().prefix(".redub-timeline").tempfile_in(&dir).map_err(fail)?;
    tmp.write_all(text.as_bytes()).map_err(fail)?;
    tmp.as_file().sync_all().map_err(fail)?;
    tmp.persist(path).map_err(|e| fail(e.error))?;
    Ok(())
}

/// `OUT.edl` for one track, `OUT.V1.edl`… for each of several.
fn edl_path(output: &Path, label: &str) -> PathBuf {
    let stem = output.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    output.with_file_name(format!("{stem}.{label}.edl"))
}

/// Arguments of `redub timeline export`.
pub(super) struct ExportArgs<'a> {
    pub project: &'a Path,
    pub output: &'a Path,
    pub format: Option<&'a str>,
    pub track: Option<&'a str>,
}

pub(super) fn export(a: &ExportArgs) -> Result<(), CliError> {
    let format = format_of(a.output, a.format)?;
    let project = Project::load(a.project)?;
    let inputs = project_inputs(&project, a.project);
    let cut = Cut::from_project(&project, &project_dir(a.project));
    let clips: usize = cut.tracks.iter().map(|t| t.clips.len()).sum();
    let mut written = Vec::new();
    match format {
        Format::Otio => {
            check_output(a.output, &inputs)?;
            write_atomic(a.output, &interchange::otio::write(&cut))?;
            written.push(a.output.to_path_buf());
        }
        Format::Fcp7Xml => {
            check_output(a.output, &inputs)?;
            let text = interchange::fcp7::write(&cut).map_err(|e| CliError::User(e.to_string()))?;
            write_atomic(a.output, &text)?;
            written.push(a.output.to_path_buf());
        }
        Format::Edl => {
            let labels = edl::track_labels(&cut);
            let chosen: Vec<usize> = match a.track {
                Some(t) => {
                    let i =
                        labels.iter().position(|l| l.eq_ignore_ascii_case(t)).ok_or_else(|| {
                            CliError::User(format!(
                                "no track {t:?}; the timeline has {}",
                                labels.join(", ")
                            ))
                        })?;
                    vec![i]
                }
                None => (0..labels.len()).collect(),
            };
            let single = chosen.len() == 1;
            for i in chosen {
                let path =
                    if single { a.output.to_path_buf() } else { edl_path(a.output, &labels[i]) };
                check_output(&path, &inputs)?;
                let text = edl::write(&cut, i).map_err(|e| CliError::User(e.to_string()))?;
                write_atomic(&path, &text)?;
                written.push(path);
            }
        }
    }
    for p in &written {
        println!("wrote {}", p.display());
    }
    println!(
        "{} track(s), {clips} clip(s), {} marker(s) at {} fps",
        cut.tracks.len(),
        cut.markers.len(),
        cut.rate
    );
    Ok(())
}

/// Arguments of `redub timeline import`.
pub(super) struct ImportArgs<'a> {
    pub input: &'a Path,
    pub output: &'a Path,
    pub format: Option<&'a str>,
    pub rate: Option<&'a str>,
    pub force: bool,
}

pub(super) fn import(a: &ImportArgs) -> Result<(), CliError> {
    let format = format_of(a.input, a.format)?;
    if a.output.exists() && !a.force {
        return Err(CliError::User(format!(
            "{} exists; use --force to overwrite it",
            a.output.display()
        )));
    }
    let text = std::fs::read_to_string(a.input)
        .map_err(|e| CliError::User(format!("{}: cannot read: {e}", a.input.display())))?;
    let named =
        |e: interchange::InterchangeError| CliError::User(format!("{}: {e}", a.input.display()));
    let cut = match format {
        Format::Otio => interchange::otio::read(&text).map_err(named)?,
        Format::Fcp7Xml => interchange::fcp7::read(&text).map_err(named)?,
        Format::Edl => {
            let rate = a.rate.ok_or_else(|| {
                CliError::User(
                    "an EDL does not state its frame rate: give --rate (e.g. 29.97)".into(),
                )
            })?;
            let fps: f64 = rate
                .parse()
                .map_err(|_| CliError::User(format!("--rate {rate:?} is not a number")))?;
            let rate = FrameRate::from_f64_guess(fps)
                .ok_or_else(|| CliError::User(format!("--rate {fps} is not a frame rate")))?;
            let name = a.input.file_stem().map(|s| s.to_string_lossy().into_owned());
            edl::read(&text, rate, &name.unwrap_or_default()).map_err(named)?
        }
    };
    let imported = cut.into_project(&project_dir(a.input)).map_err(named)?;
    let p = &imported.project;
    imported.project.save(a.output)?;
    let clips: usize = p.timeline.dub_tracks.iter().map(|t| t.clips.len()).sum();
    println!(
        "wrote {}: {} dub track(s), {clips} clip(s), {} marker(s), {} media file(s) at {} fps",
        a.output.display(),
        p.timeline.dub_tracks.len(),
        p.timeline.markers.len(),
        p.media.len(),
        p.timeline.frame_rate
    );
    if let Some(line) = interchange::warning_line(&imported.warnings) {
        eprintln!("redub: warning: {line}");
    }
    Ok(())
}
