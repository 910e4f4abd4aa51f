package io.jdiffusion.backend;

import io.jdiffusion.backend.graph.Op;
import io.jdiffusion.backend.graph.OperatorKind;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Time per operator of the network calls run while a backend records into it ({@link Backend#profileOperators}),
 * grouped by {@link OperatorKind}. Each operator instance keeps its fastest call: over several calls of one
 * network, a kind's time is the sum of its operators' minima, which a neighbour's burst on a shared machine
 * does not inflate. Two clocks: wall time, and the CPU time of the thread that ran the network (the whole work
 * when the backend runs on one thread; with more, the workers' share is missing from it).
 */
public final class OperatorProfile {
    /** One kind: how many operators of it a network call runs, and their summed minimum times. */
    public record Row(String kind, int operators, double wallMs, double cpuMs) {
    }

    private static final class Instance {
        final String kind;
        long wallNanos = Long.MAX_VALUE;
        long cpuNanos = Long.MAX_VALUE;

        Instance(String kind) {
            this.kind = kind;
        }
    }

    private final Map<Op, Instance> instances = new IdentityHashMap<>();

    /**
     * Records one call of {@code op}.
     *
     * @param op        the operator, one instance of a compiled graph
     * @param wallNanos its wall time
     * @param cpuNanos  the CPU time of the thread that ran it
     */
    public synchronized void record(Op op, long wallNanos, long cpuNanos) {
        Instance i = instances.computeIfAbsent(op, o -> new Instance(OperatorKind.of(o)));
        i.wallNanos = Math.min(i.wallNanos, wallNanos);
        i.cpuNanos = Math.min(i.cpuNanos, cpuNanos);
    }

    /**
     * The kinds recorded so far.
     *
     * @return one row per kind, slowest first by CPU time
     */
    public synchronized List<Row> rows() {
        Map<String, long[]> sums = new LinkedHashMap<>();
        for (Instance i : instances.values()) {
            long[] s = sums.computeIfAbsent(i.kind, k -> new long[3]);
            s[0]++;
            s[1] += i.wallNanos;
            s[2] += i.cpuNanos;
        }
        List<Row> rows = new ArrayList<>();
        sums.forEach((kind, s) -> rows.add(new Row(kind, (int) s[0], s[1] / 1e6, s[2] / 1e6)));
        rows.sort(Comparator.comparingDouble(Row::cpuMs).reversed());
        return rows;
    }
}
