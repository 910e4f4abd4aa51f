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
        Path seeds = Path.of(test.getResource(folder).toURI());
        List<Path> files;
        try (Stream<Path> list = Files.list(seeds)) {
            files = list.sorted().toList();
        }
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
}
