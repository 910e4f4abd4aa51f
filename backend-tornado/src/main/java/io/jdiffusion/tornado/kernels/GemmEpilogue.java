package io.jdiffusion.tornado.kernels;

import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.HalfFloatArray;

/**
 * The fused store of a matrix product's output element: bias, activation (or GEGLU) and residual applied
 * to the accumulated value, shared by the F32 kernels ({@link GemmKernels}) and the tensor-core kernels
 * ({@link TensorCoreKernels}). {@code bOff} or {@code rOff} below 0 means no bias or no residual. The bias,
 * residual and output live in F16 activations {@code f16} where {@code halves} has their bit ({@link Storage#Z},
 * {@link Storage#RESIDUAL}, {@link Storage#OUT}).
 */
public final class GemmEpilogue {
    private GemmEpilogue() {
    }

    public static void linear(HalfFloatArray f16, int halves, FloatArray bias, int bOff, FloatArray res, int rOff, FloatArray out,
                              int oOff, int m, int n, int r, int c, float acc, int act) {
        linear(f16, halves, bias, bOff, res, rOff, out, oOff, m, n, n, r, c, acc, act);
    }

    /** As above, the output's and the residual's rows {@code ld} elements apart (a head's columns of a wider row). */
    public static void linear(HalfFloatArray f16, int halves, FloatArray bias, int bOff, FloatArray res, int rOff, FloatArray out,
                              int oOff, int m, int n, int ld, int r, int c, float acc, int act) {
        if (r < m && c < n) {
            float v = acc;
            if (bOff >= 0) {
                v += Storage.load(bias, f16, bOff + c, Storage.half(halves, Storage.Z));
            }
            v = KernelMath.activate(v, act);
            if (rOff >= 0) {
                v += Storage.load(res, f16, rOff + r * ld + c, Storage.half(halves, Storage.RESIDUAL));
            }
            Storage.store(out, f16, oOff + r * ld + c, v, Storage.half(halves, Storage.OUT));
        }
    }

    public static void geglu(HalfFloatArray f16, int halves, FloatArray bias, int bOff, FloatArray res, int rOff, FloatArray out,
                             int oOff, int m, int n, int r, int c, float h, float gate) {
        int half = n / 2;
        if (r < m && c < half) {
            float hv = h;
            float gv = gate;
            if (bOff >= 0) {
                hv += Storage.load(bias, f16, bOff + c, Storage.half(halves, Storage.Z));
                gv += Storage.load(bias, f16, bOff + half + c, Storage.half(halves, Storage.Z));
            }
            float v = hv * KernelMath.gelu(gv);
            if (rOff >= 0) {
                v += Storage.load(res, f16, rOff + r * half + c, Storage.half(halves, Storage.RESIDUAL));
            }
            Storage.store(out, f16, oOff + r * half + c, v, Storage.half(halves, Storage.OUT));
        }
    }

    public static void conv(HalfFloatArray f16, int halves, FloatArray bias, int bOff, FloatArray res, int rOff, FloatArray out,
                            int oOff, int imageBase, int cout, int pixels,
                            int co, int p, float acc) {
        if (co < cout && p < pixels) {
            float v = acc;
            if (bOff >= 0) {
                v += Storage.load(bias, f16, bOff + co, Storage.half(halves, Storage.Z));
            }
            int idx = imageBase + co * pixels + p;
            if (rOff >= 0) {
                v += Storage.load(res, f16, rOff + idx, Storage.half(halves, Storage.RESIDUAL));
            }
            Storage.store(out, f16, oOff + idx, v, Storage.half(halves, Storage.OUT));
        }
    }
}
