package io.jdiffusion.tornado;

import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.TornadoTaskGraphInterface;
import uk.ac.manchester.tornado.api.common.Access;
import uk.ac.manchester.tornado.api.common.TaskPackage;
import uk.ac.manchester.tornado.api.common.TornadoDevice;
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
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;

/**
 * Compiles each distinct kernel once. TornadoVM compiles every task on its own, even where another task runs the same
 * Java method with the same scalar arguments: Graal specialises the method for the task, and its code cache is keyed
 * by task. On an H100's CUDA backend with the Java kernels, the UNet's 745 tasks of 16 methods spent 20.5 s in Graal
 * (docs/PERFORMANCE.md).
 *
 * <p>Here every Java task of the executable's graphs is a prebuilt task ({@link TwinTask}) on the source TornadoVM
 * generated for its kernel ({@link KernelKey}: the method, the scalar arguments and the pattern of repeated arrays,
 * all that Graal specialises on). A kernel this JVM has not compiled yet for the device is compiled in a plan of its
 * own before the executable's plan first compiles, all of the executable's new kernels in parallel
 * ({@link KernelSources}); one compiled before, by any executable, is not compiled again. The plan then hands the
 * driver sources only, which TornadoVM's CUDA backend builds once each (NVRTC's binaries are cached by source) and
 * PoCL finds in its kernel cache. A twin gets its arguments' accesses from its kernel's sketch, as a compiled task
 * would.
 *
 * <p>The PTX backend names each kernel after its task, so its twins' sources would differ: there every task is
 * compiled from Java as before ({@link TornadoDevices#compilesKernelsOnce}).
 */
final class KernelTwins implements AutoCloseable {
    private final TornadoDevice device;
    private final boolean enabled;
    /** How many new kernels are compiled at once ({@link TornadoSettings#compileThreads}, read when the graph is compiled). */
    private final int compileThreads;
    /** The edits of the CUDA sources ({@link SourceEdits#fromSettings}), read when the graph is compiled. */
    private final SourceEdits sourceEdits;
    /** This executable's kernels: where their tasks read each one's source, and its arguments' accesses. */
    private final Map<KernelKey, KernelFile> kernels = new LinkedHashMap<>();
    /** Of {@link #kernels}, those this JVM had not compiled when their first task was added, sketched and waiting. */
    private final List<KernelSources.Pending> pending = new ArrayList<>();
    /** Where the sources this executable's plan builds lie. */
    private Path sources;
    private int compiledFromJava;
    private int twinTasks;
    private boolean sourcesWritten;

    private record KernelFile(Path file, String entryPoint, Access[] accesses) {
    }

    KernelTwins(TornadoDevice device, boolean enabled) {
        this.device = device;
        this.enabled = enabled && System.getenv("TORNADOVM_HOME") != null;
        this.compileThreads = this.enabled ? TornadoSettings.compileThreads() : 1;
        this.sourceEdits = this.enabled ? SourceEdits.fromSettings() : SourceEdits.NONE;
    }

    /**
     * A task graph that sketches and compiles for the executable's device from the start: TornadoVM reads the
     * graph's {@code <name>.device} property when the graph is created, and a kernel using what only one backend
     * lowers (cp.async on the CUDA backend) failed to sketch on the default backend (PTX) before the plan chose the
     * device. Where each kernel is compiled once, its Java tasks go through {@link #add}.
     */
    TaskGraph newGraph(String graphName) {
        return onDevice(device, graphName, enabled ? TwinGraph::new : TaskGraph::new);
    }

    static TaskGraph onDevice(TornadoDevice device, String graphName, Function<String, TaskGraph> create) {
        String key = graphName + ".device";
        System.setProperty(key, TornadoDevices.indices(device));
        try {
            return create.apply(graphName);
        } finally {
            System.clearProperty(key);
        }
    }

    /** Distinct kernels of this executable's Java tasks (0 where every task is compiled on its own). */
    int kernelCount() {
        return kernels.size();
    }

    /** Of {@link #kernelCount()}, the kernels this executable compiled from Java; the others an earlier one had. */
    int compiledFromJavaCount() {
        return compiledFromJava;
    }

    /** Java tasks that run as prebuilt tasks on their kernel's source (every Java task, where this is enabled). */
    int twinTaskCount() {
        return twinTasks;
    }

    /** A graph whose Java tasks go through {@link #add}: its TornadoVM implementation seen through a proxy. */
    private final class TwinGraph extends TaskGraph {
        /** Tasks of any kind added so far. */
        private int tasks;

        TwinGraph(String graphName) {
            super(graphName);
            TornadoTaskGraphInterface tornado = taskGraphImpl;
            taskGraphImpl = (TornadoTaskGraphInterface) Proxy.newProxyInstance(KernelTwins.class.getClassLoader(),
                    new Class<?>[] {TornadoTaskGraphInterface.class}, (proxy, method, args) -> {
                        if (method.getName().equals("addTask") && args.length == 1 && args[0] instanceof TaskPackage p && !p.isPrebuiltTask()) {
                            add(tornado, p, tasks++ == 0);
                            return null;
                        }
                        if (method.getName().startsWith("add") && method.getName().endsWith("Task")) {
                            tasks++;
                        }
                        try {
                            return method.invoke(tornado, args);
                        } catch (InvocationTargetException e) {
                            throw e.getCause();
                        }
                    });
        }
    }

    /**
     * Adds Java task {@code p} to {@code graph} as a prebuilt task on its kernel's source. A graph's first task goes in
     * as TornadoVM's own prebuilt task, which registers its name: a plan's grid scheduler must name a task some graph
     * registered, and TornadoVM's {@code PrebuiltTask.equals} finds the task it launches when it is a graph's first
     * ({@link TwinTask}). The graph's later tasks go in as {@link TwinTask}s.
     */
    private void add(TornadoTaskGraphInterface graph, TaskPackage p, boolean first) {
        Object[] params = p.getTaskParameters();
        Object[] args = Arrays.copyOfRange(params, 1, params.length);
        Method method = TaskUtils.resolveMethodHandle(params[0]);
        KernelFile kernel = kernelOf(KernelKey.of(method, args), method, p);
        if (first) {
            graph.addPrebuiltTask(TaskPackage.createPrebuiltTask(p.getId(), kernel.entryPoint(), kernel.file().toString(),
                    KernelSources.accessors(args, kernel.accesses())));
        } else {
            graph.addInner(new TwinTask((ScheduleContext) graph.meta(), p.getId(), kernel.entryPoint(), kernel.file().toString(), args,
                    kernel.accesses().clone()));
        }
        twinTasks++;
    }

    /** The kernel of key {@code key}, sketched for compilation here (from task {@code p}) if this JVM has not compiled it. */
    private KernelFile kernelOf(KernelKey key, Method method, TaskPackage p) {
        KernelFile kernel = kernels.get(key);
        if (kernel == null) {
            Path file = sources().resolve(kernels.size() + "-" + method.getName() + KernelSources.SOURCE_SUFFIX);
            Optional<KernelSources.Kernel> known = KernelSources.compiled(device, key);
            Access[] accesses;
            if (known.isPresent()) {
                accesses = known.get().accesses();
            } else {
                KernelSources.Pending sketched = KernelSources.sketch(device, key, p);
                pending.add(sketched);
                compiledFromJava++;
                accesses = sketched.accesses();
            }
            kernel = new KernelFile(file, method.getName(), accesses);
            kernels.put(key, kernel);
        }
        return kernel;
    }

    private Path sources() {
        if (sources == null) {
            sources = KernelSources.temporaryDirectory("jdiffusion-kernels-");
        }
        return sources;
    }

    /**
     * Compiles the kernels this JVM did not have yet ({@link #compileThreads} at a time) and writes every kernel's source
     * where this executable's tasks read it. Runs before the plan's first compilation; later calls do nothing.
     */
    void compileKernels() {
        if (sourcesWritten || kernels.isEmpty()) {
            return;
        }
        KernelSources.compile(device, pending, compileThreads, sourceEdits);
        pending.clear();
        try {
            for (var e : kernels.entrySet()) {
                String source = KernelSources.compiled(device, e.getKey())
                        .orElseThrow(() -> new IllegalStateException("kernel " + e.getValue().entryPoint() + " was not compiled")).source();
                Files.writeString(e.getValue().file(), source);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the kernel sources into " + sources, e);
        }
        sourcesWritten = true;
    }

    /** Deletes the sources (the plan has built its kernels from them, and a closed executable compiles nothing). */
    @Override
    public void close() {
        KernelSources.deleteTree(sources);
    }
}
