package io.jdiffusion.tornado.kernels;

import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;

/**
 * Tiled matrix products in F32: a work-group of 16x16 threads computes a 128x128 output tile, each thread an
 * 8x8 register tile whose rows and columns are strided by 16 (so a GEGLU column and its gate column
 * 64 apart land in the same thread). K advances in steps of 8 through two local-memory tiles stored
 * k-major; each step does 64 FMAs per 16 local loads, which keeps the SIMT units, not local
 * memory, the limit. The register tile is spelled out as scalars: TornadoVM keeps those in registers.
 *
 * <p>{@link #linear}: out [m, n] = act(x [m, k] w^T + bias) + residual with w [n, k] (PyTorch's layout).
 * {@link #conv2d}: an implicit GEMM, weights [cout, cin*kh*kw] times the im2col of x gathered on the fly.
 */
public final class GemmKernels {
    /** Output rows (M) per work-group. */
    public static final int TILE_M = 128;
    /** Output columns (N) per work-group; a GEGLU work-group makes 64 outputs from 128 weight rows. */
    public static final int TILE_N = 128;
    public static final int THREADS_X = 16;
    public static final int THREADS_Y = 16;

    private GemmKernels() {
    }

    /**
     * Work-group (gx, gy) computes rows [128 gy, 128 gy + 128) and, for plain activations, columns
     * [128 gx, 128 gx + 128); for GEGLU output columns [64 gx, 64 gx + 64) from weight rows of h and gate.
     * {@code bOff} or {@code rOff} below 0 means no bias or no residual.
     */
    public static void linear(KernelContext ctx, FloatArray x, int xOff, FloatArray w, int wOff, FloatArray bias, int bOff,
                              FloatArray res, int rOff, FloatArray out, int oOff, int m, int n, int k, int act) {
        float[] as = ctx.allocateFloatLocalArray(1024);
        float[] bs = ctx.allocateFloatLocalArray(1024);
        int tx = ctx.localIdx;
        int ty = ctx.localIdy;
        int lid = ty * 16 + tx;
        int row0 = ctx.groupIdy * 128;
        int col0 = ctx.groupIdx * 128;
        int hcol0 = ctx.groupIdx * 64;
        int half = n / 2;
        float c00 = 0.0f;
        float c01 = 0.0f;
        float c02 = 0.0f;
        float c03 = 0.0f;
        float c04 = 0.0f;
        float c05 = 0.0f;
        float c06 = 0.0f;
        float c07 = 0.0f;
        float c10 = 0.0f;
        float c11 = 0.0f;
        float c12 = 0.0f;
        float c13 = 0.0f;
        float c14 = 0.0f;
        float c15 = 0.0f;
        float c16 = 0.0f;
        float c17 = 0.0f;
        float c20 = 0.0f;
        float c21 = 0.0f;
        float c22 = 0.0f;
        float c23 = 0.0f;
        float c24 = 0.0f;
        float c25 = 0.0f;
        float c26 = 0.0f;
        float c27 = 0.0f;
        float c30 = 0.0f;
        float c31 = 0.0f;
        float c32 = 0.0f;
        float c33 = 0.0f;
        float c34 = 0.0f;
        float c35 = 0.0f;
        float c36 = 0.0f;
        float c37 = 0.0f;
        float c40 = 0.0f;
        float c41 = 0.0f;
        float c42 = 0.0f;
        float c43 = 0.0f;
        float c44 = 0.0f;
        float c45 = 0.0f;
        float c46 = 0.0f;
        float c47 = 0.0f;
        float c50 = 0.0f;
        float c51 = 0.0f;
        float c52 = 0.0f;
        float c53 = 0.0f;
        float c54 = 0.0f;
        float c55 = 0.0f;
        float c56 = 0.0f;
        float c57 = 0.0f;
        float c60 = 0.0f;
        float c61 = 0.0f;
        float c62 = 0.0f;
        float c63 = 0.0f;
        float c64 = 0.0f;
        float c65 = 0.0f;
        float c66 = 0.0f;
        float c67 = 0.0f;
        float c70 = 0.0f;
        float c71 = 0.0f;
        float c72 = 0.0f;
        float c73 = 0.0f;
        float c74 = 0.0f;
        float c75 = 0.0f;
        float c76 = 0.0f;
        float c77 = 0.0f;
        for (int k0 = 0; k0 < k; k0 += 8) {
            for (int e = lid; e < 1024; e += 256) {
                int mm = e / 8;
                int kk = e - mm * 8;
                int gk = k0 + kk;
                int gm = row0 + mm;
                float va = 0.0f;
                if (gm < m && gk < k) {
                    va = x.get(xOff + gm * k + gk);
                }
                as[kk * 128 + mm] = va;
            }
            for (int e = lid; e < 1024; e += 256) {
                int nn = e / 8;
                int kk = e - nn * 8;
                int gk = k0 + kk;
                int wrow = col0 + nn;
                boolean valid = wrow < n;
                if (act == KernelMath.ACT_GEGLU) {
                    int j = hcol0 + (nn & 63);
                    valid = j < half;
                    wrow = j;
                    if (nn >= 64) {
                        wrow = half + j;
                    }
                }
                float vb = 0.0f;
                if (valid && gk < k) {
                    vb = w.get(wOff + wrow * k + gk);
                }
                bs[kk * 128 + nn] = vb;
            }
            ctx.localBarrier();
            for (int kk = 0; kk < 8; kk++) {
                int ka = kk * 128;
                int kb = kk * 128;
                float a0 = as[ka + ty + 0];
                float a1 = as[ka + ty + 16];
                float a2 = as[ka + ty + 32];
                float a3 = as[ka + ty + 48];
                float a4 = as[ka + ty + 64];
                float a5 = as[ka + ty + 80];
                float a6 = as[ka + ty + 96];
                float a7 = as[ka + ty + 112];
                float b0 = bs[kb + tx + 0];
                float b1 = bs[kb + tx + 16];
                float b2 = bs[kb + tx + 32];
                float b3 = bs[kb + tx + 48];
                float b4 = bs[kb + tx + 64];
                float b5 = bs[kb + tx + 80];
                float b6 = bs[kb + tx + 96];
                float b7 = bs[kb + tx + 112];
                c00 += a0 * b0;
                c01 += a0 * b1;
                c02 += a0 * b2;
                c03 += a0 * b3;
                c04 += a0 * b4;
                c05 += a0 * b5;
                c06 += a0 * b6;
                c07 += a0 * b7;
                c10 += a1 * b0;
                c11 += a1 * b1;
                c12 += a1 * b2;
                c13 += a1 * b3;
                c14 += a1 * b4;
                c15 += a1 * b5;
                c16 += a1 * b6;
                c17 += a1 * b7;
                c20 += a2 * b0;
                c21 += a2 * b1;
                c22 += a2 * b2;
                c23 += a2 * b3;
                c24 += a2 * b4;
                c25 += a2 * b5;
                c26 += a2 * b6;
                c27 += a2 * b7;
                c30 += a3 * b0;
                c31 += a3 * b1;
                c32 += a3 * b2;
                c33 += a3 * b3;
                c34 += a3 * b4;
                c35 += a3 * b5;
                c36 += a3 * b6;
                c37 += a3 * b7;
                c40 += a4 * b0;
                c41 += a4 * b1;
                c42 += a4 * b2;
                c43 += a4 * b3;
                c44 += a4 * b4;
                c45 += a4 * b5;
                c46 += a4 * b6;
                c47 += a4 * b7;
                c50 += a5 * b0;
                c51 += a5 * b1;
                c52 += a5 * b2;
                c53 += a5 * b3;
                c54 += a5 * b4;
                c55 += a5 * b5;
                c56 += a5 * b6;
                c57 += a5 * b7;
                c60 += a6 * b0;
                c61 += a6 * b1;
                c62 += a6 * b2;
                c63 += a6 * b3;
                c64 += a6 * b4;
                c65 += a6 * b5;
                c66 += a6 * b6;
                c67 += a6 * b7;
                c70 += a7 * b0;
                c71 += a7 * b1;
                c72 += a7 * b2;
                c73 += a7 * b3;
                c74 += a7 * b4;
                c75 += a7 * b5;
                c76 += a7 * b6;
                c77 += a7 * b7;
            }
            ctx.localBarrier();
        }
        // One call site per epilogue: 64 inlined stores exceed TornadoVM's inlining budget.
        float[] acc = new float[64];
        acc[0] = c00;
        acc[1] = c01;
        acc[2] = c02;
        acc[3] = c03;
        acc[4] = c04;
        acc[5] = c05;
        acc[6] = c06;
        acc[7] = c07;
        acc[8] = c10;
        acc[9] = c11;
        acc[10] = c12;
        acc[11] = c13;
        acc[12] = c14;
        acc[13] = c15;
        acc[14] = c16;
        acc[15] = c17;
        acc[16] = c20;
        acc[17] = c21;
        acc[18] = c22;
        acc[19] = c23;
        acc[20] = c24;
        acc[21] = c25;
        acc[22] = c26;
        acc[23] = c27;
        acc[24] = c30;
        acc[25] = c31;
        acc[26] = c32;
        acc[27] = c33;
        acc[28] = c34;
        acc[29] = c35;
        acc[30] = c36;
        acc[31] = c37;
        acc[32] = c40;
        acc[33] = c41;
        acc[34] = c42;
        acc[35] = c43;
        acc[36] = c44;
        acc[37] = c45;
        acc[38] = c46;
        acc[39] = c47;
        acc[40] = c50;
        acc[41] = c51;
        acc[42] = c52;
        acc[43] = c53;
        acc[44] = c54;
        acc[45] = c55;
        acc[46] = c56;
        acc[47] = c57;
        acc[48] = c60;
        acc[49] = c61;
        acc[50] = c62;
        acc[51] = c63;
        acc[52] = c64;
        acc[53] = c65;
        acc[54] = c66;
        acc[55] = c67;
        acc[56] = c70;
        acc[57] = c71;
        acc[58] = c72;
        acc[59] = c73;
        acc[60] = c74;
        acc[61] = c75;
        acc[62] = c76;
        acc[63] = c77;
        if (act == KernelMath.ACT_GEGLU) {
            for (int i = 0; i < 8; i++) {
                for (int j = 0; j < 4; j++) {
                    gegluStore(bias, bOff, res, rOff, out, oOff, m, n, row0 + ty + 16 * i, hcol0 + tx + 16 * j, acc[i * 8 + j],
                            acc[i * 8 + j + 4]);
                }
            }
        } else {
            for (int i = 0; i < 8; i++) {
                for (int j = 0; j < 8; j++) {
                    linearStore(bias, bOff, res, rOff, out, oOff, m, n, row0 + ty + 16 * i, col0 + tx + 16 * j, acc[i * 8 + j], act);
                }
            }
        }
    }

    private static void linearStore(FloatArray bias, int bOff, FloatArray res, int rOff, FloatArray out, int oOff, int m, int n,
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

    private static void gegluStore(FloatArray bias, int bOff, FloatArray res, int rOff, FloatArray out, int oOff, int m, int n,
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

    /**
     * 2-D convolution as an implicit GEMM: rows are output channels, columns output pixels of one image
     * (grid z is the batch), k runs over (cin, ky, kx); {@code sizes[meta]} is cin. {@code geom} packs the
     * kernel height (bits 0-7), width (8-15) and stride (16-23); {@code pads} the top (bits 0-15) and left
     * (16-31) zero padding.
     */
    public static void conv2d(KernelContext ctx, FloatArray x, int xOff, FloatArray w, int wOff, FloatArray bias, int bOff,
                              FloatArray res, int rOff, FloatArray out, int oOff, IntArray sizes, int meta, int h, int wd, int cout,
                              int ho, int wo, int geom, int pads) {
        float[] as = ctx.allocateFloatLocalArray(1024);
        float[] bs = ctx.allocateFloatLocalArray(1024);
        // cin comes from device memory, not a specialised scalar: a K loop of constant trip count gets unrolled
        // and leaves branches with constant conditions that TornadoVM's OpenCL code generator rejects.
        int cin = sizes.get(meta);
        int kh = geom & 255;
        int kw = (geom >> 8) & 255;
        int stride = (geom >> 16) & 255;
        int padT = pads & 65535;
        int padL = (pads >> 16) & 65535;
        int tx = ctx.localIdx;
        int ty = ctx.localIdy;
        int lid = ty * 16 + tx;
        int row0 = ctx.groupIdy * 128;
        int col0 = ctx.groupIdx * 128;
        int batch = ctx.groupIdz;
        int pixels = ho * wo;
        int kTotal = cin * kh * kw;
        int xBase = xOff + batch * cin * h * wd;
        float c00 = 0.0f;
        float c01 = 0.0f;
        float c02 = 0.0f;
        float c03 = 0.0f;
        float c04 = 0.0f;
        float c05 = 0.0f;
        float c06 = 0.0f;
        float c07 = 0.0f;
        float c10 = 0.0f;
        float c11 = 0.0f;
        float c12 = 0.0f;
        float c13 = 0.0f;
        float c14 = 0.0f;
        float c15 = 0.0f;
        float c16 = 0.0f;
        float c17 = 0.0f;
        float c20 = 0.0f;
        float c21 = 0.0f;
        float c22 = 0.0f;
        float c23 = 0.0f;
        float c24 = 0.0f;
        float c25 = 0.0f;
        float c26 = 0.0f;
        float c27 = 0.0f;
        float c30 = 0.0f;
        float c31 = 0.0f;
        float c32 = 0.0f;
        float c33 = 0.0f;
        float c34 = 0.0f;
        float c35 = 0.0f;
        float c36 = 0.0f;
        float c37 = 0.0f;
        float c40 = 0.0f;
        float c41 = 0.0f;
        float c42 = 0.0f;
        float c43 = 0.0f;
        float c44 = 0.0f;
        float c45 = 0.0f;
        float c46 = 0.0f;
        float c47 = 0.0f;
        float c50 = 0.0f;
        float c51 = 0.0f;
        float c52 = 0.0f;
        float c53 = 0.0f;
        float c54 = 0.0f;
        float c55 = 0.0f;
        float c56 = 0.0f;
        float c57 = 0.0f;
        float c60 = 0.0f;
        float c61 = 0.0f;
        float c62 = 0.0f;
        float c63 = 0.0f;
        float c64 = 0.0f;
        float c65 = 0.0f;
        float c66 = 0.0f;
        float c67 = 0.0f;
        float c70 = 0.0f;
        float c71 = 0.0f;
        float c72 = 0.0f;
        float c73 = 0.0f;
        float c74 = 0.0f;
        float c75 = 0.0f;
        float c76 = 0.0f;
        float c77 = 0.0f;
        for (int k0 = 0; k0 < kTotal; k0 += 8) {
            for (int e = lid; e < 1024; e += 256) {
                int mm = e / 8;
                int kk = e - mm * 8;
                int gk = k0 + kk;
                int co = row0 + mm;
                float va = 0.0f;
                if (co < cout && gk < kTotal) {
                    va = w.get(wOff + co * kTotal + gk);
                }
                as[kk * 128 + mm] = va;
            }
            for (int e = lid; e < 1024; e += 256) {
                int pk = e / 128;
                int pp = e - pk * 128;
                int gk = k0 + pk;
                int p = col0 + pp;
                float vb = 0.0f;
                if (p < pixels && gk < kTotal) {
                    int ci = gk / (kh * kw);
                    int kr = gk - ci * kh * kw;
                    int ky = kr / kw;
                    int kx = kr - ky * kw;
                    int oy = p / wo;
                    int ox = p - oy * wo;
                    int iy = oy * stride - padT + ky;
                    int ix = ox * stride - padL + kx;
                    if (iy >= 0 && iy < h && ix >= 0 && ix < wd) {
                        vb = x.get(xBase + (ci * h + iy) * wd + ix);
                    }
                }
                bs[pk * 128 + pp] = vb;
            }
            ctx.localBarrier();
            for (int kk = 0; kk < 8; kk++) {
                int ka = kk * 128;
                int kb = kk * 128;
                float a0 = as[ka + ty + 0];
                float a1 = as[ka + ty + 16];
                float a2 = as[ka + ty + 32];
                float a3 = as[ka + ty + 48];
                float a4 = as[ka + ty + 64];
                float a5 = as[ka + ty + 80];
                float a6 = as[ka + ty + 96];
                float a7 = as[ka + ty + 112];
                float b0 = bs[kb + tx + 0];
                float b1 = bs[kb + tx + 16];
                float b2 = bs[kb + tx + 32];
                float b3 = bs[kb + tx + 48];
                float b4 = bs[kb + tx + 64];
                float b5 = bs[kb + tx + 80];
                float b6 = bs[kb + tx + 96];
                float b7 = bs[kb + tx + 112];
                c00 += a0 * b0;
                c01 += a0 * b1;
                c02 += a0 * b2;
                c03 += a0 * b3;
                c04 += a0 * b4;
                c05 += a0 * b5;
                c06 += a0 * b6;
                c07 += a0 * b7;
                c10 += a1 * b0;
                c11 += a1 * b1;
                c12 += a1 * b2;
                c13 += a1 * b3;
                c14 += a1 * b4;
                c15 += a1 * b5;
                c16 += a1 * b6;
                c17 += a1 * b7;
                c20 += a2 * b0;
                c21 += a2 * b1;
                c22 += a2 * b2;
                c23 += a2 * b3;
                c24 += a2 * b4;
                c25 += a2 * b5;
                c26 += a2 * b6;
                c27 += a2 * b7;
                c30 += a3 * b0;
                c31 += a3 * b1;
                c32 += a3 * b2;
                c33 += a3 * b3;
                c34 += a3 * b4;
                c35 += a3 * b5;
                c36 += a3 * b6;
                c37 += a3 * b7;
                c40 += a4 * b0;
                c41 += a4 * b1;
                c42 += a4 * b2;
                c43 += a4 * b3;
                c44 += a4 * b4;
                c45 += a4 * b5;
                c46 += a4 * b6;
                c47 += a4 * b7;
                c50 += a5 * b0;
                c51 += a5 * b1;
                c52 += a5 * b2;
                c53 += a5 * b3;
                c54 += a5 * b4;
                c55 += a5 * b5;
                c56 += a5 * b6;
                c57 += a5 * b7;
                c60 += a6 * b0;
                c61 += a6 * b1;
                c62 += a6 * b2;
                c63 += a6 * b3;
                c64 += a6 * b4;
                c65 += a6 * b5;
                c66 += a6 * b6;
                c67 += a6 * b7;
                c70 += a7 * b0;
                c71 += a7 * b1;
                c72 += a7 * b2;
                c73 += a7 * b3;
                c74 += a7 * b4;
                c75 += a7 * b5;
                c76 += a7 * b6;
                c77 += a7 * b7;
            }
            ctx.localBarrier();
        }
        // One call site per epilogue: 64 inlined stores exceed TornadoVM's inlining budget.
        float[] acc = new float[64];
        acc[0] = c00;
        acc[1] = c01;
        acc[2] = c02;
        acc[3] = c03;
        acc[4] = c04;
        acc[5] = c05;
        acc[6] = c06;
        acc[7] = c07;
        acc[8] = c10;
        acc[9] = c11;
        acc[10] = c12;
        acc[11] = c13;
        acc[12] = c14;
        acc[13] = c15;
        acc[14] = c16;
        acc[15] = c17;
        acc[16] = c20;
        acc[17] = c21;
        acc[18] = c22;
        acc[19] = c23;
        acc[20] = c24;
        acc[21] = c25;
        acc[22] = c26;
        acc[23] = c27;
        acc[24] = c30;
        acc[25] = c31;
        acc[26] = c32;
        acc[27] = c33;
        acc[28] = c34;
        acc[29] = c35;
        acc[30] = c36;
        acc[31] = c37;
        acc[32] = c40;
        acc[33] = c41;
        acc[34] = c42;
        acc[35] = c43;
        acc[36] = c44;
        acc[37] = c45;
        acc[38] = c46;
        acc[39] = c47;
        acc[40] = c50;
        acc[41] = c51;
        acc[42] = c52;
        acc[43] = c53;
        acc[44] = c54;
        acc[45] = c55;
        acc[46] = c56;
        acc[47] = c57;
        acc[48] = c60;
        acc[49] = c61;
        acc[50] = c62;
        acc[51] = c63;
        acc[52] = c64;
        acc[53] = c65;
        acc[54] = c66;
        acc[55] = c67;
        acc[56] = c70;
        acc[57] = c71;
        acc[58] = c72;
        acc[59] = c73;
        acc[60] = c74;
        acc[61] = c75;
        acc[62] = c76;
        acc[63] = c77;
        for (int i = 0; i < 8; i++) {
            for (int j = 0; j < 8; j++) {
                convStore(bias, bOff, res, rOff, out, oOff, batch * cout * pixels, cout, pixels, row0 + ty + 16 * i, col0 + tx + 16 * j,
                        acc[i * 8 + j]);
            }
        }
    }

    private static void convStore(FloatArray bias, int bOff, FloatArray res, int rOff, FloatArray out, int oOff, int imageBase, int cout,
                                  int pixels, int co, int p, float acc) {
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
