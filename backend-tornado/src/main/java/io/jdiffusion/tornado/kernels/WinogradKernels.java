package io.jdiffusion.tornado.kernels;

import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;

/**
 * 3x3 stride-1 convolution by Winograd F(4x4, 3x3) in F32, in three launches: each 4x4 output tile comes
 * from a 6x6 input patch as Y = A^T [U . (B^T d B)] A, so the 144 multiply-adds per tile and channel pair
 * of the direct form become 36, done as 36 matrix products (one per transform point xi = 6 i + j).
 * <ol>
 *   <li>{@link #inputTransform}: V[xi][cin][T] = B^T d B for every input channel and tile (T counts the
 *       tiles of all images; input outside the image is zero);</li>
 *   <li>{@link #gemm}: M[xi][cout][T] = U[xi][cout][cin] V[xi][cin][T], with U = G g G^T transformed on the
 *       host when the graph is compiled;</li>
 *   <li>{@link #outputTransform}: out = A^T M A + bias (+ residual), NCHW, partial tiles at the right and
 *       bottom edges cut off.</li>
 * </ol>
 * The matrices are those of backend-cpu's WinogradConv (Toom-Cook with the points 0, 1, -1, 2, -2 and
 * infinity), written out as the additions they amount to: B^T applied to a vector d0..d5 is
 * (4d0 - 5d2 + d4, -4d1 - 4d2 + d3 + d4, 4d1 - 4d2 - d3 + d4, -2d1 - d2 + 2d3 + d4, 2d1 - d2 - 2d3 + d4,
 * 4d1 - 5d3 + d5), and A^T to m0..m5 is (m0 + m1 + m2 + m3 + m4, m1 - m2 + 2(m3 - m4), m1 + m2 + 4(m3 + m4),
 * m1 - m2 + 8(m3 - m4) + m5).
 *
 * <p>V and M live in one scratch array ({@code s}), at element offsets {@code vOff} and {@code mOff}. Sizes
 * come from the descriptor at {@code sizes[meta]} (fields below) rather than specialised scalars, so that
 * the GEMM's K loop is not unrolled (see {@link GemmKernels#conv2d}). The transforms hold each thread's
 * half-transformed patch in its own column of a local array (element e of thread l at e * THREADS + l, so
 * the threads of a warp hit different banks): 36 named registers would do, but not in readable Java.
 */
public final class WinogradKernels {
    /** Transform points per tile: the 6x6 input patch. */
    public static final int POINTS = 36;
    /** Threads per work-group of the two transforms (one thread per tile and channel). */
    public static final int THREADS = 128;

    /** Fields of the descriptor at {@code sizes[meta]}. */
    public static final int CIN = 0;
    public static final int COUT = 1;
    public static final int H = 2;
    public static final int W = 3;
    public static final int HO = 4;
    public static final int WO = 5;
    public static final int PAD_T = 6;
    public static final int PAD_L = 7;
    public static final int TILES_H = 8;
    public static final int TILES_W = 9;
    /** Tiles of all images: batch * TILES_H * TILES_W, the GEMM's N. */
    public static final int TILES = 10;
    public static final int FIELDS = 11;

    private WinogradKernels() {
    }

    /**
     * Thread (t, ci) of a 2-D grid (tiles rounded up to {@link #THREADS}, cin) transforms the 6x6 patch of
     * input channel ci under tile t: V[(xi * cin + ci) * T + t] at {@code vOff}.
     */
    public static void inputTransform(KernelContext ctx, IntArray args, FloatArray x, FloatArray s, IntArray sizes) {
        float[] half = ctx.allocateFloatLocalArray(POINTS * THREADS);
        int xOff = args.get(0);
        int vOff = args.get(1);
        int meta = args.get(2);
        int cin = sizes.get(meta + CIN);
        int h = sizes.get(meta + H);
        int w = sizes.get(meta + W);
        int padT = sizes.get(meta + PAD_T);
        int padL = sizes.get(meta + PAD_L);
        int tilesH = sizes.get(meta + TILES_H);
        int tilesW = sizes.get(meta + TILES_W);
        int tiles = sizes.get(meta + TILES);
        int lid = ctx.localIdx;
        int t = ctx.globalIdx;
        int ci = ctx.globalIdy;
        // Threads past the last tile compute tile T-1 again and store nothing (no loads under a condition).
        int tc = Math.min(t, tiles - 1);
        int perImage = tilesH * tilesW;
        int n = tc / perImage;
        int r = tc - n * perImage;
        int ty = r / tilesW;
        int tx = r - ty * tilesW;
        int y0 = ty * 4 - padT;
        int x0 = tx * 4 - padL;
        int plane = xOff + (n * cin + ci) * h * w;
        // B^T down each column of the patch.
        for (int c = 0; c < 6; c++) {
            int ix = x0 + c;
            float d0 = pixel(x, plane, h, w, y0, ix);
            float d1 = pixel(x, plane, h, w, y0 + 1, ix);
            float d2 = pixel(x, plane, h, w, y0 + 2, ix);
            float d3 = pixel(x, plane, h, w, y0 + 3, ix);
            float d4 = pixel(x, plane, h, w, y0 + 4, ix);
            float d5 = pixel(x, plane, h, w, y0 + 5, ix);
            half[(0 * 6 + c) * THREADS + lid] = 4.0f * d0 - 5.0f * d2 + d4;
            half[(1 * 6 + c) * THREADS + lid] = -4.0f * (d1 + d2) + d3 + d4;
            half[(2 * 6 + c) * THREADS + lid] = 4.0f * (d1 - d2) - d3 + d4;
            half[(3 * 6 + c) * THREADS + lid] = 2.0f * (d3 - d1) - d2 + d4;
            half[(4 * 6 + c) * THREADS + lid] = 2.0f * (d1 - d3) - d2 + d4;
            half[(5 * 6 + c) * THREADS + lid] = 4.0f * d1 - 5.0f * d3 + d5;
        }
        // B^T along each row of the half-transformed patch; point (i, j) goes to GEMM operand xi = 6 i + j.
        boolean live = t < tiles;
        int plane36 = cin * tiles;
        int out = vOff + ci * tiles + t;
        for (int i = 0; i < 6; i++) {
            float e0 = half[(i * 6) * THREADS + lid];
            float e1 = half[(i * 6 + 1) * THREADS + lid];
            float e2 = half[(i * 6 + 2) * THREADS + lid];
            float e3 = half[(i * 6 + 3) * THREADS + lid];
            float e4 = half[(i * 6 + 4) * THREADS + lid];
            float e5 = half[(i * 6 + 5) * THREADS + lid];
            if (live) {
                int o = out + i * 6 * plane36;
                s.set(o, 4.0f * e0 - 5.0f * e2 + e4);
                s.set(o + plane36, -4.0f * (e1 + e2) + e3 + e4);
                s.set(o + 2 * plane36, 4.0f * (e1 - e2) - e3 + e4);
                s.set(o + 3 * plane36, 2.0f * (e3 - e1) - e2 + e4);
                s.set(o + 4 * plane36, 2.0f * (e1 - e3) - e2 + e4);
                s.set(o + 5 * plane36, 4.0f * e1 - 5.0f * e3 + e5);
            }
        }
    }

    /** x[plane + iy * w + ix], or 0 outside the image: the load reads a clamped index, the zero is a select. */
    private static float pixel(FloatArray x, int plane, int h, int w, int iy, int ix) {
        int cy = Math.min(Math.max(iy, 0), h - 1);
        int cx = Math.min(Math.max(ix, 0), w - 1);
        float v = x.get(plane + cy * w + cx);
        return iy >= 0 && iy < h && ix >= 0 && ix < w ? v : 0.0f;
    }

    /**
     * The 36 products M[xi] = U[xi] V[xi], [cout, cin] x [cin, T]: grid z is xi, work-group (gx, gy) computes
     * rows (output channels) [64 gy, 64 gy + 64) and columns (tiles) [64 gx, 64 gx + 64) with the tiling of
     * {@link GemmKernels}: 16x16 threads, each a 4x4 register tile strided by 16, K in steps of 16 through
     * two k-major local tiles.
     */
    public static void gemm(KernelContext ctx, IntArray args, FloatArray u, FloatArray s, IntArray sizes) {
        float[] as = ctx.allocateFloatLocalArray(16 * 64);
        float[] bs = ctx.allocateFloatLocalArray(16 * 64);
        int uOff = args.get(0);
        int vOff = args.get(1);
        int mOff = args.get(2);
        int meta = args.get(3);
        int cin = sizes.get(meta + CIN);
        int cout = sizes.get(meta + COUT);
        int tiles = sizes.get(meta + TILES);
        int tx = ctx.localIdx;
        int ty = ctx.localIdy;
        int lid = ty * 16 + tx;
        int row0 = ctx.groupIdy * 64;
        int col0 = ctx.groupIdx * 64;
        int xi = ctx.groupIdz;
        int uBase = uOff + xi * cout * cin;
        int vBase = vOff + xi * cin * tiles;
        float c00 = 0.0f;
        float c01 = 0.0f;
        float c02 = 0.0f;
        float c03 = 0.0f;
        float c10 = 0.0f;
        float c11 = 0.0f;
        float c12 = 0.0f;
        float c13 = 0.0f;
        float c20 = 0.0f;
        float c21 = 0.0f;
        float c22 = 0.0f;
        float c23 = 0.0f;
        float c30 = 0.0f;
        float c31 = 0.0f;
        float c32 = 0.0f;
        float c33 = 0.0f;
        for (int k0 = 0; k0 < cin; k0 += 16) {
            for (int e = lid; e < 1024; e += 256) {
                // U tile: 64 rows of 16 consecutive k; V tile: 16 rows of 64 consecutive tiles. Indices are
                // clamped into range and the padding zeroed by a select.
                int mm = e / 16;
                int kk = e - mm * 16;
                int co = row0 + mm;
                int gk = k0 + kk;
                float va = u.get(uBase + Math.min(co, cout - 1) * cin + Math.min(gk, cin - 1));
                as[kk * 64 + mm] = co < cout && gk < cin ? va : 0.0f;
                int pk = e / 64;
                int pp = e - pk * 64;
                int vk = k0 + pk;
                int t = col0 + pp;
                float vb = s.get(vBase + Math.min(vk, cin - 1) * tiles + Math.min(t, tiles - 1));
                bs[pk * 64 + pp] = vk < cin && t < tiles ? vb : 0.0f;
            }
            ctx.localBarrier();
            for (int kk = 0; kk < 16; kk++) {
                int ka = kk * 64;
                float a0 = as[ka + ty + 0];
                float a1 = as[ka + ty + 16];
                float a2 = as[ka + ty + 32];
                float a3 = as[ka + ty + 48];
                float b0 = bs[ka + tx + 0];
                float b1 = bs[ka + tx + 16];
                float b2 = bs[ka + tx + 32];
                float b3 = bs[ka + tx + 48];
                c00 += a0 * b0;
                c01 += a0 * b1;
                c02 += a0 * b2;
                c03 += a0 * b3;
                c10 += a1 * b0;
                c11 += a1 * b1;
                c12 += a1 * b2;
                c13 += a1 * b3;
                c20 += a2 * b0;
                c21 += a2 * b1;
                c22 += a2 * b2;
                c23 += a2 * b3;
                c30 += a3 * b0;
                c31 += a3 * b1;
                c32 += a3 * b2;
                c33 += a3 * b3;
            }
            ctx.localBarrier();
        }
        int mBase = mOff + xi * cout * tiles;
        storeM(s, mBase, cout, tiles, row0 + ty + 0, col0 + tx + 0, c00);
        storeM(s, mBase, cout, tiles, row0 + ty + 0, col0 + tx + 16, c01);
        storeM(s, mBase, cout, tiles, row0 + ty + 0, col0 + tx + 32, c02);
        storeM(s, mBase, cout, tiles, row0 + ty + 0, col0 + tx + 48, c03);
        storeM(s, mBase, cout, tiles, row0 + ty + 16, col0 + tx + 0, c10);
        storeM(s, mBase, cout, tiles, row0 + ty + 16, col0 + tx + 16, c11);
        storeM(s, mBase, cout, tiles, row0 + ty + 16, col0 + tx + 32, c12);
        storeM(s, mBase, cout, tiles, row0 + ty + 16, col0 + tx + 48, c13);
        storeM(s, mBase, cout, tiles, row0 + ty + 32, col0 + tx + 0, c20);
        storeM(s, mBase, cout, tiles, row0 + ty + 32, col0 + tx + 16, c21);
        storeM(s, mBase, cout, tiles, row0 + ty + 32, col0 + tx + 32, c22);
        storeM(s, mBase, cout, tiles, row0 + ty + 32, col0 + tx + 48, c23);
        storeM(s, mBase, cout, tiles, row0 + ty + 48, col0 + tx + 0, c30);
        storeM(s, mBase, cout, tiles, row0 + ty + 48, col0 + tx + 16, c31);
        storeM(s, mBase, cout, tiles, row0 + ty + 48, col0 + tx + 32, c32);
        storeM(s, mBase, cout, tiles, row0 + ty + 48, col0 + tx + 48, c33);
    }

    private static void storeM(FloatArray s, int mBase, int cout, int tiles, int co, int t, float v) {
        if (co < cout && t < tiles) {
            s.set(mBase + co * tiles + t, v);
        }
    }

    /**
     * Thread (t, co) of a 2-D grid (tiles rounded up to {@link #THREADS}, cout) turns M[.][co][t] into the
     * 4x4 output tile t of channel co: A^T M A + bias, plus the residual, each element inside the image
     * written once. {@code bOff} or {@code rOff} below 0 means no bias or no residual.
     */
    public static void outputTransform(KernelContext ctx, IntArray args, FloatArray s, FloatArray bias, FloatArray res, FloatArray out,
                                       IntArray sizes) {
        float[] half = ctx.allocateFloatLocalArray(24 * THREADS);
        int mOff = args.get(0);
        int bOff = args.get(1);
        int rOff = args.get(2);
        int oOff = args.get(3);
        int meta = args.get(4);
        int cout = sizes.get(meta + COUT);
        int ho = sizes.get(meta + HO);
        int wo = sizes.get(meta + WO);
        int tilesH = sizes.get(meta + TILES_H);
        int tilesW = sizes.get(meta + TILES_W);
        int tiles = sizes.get(meta + TILES);
        int lid = ctx.localIdx;
        int t = ctx.globalIdx;
        int co = ctx.globalIdy;
        int tc = Math.min(t, tiles - 1);
        int perImage = tilesH * tilesW;
        int n = tc / perImage;
        int r = tc - n * perImage;
        int ty = r / tilesW;
        int tx = r - ty * tilesW;
        int step = cout * tiles;
        int first = mOff + co * tiles + tc;
        // A^T down each column j of the 6x6 M (point (i, j) is operand 6 i + j).
        for (int j = 0; j < 6; j++) {
            float m0 = s.get(first + j * step);
            float m1 = s.get(first + (6 + j) * step);
            float m2 = s.get(first + (12 + j) * step);
            float m3 = s.get(first + (18 + j) * step);
            float m4 = s.get(first + (24 + j) * step);
            float m5 = s.get(first + (30 + j) * step);
            float s12 = m1 + m2;
            float d12 = m1 - m2;
            float s34 = m3 + m4;
            float d34 = m3 - m4;
            half[j * THREADS + lid] = m0 + s12 + s34;
            half[(6 + j) * THREADS + lid] = d12 + 2.0f * d34;
            half[(12 + j) * THREADS + lid] = s12 + 4.0f * s34;
            half[(18 + j) * THREADS + lid] = d12 + 8.0f * d34 + m5;
        }
        float b = 0.0f;
        if (bOff >= 0) {
            b = bias.get(bOff + co);
        }
        boolean live = t < tiles;
        int planeIndex = (n * cout + co) * ho * wo;
        int ox = tx * 4;
        // A^T along each row a of the half-transformed tile gives output row 4 ty + a.
        for (int a = 0; a < 4; a++) {
            float m0 = half[(a * 6) * THREADS + lid];
            float m1 = half[(a * 6 + 1) * THREADS + lid];
            float m2 = half[(a * 6 + 2) * THREADS + lid];
            float m3 = half[(a * 6 + 3) * THREADS + lid];
            float m4 = half[(a * 6 + 4) * THREADS + lid];
            float m5 = half[(a * 6 + 5) * THREADS + lid];
            float s12 = m1 + m2;
            float d12 = m1 - m2;
            float s34 = m3 + m4;
            float d34 = m3 - m4;
            int oy = ty * 4 + a;
            boolean rowIn = live && oy < ho;
            int rowIndex = planeIndex + oy * wo + ox;
            storeOut(res, rOff, out, oOff, rowIndex, rowIn && ox < wo, m0 + s12 + s34 + b);
            storeOut(res, rOff, out, oOff, rowIndex + 1, rowIn && ox + 1 < wo, d12 + 2.0f * d34 + b);
            storeOut(res, rOff, out, oOff, rowIndex + 2, rowIn && ox + 2 < wo, s12 + 4.0f * s34 + b);
            storeOut(res, rOff, out, oOff, rowIndex + 3, rowIn && ox + 3 < wo, d12 + 8.0f * d34 + m5 + b);
        }
    }

    /** out[index] = v (+ residual[index]) where {@code inside}; the residual is read at a safe index either way. */
    private static void storeOut(FloatArray res, int rOff, FloatArray out, int oOff, int index, boolean inside, float v) {
        float y = v;
        if (rOff >= 0) {
            y += res.get(rOff + (inside ? index : 0));
        }
        if (inside) {
            out.set(oOff + index, y);
        }
    }
}
