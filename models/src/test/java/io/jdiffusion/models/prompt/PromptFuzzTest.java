package io.jdiffusion.models.prompt;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.jdiffusion.core.testing.FuzzContract;
import io.jdiffusion.models.pipeline.RequestLimits;
import io.jdiffusion.models.tokenizer.ClipTokenizer;
import io.jdiffusion.testdata.TinySd;

import java.nio.charset.StandardCharsets;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The A1111 prompt parser under the fuzzer: extra-network tags, emphasis and BREAK, then chunking into CLIP
 * token chunks. Any prompt within the length limit parses into runs and chunks, or is refused with a
 * {@link PromptException}. Seeds in src/test/resources/io/jdiffusion/models/prompt/PromptFuzzTestInputs/parse.
 */
class PromptFuzzTest {
    private static final PromptChunker CHUNKER = new PromptChunker(ClipTokenizer.load(TinySd.modelDir().resolve("tokenizer")));

    @FuzzTest(maxDuration = "10s")
    void parse(byte[] input) {
        String prompt = new String(input, StandardCharsets.UTF_8);
        if (prompt.length() > RequestLimits.MAX_PROMPT_CHARS) {
            return; // refused when the request is built, before any parsing
        }
        FuzzContract.check(PromptException.class, input.length, () -> {
            ExtraNetworkTags.Parsed tags = ExtraNetworkTags.parse(prompt);
            for (LoraTag lora : tags.loras()) {
                assertThat(lora.name()).isNotNull();
            }
            List<WeightedText> runs = PromptAttention.parse(tags.prompt());
            assertThat(runs).isNotEmpty();
            for (WeightedText run : runs) {
                assertThat(run.weight()).as("weight of %s", run.text()).isNotNaN();
            }
            assertThat(CHUNKER.chunks(runs)).isNotEmpty();
        });
    }
}
