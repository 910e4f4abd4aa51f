package io.jdiffusion.server.api;

import io.jdiffusion.core.Tensor;
import io.jdiffusion.models.pipeline.GenerationRequest;

/** The one place where the server's validated settings become the pipeline's {@link GenerationRequest}. */
public final class GenerationRequests {
    private GenerationRequests() {
    }

    static GenerationRequest of(String prompt, String negativePrompt, long seed, A1111Samplers.Choice sampler, int steps,
                                float cfgScale, float eta, int width, int height, Tensor initImage, float strength) {
        // A1111's eta reaches DDIM only here: jdiffusion's ancestral samplers take no eta.
        float ddimEta = "ddim".equals(sampler.sampler()) ? eta : 0f;
        return GenerationRequest.builder()
                .prompt(prompt)
                .negativePrompt(negativePrompt)
                .seed(seed)
                .sampler(sampler.sampler())
                .karras(sampler.karras())
                .steps(steps)
                .guidanceScale(cfgScale)
                .eta(ddimEta)
                .size(width, height)
                .initImage(initImage, strength)
                .build();
    }

    /** The same request with another seed (the seeds of one job count up from the first). */
    public static GenerationRequest withSeed(GenerationRequest request, long seed) {
        return request.toBuilder().seed(seed).build();
    }
}
