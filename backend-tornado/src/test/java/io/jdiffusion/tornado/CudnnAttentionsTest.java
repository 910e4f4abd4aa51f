package io.jdiffusion.tornado;

import io.jdiffusion.backend.graph.GraphBuilder;
import io.jdiffusion.backend.graph.Op;
import io.jdiffusion.backend.graph.Value;
import io.jdiffusion.core.DType;
import io.jdiffusion.core.Shape;
import org.junit.jupiter.api.Test;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.common.Access;
import uk.ac.manchester.tornado.api.common.LibraryTaskDescriptor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;

/**
 * Host-side: which F16 attentions cuDNN's fused kernel takes, and which of them run in place on the F16 arena
 * ({@link TornadoSettings#cudnnAttentionGraph}) rather than staged for TornadoVM's binding, and what each costs in
 * task-graph launches (no TornadoVM runtime, no GPU; {@code CudnnAttentionTest} checks the results on the device).
 */
class CudnnAttentionsTest {
    private static Op.Attention attention(int nq, int nk, int heads, int d, boolean causal) {
        GraphBuilder g = new GraphBuilder("attention");
        Value q = g.input("q", Shape.of(2, nq, (long) heads * d), DType.F32);
        Value k = g.input("k", Shape.of(2, nk, (long) heads * d), DType.F32);
        Value v = g.input("v", Shape.of(2, nk, (long) heads * d), DType.F32);
        g.output(g.attention(q, k, v, heads, 0.125f, causal));
        return (Op.Attention) g.build().ops().getLast();
    }

    @Test
    void cudnnTakesHeadsOfAMultipleOf8UpTo256() {
        assertThat(CudnnAttentions.suits(attention(4096, 77, 8, 40, false))).isTrue();
        assertThat(CudnnAttentions.suits(attention(256, 256, 8, 160, false))).isTrue();
        assertThat(CudnnAttentions.suits(attention(64, 64, 2, 256, false))).isTrue();
        assertThat(CudnnAttentions.suits(attention(64, 64, 1, 512, false))).as("the VAE's head of 512").isFalse();
        assertThat(CudnnAttentions.suits(attention(64, 64, 2, 36, false))).isFalse();
    }

    @Test
    void withTheSettingOffEveryAttentionIsStagedForTheBinding() {
        try (TemporaryProperties off = TemporaryProperties.set(TornadoSettings.CUDNN_ATTENTION_GRAPH, "false")) {
            CudnnAttentions a = new CudnnAttentions(() -> true);
            Op.Attention self = attention(1024, 1024, 8, 40, false);
            a.take(self, true);
            assertThat(a.has(self)).isTrue();
            assertThat(a.usesWorkspace()).isFalse();
            assertThat(a.cost(self).launches()).as("three copies in, the binding, one copy out").isEqualTo(5);
        }
    }

    @Test
    void byDefaultUnmaskedAttentionOnTheHalfArenaIsOneTaskInPlace() {
        CudnnAttentions a = new CudnnAttentions(() -> true);
        Op.Attention self = attention(1024, 1024, 8, 40, false);
        Op.Attention causal = attention(77, 77, 12, 64, true);
        Op.Attention outside = attention(256, 77, 8, 80, false);
        a.take(self, true);
        a.take(causal, true);
        a.take(outside, false);
        assertThat(a.usesWorkspace()).isTrue();
        assertThat(a.cost(self)).as("one launch, two arrays: the F16 arena and the workspace").isEqualTo(TaskCost.launch(2));
        assertThat(a.cost(causal).launches()).as("a mask: the binding").isEqualTo(5);
        assertThat(a.cost(outside).launches()).as("operands outside the F16 arena: the binding").isEqualTo(5);
        assertThat(a.has(self) && a.has(causal) && a.has(outside)).isTrue();
    }

    @Test
    void withACudnnOlderThanTheSdpaOperationEveryAttentionIsStaged() {
        CudnnAttentions a = new CudnnAttentions(() -> false);
        Op.Attention self = attention(1024, 1024, 8, 40, false);
        a.take(self, true);
        assertThat(a.usesWorkspace()).isFalse();
        assertThat(a.cost(self).launches()).as("the binding").isEqualTo(5);
    }

    /** An in-place attention's task has two arrays (the F16 arena, the workspace); a convolution's up to six. */
    @Test
    void libraryTasksOfTwoToSixArraysAreAdded() {
        for (int n = 2; n <= 6; n++) {
            Object[] arrays = new Object[n];
            Access[] access = new Access[n];
            for (int i = 0; i < n; i++) {
                arrays[i] = new float[1];
                access[i] = Access.READ_WRITE;
            }
            LibraryTaskDescriptor d = new LibraryTaskDescriptor().withLibrary("test").withFunction("f").withParameters(arrays)
                    .withAccess(access);
            TaskGraph tasks = new TaskGraph("g" + n);
            assertThatCode(() -> LibraryProducts.libraryTask(tasks, "t", d)).as("%d arrays", n).doesNotThrowAnyException();
        }
    }
}
