#!/usr/bin/env bash
# One build, four configurations (F16): ptx = PTX backend (device 0:0), the Java tensor-core kernels as before;
# ca = CUDA backend (1:0) without the NVIDIA libraries, the GEMM copying its weight tiles with cp.async
# (TensorCoreAsyncGemm); cs = the same with -Djdiffusion.tornado.asyncCopies=false (TensorCoreKernels.gemm compiled
# by NVRTC); cl = CUDA backend with the libraries (the default).
# STEPS: t<cfg> (TESTS, default the tensor-core test classes), p<cfg> (ProductBenchmark 5 f16, kernel time),
# n<cfg> (NetworkBenchmark --size 512 --precision f16 --runs 5, NETWORKS default unet,vae), ncu<cfg> (Nsight Compute
# on the kernel NCU_KERNEL (default gemm) of NCU_PRODUCT). clt = cl with KernelTwins on; ca1 = ca compiling one kernel at a time;
# cab = ca without the GEMM's launch bounds; ca3, ca4 = ca with the flash attention's launch bounds of 3 and 4 work-groups an SM;
# cae = ca with the attention's exp as __expf; cae4 = cae with bounds of 4. Steps base and new swap in the base build's
# backend-tornado.jar (.device/base-jar.tar.xz) and back; NTAG names the network logs apart.
set -u
cd "$(dirname "$0")/.."
top=${OUT:?}
work=/tmp/r85; mkdir -p $work
step() { echo "== $1 $(date -u +%H:%M:%S)"; }
nvidia-smi -L | tee "$work/gpu.txt"
mkdir -p /tmp/jd-lib && tar -C /tmp/jd-lib -xJf .device/lib.tar.xz && tar -C /tmp/jd-lib -xJf .device/test-lib.tar.xz
cfg() {
  case $1 in
    ptx) dev=0:0; flags="" ;;
    ca) dev=1:0; flags="-Djdiffusion.tornado.libraries=false" ;;
    cs) dev=1:0; flags="-Djdiffusion.tornado.libraries=false -Djdiffusion.tornado.asyncCopies=false" ;;
    cl) dev=1:0; flags="" ;;
    clt) dev=1:0; flags="-Djdiffusion.tornado.kernelTwins=true" ;;
    ca1) dev=1:0; flags="-Djdiffusion.tornado.libraries=false -Djdiffusion.tornado.compileThreads=1" ;;
    cab) dev=1:0; flags="-Djdiffusion.tornado.libraries=false -Djdiffusion.tornado.gemmWorkGroupsPerSm=1" ;;
    ca3) dev=1:0; flags="-Djdiffusion.tornado.libraries=false -Djdiffusion.tornado.attentionWorkGroupsPerSm=3" ;;
    ca4) dev=1:0; flags="-Djdiffusion.tornado.libraries=false -Djdiffusion.tornado.attentionWorkGroupsPerSm=4" ;;
    cae) dev=1:0; flags="-Djdiffusion.tornado.libraries=false -Djdiffusion.tornado.attentionFastExp=true" ;;
    cae4) dev=1:0; flags="-Djdiffusion.tornado.libraries=false -Djdiffusion.tornado.attentionFastExp=true -Djdiffusion.tornado.attentionWorkGroupsPerSm=4" ;;
    *) echo "unknown configuration $1"; return 1 ;;
  esac
}
pack() { tar -C /tmp -cJf "$top/r85.tar.xz" r85; }
cp /tmp/jd-lib/lib/backend-tornado.jar /tmp/jd-new-backend-tornado.jar
[ ! -f .device/base-jar.tar.xz ] || tar -C /tmp -xJf .device/base-jar.tar.xz
for s in ${STEPS:?}; do
  case $s in
    dptx) step "registration diagnosis ptx"
      OUT=$work/diag-ptx DEVICES=0:0 EXTRA_JAVA_FLAGS="-Dtornado.fullDebug=true" TEST_TIMEOUT=150 TEST_CLASSES="StreamOrderTest" SIZES="" CLI_SIZES="" \
        scripts/gpu-measure.sh run 2>&1 | grep -E "tests (successful|failed)|failed \(rc|stopped"
      f=$(ls $work/diag-ptx/tests-*.txt | head -1)
      ls -la $f; grep -nE "host registration|cuMemHostRegister|allocated: .*(READ|WRITE)" $f | grep -vE "size=[0-9]{1,6}[^0-9]" | head -200 > $work/diag-ptx/registration.txt
      grep -n "stream order F16" $f | head -3 >> $work/diag-ptx/registration.txt; wc -l $work/diag-ptx/registration.txt
      xz -T4 -1 $f ;;
    base) step "base build's backend-tornado.jar"; cp /tmp/base/backend-tornado.jar /tmp/jd-lib/lib/backend-tornado.jar ;;
    new) step "new build's backend-tornado.jar"; cp /tmp/jd-new-backend-tornado.jar /tmp/jd-lib/lib/backend-tornado.jar ;;
    t*) c=${s#t}; cfg $c || continue; step "tests $c"
      OUT=$work/tests-$c DEVICES=$dev EXTRA_JAVA_FLAGS="$flags" TEST_TIMEOUT=${TEST_TIMEOUT:-300} \
        TEST_CLASSES="${TESTS:-TensorCoreSplitKTest TensorCoreAttentionTest TornadoTinyModelTest}" SIZES="" CLI_SIZES="" \
        scripts/gpu-measure.sh run 2>&1 | grep -E "tests (successful|failed)|failed \(rc|stopped" ;
      grep -E "✘|MethodSource|Exception" $work/tests-$c/tests-*.txt | head -20 ;;
    p*) c=${s#p}; cfg $c || continue; step "products $c"
      OUT=$work/product-$c BENCH_DEVICE=$dev MAIN_TIMEOUT=${PRODUCT_TIMEOUT:-150} EXTRA_JAVA_FLAGS="$flags -Djdiffusion.tornado.profile=true" \
        scripts/gpu-measure.sh main ProductBenchmark 5 f16 ${PRODUCTS:-} | grep -E "PRODUCT|KERNELS|stopped|failed" ;;
    ncu*) c=${s#ncu}; cfg $c || continue; step "ncu gemm $c"
      OUT=$work/ncu-$c BENCH_DEVICE=$dev MAIN_TIMEOUT=150 EXTRA_JAVA_FLAGS="$flags" \
        LAUNCH_PREFIX="ncu --target-processes all --kernel-name regex:${NCU_KERNEL:-gemm} --launch-count 1 --set full --import-source no -f -o $work/gemm-$c" \
        scripts/gpu-measure.sh main ProductBenchmark 1 f16 "${NCU_PRODUCT:-conv3x3 2x320x64x64}" | tail -2
      ncu -i "$work/gemm-$c.ncu-rep" --page details --print-details all > "$work/gemm-$c-details.txt" 2>&1
      ncu -i "$work/gemm-$c.ncu-rep" --page source --csv --print-source sass > "$work/gemm-$c-sass.csv" 2>&1
      rm -f "$work/gemm-$c.ncu-rep"; xz -f "$work/gemm-$c-sass.csv" 2>/dev/null
      grep -iE "Duration|Registers Per|Achieved Occupancy|Theoretical Occupancy|Warp Cycles Per Issued|Issue Slots Busy|Static Shared" "$work/gemm-$c-details.txt" | head -20 ;;
    c*) c=${s#c}; cfg $c || continue; step "compare $c"
      OUT=$work/compare-$c BENCH_DEVICE=$dev EXTRA_JAVA_FLAGS="$flags ${CFLAGS:-}" RUNS=${RUNS:-5} COMPARE_STEPS=${COMPARE_STEPS:-20 50} \
        PYTORCH_TIMEOUT=${PYTORCH_TIMEOUT:-300} scripts/gpu-measure.sh compare 2>&1 | tail -25 ;;
    f*) c=${s#f}; cfg $c || continue; step "first image $c"
      rm -rf ~/.nv/ComputeCache  # each configuration's first image without the driver's cache of an earlier one
      OUT=$work/first-image-$c BENCH_DEVICE=$dev EXTRA_JAVA_FLAGS="$flags" FIRST_IMAGE_RUNS=${FIRST_IMAGE_RUNS:-1} \
        scripts/gpu-measure.sh first-image 2>&1 | tail -4 ;;
    n*) c=${s#n}; cfg $c || continue; step "network $c${NTAG:-}"
      OUT=$work/network-$c${NTAG:-}-$(date -u +%H%M%S) BENCH_DEVICE=$dev MAIN_TIMEOUT=${NETWORK_TIMEOUT:-240} EXTRA_JAVA_FLAGS="$flags ${NFLAGS:-}" \
        scripts/gpu-measure.sh main NetworkBenchmark --size 512 --precision f16 --runs 5 --networks ${NETWORKS:-unet,vae} | grep -E "^RESULT|stopped|failed" ;;
  esac
  pack
done
for f in hs_err_pid*.log; do [ ! -f "$f" ] || mv "$f" "$work/"; done
pack
step done
