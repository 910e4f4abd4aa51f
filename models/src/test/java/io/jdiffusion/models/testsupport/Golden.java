package io.jdiffusion.models.testsupport;

import io.jdiffusion.core.Numerics;
import io.jdiffusion.core.Tensor;

import java.util.List;
import java.util.Locale;
import java.util.function.Function;

import static org.assertj.core.api.Assertions.assertThat;

/** Comparison against the diffusers goldens: relative L2 error, printed so reports can quote it. */
public final class Golden {
    /** The tolerance for model parts in F32 on the CPU backend. */
    public static final double TOLERANCE = 1e-4;

    private Golden() {
    }

    /** Asserts relL2(actual, expected) <= tolerance and returns the error; prints {@code GOLDEN <case> <error>}. */
    public static double check(String label, Tensor actual, Tensor expected, double tolerance) {
        assertThat(actual.shape()).as(label + " shape").isEqualTo(expected.shape());
        double err = Numerics.relativeL2(actual, expected);
        System.out.println(String.format(Locale.ROOT, "GOLDEN %-45s relL2 %.3e", label, err));
        assertThat(err).as(label + " relative L2 error").isLessThanOrEqualTo(tolerance);
        return err;
    }

    /**
     * Checks the tapped module outputs {@code outputs[1 + i]} against {@code after.<taps[i]>} of the golden
     * case (the block-by-block tensors diffusers' forward hooks saved).
     */
    public static void checkTaps(String label, List<Tensor> outputs, List<String> taps, Function<String, Tensor> goldenTensor,
                                 double tolerance) {
        for (int i = 0; i < taps.size(); i++) {
            check(label + " after." + taps.get(i), outputs.get(1 + i), goldenTensor.apply("after." + taps.get(i)), tolerance);
        }
    }

    public static double check(String label, Tensor actual, Tensor expected) {
        return check(label, actual, expected, TOLERANCE);
    }
}
