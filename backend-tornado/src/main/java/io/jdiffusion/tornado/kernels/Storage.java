package io.jdiffusion.tornado.kernels;

import uk.ac.manchester.tornado.api.types.HalfFloat;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.HalfFloatArray;

/**
 * Where a kernel operand lives: in an F32 array (weights, inputs, outputs, the F32 arena) or in the F16
 * activation arena of an executable that computes in F16. A kernel receives both arrays and a bit mask saying
 * which of its operands are F16 ({@code halves}); TornadoVM folds the mask, a scalar argument, into each task's
 * kernel, so the untaken branch and its F16 code disappear (and F32 kernels still compile for devices without
 * F16, such as PoCL). Values are widened to F32 on load and rounded to nearest on store: arithmetic stays F32.
 *
 * <p>A kernel's offsets and sizes, by contrast, come in an integer array of its task's own ({@code args}, uploaded
 * once), not as scalars. TornadoVM folds every scalar argument into the task's kernel, so two tasks of one kernel
 * method at different offsets were two kernel sources, and its CUDA backend compiled each with NVRTC (28 s of a
 * 512x512 UNet's first run on an H200, 2026-12-05, for some 440 Java-kernel tasks of 18 methods); it compiles a
 * source once and reuses the binary for every identical source. With the varying numbers in arrays, the tasks of
 * one method that agree on the folded scalars (the {@code halves} mask and operation codes) share one source.
 * Every kernel here works this way except {@link TensorCoreKernels#gemm}, the PTX backend's, whose kernels are named
 * after their task, so that no two share a source anyway.
 */
public final class Storage {
    /** Mask bits of the operands, in the order most kernels take them. */
    public static final int X = 1;
    public static final int Y = 2;
    public static final int RESIDUAL = 4;
    public static final int OUT = 8;
    public static final int Z = 16;

    private Storage() {
    }

    /** Whether operand {@code bit} of {@code halves} is F16. */
    public static boolean half(int halves, int bit) {
        return (halves & bit) != 0;
    }

    /** Element i of an operand, as F32. */
    public static float load(FloatArray floats, HalfFloatArray halves, int i, boolean half) {
        float v;
        if (half) {
            v = halves.get(i).getFloat32();
        } else {
            v = floats.get(i);
        }
        return v;
    }

    /** Element i of an operand := v (rounded to nearest F16 where the operand is F16). */
    public static void store(FloatArray floats, HalfFloatArray halves, int i, float v, boolean half) {
        if (half) {
            halves.set(i, new HalfFloat(v));
        } else {
            floats.set(i, v);
        }
    }
}
