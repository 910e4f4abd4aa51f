package io.jdiffusion.models.pipeline;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ImageRuntimeTest {
    @Test
    void aRuntimeWithJavaDesktopPasses() {
        assertThatCode(ImageRuntime::require).doesNotThrowAnyException();
    }

    @Test
    void aRuntimeWithoutItFailsNamingTheModule() {
        assertThatThrownBy(() -> ImageRuntime.require(ModuleLayer.empty())).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("no java.desktop module").hasMessageContaining("--add-modules");
    }
}
