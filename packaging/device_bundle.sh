#!/bin/bash
# Bundles what the GPU benchmarks need on a bare device machine (no GStreamer, no libav) into
# .dev/ and .gl/ (both ignored): the stripped release binary and the GPU parity test, GStreamer's
# core libraries and the plugins an MP4 export needs (openh264 and faad decode, since the device
# has no libav), gst-launch-1.0, the MTCNN models, two clips from ../shared/media, the Vulkan
# loader packages, and .dev/run.sh that runs the benchmarks there. Nothing here is committed or
# installed; the device's own Python onnxruntime provides libonnxruntime.
#
#   cargo build --release && cargo test --release --test gpu --no-run
#   bash packaging/device_bundle.sh
#   then, on the device (the `device` tool, carry [".gl", ".dev"]):  bash .dev/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."
G=/usr/lib/x86_64-linux-gnu/gstreamer-1.0
rm -rf .dev && mkdir -p .dev/lib .dev/plugins .dev/bin .dev/media .dev/models .gl
for p in app audioconvert audioresample coreelements isomp4 openh264 playback typefindfunctions \
    videoconvertscale videoparsersbad voaacenc x264 audioparsers faad volume wavparse autodetect; do
    cp "$G/libgst$p.so" .dev/plugins/
done
cp /usr/bin/gst-launch-1.0 .dev/bin/
cp /usr/lib/x86_64-linux-gnu/gstreamer1.0/gstreamer-1.0/gst-plugin-scanner .dev/bin/
strip -o .dev/bin/redub target/release/redub
gpu_test=""
for f in target/release/deps/gpu-*; do
    if [[ "$f" != *.d && -x "$f" && ( -z "$gpu_test" || "$f" -nt "$gpu_test" ) ]]; then gpu_test=$f; fi
done
[[ -n "$gpu_test" ]] || { echo "build the GPU test first: cargo test --release --test gpu --no-run" >&2; exit 1; }
strip -o .dev/bin/gpu "$gpu_test"
for f in .dev/plugins/*.so .dev/bin/*; do ldd "$f" | awk '$3 ~ /^\// {print $3}'; done | sort -u |
    grep -v 'libc.so\|libm.so\|libgcc_s\|libpthread\|libdl\|librt\|libstdc' |
    while read -r l; do cp -L "$l" .dev/lib/; done
strip --strip-unneeded .dev/lib/* .dev/plugins/* 2>/dev/null || true
cp ../shared/media/v1_retalking_face2.mp4 ../shared/media/a2_sadtalker_RD_Radio31_000.wav .dev/media/
cp -a models/mtcnn models/mtcnn.toml .dev/models/
o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
mkdir -p /tmp/amd64/partial
# shellcheck disable=SC2086
apt-get $o update >/dev/null
# shellcheck disable=SC2086
(cd .gl && apt-get $o download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
cat > .dev/run.sh <<'RUN'
#!/bin/bash
for f in .gl/*.deb; do dpkg -x "$f" /; done; ldconfig
export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
D=$PWD/.dev
export PATH=$D/bin:$PATH LD_LIBRARY_PATH=$D/lib GST_PLUGIN_SYSTEM_PATH=$D/plugins \
    GST_REGISTRY=/tmp/reg.bin GST_PLUGIN_SCANNER=$D/bin/gst-plugin-scanner REDUB_MODELS_DIR=$D/models \
    ORT_DYLIB_PATH=$(ls /opt/torch/.venv/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so.* | head -1)
V=$D/media/v1_retalking_face2.mp4; A=$D/media/a2_sadtalker_RD_Radio31_000.wav
nvidia-smi -L
gpu --nocapture --test-threads=1 2>&1 | grep -E 'adapter|diff|test result'
redub bench --composite
redub bench --lips "$V" --dub "$A"
redub bench --lips "$V" --dub "$A" --size 1920x1080
REDUB_FORCE_CPU=1 redub bench --lips "$V" --dub "$A" --size 1920x1080
redub bench --playback "$V" --dub "$A" --size 1920x1080
REDUB_FORCE_CPU=1 redub bench --playback "$V" --dub "$A" --size 1920x1080
RUN
chmod +x .dev/run.sh
du -sh .dev .gl
