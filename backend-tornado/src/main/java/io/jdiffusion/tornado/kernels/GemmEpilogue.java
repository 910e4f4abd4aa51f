package io.jdiffusion.tornado.kernels;

import uk.ac.manchester.tornado.api.types.arrays.FloatArray;

/**
 * The fused store of a matrix product's output element: bias, activation (or GEGLU) and residual applied
 * to the accumulated value, shared by the F32 kernels ({@link GemmKernels}) and the tensor-core kernels
 * ({@link TensorCoreKernels}). {@code bOff} or {@code rOff} below 0 means no bias or no residual.
 */
public final class GemmEpilogue {
    private GemmEpilogue() {
    }

    public static void linear(FloatArray bias, int bOff, FloatArray res, int rOff, FloatArray out, int oOff, int m, int n,
                              int r, int c, float acc, int act) {
        if (r < m && c < n) {
            float v = acc;
            if (bOff >= 0) {
                v += bias.get(bOff + c);
            }
            v = KernelMath.activate(v, act);
            if (rOff >= 0) {
                v += res.get(rOff + r * n + c);
            }
            out.set(oOff + r * n + c, v);
        }
    }

    public static void geglu(FloatArray bias, int bOff, FloatArray res, int rOff, FloatArray out, int oOff, int m, int n,
                             int r, int c, float h, float gate) {
        int half = n / 2;
        if (r < m && c < half) {
            float hv = h;
            float gv = gate;
            if (bOff >= 0) {
                hv += bias.get(bOff + c);
                gv += bias.get(bOff + half + c);
            }
            float v = hv * KernelMath.gelu(gv);
            if (rOff >= 0) {
                v += res.get(rOff + r * half + c);
            }
            out.set(oOff + r * half + c, v);
        }
    }

    public static void conv(FloatArray bias, int bOff, FloatArray res, int rOff, FloatArray out, int oOff, int imageBase, int cout, int pixels,
                            int co, int p, float acc) {
        if (co < cout && p < pixels) {
            float v = acc;
            if (bOff >= 0) {
                v += bias.get(bOff + co);
            }
            int idx = imageBase + co * pixels + p;
            if (rOff >= 0) {
                v += res.get(rOff + idx);
            }
            out.set(oOff + idx, v);
        }
    }
}
