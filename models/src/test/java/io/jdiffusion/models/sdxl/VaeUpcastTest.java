package io.jdiffusion.models.sdxl;

import io.jdiffusion.backend.Backend;
import io.jdiffusion.backend.Backends;
import io.jdiffusion.backend.Executable;
import io.jdiffusion.backend.Precision;
import io.jdiffusion.backend.graph.Graph;
import io.jdiffusion.backend.testing.ForwardingBackend;
import io.jdiffusion.models.pipeline.GenerationRequest;
import io.jdiffusion.models.pipeline.GenerationResult;
import io.jdiffusion.models.pipeline.ProgressListener;
import io.jdiffusion.models.pipeline.StableDiffusionPipeline;
import io.jdiffusion.models.sd.StableDiffusion;
import io.jdiffusion.testdata.GoldenSet;
import io.jdiffusion.testdata.TestFiles;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * An F16 pipeline compiles SDXL's VAE in F32 (diffusers' force_upcast: the original SDXL VAE overflows F16)
 * and everything else in F16; SD 1.x/2.x VAEs follow the request, as in diffusers' SD pipelines, although
 * their re-saved configs say force_upcast too; an SDXL VAE that says false (the fp16-fix VAE) stays in F16.
 */
class VaeUpcastTest {
    @Test
    void sdxlVaeIsCompiledInF32UnderAnF16Request() {
        Map<String, Precision> compiled = compile(GoldenSet.TINY_SDXL.modelDir());
        assertThat(compiled).containsEntry("unet", Precision.F16).containsEntry("vae_decoder", Precision.F32);
    }

    @Test
    void sdVaesFollowTheRequest() {
        Map<String, Precision> compiled = compile(GoldenSet.TINY_SD.modelDir());
        assertThat(compiled).containsEntry("unet", Precision.F16).containsEntry("vae_decoder", Precision.F16);
    }

    @Test
    void fp16FixVaeFollowsTheRequest(@TempDir Path tmp) throws IOException {
        Path model = TestFiles.copyTree(GoldenSet.TINY_SDXL.modelDir(), tmp.resolve("model"));
        Path vae = model.resolve("vae/config.json");
        Files.writeString(vae, Files.readString(vae).replace("\"force_upcast\": true", "\"force_upcast\": false"));
        assertThat(compile(model)).containsEntry("vae_decoder", Precision.F16);
    }

    /** Graph name to the precision it was compiled in, for one 2-step F16 generation. */
    private static Map<String, Precision> compile(Path modelDir) {
        Map<String, Precision> compiled = new LinkedHashMap<>();
        try (StableDiffusion model = StableDiffusion.load(modelDir, null);
             Backend cpu = Backends.create("cpu");
             StableDiffusionPipeline pipeline = new StableDiffusionPipeline(model, new Recording(cpu, compiled), Precision.F16);
             GenerationResult result = pipeline.generate(GenerationRequest.builder().prompt("x").steps(2).size(32, 32).build(),
                     ProgressListener.NONE)) {
            assertThat(result.image()).isNotNull();
        }
        return compiled;
    }

    /** The CPU backend, remembering what each compiled graph was asked to compute in. */
    private static final class Recording extends ForwardingBackend {
        private final Map<String, Precision> compiled;

        Recording(Backend inner, Map<String, Precision> compiled) {
            super(inner);
            this.compiled = compiled;
        }

        @Override
        public Executable compile(Graph graph, Precision precision) {
            compiled.put(graph.name(), precision);
            return inner.compile(graph, precision);
        }
    }
}
