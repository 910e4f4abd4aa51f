#!/usr/bin/env bash
# jdiffusion's CPU backend beside PyTorch + diffusers and ONNX Runtime on this machine, in one sitting, on the same
# full-size random architecture (SD 1.5 unless MODEL=sdxl): the FMA peak and copy bandwidth, then for each size
# `jdiffusion bench` (text encoder, UNet call, VAE decode, and an N-step pipeline at the last size), then each peer's
# parts, one process per part so that each reports its own peak RSS. Writes everything under OUT and the table
# into OUT/compare.json (scripts/cpu_compare.py report).
#
#   scripts/cpu-compare.sh           run it all (run it with nothing else busy: every line of the log starts
#                                    with the load average, so a disturbed part shows)
#
# Environment: SIZES ("256 512"), STEPS (20: the pipeline, at the last size; 0 skips it), MODEL (sd15|sdxl),
# THREADS (2), REPEATS (3), JVMS (3: fresh JVMs per jdiffusion bench and processes per peer part; the report takes their median), PEER_WARMUP (2: untimed runs of each peer part), PEERS ("pytorch ort"), ONNX_DIR (.peers/onnx: exported models, kept between runs),
# OUT (docs/cpu-logs/DATE), PYTHON (python3 with torch, transformers, onnx, onnxscript, onnxruntime),
# DIFFUSERS_SRC (diffusers' src folder; default: .carry/diffusers-src.tar.xz, the archive the GPU comparison
# carries, unpacked into .peers/), JDIFFUSION_BENCH_ARGS (extra bench flags), F16 (1: also time jdiffusion's UNet
# call with F16 weights at each size, SD 1.5 only; 0 skips it).
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=${SIZES:-256 512}
steps=${STEPS:-20}
model=${MODEL:-sd15}
threads=${THREADS:-2}
repeats=${REPEATS:-3}
jvms=${JVMS:-3}
peers=${PEERS:-pytorch ort}
onnx=${ONNX_DIR:-.peers/onnx}
out=${OUT:-docs/cpu-logs/$(date -u +%F)}
python=${PYTHON:-python3}
mkdir -p "$out" "$onnx"
if [ -z "${DIFFUSERS_SRC:-}" ]; then
  DIFFUSERS_SRC=$(pwd)/.peers/diffusers/src
  [ -d "$DIFFUSERS_SRC" ] || { mkdir -p .peers/diffusers && tar -C .peers/diffusers -xJf .carry/diffusers-src.tar.xz; }
fi
export PYTHONPATH="$DIFFUSERS_SRC${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
log="$out/compare-$model.log"

say() { echo "[$(date -u +%T) load $(cut -d' ' -f1-3 /proc/loadavg)] $*" | tee -a "$log" >&2; }

./jdiffusion --version >/dev/null  # builds first, so that no build runs inside the sitting
say "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) CPUs; commit $(git rev-parse --short HEAD)"
say "peak and bandwidth"
./jdiffusion bench ops --threads "$threads" --filter groupnorm --seconds 1 --json | tee "$out/ops-peak.jsonl" >>"$log"

last=${sizes##* }
jd=()
jd16=()
# The same build's UNet call moves by 20-40% from one JVM to the next (docs/PERFORMANCE.md), so each size runs in
# JVMS fresh JVMs and the report takes the median over them; the N-step pipeline runs in the first one only. Each
# peer part likewise runs in JVMS processes.
for s in $sizes; do
  for v in $(seq 1 "$jvms"); do
    n=0
    [ "$s" = "$last" ] && [ "$v" = 1 ] && n=$steps
    say "jdiffusion bench $model ${s}x$s, steps $n, JVM $v of $jvms"
    ./jdiffusion bench --model-type "$model" --width "$s" --height "$s" --steps "$n" --iterations "$repeats" \
        ${JDIFFUSION_BENCH_ARGS:-} --json 2>>"$log" | tee "$out/jdiffusion-$model-$s-jvm$v.json" >>"$log"
    jd+=("$out/jdiffusion-$model-$s-jvm$v.json")
    if [ "${F16:-1}" = 1 ] && [ "$model" = sd15 ]; then
      say "jdiffusion bench $model ${s}x$s, F16 weights, UNet call, JVM $v of $jvms"
      ./jdiffusion bench --model-type "$model" --random-weights f16 --width "$s" --height "$s" --steps 0 --stages unet \
          --iterations "$repeats" ${JDIFFUSION_BENCH_ARGS:-} --json 2>>"$log" | tee "$out/jdiffusion-$model-f16-$s-jvm$v.json" >>"$log"
      jd16+=("$out/jdiffusion-$model-f16-$s-jvm$v.json")
    fi
  done
done

for engine in $peers; do
  for s in $sizes; do
    for part in te unet vae; do
      [ "$part" = te ] && [ "$s" != "${sizes%% *}" ] && continue  # the text encoder does not depend on the size
      if [ "$engine" = ort ] && [ ! -f "$onnx/$model-$part-$s/model.onnx" ]; then
        say "export $model $part $s for ONNX Runtime"
        "$python" scripts/cpu_compare.py export "$part" --model "$model" --size "$s" --dir "$onnx" >>"$log" 2>&1
      fi
      # ONNX Runtime's UNet call at 256 moved by half from one process to the next too (1.24 s against 1.86 s), so
      # each peer part also runs in JVMS processes, and the report takes their median
      for v in $(seq 1 "$jvms"); do
        say "$engine $model $part $s, process $v of $jvms"
        "$python" scripts/cpu_compare.py run "$engine" "$part" --model "$model" --size "$s" --threads "$threads" \
            --repeats "$repeats" --warmup "${PEER_WARMUP:-2}" --onnx "$onnx" --process "$v" --out "$out/peers" 2>&1 | tee -a "$log" >&2
      done
    done
  done
done
say "done"
"$python" scripts/cpu_compare.py report --peers "$out/peers" --jdiffusion "${jd[@]}" \
    ${jd16[@]:+--jdiffusion-f16 "${jd16[@]}"} --out "$out/compare-$model.json" | tee -a "$log"
