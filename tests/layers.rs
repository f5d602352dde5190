//! The layer rules of DESIGN §2, checked on the source text (no `cargo tree`, no build graph):
//! a module imports only from the layers below it. Every `crate::<layer>` path in a file under
//! `src/<layer>/` (code, not comments) must name its own layer or one it may import.
//!
//! `jobs` holds only std (progress, cancel, workers), so every layer may use it.

use std::path::{Path, PathBuf};

/// The layers, and what each may import besides itself (DESIGN §2).
const RULES: &[(&str, &[&str])] = &[
    ("model", &[]),
    ("dsp", &["model"]),
    ("jobs", &[]),
    ("media", &["model", "dsp", "jobs"]),
    ("inference", &["model", "dsp", "jobs"]),
    ("analysis", &["model", "dsp", "jobs", "media", "inference"]),
    ("lipsync", &["model", "dsp", "jobs", "media", "inference", "analysis"]),
    ("render", &["model", "dsp", "jobs", "media", "inference", "analysis", "lipsync"]),
    ("cli", &["model", "dsp", "jobs", "media", "inference", "analysis", "lipsync", "render"]),
    ("app", &["model", "dsp", "jobs", "media", "inference", "analysis", "lipsync", "render"]),
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code of a line: without a `//` comment (doc comments included). A `//` inside a string
/// literal is rare in this tree and would only hide code after it.
fn code_of(line: &str) -> &str {
    match line.find("//") {
        Some(k) => &line[..k],
        None => line,
    }
}

/// The layers named by `crate::<name>` and `crate::{<name>, ...}` paths in `code`.
fn imported_layers(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let ident = |s: &str| -> String {
        s.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect()
    };
    let mut rest = code;
    while let Some(k) = rest.find("crate::") {
        // `crate::` but not `redub_crate::` or the like.
        let before = rest[..k].chars().last();
        rest = &rest[k + "crate::".len()..];
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            // Top-level names of a group (nested groups belong to the name before them).
            let mut depth = 0;
            let mut item_start = true;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => item_start = true,
                    c if c.is_whitespace() => {}
                    _ if item_start && depth == 0 => {
                        out.push(ident(&group[i..]));
                        item_start = false;
                    }
                    _ => {}
                }
            }
        } else {
            out.push(ident(rest));
        }
    }
    out
}

/// Every import of `src` that breaks a rule, as "file:line: layer imports other".
fn violations(src: &Path) -> Vec<String> {
    let mut bad = Vec::new();
    for (layer, allowed) in RULES {
        let mut files = Vec::new();
        rust_files(&src.join(layer), &mut files);
        assert!(!files.is_empty(), "src/{layer} has no Rust files");
        for file in files {
            let text = std::fs::read_to_string(&file).expect("source file");
            // `use` groups span lines: scan the code joined, counting lines for the message.
            for (n, line) in text.lines().enumerate() {
                for other in imported_layers(code_of(line)) {
                    let known = RULES.iter().any(|(l, _)| *l == other);
                    if other != *layer && known && !allowed.contains(&other.as_str()) {
                        bad.push(format!("{}:{}: {layer} imports {other}", file.display(), n + 1));
                    }
                }
            }
            let code: String = text.lines().map(code_of).collect::<Vec<_>>().join("\n");
            for other in imported_layers(&code) {
                let known = RULES.iter().any(|(l, _)| *l == other);
                if other != *layer && known && !allowed.contains(&other.as_str()) {
                    let msg = format!("{}: {layer} imports {other}", file.display());
                    if !bad.iter().any(|b| b.starts_with(&format!("{}:", file.display()))) {
                        bad.push(msg);
                    }
                }
            }
        }
    }
    bad
}

#[test]
fn every_layer_imports_only_from_below() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let bad = violations(&src);
    assert!(bad.is_empty(), "layer rules broken (DESIGN §2):\n{}", bad.join("\n"));
}

#[test]
fn the_checker_sees_paths_and_groups() {
    assert_eq!(imported_layers("use crate::render::pixels::Rect;"), ["render"]);
    assert_eq!(
        imported_layers("use crate::{model::Time, lipsync::{geometry, plan}};"),
        ["model", "lipsync"]
    );
    assert_eq!(imported_layers("let x = crate::app::run(); foo_crate::app::x"), ["app"]);
    assert!(imported_layers(code_of("/// see [`crate::app::Editor`]")).is_empty());
    // A broken rule is found (a file of a temporary tree).
    let dir = tempfile::tempdir().expect("tempdir");
    for (layer, _) in RULES {
        std::fs::create_dir_all(dir.path().join(layer)).expect("dir");
        std::fs::write(dir.path().join(layer).join("mod.rs"), "//! ok\n").expect("file");
    }
    std::fs::write(dir.path().join("model").join("bad.rs"), "use crate::lipsync::plan;\n")
        .expect("file");
    std::fs::write(dir.path().join("cli").join("bad.rs"), "fn f() { crate::app::run() }\n")
        .expect("file");
    let bad = violations(dir.path());
    assert_eq!(bad.len(), 2, "{bad:?}");
    assert!(bad.iter().any(|b| b.ends_with("model imports lipsync")), "{bad:?}");
    assert!(bad.iter().any(|b| b.ends_with("cli imports app")), "{bad:?}");
}
