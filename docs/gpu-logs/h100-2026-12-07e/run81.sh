#!/usr/bin/env bash
# PTX backend, F16, two builds of backend-tornado swapped between JVMs: base (the staged build) and v2
# (.device/alt/backend-tornado-v2.jar, TensorCoreAttention with each lane's own scores in 16x8 sub-tiles).
# STEPS: t<build> (TensorCoreAttentionTest, TornadoF16ConformanceTest), p<build> (attention products),
# ncu<build> (Nsight Compute on the 2x4096, heads of 40 attention), n<build> (UNet and VAE calls).
set -u
cd "$(dirname "$0")/.."
top=${OUT:?}
work=/tmp/r81; mkdir -p $work
root=$(pwd)
step() { echo "== $1 $(date -u +%H:%M:%S)"; }
nvidia-smi -L | tee "$work/gpu.txt"
mkdir -p /tmp/jd-lib && tar -C /tmp/jd-lib -xJf .device/lib.tar.xz && tar -C /tmp/jd-lib -xJf .device/test-lib.tar.xz
cp /tmp/jd-lib/lib/backend-tornado.jar /tmp/backend-tornado-base.jar
use() { case $1 in base) cp /tmp/backend-tornado-base.jar /tmp/jd-lib/lib/backend-tornado.jar;; *) cp .device/alt/backend-tornado-$1.jar /tmp/jd-lib/lib/backend-tornado.jar;; esac; }
pack() { tar -C /tmp -cJf "$top/r81.tar.xz" r81; }
for s in ${STEPS:?}; do
  case $s in
    t*) b=${s#t}; use $b; step "tests $b"
      OUT=$work/tests-$b DEVICES=0:0 TEST_TIMEOUT=${TEST_TIMEOUT:-300} TEST_CLASSES="${TESTS:-TensorCoreAttentionTest TornadoF16ConformanceTest}" SIZES="" CLI_SIZES="" \
        scripts/gpu-measure.sh run 2>&1 | grep -E "tests (successful|failed)|failed \(rc|stopped" ;
      grep -E "✘|MethodSource|Exception" $work/tests-$b/tests-0-0.txt | head -20 ;;
    p*) b=${s#p}; use $b; step "product attention $b"
      OUT=$work/product-$b BENCH_DEVICE=0:0 MAIN_TIMEOUT=150 EXTRA_JAVA_FLAGS="-Djdiffusion.tornado.profile=true" \
        scripts/gpu-measure.sh main ProductBenchmark 5 f16 "attention 2x" | grep -E "PRODUCT|KERNELS|stopped|failed" ;;
    ncu*) b=${s#ncu}; use $b; step "ncu attention $b"
      OUT=$work/ncu-$b BENCH_DEVICE=0:0 MAIN_TIMEOUT=150 EXTRA_JAVA_FLAGS="-Dtornado.printKernel=true -Dtornado.print.kernel.dir=$work/att-$b.ptx" \
        LAUNCH_PREFIX="ncu --target-processes all --kernel-name regex:attention --launch-count 1 --set full --import-source no -f -o $work/att-$b" \
        scripts/gpu-measure.sh main ProductBenchmark 1 f16 "attention 2x4096" | tail -2
      ncu -i "$work/att-$b.ncu-rep" --page details --print-details all > "$work/att-$b-details.txt" 2>&1
      ncu -i "$work/att-$b.ncu-rep" --page source --csv --print-source sass > "$work/att-$b-sass.csv" 2>&1
      rm -f "$work/att-$b.ncu-rep"; xz -f "$work/att-$b.ptx" "$work/att-$b-sass.csv" 2>/dev/null
      grep -iE "Duration|Registers Per|Achieved Occupancy|Theoretical Occupancy|Block Limit|Warp Cycles Per Issued|Issue Slots Busy|L1/TEX Hit|Mem Busy|Max Bandwidth|Shared Memory Configuration Size|Dynamic Shared|Static Shared" "$work/att-$b-details.txt" | head -30 ;;
    np*) b=${s#np}; use $b; step "network profile $b"
      OUT=$work/network-profile-$b BENCH_DEVICE=0:0 MAIN_TIMEOUT=${NETWORK_TIMEOUT:-200} EXTRA_JAVA_FLAGS="-Djdiffusion.tornado.profile=true" \
        scripts/gpu-measure.sh main NetworkBenchmark --size 512 --precision f16 --runs 3 --networks ${NETWORKS:-unet,vae} | grep -E "^RESULT|stopped|failed"
      grep -E "^PROFILE|KERNEL|kernel" $work/network-profile-$b/NetworkBenchmark.txt | head -40 ;;
    n*) b=${s#n}; use $b; step "network $b ${NFLAGS:-}"
      OUT=$work/network-$b${NTAG:-} BENCH_DEVICE=0:0 MAIN_TIMEOUT=${NETWORK_TIMEOUT:-200} EXTRA_JAVA_FLAGS="${NFLAGS:-}" \
        scripts/gpu-measure.sh main NetworkBenchmark --size 512 --precision f16 --runs 5 --networks ${NETWORKS:-unet,vae} | grep -E "^RESULT|stopped|failed" ;;
  esac
  pack
done
for f in hs_err_pid*.log; do [ ! -f "$f" ] || mv "$f" "$work/"; done
pack
step done
