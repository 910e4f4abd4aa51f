package io.jdiffusion.cpu;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Which convolutions pack B inside the GEMM's tasks: the {@link GemmDepthCases} meant for that path do (so the
 * conformance suites, at 3 threads, cover it), and the deep-weight small images keep the chunked path.
 */
class ConvPackInTasksTest {
    @Test
    void theConformanceCasesForThePathTakeIt() {
        assertThat(takes(1000, 12 * 13, 2, 3)).as("conv1x1 2x1000x12x13").isTrue();
        assertThat(takes(63, 50 * 50, 2, 3)).as("conv3x3 2x7x50x50").isTrue();
    }

    @Test
    void theUnetsLargeImagesTakeItAndASingleDeepSmallImageDoesNot() {
        assertThat(takes(320, 64 * 64, 2, 2)).as("1x1 64x64 320 batch 2").isTrue();
        assertThat(takes(1280, 16 * 16, 2, 2)).as("1x1 16x16 1280 batch 2").isTrue();
        assertThat(takes(1280, 8 * 8, 1, 2)).as("1x1 8x8 1280 batch 1").isFalse();
    }

    /** At this JVM's vector width (the build runs the tests at several): depth k, images of that many pixels. */
    private static boolean takes(int k, int pixels, int batch, int threads) {
        return ConvKernels.packsBInTasks(k, batch * Gemm.panelsB(pixels), threads);
    }
}
