# Sourced by ./jdiffusion and by scripts/gpu-measure.sh's CLI runs: the JVM options of a user's run, in one place, so
# that a measured peak RSS is the one a user's run shows (the collector and the heap cap decide how much garbage stays
# resident). Sets the array jdiffusion_jvm_options.
#
# Weights (mapped files, packed panels), activation arenas and tensors all live off the Java heap, so the
# heap holds only per-run scratch (packed activation blocks, attention's packed K/V, latents, the decoded
# image): its size follows from the image, not from the model's weights, and 1 GiB covers a tiled 2048x2048
# decode (64 MiB of blending arrays) with room to spare. A fixed cap, unlike a share of RAM, keeps the
# collector from letting garbage grow into resident memory (SD 1.5 at 256x256 under -Xmx2g: 727 MB heap
# peak for 220 MB live).
# Counted-loop safepoints (loop strip mining): the parallel collector turns them off, and C2 then compiles the
# Vector API GEMM micro-kernel about 2x slower on AVX2 (measured on AMD Zen 3: 37 against 86 GFLOP/s on one
# core); G1 has them on by default. See docs/PERFORMANCE.md.
# Native memory that Java allocates (TornadoVM's host arrays: the GPU's arenas, workspaces and staging) counts
# against MaxDirectMemorySize, which defaults to -Xmx: at 1 GiB a 512x512 GPU bench with the 1x1 layers on cuBLAS
# was refused its VAE's staging (0.8 GiB already taken). It is a cap, not a reservation; the memory budget
# (--memory-budget) is what bounds the run.
jdiffusion_jvm_options=(--add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -XX:+UseParallelGC
     -XX:+UseCountedLoopSafepoints -XX:LoopStripMiningIter=1000
     -Xmx1g -XX:MaxDirectMemorySize=64g -Xss4m)
