package io.jdiffusion.server.api;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.jdiffusion.core.testing.FuzzContract;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * OpenAI's {@code /v1/images/generations} body under the fuzzer: any bytes map to a job within the limits,
 * or are refused with a 400 {@link InvalidRequestException} naming the parameter in one line. Seeds in
 * src/test/resources/io/jdiffusion/server/api/OpenAiRequestsFuzzTestInputs/generations.
 */
class OpenAiRequestsFuzzTest {
    static {
        RequestSeeds.warmUp(OpenAiRequestsFuzzTest.class, "OpenAiRequestsFuzzTestInputs/generations",
                body -> OpenAiRequests.generations(body, A1111RequestsFuzzTest.MODEL, A1111RequestsFuzzTest.LIMITS));
    }

    @FuzzTest(maxDuration = "10s")
    void generations(byte[] input) {
        FuzzContract.check(InvalidRequestException.class, input.length, () -> {
            try {
                try (ImageJob job = OpenAiRequests.generations(input, A1111RequestsFuzzTest.MODEL, A1111RequestsFuzzTest.LIMITS)) {
                    A1111RequestsFuzzTest.checkWithinLimits(job);
                }
            } catch (InvalidRequestException e) {
                assertThat(e.status()).isIn(400, 413);
                throw e;
            }
        });
    }

    /** Every valid-* seed maps to a job and every bad-* seed is refused, naming a parameter, in one line. */
    @Test
    void theSeedCorpusHoldsWhatItsNamesSay() throws Exception {
        RequestSeeds.check(getClass(), "OpenAiRequestsFuzzTestInputs/generations",
                body -> OpenAiRequests.generations(body, A1111RequestsFuzzTest.MODEL, A1111RequestsFuzzTest.LIMITS));
    }
}
