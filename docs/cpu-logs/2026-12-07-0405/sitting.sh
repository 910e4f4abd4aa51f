#!/bin/bash
# alternated sitting: ORT and jdiffusion (f32, f16) per size, ROUNDS rounds
cd "$(git rev-parse --show-toplevel)"
export JAVA_HOME=/usr/lib/jvm/temurin-25-jdk-amd64 JDIFFUSION_SKIP_BUILD=1
source $PEERS_VENV/bin/activate
say() { echo "[$(date -u +%T) load $(cut -d' ' -f1-3 /proc/loadavg)] $*"; }
say "commit $(git rev-parse --short HEAD); $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), family $(grep -m1 'cpu family' /proc/cpuinfo | cut -d: -f2 | xargs) model $(grep -m1 '^model' /proc/cpuinfo | cut -d: -f2 | xargs)"
./jdiffusion bench ops --threads 2 --filter groupnorm --seconds 1 2>&1 | grep -E "peak|bandwidth"
for s in ${SIZES:-256 512}; do
  hw=$((s / 8)); reps=6; [ $s = 512 ] && reps=5
  for r in $(seq ${ROUNDS:-2}); do
    say "ORT ${s}x${s} (warm-up 1, REPS=$reps)"
    REPS=$reps python3 ../shared/bench/onnxruntime_cpu_anchor.py bench $hw $ONNX_DIR/u$hw 2>&1 | tail -1
    for wt in f32 f16; do
      say "jdiffusion ${s}x${s} ($wt weights)"
      it=6; wu=4; [ $s = 512 ] && it=3 && wu=2
      ./jdiffusion bench --random-weights $wt --width $s --height $s --steps 0 --stages unet --warmup $wu --iterations $it 2>&1 | grep -E "UNet call|peak RSS"
    done
  done
done
say done
