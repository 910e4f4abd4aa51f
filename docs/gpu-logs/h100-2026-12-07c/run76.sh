#!/usr/bin/env bash
# The PTX backend's tensor-core convolution reading its im2col table: STEPS tests (F16 conformance, the tiny model,
# split-K, the tiny pipelines), product (ProductBenchmark), net (UNet and VAE calls at 512), ncu (the tensor-core GEMM's stall reasons).
set -u
cd "$(dirname "$0")/.."
top=${OUT:?}
work=/tmp/r76; mkdir -p $work
step() { echo "== $1 $(date -u +%H:%M:%S)"; }
nvidia-smi -L | tee "$work/gpu.txt"; cat .device/commit.txt
for s in ${STEPS:-tests}; do
  case $s in
    tests) step tests
      OUT=$work/tests DEVICES=0:0 SIZES="" CLI_SIZES="" TEST_TIMEOUT=${TEST_TIMEOUT:-500} TEST_DETAILS=verbose \
        TEST_CLASSES="${CLASSES:-TornadoF16ConformanceTest TornadoTinyModelTest TensorCoreSplitKTest TornadoTinyPipelinesTest}" scripts/gpu-measure.sh run | tail -8
      grep -hE "tests (successful|failed|skipped|aborted)|containers failed" $work/tests/tests-*.txt | tail -6 ;;
    product) step product
      OUT=$work/product BENCH_DEVICE=0:0 MAIN_TIMEOUT=110 EXTRA_JAVA_FLAGS="-Djdiffusion.tornado.profile=true" \
        scripts/gpu-measure.sh main ProductBenchmark 5 f16 | grep -E "PRODUCT (conv|linear)|stopped|failed" ;;
    net) step net
      OUT=$work/net BENCH_DEVICE=0:0 MAIN_TIMEOUT=170 \
        scripts/gpu-measure.sh main NetworkBenchmark --size 512 --precision f16 --runs 5 --networks unet,vae | grep -E "^RESULT|stopped|failed" ;;
    ncu) step ncu
      OUT=$work/ncu BENCH_DEVICE=0:0 MAIN_TIMEOUT=150 \
        LAUNCH_PREFIX="ncu --target-processes all --kernel-name regex:gemm --launch-count 1 --set full --import-source no -f -o $work/conv" \
        scripts/gpu-measure.sh main ProductBenchmark 2 f16 "conv3x3 2x320x64x64" | tail -2
      ncu -i "$work/conv.ncu-rep" --page details --print-details all > "$work/conv-details.txt" 2>&1
      ncu -i "$work/conv.ncu-rep" --page raw --csv > "$work/conv-raw.csv" 2>&1
      ncu -i "$work/conv.ncu-rep" --page source --csv --print-source sass > "$work/conv-sass.csv" 2>&1
      rm -f "$work/conv.ncu-rep"
      grep -iE "Registers Per|Achieved Occupancy|Theoretical Occupancy|Eligible|Issued Warp|No Eligible|Warp Cycles" "$work/conv-details.txt" | head -20
      python3 - "$work/conv-raw.csv" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1])))
h = next(i for i, r in enumerate(rows) if r and r[0] == 'ID')
names, vals = rows[h], rows[-1]
st = [(n, v) for n, v in zip(names, vals) if 'warp_issue_stalled' in n and n.endswith('_per_warp_active.pct')]
for n, v in sorted(st, key=lambda t: -float(t[1].replace(',', '') or 0))[:14]:
    print(f"{float(v.replace(',', '')):7.2f}  {n}")
PY
      ;;
  esac
  tar -C /tmp -cJf "$top/r76.tar.xz" r76
done
for f in hs_err_pid*.log; do [ ! -f "$f" ] || mv "$f" "$work/"; done
tar -C /tmp -cJf "$top/r76.tar.xz" r76
step done
