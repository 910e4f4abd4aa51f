package io.jdiffusion.tornado;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;

import static org.assertj.core.api.Assertions.assertThat;

class ResidentMappingsTest {
    @Test
    @EnabledOnOs(OS.LINUX)
    void theJvmLibraryAndAnonymousMemoryAreResidentLargestFirst() {
        var mappings = ResidentMappings.byPath();
        assertThat(mappings).anySatisfy(m -> {
            assertThat(m.getKey()).endsWith("/libjvm.so");
            assertThat(m.getValue()).isPositive();
        });
        assertThat(mappings).anySatisfy(m -> assertThat(m.getKey()).isEqualTo("[anonymous]"));
        for (int i = 1; i < mappings.size(); i++) {
            assertThat(mappings.get(i).getValue()).isLessThanOrEqualTo(mappings.get(i - 1).getValue());
        }
    }
}
