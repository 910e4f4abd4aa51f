package io.jdiffusion.tornado;

import io.jdiffusion.backend.graph.BufferPlan;
import io.jdiffusion.backend.graph.Graph;
import io.jdiffusion.backend.graph.Op;
import io.jdiffusion.backend.graph.Value;
import io.jdiffusion.core.DType;
import io.jdiffusion.models.sd.StableDiffusion;
import io.jdiffusion.models.unet.UNetCall;

import java.util.Locale;

/**
 * Host-side benchmark, no GPU: how long {@link TensorCorePath#allocate} takes to pack full-size SD 1.5's UNet weights
 * (random F16, as a checkpoint's) into the tensor-core kernels' F16 layouts, part of the first image's preparation on
 * the Java kernels. Each round packs into a fresh scratch file, as a compilation does. Not for CI.
 *
 * <pre>java @$TORNADOVM_HOME/tornado-argfile --add-modules jdk.incubator.vector -Xmx1g -cp ... io.jdiffusion.tornado.PackingBenchmark [rounds]</pre>
 */
public final class PackingBenchmark {
    private PackingBenchmark() {
    }

    public static void main(String[] args) {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 3;
        try (StableDiffusion model = StableDiffusion.randomSd15(42, DType.F16, null)) {
            Graph graph = model.unet().graph(new UNetCall(2, 64, 64, 77));
            BufferPlan plan = BufferPlan.plan(graph, BufferLayout.planAlignment(0));
            for (int round = 0; round < rounds; round++) {
                try (DeviceArrays arrays = new DeviceArrays()) {
                    TensorCorePath path = new TensorCorePath("unet", 132, true);
                    long elements = 0;
                    for (Op op : graph.ops()) {
                        Value w = TensorCorePath.productWeight(op);
                        if (w != null && plan.binding(w) == BufferPlan.Binding.CONSTANT && path.takeProduct(op)) {
                            elements += w.shape().elementCount();
                        }
                    }
                    long t0 = System.nanoTime();
                    path.allocate(v -> graph.values().get(plan.storageRoot(v)), arrays);
                    System.out.printf(Locale.ROOT, "PACKING round=%d elements=%d ms=%.0f%n", round, elements, (System.nanoTime() - t0) / 1e6);
                }
            }
        }
    }
}
