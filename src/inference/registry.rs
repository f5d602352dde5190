//! The model registry: every `[[file]]` of `models/*.toml` that declares a tensor signature, and
//! opening one as a [`Model`] only after its hash and signature check out.

use super::InferenceError;
use super::runtime::runtime;
use ndarray::{ArrayD, ArrayViewD};
use ort::session::{Session, SessionInputValue};
use ort::value::TensorRef;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

/// One tensor of a model's signature; `-1` in `shape` is a dynamic dimension.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorSig {
    /// Tensor name in the graph.
    pub name: String,
    /// Dimensions; `-1` = dynamic.
    pub shape: Vec<i64>,
}

/// A model file declared by a manifest.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelEntry {
    /// File name, e.g. `pnet.onnx`; unique across manifests.
    pub name: String,
    /// Where the file is expected: `<models dir>/<manifest stem>/<name>`.
    pub path: PathBuf,
    /// Expected SHA-256, lower-case hex.
    pub sha256: String,
    /// Licence text from the file entry, else from the manifest's source.
    pub licence: Option<String>,
    /// The manifest that declared it.
    pub manifest: PathBuf,
    /// Input tensors.
    pub inputs: Vec<TensorSig>,
    /// Output tensors.
    pub outputs: Vec<TensorSig>,
}

/// All models declared under a models folder.
#[derive(Clone, Debug)]
pub struct Registry {
    dir: PathBuf,
    entries: Vec<ModelEntry>,
}

impl Registry {
    /// Reads every `*.toml` manifest in `dir`. Entries without `inputs`/`outputs` (libraries,
    /// pictures) are not models and are skipped.
    pub fn load(dir: &Path) -> Result<Self, InferenceError> {
        Self::load_from(dir, dir)
    }

    /// The registry of this process's store: manifests from [`super::manifests_dir`], files
    /// under [`super::models_dir`] (the same folder except for an installed package).
    pub fn installed() -> Result<Self, InferenceError> {
        Self::load_from(&super::manifests_dir(), &super::models_dir())
    }

    /// Reads the manifests in `dir`; each model file is expected at `files/<stem>/<name>`.
    pub fn load_from(dir: &Path, files: &Path) -> Result<Self, InferenceError> {
        let io = |source| InferenceError::Io { path: dir.to_path_buf(), source };
        let mut manifests: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(io)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .collect();
        manifests.sort();
        let mut entries = Vec::new();
        for m in manifests {
            entries.extend(parse_manifest(&m, files)?);
        }
        Ok(Self { dir: files.to_path_buf(), entries })
    }

    /// The models folder this registry was read from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Every declared model.
    pub fn entries(&self) -> &[ModelEntry] {
        &self.entries
    }

    /// The entry for a file name such as `pnet.onnx`.
    pub fn entry(&self, name: &str) -> Result<&ModelEntry, InferenceError> {
        self.entries.iter().find(|e| e.name == name).ok_or_else(|| InferenceError::UnknownModel {
            name: name.to_string(),
            dir: self.dir.clone(),
        })
    }

    /// Checks the file's hash, builds a session and checks its signature.
    pub fn open(&self, name: &str) -> Result<Model, InferenceError> {
        Model::open(self.entry(name)?)
    }
}

fn parse_manifest(path: &Path, files: &Path) -> Result<Vec<ModelEntry>, InferenceError> {
    let bad = |reason: String| InferenceError::Manifest { path: path.to_path_buf(), reason };
    let text = std::fs::read_to_string(path)
        .map_err(|source| InferenceError::Io { path: path.to_path_buf(), source })?;
    let doc: toml::Table = text.parse().map_err(|e: toml::de::Error| bad(e.to_string()))?;
    let source_licence = doc
        .get("source")
        .and_then(|s| s.get("licence"))
        .and_then(|l| l.as_str())
        .map(str::to_string);
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let dir = files.join(stem);
    let Some(files) = doc.get("file") else { return Ok(Vec::new()) };
    let files = files.as_array().ok_or_else(|| bad("'file' must be an array of tables".into()))?;
    let mut out = Vec::new();
    for f in files {
        let (Some(inputs), Some(outputs)) = (f.get("inputs"), f.get("outputs")) else {
            continue;
        };
        let name = f
            .get("name")
            .and_then(|v| v.as_str())
            .ok_or_else(|| bad("a [[file]] has no 'name'".into()))?;
        let sha256 = f
            .get("sha256")
            .and_then(|v| v.as_str())
            .filter(|s| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| bad(format!("{name}: 'sha256' must be 64 hex digits")))?;
        let licence = f
            .get("licence")
            .and_then(|l| l.as_str())
            .map(str::to_string)
            .or(source_licence.clone());
        out.push(ModelEntry {
            name: name.to_string(),
            path: dir.join(name),
            sha256: sha256.to_ascii_lowercase(),
            licence,
            manifest: path.to_path_buf(),
            inputs: parse_sigs(inputs).map_err(|r| bad(format!("{name}: inputs: {r}")))?,
            outputs: parse_sigs(outputs).map_err(|r| bad(format!("{name}: outputs: {r}")))?,
        });
    }
    Ok(out)
}

fn parse_sigs(v: &toml::Value) -> Result<Vec<TensorSig>, String> {
    let table = v.as_table().ok_or("expected a table of name = [dims]")?;
    table
        .iter()
        .map(|(name, dims)| {
            let dims = dims.as_array().ok_or_else(|| format!("{name}: expected [dims]"))?;
            let shape = dims
                .iter()
                .map(|d| d.as_integer().ok_or_else(|| format!("{name}: dims must be integers")))
                .collect::<Result<Vec<i64>, String>>()?;
            Ok(TensorSig { name: name.clone(), shape })
        })
        .collect()
}

/// SHA-256 of a whole file, lower-case hex.
pub fn file_sha256(path: &Path) -> Result<String, InferenceError> {
    let io = |source| InferenceError::Io { path: path.to_path_buf(), source };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(crate::model::hash::hex(&hasher.finalize()))
}

/// Compares what the session reports with what the manifest declares: the same tensor names,
/// each with the same rank and the same fixed dimensions (dynamic ones must be dynamic in both).
fn check_signature(entry: &ModelEntry, session: &Session) -> Result<(), InferenceError> {
    let actual = |outlets: &[ort::value::Outlet]| -> Vec<TensorSig> {
        outlets
            .iter()
            .map(|o| TensorSig {
                name: o.name().to_string(),
                shape: o
                    .dtype()
                    .tensor_shape()
                    .map(|s| s.iter().copied().collect())
                    .unwrap_or_default(),
            })
            .collect()
    };
    let compare = |kind: &str, want: &[TensorSig], got: &[TensorSig]| -> Result<(), String> {
        let names =
            |s: &[TensorSig]| s.iter().map(|t| t.name.clone()).collect::<Vec<_>>().join(", ");
        if want.len() != got.len() {
            return Err(format!(
                "{kind}: manifest declares [{}], file has [{}]",
                names(want),
                names(got)
            ));
        }
        for w in want {
            let g = got.iter().find(|g| g.name == w.name).ok_or_else(|| {
                format!("{kind}: no tensor '{}' (file has [{}])", w.name, names(got))
            })?;
            let dims_match = w.shape.len() == g.shape.len()
                && w.shape.iter().zip(&g.shape).all(|(&a, &b)| a == b || (a < 0 && b < 0));
            if !dims_match {
                return Err(format!(
                    "{kind} '{}': manifest shape {:?}, file shape {:?}",
                    w.name, w.shape, g.shape
                ));
            }
        }
        Ok(())
    };
    compare("input", &entry.inputs, &actual(session.inputs()))
        .and_then(|()| compare("output", &entry.outputs, &actual(session.outputs())))
        .map_err(|reason| InferenceError::SignatureMismatch { path: entry.path.clone(), reason })
}

/// An open model: one session, checked against its manifest.
pub struct Model {
    session: Session,
    entry: ModelEntry,
    provider: &'static str,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model")
            .field("name", &self.entry.name)
            .field("provider", &self.provider)
            .finish()
    }
}

impl Model {
    /// Opens a declared model: the file must exist and match its hash, and the session's
    /// signature must match the manifest's.
    pub fn open(entry: &ModelEntry) -> Result<Self, InferenceError> {
        if !entry.path.is_file() {
            return Err(InferenceError::ModelMissing { path: entry.path.clone() });
        }
        let actual = file_sha256(&entry.path)?;
        if actual != entry.sha256 {
            return Err(InferenceError::HashMismatch {
                path: entry.path.clone(),
                expected: entry.sha256.clone(),
                actual,
            });
        }
        let (session, provider) = runtime()?.session(&entry.path)?;
        check_signature(entry, &session)?;
        Ok(Self { session, entry: entry.clone(), provider })
    }

    /// The manifest entry.
    pub fn entry(&self) -> &ModelEntry {
        &self.entry
    }

    /// The execution provider the session runs on, e.g. `CPUExecutionProvider`.
    pub fn provider(&self) -> &'static str {
        self.provider
    }

    /// Runs the model on f32 inputs (by name) and returns every f32 output, by name.
    pub fn run(
        &mut self,
        inputs: &[(&str, ArrayViewD<'_, f32>)],
    ) -> Result<HashMap<String, ArrayD<f32>>, InferenceError> {
        let name = self.entry.name.clone();
        let fail =
            |e: ort::Error| InferenceError::Run { model: name.clone(), reason: e.to_string() };
        let mut values: Vec<(String, SessionInputValue<'_>)> = Vec::with_capacity(inputs.len());
        for (n, view) in inputs {
            let tensor = TensorRef::from_array_view(view.view()).map_err(fail)?;
            values.push(((*n).to_string(), tensor.into()));
        }
        let outputs = self.session.run(values).map_err(fail)?;
        let mut result = HashMap::new();
        for (key, value) in outputs.iter() {
            let arr = value.try_extract_array::<f32>().map_err(fail)?;
            result.insert(key.to_string(), arr.to_owned());
        }
        Ok(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_declare_face_mesh_and_the_three_mtcnn_stages_only() {
        // Reads the committed manifests; needs neither the runtime nor the fetched files.
        let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/models"));
        let reg = Registry::load(dir).unwrap();
        let names: Vec<&str> = reg.entries().iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["face_landmark.onnx", "pnet.onnx", "rnet.onnx", "onet.onnx"]);
        let pnet = reg.entry("pnet.onnx").unwrap();
        assert_eq!(pnet.path, dir.join("mtcnn/pnet.onnx"));
        assert_eq!(pnet.licence.as_deref(), Some("MIT"));
        assert!(
            pnet.inputs.contains(&TensorSig { name: "input_1".into(), shape: vec![-1, -1, -1, 3] })
        );
        assert_eq!(pnet.outputs.len(), 2);
        assert!(matches!(reg.entry("nope.onnx"), Err(InferenceError::UnknownModel { .. })));
    }

    #[test]
    fn a_broken_manifest_is_named_in_the_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("bad.toml"), "[[file]]\nname = \"x.onnx\"\nsha256 = \"12\"\n[file.inputs]\na = [1]\n[file.outputs]\nb = [1]\n").unwrap();
        let e = Registry::load(dir.path()).unwrap_err();
        assert!(matches!(e, InferenceError::Manifest { .. }));
        assert!(e.to_string().contains("bad.toml"), "{e}");
    }
}
