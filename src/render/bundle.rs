//! The self-contained project bundle (`.redubz`): one file holding a project, every media file
//! it uses, the face analyses and mouth banks cached for that media, and a manifest of the
//! models it needs (names and sha256, never the weights), so a project travels to another
//! machine or person and renders the same pictures there.
//!
//! The archive is an uncompressed POSIX tar (media is compressed already): the entries, then
//! `manifest.json` (every other entry's path, size and sha256; the models) and last
//! `manifest.sha256` (the manifest's own hash). Writing streams each file once, hashing as it
//! goes, into a temp file beside the target that is renamed into place only when complete.
//! Opening unpacks into a temp folder beside the bundle, refuses any entry that is not a plain
//! file with a plain relative path, checks every entry against the manifest, installs the caches
//! and only then renames the folder into place: a corrupt, truncated or cancelled open leaves
//! nothing behind.
//!
//! Inside the bundle the project's media paths are relative (`media/NAME`), so the unpacked
//! project finds its media wherever the bundle goes; the absolute path of the original machine
//! stays as the project file's last-resort fallback.

use crate::inference::{Registry, models_dir};
use crate::jobs::Job;
use crate::model::project::{SCHEMA_VERSION, project_dir, resolve_media_path};
use crate::model::{MediaKind, Project, Time};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Component, Path, PathBuf};

pub mod trim;

/// The bundle file extension.
pub const BUNDLE_EXTENSION: &str = "redubz";

/// Version of the bundle layout this build writes and the newest it reads.
pub const BUNDLE_FORMAT: u32 = 1;

const MANIFEST: &str = "manifest.json";
const MANIFEST_HASH: &str = "manifest.sha256";
/// Written into an unpacked folder: the sha256 of the manifest it came from, so opening the same
/// bundle again reuses the folder (and the edits made there) instead of unpacking a copy.
const UNPACKED_MARK: &str = ".redub-bundle";

/// Whether `path` names a bundle (by its extension).
pub fn is_bundle(path: &Path) -> bool {
    path.extension().is_some_and(|e| e.eq_ignore_ascii_case(BUNDLE_EXTENSION))
}

/// Bundle failures: each says which file and what to do.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The project cannot be collected (missing media, unreadable project).
    #[error("{0}")]
    Project(String),
    /// The bundle is damaged, truncated, unsafe or not a bundle.
    #[error("{path}: not a usable Redub bundle: {reason}")]
    Corrupt {
        /// The bundle.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The user cancelled; nothing was left behind.
    #[error("cancelled")]
    Cancelled,
}

impl BundleError {
    /// Whether the user cancelled it.
    pub fn is_cancelled(&self) -> bool {
        matches!(self, BundleError::Cancelled)
    }
}

/// One file in the bundle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleEntry {
    /// Path inside the bundle, `/`-separated, relative.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 of the contents, lower-case hex.
    pub sha256: String,
}

/// A model the project needs: which file and its hash (the weights are not in the bundle; the
/// set-up installs them).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelNeed {
    /// File name, e.g. `pnet.onnx`.
    pub name: String,
    /// Expected SHA-256, lower-case hex.
    pub sha256: String,
    /// The manifest (`models/*.toml`) that declares it.
    pub manifest: String,
}

/// The bundle's table of contents.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`BUNDLE_FORMAT`] of the writer.
    pub format: u32,
    /// The Redub version that wrote it.
    pub redub_version: String,
    /// The project file's path inside the bundle.
    pub project: String,
    /// Every entry but the manifest and its hash.
    pub entries: Vec<BundleEntry>,
    /// The models it needs.
    pub models: Vec<ModelNeed>,
}

/// How [`collect_project`] takes the media.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CollectOptions {
    /// Only the used ranges of each media file (with a margin), cut losslessly where the
    /// container allows (see [`trim`]); the project inside points at the cut files with its
    /// source times shifted, so it renders the same. Files that cannot be cut go whole, with a
    /// note in [`CollectReport::notes`].
    pub trim: bool,
}

/// What [`collect`] wrote.
#[derive(Clone, Debug, PartialEq)]
pub struct CollectReport {
    /// The bundle file.
    pub path: PathBuf,
    /// Its size in bytes.
    pub size: u64,
    /// Media files collected.
    pub media_files: usize,
    /// Their bytes.
    pub media_bytes: u64,
    /// Cache files collected (analyses and banks).
    pub cache_files: usize,
    /// Their bytes.
    pub cache_bytes: u64,
    /// The models listed in the manifest.
    pub models: usize,
    /// Media files cut to their used ranges ([`CollectOptions::trim`]).
    pub trimmed: usize,
    /// Bytes the cuts left out.
    pub trimmed_away: u64,
    /// Why files were collected whole although cutting was asked for, one line each.
    pub notes: Vec<String>,
}

/// What [`open`] gave.
#[derive(Clone, Debug, PartialEq)]
pub struct Opened {
    /// The unpacked project file.
    pub project: PathBuf,
    /// The folder it was unpacked into.
    pub folder: PathBuf,
    /// Whether that folder was there from an earlier open of the same bundle.
    pub reused: bool,
    /// Cache files installed into this machine's caches.
    pub caches_installed: usize,
    /// What is missing or different on this machine (models), one line each.
    pub warnings: Vec<String>,
}

/// A file to put into the bundle.
struct Source {
    from: PathBuf,
    to: String,
    size: u64,
}

/// Collects the project at `project_path` into the bundle `out`; see [`collect_project`].
pub fn collect(project_path: &Path, out: &Path, job: &Job) -> Result<CollectReport, BundleError> {
    collect_with(project_path, out, CollectOptions::default(), job)
}

/// [`collect`] with options.
pub fn collect_with(
    project_path: &Path,
    out: &Path,
    opts: CollectOptions,
    job: &Job,
) -> Result<CollectReport, BundleError> {
    let project = Project::load(project_path).map_err(|e| BundleError::Project(e.to_string()))?;
    let name = project_path.file_stem().map(|s| s.to_string_lossy().into_owned());
    collect_project(&project, &project_dir(project_path), name.as_deref(), out, opts, job)
}

/// Writes `project` (whose relative media paths resolve against `dir`) with its media, the
/// cached analyses and banks of that media and the models manifest into the bundle `out`,
/// atomically: a temp file beside `out` renamed into place when complete, removed on an error
/// or cancel. `name` is the project file's stem inside the bundle (else the project's name).
pub fn collect_project(
    project: &Project,
    dir: &Path,
    name: Option<&str>,
    out: &Path,
    opts: CollectOptions,
    job: &Job,
) -> Result<CollectReport, BundleError> {
    let io_at = |path: &Path| {
        let path = path.to_path_buf();
        move |source| BundleError::Io { path, source }
    };
    // Media: every file the project uses, under media/ by its own name (a clash gets the pool id).
    let mut project = project.clone();
    let mut sources: Vec<Source> = Vec::new();
    let mut taken: BTreeSet<String> = BTreeSet::new();
    let mut missing = Vec::new();
    for m in &mut project.media {
        let Some(path) = resolve_media_path(m, dir) else {
            missing.push(m.path.display().to_string());
            continue;
        };
        let file = path.file_name().map(|f| f.to_string_lossy().into_owned());
        let file = file.filter(|f| safe_name(f)).unwrap_or_else(|| format!("media-{}", m.id.0));
        let mut entry = format!("media/{file}");
        if !taken.insert(entry.clone()) {
            entry = format!("media/{}-{file}", m.id.0);
            taken.insert(entry.clone());
        }
        let abs = std::path::absolute(&path).map_err(io_at(&path))?;
        let size = std::fs::metadata(&abs).map_err(io_at(&abs))?.len();
        sources.push(Source { from: abs.clone(), to: entry.clone(), size });
        m.path = PathBuf::from(&entry);
        m.absolute_path = abs;
    }
    if !missing.is_empty() {
        return Err(BundleError::Project(format!(
            "cannot collect the project: media missing ({}); relink or restore it first",
            missing.join(", ")
        )));
    }
    // The used ranges only: cut files are written to a temp folder beside the bundle (removed
    // when this returns) and collected in place of the originals.
    let mut cuts = Cuts::default();
    if opts.trim {
        cuts = cut_media(&mut project, &mut sources, out, job)?;
    }
    let media_files = sources.len();
    let media_bytes: u64 = sources.iter().map(|s| s.size).sum();
    // Caches: the analyses and banks of the project's video files, keyed by their content hash.
    let hashes: Vec<String> = project
        .media
        .iter()
        .filter(|m| m.kind == MediaKind::Video)
        .map(|m| m.content_hash.trim_start_matches("sha256:").to_string())
        .filter(|h| !h.is_empty())
        .collect();
    let mut cache_files = 0;
    let mut cache_bytes = 0;
    for (folder, dir) in cache_dirs() {
        let Some(dir) = dir else { continue };
        let Ok(read) = std::fs::read_dir(&dir) else { continue };
        let mut found: Vec<(String, PathBuf, u64)> = read
            .filter_map(Result::ok)
            .filter_map(|e| {
                let name = e.file_name().to_str()?.to_string();
                let meta = e.metadata().ok()?;
                let ours = hashes.iter().any(|h| name.starts_with(&format!("{h}-")));
                (ours && meta.is_file() && safe_name(&name) && !name.starts_with('.'))
                    .then(|| (name, e.path(), meta.len()))
            })
            .collect();
        found.sort();
        for (name, path, size) in found {
            cache_files += 1;
            cache_bytes += size;
            sources.push(Source { from: path, to: format!("cache/{folder}/{name}"), size });
        }
    }
    // The project file, media paths relative to the bundle's root.
    project.schema_version = SCHEMA_VERSION;
    let stem = name.filter(|n| safe_name(n)).unwrap_or("project");
    let project_entry = format!("{stem}.{}", crate::model::project::PROJECT_EXTENSION);
    let mut project_json = serde_json::to_string_pretty(&project)
        .map_err(|e| BundleError::Project(format!("cannot write the project: {e}")))?;
    project_json.push('\n');
    let models = model_needs();

    // Refuse to overwrite what is read.
    let mut inputs: Vec<crate::model::output::Input> = sources
        .iter()
        .map(|s| crate::model::output::Input::new(&s.from, "a file being collected"))
        .collect();
    inputs.retain(|i| i.path.is_file());
    crate::model::output::check_output(out, &inputs)
        .map_err(|e| BundleError::Project(e.to_string()))?;

    // `.NAME.redub-PID.part.tmp`, as every write names its temp file: a later write removes it
    // when this process was killed outright, SIGINT/SIGTERM remove it now.
    let out_dir = project_dir(out);
    crate::model::output::remove_stale_parts(out);
    let mut name = crate::model::output::part_stem(out);
    name.push(format!("{}.part.tmp", std::process::id()));
    let _ = std::fs::remove_file(out_dir.join(&name));
    crate::model::output::register_part(&out_dir.join(&name));
    let tmp = match tempfile::Builder::new().prefix(&name).rand_bytes(0).tempfile_in(&out_dir) {
        Ok(t) => t,
        Err(e) => {
            crate::model::output::unregister_part(&out_dir.join(&name));
            return Err(io_at(&out_dir)(e));
        }
    };
    let written = (|| {
        let total = (media_bytes + cache_bytes).max(1);
        let mut done = 0u64;
        let mut tar = tar::Builder::new(BufWriter::with_capacity(1 << 20, tmp.as_file()));
        tar.mode(tar::HeaderMode::Deterministic);
        let mut entries = Vec::new();
        let project_bytes = project_json.as_bytes();
        entries.push(append_bytes(&mut tar, &project_entry, project_bytes).map_err(io_at(out))?);
        for s in &sources {
            let file = std::fs::File::open(&s.from).map_err(io_at(&s.from))?;
            let size = file.metadata().map_err(io_at(&s.from))?.len();
            let mut reader =
                Hashing::new(BufReader::with_capacity(1 << 20, file), job, done, total, true);
            let mut header = tar::Header::new_gnu();
            header.set_size(size);
            header.set_mode(0o644);
            header.set_entry_type(tar::EntryType::Regular);
            let appended = tar.append_data(&mut header, &s.to, (&mut reader).take(size));
            if job.is_cancelled() {
                return Err(BundleError::Cancelled);
            }
            appended.map_err(io_at(&s.from))?;
            if reader.read != size {
                return Err(BundleError::Project(format!(
                    "{}: the file changed while it was collected",
                    s.from.display()
                )));
            }
            done += size;
            entries.push(BundleEntry { path: s.to.clone(), size, sha256: reader.hex() });
        }
        let manifest = Manifest {
            format: BUNDLE_FORMAT,
            redub_version: crate::VERSION.to_string(),
            project: project_entry.clone(),
            entries,
            models: models.clone(),
        };
        let mut text = serde_json::to_string_pretty(&manifest)
            .map_err(|e| BundleError::Project(format!("cannot write the manifest: {e}")))?;
        text.push('\n');
        append_bytes(&mut tar, MANIFEST, text.as_bytes()).map_err(io_at(out))?;
        let hash = format!("{}\n", sha256_hex(text.as_bytes()));
        append_bytes(&mut tar, MANIFEST_HASH, hash.as_bytes()).map_err(io_at(out))?;
        let mut w = tar.into_inner().map_err(io_at(out))?;
        w.flush().map_err(io_at(out))?;
        drop(w);
        tmp.as_file().sync_all().map_err(io_at(out))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = tmp.as_file().set_permissions(std::fs::Permissions::from_mode(0o644));
        }
        if job.is_cancelled() {
            return Err(BundleError::Cancelled);
        }
        Ok(())
    })();
    let tmp_path = tmp.path().to_path_buf();
    let result = written.and_then(|()| tmp.persist(out).map_err(|e| io_at(out)(e.error)).map(drop));
    crate::model::output::unregister_part(&tmp_path);
    result?;
    job.set_progress(1.0);
    let size = std::fs::metadata(out).map_err(io_at(out))?.len();
    Ok(CollectReport {
        path: out.to_path_buf(),
        size,
        media_files,
        media_bytes,
        cache_files,
        cache_bytes,
        models: models.len(),
        trimmed: cuts.trimmed,
        trimmed_away: cuts.saved,
        notes: cuts.notes,
    })
}

/// What [`cut_media`] did; its temp folder lives as long as this.
#[derive(Default)]
struct Cuts {
    folder: Option<tempfile::TempDir>,
    trimmed: usize,
    saved: u64,
    notes: Vec<String>,
}

/// Cuts each media file of `project` (its `sources`, in pool order) to the range the project
/// uses where that is lossless, pointing the source and the project's media at the cut file
/// and shifting the clips' source times by where the cut starts.
fn cut_media(
    project: &mut Project,
    sources: &mut [Source],
    out: &Path,
    job: &Job,
) -> Result<Cuts, BundleError> {
    let io_at = |path: &Path| {
        let path = path.to_path_buf();
        move |source| BundleError::Io { path, source }
    };
    let uses = trim::uses(project);
    let mut cuts = Cuts::default();
    let out_dir = project_dir(out);
    for (i, m) in project.media.clone().iter().enumerate() {
        if job.is_cancelled() {
            return Err(BundleError::Cancelled);
        }
        let source = &mut sources[i];
        let name = source.to.trim_start_matches("media/").to_string();
        let (a, b) = match uses.get(&m.id) {
            Some(trim::Use::Span(a, b)) => (*a, *b),
            Some(trim::Use::Whole(why)) => {
                cuts.notes.push(format!("{name} kept whole: {why}"));
                continue;
            }
            // In the pool but not on the timeline: kept, so the media bin stays as it was.
            None => {
                cuts.notes.push(format!("{name} kept whole: it is in the media pool but unused"));
                continue;
            }
        };
        let Some(layout) = trim::wav_layout(&source.from).map_err(io_at(&source.from))? else {
            cuts.notes.push(format!(
                "{name} kept whole: only PCM WAV is cut losslessly (a compressed stream cannot \
                 be cut without changing its first samples)"
            ));
            continue;
        };
        let (from, to) = trim::kept_frames(layout.rate, layout.frames(), a, b);
        if from == 0 && to == layout.frames() {
            continue;
        }
        let folder = match &cuts.folder {
            Some(f) => f.path().to_path_buf(),
            None => {
                let f = tempfile::Builder::new()
                    .prefix(".redub-bundle-cuts-")
                    .tempdir_in(&out_dir)
                    .map_err(io_at(&out_dir))?;
                let p = f.path().to_path_buf();
                cuts.folder = Some(f);
                p
            }
        };
        let cut = folder.join(format!("{i}.wav"));
        trim::write_wav_part(&source.from, &layout, (from, to), &cut)
            .map_err(io_at(&source.from))?;
        let size = std::fs::metadata(&cut).map_err(io_at(&cut))?.len();
        let offset = Time::from_samples(from as i64, layout.rate);
        let duration = Time::from_samples((to - from) as i64, layout.rate);
        let hash = crate::model::hash::content_hash(&cut).map_err(io_at(&cut))?;
        for c in project.timeline.dub_tracks.iter_mut().flat_map(|t| &mut t.clips) {
            if c.media == m.id {
                c.source_in -= offset;
                c.source_out -= offset;
            }
        }
        let pm = &mut project.media[i];
        pm.content_hash = hash;
        pm.size = size;
        pm.duration = duration;
        cuts.trimmed += 1;
        cuts.saved += source.size.saturating_sub(size);
        source.from = cut;
        source.size = size;
    }
    Ok(cuts)
}

/// The folder [`open`] unpacks `bundle` into when nothing is there yet: beside it, named by its
/// stem (`shot.redubz` → `shot/`).
pub fn unpack_folder(bundle: &Path) -> PathBuf {
    let stem = bundle.file_stem().map(|s| s.to_os_string()).unwrap_or_else(|| "bundle".into());
    project_dir(bundle).join(stem)
}

/// Opens the bundle: unpacks it beside itself ([`unpack_folder`], or `NAME (2)` … when that
/// holds something else; an earlier unpack of the same bundle is reused as it is), installs its
/// cached analyses and banks into this machine's caches (never replacing one), and returns the
/// unpacked project, whose media paths resolve inside the folder. Every entry is checked against
/// the manifest in a temp folder first: a corrupt, truncated, unsafe or cancelled bundle leaves
/// nothing behind.
pub fn open(bundle: &Path, job: &Job) -> Result<Opened, BundleError> {
    let io_at = |path: &Path| {
        let path = path.to_path_buf();
        move |source| BundleError::Io { path, source }
    };
    let file = std::fs::File::open(bundle).map_err(io_at(bundle))?;
    let total = file.metadata().map_err(io_at(bundle))?.len().max(1);
    // `.NAME.redub-PID.part.unpack`, removed on a signal now or by a later open after a kill.
    let parent = project_dir(bundle);
    crate::model::output::remove_stale_parts(bundle);
    let mut name = crate::model::output::part_stem(bundle);
    name.push(format!("{}.part.unpack", std::process::id()));
    let tmp_path = parent.join(&name);
    if tmp_path.is_dir() {
        std::fs::remove_dir_all(&tmp_path).map_err(io_at(&tmp_path))?;
    }
    crate::model::output::register_part(&tmp_path);
    let unpacked = unpack_checked(bundle, total, file, &tmp_path, job);
    // Renamed into place when it worked; else (a failure, or an earlier unpack reused) removed.
    if tmp_path.exists() {
        let _ = std::fs::remove_dir_all(&tmp_path);
    }
    crate::model::output::unregister_part(&tmp_path);
    unpacked
}

/// [`open`]'s work, unpacking into the folder `tmp` (made here; the caller removes what is left
/// of it).
fn unpack_checked(
    bundle: &Path,
    total: u64,
    file: std::fs::File,
    tmp: &Path,
    job: &Job,
) -> Result<Opened, BundleError> {
    let corrupt = |reason: String| BundleError::Corrupt { path: bundle.to_path_buf(), reason };
    let io_at = |path: &Path| {
        let path = path.to_path_buf();
        move |source| BundleError::Io { path, source }
    };
    std::fs::create_dir(tmp).map_err(io_at(tmp))?;
    let mut reader = Hashing::new(BufReader::with_capacity(1 << 20, file), job, 0, total, false);
    let mut found: BTreeMap<String, (u64, String)> = BTreeMap::new();
    {
        let mut archive = tar::Archive::new(&mut reader);
        let entries = archive.entries().map_err(|e| corrupt(e.to_string()))?;
        for entry in entries {
            if job.is_cancelled() {
                return Err(BundleError::Cancelled);
            }
            let mut entry = entry.map_err(|e| corrupt(damage(&e)))?;
            let name = entry
                .path()
                .map_err(|e| corrupt(format!("an entry's name is unreadable: {e}")))?
                .into_owned();
            let rel = checked_entry_path(&name).map_err(&corrupt)?;
            if !matches!(entry.header().entry_type(), tar::EntryType::Regular) {
                return Err(corrupt(format!(
                    "entry {} is not a plain file (links and devices are refused)",
                    name.display()
                )));
            }
            if found.contains_key(&rel) {
                return Err(corrupt(format!("entry {rel} appears twice")));
            }
            let dest = tmp.join(&rel);
            if let Some(p) = dest.parent() {
                std::fs::create_dir_all(p).map_err(io_at(p))?;
            }
            let mut hashing = HashWrite {
                inner: BufWriter::new(std::fs::File::create(&dest).map_err(io_at(&dest))?),
                hasher: Sha256::new(),
                written: 0,
            };
            let copied = io::copy(&mut entry, &mut hashing);
            if job.is_cancelled() {
                return Err(BundleError::Cancelled);
            }
            copied.map_err(|e| corrupt(format!("{} (in {rel})", damage(&e))))?;
            hashing.inner.flush().map_err(io_at(&dest))?;
            let size = hashing.written;
            found.insert(rel, (size, hex(&hashing.hasher.finalize())));
        }
    }
    // The manifest, its hash, then every entry against it.
    let (Some((_, manifest_sha)), Some(_)) = (found.get(MANIFEST), found.get(MANIFEST_HASH)) else {
        return Err(corrupt("truncated: the manifest at its end is missing".into()));
    };
    let stated = std::fs::read_to_string(tmp.join(MANIFEST_HASH))
        .map_err(io_at(&tmp.join(MANIFEST_HASH)))?;
    if stated.trim() != manifest_sha {
        return Err(corrupt("the manifest does not match its checksum (damaged)".into()));
    }
    let text = std::fs::read_to_string(tmp.join(MANIFEST))
        .map_err(|e| corrupt(format!("manifest unreadable: {e}")))?;
    let manifest: Manifest =
        serde_json::from_str(&text).map_err(|e| corrupt(format!("manifest unreadable: {e}")))?;
    if manifest.format > BUNDLE_FORMAT {
        return Err(corrupt(format!(
            "written by a newer Redub (bundle format {}, this one reads up to {BUNDLE_FORMAT}): \
             update Redub",
            manifest.format
        )));
    }
    let mut listed: BTreeSet<&str> = [MANIFEST, MANIFEST_HASH].into();
    for e in &manifest.entries {
        checked_entry_path(Path::new(&e.path)).map_err(&corrupt)?;
        match found.get(&e.path) {
            None => return Err(corrupt(format!("{} is missing (truncated?)", e.path))),
            Some((size, sha)) if *size != e.size || *sha != e.sha256 => {
                return Err(corrupt(format!("{} is damaged (its sha256 does not match)", e.path)));
            }
            Some(_) => {}
        }
        listed.insert(&e.path);
    }
    if let Some(extra) = found.keys().find(|k| !listed.contains(k.as_str())) {
        return Err(corrupt(format!("{extra} is not in the manifest")));
    }
    if !manifest.entries.iter().any(|e| e.path == manifest.project) {
        return Err(corrupt(format!("the project {} is not in it", manifest.project)));
    }
    let mark = format!("{manifest_sha}\n");

    // The same bundle unpacked before: open that folder as it is (edits made there are kept).
    let base = unpack_folder(bundle);
    let mut folder = base.clone();
    let mut n = 1;
    loop {
        if !folder.exists() {
            break;
        }
        let same = std::fs::read_to_string(folder.join(UNPACKED_MARK)).is_ok_and(|m| m == mark);
        if same && folder.join(&manifest.project).is_file() {
            let caches_installed = install_caches(&folder);
            job.set_progress(1.0);
            return Ok(Opened {
                project: folder.join(&manifest.project),
                folder,
                reused: true,
                caches_installed,
                warnings: model_warnings(&manifest.models),
            });
        }
        n += 1;
        let mut name = base.file_name().unwrap_or_default().to_os_string();
        name.push(format!(" ({n})"));
        folder = base.with_file_name(name);
    }
    if job.is_cancelled() {
        return Err(BundleError::Cancelled);
    }
    std::fs::write(tmp.join(UNPACKED_MARK), &mark).map_err(io_at(&tmp.join(UNPACKED_MARK)))?;
    let caches_installed = install_caches(tmp);
    std::fs::rename(tmp, &folder).map_err(io_at(&folder))?;
    job.set_progress(1.0);
    Ok(Opened {
        project: folder.join(&manifest.project),
        folder,
        reused: false,
        caches_installed,
        warnings: model_warnings(&manifest.models),
    })
}

/// What a read error of the archive means to the user.
fn damage(e: &io::Error) -> String {
    // The tar reader says "unexpected EOF …" with another error kind when a header is cut.
    if e.kind() == io::ErrorKind::UnexpectedEof || e.to_string().contains("unexpected EOF") {
        "truncated: the file ends early (an unfinished copy or download?)".into()
    } else {
        format!("damaged: {e}")
    }
}

/// The cache folders a bundle carries, by their name inside it.
fn cache_dirs() -> [(&'static str, Option<PathBuf>); 2] {
    [
        ("analysis", crate::analysis::cache::cache_dir()),
        ("banks", crate::lipsync::cache::cache_dir()),
    ]
}

/// Copies the unpacked folder's `cache/*` files into this machine's caches where they are not
/// there yet (atomically, one by one); returns how many. A cache that cannot be written only
/// costs the work again, so failures are logged, not raised.
fn install_caches(folder: &Path) -> usize {
    let mut installed = 0;
    for (name, dir) in cache_dirs() {
        let (Some(dir), Ok(read)) = (dir, std::fs::read_dir(folder.join("cache").join(name)))
        else {
            continue;
        };
        for e in read.filter_map(Result::ok) {
            let target = dir.join(e.file_name());
            if target.exists() {
                continue;
            }
            let copied = (|| {
                std::fs::create_dir_all(&dir)?;
                let mut tmp = tempfile::NamedTempFile::new_in(&dir)?;
                io::copy(&mut std::fs::File::open(e.path())?, &mut tmp)?;
                tmp.persist(&target).map_err(|e| e.error)?;
                io::Result::Ok(())
            })();
            match copied {
                Ok(()) => installed += 1,
                Err(err) => tracing::warn!("cache {} not installed: {err}", target.display()),
            }
        }
    }
    installed
}

/// The models this build runs (every `models/*.toml` entry but the test fixtures).
fn model_needs() -> Vec<ModelNeed> {
    let Ok(reg) = Registry::load(&models_dir()) else {
        tracing::warn!("no model manifests under {}: none listed", models_dir().display());
        return Vec::new();
    };
    reg.entries()
        .iter()
        .filter(|m| m.manifest.file_stem().is_none_or(|s| s != "fixtures"))
        .map(|m| ModelNeed {
            name: m.name.clone(),
            sha256: m.sha256.clone(),
            manifest: m
                .manifest
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default(),
        })
        .collect()
}

/// Lines for the bundle's models that this machine lacks or has in another version.
fn model_warnings(needs: &[ModelNeed]) -> Vec<String> {
    let local = model_needs();
    needs
        .iter()
        .filter_map(|n| match local.iter().find(|l| l.name == n.name) {
            None => Some(format!(
                "model {} is not installed here (packaging/setup.sh deps installs it)",
                n.name
            )),
            Some(l) if l.sha256 != n.sha256 => Some(format!(
                "model {} here is another version (sha256 {}…, the bundle was made with {}…): \
                 the lip edits may differ",
                n.name,
                &l.sha256[..l.sha256.len().min(12)],
                &n.sha256[..n.sha256.len().min(12)]
            )),
            Some(_) => None,
        })
        .collect()
}

/// A plain file name: no separators, not `.`/`..`, printable.
fn safe_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && !name.contains(['/', '\\', '\0'])
        && !name.chars().any(char::is_control)
}

/// An entry's path as `a/b/c` when it is relative and made of plain names only (no `..`, no
/// root, no drive); the reason otherwise.
fn checked_entry_path(path: &Path) -> Result<String, String> {
    let mut parts = Vec::new();
    for c in path.components() {
        match c {
            Component::Normal(p) => match p.to_str() {
                Some(s) if safe_name(s) => parts.push(s.to_string()),
                _ => return Err(format!("entry {} has an unusable name", path.display())),
            },
            Component::CurDir => {}
            _ => {
                return Err(format!(
                    "entry {} points outside the bundle's folder (refused)",
                    path.display()
                ));
            }
        }
    }
    if parts.is_empty() {
        return Err("an entry has an empty name".into());
    }
    Ok(parts.join("/"))
}

fn append_bytes<W: Write>(
    tar: &mut tar::Builder<W>,
    path: &str,
    bytes: &[u8],
) -> io::Result<BundleEntry> {
    let mut header = tar::Header::new_gnu();
    header.set_size(bytes.len() as u64);
    header.set_mode(0o644);
    header.set_entry_type(tar::EntryType::Regular);
    tar.append_data(&mut header, path, bytes)?;
    Ok(BundleEntry { path: path.to_string(), size: bytes.len() as u64, sha256: sha256_hex(bytes) })
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    crate::model::hash::hex(bytes)
}

/// A reader that hashes what passes (unless made with `hash` off), counts it, reports progress
/// on a job and fails once the job is cancelled.
struct Hashing<'a, R> {
    inner: R,
    hasher: Option<Sha256>,
    read: u64,
    job: &'a Job,
    base: u64,
    total: u64,
    since_report: u64,
}

impl<'a, R> Hashing<'a, R> {
    fn new(inner: R, job: &'a Job, base: u64, total: u64, hash: bool) -> Self {
        let hasher = hash.then(Sha256::new);
        Self { inner, hasher, read: 0, job, base, total, since_report: 0 }
    }

    fn hex(self) -> String {
        self.hasher.map(|h| hex(&h.finalize())).unwrap_or_default()
    }
}

impl<R: Read> Read for Hashing<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.job.is_cancelled() {
            // Not `Interrupted`: copy loops retry that kind.
            return Err(io::Error::other("cancelled"));
        }
        let n = self.inner.read(buf)?;
        if let Some(h) = &mut self.hasher {
            h.update(&buf[..n]);
        }
        self.read += n as u64;
        self.since_report += n as u64;
        if self.since_report >= 1 << 20 {
            self.since_report = 0;
            let f = (self.base + self.read) as f64 / self.total as f64;
            self.job.set_progress(f.min(0.999));
        }
        Ok(n)
    }
}

/// A writer that hashes and counts what passes.
struct HashWrite<W> {
    inner: W,
    hasher: Sha256,
    written: u64,
}

impl<W: Write> Write for HashWrite<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_paths_outside_the_folder_are_refused() {
        assert_eq!(checked_entry_path(Path::new("media/a.mp4")).unwrap(), "media/a.mp4");
        assert_eq!(checked_entry_path(Path::new("./x")).unwrap(), "x");
        for bad in ["../x", "/etc/passwd", "media/../../x", ""] {
            assert!(checked_entry_path(Path::new(bad)).is_err(), "{bad}");
        }
    }
}
