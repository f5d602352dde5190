#!/bin/sh
# Playback benchmark of the editor's lip-edit preview (a benchmark, not a test): plays a
# project for 2 x 5 s in the real window and prints frames shown / dropped and the compositor.
#
#   packaging/bench_preview_playback.sh PROJECT [DISPLAY] [WAIT_MS]
#
# PROJECT: a .redub whose dub track is bound to a face (`redub bind`); run it beside an unbound
# copy for the baseline. DISPLAY defaults to :91 (start `Xvfb :91 -screen 0 1600x1000x24`
# first). WAIT_MS (default 60000) lets the face analysis and the lip plan finish before playing;
# the stats line says how many faces were edited, so a plan that was not ready shows as 0.
# REDUB_FORCE_CPU=1 measures the CPU compositor.
set -eu
project=$1
display=${2:-:91}
wait_ms=${3:-60000}
redub=${REDUB:-${CARGO_TARGET_DIR:-target}/release/redub}
script="wait:$wait_ms;reset-stats;play;wait:4900;stats;pause;seek:0;play;wait:4900;stats;quit;discard"
DISPLAY=$display "$redub" edit "$project" --script "$script" 2>/dev/null | grep '^playback:'
