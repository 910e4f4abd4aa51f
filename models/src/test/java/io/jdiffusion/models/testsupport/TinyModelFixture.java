package io.jdiffusion.models.testsupport;

import io.jdiffusion.backend.Backend;
import io.jdiffusion.backend.Backends;
import io.jdiffusion.core.safetensors.SafetensorsFile;
import io.jdiffusion.models.sd.StableDiffusion;
import io.jdiffusion.testdata.TinySd;

/** The bundled tiny model, one golden file and the CPU backend: opened together, closed together. */
public final class TinyModelFixture implements AutoCloseable {
    public final StableDiffusion model;
    public final SafetensorsFile golden;
    public final Backend cpu;

    private TinyModelFixture(String goldenFile) {
        this.model = StableDiffusion.load(TinySd.modelDir(), null);
        this.golden = TinySd.golden(goldenFile);
        this.cpu = Backends.create("cpu");
    }

    /** Opens the tiny model with golden file {@code goldenFile}, e.g. {@code unet.safetensors}. */
    public static TinyModelFixture open(String goldenFile) {
        return new TinyModelFixture(goldenFile);
    }

    @Override
    public void close() {
        cpu.close();
        golden.close();
        model.close();
    }
}
