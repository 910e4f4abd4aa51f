package io.jdiffusion.tornado;

import io.jdiffusion.tornado.kernels.NormKernels;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.function.IntPredicate;

/**
 * The TornadoVM backend's knobs, read from system properties and validated here, so that a bad value fails with
 * one message naming the property; and the TornadoVM options the backend sets by default.
 *
 * <p>jdiffusion's own options are read each time they are asked for (a JVM can compile both forms of a graph):
 * <ul>
 *   <li>{@value #DEVICE} = "backend:device", TornadoVM's indices (default: see {@link TornadoDevices});</li>
 *   <li>{@value #LIBRARIES} = false keeps every operator on the Java kernels on TornadoVM's CUDA backend;</li>
 *   <li>{@value #CUDA_GRAPH} = false turns CUDA-graph replay off on the PTX and CUDA backends;</li>
 *   <li>{@value #WINOGRAD} = false keeps F32 3x3 convolutions on the implicit GEMM;</li>
 *   <li>{@value #TENSOR_CORE_ATTENTION} = false keeps F16 attention off the tensor-core flash kernel, on the F32 flash
 *       kernels (PTX, CUDA without the libraries; what {@link ScoreAttention} takes still runs as two products);</li>
 *   <li>{@value #ASYNC_COPIES} = false keeps the CUDA backend's tensor-core products on the GEMM that stages its operands
 *       through registers, as on PTX;</li>
 *   <li>{@value #CUDNN_FUSED} = true lets a cuDNN convolution's bias and residual go into
 *       cudnnConvolutionBiasActivationForward (default: a convolution, then cudnnAddTensor for each);</li>
 *   <li>{@value #CUDNN_GRAPH} = true runs F16 cuDNN convolutions as execution plans of cuDNN's graph API, engines
 *       chosen by its heuristics (default false: the legacy cudnnConvolutionForward, algorithm measured by cuDNN);</li>
 *   <li>{@value #CUDNN_FILTER_NHWC} = true hands cuDNN its F16 filters KRSC, the layout its tensor-core kernels
 *       read, transposed once when the weights are prepared (default: as {@value #CUDNN_GRAPH}; false keeps
 *       PyTorch's KCRS); needs {@value #CUDNN_GRAPH}, as the legacy API refuses a KRSC filter beside NCHW
 *       activations;</li>
 *   <li>{@value #CUDNN_ATTENTION_GRAPH} = true runs F16 attention on cuDNN's graph API on its operands in place,
 *       not staged for TornadoVM's binding (off until measured on a GPU);</li>
 *   <li>{@value #CUDNN_PLANS_IN_BACKGROUND} = false builds cuDNN's plans on the preparing thread, one after
 *       another between TornadoVM's kernel compilations, instead of on a thread of each cuDNN handle's own while
 *       TornadoVM compiles ({@link io.jdiffusion.tornado.nvidia.BackgroundPlans});</li>
 *   <li>{@value #CUDNN_POINTWISE} = false takes 1x1 convolutions from cuDNN to im2col and cuBLAS;</li>
 *   <li>{@value #KERNEL_TWINS} = false compiles every task from Java, as TornadoVM does, instead of each distinct
 *       kernel once ({@link KernelTwins}; on by default where TornadoVM can write kernel sources, see
 *       {@link TornadoDevices#compilesKernelsOnce});</li>
 *   <li>{@value #GEMM_WORK_GROUPS_PER_SM}: work-groups of the tensor-core GEMM per multiprocessor that its source's launch
 *       bounds ask NVRTC to fit on TornadoVM's CUDA backend, so its registers a thread ({@link LaunchBounds}; default
 *       {@value #DEFAULT_GEMM_WORK_GROUPS_PER_SM}; 1 leaves them to NVRTC);</li>
 *   <li>{@value #ATTENTION_WORK_GROUPS_PER_SM}: the same for the tensor-core flash attention (default
 *       {@value #DEFAULT_ATTENTION_WORK_GROUPS_PER_SM}; 1 to 5, as five of its 42 KiB of local memory fit an SM);</li>
 *   <li>{@value #ATTENTION_FAST_EXP} = false keeps the tensor-core flash attention's exponentials as NVRTC builds
 *       {@code exp} on TornadoVM's CUDA backend, instead of {@code __expf} ({@link SourceEdits}; on an H100 the
 *       UNet call on the Java kernels took 0.8-0.9 ms less with {@code __expf}, docs/PERFORMANCE.md);</li>
 *   <li>{@value #COMPILE_THREADS}: how many of an executable's new kernels are compiled at once, each in a plan of
 *       its own ({@link KernelSources}; default: the available processors; 1 compiles one after another);</li>
 *   <li>{@value #PROFILE} = true records TornadoVM's per-task profile of every run (slower; for benchmarks);</li>
 *   <li>{@value #WIDE_HEAD_ATTENTION} = false keeps attention with heads wider than the fused kernels take (the VAE's)
 *       on the Java flash kernel instead of two products around a softmax: on cuBLASLt in F16 where the NVIDIA libraries
 *       run ({@link WideHeadAttention}), on the Java kernels elsewhere ({@link ScoreAttention});</li>
 *   <li>{@value #ATTENTION_SCORE_BYTES}: bytes of F32 scores one chunk of queries of {@link ScoreAttention} may take
 *       (default {@value WideHeadAttention#SCORE_BYTES}, as on cuBLASLt; smaller values make tests of chunks);</li>
 *   <li>{@value #SCORE_ATTENTION_KEYS}: the fewest keys at which F16 attention with heads the tensor-core flash kernel
 *       takes (and at least {@value ScoreAttention#MIN_HEAD} wide) runs as two products around a softmax on the
 *       tensor-core GEMM instead ({@link ScoreAttention}; default {@value #DEFAULT_SCORE_ATTENTION_KEYS}: never, as
 *       the flash kernel is ahead at every such head);</li>
 *   <li>{@value #GROUP_NORM_SLICE}: elements per work-group of a GroupNorm split over its groups' slices (default
 *       {@link NormKernels#DEFAULT_SLICE}; a group of two slices or more splits);</li>
 *   <li>{@value #OPERAND_ALIGNMENT}: bytes to which the activation arena aligns every value's first element on the
 *       device where the NVIDIA libraries run (default {@value #DEFAULT_OPERAND_ALIGNMENT}, the arena's own; a power
 *       of two from 16; see {@link BufferLayout});</li>
 *   <li>{@value #SPLIT_K}: how the tensor-core GEMM splits a product of few output tiles along K ({@link SplitK}): 0
 *       (default) chooses by the device's multiprocessors, 1 never splits, N from 2 to {@value #MAX_SPLIT_K} splits
 *       every product into N parts where its K allows (for tests);</li>
 *   <li>{@value #TASKS_PER_GRAPH}: at most this many kernel launches per chained TornadoVM task graph (default
 *       {@value #DEFAULT_TASKS_PER_GRAPH}; the chain is also cut by TornadoVM's task-graph bytes).</li>
 * </ul>
 */
public final class TornadoSettings {
    public static final String DEVICE = "jdiffusion.tornado.device";
    public static final String LIBRARIES = "jdiffusion.tornado.libraries";
    public static final String CUDA_GRAPH = "jdiffusion.tornado.cudaGraph";
    public static final String WINOGRAD = "jdiffusion.tornado.winograd";
    public static final String TENSOR_CORE_ATTENTION = "jdiffusion.tornado.tensorCoreAttention";
    public static final String ASYNC_COPIES = "jdiffusion.tornado.asyncCopies";
    public static final String PROFILE = "jdiffusion.tornado.profile";
    public static final String CUDNN_FUSED = "jdiffusion.tornado.cudnnFused";
    public static final String CUDNN_POINTWISE = "jdiffusion.tornado.cudnnPointwise";
    /** TornadoVM's option: whether its CUDA backend page-locks host arrays (TornadoVM's default true; see {@link #runtimeDefaults}). */
    static final String CUDA_HOST_PINNING = "tornado.cuda.host.pinning";
    public static final String TASKS_PER_GRAPH = "jdiffusion.tornado.tasksPerGraph";
    public static final String WIDE_HEAD_ATTENTION = "jdiffusion.tornado.wideHeadAttention";
    public static final String GROUP_NORM_SLICE = "jdiffusion.tornado.groupNormSlice";
    public static final String OPERAND_ALIGNMENT = "jdiffusion.tornado.operandAlignment";
    public static final String CUDNN_FILTER_NHWC = "jdiffusion.tornado.cudnnFilterNhwc";
    public static final String CUDNN_GRAPH = "jdiffusion.tornado.cudnnGraph";
    public static final String CUDNN_ATTENTION_GRAPH = "jdiffusion.tornado.cudnnAttentionGraph";
    public static final String CUDNN_PLANS_IN_BACKGROUND = "jdiffusion.tornado.cudnnPlansInBackground";
    public static final String SPLIT_K = "jdiffusion.tornado.splitK";
    public static final String ATTENTION_SCORE_BYTES = "jdiffusion.tornado.attentionScoreBytes";
    public static final String SCORE_ATTENTION_KEYS = "jdiffusion.tornado.scoreAttentionKeys";
    public static final String KERNEL_TWINS = "jdiffusion.tornado.kernelTwins";
    public static final String COMPILE_THREADS = "jdiffusion.tornado.compileThreads";
    public static final String GEMM_WORK_GROUPS_PER_SM = "jdiffusion.tornado.gemmWorkGroupsPerSm";
    public static final String ATTENTION_WORK_GROUPS_PER_SM = "jdiffusion.tornado.attentionWorkGroupsPerSm";
    public static final String ATTENTION_FAST_EXP = "jdiffusion.tornado.attentionFastExp";
    /** {@value #ATTENTION_WORK_GROUPS_PER_SM}'s default: left to NVRTC. */
    static final int DEFAULT_ATTENTION_WORK_GROUPS_PER_SM = 1;
    /** {@value #GEMM_WORK_GROUPS_PER_SM}'s default: two work-groups of 256 threads, 128 registers a thread (as on PTX). */
    static final int DEFAULT_GEMM_WORK_GROUPS_PER_SM = 2;
    /**
     * {@value #SCORE_ATTENTION_KEYS}'s default: never. Until the flash kernel's lanes read back their own scores, SD
     * 1.5's second-level self-attention (heads of 80 over 1024 keys) took the two products from 1024 keys on.
     */
    static final int DEFAULT_SCORE_ATTENTION_KEYS = 0;
    /** The most K splits {@value #SPLIT_K} may ask for. */
    static final int MAX_SPLIT_K = 64;
    /**
     * The arena's own alignment (16 bytes: {@link BufferLayout#ALIGN} elements past TornadoVM's 16-byte header), so
     * no shift. cuDNN measures its algorithms on buffers it allocates itself (cudaMalloc's, 256-byte aligned); on
     * these operands it ran some of the UNet's 3x3 convolutions that it had measured on tensor cores on its SIMT kernel
     * instead (Nsight Compute, docs/PERFORMANCE.md). 256 is the candidate, not yet measured on a GPU:
     * scripts/cudnn_alignment_probe.py tells whether alignment is the cause.
     */
    static final int DEFAULT_OPERAND_ALIGNMENT = 16;
    private static final int MAX_OPERAND_ALIGNMENT = 4096;

    /**
     * The cap on kernel launches per chained task graph. The chain is cut by the bytes of TornadoVM's 8 KiB
     * task-graph buffer ({@link TaskGraphChain}), which hold 70 to 130 typical tasks; the cap stays at 60 by default
     * because a UNet chained at 100 tasks a graph did not finish its first run (JIT) on an H200's CUDA backend within
     * the measuring call's time limit (docs/PERFORMANCE.md), where 60 took under a minute. No task takes fewer than 25 bytes.
     */
    static final int DEFAULT_TASKS_PER_GRAPH = 60;
    private static final int MAX_TASKS_PER_GRAPH = 8192 / 25;

    /**
     * Rows of TornadoVM's event wait lists ({@code tornado.max.events}, default 32768 ints): the interpreter clears
     * every row at every execute of every task graph, 128 KiB a row, which was most of the host time of a UNet
     * call. The rows are filled only with {@code tornado.vm.deps} or intra-plan concurrency, which the backend does
     * not use; with either, a row holds the events one operation waits for, at most a graph's transfers and tasks.
     */
    static final int MAX_EVENTS = 256;

    /** TornadoVM's option for the PTX backend's JIT ({@code cuModuleLoadDataEx}): "FLAG VALUE" pairs. */
    static final String PTX_COMPILER_FLAGS = "tornado.ptx.compiler.flags";
    /**
     * The registers a thread the PTX backend's kernels may take. Left to the driver's JIT, the tensor-core GEMM took 255
     * (16 accumulator fragments, the prefetched operands of the next K step, the loaders' addresses), so one
     * work-group of 8 warps ran per SM (Nsight Compute, H200, docs/PERFORMANCE.md); at 128 two fit. On an H100
     * (2026-12-07), F16 at 512x512: the UNet call 98.1 to 89.5 ms, the VAE decode 58.4 to 50.7 ms; the UNet's
     * convolutions 1.24-1.42x faster but the VAE's 1x512x64x64 one 0.92x; at 80 every product was slower than at 255,
     * and at 84 (three work-groups per SM, with the im2col table) every product was slower than at 128: UNet 103 ms.
     */
    static final int PTX_MAX_REGISTERS = 128;

    private TornadoSettings() {
    }

    /** The device asked for as {backend, device}, or empty for the backend's own choice. */
    static Optional<int[]> device() {
        String s = System.getProperty(DEVICE, "").strip();
        if (s.isEmpty()) {
            return Optional.empty();
        }
        String[] parts = s.split(":", -1);
        try {
            if (parts.length <= 2) {
                int backend = Integer.parseInt(parts[0].strip());
                int device = parts.length > 1 ? Integer.parseInt(parts[1].strip()) : 0;
                if (backend >= 0 && device >= 0) {
                    return Optional.of(new int[]{backend, device});
                }
            }
        } catch (NumberFormatException ignored) {
            // reported below
        }
        throw new IllegalArgumentException(DEVICE + " must be backend:device (TornadoVM's indices, e.g. 1:0), got '" + s + "'");
    }

    /** Whether products and attention may go through cuBLAS/cuDNN on TornadoVM's CUDA backend (default true). */
    static boolean libraries() {
        return flag(LIBRARIES, true);
    }

    /**
     * Whether a cuDNN convolution with bias and residual may run as one cudnnConvolutionBiasActivationForward where
     * its algorithm allows (default false: with cuDNN 9 on an H100 that call ran the SIMT implicit GEMM even where cuDNN's
     * measurement chose a tensor-core algorithm for the unfused convolution, whose two cudnnAddTensor cost far less).
     */
    static boolean cudnnFused() {
        return flag(CUDNN_FUSED, false);
    }

    /** Whether cuDNN's plans are built in the background while TornadoVM compiles a plan's kernels (default true). */
    static boolean cudnnPlansInBackground() {
        return flag(CUDNN_PLANS_IN_BACKGROUND, true);
    }

    /** Whether TornadoVM's CUDA backend page-locks host arrays: false unless the command line turned it back on. */
    static boolean cudaHostPinning() {
        return Boolean.parseBoolean(System.getProperty(CUDA_HOST_PINNING, "true"));
    }

    /**
     * Whether 1x1 stride-1 convolutions go to cuDNN like the others, or (default) to one cuBLASLt product on the
     * arena where their operands allow it ({@link PointwiseConvolution}).
     */
    static boolean cudnnPointwise() {
        return flag(CUDNN_POINTWISE, false);
    }

    /**
     * Whether F16 cuDNN convolutions run as execution plans of cuDNN's graph API ({@code ConvGraphPlan}), the way
     * PyTorch calls cuDNN. The legacy cudnnConvolutionForward ran five of the UNet's layers on cuDNN's SIMT kernel on
     * an H200 (2.6 ms of an 18.4 ms call) whatever the operands' alignment (scripts/cudnn_alignment_probe.py,
     * docs/PERFORMANCE.md). On by default since it measured faster (512x512 UNet call on an H100: 20.24 ms median
     * against 23.04 ms legacy, 2026-12-06); {@code =false} keeps the legacy API.
     */
    static boolean cudnnGraph() {
        return flag(CUDNN_GRAPH, true);
    }

    /**
     * Whether cuDNN's F16 filters are stored KRSC (NHWC) on the device, transposed once as the weights are prepared.
     * With KCRS filters cuDNN's tensor-core implicit GEMMs transpose every filter at every call: 2.7 ms of a 512x512
     * UNet call on an H200 (Nsight Compute, docs/PERFORMANCE.md). cuDNN 9.19's legacy API refuses a KRSC filter beside
     * NCHW activations (CUDNN_STATUS_NOT_SUPPORTED, every shape, H200), so this needs {@link #cudnnGraph} and
     * follows it by default. Side by side on an H100 (2026-12-06, two JVMs each, alternating), the 512x512 UNet
     * call's median went from 18.84 and 18.43 ms with KCRS filters to 15.84 and 14.56 ms with KRSC ones, and the
     * CUDA-backend network tests passed with them.
     */
    static boolean cudnnFilterNhwc() {
        boolean krsc = flag(CUDNN_FILTER_NHWC, cudnnGraph());
        if (krsc && !cudnnGraph()) {
            throw new IllegalArgumentException(CUDNN_FILTER_NHWC + "=true needs " + CUDNN_GRAPH
                    + "=true: cuDNN's legacy API refuses a KRSC filter beside NCHW activations");
        }
        return krsc;
    }

    /**
     * Whether F16 attention whose operands all lie in the F16 arena runs as cuDNN's fused attention on those operands
     * in place, through its graph API ({@code SdpaGraphPlan}), instead of through TornadoVM's binding, whose whole-array
     * operands cost four staging copies per attention (about 1 ms of a 512x512 UNet call on an H200,
     * docs/PERFORMANCE.md). Causal attention (the text encoder's) stays on the binding: cuDNN's single SDPA operation
     * takes masks only from cuDNN 9.21. On by default since it measured faster (512x512 UNet call on an H100 with
     * {@link #cudnnGraph}: 17.24 ms median against 20.24 ms staged, 2026-12-06); {@code =false} stages for the binding.
     */
    static boolean cudnnAttentionGraph() {
        return flag(CUDNN_ATTENTION_GRAPH, true);
    }

    /** Whether execution plans replay as CUDA graphs on the PTX and CUDA backends (default true). */
    static boolean cudaGraph() {
        return flag(CUDA_GRAPH, true);
    }

    /** Whether F32 3x3 stride-1 convolutions may run as Winograd F(4x4,3x3) (default true). */
    static boolean winograd() {
        return flag(WINOGRAD, true);
    }

    /** Whether F16 attention may run on the tensor-core flash kernel (PTX and CUDA backends; default true). */
    static boolean tensorCoreAttention() {
        return flag(TENSOR_CORE_ATTENTION, true);
    }

    /**
     * Whether the tensor-core GEMM copies its weight tiles with {@code cp.async} on TornadoVM's CUDA backend
     * ({@link io.jdiffusion.tornado.kernels.TensorCoreAsyncGemm}; default true); the PTX backend has no such copy.
     */
    static boolean asyncCopies() {
        return flag(ASYNC_COPIES, true);
    }

    /**
     * Whether attention with heads wider than the fused kernels take may run as two products around a softmax (default
     * true): on cuBLASLt in F16, or on the Java kernels.
     */
    static boolean wideHeadAttention() {
        return flag(WIDE_HEAD_ATTENTION, true);
    }

    /** {@value #ATTENTION_SCORE_BYTES}: from 1 KiB to 1 GiB. */
    static long attentionScoreBytes() {
        return integer(ATTENTION_SCORE_BYTES, (int) WideHeadAttention.SCORE_BYTES, n -> n >= 1 << 10 && n <= 1 << 30,
                "a byte count from 1024 to " + (1 << 30));
    }

    /** {@value #SCORE_ATTENTION_KEYS}: 0 (never) or a key count from 1 to 2^24. */
    static int scoreAttentionKeys() {
        return integer(SCORE_ATTENTION_KEYS, DEFAULT_SCORE_ATTENTION_KEYS, n -> n >= 0 && n <= 1 << 24, "0 (never) or a key count up to "
                + (1 << 24));
    }

    /**
     * Whether the tasks that run the same kernel share one compilation from Java ({@link KernelTwins}; OpenCL and CUDA
     * backends, see {@link TornadoDevices#compilesKernelsOnce}; default true).
     */
    static boolean kernelTwins() {
        return flag(KERNEL_TWINS, true);
    }

    /** Kernels compiled at once, each in a plan of its own (default: the available processors). */
    static int compileThreads() {
        return integer(COMPILE_THREADS, Runtime.getRuntime().availableProcessors(), n -> n >= 1, "a thread count of at least 1");
    }

    /** Work-groups of the tensor-core GEMM a multiprocessor its launch bounds ask for on the CUDA backend, 1 to 4. */
    static int gemmWorkGroupsPerSm() {
        return integer(GEMM_WORK_GROUPS_PER_SM, DEFAULT_GEMM_WORK_GROUPS_PER_SM, n -> n >= 1 && n <= 4, "a work-group count from 1 to 4");
    }

    /** Work-groups a multiprocessor that the tensor-core flash attention's launch bounds ask for (1 to 5; 1: none). */
    static int attentionWorkGroupsPerSm() {
        return integer(ATTENTION_WORK_GROUPS_PER_SM, DEFAULT_ATTENTION_WORK_GROUPS_PER_SM, n -> n >= 1 && n <= 5,
                "a work-group count from 1 to 5");
    }

    /** Whether the flash attention's exponentials are built as {@code __expf} on the CUDA backend (default true). */
    static boolean attentionFastExp() {
        return flag(ATTENTION_FAST_EXP, true);
    }

    /** Whether runs record TornadoVM's per-task profile (default false). */
    static boolean profile() {
        return flag(PROFILE, false);
    }

    /** At most this many kernel launches per chained task graph, 1 to {@value #MAX_TASKS_PER_GRAPH}. */
    static int tasksPerGraph() {
        return integer(TASKS_PER_GRAPH, DEFAULT_TASKS_PER_GRAPH, n -> n >= 1 && n <= MAX_TASKS_PER_GRAPH, "a task count from 1 to "
                + MAX_TASKS_PER_GRAPH + " (TornadoVM's 8 KiB task-graph buffer holds at most that many)");
    }

    /** Elements of a slice of a split GroupNorm: {@value #GROUP_NORM_SLICE}, from 256 (one a thread) to 2^24. */
    static int groupNormSlice() {
        return integer(GROUP_NORM_SLICE, NormKernels.DEFAULT_SLICE, n -> n >= NormKernels.THREADS && n <= 1 << 24,
                "an element count from " + NormKernels.THREADS + " to " + (1 << 24));
    }

    /** {@value #SPLIT_K}: 0 (choose), 1 (never split) or a forced split count up to {@value #MAX_SPLIT_K}. */
    static int splitK() {
        return integer(SPLIT_K, 0, n -> n >= 0 && n <= MAX_SPLIT_K, "0 (chosen per product), 1 (no split) or a split count up to "
                + MAX_SPLIT_K);
    }

    /** {@value #OPERAND_ALIGNMENT} in bytes: a power of two from 16 to {@value #MAX_OPERAND_ALIGNMENT}. */
    static int operandAlignment() {
        return integer(OPERAND_ALIGNMENT, DEFAULT_OPERAND_ALIGNMENT, n -> n >= 16 && n <= MAX_OPERAND_ALIGNMENT && Integer.bitCount(n) == 1,
                "a power of two from 16 to " + MAX_OPERAND_ALIGNMENT + " bytes");
    }

    /** An integer setting: {@code otherwise} where unset, else its value where {@code valid}, else one error naming it. */
    private static int integer(String key, int otherwise, IntPredicate valid, String expected) {
        String s = System.getProperty(key);
        if (s == null || s.isBlank()) {
            return otherwise;
        }
        try {
            int n = Integer.parseInt(s.strip());
            if (valid.test(n)) {
                return n;
            }
        } catch (NumberFormatException ignored) {
            // reported below
        }
        throw new IllegalArgumentException(key + " must be " + expected + ", got '" + s + "'");
    }

    private static boolean flag(String key, boolean otherwise) {
        String s = System.getProperty(key);
        if (s == null || s.isBlank()) {
            return otherwise;
        }
        return switch (s.strip().toLowerCase(Locale.ROOT)) {
            case "true" -> true;
            case "false" -> false;
            default -> throw new IllegalArgumentException(key + " must be true or false, got '" + s + "'");
        };
    }

    /**
     * TornadoVM options the backend sets unless given on the command line. TornadoVM reads them once, when its
     * runtime classes initialise, so {@link #applyRuntimeDefaults()} runs before the first TornadoVM call.
     * <ul>
     *   <li>{@code tornado.recover.bailout=False}: a kernel that fails to compile must fail, not run as plain Java;</li>
     *   <li>{@code tornado.tvm.maxbytecodesize}: a network call is a chain of task graphs with thousands of
     *       bytecodes in all, past the 4 KiB default;</li>
     *   <li>{@code tornado.device.memory=64GB}: SD's weights exceed the default 4 GB device budget;</li>
     *   <li>{@code tornado.max.events}: see {@link #MAX_EVENTS};</li>
     *   <li>{@code tornado.cuda.host.pinning=false}: TornadoVM's CUDA backend page-locks ({@code cuMemHostRegister})
     *       the host side of every array it allocates on the device, so every weight, arena and workspace stayed
     *       resident and locked on the host, and the weights' host arrays, which live in a mapped file so that they
     *       can leave the resident set ({@link DeviceArrays}), cannot be locked (the driver refuses file-backed
     *       pages and TornadoVM logs an error for each). Without it, on an H100 (docs/PERFORMANCE.md), the CLI's
     *       20-step bench peaked at 3.38 GiB of host RSS at 512x512 and 3.84 GiB at 1024x1024, and the CUDA
     *       backend's StreamOrderTest and SteadyInputTest passed under CUDA-graph replay; a call's inputs and
     *       outputs (a few hundred KiB) are copied from pageable memory;</li>
     *   <li>{@value #PTX_COMPILER_FLAGS}: TornadoVM's optimisation level 4 and {@link #PTX_MAX_REGISTERS} registers a
     *       thread (PTX backend only; the CUDA backend compiles with NVRTC and its own flags).</li>
     * </ul>
     * {@code tornado.vmflush} stays TornadoVM's (true: every task graph's execute ends with a stream
     * synchronisation). With false, on an H200 on 2026-12-04, the PTX backend handed the host unfinished outputs
     * (the copy to the host is a step of the last CUDA graph, launched asynchronously): {@code StreamOrderTest}
     * failed until a run ended with a stream synchronisation of its own ({@link TornadoExecutable}), and even then
     * the tiny img2img pipeline's image differed from backend-cpu once, where it matched with true. Turn it off with
     * {@code -Dtornado.vmflush=false} only to measure.
     */
    static Map<String, String> runtimeDefaults() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("tornado.recover.bailout", "False");
        m.put("tornado.tvm.maxbytecodesize", Integer.toString(1 << 20));
        m.put("tornado.device.memory", "64GB");
        m.put("tornado.max.events", Integer.toString(MAX_EVENTS));
        m.put(CUDA_HOST_PINNING, "false");
        m.put(PTX_COMPILER_FLAGS, "CU_JIT_OPTIMIZATION_LEVEL 4 CU_JIT_MAX_REGISTERS " + PTX_MAX_REGISTERS);
        return m;
    }

    /** Sets each of {@link #runtimeDefaults()} that the command line left unset. */
    static void applyRuntimeDefaults() {
        runtimeDefaults().forEach((key, value) -> {
            if (System.getProperty(key) == null) {
                System.setProperty(key, value);
            }
        });
    }
}
