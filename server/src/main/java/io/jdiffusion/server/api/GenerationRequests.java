package io.jdiffusion.server.api;

import io.jdiffusion.models.scheduler.Sampler;
import io.jdiffusion.core.Tensor;
import io.jdiffusion.models.pipeline.GenerationRequest;

/** The one place where the server's validated settings become the pipeline's {@link GenerationRequest}. */
public final class GenerationRequests {
    private GenerationRequests() {
    }

    static GenerationRequest of(String prompt, String negativePrompt, long seed, Sampler.Choice sampler, int steps,
                                float cfgScale, float eta, int width, int height, Tensor initImage, float strength,
                                Tensor mask, GenerationRequest.InpaintArea area) {
        // A1111's eta reaches DDIM only here: jdiffusion's ancestral samplers take no eta.
        float ddimEta = sampler.sampler() == Sampler.DDIM ? eta : 0f;
        try {
            return build(prompt, negativePrompt, seed, sampler, steps, cfgScale, ddimEta, width, height, initImage, strength, mask,
                    area);
        } catch (IllegalArgumentException e) {
            // The mapping checks each field first; this is the pipeline's own check, kept as one clear refusal.
            throw new InvalidRequestException("body", e.getMessage());
        }
    }

    /** A prompt within the pipeline's length limit, refused naming its field otherwise. */
    static String checkPrompt(String field, String prompt) {
        if (prompt.length() > io.jdiffusion.models.pipeline.RequestLimits.MAX_PROMPT_CHARS) {
            throw new InvalidRequestException(field, "a prompt of " + prompt.length() + " characters exceeds the limit of "
                    + io.jdiffusion.models.pipeline.RequestLimits.MAX_PROMPT_CHARS);
        }
        return prompt;
    }

    private static GenerationRequest build(String prompt, String negativePrompt, long seed, Sampler.Choice sampler, int steps,
                                           float cfgScale, float ddimEta, int width, int height, Tensor initImage,
                                           float strength, Tensor mask, GenerationRequest.InpaintArea area) {
        return GenerationRequest.builder()
                .prompt(prompt)
                .negativePrompt(negativePrompt)
                .seed(seed)
                .sampler(sampler.sampler())
                .schedule(sampler.schedule())
                .steps(steps)
                .guidanceScale(cfgScale)
                .eta(ddimEta)
                .size(width, height)
                .initImage(initImage, strength)
                .mask(mask)
                .inpaintArea(area)
                .build();
    }

    /** The same request with another seed (the seeds of one job count up from the first). */
    public static GenerationRequest withSeed(GenerationRequest request, long seed) {
        return request.toBuilder().seed(seed).build();
    }
}
