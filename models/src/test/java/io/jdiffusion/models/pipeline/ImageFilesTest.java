package io.jdiffusion.models.pipeline;

import org.junit.jupiter.api.Test;

import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Init images decode as PIL's {@code Image.open(f).convert("RGB")} decodes them (pil-convert-rgb.txt holds
 * Pillow's output for every valid seed of the fuzz corpus), and every corrupt seed is refused in one line.
 */
class ImageFilesTest {
    private static final Path SEEDS = resource("ImageFilesFuzzTestInputs/decode");

    private static Path resource(String name) {
        try {
            return Path.of(ImageFilesTest.class.getResource(name).toURI());
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    @Test
    void everyColourTypeAndBitDepthConvertsAsPilDoes() throws Exception {
        List<String> lines = Files.readAllLines(resource("pil-convert-rgb.txt"));
        assertThat(lines).hasSizeGreaterThanOrEqualTo(16);
        for (String line : lines) {
            String[] f = line.split(" ");
            String name = f[0];
            byte[] expected = HexFormat.of().parseHex(f[3]);
            ImageFiles.Rgb rgb = ImageFiles.read(SEEDS.resolve(name), "--init-image");
            assertThat(rgb.width() + "x" + rgb.height()).as(name).isEqualTo(f[1]);
            // JPEG decoders may differ by a unit or two in the inverse DCT and colour conversion; lossless formats match exactly
            int tolerance = name.startsWith("jpeg-") ? 3 : 0;
            for (int i = 0; i < expected.length; i++) {
                assertThat(rgb.pixels()[i] & 0xFF).as("%s (PIL mode %s) byte %d", name, f[2], i)
                        .isCloseTo(expected[i] & 0xFF, org.assertj.core.data.Offset.offset(tolerance));
            }
        }
    }

    @Test
    void everyCorruptionClassIsRefusedInOneLineNamingTheFile() throws Exception {
        try (Stream<Path> files = Files.list(SEEDS)) {
            for (Path seed : files.filter(p -> p.getFileName().toString().startsWith("bad-")).sorted().toList()) {
                assertThatThrownBy(() -> ImageFiles.read(seed, "--init-image")).as(seed.getFileName().toString())
                        .isInstanceOf(ImageFileException.class)
                        .hasMessageStartingWith("--init-image " + seed + ": ")
                        .satisfies(e -> assertThat(e.getMessage()).doesNotContain("\n"));
            }
        }
    }

    /**
     * pil-rgba-alpha.txt holds, for every valid seed, the mode Pillow opens it in and, for mode "RGBA", the alpha
     * band's bytes ({@code Image.open(f).split()[-1].tobytes().hex()}): A1111 reads masks by that alpha.
     */
    @Test
    void theAlphaOfImagesPilOpensAsRgbaIsKept() throws Exception {
        List<String> lines = Files.readAllLines(resource("pil-rgba-alpha.txt"));
        assertThat(lines).hasSizeGreaterThanOrEqualTo(16);
        for (String line : lines) {
            String[] f = line.split(" ");
            ImageFiles.Rgb rgb = ImageFiles.read(SEEDS.resolve(f[0]), "--mask");
            if (f[1].equals("RGBA")) {
                assertThat(rgb.alpha()).as(f[0]).isNotNull();
                assertThat(HexFormat.of().formatHex(rgb.alpha())).as(f[0]).isEqualTo(f[2]);
            } else {
                assertThat(rgb.alpha()).as(f[0] + " (PIL mode " + f[1] + ")").isNull();
            }
        }
    }

    @Test
    void aHeaderClaimingTenGigapixelsIsRefusedBeforeAnyPixelIsAllocated() throws Exception {
        var threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        byte[] bomb = Files.readAllBytes(SEEDS.resolve("bad-png-claims-100000x100000.png"));
        long before = threads.getCurrentThreadAllocatedBytes();
        assertThatThrownBy(() -> ImageFiles.decode("bomb.png", bomb, ImageFiles.MAX_PIXELS))
                .isInstanceOf(ImageFileException.class)
                .hasMessage("bomb.png: its header claims 100000x100000 = 10000000000 pixels, more than the limit of 89478485");
        assertThat(threads.getCurrentThreadAllocatedBytes() - before).isLessThan(16L << 20);
    }

    @Test
    void aFolderOrMissingFileIsNamedAsSuch(@org.junit.jupiter.api.io.TempDir Path dir) {
        assertThatThrownBy(() -> ImageFiles.read(dir, "--init-image")).hasMessage("--init-image " + dir + ": is a directory, not a file");
        Path missing = dir.resolve("missing.png");
        assertThatThrownBy(() -> ImageFiles.read(missing, "--init-image")).hasMessage("--init-image " + missing + ": does not exist");
    }

    @Test
    void aGreyMaskKeepsItsValuesAndColourMasksTakePilsLuma() {
        ImageFiles.Rgb grey = new ImageFiles.Rgb(2, 1, new byte[]{7, 7, 7, (byte) 200, (byte) 200, (byte) 200});
        assertThat(grey.luma()).containsExactly(7, (byte) 200);
        // PIL: L = (R * 19595 + G * 38470 + B * 7471 + 0x8000) >> 16
        ImageFiles.Rgb colour = new ImageFiles.Rgb(1, 1, new byte[]{(byte) 255, 0, 0});
        assertThat(colour.luma()[0] & 0xFF).isEqualTo(76);
    }
}
