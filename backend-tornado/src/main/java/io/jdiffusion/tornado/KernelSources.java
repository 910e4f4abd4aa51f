package io.jdiffusion.tornado;

import uk.ac.manchester.tornado.api.AccessorParameters;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.TornadoExecutionPlan;
import uk.ac.manchester.tornado.api.common.Access;
import uk.ac.manchester.tornado.api.common.TaskPackage;
import uk.ac.manchester.tornado.api.common.TornadoDevice;
import uk.ac.manchester.tornado.api.enums.DataTransferMode;
import uk.ac.manchester.tornado.api.exceptions.TornadoExecutionPlanException;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.reflect.Method;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.stream.Stream;

/**
 * The kernels compiled from Java in this JVM, per device: for each distinct kernel ({@link KernelKey}) the source
 * TornadoVM generated for it, which every task running that kernel, in any executable, runs as a prebuilt task
 * ({@link KernelTwins}). So the text encoder, the UNet and the VAE of a pipeline compile each kernel they share once,
 * and a second shape or a LoRA set compiles none.
 *
 * <p>A kernel is compiled in a plan of its own: one task, the kernel's method with its scalar arguments and one-element
 * arrays in the places of its arrays (Graal specialises on nothing else, see {@link KernelKey}). The kernels one
 * executable adds are compiled in parallel, each plan on a thread of its own, which TornadoVM supports (each
 * execution plan has its own code cache and command queues). Inside one plan TornadoVM runs Graal and then the
 * driver's compiler (NVRTC on the CUDA backend) for each kernel, one kernel after another; across plans its Graal
 * compilations still take turns ({@code compileSketchForDevice} is {@code synchronized static}), but the driver's
 * builds, most of the Java kernels' first-image time on a GPU, overlap each other and the next kernel's Graal.
 */
final class KernelSources {
    /** TornadoVM's code-cache options: write each source built, under this directory (relative to TORNADOVM_HOME). */
    private static final String DUMP_SOURCE = "tornado.opencl.source.dump";
    private static final String SOURCE_DIR = "tornado.opencl.source.dir";
    /** The suffix TornadoVM gives the sources it writes, on every backend; the kernel sources here take it too. */
    static final String SOURCE_SUFFIX = ".cl";
    /** Per device ("backend:device"), the kernels compiled so far. */
    private static final Map<String, Map<KernelKey, Kernel>> COMPILED = new ConcurrentHashMap<>();
    private static final AtomicLong PLANS = new AtomicLong();
    /** The id of the one task of a kernel's compilation graph. */
    private static final String TASK = "k";
    private static final AtomicInteger THREADS = new AtomicInteger();

    private KernelSources() {
    }

    /** A compiled kernel: its entry point, the source TornadoVM generated, and its arguments' accesses from the sketch. */
    record Kernel(String entryPoint, String source, Access[] accesses) {
    }

    /**
     * A kernel about to be compiled in a plan of its own: the task, already sketched (added to its graph, so its
     * accesses are known), and where its source will be found.
     */
    static final class Pending {
        private final KernelKey key;
        private final TaskGraph graph;
        /** The task's arguments with stand-ins for its arrays. */
        private final Object[] args;
        /** The stand-in arrays, each once, for the graphs' transfer lists. */
        private final Object[] arrays;
        private final String sourceFile;
        private final String entryPoint;
        private final Access[] accesses;

        private Pending(KernelKey key, TaskGraph graph, Object[] args, Object[] arrays, String sourceFile, String entryPoint,
                        Access[] accesses) {
            this.key = key;
            this.graph = graph;
            this.args = args;
            this.arrays = arrays;
            this.sourceFile = sourceFile;
            this.entryPoint = entryPoint;
            this.accesses = accesses;
        }

        Access[] accesses() {
            return accesses.clone();
        }
    }

    /** The kernel {@code key} if this JVM has compiled it for {@code device}. */
    static Optional<Kernel> compiled(TornadoDevice device, KernelKey key) {
        return Optional.ofNullable(COMPILED.getOrDefault(TornadoDevices.indices(device), Map.of()).get(key));
    }

    /** Forgets the kernels compiled for {@code device}, so that the next executables compile theirs again (for tests). */
    static void forget(TornadoDevice device) {
        COMPILED.remove(TornadoDevices.indices(device));
    }

    /**
     * Sketches {@code task}'s kernel in a one-task graph of its own on {@code device}, with one-element arrays of the
     * same types in the places of its arrays (the same array twice where the task passes one twice), ready for
     * {@link #compile}. Sketching runs on the calling thread.
     */
    static Pending sketch(TornadoDevice device, KernelKey key, TaskPackage task) {
        Object[] params = task.getTaskParameters();
        Object[] args = new Object[params.length - 1];
        Map<Object, Object> stand = new IdentityHashMap<>();
        for (int i = 1; i < params.length; i++) {
            Object a = params[i];
            args[i - 1] = KernelKey.isScalar(a) ? a : stand.computeIfAbsent(a, KernelSources::standIn);
        }
        String graphName = newGraphName();
        TaskGraph graph = KernelTwins.onDevice(device, graphName, TaskGraph::new);
        Object[] arrays = stand.values().stream().filter(a -> !(a instanceof KernelContext)).toArray();
        declare(graph, arrays);
        graph.addTask(repackaged(TASK, params[0], args));
        Method method = key.method();
        return new Pending(key, graph, args, arrays, graphName + "." + TASK + "-" + method.getName() + SOURCE_SUFFIX,
                method.getName(), SketchAccesses.of(method, device));
    }

    /** A name for the one-task graph of a kernel's compilation, unique in the JVM. */
    private static String newGraphName() {
        return "jdiffusion_kernel_" + PLANS.incrementAndGet();
    }

    private static void declare(TaskGraph graph, Object[] arrays) {
        if (arrays.length > 0) {
            graph.transferToDevice(DataTransferMode.FIRST_EXECUTION, arrays);
        }
    }

    /**
     * Compiles {@code pending} on {@code device}, on up to {@code threads} threads, and records their sources for every
     * later executable, edited where {@code edits} say so (the tensor-core kernels' launch bounds, the attention's
     * exponentials).
     * TornadoVM writes the sources while the plans compile, into a directory made for them; its options are system
     * properties that a plan's code cache reads when it is made, so compilations take turns here (a plan compiling
     * elsewhere meanwhile writes its sources here too, which costs nothing but the files).
     */
    static void compile(TornadoDevice device, List<Pending> pending, int threads, SourceEdits edits) {
        if (pending.isEmpty()) {
            return;
        }
        Map<KernelKey, Kernel> compiled = COMPILED.computeIfAbsent(TornadoDevices.indices(device), d -> new ConcurrentHashMap<>());
        Path dir = temporaryDirectory("jdiffusion-kernels-");
        try {
            withSourcesWrittenTo(dir, () -> inParallel(pending, threads, p -> {
                inPlanOfItsOwn(device, p.graph, p.entryPoint);
                String generated = read(dir, p.sourceFile);
                String source = edits.apply(p.key.method(), generated);
                if (!source.equals(generated)) {
                    // built here, beside the other kernels, so that the executable's plan finds NVRTC's binary cached
                    inPlanOfItsOwn(device, prebuilt(device, p, source, dir), p.entryPoint);
                }
                compiled.putIfAbsent(p.key, new Kernel(p.entryPoint, source, p.accesses));
            }));
        } finally {
            deleteTree(dir);
        }
    }

    private static void inParallel(List<Pending> pending, int threads, Consumer<Pending> compile) {
        int n = Math.min(threads, pending.size());
        if (n <= 1) {
            pending.forEach(compile);
            return;
        }
        ExecutorService pool = Executors.newFixedThreadPool(n, r -> {
            Thread t = new Thread(r, "jdiffusion-kernel-compiler-" + THREADS.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        try {
            List<Future<?>> done = new ArrayList<>();
            for (Pending p : pending) {
                done.add(pool.submit(() -> compile.accept(p)));
            }
            RuntimeException failure = null;
            for (Future<?> f : done) {
                try {
                    f.get();
                } catch (ExecutionException e) {
                    RuntimeException cause = e.getCause() instanceof RuntimeException r ? r
                            : new IllegalStateException("compiling a kernel failed: " + e.getCause(), e.getCause());
                    if (failure == null) {
                        failure = cause;
                    } else {
                        failure.addSuppressed(cause);
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException("interrupted while the kernels compiled", e);
                }
            }
            if (failure != null) {
                throw failure;
            }
        } finally {
            pool.shutdownNow();
        }
    }

    /** Compiles {@code graph}'s one task in a plan of its own, freed at once. */
    private static void inPlanOfItsOwn(TornadoDevice device, TaskGraph graph, String entryPoint) {
        try (TornadoExecutionPlan plan = new TornadoExecutionPlan(graph.snapshot()).withDevice(device)) {
            plan.withPreCompilation();
        } catch (TornadoExecutionPlanException e) {
            throw new IllegalStateException("releasing the plan that compiled kernel " + entryPoint + " failed", e);
        } finally {
            TornadoDevices.keepOtherPlansRunning(device);
        }
    }

    /** A one-task graph running {@code source} (written under {@code dir}) as a prebuilt task on {@code p}'s stand-ins. */
    private static TaskGraph prebuilt(TornadoDevice device, Pending p, String source, Path dir) {
        Path file = dir.resolve("edited-" + PLANS.incrementAndGet() + "-" + p.entryPoint + SOURCE_SUFFIX);
        try {
            Files.writeString(file, source);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file, e);
        }
        TaskGraph graph = KernelTwins.onDevice(device, newGraphName(), TaskGraph::new);
        declare(graph, p.arrays);
        return graph.prebuiltTask(TASK, p.entryPoint, file.toString(), accessors(p.args, p.accesses));
    }

    /** A prebuilt task's arguments, each with its access. */
    static AccessorParameters accessors(Object[] args, Access[] accesses) {
        AccessorParameters accessors = new AccessorParameters(args.length);
        for (int i = 0; i < args.length; i++) {
            accessors.set(i, args[i], accesses[i]);
        }
        return accessors;
    }

    /** The source TornadoVM wrote for a plan's kernel, in the device's folder under {@code dir} ("device-" and its indices). */
    private static String read(Path dir, String fileName) {
        try (Stream<Path> files = Files.walk(dir)) {
            Path file = files.filter(f -> f.getFileName().toString().equals(fileName)).findFirst()
                    .orElseThrow(() -> new IllegalStateException("TornadoVM wrote no source " + fileName + " under " + dir
                            + " (set -D" + TornadoSettings.KERNEL_TWINS + "=false to compile every task from Java)"));
            return Files.readString(file);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the kernel sources under " + dir, e);
        }
    }

    private static synchronized void withSourcesWrittenTo(Path dir, Runnable compilation) {
        String dumpBefore = System.getProperty(DUMP_SOURCE);
        String dirBefore = System.getProperty(SOURCE_DIR);
        // TornadoVM resolves the directory under TORNADOVM_HOME
        System.setProperty(DUMP_SOURCE, "true");
        System.setProperty(SOURCE_DIR, Path.of(System.getenv("TORNADOVM_HOME")).toAbsolutePath().relativize(dir.toAbsolutePath()).toString());
        try {
            compilation.run();
        } finally {
            restore(DUMP_SOURCE, dumpBefore);
            restore(SOURCE_DIR, dirBefore);
        }
    }

    /** A one-element array of {@code a}'s type (a new context for a {@link KernelContext}). */
    private static Object standIn(Object a) {
        if (a instanceof KernelContext) {
            return new KernelContext();
        }
        try {
            return a.getClass().getConstructor(int.class).newInstance(1);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("no one-element stand-in for a kernel argument of " + a.getClass()
                    + " (set -D" + TornadoSettings.KERNEL_TWINS + "=false to compile every task from Java)", e);
        }
    }

    /** A task package of {@code code} on {@code args}, made by the {@code createPackage} overload of that arity. */
    private static TaskPackage repackaged(String id, Object code, Object[] args) {
        for (Method m : TaskPackage.class.getMethods()) {
            if (m.getName().equals("createPackage") && m.getParameterCount() == args.length + 2
                    && m.getParameterTypes()[1].isInstance(code)) {
                Object[] call = new Object[args.length + 2];
                call[0] = id;
                call[1] = code;
                System.arraycopy(args, 0, call, 2, args.length);
                try {
                    return (TaskPackage) m.invoke(null, call);
                } catch (ReflectiveOperationException e) {
                    throw new IllegalStateException("TaskPackage.createPackage with " + args.length + " arguments failed: " + e, e);
                }
            }
        }
        throw new IllegalStateException("TornadoVM has no TaskPackage.createPackage for " + args.length + " arguments");
    }

    static Path temporaryDirectory(String prefix) {
        try {
            return Files.createTempDirectory(prefix);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create a directory for kernel sources", e);
        }
    }

    private static void restore(String key, String value) {
        if (value == null) {
            System.clearProperty(key);
        } else {
            System.setProperty(key, value);
        }
    }

    static void deleteTree(Path root) {
        if (root == null || !Files.exists(root)) {
            return;
        }
        try (Stream<Path> files = Files.walk(root)) {
            for (Path f : files.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(f);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot delete " + root, e);
        }
    }
}
