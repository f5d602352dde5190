//! `redub timeline export|import`: the project's timeline as OpenTimelineIO, FCP7 XML or CMX 3600
//! EDL, and a project from such a file (see [`crate::model::interchange`]).

use super::CliError;
use crate::model::interchange::{self, Cut, Format};
use crate::model::output::{check_output, project_inputs};
use crate::model::project::project_dir;
use crate::model::{FrameRate, Project};
use std::path::Path;

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

fn write_atomic(path: &Path, text: &str) -> Result<(), CliError> {
    interchange::write_atomic(path, text)
        .map_err(|e| CliError::User(format!("{}: cannot write: {e}", path.display())))
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
    let files = interchange::export_files(&cut, a.output, format, a.track)
        .map_err(|e| CliError::User(e.to_string()))?;
    for (path, _) in &files {
        check_output(path, &inputs)?;
    }
    let mut written = Vec::new();
    for (path, text) in files {
        write_atomic(&path, &text)?;
        written.push(path);
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
    let rate = match a.rate {
        Some(r) => {
            let fps: f64 =
                r.parse().map_err(|_| CliError::User(format!("--rate {r:?} is not a number")))?;
            Some(
                FrameRate::from_f64_guess(fps)
                    .ok_or_else(|| CliError::User(format!("--rate {fps} is not a frame rate")))?,
            )
        }
        None => None,
    };
    let name = a.input.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let cut = interchange::read(&text, format, rate, &name).map_err(named)?;
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
