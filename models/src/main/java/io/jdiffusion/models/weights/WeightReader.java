package io.jdiffusion.models.weights;

import io.jdiffusion.core.Shape;
import io.jdiffusion.core.Tensor;
import io.jdiffusion.models.config.ModelLoadException;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * Takes a network's weights from a {@link WeightSource}, one expected name and shape at a time, and
 * collects every problem instead of stopping at the first: {@link #finish()} then reports the missing,
 * mis-shaped, non-float and unexpected tensors in one error (each kind counted, the first five named).
 */
public final class WeightReader {
    /** How many tensors each kind of problem lists by name. */
    static final int LISTED = 5;
    private final WeightSource source;
    private final String network;
    private final String configSource;
    private final List<Parameter> parameters = new ArrayList<>();
    private final List<String> missing = new ArrayList<>();
    private final List<String> misshaped = new ArrayList<>();
    private boolean finished;

    /**
     * @param network      what the weights are for, e.g. "unet"
     * @param configSource where the architecture came from, for the error message
     */
    public WeightReader(WeightSource source, String network, String configSource) {
        this.source = source;
        this.network = network;
        this.configSource = configSource;
    }

    /**
     * The weight {@code name} of shape {@code dims}. A missing or unfit tensor is recorded and comes back as a
     * parameter holding null; the network must not be used unless {@link #finish()} passes.
     */
    public Parameter take(String name, long... dims) {
        if (finished) {
            throw new IllegalStateException("reader already finished");
        }
        Shape expected = Shape.of(dims);
        Tensor t = source.find(name, expected);
        Tensor accepted = null;
        if (t == null) {
            missing.add(name);
        } else if (!t.dtype().isFloatingPoint()) {
            misshaped.add(name + " is " + t.dtype() + ", expected a float type (F32, F16 or BF16)");
        } else if (!t.shape().equals(expected)) {
            misshaped.add(name + " is " + t.shape() + ", expected " + expected);
        } else {
            accepted = t;
        }
        Parameter p = new Parameter(name, accepted);
        parameters.add(p);
        return p;
    }

    public Parameter take(String name, int... dims) {
        long[] d = new long[dims.length];
        for (int i = 0; i < dims.length; i++) {
            d[i] = dims[i];
        }
        return take(name, d);
    }

    /** Every parameter taken so far, in order. */
    public List<Parameter> parameters() {
        return Collections.unmodifiableList(parameters);
    }

    /** The problems found, one line each; empty when the weights fit. Checks unused stored tensors too. */
    public List<String> problems() {
        List<String> lines = new ArrayList<>();
        List<String> unexpected = source.unusedNames();
        if (!missing.isEmpty()) {
            lines.add("missing (" + missing.size() + "): " + firstFew(missing, ", "));
        }
        if (!misshaped.isEmpty()) {
            lines.add("wrong shape or type (" + misshaped.size() + "): " + firstFew(misshaped, "; "));
        }
        if (!unexpected.isEmpty()) {
            lines.add("unexpected (" + unexpected.size() + "): " + firstFew(unexpected, ", "));
        }
        return lines;
    }

    /**
     * The first {@link #LISTED} entries and how many more: a checkpoint of another architecture misses
     * hundreds of tensors, and the first few say what is wrong as well as all of them would.
     */
    static String firstFew(List<String> entries, String separator) {
        if (entries.size() <= LISTED) {
            return String.join(separator, entries);
        }
        return String.join(separator, entries.subList(0, LISTED)) + separator + "and " + (entries.size() - LISTED) + " more";
    }

    /** Fails with one {@link ModelLoadException} listing every problem. */
    public void finish() {
        finished = true;
        List<String> lines = problems();
        if (!lines.isEmpty()) {
            throw new ModelLoadException(network + " weights from " + source.description()
                    + " do not fit the architecture of " + configSource + ":\n  " + String.join("\n  ", lines));
        }
    }

    /** Elements of all parameters taken. */
    public long parameterCount() {
        long n = 0;
        for (Parameter p : parameters) {
            n += p.tensor() == null ? 0 : p.tensor().elementCount();
        }
        return n;
    }
}
