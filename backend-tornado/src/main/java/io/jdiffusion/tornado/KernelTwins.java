package io.jdiffusion.tornado;

import io.jdiffusion.tornado.kernels.PointwiseKernels;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.TornadoExecutionPlan;
import uk.ac.manchester.tornado.api.TornadoTaskGraphInterface;
import uk.ac.manchester.tornado.api.common.Access;
import uk.ac.manchester.tornado.api.common.TaskPackage;
import uk.ac.manchester.tornado.api.common.TornadoDevice;
import uk.ac.manchester.tornado.api.enums.DataTransferMode;
import uk.ac.manchester.tornado.api.exceptions.TornadoExecutionPlanException;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.runtime.analyzer.TaskUtils;
import uk.ac.manchester.tornado.runtime.tasks.meta.ScheduleContext;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import java.util.stream.Stream;

/**
 * Compiles each distinct kernel of an executable once. TornadoVM compiles every task on its own, even where another
 * task runs the same Java method with the same scalar arguments: Graal specialises the method for the task, and its
 * code cache is keyed by task. On an H100's CUDA backend with the Java kernels, the UNet's 745 tasks of 16 methods
 * spent 20.5 s in Graal (docs/PERFORMANCE.md).
 *
 * <p>Here only the first task of each kernel (its <em>exemplar</em>) is a Java task. Its twins, the later tasks with
 * the same method, the same scalar arguments and the same pattern of repeated array arguments (all that Graal
 * specialises on), are prebuilt tasks ({@link TwinTask}) that read the source TornadoVM generates for the exemplar.
 * TornadoVM's OpenCL and CUDA code caches write each source they build where {@code tornado.opencl.source.dump} asks
 * them to, under a name made of the task's id and the kernel's, read when a plan's cache is created; so the first
 * compilation of the plan runs with that option on ({@link #dumpingSources}), and since TornadoVM compiles a plan's
 * tasks in order, each exemplar's source is written before a twin reads it. Twins hand the driver the exemplar's
 * source text, which TornadoVM's CUDA backend builds once (NVRTC's binaries are cached by source) and PoCL finds in
 * its kernel cache. A twin gets its arguments' accesses from the exemplar's sketch, as a compiled task would.
 *
 * <p>The PTX backend names each kernel after its task, so its twins' sources would differ: there every task is
 * compiled from Java as before ({@link TornadoDevices#compilesKernelsOnce}).
 */
final class KernelTwins implements AutoCloseable {
    /** TornadoVM's code-cache options: write each source built, under this directory (relative to TORNADOVM_HOME). */
    private static final String DUMP_SOURCE = "tornado.opencl.source.dump";
    private static final String SOURCE_DIR = "tornado.opencl.source.dir";
    private static final String SOURCE_SUFFIX = ".cl";
    /** The folder TornadoVM writes a device's sources in ("device-platform-device"), found once per device. */
    private static final Map<String, String> DEVICE_FOLDERS = new ConcurrentHashMap<>();

    private final TornadoDevice device;
    /** TornadoVM's "backend:device" indices of {@link #device}. */
    private final String indices;
    private final boolean enabled;
    private final Map<Key, Exemplar> exemplars = new HashMap<>();
    /** Where TornadoVM writes the sources this executable's plan builds, and the twins read them. */
    private Path sources;
    private int twinTasks;

    /** What Graal specialises a task's code on: its method, its scalar arguments and which arrays repeat. */
    private record Key(Method method, List<Object> arguments) {
        static Key of(Method method, Object[] args) {
            List<Object> shape = new ArrayList<>(args.length);
            for (int i = 0; i < args.length; i++) {
                Object a = args[i];
                if (a instanceof Number || a instanceof Boolean || a instanceof Character) {
                    shape.add(a);
                } else if (a instanceof KernelContext) {
                    shape.add("context");
                } else {
                    shape.add(a.getClass().getName() + "#" + firstIndexOf(args, a, i));
                }
            }
            return new Key(method, List.copyOf(shape));
        }

        private static int firstIndexOf(Object[] args, Object a, int upTo) {
            for (int j = 0; j < upTo; j++) {
                if (args[j] == a) {
                    return j;
                }
            }
            return upTo;
        }
    }

    /** The first task of a kernel: the file TornadoVM writes its source to, its entry point and its arguments' accesses. */
    private record Exemplar(Path source, String entryPoint, Access[] accesses) {
    }

    KernelTwins(TornadoDevice device, boolean enabled) {
        this.device = device;
        this.indices = TornadoDevices.indices(device);
        this.enabled = enabled && System.getenv("TORNADOVM_HOME") != null;
    }

    /**
     * A task graph that sketches and compiles for the executable's device from the start: TornadoVM reads the
     * graph's {@code <name>.device} property when the graph is created, and a kernel using what only one backend
     * lowers (cp.async on the CUDA backend) failed to sketch on the default backend (PTX) before the plan chose the
     * device. Where twins share their exemplar's compilation, its Java tasks go through {@link #add}.
     */
    TaskGraph newGraph(String graphName) {
        return onDevice(graphName, enabled ? TwinGraph::new : TaskGraph::new);
    }

    private TaskGraph onDevice(String graphName, Function<String, TaskGraph> create) {
        String key = graphName + ".device";
        System.setProperty(key, indices);
        try {
            return create.apply(graphName);
        } finally {
            System.clearProperty(key);
        }
    }

    /** Kernels compiled from Java (0 where every task is). */
    int exemplarCount() {
        return exemplars.size();
    }

    /** Tasks that run an exemplar's compilation instead of their own. */
    int twinTaskCount() {
        return twinTasks;
    }

    /** A graph whose Java tasks go through {@link #add}: its TornadoVM implementation seen through a proxy. */
    private final class TwinGraph extends TaskGraph {
        TwinGraph(String graphName) {
            super(graphName);
            TornadoTaskGraphInterface tornado = taskGraphImpl;
            taskGraphImpl = (TornadoTaskGraphInterface) Proxy.newProxyInstance(KernelTwins.class.getClassLoader(),
                    new Class<?>[] {TornadoTaskGraphInterface.class}, (proxy, method, args) -> {
                        if (method.getName().equals("addTask") && args.length == 1 && args[0] instanceof TaskPackage p && !p.isPrebuiltTask()) {
                            add(tornado, graphName, p);
                            return null;
                        }
                        try {
                            return method.invoke(tornado, args);
                        } catch (InvocationTargetException e) {
                            throw e.getCause();
                        }
                    });
        }
    }

    /** Adds Java task {@code p} to {@code graph}: as it is if it is its kernel's first, else as a twin of that first. */
    private void add(TornadoTaskGraphInterface graph, String graphName, TaskPackage p) {
        Object[] params = p.getTaskParameters();
        Object[] args = Arrays.copyOfRange(params, 1, params.length);
        Method method = TaskUtils.resolveMethodHandle(params[0]);
        Key key = Key.of(method, args);
        Exemplar e = exemplars.get(key);
        if (e == null) {
            graph.addTask(p); // sketches the method, so its accesses are known
            Path source = sources().resolve(deviceFolder()).resolve(graphName + "." + p.getId() + "-" + method.getName() + SOURCE_SUFFIX);
            exemplars.put(key, new Exemplar(source, method.getName(), SketchAccesses.of(method, device)));
            return;
        }
        // added as TornadoVM's addPrebuiltTask would, but as a task that equals itself (TwinTask)
        graph.addInner(new TwinTask((ScheduleContext) graph.meta(), p.getId(), e.entryPoint(), e.source().toString(), args,
                e.accesses().clone()));
        twinTasks++;
    }

    private Path sources() {
        if (sources == null) {
            sources = temporaryDirectory("jdiffusion-kernels-");
        }
        return sources;
    }

    /**
     * Runs {@code compilation}, the plan's first, with TornadoVM writing the sources it builds where the twins read
     * them. The options are system properties, which a plan's code cache reads once, when the plan first compiles; so
     * executables compiling on several threads take turns here (a plan compiling outside this method meanwhile would
     * write its sources here too, which costs nothing but the files).
     */
    void dumpingSources(Runnable compilation) {
        if (exemplars.isEmpty()) {
            compilation.run();
            return;
        }
        withDumpInto(sources(), compilation);
    }

    private static synchronized void withDumpInto(Path dir, Runnable compilation) {
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

    /**
     * The folder TornadoVM writes this device's sources in: "device-" and its OpenCL platform and device indices, which
     * TornadoVM's API does not give, so a kernel of one task is compiled once per device to see where it lands.
     */
    private String deviceFolder() {
        return DEVICE_FOLDERS.computeIfAbsent(indices, d -> {
            Path probe = temporaryDirectory("jdiffusion-kernel-probe-");
            try {
                FloatArray f = new FloatArray(1);
                TaskGraph g = onDevice("jdiffusion_probe_" + Long.toHexString(System.nanoTime()), TaskGraph::new);
                g.transferToDevice(DataTransferMode.FIRST_EXECUTION, f);
                g.task("probe", PointwiseKernels::touchUploaded, new KernelContext(), f, 0);
                withDumpInto(probe, () -> {
                    try (TornadoExecutionPlan plan = new TornadoExecutionPlan(g.snapshot()).withDevice(device)) {
                        plan.withPreCompilation();
                    } catch (TornadoExecutionPlanException e) {
                        throw new IllegalStateException("releasing the plan that found TornadoVM's source folder failed", e);
                    }
                });
                try (Stream<Path> folders = Files.list(probe)) {
                    return folders.filter(Files::isDirectory).map(p -> p.getFileName().toString()).findFirst()
                            .orElseThrow(() -> new IllegalStateException("TornadoVM wrote no kernel source for device " + d + " (set -D"
                                    + TornadoSettings.KERNEL_TWINS + "=false to compile every task from Java)"));
                }
            } catch (IOException e) {
                throw new UncheckedIOException("cannot list " + probe, e);
            } finally {
                deleteTree(probe);
            }
        });
    }

    private static Path temporaryDirectory(String prefix) {
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

    private static void deleteTree(Path root) {
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

    /** Deletes the sources (the plan has built its kernels from them, and a closed executable compiles nothing). */
    @Override
    public void close() {
        deleteTree(sources);
    }
}
