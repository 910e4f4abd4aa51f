package io.jdiffusion.backend.graph;

import java.util.List;

/**
 * A recorded network call: values and operators in execution order (every operator's inputs are graph
 * inputs, constants or results of earlier operators). Immutable; built by {@link GraphBuilder}.
 */
public record Graph(String name, List<Value> values, List<Op> ops, List<Value> inputs, List<Value> outputs) {
    public Graph {
        values = List.copyOf(values);
        ops = List.copyOf(ops);
        inputs = List.copyOf(inputs);
        outputs = List.copyOf(outputs);
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
