package io.jdiffusion.backend.testing;

import io.jdiffusion.backend.Backend;
import io.jdiffusion.backend.HostRunner;
import io.jdiffusion.backend.graph.Graph;
import io.jdiffusion.core.Tensor;

import java.util.ArrayList;
import java.util.List;

/**
 * A trusted backend as the oracle, e.g. backend-cpu for a GPU backend's conformance run. Its outputs are
 * widened to double; it must already agree with {@link ReferenceOps} (its own suite checks that).
 */
public final class BackendOracle implements Oracle {
    private final Backend trusted;

    public BackendOracle(Backend trusted) {
        this.trusted = trusted;
    }

    @Override
    public List<double[]> evaluate(Graph graph, List<Tensor> inputs) {
        List<double[]> result = new ArrayList<>();
        for (Tensor t : HostRunner.run(trusted, graph, inputs)) {
            try (t) {
                float[] f = t.toFloatArray();
                double[] d = new double[f.length];
                for (int i = 0; i < f.length; i++) {
                    d[i] = f[i];
                }
                result.add(d);
            }
        }
        return result;
    }
}
