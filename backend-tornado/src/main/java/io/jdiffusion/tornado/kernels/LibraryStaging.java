package io.jdiffusion.tornado.kernels;

import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.types.HalfFloat;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.HalfFloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;

/**
 * The moves around a library call (cuBLAS, cuBLASLt, cuDNN) on TornadoVM's CUDA backend. TornadoVM's own library
 * tasks receive whole TornadoVM arrays (a device pointer to element 0), while activations live at offsets in the
 * executable's arena; so their operands are first copied (and rounded to F16 where the library computes in F16)
 * into dedicated staging arrays, and results are read back from a staging array by an epilogue that applies what
 * the Java kernels fuse into their store (bias, activation or GEGLU, residual). jdiffusion's cuBLASLt products read
 * the arena in place and need only the rounding of an F32 input and, for activations, the epilogue. One thread per
 * element. Activations in F16 ({@link Storage}) are copied as they are; the F16 im2col still goes through F32 (see
 * {@link #rowsHalf}). Offsets and sizes come in the task's argument array ({@code args}, see {@link Storage}).
 */
public final class LibraryStaging {
    private LibraryStaging() {
    }

    /**
     * dst[i] = half(x[xOff + i]): a linear's input rows, or a convolution's im2col matrix, in F16. (The CUDA
     * backend's compiler fails on a computed value rounded to F16 (Graal's scheduler, on the im2col select), so
     * the F16 im2col is this conversion of the F32 one; a loaded value converts fine.) args: x offset, n.
     */
    public static void rowsHalf(KernelContext ctx, HalfFloatArray f16, int halves, IntArray args, FloatArray x, HalfFloatArray dst) {
        int xOff = args.get(0);
        int n = args.get(1);
        boolean xHalf = Storage.half(halves, Storage.X);
        int i = ctx.globalIdx;
        if (i < n) {
            if (xHalf) {
                dst.set(i, f16.get(xOff + i));
            } else {
                dst.set(i, new HalfFloat(x.get(xOff + i)));
            }
        }
    }

    /**
     * The im2col matrix of a convolution, row-major [cin*kh*kw][batch*pixels] (so that neighbouring threads
     * read neighbouring input pixels), zero where a window leaves the image. {@code geom} packs kh | kw << 8 |
     * stride << 16 and {@code pads} top | left << 16, as for the Java convolution kernels. args: x offset, n, cols,
     * cin, inH, inW, outW, pixels, geom, pads.
     */
    public static void im2col(KernelContext ctx, HalfFloatArray f16, int halves, IntArray args, FloatArray x, FloatArray col) {
        int xOff = args.get(0);
        int n = args.get(1);
        int cols = args.get(2);
        int cin = args.get(3);
        int inH = args.get(4);
        int inW = args.get(5);
        int outW = args.get(6);
        int pixels = args.get(7);
        int geom = args.get(8);
        int pads = args.get(9);
        boolean xHalf = Storage.half(halves, Storage.X);
        int i = ctx.globalIdx;
        if (i < n) {
            int kh = geom & 255;
            int kw = (geom >> 8) & 255;
            int stride = geom >> 16;
            int k = i / cols;
            int m = i - k * cols;
            int b = m / pixels;
            int p = m - b * pixels;
            int oy = p / outW;
            int ox = p - oy * outW;
            int ci = k / (kh * kw);
            int r = k - ci * kh * kw;
            int ky = r / kw;
            int kx = r - ky * kw;
            int iy = oy * stride - (pads & 65535) + ky;
            int ix = ox * stride - (pads >> 16) + kx;
            boolean inside = iy >= 0 && iy < inH && ix >= 0 && ix < inW;
            // Clamped so that the load is unconditional; the select below discards it outside the image.
            int cy = Math.min(Math.max(iy, 0), inH - 1);
            int cx = Math.min(Math.max(ix, 0), inW - 1);
            float v = Storage.load(x, f16, xOff + ((b * cin + ci) * inH + cy) * inW + cx, xHalf);
            col.set(i, inside ? v : 0.0f);
        }
    }

    /**
     * A linear's output from the library's [m, n] product in {@code c}: bias, activation and residual, or for
     * GEGLU value columns [0, n/2) times gelu of gate columns [n/2, n). {@code n} is the product's width. args: bias
     * offset (-1: none), residual offset (-1: none), out offset, m, n.
     */
    public static void linearEpilogue(KernelContext ctx, HalfFloatArray f16, int halves, IntArray args, FloatArray c, FloatArray bias,
                                      FloatArray res, FloatArray out, int act) {
        int bOff = args.get(0);
        int rOff = args.get(1);
        int oOff = args.get(2);
        int m = args.get(3);
        int n = args.get(4);
        int i = ctx.globalIdx;
        if (act == KernelMath.ACT_GEGLU) {
            int half = n / 2;
            int r = i / half;
            int col = i - r * half;
            if (r < m) {
                GemmEpilogue.geglu(f16, halves, bias, bOff, res, rOff, out, oOff, m, n, r, col, c.get(r * n + col),
                        c.get(r * n + half + col));
            }
        } else {
            int r = i / n;
            int col = i - r * n;
            if (r < m) {
                GemmEpilogue.linear(f16, halves, bias, bOff, res, rOff, out, oOff, m, n, r, col, c.get(i), act);
            }
        }
    }

    /**
     * {@link #linearEpilogue} reading an F16 product: the output of a Linear whose cuBLASLt product (bias included
     * where cuBLASLt added it) went to the F16 scratch array {@code c}, for an activation, GEGLU or an operand stored
     * in F32. args as {@link #linearEpilogue}'s.
     */
    public static void linearEpilogueHalf(KernelContext ctx, HalfFloatArray f16, int halves, IntArray args, HalfFloatArray c,
                                          FloatArray bias, FloatArray res, FloatArray out, int act) {
        int bOff = args.get(0);
        int rOff = args.get(1);
        int oOff = args.get(2);
        int m = args.get(3);
        int n = args.get(4);
        int i = ctx.globalIdx;
        if (act == KernelMath.ACT_GEGLU) {
            int half = n / 2;
            int r = i / half;
            int col = i - r * half;
            if (r < m) {
                GemmEpilogue.geglu(f16, halves, bias, bOff, res, rOff, out, oOff, m, n, r, col, c.get(r * n + col).getFloat32(),
                        c.get(r * n + half + col).getFloat32());
            }
        } else {
            int r = i / n;
            int col = i - r * n;
            if (r < m) {
                GemmEpilogue.linear(f16, halves, bias, bOff, res, rOff, out, oOff, m, n, r, col, c.get(i).getFloat32(), act);
            }
        }
    }

    /**
     * A convolution's NCHW output from the library's [cout, batch*pixels] product in {@code c}, plus bias and residual.
     * args: bias offset (-1: none), residual offset (-1: none), out offset, n, cout, pixels.
     */
    public static void convEpilogue(KernelContext ctx, HalfFloatArray f16, int halves, IntArray args, FloatArray c, FloatArray bias,
                                    FloatArray res, FloatArray out) {
        int bOff = args.get(0);
        int rOff = args.get(1);
        int oOff = args.get(2);
        int n = args.get(3);
        int cout = args.get(4);
        int pixels = args.get(5);
        int i = ctx.globalIdx;
        if (i < n) {
            int image = cout * pixels;
            int b = i / image;
            int rest = i - b * image;
            int co = rest / pixels;
            int p = rest - co * pixels;
            int cols = n / cout;
            GemmEpilogue.conv(f16, halves, bias, bOff, res, rOff, out, oOff, b * image, cout, pixels, co, p,
                    c.get(co * cols + b * pixels + p));
        }
    }

    /**
     * Adds a per-channel bias and a residual to an NCHW tensor in place, in one pass: out[i] += bias[(i / pixels) %
     * channels] + res[i], for the products that cannot take them in the library call: a 1x1 convolution's
     * row-major cuBLASLt product, whose bias runs along its columns, and a cuDNN convolution with both, which
     * cudnnAddTensor would add in two passes. args: bias offset (-1: none), residual offset (-1: none), out offset,
     * n, channels, pixels.
     */
    public static void biasResidual(KernelContext ctx, HalfFloatArray f16, int halves, IntArray args, FloatArray bias, FloatArray res,
                                    FloatArray out) {
        int bOff = args.get(0);
        int rOff = args.get(1);
        int oOff = args.get(2);
        int n = args.get(3);
        int channels = args.get(4);
        int pixels = args.get(5);
        boolean outHalf = Storage.half(halves, Storage.OUT);
        int i = ctx.globalIdx;
        if (i < n) {
            float v = Storage.load(out, f16, oOff + i, outHalf);
            if (bOff >= 0) {
                v += Storage.load(bias, f16, bOff + (i / pixels) % channels, Storage.half(halves, Storage.Z));
            }
            if (rOff >= 0) {
                v += Storage.load(res, f16, rOff + i, Storage.half(halves, Storage.RESIDUAL));
            }
            Storage.store(out, f16, oOff + i, v, outHalf);
        }
    }

    /**
     * Packed heads [batch, seq, heads*d] at xOff to cuDNN's [batch, heads, seq, d] in F16; {@code n} =
     * batch*heads*seq*d. args: x offset, n, seq, heads, d.
     */
    public static void headsToHalf(KernelContext ctx, HalfFloatArray f16, int halves, IntArray args, FloatArray x, HalfFloatArray dst) {
        int xOff = args.get(0);
        int n = args.get(1);
        int seq = args.get(2);
        int heads = args.get(3);
        int d = args.get(4);
        boolean xHalf = Storage.half(halves, Storage.X);
        int i = ctx.globalIdx;
        if (i < n) {
            int from = xOff + packedIndex(i, seq, heads, d);
            if (xHalf) {
                dst.set(i, f16.get(from));
            } else {
                dst.set(i, new HalfFloat(x.get(from)));
            }
        }
    }

    /**
     * The inverse of {@link #headsToHalf}: cuDNN's [batch, heads, seq, d] F16 output back to packed heads in F32.
     * args: out offset, n, seq, heads, d.
     */
    public static void headsFromHalf(KernelContext ctx, HalfFloatArray f16, int halves, IntArray args, HalfFloatArray src, FloatArray out) {
        int oOff = args.get(0);
        int n = args.get(1);
        int seq = args.get(2);
        int heads = args.get(3);
        int d = args.get(4);
        boolean outHalf = Storage.half(halves, Storage.OUT);
        int i = ctx.globalIdx;
        if (i < n) {
            int to = oOff + packedIndex(i, seq, heads, d);
            if (outHalf) {
                f16.set(to, src.get(i));
            } else {
                out.set(to, src.get(i).getFloat32());
            }
        }
    }

    /** Where element i of a [batch, heads, seq, d] tensor sits in [batch, seq, heads*d]. */
    private static int packedIndex(int i, int seq, int heads, int d) {
        int dd = i % d;
        int t = i / d;
        int s = t % seq;
        int bh = t / seq;
        int h = bh % heads;
        int b = bh / heads;
        return (b * seq + s) * heads * d + h * d + dd;
    }
}
