package io.jdiffusion.models.pipeline;

import java.util.Map;

/** The names other tools (A1111's PNG parameters) use for jdiffusion's samplers. */
public final class SamplerLabels {
    private static final Map<String, String> A1111 = Map.of(
            "pndm", "PLMS",
            "ddim", "DDIM",
            "euler", "Euler",
            "euler_a", "Euler a",
            "dpmpp_2m", "DPM++ 2M",
            "lms", "LMS");

    private SamplerLabels() {
    }

    public static String a1111(String sampler, boolean karras) {
        String label = A1111.getOrDefault(sampler, sampler);
        return karras ? label + " Karras" : label;
    }
}
