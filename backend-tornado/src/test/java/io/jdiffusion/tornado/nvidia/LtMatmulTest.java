package io.jdiffusion.tornado.nvidia;

import org.junit.jupiter.api.Test;
import uk.ac.manchester.tornado.api.common.Access;
import uk.ac.manchester.tornado.api.common.LibraryTaskDescriptor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Host-side: the tuning record of a cuBLASLt product, its pointer and alignment arithmetic and the provider's plan keys. */
class LtMatmulTest {
    private static final long BASE = 0x7f00_0000_0100L + 16;

    private static LtMatmul product(LtMatmul.ElementType type, long aOff, long dOff, boolean c, boolean bias) {
        return new LtMatmul(type, 19, 37, 45, true, false, 45, 45, 19, new LtMatmul.Operand(1, aOff), new LtMatmul.Operand(2, 3),
                c ? new LtMatmul.Operand(3, 0) : null, new LtMatmul.Operand(2, dOff), bias ? new LtMatmul.Operand(1, 900) : null, 0);
    }

    @Test
    void pointersAdvanceByTheElementSize() {
        LtMatmul half = product(LtMatmul.ElementType.F16, 5, 0, false, false);
        LtMatmul single = product(LtMatmul.ElementType.F32, 5, 0, false, false);
        assertThat(half.inputPointer(half.a(), BASE)).isEqualTo(BASE + 10);
        assertThat(single.inputPointer(single.a(), BASE)).isEqualTo(BASE + 20);
    }

    /** F16 operands with an F32 result (attention's scores): A and B advance by 2 bytes, C, D and the bias by 4. */
    @Test
    void aMixedProductAddressesItsResultInF32() {
        LtMatmul.Operand a = new LtMatmul.Operand(1, 5);
        LtMatmul.Operand d = new LtMatmul.Operand(2, 5);
        LtMatmul p = new LtMatmul(LtMatmul.ElementType.F16, LtMatmul.ElementType.F32, 19, 37, 45, true, false, 45, 45, 19, a, a, null, d,
                null, 0);
        assertThat(p.inputPointer(p.a(), BASE)).isEqualTo(BASE + 10);
        assertThat(p.outputPointer(p.d(), BASE)).isEqualTo(BASE + 20);
        assertThat(p).hasToString("F16 19x37x45 A^T -> F32 ld 45/45/19, A Operand[parameter=1, offset=5], B Operand[parameter=1, offset=5], "
                + "C null, D Operand[parameter=2, offset=5], bias null");
        assertThat(key(p)).isNotEqualTo(key(new LtMatmul(LtMatmul.ElementType.F16, 19, 37, 45, true, false, 45, 45, 19, a, a, null, d, null, 0)));
        assertThatThrownBy(() -> new LtMatmul(LtMatmul.ElementType.F32, LtMatmul.ElementType.F16, 19, 37, 45, true, false, 45, 45, 19, a, a,
                null, d, null, 0)).hasMessageContaining("a product of F32 operands writes F32, not F16");
    }

    @Test
    void alignmentIsTheLargestPowerOfTwoDividingTheAddressUpTo256() {
        assertThat(LtMatmul.alignment(0x1000)).isEqualTo(256);
        assertThat(LtMatmul.alignment(0x1010)).isEqualTo(16);
        assertThat(LtMatmul.alignment(0x1012)).isEqualTo(2);
        assertThat(LtMatmul.alignment(0x1004)).isEqualTo(4);
        assertThat(LtMatmul.alignment(0x1180)).isEqualTo(128);
        // an F16 operand at an odd element offset of a buffer whose data starts 16-byte aligned
        LtMatmul p = product(LtMatmul.ElementType.F16, 3, 0, false, false);
        assertThat(LtMatmul.alignment(p.inputPointer(p.a(), BASE))).isEqualTo(2);
    }

    @Test
    void betaIsOneExactlyWhereCIsAdded() {
        assertThat(product(LtMatmul.ElementType.F16, 0, 0, true, false).beta()).isEqualTo(1f);
        assertThat(product(LtMatmul.ElementType.F16, 0, 0, false, false).beta()).isZero();
    }

    @Test
    void theTaskNamesEachArrayOnceAndWritesOnlyDAndTheWorkspace() {
        LtMatmul p = product(LtMatmul.ElementType.F16, 0, 0, true, true);
        assertThat(p.parameterCount()).isEqualTo(4);
        Object[] arrays = {"workspace", "weights", "arena", "residuals"};
        LibraryTaskDescriptor d = CublasLtProvider.matmul(p, arrays);
        assertThat(d.getLibraryName()).isEqualTo(CublasLtProvider.LIBRARY);
        assertThat(d.getFunctionName()).isEqualTo(CublasLtProvider.MATMUL);
        assertThat(d.getTuning()).isSameAs(p);
        assertThat(d.getParameters()).containsExactly(arrays);
        assertThat(d.getAccess()).containsExactly(Access.READ_WRITE, Access.READ_ONLY, Access.READ_WRITE, Access.READ_ONLY);
        assertThatThrownBy(() -> CublasLtProvider.matmul(p, new Object[]{"workspace", "weights", "arena"}))
                .hasMessageContaining("uses 4 array parameters, not 3");
    }

    @Test
    void badShapesAndLeadingDimensionsAreRefusedWithTheReason() {
        LtMatmul.Operand o = new LtMatmul.Operand(0, 0);
        assertThatThrownBy(() -> new LtMatmul(LtMatmul.ElementType.F32, 0, 3, 4, false, false, 1, 4, 1, o, o, null, o, null, 0))
                .hasMessageContaining("positive");
        assertThatThrownBy(() -> new LtMatmul(LtMatmul.ElementType.F32, 8, 3, 4, true, false, 3, 4, 8, o, o, null, o, null, 0))
                .hasMessageContaining("leading dimensions 3, 4, 8");
        assertThatThrownBy(() -> new LtMatmul(LtMatmul.ElementType.F32, 8, 3, 4, false, false, 8, 4, 7, o, o, null, o, null, 0))
                .hasMessageContaining("leading dimensions");
        assertThatThrownBy(() -> new LtMatmul.Operand(1, -2)).hasMessageContaining("at least 0");
    }

    @Test
    void planKeysIgnoreOffsetsThatKeepTheAlignmentAndSplitOnThoseThatChangeIt() {
        LtMatmul at8 = product(LtMatmul.ElementType.F16, 8, 0, false, true);
        LtMatmul at136 = product(LtMatmul.ElementType.F16, 8 + 128, 0, false, true);
        LtMatmul at3 = product(LtMatmul.ElementType.F16, 3, 0, false, true);
        assertThat(key(at8)).as("256 bytes further").isEqualTo(key(at136));
        assertThat(key(at3)).isNotEqualTo(key(at8));
        assertThat(key(at3).alignA()).isEqualTo(2);
        assertThat(key(product(LtMatmul.ElementType.F16, 8, 0, true, true))).as("with C").isNotEqualTo(key(at8));
    }

    /** A 1x1 convolution's product: y[b] [11, 35] = w [11, 13] x[b] [13, 35], row-major, two images sharing w. */
    private static LtMatmul pointwise(LtMatmul.Order order, LtMatmul.Batch batch) {
        LtMatmul.Operand o = new LtMatmul.Operand(1, 0);
        return new LtMatmul(LtMatmul.ElementType.F16, LtMatmul.ElementType.F16, order, 11, 35, 13, false, false, 13, 35, 35, batch, o, o,
                null, new LtMatmul.Operand(2, 0), null, 0);
    }

    @Test
    void rowOrderMeasuresLeadingDimensionsAlongRowsAndBatchesSayTheirStrides() {
        LtMatmul.Batch images = new LtMatmul.Batch(2, 0, 13 * 35, 11 * 35);
        LtMatmul p = pointwise(LtMatmul.Order.ROW, images);
        assertThat(p).hasToString("F16 11x35x13 row-major ld 13/35/35 batch 2 strides 0/455/385, A Operand[parameter=1, offset=0], "
                + "B Operand[parameter=1, offset=0], C null, D Operand[parameter=2, offset=0], bias null");
        // A is 11 x 13: a leading dimension of 12 spans its columns of 11 rows, but not its rows of 13 columns
        LtMatmul.Operand o = new LtMatmul.Operand(0, 0);
        assertThat(new LtMatmul(LtMatmul.ElementType.F16, LtMatmul.ElementType.F16, LtMatmul.Order.COLUMN, 11, 35, 13, false, false, 12, 35,
                35, LtMatmul.Batch.NONE, o, o, null, o, null, 0).lda()).isEqualTo(12);
        assertThatThrownBy(() -> new LtMatmul(LtMatmul.ElementType.F16, LtMatmul.ElementType.F16, LtMatmul.Order.ROW, 11, 35, 13, false, false,
                12, 35, 35, LtMatmul.Batch.NONE, o, o, null, o, null, 0)).hasMessageContaining("shorter than the rows");
        assertThat(key(p)).as("order and batch are part of the plan").isNotEqualTo(key(pointwise(LtMatmul.Order.ROW, LtMatmul.Batch.NONE)));
        assertThat(key(p)).isNotEqualTo(key(pointwise(LtMatmul.Order.ROW, new LtMatmul.Batch(3, 0, 13 * 35, 11 * 35))));
    }

    @Test
    void rowOrderRefusesABiasEpilogue() {
        LtMatmul.Operand o = new LtMatmul.Operand(1, 0);
        assertThatThrownBy(() -> new LtMatmul(LtMatmul.ElementType.F16, LtMatmul.ElementType.F16, LtMatmul.Order.ROW, 11, 35, 13, false, false,
                13, 35, 35, LtMatmul.Batch.NONE, o, o, null, new LtMatmul.Operand(2, 0), new LtMatmul.Operand(1, 200), 0))
                .hasMessageContaining("no algorithm for a bias epilogue on row-major matrices");
    }

    @Test
    void batchesNeedACountAndDistinctOutputs() {
        assertThatThrownBy(() -> new LtMatmul.Batch(0, 0, 1, 1)).hasMessageContaining("count of at least 1");
        assertThatThrownBy(() -> new LtMatmul.Batch(2, 0, -1, 1)).hasMessageContaining("strides of at least 0");
        assertThatThrownBy(() -> new LtMatmul.Batch(2, 5, 5, 0)).hasMessageContaining("would all write one D");
        assertThat(new LtMatmul.Batch(1, 0, 0, 0)).isEqualTo(LtMatmul.Batch.NONE);
    }

    private static CublasLtProvider.PlanKey key(LtMatmul p) {
        long a = p.inputPointer(p.a(), BASE);
        long b = p.inputPointer(p.b(), BASE + 4096);
        long d = p.outputPointer(p.d(), BASE + 4096);
        long c = p.c() == null ? d : p.outputPointer(p.c(), BASE + 8192);
        long bias = p.bias() == null ? 0 : p.outputPointer(p.bias(), BASE);
        return CublasLtProvider.PlanKey.of(p, a, b, c, d, bias, 1 << 25);
    }

    @Test
    void theWorkspaceStartsOnA256ByteBoundaryAndKeepsWholeBlocks() {
        CublasLtProvider.Workspace w = CublasLtProvider.Workspace.of(BASE, (32 << 20) + 256);
        assertThat(w.pointer() % 256).isZero();
        assertThat(w.pointer()).isBetween(BASE, BASE + 255);
        assertThat(w.bytes()).isEqualTo(32 << 20);
        assertThat(w.pointer() + w.bytes()).isLessThanOrEqualTo(BASE + (32 << 20) + 256);
        assertThat(CublasLtProvider.Workspace.of(0x1000, 1000).bytes()).isEqualTo(768);
    }
}
