package io.jdiffusion.cpu;

import io.jdiffusion.backend.Availability;
import io.jdiffusion.backend.Backends;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** A JVM without the Vector API module hears, from Backends and before any work, why the CPU backend cannot run. */
class CpuAvailabilityTest {
    @Test
    void withoutTheVectorModuleTheProviderSaysWhy() throws Exception {
        Process child = new ProcessBuilder(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), WithoutVectorModule.class.getName()))
                .redirectErrorStream(true).start();
        String out = new String(child.getInputStream().readAllBytes());
        assertThat(child.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(out).as(out).contains("available=false")
                .contains("the JVM was started without the Vector API: add the flag --add-modules jdk.incubator.vector")
                .contains("no backend is available: cpu (the JVM was started without the Vector API");
    }

    /** The child's side: what a library user's JVM without the flag sees. */
    static final class WithoutVectorModule {
        public static void main(String[] args) {
            Availability a = new CpuBackendProvider().availability();
            System.out.println("available=" + a.available() + " reason=" + a.reason());
            try {
                Backends.create(null).close();
            } catch (IllegalStateException e) {
                System.out.println(e.getMessage());
            }
        }
    }
}
