#!/usr/bin/env bash
# redub developer / CI setup.
#
#   packaging/setup.sh deps   system packages, ONNX Runtime, MTCNN and Face Mesh models, test fixtures,
#                             OpenTimelineIO for the interchange tests (packaging/otio-requirements.txt),
#                             openjd-cli for the render-farm test (packaging/openjd-requirements.txt)
#   packaging/setup.sh demo   generate the demo clip, dub lines and demo.redub project
#   packaging/setup.sh run    deps + release build + demo + run the editor on the demo
#   packaging/setup.sh test   deps + fmt + clippy + build + demo + tests + quick bench + the .deb
#                             checks (build, lintian, install, use, remove)
#   packaging/setup.sh deb    deps + release build + the Debian package in target/debian/
#   packaging/setup.sh deb-check  deb + demo + the .deb checks alone (as root: installs, removes)
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
    lintian librsvg2-bin xdg-utils shared-mime-info desktop-file-utils libfile-mimeinfo-perl
    parallel
)

# cargo-deb builds the .deb; installed once into the setup cache at this version.
CARGO_DEB_VERSION="3.8.0"
DEB_ASSETS="$ROOT/target/deb-assets"

# The manifest readers, downloaders and checkers (also run alone by `redub models fetch`).
LOG_TAG=setup
# shellcheck source=packaging/fetch-models.sh
source "$ROOT/packaging/fetch-models.sh"

# Name the command that stopped the script. A failing "return" comes from a
# helper (quietly, step) that has already said what failed.
on_err() {
    [[ "$2" == return* ]] || printf '[setup] failed (exit %s): %s\n' "$1" "$2" >&2
}
trap 'on_err "$?" "$BASH_COMMAND"' ERR

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

# Installs the hash-pinned wheels of requirements file $3 into a folder of the setup cache named
# $2-KEY (KEY: the file's hash and the python version), once: sets WHEELS_DIR. $1 names them in the
# log; the rest of the arguments are a command that must run with them on PYTHONPATH (a check that
# the install works) and $CHECK_WHAT says what it checks.
deps_pinned_wheels() {
    local label="$1" prefix="$2" requirements="$3" key
    shift 3
    need_python
    key="$(sha256_of "$requirements" | cut -c1-16)-py$(python3 -c 'import sys; print("%d%d" % sys.version_info[:2])')"
    WHEELS_DIR="$CACHE_DIR/$prefix-$key"
    if [[ -f "$WHEELS_DIR/.complete" ]]; then
        log "$label: ok"
        return 0
    fi
    log "$label: installing the pinned wheels into $WHEELS_DIR"
    rm -rf "$WHEELS_DIR"
    mkdir -p "$WHEELS_DIR"
    quietly python3 -m pip install --disable-pip-version-check --no-deps --require-hashes \
        --only-binary=:all: --target "$WHEELS_DIR" -r "$requirements" || {
        rm -rf "$WHEELS_DIR"
        die "$label: pip could not install the pinned wheels ($requirements)"
    }
    PYTHONNOUSERSITE=1 PYTHONPATH="$WHEELS_DIR" quietly "$@" || {
        rm -rf "$WHEELS_DIR"
        die "$label: installed but $CHECK_WHAT"
    }
    touch "$WHEELS_DIR/.complete"
}

# OpenTimelineIO with its fcp_xml and cmx_3600 adapters, for tests/interchange.rs; sets OTIO_DIR.
deps_otio() {
    CHECK_WHAT="its fcp_xml/cmx_3600 adapters do not load" deps_pinned_wheels opentimelineio \
        opentimelineio "$OTIO_REQUIREMENTS" python3 -c \
        "import opentimelineio as o; n = o.adapters.available_adapter_names(); assert 'fcp_xml' in n and 'cmx_3600' in n, n"
    OTIO_DIR="$WHEELS_DIR"
}

# Points tests/interchange.rs at the pinned OpenTimelineIO.
export_otio_env() {
    deps_otio
    export REDUB_OTIO_PYTHONPATH="$OTIO_DIR"
}

# openjd-cli (Open Job Description's runner) for tests/farm.rs; sets OPENJD_DIR.
deps_openjd() {
    CHECK_WHAT="\`python3 -m openjd\` does not run" deps_pinned_wheels openjd-cli openjd \
        "$OPENJD_REQUIREMENTS" python3 -m openjd --version
    OPENJD_DIR="$WHEELS_DIR"
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
    # The demo's face is a generated test picture, not a person: its consent record says so, so
    # the demo exports without the unconsented-face refusal.
    "$bin" faces consent assets/demo/generated/demo.redub --face 0 \
        --name "Demo face (generated test picture, not a person)" --by "Redub set-up"
    log "demo: wrote $project"
}

# ---------------------------------------------------------------- deb

# cargo-deb without its default features: it then compresses with the system's xz instead of
# building liblzma from C, which halves its compile. Kept in the setup cache, not ~/.cargo/bin.
deps_cargo_deb() {
    local root="$CACHE_DIR/cargo-deb-$CARGO_DEB_VERSION"
    export PATH="$root/bin:$PATH"
    if [[ -x "$root/bin/cargo-deb" ]]; then
        log "cargo-deb $CARGO_DEB_VERSION: ok"
        return 0
    fi
    log "cargo-deb: installing $CARGO_DEB_VERSION (cargo install --locked --no-default-features)"
    quietly cargo install --locked --no-default-features --root "$root" "cargo-deb@$CARGO_DEB_VERSION"
}

# The package's generated files: man pages and completions from the CLI, PNG icons from the SVG.
deb_assets() {
    local bin="$1" size
    rm -rf "$DEB_ASSETS"
    mkdir -p "$DEB_ASSETS/gen" "$DEB_ASSETS/man" "$DEB_ASSETS/completions"
    quietly "$bin" gen-docs "$DEB_ASSETS/gen"
    for f in "$DEB_ASSETS"/gen/*.1; do
        gzip -9n <"$f" >"$DEB_ASSETS/man/$(basename "$f").gz"
    done
    mv "$DEB_ASSETS"/gen/{redub.bash,_redub,redub.fish} "$DEB_ASSETS/completions/"
    gzip -9n <CHANGELOG.md >"$DEB_ASSETS/changelog.gz"
    for size in 16 24 32 48 64 128 256 512; do
        mkdir -p "$DEB_ASSETS/icons/$size"
        rsvg-convert -w "$size" -h "$size" packaging/linux/org.redub.Redub.svg \
            -o "$DEB_ASSETS/icons/$size/org.redub.Redub.png"
    done
}

# target/debian/redub_<version>_<arch>.deb from the release build (not rebuilt).
build_deb() {
    [[ -x "$RELEASE_BIN" ]] || die "no release build at $RELEASE_BIN (cargo build --release)"
    deps_cargo_deb
    deb_assets "$RELEASE_BIN"
    rm -f target/debian/redub_*.deb
    # --fast: xz -1; the package is a little larger, built in a fraction of the time.
    quietly cargo deb --no-build --fast
    DEB_FILE="$(ls target/debian/redub_*.deb)"
    log "deb: wrote $DEB_FILE ($(du -h "$DEB_FILE" | cut -f1))"
}

cmd_deb() {
    deps_apt
    log "cargo build --release"
    cargo build --release
    build_deb
}

# The user's side of the .deb, run as root on the CI machine: lintian, install with apt, then
# with /usr/bin/redub in a fresh user data folder: models fetch, doctor, new + render, the editor
# from the desktop file's Exec line under Xvfb, the file type; then remove it and check that
# nothing of it is left in /usr.
deb_check() {
    local t0=$SECONDS work out
    build_deb
    out="$(lintian --fail-on error "$DEB_FILE" 2>&1)" || {
        printf '%s\n' "$out" >&2
        die "lintian reports errors in $DEB_FILE"
    }
    log "deb: lintian: no errors$([[ -z "$out" ]] || printf ' (%s tag line(s))' "$(wc -l <<<"$out")")"
    [[ -z "$out" ]] || printf '%s\n' "$out" | sed 's/^/[setup]   /'
    if dpkg-query -W -f='${Status}' redub 2>/dev/null | grep -q "ok installed"; then
        quietly apt-get remove -y redub
    fi
    quietly env DEBIAN_FRONTEND=noninteractive apt-get install -y "./$DEB_FILE"
    log "deb: installed $(dpkg-query -W -f='${Package} ${Version}' redub)"
    work="$(mktemp -d "${TMPDIR:-/tmp}/redub-deb.XXXXXX")"
    dpkg -L redub >"$work/files"
    (
        cd "$work"
        # A user's environment: no checkout, no overrides, an empty data folder and an empty
        # cache (so the fetch downloads from PyPI as it would for a new user).
        unset REDUB_MODELS_DIR ORT_DYLIB_PATH REDUB_DATA_DIR REDUB_FETCH_SCRIPT CACHE_DIR
        export XDG_DATA_HOME="$work/data" XDG_CONFIG_HOME="$work/config" XDG_CACHE_HOME="$work/cache"
        /usr/bin/redub models fetch >"$work/fetch.log" 2>&1 || {
            cat "$work/fetch.log" >&2
            die "deb: redub models fetch failed"
        }
        grep -q "all 7 files present, sha256 verified" "$work/fetch.log" || {
            cat "$work/fetch.log" >&2
            die "deb: redub models fetch did not verify every file"
        }
        [[ -f "$work/data/redub/models/onnxruntime/libonnxruntime.so.1.32.0" ]] ||
            die "deb: the models are not in the user data folder ($work/data/redub/models)"
        log "deb: models fetch downloaded from PyPI into $work/data/redub/models (7 files, sha256 verified)"
        quietly /usr/bin/redub models verify || die "deb: redub models verify failed"
        quietly /usr/bin/redub doctor || die "deb: redub doctor failed"
        log "deb: redub doctor: exit 0"
        quietly /usr/bin/redub new --video "$ROOT/$DEMO_DIR/demo_shot.mp4" \
            --dub "$ROOT/$DEMO_DIR/dub_line1.wav@1.0" -o "$work/x.redub" ||
            die "deb: redub new failed"
        # A lip edit of a face without recorded consent is refused; recorded, it renders.
        if /usr/bin/redub render "$work/x.redub" -o "$work/x.mp4" --range 0.5..2.5 >/dev/null 2>&1; then
            die "deb: redub render of an unconsented face was not refused"
        fi
        quietly /usr/bin/redub faces consent "$work/x.redub" --face 0 --name "Demo face" --by "deb check" ||
            die "deb: redub faces consent failed"
        quietly /usr/bin/redub render "$work/x.redub" -o "$work/x.mp4" --range 0.5..2.5 ||
            die "deb: redub render failed"
        [[ -s "$work/x.mp4" ]] || die "deb: redub render wrote nothing"
        log "deb: redub new + render: $(du -h "$work/x.mp4" | cut -f1) written"
        deb_editor_shot "$work" || exit 1
        local type
        type="$(xdg-mime query filetype "$work/x.redub" || true)"
        [[ "$type" == "application/x-redub" ]] || die "deb: xdg-mime says $type for a .redub"
        log "deb: xdg-mime query filetype x.redub: $type"
    ) || {
        # Every step above ends in die (errexit does not hold in this context): leave no package.
        quietly apt-get remove -y redub || true
        die "deb: the installed package's checks failed (package removed; $work kept)"
    }
    quietly apt-get remove -y redub
    local left=()
    while IFS= read -r f; do
        [[ "$f" != /usr/* ]] || [[ -d "$f" ]] || [[ ! -e "$f" ]] || left+=("$f")
    done <"$work/files"
    ((${#left[@]} == 0)) || die "deb: left in /usr after apt-get remove: ${left[*]}"
    [[ ! -e /usr/share/mime/application/x-redub.xml ]] || die "deb: the mime type outlived the package"
    log "deb: removed; nothing of it left in /usr ($(wc -l <"$work/files") paths checked)"
    rm -rf "$work"
    log "deb: checks took $((SECONDS - t0)) s"
}

# The editor, started with the desktop file's Exec line on a .redub under Xvfb: the screen must
# not be one colour after it has drawn.
deb_editor_shot() {
    local work="$1" exec_line display xvfb app colours
    exec_line="$(sed -n 's/^Exec=//p' /usr/share/applications/org.redub.Redub.desktop)"
    exec_line="${exec_line//%f/$work/x.redub}"
    Xvfb -displayfd 3 -screen 0 1600x1000x24 -nolisten tcp 3>"$work/display" 2>/dev/null &
    xvfb=$!
    for _ in $(seq 50); do
        [[ -s "$work/display" ]] && break
        sleep 0.1
    done
    display=":$(head -n1 "$work/display")"
    # shellcheck disable=SC2086  # the Exec line is split into words, as a launcher does
    DISPLAY="$display" $exec_line >"$work/editor.log" 2>&1 &
    app=$!
    # Until the window has drawn (a few seconds; software Vulkan), at most 60 s.
    colours=0
    for _ in $(seq 60); do
        sleep 1
        kill -0 "$app" 2>/dev/null || break
        DISPLAY="$display" import -window root "$work/editor.png" 2>/dev/null || continue
        colours="$(identify -format '%k' "$work/editor.png" 2>/dev/null || echo 0)"
        ((colours <= 16)) || break
    done
    kill "$app" 2>/dev/null || true
    wait "$app" 2>/dev/null || true
    kill "$xvfb" 2>/dev/null || true
    wait "$xvfb" 2>/dev/null || true
    ((colours > 16)) || {
        cat "$work/editor.log" >&2
        die "deb: the editor's window is blank ($colours colour(s)) under Xvfb"
    }
    log "deb: editor from the desktop Exec line under Xvfb: $colours colours on screen"
    [[ -z "${REDUB_DEB_SHOT:-}" ]] || cp "$work/editor.png" "$REDUB_DEB_SHOT"
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
    step cargo test --release --all-targets --no-fail-fast
    step "$RELEASE_BIN" bench --quick
    step "$RELEASE_BIN" bench-timeline --frames 50
    log "== deb"
    deb_check
    log "all steps passed"
}

usage() {
    sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

main() {
    case "${1:-}" in
    deps) cmd_deps ;;
    demo) cmd_demo ;;
    run) cmd_run ;;
    test) cmd_test ;;
    deb) cmd_deb ;;
    deb-check)
        cmd_deb
        cmd_demo "$RELEASE_BIN"
        deb_check
        ;;
    -h | --help | help) usage ;;
    *)
        usage >&2
        exit 2
        ;;
    esac
}

main "$@"
