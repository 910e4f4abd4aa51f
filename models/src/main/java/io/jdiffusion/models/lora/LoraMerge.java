package io.jdiffusion.models.lora;

import io.jdiffusion.core.DType;
import io.jdiffusion.core.Tensor;
import io.jdiffusion.models.weights.Parameter;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;

/**
 * Merges LoRAs into copies of the weights they change: {@code W' = W + sum over LoRAs of weight * alpha / rank
 * * (up . down)}, with up [out, rank] and down [rank, in * kh * kw] (a LoCon kernel is flattened the same way
 * as the weight it changes). The product is computed in F32 whatever the files store; each merged weight is
 * a new tensor in the base weight's dtype, so the base stays shared and untouched.
 */
public final class LoraMerge {
    /** One LoRA file and the weight it is applied with in this network. */
    public record Term(LoraFile file, double weight) {
    }

    private LoraMerge() {
    }

    /**
     * The merged weights of one network by parameter name; weights no LoRA touches (or only with weight 0)
     * are absent. The caller owns the returned tensors.
     */
    public static Map<String, Tensor> merge(String network, List<Parameter> base, List<Term> terms) {
        Map<String, List<Delta>> byParameter = new LinkedHashMap<>();
        for (Term term : terms) {
            if (term.weight() == 0) {
                continue;
            }
            for (LoraModule m : term.file().modules()) {
                if (m.target().network().equals(network)) {
                    byParameter.computeIfAbsent(m.target().parameter(), k -> new ArrayList<>())
                            .add(new Delta(term.file().tensor(m.downKey()), term.file().tensor(m.upKey()),
                                    (float) (term.weight() * term.file().alphaOverRank(m))));
                }
            }
        }
        Map<String, Tensor> merged = new LinkedHashMap<>();
        try {
            for (Parameter p : base) {
                List<Delta> deltas = byParameter.get(p.name());
                if (deltas != null) {
                    merged.put(p.name(), merged(p.tensor(), deltas));
                }
            }
        } catch (RuntimeException | Error e) {
            merged.values().forEach(Tensor::close);
            throw e;
        }
        return merged;
    }

    private record Delta(Tensor down, Tensor up, float scale) {
    }

    private static Tensor merged(Tensor base, List<Delta> deltas) {
        int out = Math.toIntExact(base.shape().dim(0));
        int in = Math.toIntExact(base.elementCount() / out);
        float[] w = base.toFloatArray();
        for (Delta d : deltas) {
            int rank = Math.toIntExact(d.down().shape().dim(0));
            float[] down = d.down().toFloatArray();
            float[] up = d.up().toFloatArray();
            IntStream.range(0, out).parallel().forEach(o -> {
                float[] row = new float[in];
                for (int k = 0; k < rank; k++) {
                    float a = up[o * rank + k];
                    int from = k * in;
                    for (int i = 0; i < in; i++) {
                        row[i] += a * down[from + i];
                    }
                }
                int at = o * in;
                for (int i = 0; i < in; i++) {
                    w[at + i] += d.scale() * row[i];
                }
            });
        }
        Tensor f32 = Tensor.ofFloats(base.shape(), w);
        if (base.dtype() == DType.F32) {
            return f32;
        }
        try (f32) {
            return f32.to(base.dtype());
        }
    }
}
