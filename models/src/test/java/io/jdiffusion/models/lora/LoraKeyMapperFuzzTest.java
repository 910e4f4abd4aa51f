package io.jdiffusion.models.lora;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.jdiffusion.core.testing.FuzzContract;

import java.nio.charset.StandardCharsets;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

import static io.jdiffusion.models.lora.MapperTargets.TARGETS;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The LoRA key mapper under the fuzzer: any set of tensor names (the input's lines) maps to down/up pairs of
 * the model's modules, or is refused with a {@link LoraException}. Seeds: kohya, PEFT and attention-processor
 * name sets and the unsupported kinds, in
 * src/test/resources/io/jdiffusion/models/lora/LoraKeyMapperFuzzTestInputs/map.
 */
class LoraKeyMapperFuzzTest {
    @FuzzTest(maxDuration = "10s")
    void map(byte[] input) {
        Set<String> keys = new LinkedHashSet<>(List.of(new String(input, StandardCharsets.UTF_8).split("\n", -1)));
        FuzzContract.check(LoraException.class, input.length, () -> {
            List<LoraModule> modules = LoraKeyMapper.map(keys, TARGETS, "lora.safetensors");
            for (LoraModule m : modules) {
                assertThat(keys).contains(m.downKey(), m.upKey());
                assertThat(MapperTargets.ALL).contains(m.target());
            }
        });
    }
}
