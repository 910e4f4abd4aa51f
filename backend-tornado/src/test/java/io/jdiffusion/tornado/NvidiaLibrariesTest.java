package io.jdiffusion.tornado;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** The library probe that decides whether the CUDA backend may use cuBLAS and cuDNN (host-only). */
class NvidiaLibrariesTest {
    private static final String ABSENT = "libjdiffusion-no-such-library.so.1";

    @Test
    void aLibraryTheDynamicLinkerFindsIsNotMissing() {
        assertThat(NvidiaLibraries.firstMissing(List.of("libc.so.6"))).isEmpty();
    }

    @Test
    void theFirstLibraryThatDoesNotLoadIsNamed() {
        assertThat(NvidiaLibraries.firstMissing(List.of("libc.so.6", ABSENT, "libm.so.6"))).contains(ABSENT);
    }
}
