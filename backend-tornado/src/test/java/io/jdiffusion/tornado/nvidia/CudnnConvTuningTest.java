package io.jdiffusion.tornado.nvidia;

import org.junit.jupiter.api.Test;
import uk.ac.manchester.tornado.api.common.Access;
import uk.ac.manchester.tornado.api.common.LibraryTaskDescriptor;
import uk.ac.manchester.tornado.runtime.library.spi.TornadoLibraryProvider;

import java.lang.foreign.MemoryLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.ServiceLoader;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Host-side (no GPU, no cuDNN): the tuning record of a cuDNN convolution and its descriptor arithmetic, the layout
 * of cuDNN's algorithm results, the choice among them, and the provider's registration with TornadoVM.
 */
class CudnnConvTuningTest {
    @Test
    void outputSidesAreCudnnsForPaddingStrideAndDilation() {
        // 33x31, 3x3, pad 1, stride 2: (33 + 2 - 3) / 2 + 1 = 17, (31 + 2 - 3) / 2 + 1 = 16
        ConvShape s = new ConvShape(2, 64, 33, 31, 64, 3, 3, 1, 1, 2, 1, true);
        assertThat(s.outH()).isEqualTo(17);
        assertThat(s.outW()).isEqualTo(16);
        // dilation 2 spans 5: (10 - 5) / 1 + 1 = 6
        assertThat(new ConvShape(1, 1, 10, 10, 1, 3, 3, 0, 0, 1, 2, false).outH()).isEqualTo(6);
        // 1x1, no padding
        assertThat(new ConvShape(1, 256, 20, 20, 512, 1, 1, 0, 0, 1, 1, false).outW()).isEqualTo(20);
    }

    @Test
    void stridesArePackedNchwAndSizesFollowThePrecision() {
        ConvShape s = new ConvShape(2, 13, 9, 11, 7, 3, 3, 1, 1, 1, 1, true);
        assertThat(s.xStrides()).containsExactly(13 * 9 * 11, 9 * 11, 11, 1);
        assertThat(s.yStrides()).containsExactly(7 * 9 * 11, 9 * 11, 11, 1);
        assertThat(s.xElements()).isEqualTo(2L * 13 * 9 * 11);
        assertThat(s.yElements()).isEqualTo(2L * 7 * 9 * 11);
        assertThat(s.filterElements()).isEqualTo(7L * 13 * 3 * 3);
        assertThat(s.elementBytes()).isEqualTo(2);
        assertThat(new ConvShape(2, 13, 9, 11, 7, 3, 3, 1, 1, 1, 1, false).elementBytes()).isEqualTo(4);
    }

    @Test
    void aShapeCudnnCannotDescribeIsRefusedWithItsSizes() {
        assertThatThrownBy(() -> new ConvShape(1, 4, 2, 2, 4, 5, 5, 0, 0, 1, 1, true)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("larger than the padded image").hasMessageContaining("x 1x4x2x2");
        assertThatThrownBy(() -> new ConvShape(64, 512, 256, 256, 4, 1, 1, 0, 0, 1, 1, true)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("int strides");
        assertThatThrownBy(() -> new ConvShape(1, 0, 2, 2, 4, 1, 1, 0, 0, 1, 1, true)).isInstanceOf(IllegalArgumentException.class);
    }

    /** base + offset x element size, and the largest power of two (to 256) dividing the result. */
    @Test
    void operandAddressesAndTheirAlignment() {
        long base = 0x7f00_0000_0100L + 16;
        assertThat(new CudnnConvolution.Operand(0, 3).address(base, 2)).isEqualTo(base + 6);
        assertThat(new CudnnConvolution.Operand(0, 3).address(base, 4)).isEqualTo(base + 12);
        assertThat(CudnnConvolution.alignment(base)).isEqualTo(16);
        assertThat(CudnnConvolution.alignment(base + 6)).isEqualTo(2);
        assertThat(CudnnConvolution.alignment(base + 12)).isEqualTo(4);
        assertThat(CudnnConvolution.alignment(base + 48)).isEqualTo(64);
        assertThat(CudnnConvolution.alignment(0x7f00_0000_0000L)).isEqualTo(256);
        assertThatThrownBy(() -> new CudnnConvolution.Operand(0, -1)).isInstanceOf(IllegalArgumentException.class);
    }

    /** One argument per distinct array, in first-named order, written where any operand in it is written. */
    @Test
    void argumentsAreTheDistinctArraysWithTheirAccess() {
        Object arena = new Object();
        Object filter = new Object();
        Object workspace = new Object();
        CudnnConvolution.Arguments args = new CudnnConvolution.Arguments();
        assertThat(args.of(arena, false)).isEqualTo(0);
        assertThat(args.of(arena, false)).isEqualTo(0);
        assertThat(args.of(arena, true)).isEqualTo(0);
        assertThat(args.of(filter, false)).isEqualTo(1);
        assertThat(args.of(workspace, true)).isEqualTo(2);
        assertThat(args.arrays()).containsExactly(arena, filter, workspace);
        assertThat(args.access()).containsExactly(Access.READ_WRITE, Access.READ_ONLY, Access.READ_WRITE);

        ConvShape s = new ConvShape(1, 8, 6, 6, 16, 3, 3, 1, 1, 1, 1, true);
        CudnnConvolution t = new CudnnConvolution(s, new CudnnConvolution.Operand(0, 0), new CudnnConvolution.Operand(1, 0), null,
                new CudnnConvolution.Operand(0, 400), new CudnnConvolution.Operand(0, 1024), 2, 4 << 20, true, false, false);
        LibraryTaskDescriptor d = t.descriptor(args);
        assertThat(d.getLibraryName()).isEqualTo(CudnnConvProvider.NAME);
        assertThat(d.getFunctionName()).isEqualTo(CudnnConvolution.FUNCTION);
        assertThat(d.getParameters()).containsExactly(arena, filter, workspace);
        assertThat(d.getTuning()).isSameAs(t);
        // a plan per shape: operand offsets do not make a new one
        CudnnConvolution moved = new CudnnConvolution(s, new CudnnConvolution.Operand(0, 64), new CudnnConvolution.Operand(1, 0), null,
                new CudnnConvolution.Operand(0, 800), new CudnnConvolution.Operand(0, 2048), 2, 4 << 20, true, false, false);
        assertThat(moved.planKey()).isEqualTo(t.planKey());
        // the API and the filter's layout are part of the plan (its descriptors)
        CudnnConvolution graph = new CudnnConvolution(s, new CudnnConvolution.Operand(0, 0), new CudnnConvolution.Operand(1, 0), null,
                new CudnnConvolution.Operand(0, 400), new CudnnConvolution.Operand(0, 1024), 2, 4 << 20, true, true, false);
        CudnnConvolution krsc = new CudnnConvolution(s, new CudnnConvolution.Operand(0, 0), new CudnnConvolution.Operand(1, 0), null,
                new CudnnConvolution.Operand(0, 400), new CudnnConvolution.Operand(0, 1024), 2, 4 << 20, true, true, true);
        assertThat(graph.planKey()).isNotEqualTo(t.planKey());
        assertThat(krsc.planKey()).isNotEqualTo(graph.planKey());
        // only the graph API takes a KRSC filter, and only in F16
        assertThatThrownBy(() -> new CudnnConvolution(s, new CudnnConvolution.Operand(0, 0), new CudnnConvolution.Operand(1, 0), null,
                new CudnnConvolution.Operand(0, 400), new CudnnConvolution.Operand(0, 1024), 2, 4 << 20, true, false, true))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("graph API");
    }

    /**
     * Graph-API engines are taken only where they compute as the legacy path does: tensor cores (note 0) and
     * Winograd or FFT notes pass; narrowed inputs (1), reduced-precision sums (2) and nondeterminism (4) do not.
     */
    @Test
    void graphEnginesWithNarrowedOrNondeterministicMathAreExcluded() {
        assertThat(GraphExecutionPlan.excluded(new int[0])).isFalse();
        assertThat(GraphExecutionPlan.excluded(new int[]{0})).isFalse();
        assertThat(GraphExecutionPlan.excluded(new int[]{0, 5})).isFalse();
        assertThat(GraphExecutionPlan.excluded(new int[]{0, 1})).isTrue();
        assertThat(GraphExecutionPlan.excluded(new int[]{2})).isTrue();
        assertThat(GraphExecutionPlan.excluded(new int[]{0, 4})).isTrue();
    }

    /** cudnn_cnn.h's cudnnConvolutionFwdAlgoPerf_t: 48 bytes, memory (size_t) at 16, mathType at 28. */
    @Test
    void theAlgorithmResultLayoutIsTheHeaders() {
        assertThat(CudnnConv.ALGO_PERF.byteSize()).isEqualTo(48);
        assertThat(CudnnConv.ALGO_PERF.byteAlignment()).isEqualTo(8);
        assertThat(CudnnConv.ALGO_PERF.byteOffset(MemoryLayout.PathElement.groupElement("algo"))).isEqualTo(CudnnConv.PERF_ALGO);
        assertThat(CudnnConv.ALGO_PERF.byteOffset(MemoryLayout.PathElement.groupElement("status"))).isEqualTo(CudnnConv.PERF_STATUS);
        assertThat(CudnnConv.ALGO_PERF.byteOffset(MemoryLayout.PathElement.groupElement("memory"))).isEqualTo(CudnnConv.PERF_MEMORY);
        assertThat(CudnnConv.ALGO_PERF.byteOffset(MemoryLayout.PathElement.groupElement("mathType"))).isEqualTo(CudnnConv.PERF_MATH);
        assertThat(CudnnConv.ALGO_PERF.byteOffset(MemoryLayout.PathElement.groupElement("determinism"))).isEqualTo(24);
    }

    @Test
    void theFirstSuccessfulCandidateWhoseWorkspaceFitsIsChosen() {
        List<AlgorithmChoice.Candidate> c = List.of(new AlgorithmChoice.Candidate(7, 9, 0, CudnnConv.TENSOR_OP_MATH), // failed
                new AlgorithmChoice.Candidate(6, 0, 0, CudnnConv.TENSOR_OP_MATH), // workspace too large under its math
                new AlgorithmChoice.Candidate(1, 0, 0, CudnnConv.TENSOR_OP_MATH), new AlgorithmChoice.Candidate(0, 0, 0, CudnnConv.DEFAULT_MATH));
        List<String> asked = new ArrayList<>();
        AlgorithmChoice.Choice half = AlgorithmChoice.choose(c, true, 1000, (algo, math) -> {
            asked.add(algo + "/" + math);
            return algo == 6 ? 5000 : 100;
        });
        assertThat(half).isEqualTo(new AlgorithmChoice.Choice(1, CudnnConv.TENSOR_OP_MATH, 100));
        assertThat(asked).containsExactly("6/1", "1/1");
    }

    /** F32 never runs on TF32 tensor cores: tensor-op candidates are passed over and FMA math is set. */
    @Test
    void inF32TensorOpCandidatesArePassedOverAndFmaIsSet() {
        List<AlgorithmChoice.Candidate> c = List.of(new AlgorithmChoice.Candidate(1, 0, 0, CudnnConv.TENSOR_OP_MATH),
                new AlgorithmChoice.Candidate(6, 0, 0, CudnnConv.TENSOR_OP_MATH_ALLOW_CONVERSION),
                new AlgorithmChoice.Candidate(1, 0, 0, CudnnConv.DEFAULT_MATH));
        AlgorithmChoice.Choice f32 = AlgorithmChoice.choose(c, false, 1000, (algo, math) -> math == CudnnConv.FMA_MATH ? 10 : -1);
        assertThat(f32).isEqualTo(new AlgorithmChoice.Choice(1, CudnnConv.FMA_MATH, 10));
        assertThat(AlgorithmChoice.choose(c, false, 5, (algo, math) -> 10)).as("nothing fits").isNull();
        assertThat(f32.describe()).contains("IMPLICIT_PRECOMP_GEMM").contains("FMA math");
    }

    /** TornadoVM finds the provider the way its LibraryRegistry does, without loading cuDNN. */
    @Test
    void theProviderIsRegisteredAndLoadsNoLibraryUntilUsed() {
        List<String> names = new ArrayList<>();
        for (TornadoLibraryProvider p : ServiceLoader.load(TornadoLibraryProvider.class, TornadoLibraryProvider.class.getClassLoader())) {
            names.add(p.libraryName());
        }
        assertThat(names).contains(CudnnConvProvider.NAME, CudnnAttentionProvider.NAME, CublasLtProvider.LIBRARY);
    }
}
