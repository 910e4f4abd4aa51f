package io.jdiffusion.server.api;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Function;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Checks a request-mapping seed corpus: valid-* seeds map to a job, bad-* seeds are refused naming a field. */
final class RequestSeeds {
    private RequestSeeds() {
    }

    static void check(Class<?> test, String folder, Function<byte[], ImageJob> mapping) throws Exception {
        List<Path> files = seeds(test, folder);
        assertThat(files).anyMatch(p -> p.getFileName().toString().startsWith("valid-"))
                .anyMatch(p -> p.getFileName().toString().startsWith("bad-"));
        for (Path seed : files) {
            String name = seed.getFileName().toString();
            byte[] body = Files.readAllBytes(seed);
            if (name.startsWith("bad-")) {
                assertThatThrownBy(() -> mapping.apply(body).close()).as(name)
                        .isInstanceOfSatisfying(InvalidRequestException.class, e -> {
                            assertThat(e.field()).isNotBlank();
                            assertThat(e.getMessage()).doesNotContain("\n").doesNotContain("\r");
                        });
            } else if (name.startsWith("valid-")) {
                mapping.apply(body).close();
            }
        }
    }

    /**
     * Maps every seed once, outside any measurement: under the fuzzer each class is instrumented on the
     * thread that first loads it, which would count hundreds of MiB of class loading against one input.
     */
    static void warmUp(Class<?> test, String folder, Function<byte[], ImageJob> mapping) {
        try {
            for (Path seed : seeds(test, folder)) {
                try {
                    mapping.apply(Files.readAllBytes(seed)).close();
                } catch (InvalidRequestException e) {
                    // refused, as bad seeds are
                }
            }
        } catch (Exception e) {
            throw new IllegalStateException("cannot read the seeds in " + folder, e);
        }
    }

    private static List<Path> seeds(Class<?> test, String folder) throws Exception {
        try (Stream<Path> list = Files.list(Path.of(test.getResource(folder).toURI()))) {
            return list.sorted().toList();
        }
    }
}
