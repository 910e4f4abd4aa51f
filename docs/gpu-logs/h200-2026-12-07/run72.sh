#!/usr/bin/env bash
# On an H200 the one-run comparison at 512 first; then Nsight Compute on the PTX backend's tensor-core GEMM
# (a 3x3 convolution and a GEGLU linear of ProductBenchmark), with TornadoVM's generated PTX kept.
set -u
cd "$(dirname "$0")/.."
top=${OUT:?}
step() { echo "== $1 $(date -u +%H:%M:%S)"; }
nvidia-smi > "$top/nvidia-smi.txt" 2>&1; nvidia-smi -L
if nvidia-smi -L | grep -q H200 && [ "${COMPARE:-1}" = 1 ]; then
  step compare512
  OUT=$top/c512 RUNS=3 COMPARE_STEPS="20 50" CLI_TIMEOUT=120 PYTORCH_TIMEOUT=150 timeout 290 scripts/gpu-measure.sh compare > "$top/c512.log" 2>&1
  tail -14 "$top/c512.log"
fi
for row in "conv3x3 2x320x64x64" "linear 8192x320x2560"; do
  tag=${row%% *}
  step "ncu $tag"
  OUT=$top/ncu-$tag BENCH_DEVICE=0:0 MAIN_TIMEOUT=${NCU_TIMEOUT:-140} \
    EXTRA_JAVA_FLAGS="-Dtornado.printKernel=true -Dtornado.print.kernel.dir=$top/kernels-$tag.ptx" \
    LAUNCH_PREFIX="ncu --target-processes all --kernel-name regex:gemm --launch-count 2 --set detailed --import-source no" \
    scripts/gpu-measure.sh main ProductBenchmark 2 f16 "$row" | tail -5
  grep -E "Registers Per Thread|Local Memory|Achieved Occupancy|Theoretical Occupancy|Duration|Block Limit Registers|Static Shared|Stall|Compute \(SM\) Throughput|Memory Throughput" "$top/ncu-$tag/ProductBenchmark.txt" | head -40
done
for f in hs_err_pid*.log; do [ ! -f "$f" ] || mv "$f" "$top/"; done
xz -T4 "$top"/kernels-*.ptx; du -sh "$top"/* | tail -20
step done
