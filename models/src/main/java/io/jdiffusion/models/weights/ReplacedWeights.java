package io.jdiffusion.models.weights;

import io.jdiffusion.core.Shape;
import io.jdiffusion.core.Tensor;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A loaded network's own weights with some of them replaced (LoRA-merged copies): loading the network again
 * from this source gives a network that shares every unreplaced tensor, the same objects, with the original,
 * so backends that cache packed weights by tensor identity reuse them.
 */
public final class ReplacedWeights implements WeightSource {
    private final Map<String, Tensor> tensors = new HashMap<>();
    private final String description;

    public ReplacedWeights(List<Parameter> base, Map<String, Tensor> replaced, String description) {
        for (Parameter p : base) {
            tensors.put(p.name(), p.tensor());
        }
        for (String name : replaced.keySet()) {
            if (!tensors.containsKey(name)) {
                throw new IllegalArgumentException("no weight '" + name + "' to replace");
            }
        }
        tensors.putAll(replaced);
        this.description = description;
    }

    @Override
    public Tensor find(String name, Shape expectedShape) {
        return tensors.get(name);
    }

    @Override
    public List<String> unusedNames() {
        return List.of();
    }

    @Override
    public String description() {
        return description;
    }
}
