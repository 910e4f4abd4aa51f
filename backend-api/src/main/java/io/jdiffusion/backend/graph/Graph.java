package io.jdiffusion.backend.graph;

import java.util.List;

/**
 * A recorded network call: values and operators in execution order (every operator's inputs are graph
 * inputs, constants or results of earlier operators). Immutable; built by {@link GraphBuilder}.
 *
 * @param steadyInputs the inputs that callers usually pass unchanged to many consecutive runs (a subset of
 *                     {@code inputs}; see {@link GraphBuilder#steadyInput})
 */
public record Graph(String name, List<Value> values, List<Op> ops, List<Value> inputs, List<Value> outputs,
                    List<Value> steadyInputs) {
    public Graph {
        values = List.copyOf(values);
        ops = List.copyOf(ops);
        inputs = List.copyOf(inputs);
        outputs = List.copyOf(outputs);
        steadyInputs = List.copyOf(steadyInputs);
        for (Value v : steadyInputs) {
            if (!inputs.contains(v)) {
                throw new IllegalArgumentException("steady input " + v + " is not an input of graph '" + name + "'");
            }
        }
    }

    /**
     * Whether {@code input} was declared steady: callers usually pass it unchanged from one run to the next, so a
     * backend whose inputs cross to a device may keep it there between runs (see {@link GraphBuilder#steadyInput}).
     */
    public boolean isSteady(Value input) {
        return steadyInputs.contains(input);
    }

    public List<Value> constants() {
        return values.stream().filter(v -> v.kind() == Value.Kind.CONSTANT).toList();
    }

    /** Total bytes of constant data (weights). */
    public long constantBytes() {
        return constants().stream().mapToLong(Value::byteSize).sum();
    }

    @Override
    public String toString() {
        return "Graph[" + name + ": " + ops.size() + " ops, " + values.size() + " values, "
                + inputs.size() + " inputs, " + outputs.size() + " outputs]";
    }
}
