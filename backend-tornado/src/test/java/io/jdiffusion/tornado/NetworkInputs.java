package io.jdiffusion.tornado;

import io.jdiffusion.backend.graph.Graph;
import io.jdiffusion.backend.graph.Value;
import io.jdiffusion.core.DType;
import io.jdiffusion.core.Tensor;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Plausible random inputs for a network graph: token ids below {@code vocab}, timesteps in [0, 1000), and
 * standard normal latents, images and text embeddings. The caller closes the tensors.
 */
final class NetworkInputs {
    private NetworkInputs() {
    }

    static List<Tensor> random(Graph graph, int vocab, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        List<Tensor> inputs = new ArrayList<>();
        for (Value v : graph.inputs()) {
            Tensor t = Tensor.allocate(v.shape(), v.dtype());
            long n = t.elementCount();
            for (long i = 0; i < n; i++) {
                if (v.dtype() == DType.I64 || v.dtype() == DType.I32) {
                    long id = random.nextInt(vocab);
                    if (v.dtype() == DType.I64) {
                        t.segment().setAtIndex(java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED, i, id);
                    } else {
                        t.segment().setAtIndex(java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED, i, (int) id);
                    }
                } else if (v.shape().rank() == 1) {
                    t.setFloat(i, (float) random.nextDouble(0, 1000));
                } else {
                    t.setFloat(i, (float) nextGaussian(random));
                }
            }
            inputs.add(t);
        }
        return inputs;
    }

    private static double nextGaussian(SplittableRandom r) {
        double u = r.nextDouble();
        double v = r.nextDouble();
        return Math.sqrt(-2 * Math.log(1 - u)) * Math.cos(2 * Math.PI * v);
    }
}
