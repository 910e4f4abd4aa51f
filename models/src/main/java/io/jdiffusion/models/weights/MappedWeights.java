package io.jdiffusion.models.weights;

import io.jdiffusion.core.Shape;
import io.jdiffusion.core.Tensor;

import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Function;
import java.util.function.Predicate;

/**
 * One network's view of a {@link SafetensorsWeights}: diffusers names are translated to stored names
 * (identity for diffusers folders, the LDM names for single-file checkpoints), the first candidate that
 * exists wins. Only stored names {@code inScope} belong to this network, and {@code harmless} ones (buffers
 * such as {@code position_ids}) are never reported as unexpected.
 *
 * <p>A stored 1x1 convolution kernel [O, I, 1, 1] is handed out as the [O, I] matrix a linear layer expects
 * (LDM stores the VAE attention projections that way); both are the same bytes.
 */
public final class MappedWeights implements WeightSource {
    private final SafetensorsWeights file;
    private final Function<String, List<StoredKey>> mapping;
    private final Predicate<String> inScope;
    private final Predicate<String> harmless;
    private final Set<String> used = new HashSet<>();

    public MappedWeights(SafetensorsWeights file, Function<String, List<StoredKey>> mapping,
                         Predicate<String> inScope, Predicate<String> harmless) {
        this.file = file;
        this.mapping = mapping;
        this.inScope = inScope;
        this.harmless = harmless;
    }

    /** The whole file under its own names (a diffusers component folder). */
    public static MappedWeights identity(SafetensorsWeights file, Predicate<String> harmless) {
        return new MappedWeights(file, name -> List.of(StoredKey.whole(name)), n -> true, harmless);
    }

    @Override
    public Tensor find(String name, Shape expectedShape) {
        for (StoredKey key : mapping.apply(name)) {
            Tensor t = file.tensor(key.name());
            if (t == null) {
                continue;
            }
            used.add(key.name());
            if (key.isSlice()) {
                if (t.shape().rank() == 0 || key.toRow() > t.shape().dim(0)) {
                    return t; // the reader reports the shape
                }
                t = t.slice(key.fromRow(), key.toRow());
            }
            return asExpected(t, expectedShape);
        }
        return null;
    }

    private static Tensor asExpected(Tensor t, Shape expected) {
        Shape s = t.shape();
        if (expected.rank() == 2 && s.rank() == 4 && s.dim(2) == 1 && s.dim(3) == 1
                && s.dim(0) == expected.dim(0) && s.dim(1) == expected.dim(1)) {
            return t.reshape(expected);
        }
        return t;
    }

    @Override
    public List<String> unusedNames() {
        return file.names().stream()
                .filter(inScope)
                .filter(n -> !used.contains(n))
                .filter(harmless.negate())
                .sorted()
                .toList();
    }

    @Override
    public String description() {
        return file.description();
    }
}
