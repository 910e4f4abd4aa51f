package io.jdiffusion.backend.testing;

import io.jdiffusion.backend.graph.Value;

import java.util.function.Function;

/**
 * One conformance check: a named graph recipe (drawn fresh from a {@link TestRandom} each run) and the
 * tolerance class it is held to. The recipe returns the values that become the graph's outputs.
 */
public record ConformanceCase(String name, Tolerances.Accuracy accuracy, Function<ProblemBuilder, Value[]> recipe) {
    public Problem build(TestRandom random) {
        return build(random, false);
    }

    /** The problem, {@linkplain ProblemBuilder staged} through intermediate values where asked. */
    public Problem build(TestRandom random, boolean staged) {
        ProblemBuilder b = new ProblemBuilder(name, random, staged);
        return b.build(recipe.apply(b));
    }

    static ConformanceCase direct(String name, Function<ProblemBuilder, Value[]> recipe) {
        return new ConformanceCase(name, Tolerances.Accuracy.DIRECT, recipe);
    }

    static ConformanceCase transformed(String name, Function<ProblemBuilder, Value[]> recipe) {
        return new ConformanceCase(name, Tolerances.Accuracy.TRANSFORMED, recipe);
    }
}
