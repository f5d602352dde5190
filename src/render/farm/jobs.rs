//! Job files that run a farm render on an existing engine: an Open Job Description template
//! (`jobtemplate-2023-09`: AWS Deadline Cloud, or `openjd run` on one machine), a Slurm script
//! (a job array with dependent jobs) or a GNU parallel script (local cores, or `--sshlogin`
//! machines that share the project's storage). Every format runs the same four steps: Plan,
//! Render (one task per piece), Audio, Concat; retries are the engine's (a piece run twice
//! writes the same bytes).

use crate::model::Preset;
use std::path::{Path, PathBuf};

/// Which engine the job file is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobFormat {
    /// Open Job Description template (YAML).
    OpenJd,
    /// Slurm: a script that submits itself as the plan job, the render array, the audio job and
    /// the concat job that depends on them.
    Slurm,
    /// GNU parallel: a script that runs the pieces side by side.
    Parallel,
}

impl JobFormat {
    /// From its name: `openjd`, `slurm` or `parallel`.
    pub fn from_name(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "openjd" | "ojd" | "yaml" => Some(Self::OpenJd),
            "slurm" => Some(Self::Slurm),
            "parallel" => Some(Self::Parallel),
            _ => None,
        }
    }

    /// All formats with their names, for menus.
    pub const ALL: [(JobFormat, &'static str); 3] = [
        (JobFormat::OpenJd, "Open Job Description (YAML)"),
        (JobFormat::Slurm, "Slurm (job array script)"),
        (JobFormat::Parallel, "GNU parallel (script)"),
    ];

    /// The usual file extension.
    pub fn extension(self) -> &'static str {
        match self {
            JobFormat::OpenJd => "yaml",
            JobFormat::Slurm | JobFormat::Parallel => "sh",
        }
    }
}

/// What a job file renders.
#[derive(Clone, Debug, PartialEq)]
pub struct FarmJob {
    /// The `redub` program the engine runs (an absolute path, or a name on the workers' PATH).
    pub redub: PathBuf,
    /// The project file (absolute: the workers read it where it is).
    pub project: PathBuf,
    /// Folder for the plan's pieces and the sound.
    pub pieces_dir: PathBuf,
    /// The joined result.
    pub output: PathBuf,
    /// Pieces of the picture.
    pub pieces: u32,
    /// Video preset.
    pub preset: Preset,
    /// GNU parallel's `--sshlogin` (e.g. `4/host1,4/host2`); local cores when `None`.
    pub sshlogin: Option<String>,
    /// The folder of the job file: an Open Job Description template's default paths are
    /// relative to it (the format's rule).
    pub job_dir: PathBuf,
}

/// `path` relative to the folder `base` (both absolute), e.g. `../media/film.redub`.
pub fn relative_to(path: &Path, base: &Path) -> PathBuf {
    let p: Vec<_> = path.components().collect();
    let b: Vec<_> = base.components().collect();
    let common = p.iter().zip(&b).take_while(|(x, y)| x == y).count();
    if common == 0 {
        return path.to_path_buf();
    }
    let mut out = PathBuf::new();
    for _ in common..b.len() {
        out.push("..");
    }
    for c in &p[common..] {
        out.push(c.as_os_str());
    }
    if out.as_os_str().is_empty() { PathBuf::from(".") } else { out }
}

/// The choices of a job file beyond the project: what `redub farm` and File ▸ Export for render
/// farm… ask.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct JobSpec {
    /// Pieces of the picture.
    pub pieces: u32,
    /// Video preset (`None`: the project's).
    pub preset: Option<Preset>,
    /// Where the joined film goes (`None`: beside the project, named after it).
    pub render_to: Option<PathBuf>,
    /// Folder for the pieces and the sound (`None`: `NAME-pieces` beside the project).
    pub pieces_dir: Option<PathBuf>,
    /// GNU parallel's `--sshlogin`.
    pub sshlogin: Option<String>,
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

impl FarmJob {
    /// The job of `project` (saved at `project_path`) written to `job_file`, run by this program.
    pub fn new(
        project: &crate::model::Project,
        project_path: &Path,
        job_file: &Path,
        spec: &JobSpec,
    ) -> Result<Self, String> {
        let frames = super::plan_file::timeline_frames(project);
        if spec.pieces == 0 || i64::from(spec.pieces) > frames {
            return Err(format!("pieces: from 1 to the timeline's {frames} frames"));
        }
        let preset = spec.preset.unwrap_or(project.export.preset);
        if preset == Preset::WavStems {
            return Err("farm renders are mp4, webm or mov; render WAV stems in one go".into());
        }
        let project_path = absolute(project_path);
        let dir = project_path.parent().map(Path::to_path_buf).unwrap_or_default();
        let stem =
            project_path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let output = spec
            .render_to
            .as_deref()
            .map(absolute)
            .unwrap_or_else(|| dir.join(format!("{stem}.{}", extension(preset))));
        let pieces_dir = spec
            .pieces_dir
            .as_deref()
            .map(absolute)
            .unwrap_or_else(|| dir.join(format!("{stem}-pieces")));
        Ok(Self {
            redub: std::env::current_exe().unwrap_or_else(|_| PathBuf::from("redub")),
            project: project_path,
            pieces_dir,
            output,
            pieces: spec.pieces,
            preset,
            sshlogin: spec.sshlogin.clone(),
            job_dir: absolute(job_file).parent().map(Path::to_path_buf).unwrap_or_default(),
        })
    }
}

/// Writes the job file (atomically) and, for an Open Job Description template, its parameter
/// file ([`params_path`]); returns the files written.
pub fn write_job(
    job: &FarmJob,
    job_file: &Path,
    format: JobFormat,
) -> Result<Vec<PathBuf>, String> {
    let write = |path: &Path, text: &str| {
        crate::media::encode::check_writable(path).map_err(|e| e.to_string()).and_then(|()| {
            super::plan_file::write_atomic_text(path, text).map_err(|e| e.to_string())
        })
    };
    write(job_file, &job_file_text(job, format))?;
    let mut out = vec![job_file.to_path_buf()];
    if format == JobFormat::OpenJd {
        let params = params_path(job_file);
        write(&params, &params_json(job))?;
        out.push(params);
    }
    Ok(out)
}

/// Frames `[first, last)` of piece `k` of `n` over `frames` frames: even shares, the remainder
/// spread over the first pieces' ends.
pub fn piece_range(frames: i64, k: u32, n: u32) -> (i64, i64) {
    let n = i64::from(n.max(1));
    let k = i64::from(k).min(n - 1);
    (k * frames / n, (k + 1) * frames / n)
}

/// The piece file of piece `k` (in the pieces folder).
pub fn piece_name(k: u32, preset: Preset) -> String {
    format!("piece-{k}.{}", extension(preset))
}

/// The sound file of a farm render.
pub fn sound_name(preset: Preset) -> String {
    format!(
        "sound.{}",
        match preset {
            Preset::Mp4 => "m4a",
            Preset::Webm => "webm",
            Preset::Mov | Preset::WavStems => "mov",
        }
    )
}

fn extension(preset: Preset) -> &'static str {
    match preset {
        Preset::Mp4 => "mp4",
        Preset::Webm => "webm",
        Preset::Mov | Preset::WavStems => "mov",
    }
}

fn preset_name(preset: Preset) -> &'static str {
    match preset {
        Preset::Mp4 => "mp4",
        Preset::Webm => "webm",
        Preset::Mov | Preset::WavStems => "mov",
    }
}

/// The job file's text.
pub fn job_file_text(job: &FarmJob, format: JobFormat) -> String {
    match format {
        JobFormat::OpenJd => openjd(job),
        JobFormat::Slurm => slurm(job),
        JobFormat::Parallel => parallel(job),
    }
}

/// The job parameters of an Open Job Description template as `openjd run --job-param
/// file://PARAMS.json` and Deadline Cloud take them: absolute paths, for the defaults a template
/// cannot hold (outside its folder).
pub fn params_json(job: &FarmJob) -> String {
    let v = serde_json::json!({
        "Redub": path_str(&job.redub),
        "ProjectFile": path_str(&job.project),
        "PiecesDir": path_str(&job.pieces_dir),
        "OutputFile": path_str(&job.output),
    });
    serde_json::to_string_pretty(&v).unwrap_or_default()
}

/// The parameter file written beside a template: `JOB.params.json`.
pub fn params_path(job_file: &Path) -> PathBuf {
    job_file.with_extension("params.json")
}

/// Whether every path of the job lies inside the job file's folder (then the template's
/// defaults hold them all).
pub fn defaults_complete(job: &FarmJob) -> bool {
    [&job.project, &job.pieces_dir, &job.output]
        .iter()
        .all(|p| !relative_to(p, &job.job_dir).starts_with(".."))
}

/// A YAML single-quoted scalar.
fn yq(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A POSIX shell single-quoted word.
fn sq(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

fn path_str(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

fn openjd(job: &FarmJob) -> String {
    let n = job.pieces.max(1);
    let preset = preset_name(job.preset);
    let ext = extension(job.preset);
    let title =
        job.project.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let mut y = String::new();
    y += "# Redub render-farm job (Open Job Description). Run locally with `openjd run THIS_FILE`,\n";
    y +=
        "# or submit it to AWS Deadline Cloud. Every piece writes the same bytes when run again.\n";
    y += "# Default paths are relative to this file's folder (the format's rule).\n";
    y += "specificationVersion: 'jobtemplate-2023-09'\n";
    y += &format!("name: {}\n", yq(&format!("Redub: {title}")));
    y += "parameterDefinitions:\n";
    let param = |name: &str, kind: &str, extra: &[(&str, &str)], default: &str, about: &str| {
        let mut s = format!("- name: {name}\n  type: {kind}\n");
        for (k, v) in extra {
            s += &format!("  {k}: {v}\n");
        }
        s += &format!("  description: {}\n", yq(about));
        // A default path must stay inside the template's folder (the format's rule); one that
        // does not is given with `--job-param` (see `params_json`).
        if kind != "PATH" || !(default.starts_with("..") || default.starts_with('/')) {
            s += &format!("  default: {}\n", yq(default));
        }
        s
    };
    y += &param("Redub", "STRING", &[], &path_str(&job.redub), "The redub program on the workers.");
    y += &param(
        "ProjectFile",
        "PATH",
        &[("objectType", "FILE"), ("dataFlow", "IN")],
        &path_str(&relative_to(&job.project, &job.job_dir)),
        "The project (.redub); its plan is stored beside it.",
    );
    y += &param(
        "PiecesDir",
        "PATH",
        &[("objectType", "DIRECTORY"), ("dataFlow", "OUT")],
        &path_str(&relative_to(&job.pieces_dir, &job.job_dir)),
        "Folder for the rendered pieces and the sound.",
    );
    y += &param(
        "OutputFile",
        "PATH",
        &[("objectType", "FILE"), ("dataFlow", "OUT")],
        &path_str(&relative_to(&job.output, &job.job_dir)),
        "The joined film.",
    );
    y += "steps:\n";
    let action = |args: &[String]| {
        let mut s = "  script:\n    actions:\n      onRun:\n        command: '{{Param.Redub}}'\n        args:\n".to_string();
        for a in args {
            s += &format!("        - {}\n", yq(a));
        }
        s
    };
    y += "- name: Plan\n";
    y += &action(&["plan".into(), "{{Param.ProjectFile}}".into()]);
    y += "- name: Render\n  dependencies:\n  - dependsOn: Plan\n";
    y += &format!(
        "  parameterSpace:\n    taskParameterDefinitions:\n    - name: Piece\n      type: INT\n      range: {}\n",
        yq(&format!("0-{}", n - 1))
    );
    y += &action(&[
        "render".into(),
        "{{Param.ProjectFile}}".into(),
        "--piece".into(),
        "--part".into(),
        format!("{{{{Task.Param.Piece}}}}/{n}"),
        "--preset".into(),
        preset.into(),
        "-o".into(),
        format!("{{{{Param.PiecesDir}}}}/piece-{{{{Task.Param.Piece}}}}.{ext}"),
    ]);
    y += "- name: Audio\n  dependencies:\n  - dependsOn: Plan\n";
    y += &action(&[
        "render".into(),
        "{{Param.ProjectFile}}".into(),
        "--audio-only".into(),
        "--preset".into(),
        preset.into(),
        "-o".into(),
        format!("{{{{Param.PiecesDir}}}}/{}", sound_name(job.preset)),
    ]);
    y += "- name: Concat\n  dependencies:\n  - dependsOn: Render\n  - dependsOn: Audio\n";
    let mut args: Vec<String> = vec!["concat".into(), "{{Param.ProjectFile}}".into()];
    args.extend((0..n).map(|k| format!("{{{{Param.PiecesDir}}}}/piece-{k}.{ext}")));
    args.extend([
        "--audio".into(),
        format!("{{{{Param.PiecesDir}}}}/{}", sound_name(job.preset)),
        "--preset".into(),
        preset.into(),
        "-o".into(),
        "{{Param.OutputFile}}".into(),
    ]);
    y += &action(&args);
    y
}

/// The shell variables every script starts with.
fn script_head(job: &FarmJob, what: &str, directives: &str) -> String {
    let mut s = "#!/bin/bash\n".to_string();
    s += &format!("# Redub render-farm job ({what}).\n");
    s += "# Plan, the pieces of the picture and the sound, then the join; a piece run twice writes\n";
    s += "# the same bytes, so a failed piece can simply be run again.\n";
    s += directives;
    s += "set -euo pipefail\n";
    s += &format!("REDUB=${{REDUB:-{}}}\n", sq(&path_str(&job.redub)));
    s += &format!("PROJECT=${{PROJECT:-{}}}\n", sq(&path_str(&job.project)));
    s += &format!("PIECES_DIR=${{PIECES_DIR:-{}}}\n", sq(&path_str(&job.pieces_dir)));
    s += &format!("OUTPUT=${{OUTPUT:-{}}}\n", sq(&path_str(&job.output)));
    s += &format!("PIECES={}\n", job.pieces.max(1));
    s += &format!("PRESET={}\n", preset_name(job.preset));
    s += &format!("SOUND=\"$PIECES_DIR\"/{}\n", sound_name(job.preset));
    s
}

fn concat_lines(ext: &str) -> String {
    let mut s = "join_pieces() {\n    local pieces=()\n".to_string();
    s += &format!(
        "    for ((k = 0; k < PIECES; k++)); do pieces+=(\"$PIECES_DIR/piece-$k.{ext}\"); done\n"
    );
    s += "    \"$REDUB\" concat \"$PROJECT\" \"${pieces[@]}\" --audio \"$SOUND\" --preset \"$PRESET\" -o \"$OUTPUT\"\n}\n";
    s
}

fn slurm(job: &FarmJob) -> String {
    let ext = extension(job.preset);
    let last = job.pieces.max(1) - 1;
    // Directives before the first command, where sbatch reads them.
    let mut s = script_head(
        job,
        "Slurm: run `bash THIS_FILE` on a submit host",
        "#SBATCH --job-name=redub\n#SBATCH --cpus-per-task=4\n",
    );
    s += &concat_lines(ext);
    s += "case \"${REDUB_STEP:-submit}\" in\n";
    s += "submit)\n";
    s += "    mkdir -p \"$PIECES_DIR\"\n";
    s += "    self=$(readlink -f \"$0\")\n";
    s += "    plan=$(sbatch --parsable --job-name=redub-plan --export=ALL,REDUB_STEP=plan \"$self\")\n";
    s += &format!(
        "    render=$(sbatch --parsable --job-name=redub-render --array=0-{last} --dependency=afterok:$plan --export=ALL,REDUB_STEP=render \"$self\")\n"
    );
    s += "    audio=$(sbatch --parsable --job-name=redub-audio --dependency=afterok:$plan --export=ALL,REDUB_STEP=audio \"$self\")\n";
    s += "    join=$(sbatch --parsable --job-name=redub-concat --dependency=afterok:$render:$audio --export=ALL,REDUB_STEP=concat \"$self\")\n";
    s += "    echo \"submitted: plan $plan, render array $render, audio $audio, concat $join\"\n";
    s += "    ;;\n";
    s += "plan) \"$REDUB\" plan \"$PROJECT\" ;;\n";
    s += &format!(
        "render) \"$REDUB\" render \"$PROJECT\" --piece --part \"$SLURM_ARRAY_TASK_ID/$PIECES\" --preset \"$PRESET\" -o \"$PIECES_DIR/piece-$SLURM_ARRAY_TASK_ID.{ext}\" ;;\n"
    );
    s += "audio) \"$REDUB\" render \"$PROJECT\" --audio-only --preset \"$PRESET\" -o \"$SOUND\" ;;\n";
    s += "concat) join_pieces ;;\n";
    s += "*) echo \"unknown REDUB_STEP=$REDUB_STEP\" >&2; exit 1 ;;\n";
    s += "esac\n";
    s
}

fn parallel(job: &FarmJob) -> String {
    let ext = extension(job.preset);
    let mut s = script_head(job, "GNU parallel: run `bash THIS_FILE`", "");
    match &job.sshlogin {
        Some(login) => {
            s += "# The machines share the project's storage at the same paths.\n";
            s += &format!("SSHLOGIN=(--sshlogin {})\n", sq(login));
        }
        None => s += "SSHLOGIN=()\n",
    }
    s += &concat_lines(ext);
    s += "mkdir -p \"$PIECES_DIR\"\n";
    s += "\"$REDUB\" plan \"$PROJECT\"\n";
    s += "\"$REDUB\" render \"$PROJECT\" --audio-only --preset \"$PRESET\" -o \"$SOUND\" &\n";
    s += "sound=$!\n";
    s += &format!(
        "parallel --will-cite -q --halt now,fail=1 \"${{SSHLOGIN[@]}}\" \"$REDUB\" render \"$PROJECT\" --piece --part {{}}/\"$PIECES\" --preset \"$PRESET\" -o \"$PIECES_DIR/piece-{{}}.{ext}\" ::: $(seq 0 $((PIECES - 1)))\n"
    );
    s += "wait \"$sound\"\n";
    s += "join_pieces\n";
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_cover_the_frames_once() {
        for (frames, n) in [(100, 4), (101, 4), (7, 3), (3, 3)] {
            let mut next = 0;
            for k in 0..n {
                let (a, b) = piece_range(frames, k, n);
                assert_eq!(a, next);
                assert!(b > a);
                next = b;
            }
            assert_eq!(next, frames);
        }
    }

    #[test]
    fn relative_paths_climb_out_of_the_job_folder() {
        let rel = relative_to(Path::new("/a/b/film.redub"), Path::new("/a/jobs/x"));
        assert_eq!(rel, Path::new("../../b/film.redub"));
        assert_eq!(relative_to(Path::new("/a/b"), Path::new("/a/b")), Path::new("."));
    }

    #[test]
    fn quotes_survive_paths_with_quotes() {
        assert_eq!(sq("it's"), "'it'\\''s'");
        assert_eq!(yq("it's"), "'it''s'");
    }
}
