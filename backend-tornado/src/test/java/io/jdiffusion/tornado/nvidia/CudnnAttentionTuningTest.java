package io.jdiffusion.tornado.nvidia;

import org.junit.jupiter.api.Test;
import uk.ac.manchester.tornado.api.common.Access;
import uk.ac.manchester.tornado.api.common.LibraryTaskDescriptor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Host-side (no GPU, no cuDNN): how an attention's [batch, sequence, heads x d] operands are described to cuDNN's
 * SDPA operation, the shapes it refuses, and the library task's arguments and tuning (the provider's registration: {@link CudnnConvTuningTest}).
 */
class CudnnAttentionTuningTest {
    @Test
    void rowMajorTokensAreReadAsBatchHeadsSequenceHeadWidthByStrides() {
        SdpaShape s = new SdpaShape(2, 8, 1024, 77, 40, 0.158f);
        assertThat(s.dims(1024)).containsExactly(2, 8, 1024, 40);
        assertThat(s.dims(77)).containsExactly(2, 8, 77, 40);
        // element (b, h, t, i) of [batch, sequence, heads x d] lies at b*T*H*D + t*H*D + h*D + i
        assertThat(s.strides(1024)).containsExactly(1024L * 8 * 40, 40, 8 * 40, 1);
        assertThat(s.strides(77)).containsExactly(77L * 8 * 40, 40, 8 * 40, 1);
        long[] st = s.strides(77);
        assertThat(1 * st[0] + 3 * st[1] + 5 * st[2] + 7 * st[3]).isEqualTo(77L * 320 + 5 * 320 + 3 * 40 + 7);
        assertThat(s.elements(77)).isEqualTo(2L * 77 * 8 * 40);
    }

    @Test
    void headsCudnnCannotTakeAreRefusedByName() {
        assertThatThrownBy(() -> new SdpaShape(1, 1, 16, 16, 512, 1f)).hasMessageContaining("multiple of 8 up to 256").hasMessageContaining("512");
        assertThatThrownBy(() -> new SdpaShape(1, 1, 16, 16, 36, 1f)).hasMessageContaining("36");
        assertThatThrownBy(() -> new SdpaShape(0, 1, 16, 16, 40, 1f)).hasMessageContaining("batch 0");
        assertThat(new SdpaShape(1, 1, 16, 16, 256, 1f).d()).isEqualTo(256);
    }

    @Test
    void theTaskTakesTheArenaOnceAndTheWorkspaceWritten() {
        Object arena = new Object();
        Object workspace = new Object();
        CudnnConvolution.Arguments args = new CudnnConvolution.Arguments();
        SdpaShape shape = new SdpaShape(2, 8, 256, 77, 80, 0.11f);
        CudnnAttention t = new CudnnAttention(shape, new CudnnConvolution.Operand(args.of(arena, false), 0),
                new CudnnConvolution.Operand(args.of(arena, false), 40960), new CudnnConvolution.Operand(args.of(arena, false), 65600),
                new CudnnConvolution.Operand(args.of(arena, true), 90240), args.of(workspace, true), 1 << 20);
        LibraryTaskDescriptor d = t.descriptor(args);
        assertThat(d.getParameters()).containsExactly(arena, workspace);
        assertThat(args.access()).containsExactly(Access.READ_WRITE, Access.READ_WRITE);
        assertThat(d.getTuning()).isSameAs(t);
        assertThat(t.planKey()).isEqualTo(new CudnnAttention(shape, t.q(), t.k(), t.v(), new CudnnConvolution.Operand(0, 8), 1, 1 << 20).planKey());
        assertThatThrownBy(() -> new CudnnAttention(shape, t.q(), t.k(), null, t.o(), 1, 0)).hasMessageContaining("q, k, v, o");
    }

    /** A task whose tuning record is not the provider's fails naming the library and the record, before any cuDNN call. */
    @Test
    void aTaskWithoutItsTuningIsRefusedByName() {
        LibraryTaskDescriptor foreign = new LibraryTaskDescriptor().withLibrary("test").withFunction("f").withTuning("not a tuning");
        assertThatThrownBy(() -> new CudnnAttentionProvider().prepare(foreign, null)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(CudnnAttentionProvider.NAME + " task without its CudnnAttention tuning");
        assertThatThrownBy(() -> new CudnnConvProvider().prepare(foreign, null)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(CudnnConvProvider.NAME + " task without its CudnnConvolution tuning");
    }
}
