#!/usr/bin/env bash
# The PTX that TornadoVM generates for the tensor-core convolution, with Graal's floating reads at their default and off.
set -u
cd "$(dirname "$0")/.."
top=${OUT:?}
for v in default fixed; do
  extra=""; [ $v = fixed ] && extra="-Djdk.graal.OptFloatingReads=false"
  echo "== $v $(date -u +%H:%M:%S)"
  OUT=$top/p-$v BENCH_DEVICE=0:0 MAIN_TIMEOUT=100 \
    EXTRA_JAVA_FLAGS="$extra -Dtornado.printKernel=true -Dtornado.print.kernel.dir=$top/kernels-$v.ptx" \
    scripts/gpu-measure.sh main ProductBenchmark 2 f16 "conv3x3 2x320x64x64" | grep -E "PRODUCT|failed|stopped"
done
xz -T4 "$top"/kernels-*.ptx; ls -la "$top"
