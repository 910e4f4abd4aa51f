package io.jdiffusion.cpu;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** The bandwidth probe of `bench ops` runs on every thread of its pool (a buffer one thread owns would throw). */
class CopyBandwidthTest {
    @Test
    void measuresOnEveryThreadOfAPool() {
        try (WorkerPool pool = new WorkerPool(2)) {
            assertThat(CopyBandwidth.measure(pool, 0.1)).isPositive().isFinite();
        }
    }
}
