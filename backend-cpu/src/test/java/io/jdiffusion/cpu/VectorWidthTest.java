package io.jdiffusion.cpu;

import io.jdiffusion.backend.BackendProvider;
import io.jdiffusion.backend.Backends;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The vector width in force is the one asked for, and the provider says so. */
class VectorWidthTest {
    @Test
    void theForcedWidthIsTheOneInUse() {
        int forced = CpuSettings.forcedVectorBits();
        System.out.println("vector bits in use: " + CpuBackend.vectorBits() + " (forced: " + forced + ")");
        if (forced != 0) {
            assertThat(CpuBackend.vectorBits()).isEqualTo(forced);
        }
        assertThat(CpuBackend.vectorBits()).isIn(128, 256, 512);
    }

    @Test
    void theProviderIsFoundAndDescribesThreadsAndWidth() {
        BackendProvider p = Backends.select("cpu");
        assertThat(p).isInstanceOf(CpuBackendProvider.class);
        assertThat(p.priority()).isEqualTo(10);
        assertThat(p.availability().available()).isTrue();
        assertThat(p.deviceDescription()).matches("\\d+ threads?, .+ \\(" + CpuBackend.vectorBits() + "-bit vectors\\)");
    }

    @Test
    void aBadSettingFailsWithOneClearMessage() {
        String old = System.getProperty(CpuSettings.VECTOR_BITS);
        System.setProperty(CpuSettings.VECTOR_BITS, "300");
        try {
            assertThatThrownBy(CpuSettings::forcedVectorBits).hasMessageContaining("must be 128, 256 or 512, got '300'");
            assertThat(new CpuBackendProvider().availability().available()).isFalse();
        } finally {
            if (old == null) {
                System.clearProperty(CpuSettings.VECTOR_BITS);
            } else {
                System.setProperty(CpuSettings.VECTOR_BITS, old);
            }
        }
    }
}
