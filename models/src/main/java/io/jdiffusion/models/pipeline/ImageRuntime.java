package io.jdiffusion.models.pipeline;

/**
 * Whether this Java runtime can read and write images. {@code javax.imageio}, which {@link PngWriter} and
 * {@link ImageFiles} use, lives in the {@code java.desktop} module, and a jlink'd runtime may leave it out: the
 * first sign would then be a {@code NoClassDefFoundError} for {@code java.awt.Image} after the whole generation
 * had run. Commands that write or read images ask first.
 */
public final class ImageRuntime {
    static final String MODULE = "java.desktop";

    private ImageRuntime() {
    }

    /** Fails with one clear message where the running Java has no {@code java.desktop} module. */
    public static void require() {
        require(ModuleLayer.boot());
    }

    static void require(ModuleLayer layer) {
        if (layer.findModule(MODULE).isEmpty()) {
            throw new IllegalStateException("this Java runtime has no " + MODULE + " module, which reading and writing images"
                    + " needs (javax.imageio): run jdiffusion on a full JDK 25, or add " + MODULE + " to the jlink'd runtime (--add-modules)");
        }
    }
}
