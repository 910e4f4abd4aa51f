package io.jdiffusion.tornado.nvidia;

import uk.ac.manchester.tornado.api.common.Access;
import uk.ac.manchester.tornado.api.common.LibraryTaskDescriptor;

import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * The tuning of one convolution library task ({@link CudnnConvProvider}): its {@link ConvShape} and where each
 * operand lives, as (task argument, element offset): the task's arguments are the distinct arrays the operands
 * live in, so x, a residual and y in one activation arena cost one argument, and the offsets, shapes and options
 * cost nothing in TornadoVM's task-graph buffer. y = conv(x, w) + bias + residual; bias and residual may be
 * absent (null). The workspace is a whole array of at least {@code workspaceBytes} plus
 * {@link CudnnConvProvider#WORKSPACE_ALIGNMENT} bytes (the provider starts it on that boundary).
 *
 * @param fuse       whether the provider may fuse bias and residual into cudnnConvolutionBiasActivationForward where
 *                   its algorithm allows (else ConvolutionForward and AddTensor, which every algorithm allows)
 * @param graph      whether the convolution runs as an execution plan of cuDNN's graph API (F16; {@link ConvGraphPlan})
 *                   rather than the legacy cudnnConvolutionForward
 * @param filterNhwc whether the filter lies KRSC (cuDNN's NHWC filter format) rather than KCRS; graph API only
 */
public record CudnnConvolution(ConvShape shape, Operand x, Operand w, Operand bias, Operand residual, Operand y, int workspace,
                               long workspaceBytes, boolean fuse, boolean graph, boolean filterNhwc) {
    public static final String FUNCTION = "conv2d";
    /**
     * The alignment in bytes a graph-API plan declares for x, w and y ({@link ConvGraphPlan}): where the backend's
     * arena and weights put them (16-byte multiples past TornadoVM's 16-byte array header), so cuDNN may pick engines
     * with 16-byte vector loads. The provider refuses a less aligned operand rather than let such an engine fault.
     */
    public static final int GRAPH_OPERAND_ALIGNMENT = 16;

    /** An operand: the task argument (array) it lives in and its element offset there. */
    public record Operand(int argument, long offset) {
        public Operand {
            if (argument < 0 || offset < 0) {
                throw new IllegalArgumentException("operand at argument " + argument + ", offset " + offset);
            }
        }

        /** Its device address, given the device address of its array's first element. */
        public long address(long arrayBase, int elementBytes) {
            return arrayBase + offset * elementBytes;
        }
    }

    public CudnnConvolution {
        if (x == null || w == null || y == null || workspaceBytes < 0) {
            throw new IllegalArgumentException("a convolution needs x, w, y and a workspace");
        }
        if (filterNhwc && !(graph && shape.half())) {
            throw new IllegalArgumentException("a KRSC filter needs the graph API and F16 (cuDNN's legacy API refuses it): " + shape);
        }
    }

    /** What the provider plans once: the shape and which operands there are. */
    record PlanKey(ConvShape shape, boolean bias, boolean residual, long workspaceBytes, boolean fuse, boolean graph, boolean filterNhwc) {
    }

    PlanKey planKey() {
        return new PlanKey(shape, bias != null, residual != null, workspaceBytes, fuse, graph, filterNhwc);
    }

    /**
     * The largest power of two dividing {@code address} (at most 256): the alignment a kernel reading there can
     * count on.
     */
    public static int alignment(long address) {
        return address == 0 ? 256 : (int) Math.min(256, Long.lowestOneBit(address));
    }

    /** The library task: {@code arguments} as its parameters, this record as its tuning. */
    public LibraryTaskDescriptor descriptor(Arguments arguments) {
        return new LibraryTaskDescriptor().withLibrary(CudnnConvProvider.NAME).withFunction(FUNCTION)
                .withParameters(arguments.arrays().toArray()).withAccess(arguments.access()).withTuning(this);
    }

    /**
     * The distinct arrays of a library task, in the order first named, each with the union of the ways it is
     * used (TornadoVM hangs on a task that writes one array through two arguments).
     */
    public static final class Arguments {
        private final Map<Object, Integer> index = new IdentityHashMap<>();
        private final List<Object> arrays = new ArrayList<>();
        private final List<Access> access = new ArrayList<>();

        /** The argument of {@code array}, added if new; {@code written} where the task writes it. */
        public int of(Object array, boolean written) {
            Integer i = index.get(array);
            if (i == null) {
                i = arrays.size();
                index.put(array, i);
                arrays.add(array);
                access.add(written ? Access.READ_WRITE : Access.READ_ONLY);
            } else if (written) {
                access.set(i, Access.READ_WRITE);
            }
            return i;
        }

        public List<Object> arrays() {
            return Collections.unmodifiableList(arrays);
        }

        public Access[] access() {
            return access.toArray(Access[]::new);
        }
    }
}
