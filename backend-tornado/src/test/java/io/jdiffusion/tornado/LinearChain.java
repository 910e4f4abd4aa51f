package io.jdiffusion.tornado;

import io.jdiffusion.backend.graph.Activation;
import io.jdiffusion.backend.graph.Graph;
import io.jdiffusion.backend.graph.GraphBuilder;
import io.jdiffusion.backend.graph.Value;
import io.jdiffusion.backend.testing.TestRandom;
import io.jdiffusion.core.DType;
import io.jdiffusion.core.Shape;
import io.jdiffusion.core.Tensor;

import java.util.List;

/** A small graph for tests of an executable's buffers: x, then {@code layers} x (linear + GELU + residual). */
final class LinearChain {
    private LinearChain() {
    }

    /**
     * x (rows x width) -> layers x (linear width -> width + bias, GELU, + x): (width^2 + width) x layers F32 weights,
     * random, added to {@code constants} for the caller to close.
     */
    static Graph geluResidual(String name, TestRandom random, List<Tensor> constants, int layers, int rows, int width) {
        GraphBuilder b = new GraphBuilder(name);
        Value x = b.input("x", Shape.of(rows, width), DType.F32);
        for (int i = 0; i < layers; i++) {
            Tensor w = random.normal(Shape.of(width, width), 0.5 / Math.sqrt(width));
            Tensor bias = random.normal(Shape.of(width), 0.1);
            constants.add(w);
            constants.add(bias);
            x = b.linear(x, b.constant("w" + i, w), b.constant("b" + i, bias), Activation.GELU, x);
        }
        b.output(x);
        return b.build();
    }
}
