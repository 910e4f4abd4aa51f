package io.jdiffusion.cpu;

import io.jdiffusion.backend.WinogradF43;
import io.jdiffusion.backend.graph.Activation;
import io.jdiffusion.backend.graph.Op;
import io.jdiffusion.backend.graph.Value;
import io.jdiffusion.core.DType;
import io.jdiffusion.core.Tensor;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorShuffle;

import java.lang.foreign.MemorySegment;

import static io.jdiffusion.cpu.CpuVectors.F;
import static io.jdiffusion.cpu.CpuVectors.FLOAT;
import static io.jdiffusion.cpu.CpuVectors.L;
import static io.jdiffusion.cpu.CpuVectors.ORDER;
import static io.jdiffusion.cpu.Gemm.MR;
import static io.jdiffusion.cpu.Gemm.NR;

/**
 * 3x3 stride-1 convolution by Winograd F(4x4, 3x3): each 4x4 output tile comes from a 6x6 input tile as
 * Y = A^T [ (G g G^T) . (B^T d B) ] A, so the 144 multiply-adds per tile and channel pair of the direct
 * form become 36, done as 36 GEMMs (one per tile position xi): M_xi[cout][tile] = sum_cin U_xi[cout][cin]
 * V_xi[cin][tile].
 *
 * <p>The matrices come from Toom-Cook with the points 0, 1, -1, 2, -2 and infinity (Lavin and Gray,
 * 2016): A^T[i][j] = p_j^i; G[j][k] = p_j^k / N_j with N_j = prod_{l != j} (p_j - p_l); row j of B^T holds
 * the coefficients of prod_{l != j} (x - p_l); the point at infinity contributes the last row/column.
 * {@code WinogradMatricesTest} derives them from the points and checks the constants here against that.
 *
 * <p>The layers {@link WinogradSelection} keeps filters for have their weights transformed once, at compile
 * time, and packed as the 36 A operands (4x the weight bytes); the others transform them while they run
 * ({@link WinogradFilterStream}). At run time the tile rows of all images are processed in chunks sized to keep the transformed input
 * and the GEMM results in L3: transform the input straight into packed B panels (vectorised across the
 * tiles of a row through four phase-split copies of each input row), run the 36 GEMMs, then transform
 * the results back and write each output element once with bias and residual fused.
 */
final class WinogradConv {
    /** Output tile, kernel and input tile sizes. */
    static final int TILE_OUT = WinogradF43.TILE_OUT;
    static final int TILE_IN = WinogradF43.TILE_IN;
    static final int POSITIONS = WinogradF43.POINTS;


    /** Floats of transformed input (or of GEMM results) per chunk: about 8 MB, so a chunk lives in L3. */
    static final long CHUNK_FLOATS = 2L << 20;

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    private WinogradConv() {
    }

    /** Per-thread scratch arrays of the transforms, grown on demand (the transforms run as many small tasks). */
    private static final class Scratch {
        private final float[][] arrays = new float[4][];

        float[] floats(int slot, int size) {
            if (arrays[slot] == null || arrays[slot].length < size) {
                arrays[slot] = new float[size];
            }
            return arrays[slot];
        }
    }

    /** Values of the transformed filters: 36 A operands of [cout, cin]. */
    static long transformedSize(int cout, int cin) {
        return (long) POSITIONS * Gemm.panelsA(cout) * cin * MR;
    }

    /** U = G g G^T for every (cout, cin), packed as 36 GEMM A operands of [cout, cin] into {@code packed}. */
    static PackedWeights transformWeights(Tensor w, int cout, int cin, PackedWeights packed) {
        long sizeA = (long) Gemm.panelsA(cout) * cin * MR;
        float[] row = new float[cin * 9];
        double[] u = new double[POSITIONS];
        float[][] rows = new float[POSITIONS][cin];
        for (int co = 0; co < cout; co++) {
            Packing.readRow(w, co, cin * 9, row);
            int p = co / MR, r = co % MR;
            for (int ci = 0; ci < cin; ci++) {
                WinogradF43.transformKernel(row, ci * 9, u);
                for (int xi = 0; xi < POSITIONS; xi++) {
                    rows[xi][ci] = (float) u[xi];
                }
            }
            for (int xi = 0; xi < POSITIONS; xi++) {
                packed.write(xi * sizeA + (long) p * cin * MR + (long) r * cin, rows[xi], 0, cin);
            }
        }
        return packed;
    }

    static Kernel compile(Op.Conv2d op, ConvKernels.Geometry g, CompileContext ctx) {
        int cin = g.cin(), cout = g.cout();
        boolean constant = op.weight().kind() == Value.Kind.CONSTANT;
        // Kept filters where the selection's budget holds them; every other layer transforms its filters as it
        // runs, from its weights stored once (tap-major), or from the weights bound to this run.
        PackedWeights kept = constant && ctx.winograd.keepsFilters(op)
                ? ctx.weights(op.weight(), WeightForm.Kind.WINOGRAD_A, cout, cin, false, transformedSize(cout, cin),
                        dst -> transformWeights(op.weight().constant(), cout, cin, dst))
                : null;
        PackedWeights fixedTaps = constant && kept == null
                ? ctx.weights(op.weight(), WeightForm.Kind.WINOGRAD_TAPS, cout, cin, false,
                        WinogradFilterStream.tapMajorSize(cout, cin),
                        dst -> WinogradFilterStream.packTapMajor(op.weight().constant(), cout, cin, dst))
                : null;
        float[] fixedBias = ctx.constantFloats(op.bias());
        int x = op.x().id(), w = op.weight().id(), out = op.out().id();
        int bias = op.bias() == null ? -1 : op.bias().id();
        int residual = op.residual() == null ? -1 : op.residual().id();
        WorkerPool pool = ctx.pool;
        Workspace ws = ctx.workspace;
        int tilesY = (g.ho() + TILE_OUT - 1) / TILE_OUT, tilesX = (g.wo() + TILE_OUT - 1) / TILE_OUT;
        // Chunks run over the tile rows of all images one after the other (a chunk may hold several small
        // images, or end inside one), so each staged filter block serves every image in the chunk: a 16x16
        // output is 16 tiles, one B panel at 256 bits, and one GEMM per image would stream the filters from
        // memory once per image.
        int allRows = g.batch() * tilesY;
        int maxRows = (int) Math.max(1, Math.min(allRows, ctx.options.winogradChunkFloats() / ((long) POSITIONS * Math.max(cin, cout) * tilesX)));
        // Equal chunks (16 tile rows in at most 11 per chunk become 8 + 8, not 11 + 5): no short last GEMM.
        int chunks = (allRows + maxRows - 1) / maxRows;
        int chunkRows = (allRows + chunks - 1) / chunks;
        int sizeA = Gemm.panelsA(cout) * cin * MR;
        int aBlock = Gemm.aBlockPanels(cout, cin);
        int mBlocks = (Gemm.panelsA(cout) + aBlock - 1) / aBlock;
        long imageIn = (long) cin * g.h() * g.w(), imageOut = (long) cout * g.ho() * g.wo();
        int streamBlock = WinogradFilterStream.panelsPerTask(cout, cin);
        int streamTasks = (Gemm.panelsA(cout) + streamBlock - 1) / streamBlock;
        return buffers -> {
            PackedWeights taps = kept != null ? null : fixedTaps != null ? fixedTaps
                    : WinogradFilterStream.packTapMajor(Tensor.view(buffers[w], op.weight().shape(), DType.F32), cout, cin,
                    PackedWeights.ofArray(new float[Math.toIntExact(WinogradFilterStream.tapMajorSize(cout, cin))]));
            float[] biasArr = bias < 0 ? null : fixedBias != null ? fixedBias : Packing.toArray(buffers[bias], cout);
            MemorySegment xs = buffers[x], os = buffers[out], rs = residual < 0 ? null : buffers[residual];
            for (int row0 = 0; row0 < allRows; row0 += chunkRows) {
                int rows = Math.min(chunkRows, allRows - row0);
                int tiles = rows * tilesX;
                int bPanels = Gemm.panelsB(tiles);
                int sizeB = bPanels * cin * NR;
                float[] v = ws.get(Workspace.Slot.WINOGRAD_IN, (long) POSITIONS * sizeB);
                MemorySegment m = ws.segment(Workspace.Slot.WINOGRAD_OUT, 4L * (POSITIONS * cout * tiles + L));
                GemmOutput[] targets = new GemmOutput[POSITIONS]; // M_xi[cout][tile] from value xi * cout * tiles
                for (int xi = 0; xi < POSITIONS; xi++) {
                    targets[xi] = new GemmOutput(m, (long) xi * cout * tiles, tiles, null, false, 0, Activation.NONE, null);
                }
                int first = row0;
                pool.forEach(cin * rows, task -> {
                    int row = first + task % rows; // tile row `row % tilesY` of image `row / tilesY`
                    inputTransform(xs, row / tilesY * imageIn, g, task / rows, row % tilesY, task % rows, tilesX, v, sizeB);
                });
                if (kept != null) {
                    pool.forEach(POSITIONS * mBlocks, task -> {
                        int xi = task / mBlocks, mb = task % mBlocks;
                        Gemm.multiplyBlock(kept, (long) xi * sizeA, cout, mb * aBlock, Math.min(Gemm.panelsA(cout), mb * aBlock + aBlock),
                                v, xi * sizeB, 0, bPanels, tiles, cin, targets[xi]);
                    });
                } else {
                    pool.forEach(streamTasks, task -> WinogradFilterStream.multiply(taps, cout, cin, task * streamBlock,
                            Math.min(Gemm.panelsA(cout), task * streamBlock + streamBlock), v, sizeB, bPanels, tiles, targets));
                }
                pool.forEach(cout * rows, task -> {
                    int row = first + task % rows;
                    outputTransform(m, tiles, task / rows, row % tilesY, task % rows, tilesX, g, biasArr, os, rs,
                            row / tilesY * imageOut);
                });
            }
        };
    }

    /**
     * V = B^T d B for the tiles of tile row {@code ty} of channel {@code ci}, written into the packed B
     * operands (one per position xi). Lanes are tiles: the six input rows are split into four phase
     * arrays, P_k[t] = row[4t + k - left], so that element c of tile t is P_{c mod 4}[t + c / 4] and every
     * load is contiguous. Vectors never cross a method boundary (that would box them): helpers take arrays.
     */
    private static void inputTransform(MemorySegment x, long inBase, ConvKernels.Geometry g, int ci, int ty, int tyLocal,
                                       int tilesX, float[] v, int sizeB) {
        // Phase rows are padded by a vector so full-width loads past the last tile stay in bounds.
        int stride = (tilesX + 2 + L - 1) / L * L + L;
        Scratch s = SCRATCH.get();
        float[] phase = s.floats(0, TILE_IN * 4 * stride);
        java.util.Arrays.fill(phase, 0, TILE_IN * 4 * stride, 0f);
        // Phases are produced a vector of tiles at a time, so the line covers whole groups of 4L floats.
        int phaseTiles = (tilesX + 2 + L - 1) / L * L;
        int lineLength = TILE_OUT * phaseTiles;
        float[] line = s.floats(3, lineLength);
        java.util.Arrays.fill(line, 0, lineLength, 0f);
        long plane = inBase + (long) ci * g.h() * g.w();
        int w = g.w(), left = g.pad().left();
        for (int r = 0; r < TILE_IN; r++) {
            int iy = TILE_OUT * ty - g.pad().top() + r;
            if (iy < 0 || iy >= g.h()) {
                continue; // the phase rows stay zero
            }
            // The row, with its left padding, as a zero-extended array; then split into the four phases.
            MemorySegment.copy(x, FLOAT, 4 * (plane + (long) iy * w), line, left, w);
            int p0 = r * 4 * stride;
            for (int t = 0; t < phaseTiles; t += L) {
                splitPhases(line, TILE_OUT * t, phase, p0 + t, stride);
            }
        }
        float[] tmp = s.floats(1, TILE_IN * TILE_IN * L);
        float[] col = s.floats(2, TILE_IN * L);
        for (int t0 = 0; t0 < tilesX; t0 += L) {
            int count = Math.min(L, tilesX - t0);
            for (int r = 0; r < TILE_IN; r++) {
                int pr = r * 4 * stride + t0;
                transformInput(phase, pr, pr + stride, pr + 2 * stride, pr + 3 * stride, pr + 1, pr + stride + 1,
                        tmp, r * TILE_IN * L, L);
            }
            for (int c = 0; c < TILE_IN; c++) {
                int step = TILE_IN * L;
                int o = c * L;
                transformInput(tmp, o, o + step, o + 2 * step, o + 3 * step, o + 4 * step, o + 5 * step, col, 0, L);
                for (int r = 0; r < TILE_IN; r++) {
                    storeTiles(col, r * L, count, v, (r * TILE_IN + c) * sizeB, ci, tyLocal * tilesX + t0, g.cin());
                }
            }
        }
    }

    /** B^T applied to the six vectors at in[i0..i5], the results stored at out[o + i * step]. */
    private static void transformInput(float[] in, int i0, int i1, int i2, int i3, int i4, int i5, float[] out, int o, int step) {
        FloatVector d0 = FloatVector.fromArray(F, in, i0);
        FloatVector d1 = FloatVector.fromArray(F, in, i1);
        FloatVector d2 = FloatVector.fromArray(F, in, i2);
        FloatVector d3 = FloatVector.fromArray(F, in, i3);
        FloatVector d4 = FloatVector.fromArray(F, in, i4);
        FloatVector d5 = FloatVector.fromArray(F, in, i5);
        FloatVector a = d2.mul(-4f).add(d4);
        FloatVector b = d1.mul(-4f).add(d3);
        FloatVector c = d4.sub(d2);
        FloatVector e = d3.sub(d1).mul(2f);
        d0.mul(4f).add(d2.mul(-5f)).add(d4).intoArray(out, o);
        a.add(b).intoArray(out, o + step);
        a.sub(b).intoArray(out, o + 2 * step);
        c.add(e).intoArray(out, o + 3 * step);
        c.sub(e).intoArray(out, o + 4 * step);
        d1.mul(4f).add(d3.mul(-5f)).add(d5).intoArray(out, o + 5 * step);
    }

    /**
     * Stores {@code count} values from src[from] for the tiles from {@code tile} on into packed B (k = ci):
     * one masked vector store, or element by element where the run crosses a panel edge.
     */
    private static void storeTiles(float[] src, int from, int count, float[] b, int bBase, int ci, int tile, int cin) {
        int j = tile % NR;
        int p = tile / NR;
        if (j + count <= NR) {
            int dst = bBase + (p * cin + ci) * NR + j;
            if (count == L) {
                FloatVector.fromArray(F, src, from).intoArray(b, dst);
            } else {
                System.arraycopy(src, from, b, dst, count);
            }
            return;
        }
        for (int lane = 0; lane < count; lane++) {
            int t = tile + lane;
            b[bBase + ((t / NR) * cin + ci) * NR + t % NR] = src[from + lane];
        }
    }

    /**
     * Y = A^T M A for the tiles of tile row {@code ty} of output channel {@code co}, plus bias, then the
     * four output rows are assembled (tiles interleaved) and written once, with the residual added.
     */
    private static void outputTransform(MemorySegment m, int tiles, int co, int ty, int tyLocal, int tilesX,
                                        ConvKernels.Geometry g, float[] bias, MemorySegment out, MemorySegment residual,
                                        long outBase) {
        int wo = g.wo(), ho = g.ho();
        int cout = g.cout();
        Scratch s = SCRATCH.get();
        int rowLength = TILE_OUT * ((tilesX + L - 1) / L * L);
        float[] rows = s.floats(0, TILE_OUT * rowLength);
        float[] tmp = s.floats(1, TILE_OUT * TILE_IN * L);
        float b = bias == null ? 0f : bias[co];
        long xiStride = (long) cout * tiles;
        for (int t0 = 0; t0 < tilesX; t0 += L) {
            long first = (long) co * tiles + (long) tyLocal * tilesX + t0;
            for (int c = 0; c < TILE_IN; c++) {
                transformOutput(m, first + c * xiStride, TILE_IN * xiStride, tmp, c * L, TILE_IN * L);
            }
            for (int i = 0; i < TILE_OUT; i++) {
                transformOutputRow(tmp, i * TILE_IN * L, b, rows, i * rowLength + TILE_OUT * t0);
            }
        }
        long plane = outBase + (long) co * ho * wo;
        for (int i = 0; i < TILE_OUT; i++) {
            int oy = TILE_OUT * ty + i;
            if (oy >= ho) {
                break;
            }
            writeRow(rows, i * rowLength, out, residual, plane + (long) oy * wo, wo);
        }
    }

    /** out[o, o + n) = src[from, from + n) (+ residual), vector by vector. */
    private static void writeRow(float[] src, int from, MemorySegment out, MemorySegment residual, long o, int n) {
        for (int c = 0; c < n; c += L) {
            VectorMask<Float> mk = F.indexInRange(c, n);
            FloatVector val = FloatVector.fromArray(F, src, from + c, mk);
            if (residual != null) {
                val = val.add(FloatVector.fromMemorySegment(F, residual, 4 * (o + c), ORDER, mk));
            }
            val.intoMemorySegment(out, 4 * (o + c), ORDER, mk);
        }
    }

    /**
     * A^T applied down a column of M: the six vectors m[first + xi * step] (elements, xi = 0..5) give four
     * rows stored at out[o + i * outStep]. The GEMM result segment is padded by a vector, so full loads past
     * the last tile stay in bounds.
     */
    private static void transformOutput(MemorySegment m, long first, long step, float[] out, int o, int outStep) {
        FloatVector m0 = FloatVector.fromMemorySegment(F, m, 4 * first, ORDER);
        FloatVector m1 = FloatVector.fromMemorySegment(F, m, 4 * (first + step), ORDER);
        FloatVector m2 = FloatVector.fromMemorySegment(F, m, 4 * (first + 2 * step), ORDER);
        FloatVector m3 = FloatVector.fromMemorySegment(F, m, 4 * (first + 3 * step), ORDER);
        FloatVector m4 = FloatVector.fromMemorySegment(F, m, 4 * (first + 4 * step), ORDER);
        FloatVector m5 = FloatVector.fromMemorySegment(F, m, 4 * (first + 5 * step), ORDER);
        FloatVector s12 = m1.add(m2), d12 = m1.sub(m2);
        FloatVector s34 = m3.add(m4), d34 = m3.sub(m4);
        m0.add(s12).add(s34).intoArray(out, o);
        d34.mul(2f).add(d12).intoArray(out, o + outStep);
        s34.mul(4f).add(s12).intoArray(out, o + 2 * outStep);
        d34.mul(8f).add(d12).add(m5).intoArray(out, o + 3 * outStep);
    }

    /**
     * A^T applied along a row of the half-transformed tile (six vectors at in[o + k * L], lanes = tiles),
     * plus the bias, giving y_j[t] for the four output columns j of each tile t; written to out[outO...] as
     * one output row, y_0[0] y_1[0] y_2[0] y_3[0] y_0[1] ..., by two rounds of two-vector zips.
     */
    private static void transformOutputRow(float[] in, int o, float bias, float[] out, int outO) {
        FloatVector m0 = FloatVector.fromArray(F, in, o);
        FloatVector m1 = FloatVector.fromArray(F, in, o + L);
        FloatVector m2 = FloatVector.fromArray(F, in, o + 2 * L);
        FloatVector m3 = FloatVector.fromArray(F, in, o + 3 * L);
        FloatVector m4 = FloatVector.fromArray(F, in, o + 4 * L);
        FloatVector m5 = FloatVector.fromArray(F, in, o + 5 * L);
        FloatVector s12 = m1.add(m2), d12 = m1.sub(m2);
        FloatVector s34 = m3.add(m4), d34 = m3.sub(m4);
        FloatVector y0 = m0.add(s12).add(s34).add(bias);
        FloatVector y1 = d34.mul(2f).add(d12).add(bias);
        FloatVector y2 = s34.mul(4f).add(s12).add(bias);
        FloatVector y3 = d34.mul(8f).add(d12).add(m5).add(bias);
        FloatVector p = y0.rearrange(ZIP_LOW, y2), q = y0.rearrange(ZIP_HIGH, y2);
        FloatVector r = y1.rearrange(ZIP_LOW, y3), u = y1.rearrange(ZIP_HIGH, y3);
        p.rearrange(ZIP_LOW, r).intoArray(out, outO);
        p.rearrange(ZIP_HIGH, r).intoArray(out, outO + L);
        q.rearrange(ZIP_LOW, u).intoArray(out, outO + 2 * L);
        q.rearrange(ZIP_HIGH, u).intoArray(out, outO + 3 * L);
    }

    /**
     * The four phases of 4L consecutive floats, P_k[t] = line[from + 4t + k], stored at
     * phase[to + k * stride + t], by two rounds of two-vector even/odd selections.
     */
    private static void splitPhases(float[] line, int from, float[] phase, int to, int stride) {
        FloatVector v0 = FloatVector.fromArray(F, line, from);
        FloatVector v1 = FloatVector.fromArray(F, line, from + L);
        FloatVector v2 = FloatVector.fromArray(F, line, from + 2 * L);
        FloatVector v3 = FloatVector.fromArray(F, line, from + 3 * L);
        FloatVector e = v0.rearrange(EVEN, v1), e2 = v2.rearrange(EVEN, v3);
        FloatVector d = v0.rearrange(ODD, v1), d2 = v2.rearrange(ODD, v3);
        e.rearrange(EVEN, e2).intoArray(phase, to);
        d.rearrange(EVEN, d2).intoArray(phase, to + stride);
        e.rearrange(ODD, e2).intoArray(phase, to + 2 * stride);
        d.rearrange(ODD, d2).intoArray(phase, to + 3 * stride);
    }

    /** Two-vector shuffles: lane i of a.rearrange(s, b) takes a[s_i] for s_i < L and b[s_i - L] otherwise. */
    private static final VectorShuffle<Float> ZIP_LOW = shuffle(i -> i % 2 == 0 ? i / 2 : L + i / 2);
    private static final VectorShuffle<Float> ZIP_HIGH = shuffle(i -> i % 2 == 0 ? L / 2 + i / 2 : L + L / 2 + i / 2);
    private static final VectorShuffle<Float> EVEN = shuffle(i -> 2 * i);
    private static final VectorShuffle<Float> ODD = shuffle(i -> 2 * i + 1);

    private static VectorShuffle<Float> shuffle(java.util.function.IntUnaryOperator source) {
        int[] indices = new int[L];
        for (int i = 0; i < L; i++) {
            indices[i] = source.applyAsInt(i);
        }
        return VectorShuffle.fromArray(F, indices, 0);
    }
}
