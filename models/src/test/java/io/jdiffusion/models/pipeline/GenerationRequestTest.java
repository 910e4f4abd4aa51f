package io.jdiffusion.models.pipeline;

import io.jdiffusion.core.DType;
import io.jdiffusion.core.Shape;
import io.jdiffusion.core.Tensor;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class GenerationRequestTest {
    @Test
    void builderDefaultsAreDiffusers() {
        GenerationRequest r = GenerationRequest.builder().prompt("a cat").build();
        assertThat(r.prompt()).isEqualTo(new GenerationRequest.PromptInput("a cat", ""));
        assertThat(r.sampling().sampler()).as("null = the model's default sampler").isNull();
        assertThat(r.sampling().steps()).isEqualTo(20);
        assertThat(r.sampling().guidanceScale()).isEqualTo(7.5f);
        assertThat(r.sampling().usesGuidance()).isTrue();
        assertThat(r.size()).isEqualTo(new GenerationRequest.ImageSize(0, 0));
        assertThat(r.image()).isNull();
        assertThat(r.output().decodeImage()).isTrue();
    }

    @Test
    void toBuilderKeepsEveryFieldAndChangesOnlyWhatIsSet() {
        try (Tensor image = Tensor.allocate(Shape.of(1, 3, 8, 8), DType.F32);
             Tensor mask = Tensor.allocate(Shape.of(1, 1, 8, 8), DType.F32)) {
            float[] noise = {1, 2, 3};
            GenerationRequest r = GenerationRequest.builder().prompt("p").negativePrompt("n").sampler("ddim").karras(false)
                    .steps(7).guidanceScale(3f).eta(0.5f).seed(99).initialNoise(noise).size(64, 48)
                    .initImage(image, 0.6f).mask(mask).decodeImage(false).build();
            GenerationRequest copy = r.toBuilder().build();
            assertThat(copy).isEqualTo(r);
            GenerationRequest reseeded = r.toBuilder().seed(100).build();
            assertThat(reseeded.sampling().seed()).isEqualTo(100);
            assertThat(reseeded.toBuilder().seed(99).build()).isEqualTo(r);
        }
    }

    @Test
    void invalidValuesAreRefusedNamingTheField() {
        assertThatThrownBy(() -> GenerationRequest.builder().steps(0).build()).hasMessageContaining("steps");
        assertThatThrownBy(() -> GenerationRequest.builder().guidanceScale(Float.NaN).build()).hasMessageContaining("guidance");
        assertThatThrownBy(() -> GenerationRequest.builder().size(-8, 8).build()).hasMessageContaining("size");
        assertThatThrownBy(() -> GenerationRequest.builder().eta(-1).build()).hasMessageContaining("eta");
        try (Tensor image = Tensor.allocate(Shape.of(1, 3, 8, 8), DType.F32)) {
            assertThatThrownBy(() -> GenerationRequest.builder().initImage(image, 1.5f).build()).hasMessageContaining("strength");
            assertThatThrownBy(() -> GenerationRequest.builder().mask(image).build()).hasMessageContaining("mask needs an init image");
        }
    }
}
