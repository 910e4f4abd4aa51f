#!/usr/bin/env bash
# GPU measurement of backend-tornado (TornadoVM): operator and tiny-model tests on the GPU, then the SD 1.5
# network benchmark (and `./jdiffusion bench` where the CLI bench is built) at 512 and 1024, F32 and F16.
#
#   scripts/gpu-measure.sh stage   On a build machine with JDK 25, Maven access and TORNADOVM_HOME (the SDK the
#                                  build compiles against). Builds the project and packs into .device/ (git-ignored)
#                                  everything the GPU machine needs besides the repository: the class path jars,
#                                  and - when TORNADOVM_GPU_SDK names an SDK built with the PTX and CUDA backends -
#                                  that SDK and a jlink'd JDK 25 as .tar.xz, for GPU hosts without Java.
#   scripts/gpu-measure.sh run     On the GPU machine, from the repository root. Uses JAVA_HOME and TORNADOVM_HOME
#                                  when set, else unpacks .device/jdk.tar.xz and .device/tornado-sdk.tar.xz to /tmp.
#                                  Writes logs to $OUT (default ./gpu-measure-out) and prints a summary table.
#   scripts/gpu-measure.sh main CLASS [ARGS]   On the GPU machine: one main class of backend-tornado's tests (e.g.
#                                  ProductBenchmark), output in $OUT/CLASS.txt.
#   scripts/gpu-measure.sh compare On the GPU machine: PyTorch + diffusers (fp16, SDPA; the UNet also as a CUDA graph) and
#                                  `jdiffusion bench --backend tornado --precision f16` on the same random model (SD 1.5
#                                  at 512x512 unless COMPARE_MODEL=sdxl, COMPARE_SIZE=1024; F16 weights on the host, as an
#                                  F16 checkpoint holds them, unless COMPARE_WEIGHTS=f32), one after the other; writes
#                                  $OUT/compare.json (stage, PyTorch ms, jdiffusion ms, ratio) and prints the table. Needs
#                                  diffusers' source as .carry/diffusers-src.tar.xz (git archive of huggingface/diffusers'
#                                  src/diffusers) and the staged CLI (in .device/lib.tar.xz).
#   scripts/gpu-measure.sh first-image   On the GPU machine: writes an SD 1.5-shaped single-file F16 checkpoint of
#                                  random weights (scripts/random_sd15_checkpoint.py; the tokenizer is the tiny test
#                                  model's) and times `jdiffusion generate --backend tornado --precision f16` at
#                                  FIRST_IMAGE_SIZE (512), 20 steps, from launch to the written PNG, FIRST_IMAGE_RUNS (2)
#                                  times in fresh JVMs; logs in $OUT/first-image-N.txt. Writing the PNG needs java.desktop,
#                                  which the packed JDK leaves out to fit the upload: without it generate stops at once,
#                                  saying so (set JAVA_HOME to a full JDK 25 there, or stage with JDK_EXTRA_MODULES=java.desktop).
#
# Environment for `run`: SIZES (default "512 1024"), PRECISIONS ("f32 f16"), RUNS (10), DEVICES (the TornadoVM
# devices for the tests, default "0:0 1:0" = PTX and CUDA backends of the GPU SDK), BENCH_DEVICE (the benchmarks' TornadoVM device; default: the backend's own choice, the CUDA backend where present),
# TEST_CLASSES (default "TornadoConformanceTest TornadoTinyModelTest JvmSignalsTest"), TEST_DETAILS (the JUnit console's --details:
# tree, or verbose to name each test as it starts), SKIP_TESTS=1 to go straight to the
# benchmarks, SIZES="" to skip them, EXTRA_JAVA_FLAGS, BENCH_TAG (suffix of the benchmark logs), CLI_SIZES ("512 1024";
# "" skips the CLI bench), CLI_PRECISIONS (f32), CLI_STEPS (20), LAUNCH_PREFIX (a command the JVM runs under).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
dev="$root/.device"

stage() {
  : "${TORNADOVM_HOME:?set TORNADOVM_HOME to an installed TornadoVM SDK}"
  . bin/find-jdk25.sh
  # One reactor build (no install: the class path names the modules' own jars); each module writes its class path.
  ./mvnw -q -B -DskipTests package dependency:build-classpath -pl backend-tornado,cli -am -Dmdep.includeScope=test \
      -Dmdep.outputFile=target/classpath.txt
  rm -rf "$dev/lib" && mkdir -p "$dev/lib"
  cp backend-tornado/target/classpath.txt "$dev/cp.txt"
  # TornadoVM comes from the SDK's module path; the test data's resources travel with the repository itself.
  # The JUnit console launcher below bundles the JUnit platform and engine: leave out the separate copies.
  tr ':' '\n' < "$dev/cp.txt" | grep -v -e tornado-api -e tornado-runtime -e tornado-cublas -e tornado-cudnn -e jdiffusion-test-data -e /junit- -e opentest4j -e apiguardian \
    | while read -r jar; do cp "$jar" "$dev/lib/"; done
  "$JAVA_HOME/bin/jar" cf "$dev/lib/backend-tornado.jar" -C backend-tornado/target/classes .
  "$JAVA_HOME/bin/jar" cf "$dev/lib/backend-tornado-tests.jar" -C backend-tornado/target/test-classes .
  (cd test-data/target/classes && "$JAVA_HOME/bin/jar" cf "$dev/lib/test-data-classes.jar" io/jdiffusion/testdata/*.class)
  ./mvnw -q -B dependency:copy -Dartifact=org.junit.platform:junit-platform-console-standalone:1.14.1 -DoutputDirectory="$dev/lib"
  if [ -f cli/target/jdiffusion-cli.jar ]; then
    rm -rf "$dev/cli" && mkdir -p "$dev/cli" && cp cli/target/jdiffusion-cli.jar "$dev/cli/"
    # The CLI's own libraries; the jars the tests' class path already has stay in .device/lib only.
    for j in cli/target/lib/*.jar; do case $j in *jdiffusion-test-data*) ;; *) [ -f "$dev/lib/$(basename "$j")" ] || cp "$j" "$dev/cli/" ;; esac; done
  fi
  pack_lib
  if [ -n "${TORNADOVM_GPU_SDK:-}" ]; then
    pack_sdk "$TORNADOVM_GPU_SDK"
    pack_jdk
  fi
  { git rev-parse HEAD; git status --porcelain --untracked-files=no | grep -q . && echo dirty || true; } | paste -sd' ' > "$dev/commit.txt"
  du -sh "$dev"
}

# The device call carries at most 64 MiB with the repository, so the jars travel as xz archives of uncompressed
# jars (about a quarter of the zipped jars' size), without what no device run loads: the HTTP server's Vert.x and
# Netty (the CLI's bench and the tests never start it) and ByteBuddy (AssertJ's soft assertions only). The test
# runner and the test classes go into test-lib.tar.xz, which only the calls that run tests need to carry.
# Copies jar SRC to DEST with its entries stored, not deflated, so that the xz archive around it packs them well.
store_uncompressed() {
  local d; d=$(mktemp -d)
  (cd "$d" && unzip -q "$1" && rm -f "$2" && zip -q -0 -r -X "$2" .)
  rm -rf "$d"
}

pack_lib() {
  local tmp j into
  tmp=$(mktemp -d)
  mkdir -p "$tmp/main/lib" "$tmp/test/lib"
  for j in "$dev"/lib/*.jar "$dev"/cli/*.jar; do
    [ -f "$j" ] || continue
    case $(basename "$j") in
      vertx-*|netty-*|byte-buddy-*) continue ;;
      junit-*|assertj-*|backend-tornado-tests.jar) into=test ;;
      *) into=main ;;
    esac
    store_uncompressed "$j" "$tmp/$into/lib/$(basename "$j")"
  done
  tar -C "$tmp/main" -cf - lib | xz -T2 -9 > "$dev/lib.tar.xz"
  tar -C "$tmp/test" -cf - lib | xz -T2 -9 > "$dev/test-lib.tar.xz"
  rm -rf "$tmp" "$dev/lib" "$dev/cli"
}

# The GPU SDK trimmed to what jdiffusion runs (PTX + CUDA drivers, cuBLAS/cuDNN bindings, Graal compiler),
# jars stored uncompressed so xz packs them well.
pack_sdk() {
  local src=$1 tmp
  tmp=$(mktemp -d)
  mkdir -p "$tmp/etc" "$tmp/lib" "$tmp/share/java/tornado" "$tmp/share/java/graalJars"
  cp -r "$src/etc/exportLists" "$src/etc/tornado.properties" "$tmp/etc/"
  echo "tornado.backends=ptx-backend,cuda-backend" > "$tmp/etc/tornado.backend"
  cp "$src"/lib/libtornado-{ptx,cuda,cublas,cudnn}.so "$tmp/lib/"
  # The JNI drivers' *-libs.jar hold copies of lib/'s native libraries, which TornadoVM loads from java.library.path.
  for j in "$src"/share/java/tornado/*.jar; do
    case $(basename "$j") in
      *-jni-*-libs.jar|tornado-drivers-opencl*|tornado-benchmarks*|tornado-examples*|tornado-fuzz*|tornado-unittests*|tornado-cufft*|tornado-cusparse*|tornado-cutlass*|tornado-drivers-cufft*|tornado-drivers-cusparse*|tornado-drivers-cutlass*|junit*|hamcrest*|jmh*|jopt*|lucene*|ejml*) ;;
      *) cp "$j" "$tmp/share/java/tornado/" ;;
    esac
  done
  for j in compiler collections graal-sdk nativeimage polyglot truffle-compiler word; do cp "$src"/share/java/graalJars/$j-*.jar "$tmp/share/java/graalJars/"; done
  for j in "$tmp"/share/java/*/*.jar; do
    store_uncompressed "$j" "$j"
  done
  # The PTX driver's descriptor requires java.desktop, which the packed JDK leaves out, though the driver loads none
  # of its classes (jdeps lists none): drop the requirement so the PTX backend resolves there.
  local mi; mi=$(mktemp -d)
  (cd "$mi" && unzip -q "$tmp"/share/java/tornado/tornado-drivers-ptx-*.jar module-info.class \
      && "$JAVA_HOME/bin/java" "$root/scripts/DropModuleRequire.java" module-info.class java.desktop \
      && zip -q -0 -X "$tmp"/share/java/tornado/tornado-drivers-ptx-*.jar module-info.class)
  rm -rf "$mi"
  # TornadoVM's argfile template for the SDK's backends (bin/gen-tornado-argfile-template.py ptx,cuda), less the
  # modules left out above.
  [ -f "$src/tornado-argfile.template" ] || (cd "$src/bin" && TORNADOVM_HOME="$src" python3 gen-tornado-argfile-template.py ptx,cuda)
  sed -e 's/,tornado.drivers.opencl//; s/,tornado.cufft//; s/,tornado.cusparse//; s/,tornado.cutlass//' \
      "$src/tornado-argfile.template" > "$tmp/tornado-argfile.template"
  tar -C "$tmp" -cf - . | xz -T2 -9e > "$dev/tornado-sdk.tar.xz"
  rm -rf "$tmp"
}

# A jlink'd JDK 25 for GPU hosts without Java, trimmed to fit the 64 MiB: no CDS archives, no native symbols, no
# legal texts, and no java.desktop (a third of the image): the device runs the tests and the CLI's bench, which
# write no PNG, and the pipeline loads no AWT class (BufferedImages holds the conversions). JDK_EXTRA_MODULES adds
# modules: java.desktop for `first-image` (ImageIO writes the PNG; 4.8 MB more, less the native libraries headless
# image I/O never loads: fonts, X11, sound, splash screen, JPEG), so that call carries little of the test data;
# jdk.jfr for a flight recording (EXTRA_JAVA_FLAGS=-XX:StartFlightRecording=...).
pack_jdk() {
  local tmp modules=java.base,java.logging,java.management,jdk.management,jdk.unsupported,jdk.internal.vm.ci,jdk.incubator.vector,java.sql,java.naming,jdk.zipfs
  tmp=$(mktemp -d)
  "$JAVA_HOME/bin/jlink" --add-modules "$modules${JDK_EXTRA_MODULES:+,$JDK_EXTRA_MODULES}" \
      --compress=zip-0 --strip-debug --no-header-files --no-man-pages --output "$tmp/jdk"
  rm -rf "$tmp"/jdk/lib/server/*.jsa "$tmp/jdk/legal"
  rm -f "$tmp"/jdk/lib/lib{fontmanager,freetype,splashscreen,awt_xawt,jsound,jawt,javajpeg}.so
  strip --strip-unneeded "$tmp/jdk/lib/server/libjvm.so"
  tar -C "$tmp" -cf - jdk | xz -T2 -9e > "$dev/jdk.tar.xz"
  rm -rf "$tmp"
}

# Unpacks the JDK and SDK where none is set, regenerates the argfile and sets java, cp and out.
setup() {
  out=${OUT:-$root/gpu-measure-out}
  mkdir -p "$out"
  . "$root/bin/jvm-options.sh"
  if [ -z "${JAVA_HOME:-}" ] || [ ! -x "$JAVA_HOME/bin/java" ]; then
    mkdir -p /tmp/jd && tar -C /tmp/jd -xJf "$dev/jdk.tar.xz" && export JAVA_HOME=/tmp/jd/jdk
  fi
  if [ -z "${TORNADOVM_HOME:-}" ]; then
    mkdir -p /tmp/tornado-sdk && tar -C /tmp/tornado-sdk -xJf "$dev/tornado-sdk.tar.xz" && export TORNADOVM_HOME=/tmp/tornado-sdk
  fi
  if [ ! -d /tmp/jd-lib/lib ]; then
    mkdir -p /tmp/jd-lib && tar -C /tmp/jd-lib -xJf "$dev/lib.tar.xz"
    [ ! -f "$dev/test-lib.tar.xz" ] || tar -C /tmp/jd-lib -xJf "$dev/test-lib.tar.xz"
  fi
  # The argfile holds absolute paths: regenerate it for this machine.
  sed "s|\${TORNADOVM_HOME}|$TORNADOVM_HOME|g" "$TORNADOVM_HOME/tornado-argfile.template" > "$TORNADOVM_HOME/tornado-argfile"
  # cuBLAS, cuDNN and NVRTC of the PyTorch installation, where the system has none.
  local nv
  nv=$(for p in $(python3 -c 'import nvidia; print(" ".join(nvidia.__path__))' 2>/dev/null); do find "$p" -name 'lib*.so*' -printf '%h\n'; done | sort -u | paste -sd: -)
  export LD_LIBRARY_PATH="${nv}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  # The JDK's signal-chaining library, as ./jdiffusion and the tests' JVM use it (bin/tornado-flags.sh): the JVM keeps
  # its own fault handlers if a driver library installs handlers of its own (JvmSignalsTest checks it).
  [ ! -f "$JAVA_HOME/lib/libjsig.so" ] || export LD_PRELOAD="$JAVA_HOME/lib/libjsig.so${LD_PRELOAD:+:$LD_PRELOAD}"
  # LAUNCH_PREFIX wraps the JVM in a profiler, e.g. "ncu --profile-from-start off ..." with NetworkBenchmark's
  # --profiler-range true.
  # shellcheck disable=SC2206
  java=(${LAUNCH_PREFIX:-} "$JAVA_HOME/bin/java" "@$TORNADOVM_HOME/tornado-argfile" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xmx64g -Xss4m
        -Djdiffusion.tornado.tasksPerGraph="${TASKS_PER_GRAPH:-60}" ${EXTRA_JAVA_FLAGS:-})
  cp="/tmp/jd-lib/lib/*:$root/test-data/src/main/resources"
}

# Runs one main class of the test class path (a benchmark) on BENCH_DEVICE, output in $OUT/<class>.txt.
main_class() {
  setup
  local cls=$1; shift
  timeout "${MAIN_TIMEOUT:-300}" "${java[@]}" ${BENCH_DEVICE:+-Djdiffusion.tornado.device=$BENCH_DEVICE} -cp "$cp" "io.jdiffusion.tornado.$cls" "$@" \
      > "$out/$cls.txt" 2>&1 || stopped "$cls" $? MAIN_TIMEOUT >> "$out/$cls.txt"
  grep -E "^PRODUCT|^RESULT|failed|stopped at|Exception" "$out/$cls.txt" || tail -20 "$out/$cls.txt"
}

# What ended a JVM that `timeout` ran: its time limit (rc 124), or a failure.
stopped() {
  if [ "$2" = 124 ]; then
    # SIGTERM runs the JVM's shutdown hooks, and TornadoVM's destroys the CUDA context under whatever still runs: the
    # driver errors that follow (709, context destroyed; a SIGSEGV in libcuda) are the stop's, not the test's.
    echo "$1 stopped at the time limit ($3); driver errors after this point come from the stop"
  else
    echo "$1 failed (rc $2)"
  fi
}

run() {
  setup
  { nvidia-smi || true; "$JAVA_HOME/bin/java" -version; echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"; } > "$out/env.txt" 2>&1
  "${java[@]}" -cp "$cp" uk.ac.manchester.tornado.drivers.TornadoDeviceQuery > "$out/devices.txt" 2>&1 || true
  if [ "${SKIP_TESTS:-0}" != 1 ]; then
    for d in ${DEVICES:-0:0 1:0}; do
      local tag=${d/:/-}
      local select=()
      for c in ${TEST_CLASSES:-TornadoConformanceTest TornadoTinyModelTest JvmSignalsTest}; do select+=(--select-class "io.jdiffusion.tornado.$c"); done
      timeout "${TEST_TIMEOUT:-300}" "${java[@]}" -Djdiffusion.tornado.device="$d" -cp "$cp" org.junit.platform.console.ConsoleLauncher execute \
          --disable-banner --details="${TEST_DETAILS:-tree}" "${select[@]}" > "$out/tests-$tag.txt" 2>&1 || stopped "tests on $d" $? "TEST_TIMEOUT" >> "$out/tests-$tag.txt"
    done
    # a JVM that died in native code leaves its report in the working directory
    for f in hs_err_pid*.log; do [ ! -f "$f" ] || mv "$f" "$out/"; done
  fi
  for size in ${SIZES-512 1024}; do
    for p in ${PRECISIONS:-f32 f16}; do
      timeout "${BENCH_TIMEOUT:-400}" "${java[@]}" ${BENCH_DEVICE:+-Djdiffusion.tornado.device=$BENCH_DEVICE} -cp "$cp" io.jdiffusion.tornado.NetworkBenchmark \
          --size "$size" --precision "$p" --runs "${RUNS:-10}" > "$out/bench-$size-$p${BENCH_TAG:-}.txt" 2>&1 \
          || stopped bench $? BENCH_TIMEOUT >> "$out/bench-$size-$p${BENCH_TAG:-}.txt"
    done
  done
  # The CLI's own benchmark (what ./jdiffusion bench --backend tornado runs), where the CLI was staged.
  if [ -f /tmp/jd-lib/lib/jdiffusion-cli.jar ]; then
    local clicp=$cp
    for size in ${CLI_SIZES-512 1024}; do
      for p in ${CLI_PRECISIONS:-f32}; do
        timeout "${CLI_TIMEOUT:-300}" "${java[@]}" ${BENCH_DEVICE:+-Djdiffusion.tornado.device=$BENCH_DEVICE} -cp "$clicp" io.jdiffusion.cli.Main bench \
            --backend tornado --precision "$p" -W "$size" -H "$size" --steps "${CLI_STEPS:-20}" > "$out/cli-bench-$size-$p.txt" 2>&1 \
            || stopped "cli bench" $? CLI_TIMEOUT >> "$out/cli-bench-$size-$p.txt"
      done
    done
  fi
  echo "== devices"; grep -i -E "device=|--" "$out/devices.txt" | head -8 || true
  for f in "$out"/tests-*.txt; do [ -f "$f" ] && { echo "== $(basename "$f")"; grep -E "tests (successful|failed)|failed \(rc|stopped at" "$f" || tail -3 "$f"; }; done
  echo "== benchmarks"; cat "$out"/bench-*.txt 2>/dev/null | grep -E "^RESULT|^PROFILE|failed|stopped at|Exception" || true
  for f in "$out"/cli-bench-*.txt; do [ -f "$f" ] && { echo "== $(basename "$f")"; grep -v -E "^WARNING|^\s*$" "$f" | tail -25; }; done
}

# PyTorch, then jdiffusion (one JVM per entry of COMPARE_STEPS), then the side-by-side report. COMPARE_MODEL (sd15 or
# sdxl) and COMPARE_SIZE (512) pick the model and image size; a model other than sd15 writes compare-MODEL.json.
compare() {
  setup
  local model=${COMPARE_MODEL:-sd15} size=${COMPARE_SIZE:-512}
  local logs="$out/compare-logs-$model" d=/tmp/diffusers jd=()
  local clicp=$cp
  mkdir -p "$logs" "$d"
  [ -d "$d/src" ] || tar -C "$d" -xJf .carry/diffusers-src.tar.xz
  { nvidia-smi || true; python3 -c 'import torch, transformers; print("torch", torch.__version__, "transformers", transformers.__version__)'; } > "$logs/env.txt" 2>&1
  PYTHONUNBUFFERED=1 PYTHONPATH="$d/src" timeout "${PYTORCH_TIMEOUT:-240}" python3 scripts/gpu_compare.py pytorch --out "$logs" \
      --model "$model" --size "$size" --steps "${PYTORCH_STEPS:-20,50}" > "$logs/pytorch.txt" 2>&1 || stopped pytorch $? PYTORCH_TIMEOUT >> "$logs/pytorch.txt"
  for steps in ${COMPARE_STEPS:-20 50}; do
    # the launcher's JVM options (bin/jvm-options.sh: collector, heap and direct-memory caps), so that the peak RSS is
    # what a user's run shows
    timeout "${CLI_TIMEOUT:-300}" "${java[@]}" "${jdiffusion_jvm_options[@]}" ${BENCH_DEVICE:+-Djdiffusion.tornado.device=$BENCH_DEVICE} -cp "$clicp" io.jdiffusion.cli.Main bench \
        --model-type "$model" --random-weights "${COMPARE_WEIGHTS:-f16}" --backend tornado --precision f16 -W "$size" -H "$size" --steps "$steps" --iterations "${RUNS:-10}" --json \
        > "$logs/jdiffusion-$steps.json" 2> "$logs/jdiffusion-$steps.txt" || stopped "jdiffusion bench" $? CLI_TIMEOUT >> "$logs/jdiffusion-$steps.txt"
    jd+=("$logs/jdiffusion-$steps.json")
  done
  local name=compare.json
  [ "$model" = sd15 ] || name=compare-$model.json
  JDIFFUSION_COMMIT="$(cat "$dev/commit.txt" 2>/dev/null || echo unknown)" python3 scripts/gpu_compare.py report \
      --pytorch "$logs/pytorch.json" --jdiffusion "${jd[@]}" --out "$out/$name" | tee "$logs/compare.txt"
}

# A user's first image: one fresh JVM per run, from launch until the PNG is written, with the checkpoint a mapped
# file as a user's would be (the first run also hashes it for the PNG's metadata, once per file).
first_image() {
  setup
  local size=${FIRST_IMAGE_SIZE:-512} ckpt=/tmp/jd-first-image/sd15-f16.safetensors cfg=/tmp/jd-first-image/config
  mkdir -p "$cfg"
  cp -r test-data/src/main/resources/io/jdiffusion/testdata/tiny-sd/model/tokenizer "$cfg/"
  [ -f "$ckpt" ] || python3 scripts/random_sd15_checkpoint.py \
      test-data/src/main/resources/io/jdiffusion/testdata/sd15-keys/sd15_keys_ldm.json "$ckpt" > "$out/first-image-checkpoint.txt" 2>&1
  for i in $(seq 1 "${FIRST_IMAGE_RUNS:-2}"); do
    local t0 t1 rc=0
    t0=$(date +%s%N)
    timeout "${CLI_TIMEOUT:-300}" "${java[@]}" "${jdiffusion_jvm_options[@]}" ${BENCH_DEVICE:+-Djdiffusion.tornado.device=$BENCH_DEVICE} -cp "$cp" \
        io.jdiffusion.cli.Main generate --model "$ckpt" --config "$cfg" --backend tornado --precision f16 -W "$size" -H "$size" \
        --steps 20 --seed 1 -p "a lighthouse at dusk" -o "$out/first-image-$i.png" > "$out/first-image-$i.txt" 2>&1 || rc=$?
    t1=$(date +%s%N)
    if [ "$rc" = 0 ]; then
      echo "first image, run $i: $(( (t1 - t0) / 1000000 )) ms from launch to the PNG" | tee -a "$out/first-image-$i.txt"
    else
      echo "first image, run $i: generate failed (rc $rc) after $(( (t1 - t0) / 1000000 )) ms" | tee -a "$out/first-image-$i.txt"
    fi
    grep -E "first image|preparation" "$out/first-image-$i.txt" | tail -2
  done
}

case "${1:-}" in
  stage) stage ;;
  run) run ;;
  main) shift; main_class "$@" ;;
  compare) compare ;;
  first-image) first_image ;;
  *) echo "usage: $0 stage|run|compare|first-image|main CLASS [ARGS]" >&2; exit 2 ;;
esac
