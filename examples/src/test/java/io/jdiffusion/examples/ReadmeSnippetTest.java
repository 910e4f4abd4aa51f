package io.jdiffusion.examples;

import io.jdiffusion.testdata.TinySd;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The README's Java snippet is this module's Generate.java, line for line after the package declaration, so
 * the build compiles it with exactly the dependencies the README lists; and it runs, on the tiny model.
 */
class ReadmeSnippetTest {
    @Test
    void theReadmeSnippetIsGenerateJava() throws Exception {
        Path root = Path.of("..").toRealPath();
        String readme = Files.readString(root.resolve("README.md"));
        Matcher m = Pattern.compile("(?s)## In your own Java code.*?```java\\n(.*?)```").matcher(readme);
        assertThat(m.find()).as("a ```java block under 'In your own Java code'").isTrue();
        String source = Files.readString(root.resolve("examples/src/main/java/io/jdiffusion/examples/Generate.java"));
        String afterPackage = source.substring(source.indexOf('\n', source.indexOf("package ")) + 1).stripLeading();
        assertThat(m.group(1)).isEqualTo(afterPackage);
    }

    @Test
    void itRunsOnTheTinyModel(@TempDir Path dir) throws Exception {
        Path out = dir.resolve("lighthouse.png");
        Generate.main(new String[]{TinySd.modelDir().toString(), out.toString()});
        assertThat(ImageIO.read(out.toFile()).getWidth()).isPositive();
    }
}
