package io.jdiffusion.server.api;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.jdiffusion.core.testing.FuzzContract;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * AUTOMATIC1111's txt2img and img2img bodies under the fuzzer: any bytes map to a job within the limits, or
 * are refused with an {@link InvalidRequestException} naming a field in one line. img2img decodes base64
 * images (init image and mask) on the way, so it is fed the image decoders too. Seeds: valid bodies and one
 * file per class of bad input, in src/test/resources/io/jdiffusion/server/api/A1111RequestsFuzzTestInputs.
 */
class A1111RequestsFuzzTest {
    static final ModelFacts MODEL = new ModelFacts("v1-5", "6ce0161689", "euler", 64, 64, 8, false);
    /** Small limits, so that what a hostile body may cost stays within the contract's allocation bound. */
    static final RequestLimits LIMITS = new RequestLimits(1 << 20, 1 << 16, 128 * 128, 4, 50);

    static {
        RequestSeeds.warmUp(A1111RequestsFuzzTest.class, "A1111RequestsFuzzTestInputs/txt2img",
                body -> A1111Requests.txt2img(body, MODEL, LIMITS));
        RequestSeeds.warmUp(A1111RequestsFuzzTest.class, "A1111RequestsFuzzTestInputs/img2img",
                body -> A1111Requests.img2img(body, MODEL, LIMITS));
    }

    @FuzzTest(maxDuration = "10s")
    void txt2img(byte[] input) {
        FuzzContract.check(InvalidRequestException.class, input.length, () -> {
            try (ImageJob job = A1111Requests.txt2img(input, MODEL, LIMITS)) {
                checkWithinLimits(job);
            }
        });
    }

    @FuzzTest(maxDuration = "10s")
    void img2img(byte[] input) {
        FuzzContract.check(InvalidRequestException.class, input.length, () -> {
            try (ImageJob job = A1111Requests.img2img(input, MODEL, LIMITS)) {
                checkWithinLimits(job);
                assertThat(job.request().image()).isNotNull();
                assertThat(job.request().image().strength()).isBetween(0f, 1f);
            }
        });
    }

    /** Every valid-* seed maps to a job and every bad-* seed is refused, naming a field, in one line. */
    @Test
    void theSeedCorporaHoldWhatTheirNamesSay() throws Exception {
        RequestSeeds.check(getClass(), "A1111RequestsFuzzTestInputs/txt2img", body -> A1111Requests.txt2img(body, MODEL, LIMITS));
        RequestSeeds.check(getClass(), "A1111RequestsFuzzTestInputs/img2img", body -> A1111Requests.img2img(body, MODEL, LIMITS));
    }

    static void checkWithinLimits(ImageJob job) {
        assertThat(job.imageCount()).isBetween(1, LIMITS.maxImages());
        assertThat(job.request().sampling().steps()).isBetween(1, LIMITS.maxSteps());
        long pixels = (long) job.request().size().width() * job.request().size().height();
        assertThat(pixels).isBetween(1L, LIMITS.maxPixels());
        assertThat(job.request().size().width() % MODEL.sizeMultiple()).isZero();
        assertThat(job.parameters()).isNotNull();
    }
}
