//! `redub doctor`: the system report through the real command, on this machine.

mod common;
use common::{redub, stdout};

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
