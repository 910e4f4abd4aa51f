package io.jdiffusion.tornado;

import io.jdiffusion.backend.Backend;
import io.jdiffusion.backend.Backends;
import io.jdiffusion.backend.Executable;
import io.jdiffusion.backend.Precision;
import io.jdiffusion.backend.graph.Activation;
import io.jdiffusion.backend.graph.Graph;
import io.jdiffusion.backend.graph.GraphBuilder;
import io.jdiffusion.backend.graph.Op;
import io.jdiffusion.backend.graph.Value;
import io.jdiffusion.backend.testing.TestRandom;
import io.jdiffusion.core.DType;
import io.jdiffusion.core.Shape;
import io.jdiffusion.core.Tensor;
import io.jdiffusion.tornado.kernels.GemmKernels;
import io.jdiffusion.tornado.kernels.PointwiseKernels;
import org.junit.jupiter.api.Test;
import uk.ac.manchester.tornado.api.runtime.TornadoRuntimeProvider;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The cut of a network into chained task graphs ({@link TaskGraphChain#cut}): every graph fits TornadoVM's 8 KiB
 * task-graph buffer and the task cap, the operators stay in order, and a cut moves back to a model boundary
 * where the graph stays three quarters full. The byte count is checked against TornadoVM itself: a chain cut at
 * the byte limit alone is built into an execution plan, which fails when a graph's tasks overflow the buffer.
 */
class TaskGraphChainTest {
    /** Blocks of a recorded model, each a few linear layers and a pointwise op, scoped as a model scopes them. */
    private static Graph blocks(int blocks, int layersPerBlock, int width, List<Tensor> constants) {
        TestRandom random = TestRandom.fresh();
        GraphBuilder b = new GraphBuilder("chain-cut");
        Value x = b.input("x", Shape.of(2, width), DType.F32);
        for (int i = 0; i < blocks; i++) {
            b.scope("blocks." + i);
            for (int j = 0; j < layersPerBlock; j++) {
                Tensor w = random.normal(Shape.of(width, width), 0.5 / Math.sqrt(width));
                constants.add(w);
                x = b.linear(x, b.constant("w" + i + "_" + j, w), null, Activation.GELU, x);
            }
            x = b.unary(x, Activation.SILU);
        }
        b.output(x);
        return b.build();
    }

    private static final Function<Op, TaskCost> JAVA_KERNELS = op -> switch (op) {
        case Op.Linear l -> TaskCost.of(GemmKernels.class, "linear");
        case Op.Unary u -> TaskCost.of(PointwiseKernels.class, "unary");
        default -> throw new IllegalArgumentException(op.toString());
    };

    @Test
    void graphsFitTheBufferAndTheCapInOrderAndEndAtBlockBoundaries() {
        List<Tensor> constants = new ArrayList<>();
        Graph graph = blocks(12, 4, 8, constants);
        try {
            int maxTasks = 13;
            int header = 115;
            List<List<Op>> segments = TaskGraphChain.cut(graph.ops(), JAVA_KERNELS, header, TaskGraphChain.poisonCost(2), maxTasks);
            assertThat(segments.stream().flatMap(List::stream).toList()).as("every operator once, in order").isEqualTo(graph.ops());
            int boundaries = 0;
            for (int i = 0; i < segments.size(); i++) {
                List<Op> s = segments.get(i);
                TaskCost used = i == 0 ? TaskGraphChain.poisonCost(2) : TaskCost.NONE;
                for (Op op : s) {
                    used = used.plus(JAVA_KERNELS.apply(op));
                }
                assertThat(used.launches()).as("graph %d", i).isLessThanOrEqualTo(maxTasks);
                assertThat(used.bytes()).as("graph %d", i).isLessThanOrEqualTo(TaskGraphChain.TASK_GRAPH_BYTES - header);
                if (i < segments.size() - 1 && !s.getLast().out().name().equals(segments.get(i + 1).getFirst().out().name())) {
                    boundaries++;
                }
            }
            // blocks of 5 launches under a cap of 13: two whole blocks (10 >= 3/4 of 13) per graph, every cut at a boundary
            assertThat(boundaries).as("cuts at block boundaries").isEqualTo(segments.size() - 1);
            assertThat(segments).hasSize(6);
        } finally {
            constants.forEach(Tensor::close);
        }
    }

    @Test
    void withoutABoundaryInReachTheCutFallsWhereTheGraphIsFull() {
        List<Tensor> constants = new ArrayList<>();
        Graph graph = blocks(1, 30, 8, constants);
        try {
            List<List<Op>> segments = TaskGraphChain.cut(graph.ops(), JAVA_KERNELS, 115, TaskGraphChain.poisonCost(0), 10);
            assertThat(segments.stream().map(List::size).toList()).isEqualTo(List.of(9, 10, 10, 2));
        } finally {
            constants.forEach(Tensor::close);
        }
    }

    /**
     * With the task cap at its largest, only the bytes cut the chain: each graph is filled to within one task of
     * TornadoVM's buffer, and TornadoVM accepts every graph (it throws when a graph's tasks overflow its buffer). The
     * products stay on the Java kernels, whose task bytes the expected count is made of (on the CUDA backend they
     * would go to cuBLASLt, whose tasks are of another size).
     */
    @Test
    void aChainCutByBytesAloneIsAcceptedByTornadoVm() {
        List<Tensor> constants = new ArrayList<>();
        Graph graph = blocks(1, 200, 8, constants);
        try (TemporaryProperties ignored = TemporaryProperties.set(TornadoSettings.TASKS_PER_GRAPH, "327", TornadoSettings.LIBRARIES, "false");
             Backend tornado = Backends.create(TornadoBackendProvider.NAME);
             Executable exe = tornado.compile(graph, Precision.F32)) {
            TornadoExecutable te = (TornadoExecutable) exe;
            int linearBytes = TaskCost.of(GemmKernels.class, "linear").bytes();
            int perGraph = (TaskGraphChain.TASK_GRAPH_BYTES - TaskCost.of(PointwiseKernels.class, "touchAll").bytes()) / linearBytes;
            assertThat(perGraph).as("linears a graph holds").isGreaterThan(60);
            assertThat(te.graphCount()).isEqualTo((200 + 1 + perGraph - 1) / perGraph);
        } finally {
            constants.forEach(Tensor::close);
        }
    }

    /**
     * Each graph of a chain is created with TornadoVM's {@code <graph>.device} property naming the backend's device, so
     * that TornadoVM parses its tasks for that device's backend (see {@link TaskGraphChain}): the indices name the
     * device, and no such property outlives the graphs' creation.
     */
    @Test
    void graphsAreCreatedForTheBackendsDeviceAndLeaveNoDeviceProperty() {
        List<Tensor> constants = new ArrayList<>();
        Graph graph = blocks(2, 4, 8, constants);
        try (TemporaryProperties ignored = TemporaryProperties.set(TornadoSettings.TASKS_PER_GRAPH, "4", TornadoSettings.LIBRARIES, "false");
             Backend tornado = Backends.create(TornadoBackendProvider.NAME);
             Executable exe = tornado.compile(graph, Precision.F32)) {
            var device = ((TornadoBackend) tornado).device();
            String[] indices = TornadoDevices.indices(device).split(":");
            var named = TornadoRuntimeProvider.getTornadoRuntime()
                    .getBackend(Integer.parseInt(indices[0])).getDevice(Integer.parseInt(indices[1]));
            assertThat(named.getPhysicalDevice()).isSameAs(device.getPhysicalDevice());
            assertThat(((TornadoExecutable) exe).graphCount()).isGreaterThan(1);
            assertThat(System.getProperties().stringPropertyNames()).noneMatch(k -> k.matches("jd[0-9]+_.*\\.device"));
        } finally {
            constants.forEach(Tensor::close);
        }
    }

    /**
     * TornadoVM frees a closed chain through its first graph, so the argument arrays of the tasks in the later graphs
     * keep their device buffers: they are recorded, and where the backend page-locks host arrays, held past the close
     * (see {@link DeviceArrays#keepPastClose}). One graph records none.
     */
    @Test
    void theArgumentArraysOfLaterGraphsOutliveTheirExecutable() {
        List<Tensor> constants = new ArrayList<>();
        Graph graph = blocks(4, 4, 8, constants);
        int launches = 4 * 4 + 4;
        try (TemporaryProperties ignored = TemporaryProperties.set(TornadoSettings.LIBRARIES, "false");
             Backend tornado = Backends.create(TornadoBackendProvider.NAME)) {
            boolean pinned = TornadoDevices.pinsHostArrays(((TornadoBackend) tornado).device());
            try (TemporaryProperties cap = TemporaryProperties.set(TornadoSettings.TASKS_PER_GRAPH, "327");
                 Executable exe = tornado.compile(graph, Precision.F32)) {
                TornadoExecutable te = (TornadoExecutable) exe;
                assertThat(te.graphCount()).isEqualTo(1);
                assertThat(te.deviceArrays().keptPastClose()).as("one graph frees every array").isZero();
            }
            TornadoExecutable chained;
            try (TemporaryProperties cap = TemporaryProperties.set(TornadoSettings.TASKS_PER_GRAPH, "6")) {
                chained = (TornadoExecutable) tornado.compile(graph, Precision.F32);
            }
            int kept = chained.deviceArrays().keptPastClose();
            assertThat(chained.graphCount()).isGreaterThan(3);
            assertThat(kept).as("every launch outside the first graph, which takes at most 6").isBetween(launches - 6, launches - 1);
            int heldBefore = DeviceArrays.heldForTheDriver();
            chained.close();
            assertThat(DeviceArrays.heldForTheDriver() - heldBefore).as("held for the driver (pinned host arrays: %s)", pinned)
                    .isEqualTo(pinned ? kept : 0);
        } finally {
            constants.forEach(Tensor::close);
        }
    }
}
