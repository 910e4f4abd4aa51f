package io.jdiffusion.models.api;

import org.junit.jupiter.api.Test;

import javax.tools.JavaFileObject;
import javax.tools.SimpleJavaFileObject;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The library's entry points keep a doc comment on every public member (issue: first contact for Java users):
 * {@code StableDiffusion}, {@code StableDiffusionPipeline}, {@code GenerationRequest} with its records and
 * builder, {@code Backends} and {@code Backend}. The javadoc jars are built with doclint off (the rest of the
 * code base is documented for its developers, not to doclint's rules); this test is what fails the build
 * when one of these members loses its comment, a parameter its {@code @param} or a method its {@code @return}.
 */
class PublicApiJavadocTest {
    /** The sources, relative to the reactor root. */
    private static final List<String> API = List.of(
            "backend-api/src/main/java/io/jdiffusion/backend/Backend.java",
            "backend-api/src/main/java/io/jdiffusion/backend/Backends.java",
            "models/src/main/java/io/jdiffusion/models/sd/StableDiffusion.java",
            "models/src/main/java/io/jdiffusion/models/pipeline/StableDiffusionPipeline.java",
            "models/src/main/java/io/jdiffusion/models/pipeline/GenerationRequest.java");

    @Test
    void everyPublicMemberOfTheApiIsDocumented() {
        Path root = Path.of(System.getProperty("user.dir")).toAbsolutePath().getParent(); // surefire runs in models/
        List<Path> sources = API.stream().map(root::resolve).toList();
        assertThat(sources).allMatch(Files::isRegularFile);
        assertThat(JavadocCheck.problems(sources)).isEmpty();
    }

    @Test
    void theCheckFindsWhatIsMissing() {
        String source = """
                package p;
                /** Documented. */
                public final class Api {
                    /**
                     * Documented, with its parameter and result.
                     * @param x the input
                     * @return twice x
                     */
                    public int twice(int x) { return 2 * x; }
                    /** No param, no return. */
                    public int half(int x) { return x / 2; }
                    public static final int UNDOCUMENTED = 1;
                    /**
                     * {@return a copy}
                     * @throws java.io.IOException never
                     */
                    public Api copy() throws java.io.IOException, InterruptedException { return this; }
                    int packagePrivateNeedsNothing() { return 0; }
                    /**
                     * A record.
                     * @param a the first
                     */
                    public record Pair(int a, int b) {
                        /** Compact: its parameters are the components. */
                        public Pair {
                        }
                        /** Not compact. */
                        public Pair(int a) {
                            this(a, a);
                        }
                    }
                    public interface Listener {
                        void heard(String what);
                    }
                    private static final class Hidden {
                        public void notApi() { }
                    }
                }
                """;
        JavaFileObject file = new SimpleJavaFileObject(URI.create("string:///p/Api.java"), JavaFileObject.Kind.SOURCE) {
            @Override
            public CharSequence getCharContent(boolean ignoreEncodingErrors) {
                return source;
            }
        };
        assertThat(JavadocCheck.problems(List.of(file))).containsExactlyInAnyOrder(
                "Api.java:11 half(): no @param for x",
                "Api.java:11 half(): no @return",
                "Api.java:12 UNDOCUMENTED: no doc comment",
                "Api.java:17 copy(): no @throws for InterruptedException",
                "Api.java:23 Pair: no @param for record component b",
                "Api.java:28 constructor(): no @param for a",
                "Api.java:32 Listener: no doc comment",
                "Api.java:33 heard(): no doc comment");
    }
}
