#!/usr/bin/env bash
# PTX backend: the Java kernels compiled with Graal's floating reads off (regsfixed.args), so that the GEMM's loads stay ahead of its tensor-core work as written:
# ProductBenchmark, the UNet and VAE calls, and Nsight Compute per SASS instruction; STEPS p<args> n<args> ncu<args>.
set -u
cd "$(dirname "$0")/.."
top=${OUT:?}
work=/tmp/r78; mkdir -p $work
root=$(pwd)
step() { echo "== $1 $(date -u +%H:%M:%S)"; }
nvidia-smi -L | tee "$work/gpu.txt"
flags() { case $1 in default) echo "-Djdiffusion.tornado.profile=true";; *) echo "-Djdiffusion.tornado.profile=true @$root/.device/regs$1.args";; esac; }
product() {
  step "product $1"
  OUT=$work/product-$1 BENCH_DEVICE=0:0 MAIN_TIMEOUT=${PRODUCT_TIMEOUT:-110} EXTRA_JAVA_FLAGS="$(flags $1)" \
    scripts/gpu-measure.sh main ProductBenchmark 5 f16 "${ROWS:-}" | grep -E "PRODUCT (conv|linear)|stopped|failed" | sed "s/^/$1 /"
}
network() {
  step "network $1"
  OUT=$work/network-$1 BENCH_DEVICE=0:0 MAIN_TIMEOUT=${NETWORK_TIMEOUT:-150} EXTRA_JAVA_FLAGS="$(flags $1 | sed 's/-Djdiffusion.tornado.profile=true//')" \
    scripts/gpu-measure.sh main NetworkBenchmark --size 512 --precision f16 --runs 5 --networks unet,vae | grep -E "^RESULT|stopped|failed" | sed "s/^/$1 /"
}
ncu_full() {
  step "ncu $1"
  OUT=$work/ncu-$1 BENCH_DEVICE=0:0 MAIN_TIMEOUT=120 EXTRA_JAVA_FLAGS="$(flags $1 | sed 's/-Djdiffusion.tornado.profile=true//')" \
    LAUNCH_PREFIX="ncu --target-processes all --kernel-name regex:gemm --launch-count 1 --set full --import-source no -f -o $work/conv-$1" \
    scripts/gpu-measure.sh main ProductBenchmark 2 f16 "conv3x3 2x320x64x64" | tail -2
  ncu -i "$work/conv-$1.ncu-rep" --page details --print-details all > "$work/conv-$1-details.txt" 2>&1
  ncu -i "$work/conv-$1.ncu-rep" --page source --csv --print-source sass > "$work/conv-$1-sass.csv" 2>&1
  rm -f "$work/conv-$1.ncu-rep"
  grep -iE "stall|Registers Per|Occupancy|Eligible|Issued Warp|No Eligible" "$work/conv-$1-details.txt" | head -40
}
for s in ${STEPS:?}; do
  case $s in
    p*) product ${s#p} ;;
    ncu*) ncu_full ${s#ncu} ;;
    n*) network ${s#n} ;;
  esac
  tar -C /tmp -cJf "$top/r78.tar.xz" r78
done
for f in hs_err_pid*.log; do [ ! -f "$f" ] || mv "$f" "$work/"; done
tar -C /tmp -cJf "$top/r78.tar.xz" r78
step done
