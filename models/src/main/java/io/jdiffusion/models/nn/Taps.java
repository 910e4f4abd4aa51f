package io.jdiffusion.models.nn;

import io.jdiffusion.backend.graph.GraphBuilder;
import io.jdiffusion.backend.graph.Value;

import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Intermediate values a caller asked to see (a module's output, named as diffusers' module path, e.g.
 * {@code down_blocks.0}), made extra graph outputs after the main ones, in the order asked. Used to compare
 * a network block by block with the goldens.
 */
public final class Taps {
    private final List<String> requested;
    private final Map<String, Value> captured = new LinkedHashMap<>();

    /** Fails naming the valid taps when a requested one is unknown or asked twice. */
    public Taps(List<String> requested, List<String> available) {
        this.requested = List.copyOf(requested);
        for (String name : this.requested) {
            if (!available.contains(name)) {
                throw new IllegalArgumentException("no tap named '" + name + "'; this network has " + available);
            }
            if (Collections.frequency(this.requested, name) > 1) {
                throw new IllegalArgumentException("tap '" + name + "' is asked twice");
            }
        }
    }

    public static Taps none() {
        return new Taps(List.of(), List.of());
    }

    public boolean wants(String name) {
        return requested.contains(name);
    }

    /** Remembers {@code v} as module {@code name}'s output when asked for; returns {@code v}. */
    public Value tap(String name, Value v) {
        if (wants(name)) {
            captured.put(name, v);
        }
        return v;
    }

    /**
     * Makes every tapped value a graph output, in request order. A value that already is an output (the
     * network's own result, or another tap) is copied first, since one buffer cannot be two outputs.
     */
    public void addOutputs(GraphBuilder g, Value... existingOutputs) {
        Set<Value> outputs = Collections.newSetFromMap(new IdentityHashMap<>());
        outputs.addAll(List.of(existingOutputs));
        for (String name : requested) {
            Value v = captured.get(name);
            if (v == null) {
                throw new IllegalStateException("tap '" + name + "' was never recorded");
            }
            if (!outputs.add(v)) {
                v = copy(g, v);
                outputs.add(v);
            }
            g.output(v);
        }
    }

    /** A copy of {@code v} in a buffer of its own: a concatenation of one part. */
    public static Value copy(GraphBuilder g, Value v) {
        return g.concat(0, v);
    }
}
