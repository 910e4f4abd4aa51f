package io.jdiffusion.cpu;

import io.jdiffusion.backend.graph.Op;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

import static io.jdiffusion.cpu.CpuVectors.F;
import static io.jdiffusion.cpu.CpuVectors.FLOAT;
import static io.jdiffusion.cpu.CpuVectors.L;
import static io.jdiffusion.cpu.CpuVectors.ORDER;
import static io.jdiffusion.cpu.Gemm.MR;
import static io.jdiffusion.cpu.Gemm.NR;

/**
 * Flash attention: softmax(q k^T * scale) v per head, tiled over keys with an online softmax, so the
 * Nq x Nk score matrix never exists.
 *
 * <p>K and V of every head are first packed once (K as {@link Gemm} B panels of NR keys, V as rows padded
 * to whole vectors): O(N x head_dim) memory. Then each task takes a block of query rows and walks the key
 * tiles. For each tile and each MR-row panel of the block, the GEMM micro-kernel gives the MR x NR scores
 * (q is pre-scaled); each row keeps a running max m and sum l, and when a tile raises the max the partial
 * output and sum are rescaled by exp(m_old - m_new) before P V of the tile is added. The output is divided
 * by l once at the end. Per thread the extra memory is the query block, its partial outputs and one tile.
 * Keys past the end and, with the causal mask, keys after the query get score -infinity.
 */
final class AttentionKernel {
    /** MR-row panels per query block: the block's partial outputs stay in L1/L2 while key tiles stream by. */
    private static final int PANELS_PER_BLOCK = 8;
    /** Key panels (of NR keys) per softmax step: the row reductions and the output rescale are paid once per KB keys. */
    private static final int KEY_PANELS_PER_TILE = 4;
    /** Keys per tile. */
    private static final int KB = KEY_PANELS_PER_TILE * NR;

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    private AttentionKernel() {
    }

    /** One thread's state for a query block. */
    private static final class Scratch {
        float[] q = new float[0];
        float[] o = new float[0];
        float[] max = new float[0];
        float[] sum = new float[0];
        final float[] tile = new float[MR * KB];
        final float[] alpha = new float[MR + L];
        final float[] tileSum = new float[MR];

        void ensure(int qFloats, int oFloats, int rows) {
            if (q.length < qFloats) {
                q = new float[qFloats];
            }
            if (o.length < oFloats) {
                o = new float[oFloats];
            }
            if (max.length < rows) {
                max = new float[rows];
                sum = new float[rows];
            }
        }
    }

    static Kernel compile(Op.Attention op, CompileContext ctx) {
        int batch = op.q().shape().size(0);
        int nq = op.q().shape().size(1);
        int nk = op.k().shape().size(1);
        int heads = op.heads();
        int d = op.q().shape().size(2) / heads;
        int dv = op.v().shape().size(2) / heads;
        int dvPad = (dv + L - 1) / L * L;
        float scale = op.scale();
        boolean causal = op.causal();
        int q = op.q().id(), k = op.k().id(), v = op.v().id(), out = op.out().id();
        WorkerPool pool = ctx.pool;
        Workspace ws = ctx.workspace;
        int keyPanels = Gemm.panelsB(nk);
        int kFloats = keyPanels * d * NR;
        int vFloats = keyPanels * NR * dvPad;
        int blockRows = PANELS_PER_BLOCK * MR;
        int blocks = (nq + blockRows - 1) / blockRows;
        return buffers -> {
            MemorySegment qs = buffers[q], ks = buffers[k], vs = buffers[v], os = buffers[out];
            float[] kp = ws.get(Workspace.Slot.PACK_B, (long) batch * heads * kFloats);
            float[] vp = ws.get(Workspace.Slot.PACK_A, (long) batch * heads * vFloats);
            pool.forEach(batch * heads, bh -> {
                int b = bh / heads, h = bh % heads;
                packKeys(ks, b, h, nk, heads, d, kp, bh * kFloats);
                packValues(vs, b, h, nk, heads, dv, dvPad, vp, bh * vFloats, keyPanels * NR);
            });
            pool.forEach(batch * heads * blocks, task -> {
                int blk = task % blocks;
                int bh = task / blocks;
                queryBlock(qs, os, bh / heads, bh % heads, blk * blockRows, Math.min(nq, blk * blockRows + blockRows),
                        nq, nk, heads, d, dv, dvPad, scale, causal, kp, bh * kFloats, vp, bh * vFloats);
            });
        };
    }

    /** K of head h as B panels: kp[base + p*d*NR + c*NR + j] = k[b, p*NR + j, h*d + c], zero past nk. */
    private static void packKeys(MemorySegment k, int b, int h, int nk, int heads, int d, float[] kp, int base) {
        int panels = Gemm.panelsB(nk);
        Arrays.fill(kp, base, base + panels * d * NR, 0f);
        float[] row = new float[d];
        for (int j = 0; j < nk; j++) {
            MemorySegment.copy(k, FLOAT, 4 * (((long) b * nk + j) * heads * d + (long) h * d), row, 0, d);
            int o = base + (j / NR) * d * NR + j % NR;
            for (int c = 0; c < d; c++) {
                kp[o + c * NR] = row[c];
            }
        }
    }

    /** V of head h as rows of dvPad floats (zero padded, also past nk up to whole tiles). */
    private static void packValues(MemorySegment v, int b, int h, int nk, int heads, int dv, int dvPad, float[] vp,
                                   int base, int rows) {
        Arrays.fill(vp, base, base + rows * dvPad, 0f);
        for (int j = 0; j < nk; j++) {
            MemorySegment.copy(v, FLOAT, 4 * (((long) b * nk + j) * heads * dv + (long) h * dv), vp, base + j * dvPad, dv);
        }
    }

    private static void queryBlock(MemorySegment qs, MemorySegment os, int b, int h, int i0, int i1, int nq, int nk,
                                   int heads, int d, int dv, int dvPad, float scale, boolean causal,
                                   float[] kp, int kBase, float[] vp, int vBase) {
        int rows = i1 - i0;
        int panels = (rows + MR - 1) / MR;
        Scratch s = SCRATCH.get();
        s.ensure(panels * MR * d, panels * MR * dvPad, panels * MR);
        float[] qp = s.q, o = s.o, max = s.max, sum = s.sum, tile = s.tile;
        // Q block as A panels (rows contiguous), pre-scaled; padding rows are zero.
        Arrays.fill(qp, 0, panels * MR * d, 0f);
        for (int i = 0; i < rows; i++) {
            long src = (((long) b * nq + i0 + i) * heads) * d + (long) h * d;
            int o0 = (i / MR) * d * MR + (i % MR) * d;
            for (int c = 0; c < d; c++) {
                qp[o0 + c] = qs.getAtIndex(FLOAT, src + c) * scale;
            }
        }
        Arrays.fill(o, 0, panels * MR * dvPad, 0f);
        Arrays.fill(max, 0, panels * MR, Float.NEGATIVE_INFINITY);
        Arrays.fill(sum, 0, panels * MR, 0f);
        int lastKey = causal ? Math.min(nk, i1) : nk; // keys [0, lastKey) can matter to this block
        int keyPanels = (lastKey + NR - 1) / NR;
        for (int kp0 = 0; kp0 < keyPanels; kp0 += KEY_PANELS_PER_TILE) {
            int tilePanels = Math.min(KEY_PANELS_PER_TILE, keyPanels - kp0);
            int j0 = kp0 * NR;
            int width = tilePanels * NR;
            for (int p = 0; p < panels; p++) {
                int r0 = i0 + p * MR;
                for (int t = 0; t < tilePanels; t++) {
                    Gemm.kernel(qp, p * d * MR, kp, kBase + (kp0 + t) * d * NR, d, tile, t * NR, KB);
                }
                int validKeys = Math.min(width, nk - j0);
                boolean masked = validKeys < width || (causal && j0 + width - 1 > r0);
                if (masked) {
                    mask(tile, r0, j0, validKeys, width, causal);
                }
                softmaxUpdate(tile, width, max, sum, p * MR, s.alpha, s.tileSum);
                accumulate(tile, width, s.alpha, vp, vBase + j0 * dvPad, dvPad, o, p * MR * dvPad);
            }
        }
        for (int i = 0; i < rows; i++) {
            float inv = 1f / sum[i];
            long dst = (((long) b * nq + i0 + i) * heads) * dv + (long) h * dv;
            store(o, i * dvPad, inv, os, dst, dv);
        }
    }

    /** Sets scores of keys past the end, and with the causal mask of keys after the query, to -infinity. */
    private static void mask(float[] tile, int r0, int j0, int validKeys, int width, boolean causal) {
        for (int r = 0; r < MR; r++) {
            int limit = causal ? Math.min(validKeys, r0 + r - j0 + 1) : validKeys;
            for (int j = Math.max(0, limit); j < width; j++) {
                tile[r * KB + j] = Float.NEGATIVE_INFINITY;
            }
        }
    }

    /**
     * Online softmax over one tile of {@code width} keys (a multiple of NR) for MR rows: new running max,
     * p = exp(s - max) written over the scores, running sum rescaled and extended; alpha[r] =
     * exp(max_old - max_new) is what the partial output of row r must be scaled by (0 on a row's first
     * tile, where the old max is -infinity).
     */
    private static void softmaxUpdate(float[] tile, int width, float[] max, float[] sum, int row0, float[] alpha, float[] tileSum) {
        for (int r = 0; r < MR; r++) {
            int base = r * KB;
            FloatVector mx = FloatVector.fromArray(F, tile, base);
            for (int j = L; j < width; j += L) {
                mx = mx.max(FloatVector.fromArray(F, tile, base + j));
            }
            float old = max[row0 + r];
            float m = Math.max(old, mx.reduceLanes(VectorOperators.MAX));
            if (m == Float.NEGATIVE_INFINITY) {
                // Every key so far is masked for this row (only padding rows get here): it contributes nothing.
                for (int j = 0; j < width; j += L) {
                    FloatVector.zero(F).intoArray(tile, base + j);
                }
                alpha[r] = 0f;
                tileSum[r] = 0f;
                continue;
            }
            FloatVector mv = FloatVector.broadcast(F, m);
            FloatVector acc = FloatVector.zero(F);
            for (int j = 0; j < width; j += L) {
                FloatVector p = VectorMath.exp(FloatVector.fromArray(F, tile, base + j).sub(mv));
                p.intoArray(tile, base + j);
                acc = acc.add(p);
            }
            alpha[r] = old - m; // exponentiated below, all rows in one vector operation
            tileSum[r] = VectorMath.sum(acc);
            max[row0 + r] = m;
        }
        for (int r = 0; r < MR; r += L) {
            VectorMask<Float> m = F.indexInRange(r, MR);
            VectorMath.exp(FloatVector.fromArray(F, alpha, r, m)).intoArray(alpha, r, m);
        }
        for (int r = 0; r < MR; r++) {
            sum[row0 + r] = sum[row0 + r] * alpha[r] + tileSum[r];
        }
    }

    /**
     * o[r] = o[r] * alpha[r] + sum_j p[r][j] v[j] over one tile of {@code width} keys, for the MR rows of a
     * panel: up to three vectors of output columns at a time stay in registers while the keys stream by.
     */
    private static void accumulate(float[] p, int width, float[] alpha, float[] vp, int vBase, int dvPad, float[] o, int oBase) {
        int c = 0;
        for (; c + 3 * L <= dvPad; c += 3 * L) {
            accumulate3(p, width, alpha, vp, vBase + c, dvPad, o, oBase + c);
        }
        if (c + 2 * L <= dvPad) {
            accumulate2(p, width, alpha, vp, vBase + c, dvPad, o, oBase + c);
            c += 2 * L;
        }
        if (c < dvPad) {
            accumulate1(p, width, alpha, vp, vBase + c, dvPad, o, oBase + c);
        }
    }

    /** 3 vector(s) of output columns from {@code c}: 18 accumulators, 3 V load(s) and 6 broadcasts of p per key. */
    private static void accumulate3(float[] p, int width, float[] alpha, float[] vp, int vi, int dvPad, float[] o, int oc) {
        FloatVector a0 = FloatVector.broadcast(F, alpha[0]);
        FloatVector a1 = FloatVector.broadcast(F, alpha[1]);
        FloatVector a2 = FloatVector.broadcast(F, alpha[2]);
        FloatVector a3 = FloatVector.broadcast(F, alpha[3]);
        FloatVector a4 = FloatVector.broadcast(F, alpha[4]);
        FloatVector a5 = FloatVector.broadcast(F, alpha[5]);
        FloatVector c00 = FloatVector.fromArray(F, o, oc + 0 * dvPad + 0 * L).mul(a0);
        FloatVector c01 = FloatVector.fromArray(F, o, oc + 0 * dvPad + 1 * L).mul(a0);
        FloatVector c02 = FloatVector.fromArray(F, o, oc + 0 * dvPad + 2 * L).mul(a0);
        FloatVector c10 = FloatVector.fromArray(F, o, oc + 1 * dvPad + 0 * L).mul(a1);
        FloatVector c11 = FloatVector.fromArray(F, o, oc + 1 * dvPad + 1 * L).mul(a1);
        FloatVector c12 = FloatVector.fromArray(F, o, oc + 1 * dvPad + 2 * L).mul(a1);
        FloatVector c20 = FloatVector.fromArray(F, o, oc + 2 * dvPad + 0 * L).mul(a2);
        FloatVector c21 = FloatVector.fromArray(F, o, oc + 2 * dvPad + 1 * L).mul(a2);
        FloatVector c22 = FloatVector.fromArray(F, o, oc + 2 * dvPad + 2 * L).mul(a2);
        FloatVector c30 = FloatVector.fromArray(F, o, oc + 3 * dvPad + 0 * L).mul(a3);
        FloatVector c31 = FloatVector.fromArray(F, o, oc + 3 * dvPad + 1 * L).mul(a3);
        FloatVector c32 = FloatVector.fromArray(F, o, oc + 3 * dvPad + 2 * L).mul(a3);
        FloatVector c40 = FloatVector.fromArray(F, o, oc + 4 * dvPad + 0 * L).mul(a4);
        FloatVector c41 = FloatVector.fromArray(F, o, oc + 4 * dvPad + 1 * L).mul(a4);
        FloatVector c42 = FloatVector.fromArray(F, o, oc + 4 * dvPad + 2 * L).mul(a4);
        FloatVector c50 = FloatVector.fromArray(F, o, oc + 5 * dvPad + 0 * L).mul(a5);
        FloatVector c51 = FloatVector.fromArray(F, o, oc + 5 * dvPad + 1 * L).mul(a5);
        FloatVector c52 = FloatVector.fromArray(F, o, oc + 5 * dvPad + 2 * L).mul(a5);
        for (int j = 0; j < width; j++, vi += dvPad) {
            FloatVector x0 = FloatVector.fromArray(F, vp, vi + 0 * L);
            FloatVector x1 = FloatVector.fromArray(F, vp, vi + 1 * L);
            FloatVector x2 = FloatVector.fromArray(F, vp, vi + 2 * L);
            FloatVector p0 = FloatVector.broadcast(F, p[0 * KB + j]);
            c00 = p0.fma(x0, c00);
            c01 = p0.fma(x1, c01);
            c02 = p0.fma(x2, c02);
            FloatVector p1 = FloatVector.broadcast(F, p[1 * KB + j]);
            c10 = p1.fma(x0, c10);
            c11 = p1.fma(x1, c11);
            c12 = p1.fma(x2, c12);
            FloatVector p2 = FloatVector.broadcast(F, p[2 * KB + j]);
            c20 = p2.fma(x0, c20);
            c21 = p2.fma(x1, c21);
            c22 = p2.fma(x2, c22);
            FloatVector p3 = FloatVector.broadcast(F, p[3 * KB + j]);
            c30 = p3.fma(x0, c30);
            c31 = p3.fma(x1, c31);
            c32 = p3.fma(x2, c32);
            FloatVector p4 = FloatVector.broadcast(F, p[4 * KB + j]);
            c40 = p4.fma(x0, c40);
            c41 = p4.fma(x1, c41);
            c42 = p4.fma(x2, c42);
            FloatVector p5 = FloatVector.broadcast(F, p[5 * KB + j]);
            c50 = p5.fma(x0, c50);
            c51 = p5.fma(x1, c51);
            c52 = p5.fma(x2, c52);
        }
        c00.intoArray(o, oc + 0 * dvPad + 0 * L);
        c01.intoArray(o, oc + 0 * dvPad + 1 * L);
        c02.intoArray(o, oc + 0 * dvPad + 2 * L);
        c10.intoArray(o, oc + 1 * dvPad + 0 * L);
        c11.intoArray(o, oc + 1 * dvPad + 1 * L);
        c12.intoArray(o, oc + 1 * dvPad + 2 * L);
        c20.intoArray(o, oc + 2 * dvPad + 0 * L);
        c21.intoArray(o, oc + 2 * dvPad + 1 * L);
        c22.intoArray(o, oc + 2 * dvPad + 2 * L);
        c30.intoArray(o, oc + 3 * dvPad + 0 * L);
        c31.intoArray(o, oc + 3 * dvPad + 1 * L);
        c32.intoArray(o, oc + 3 * dvPad + 2 * L);
        c40.intoArray(o, oc + 4 * dvPad + 0 * L);
        c41.intoArray(o, oc + 4 * dvPad + 1 * L);
        c42.intoArray(o, oc + 4 * dvPad + 2 * L);
        c50.intoArray(o, oc + 5 * dvPad + 0 * L);
        c51.intoArray(o, oc + 5 * dvPad + 1 * L);
        c52.intoArray(o, oc + 5 * dvPad + 2 * L);
    }

    /** 2 vector(s) of output columns from {@code c}: 12 accumulators, 2 V load(s) and 6 broadcasts of p per key. */
    private static void accumulate2(float[] p, int width, float[] alpha, float[] vp, int vi, int dvPad, float[] o, int oc) {
        FloatVector a0 = FloatVector.broadcast(F, alpha[0]);
        FloatVector a1 = FloatVector.broadcast(F, alpha[1]);
        FloatVector a2 = FloatVector.broadcast(F, alpha[2]);
        FloatVector a3 = FloatVector.broadcast(F, alpha[3]);
        FloatVector a4 = FloatVector.broadcast(F, alpha[4]);
        FloatVector a5 = FloatVector.broadcast(F, alpha[5]);
        FloatVector c00 = FloatVector.fromArray(F, o, oc + 0 * dvPad + 0 * L).mul(a0);
        FloatVector c01 = FloatVector.fromArray(F, o, oc + 0 * dvPad + 1 * L).mul(a0);
        FloatVector c10 = FloatVector.fromArray(F, o, oc + 1 * dvPad + 0 * L).mul(a1);
        FloatVector c11 = FloatVector.fromArray(F, o, oc + 1 * dvPad + 1 * L).mul(a1);
        FloatVector c20 = FloatVector.fromArray(F, o, oc + 2 * dvPad + 0 * L).mul(a2);
        FloatVector c21 = FloatVector.fromArray(F, o, oc + 2 * dvPad + 1 * L).mul(a2);
        FloatVector c30 = FloatVector.fromArray(F, o, oc + 3 * dvPad + 0 * L).mul(a3);
        FloatVector c31 = FloatVector.fromArray(F, o, oc + 3 * dvPad + 1 * L).mul(a3);
        FloatVector c40 = FloatVector.fromArray(F, o, oc + 4 * dvPad + 0 * L).mul(a4);
        FloatVector c41 = FloatVector.fromArray(F, o, oc + 4 * dvPad + 1 * L).mul(a4);
        FloatVector c50 = FloatVector.fromArray(F, o, oc + 5 * dvPad + 0 * L).mul(a5);
        FloatVector c51 = FloatVector.fromArray(F, o, oc + 5 * dvPad + 1 * L).mul(a5);
        for (int j = 0; j < width; j++, vi += dvPad) {
            FloatVector x0 = FloatVector.fromArray(F, vp, vi + 0 * L);
            FloatVector x1 = FloatVector.fromArray(F, vp, vi + 1 * L);
            FloatVector p0 = FloatVector.broadcast(F, p[0 * KB + j]);
            c00 = p0.fma(x0, c00);
            c01 = p0.fma(x1, c01);
            FloatVector p1 = FloatVector.broadcast(F, p[1 * KB + j]);
            c10 = p1.fma(x0, c10);
            c11 = p1.fma(x1, c11);
            FloatVector p2 = FloatVector.broadcast(F, p[2 * KB + j]);
            c20 = p2.fma(x0, c20);
            c21 = p2.fma(x1, c21);
            FloatVector p3 = FloatVector.broadcast(F, p[3 * KB + j]);
            c30 = p3.fma(x0, c30);
            c31 = p3.fma(x1, c31);
            FloatVector p4 = FloatVector.broadcast(F, p[4 * KB + j]);
            c40 = p4.fma(x0, c40);
            c41 = p4.fma(x1, c41);
            FloatVector p5 = FloatVector.broadcast(F, p[5 * KB + j]);
            c50 = p5.fma(x0, c50);
            c51 = p5.fma(x1, c51);
        }
        c00.intoArray(o, oc + 0 * dvPad + 0 * L);
        c01.intoArray(o, oc + 0 * dvPad + 1 * L);
        c10.intoArray(o, oc + 1 * dvPad + 0 * L);
        c11.intoArray(o, oc + 1 * dvPad + 1 * L);
        c20.intoArray(o, oc + 2 * dvPad + 0 * L);
        c21.intoArray(o, oc + 2 * dvPad + 1 * L);
        c30.intoArray(o, oc + 3 * dvPad + 0 * L);
        c31.intoArray(o, oc + 3 * dvPad + 1 * L);
        c40.intoArray(o, oc + 4 * dvPad + 0 * L);
        c41.intoArray(o, oc + 4 * dvPad + 1 * L);
        c50.intoArray(o, oc + 5 * dvPad + 0 * L);
        c51.intoArray(o, oc + 5 * dvPad + 1 * L);
    }

    /** 1 vector(s) of output columns from {@code c}: 6 accumulators, 1 V load(s) and 6 broadcasts of p per key. */
    private static void accumulate1(float[] p, int width, float[] alpha, float[] vp, int vi, int dvPad, float[] o, int oc) {
        FloatVector a0 = FloatVector.broadcast(F, alpha[0]);
        FloatVector a1 = FloatVector.broadcast(F, alpha[1]);
        FloatVector a2 = FloatVector.broadcast(F, alpha[2]);
        FloatVector a3 = FloatVector.broadcast(F, alpha[3]);
        FloatVector a4 = FloatVector.broadcast(F, alpha[4]);
        FloatVector a5 = FloatVector.broadcast(F, alpha[5]);
        FloatVector c00 = FloatVector.fromArray(F, o, oc + 0 * dvPad + 0 * L).mul(a0);
        FloatVector c10 = FloatVector.fromArray(F, o, oc + 1 * dvPad + 0 * L).mul(a1);
        FloatVector c20 = FloatVector.fromArray(F, o, oc + 2 * dvPad + 0 * L).mul(a2);
        FloatVector c30 = FloatVector.fromArray(F, o, oc + 3 * dvPad + 0 * L).mul(a3);
        FloatVector c40 = FloatVector.fromArray(F, o, oc + 4 * dvPad + 0 * L).mul(a4);
        FloatVector c50 = FloatVector.fromArray(F, o, oc + 5 * dvPad + 0 * L).mul(a5);
        for (int j = 0; j < width; j++, vi += dvPad) {
            FloatVector x0 = FloatVector.fromArray(F, vp, vi + 0 * L);
            FloatVector p0 = FloatVector.broadcast(F, p[0 * KB + j]);
            c00 = p0.fma(x0, c00);
            FloatVector p1 = FloatVector.broadcast(F, p[1 * KB + j]);
            c10 = p1.fma(x0, c10);
            FloatVector p2 = FloatVector.broadcast(F, p[2 * KB + j]);
            c20 = p2.fma(x0, c20);
            FloatVector p3 = FloatVector.broadcast(F, p[3 * KB + j]);
            c30 = p3.fma(x0, c30);
            FloatVector p4 = FloatVector.broadcast(F, p[4 * KB + j]);
            c40 = p4.fma(x0, c40);
            FloatVector p5 = FloatVector.broadcast(F, p[5 * KB + j]);
            c50 = p5.fma(x0, c50);
        }
        c00.intoArray(o, oc + 0 * dvPad + 0 * L);
        c10.intoArray(o, oc + 1 * dvPad + 0 * L);
        c20.intoArray(o, oc + 2 * dvPad + 0 * L);
        c30.intoArray(o, oc + 3 * dvPad + 0 * L);
        c40.intoArray(o, oc + 4 * dvPad + 0 * L);
        c50.intoArray(o, oc + 5 * dvPad + 0 * L);
    }

    /** out[dst, dst + n) = o[from, from + n) * inv. */
    private static void store(float[] o, int from, float inv, MemorySegment out, long dst, int n) {
        FloatVector s = FloatVector.broadcast(F, inv);
        for (int c = 0; c < n; c += L) {
            VectorMask<Float> m = F.indexInRange(c, n);
            FloatVector.fromArray(F, o, from + c, m).mul(s).intoMemorySegment(out, 4 * (dst + c), ORDER, m);
        }
    }
}
