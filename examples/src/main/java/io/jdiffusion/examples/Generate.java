package io.jdiffusion.examples;

import io.jdiffusion.backend.Backend;
import io.jdiffusion.backend.Backends;
import io.jdiffusion.backend.Precision;
import io.jdiffusion.models.pipeline.BufferedImages;
import io.jdiffusion.models.pipeline.GenerationRequest;
import io.jdiffusion.models.pipeline.GenerationResult;
import io.jdiffusion.models.pipeline.ProgressListener;
import io.jdiffusion.models.pipeline.StableDiffusionPipeline;
import io.jdiffusion.models.sd.StableDiffusion;

import javax.imageio.ImageIO;
import java.nio.file.Path;

public class Generate {
    public static void main(String[] args) throws Exception {
        Path model = Path.of(args.length > 0 ? args[0] : "stable-diffusion-v1-5"); // a diffusers folder or a .safetensors file
        Path output = Path.of(args.length > 1 ? args[1] : "lighthouse.png");
        try (StableDiffusion sd = StableDiffusion.load(model, null);
             Backend backend = Backends.create(null); // the best available: cpu, or tornado where installed
             StableDiffusionPipeline pipeline = new StableDiffusionPipeline(sd, backend, Precision.F32);
             GenerationResult result = pipeline.generate(
                     GenerationRequest.builder().prompt("a lighthouse at dusk").seed(42).steps(20).build(),
                     ProgressListener.NONE)) {
            ImageIO.write(BufferedImages.toBufferedImage(result.image()), "png", output.toFile());
        }
    }
}
