package io.jdiffusion.models.weights;

import io.jdiffusion.core.Shape;
import io.jdiffusion.core.Tensor;

import java.util.List;

/**
 * Where one network's weights come from, addressed by their diffusers/transformers names: a safetensors
 * file in diffusers layout, one component of a single-file checkpoint, or seeded random data. A
 * {@link WeightReader} pulls the tensors a network needs and checks what it got.
 */
public interface WeightSource {
    /**
     * The tensor stored under the diffusers name {@code name}, or null when there is none. Stored data is
     * returned as is (a zero-copy view; its shape may differ from {@code expectedShape}, which the reader
     * checks); generating sources make a tensor of {@code expectedShape}.
     */
    Tensor find(String name, Shape expectedShape);

    /** Stored tensors of this network that no {@link #find} returned and that are not known to be harmless, in stored naming. */
    List<String> unusedNames();

    /** Where the weights come from, for messages (a file, or "random weights, seed 1"). */
    String description();
}
