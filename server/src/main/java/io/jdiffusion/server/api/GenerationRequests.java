package io.jdiffusion.server.api;

import io.jdiffusion.core.Tensor;
import io.jdiffusion.models.pipeline.GenerationRequest;

/** The one place where the server's validated settings become the pipeline's {@link GenerationRequest}. */
public final class GenerationRequests {
    private GenerationRequests() {
    }

    static GenerationRequest of(String prompt, String negativePrompt, long seed, A1111Samplers.Choice sampler, int steps,
                                float cfgScale, float eta, int width, int height, Tensor initImage, float strength) {
        float ddimEta = sampler.sampler().equals("ddim") ? eta : 0f;
        return new GenerationRequest(prompt, negativePrompt, seed, sampler.sampler(), sampler.karras(), steps, cfgScale,
                width, height, ddimEta, initImage, strength, null);
    }

    /** The same request with another seed (the seeds of one job count up from the first). */
    public static GenerationRequest withSeed(GenerationRequest request, long seed) {
        return request.withSeed(seed);
    }
}
