package io.jdiffusion.models.sd;

import io.jdiffusion.core.Shape;
import io.jdiffusion.core.Tensor;
import io.jdiffusion.core.safetensors.SafetensorsWriter;
import io.jdiffusion.models.clip.ClipTextEncoder;
import io.jdiffusion.models.weights.LdmKeyMap;
import io.jdiffusion.models.weights.Parameter;
import io.jdiffusion.models.weights.StoredKey;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes a loaded model as an original single-file checkpoint (LDM layout), the inverse of single-file
 * loading through the same {@link LdmKeyMap}: SD 1.x keeps transformers' CLIP names under
 * {@code cond_stage_model.transformer.text_model.}; SD 2.x stores the OpenCLIP tower with q, k and v stacked in
 * one {@code in_proj}; SDXL stores both under {@code conditioner.embedders.0/1.}; the VAE's attention projections become 1x1 convolutions as LDM stores them. For test
 * checkpoints and full-size random ones (benchmarks on machines without a downloaded model).
 */
public final class LdmCheckpointWriter {
    private LdmCheckpointWriter() {
    }

    /** Writes {@code model}'s weights, plus {@code extras} (tensors real checkpoints carry besides the networks). */
    public static void write(StableDiffusion model, CheckpointFamily family, Path file, Map<String, Tensor> extras)
            throws IOException {
        Map<String, Tensor> out = new LinkedHashMap<>();
        List<Tensor> buffers = new ArrayList<>();
        try {
            switch (family.textTower()) {
                case CLIP -> putClip(model.textEncoder(), LdmKeyMap.CLIP_PREFIX, out);
                case OPEN_CLIP -> putOpenClip(model.textEncoder(), LdmKeyMap.OPEN_CLIP_PREFIX, out, buffers);
                case SDXL -> {
                    putClip(model.textEncoder(), LdmKeyMap.SDXL_CLIP_PREFIX, out);
                    putOpenClip(model.textEncoder2(), LdmKeyMap.SDXL_OPEN_CLIP_PREFIX, out, buffers);
                }
            }
            for (Parameter p : model.unet().parameters()) {
                out.put(LdmKeyMap.unet(p.name(), model.unet().config()), p.tensor());
            }
            for (Parameter p : model.vae().parameters()) {
                Tensor t = p.tensor();
                if (p.name().contains("mid_block.attentions.0.") && t.shape().rank() == 2) {
                    t = t.reshape(t.shape().dim(0), t.shape().dim(1), 1, 1);
                }
                out.put(LdmKeyMap.vae(p.name(), model.vae().config()), t);
            }
            out.putAll(extras);
            SafetensorsWriter.write(file, out);
        } finally {
            buffers.forEach(Tensor::close);
        }
    }

    private static void putClip(ClipTextEncoder encoder, String prefix, Map<String, Tensor> out) {
        for (Parameter p : encoder.parameters()) {
            out.put(LdmKeyMap.clip(p.name(), prefix).getFirst().name(), p.tensor());
        }
    }

    /** OpenCLIP: q, k and v stacked into in_proj; SDXL's projection stored transposed, as generative-models does. */
    private static void putOpenClip(ClipTextEncoder encoder, String prefix, Map<String, Tensor> out, List<Tensor> buffers) {
        int hidden = encoder.hiddenSize();
        for (Parameter p : encoder.parameters()) {
            StoredKey key = LdmKeyMap.openClip(p.name(), hidden, prefix);
            Shape s = p.tensor().shape();
            if (p.name().equals(ClipTextEncoder.PROJECTION + ".weight")) {
                Tensor t = Tensor.allocate(Shape.of(s.dim(1), s.dim(0)), p.tensor().dtype());
                buffers.add(t);
                for (long i = 0; i < s.dim(0); i++) {
                    for (long j = 0; j < s.dim(1); j++) {
                        t.setFloat(j * s.dim(0) + i, p.tensor().getFloat(i * s.dim(1) + j));
                    }
                }
                out.put(key.name(), t);
                continue;
            }
            if (!key.isSlice()) {
                out.put(key.name(), p.tensor());
                continue;
            }
            Tensor stacked = out.computeIfAbsent(key.name(), n -> {
                Tensor t = Tensor.allocate(s.withDim(0, 3 * s.dim(0)), p.tensor().dtype());
                buffers.add(t);
                return t;
            });
            long rowBytes = p.tensor().byteSize() / s.dim(0);
            MemorySegment.copy(p.tensor().segment(), 0, stacked.segment(), key.fromRow() * rowBytes, p.tensor().byteSize());
        }
    }
}
