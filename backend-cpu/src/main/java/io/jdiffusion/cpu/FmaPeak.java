package io.jdiffusion.cpu;

import jdk.incubator.vector.FloatVector;

import static io.jdiffusion.cpu.CpuVectors.F;
import static io.jdiffusion.cpu.CpuVectors.L;

/**
 * Measures this machine's F32 FMA peak with the Vector API, the yardstick for every benchmark row:
 * each thread runs 12 independent FMA chains on registers (enough to cover the FMA latency on any
 * current x86 core), so the loop is bound by FMA throughput alone.
 */
final class FmaPeak {
    private static final int CHAINS = 12;

    private FmaPeak() {
    }

    /** Best GFLOP/s over a few rounds of about {@code seconds} each, with every pool thread busy. */
    static double measure(WorkerPool pool, double seconds) {
        long iterations = 1 << 20;
        // Warm up (JIT) and size the loop so one round takes about `seconds`.
        for (int i = 0; i < 3; i++) {
            run(pool, 1 << 16);
        }
        long t0 = System.nanoTime();
        run(pool, iterations);
        double perIteration = (System.nanoTime() - t0) / 1e9 / iterations;
        iterations = Math.max(1 << 16, (long) (seconds / 3 / perIteration));
        double best = 0;
        for (int round = 0; round < 3; round++) {
            long start = System.nanoTime();
            run(pool, iterations);
            double s = (System.nanoTime() - start) / 1e9;
            double flops = 2.0 * L * CHAINS * iterations * pool.threads();
            best = Math.max(best, flops / s / 1e9);
        }
        return best;
    }

    private static void run(WorkerPool pool, long iterations) {
        float[] sink = new float[pool.threads()];
        pool.forEach(pool.threads(), t -> sink[t] = chains(iterations, 1.0000001f + t * 1e-9f));
        if (Float.isNaN(sink[0])) {
            throw new IllegalStateException("peak loop produced NaN");
        }
    }

    private static float chains(long iterations, float seed) {
        FloatVector m = FloatVector.broadcast(F, 0.9999999f);
        FloatVector a = FloatVector.broadcast(F, 1e-7f);
        FloatVector c0 = FloatVector.broadcast(F, seed), c1 = c0.add(1f), c2 = c0.add(2f), c3 = c0.add(3f);
        FloatVector c4 = c0.add(4f), c5 = c0.add(5f), c6 = c0.add(6f), c7 = c0.add(7f);
        FloatVector c8 = c0.add(8f), c9 = c0.add(9f), c10 = c0.add(10f), c11 = c0.add(11f);
        for (long i = 0; i < iterations; i++) {
            c0 = c0.fma(m, a);
            c1 = c1.fma(m, a);
            c2 = c2.fma(m, a);
            c3 = c3.fma(m, a);
            c4 = c4.fma(m, a);
            c5 = c5.fma(m, a);
            c6 = c6.fma(m, a);
            c7 = c7.fma(m, a);
            c8 = c8.fma(m, a);
            c9 = c9.fma(m, a);
            c10 = c10.fma(m, a);
            c11 = c11.fma(m, a);
        }
        return c0.add(c1).add(c2).add(c3).add(c4).add(c5).add(c6).add(c7).add(c8).add(c9).add(c10).add(c11)
                .reduceLanes(jdk.incubator.vector.VectorOperators.ADD);
    }
}
