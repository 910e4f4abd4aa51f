#!/usr/bin/env bash
# PTX backend: the tensor-core GEMM with ptxas's register cap left alone (255 used) and at 128 (two work-groups per SM)
# and 80: ProductBenchmark's products, then the UNet and VAE calls; Nsight Compute's stall reasons for the default.
set -u
cd "$(dirname "$0")/.."
top=${OUT:?}
work=/tmp/r74; mkdir -p $work
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
  step "ncu"
  OUT=$work/ncu BENCH_DEVICE=0:0 MAIN_TIMEOUT=120 \
    LAUNCH_PREFIX="ncu --target-processes all --kernel-name regex:gemm --launch-count 1 --set full --import-source no -f -o $work/conv" \
    scripts/gpu-measure.sh main ProductBenchmark 2 f16 "conv3x3 2x320x64x64" | tail -2
  ncu -i "$work/conv.ncu-rep" --page details --print-details all > "$work/conv-details.txt" 2>&1
  ncu -i "$work/conv.ncu-rep" --page source --csv --print-source sass > "$work/conv-sass.csv" 2>&1
  rm -f "$work/conv.ncu-rep"
  grep -iE "stall|Registers Per|Occupancy|Eligible|Issued Warp|No Eligible" "$work/conv-details.txt" | head -40
}
for s in ${STEPS:-pdefault p128 ncu n128 ndefault p80}; do
  case $s in
    p*) product ${s#p} ;;
    n*) network ${s#n} ;;
    ncu) ncu_full ;;
  esac
  tar -C /tmp -cJf "$top/r74.tar.xz" r74
done
for f in hs_err_pid*.log; do [ ! -f "$f" ] || mv "$f" "$work/"; done
tar -C /tmp -cJf "$top/r74.tar.xz" r74
step done
