package io.jdiffusion.cpu;

import io.jdiffusion.backend.graph.Activation;
import io.jdiffusion.backend.graph.Op;
import io.jdiffusion.backend.graph.Value;
import io.jdiffusion.core.DType;
import io.jdiffusion.core.Tensor;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;

import java.lang.foreign.MemorySegment;

import static io.jdiffusion.cpu.CpuVectors.F;
import static io.jdiffusion.cpu.CpuVectors.FLOAT;
import static io.jdiffusion.cpu.CpuVectors.L;
import static io.jdiffusion.cpu.CpuVectors.ORDER;
import static io.jdiffusion.cpu.Gemm.MR;
import static io.jdiffusion.cpu.Gemm.NR;
import static io.jdiffusion.cpu.Gemm.roundUp;

/**
 * 3x3 stride-1 convolution by Winograd F(m x m, 3x3), m = 4 or 2 ({@link WinogradTile}): each m x m output tile
 * comes from an n x n input tile (n = m + 2) as Y = A^T [ (G g G^T) . (B^T d B) ] A, so the 9 m^2 multiply-adds
 * per tile and channel pair of the direct form become n^2 (F(4x4): 144 become 36; F(2x2): 36 become 16), done as
 * n^2 GEMMs (one per tile position xi): M_xi[cout][tile] = sum_cin U_xi[cout][cin] V_xi[cin][tile]. The
 * matrices come from Toom-Cook ({@code WinogradF43}, {@code WinogradF23}); {@link WinogradTransforms} holds each
 * size's vector code, this class the rest, which is the same for both.
 *
 * <p>The layers {@link WinogradSelection} keeps filters for have their weights transformed once, at compile
 * time, and packed as the n^2 A operands (4x the weight bytes for F(4x4), 1.8x for F(2x2)); the others transform them while they run
 * ({@link WinogradFilterStream}). At run time the tile rows of all images are processed in chunks sized to keep the transformed input
 * and the GEMM results in L3: transform the input straight into packed B panels (vectorised across the
 * tiles of a band of tile rows through m phase-split copies of each input row), run the n^2 GEMMs, then transform
 * the results back and write each output element once with bias and residual fused.
 */
final class WinogradConv {
    /** Floats of transformed input (or of GEMM results) per chunk: about 8 MB, so a chunk lives in L3. */
    static final long CHUNK_FLOATS = 2L << 20;
    /** Tasks per thread of each transform phase ({@link #channelsPerTask}). */
    private static final int TRANSFORM_TASKS_PER_THREAD = 16;

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    private WinogradConv() {
    }

    /** Per-thread scratch arrays of the transforms, grown on demand (the transforms run as many small tasks). */
    private static final class Scratch {
        private final float[][] arrays = new float[4][];
        /** Where the n vectors of one input transform start. */
        private final int[] at = new int[8];

        float[] floats(int slot, int size) {
            if (arrays[slot] == null || arrays[slot].length < size) {
                arrays[slot] = new float[size];
            }
            return arrays[slot];
        }
    }

    /** Values of the transformed filters: n^2 A operands of [cout, cin]. */
    static long transformedSize(WinogradTile tile, int cout, int cin) {
        return (long) tile.positions * Gemm.panelsA(cout) * cin * MR;
    }

    static Kernel compile(Op.Conv2d op, ConvKernels.Geometry g, WinogradTile tile, CompileContext ctx) {
        int cin = g.cin(), cout = g.cout();
        int positions = tile.positions;
        boolean constant = op.weight().kind() == Value.Kind.CONSTANT;
        // Kept filters where the selection's budget holds them; every other layer transforms its filters as it
        // runs, from its weights stored once (tap-major), or from the weights bound to this run.
        PackedWeights kept = constant && ctx.winograd.keepsFilters(op)
                ? ctx.weights(op.weight(), tile.keptForm, cout, cin, false, transformedSize(tile, cout, cin),
                        dst -> WinogradFilterStream.transformAll(tile, op.weight().constant(), cout, cin, dst, ctx.pool))
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
        int tilesY = (g.ho() + tile.out - 1) / tile.out, tilesX = (g.wo() + tile.out - 1) / tile.out;
        // Chunks run over the tile rows of all images one after the other (a chunk may hold several small
        // images, or end inside one), so each staged filter block serves every image in the chunk: a 16x16
        // output is 16 tiles of 4x4, one B panel at 256 bits, and one GEMM per image would stream the filters
        // from memory once per image.
        int allRows = g.batch() * tilesY;
        int chunkRows = chunkRows(allRows, tilesX, (long) positions * Math.max(cin, cout) * tilesX, ctx.options.winogradChunkFloats());
        int sizeA = Gemm.panelsA(cout) * cin * MR;
        int aBlock = Gemm.aBlockPanels(cout, cin);
        int mBlocks = (Gemm.panelsA(cout) + aBlock - 1) / aBlock;
        long imageIn = (long) cin * g.h() * g.w(), imageOut = (long) cout * g.ho() * g.wo();
        int streamBlock = WinogradFilterStream.panelsPerTask(tile, cout, cin);
        // Tile rows transformed together: a small image's row (4 tiles at 16x16 with F(4x4)) fills a fraction of a
        // vector, whose lanes are tiles, so a band of rows fills it.
        int band = Math.max(1, L / tilesX);
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
                float[] v = ws.get(Workspace.Slot.WINOGRAD_IN, (long) positions * sizeB);
                MemorySegment m = ws.segment(Workspace.Slot.WINOGRAD_OUT, 4L * ((long) positions * cout * tiles + L));
                GemmOutput[] targets = new GemmOutput[positions]; // M_xi[cout][tile] from value xi * cout * tiles
                for (int xi = 0; xi < positions; xi++) {
                    targets[xi] = new GemmOutput(m, (long) xi * cout * tiles, tiles, null, false, 0, Activation.NONE, null);
                }
                int first = row0;
                int inGroup = channelsPerTask(cin, pool.threads());
                pool.forEach((cin + inGroup - 1) / inGroup, task -> {
                    int c0 = task * inGroup, c1 = Math.min(cin, c0 + inGroup);
                    for (int r = 0; r < rows; r += band) {
                        inputTransform(tile, xs, g, imageIn, tilesY, first + r, r, Math.min(band, rows - r), tilesX, c0, c1, v,
                                sizeB);
                    }
                });
                if (kept != null) {
                    pool.forEach(positions * mBlocks, task -> {
                        int xi = task / mBlocks, mb = task % mBlocks;
                        Gemm.multiplyBlock(kept, (long) xi * sizeA, cout, mb * aBlock, Math.min(Gemm.panelsA(cout), mb * aBlock + aBlock),
                                v, xi * sizeB, 0, bPanels, tiles, cin, targets[xi]);
                    });
                } else {
                    pool.forEach(streamTasks, task -> WinogradFilterStream.multiply(tile, taps, cout, cin, task * streamBlock,
                            Math.min(Gemm.panelsA(cout), task * streamBlock + streamBlock), v, sizeB, bPanels, tiles, targets));
                }
                int outGroup = channelsPerTask(cout, pool.threads());
                pool.forEach((cout + outGroup - 1) / outGroup, task -> {
                    int c0 = task * outGroup, c1 = Math.min(cout, c0 + outGroup);
                    for (int r = 0; r < rows; r += band) {
                        outputTransform(tile, m, tiles, g, tilesY, first + r, r, Math.min(band, rows - r), tilesX, c0, c1, biasArr,
                                os, rs, imageOut);
                    }
                });
            }
        };
    }

    /**
     * Tile rows per chunk: as many as {@code budgetFloats} of transformed input hold (at least one), {@code rowFloats}
     * a tile row's, in equal chunks (16 tile rows in at most 11 per chunk become 8 + 8, not 11 + 5: no short last
     * GEMM), rounded up to whole panels of tiles where that at most doubles a chunk. The products run whole panels (a
     * partial one costs a whole one's multiply-adds) and stream the layer's filters once per chunk, so the budget alone
     * cut SD 1.5's 16x16 layers of 1920 and 2560 input channels (7 and 5 rows of 4 tiles) into chunks of half a panel,
     * its 32x32 layer of 960 (7 rows of 8) into three of one and a half, and at 512x512 its 64x64 layers of 320 and 640
     * into chunks of 5.5 and 2.5 panels.
     */
    static int chunkRows(int allRows, int tilesX, long rowFloats, long budgetFloats) {
        int maxRows = (int) Math.max(1, Math.min(allRows, budgetFloats / rowFloats));
        int wholePanelRows = Gemm.NR / gcd(Gemm.NR, tilesX);
        boolean toWholePanels = roundUp(maxRows, wholePanelRows) <= 2 * maxRows;
        if (toWholePanels) {
            maxRows = Math.min(allRows, roundUp(maxRows, wholePanelRows));
        }
        int chunks = (allRows + maxRows - 1) / maxRows;
        int rows = (allRows + chunks - 1) / chunks;
        return toWholePanels ? Math.min(allRows, roundUp(rows, wholePanelRows)) : rows;
    }

    private static int gcd(int a, int b) {
        return b == 0 ? a : gcd(b, a % b);
    }

    /**
     * Channels per task of a transform phase, a task taking every tile row of the chunk for its channels. Tasks of one
     * channel and one tile row wrote the same cache lines of the packed B panels from both threads (a panel row holds
     * the tiles of several tile rows), and each paid a fixed cost (a claim on the pool's shared counter, its scratch
     * rows zeroed) that the few tiles of a small image's row did not cover: the 16x16 input transform of 1280 channels
     * took 3.8-4.5 ms at 256x256, 2.9 ms in channel groups, and SD 1.5's 3x3 layers, in sums of their fastest calls,
     * 571-585 ms a UNet call at 256x256 against 501-508 ms in channel groups, 2160-2190 against 1581-1627 ms at
     * 512x512 (2026-12-07, Zen 4 class, two threads; before the transforms took bands of tile rows).
     */
    static int channelsPerTask(int channels, int threads) {
        int tasks = Math.min(channels, TRANSFORM_TASKS_PER_THREAD * threads);
        return (channels + tasks - 1) / tasks;
    }

    /**
     * V = B^T d B for the tiles of a band of {@code bandRows} consecutive tile rows of the chunk (chunk row {@code local},
     * row {@code row} of the whole batch, and those after it), channels [c0, c1), written into the packed B operands
     * (one per position xi). Lanes are the band's tiles, row after row. Each input row is split into m phase arrays,
     * P_k[t] = row[m t + k - left], so that element c of tile t is P_c[t] for c below m and P_{c - m}[t + 1] past it,
     * which is kept as a second array shifted by one tile, taken before the band's next row overwrites the element
     * past this row's last tile; every load is then contiguous.
     */
    private static void inputTransform(WinogradTile tile, MemorySegment x, ConvKernels.Geometry g, long imageIn, int tilesY,
                                       int row, int local, int bandRows, int tilesX, int c0, int c1, float[] v, int sizeB) {
        int out = tile.out, in = tile.in, past = in - out;
        WinogradTransforms transforms = tile.transforms;
        int width = bandRows * tilesX;
        // Phases are produced a vector of tiles at a time, so a row's split covers whole groups of m L floats and
        // writes past its tiles (a tile reaches n - m = 2 elements into the next), into the next row's place or the padding.
        int phaseTiles = (tilesX + 2 + L - 1) / L * L;
        int stride = width - tilesX + phaseTiles + 2 * L;
        int shifted = in * out * stride;
        Scratch s = SCRATCH.get();
        float[] phase = s.floats(0, shifted + in * past * stride);
        java.util.Arrays.fill(phase, 0, shifted + in * past * stride, 0f); // lanes past the band's tiles stay finite
        int lineLength = out * phaseTiles;
        float[] line = s.floats(3, lineLength);
        java.util.Arrays.fill(line, 0, lineLength, 0f);
        int h = g.h(), w = g.w(), left = g.pad().left(), top = g.pad().top();
        float[] tmp = s.floats(1, in * in * L);
        float[] col = s.floats(2, in * L);
        int[] at = s.at;
        for (int ci = c0; ci < c1; ci++) {
            for (int j = 0; j < bandRows; j++) {
                int ty = (row + j) % tilesY;
                long plane = (row + j) / tilesY * imageIn + (long) ci * h * w;
                for (int r = 0; r < in; r++) {
                    // The row, with its left padding, as a zero-extended array (zero above and below the image).
                    int iy = out * ty - top + r;
                    if (iy >= 0 && iy < h) {
                        MemorySegment.copy(x, FLOAT, 4 * (plane + (long) iy * w), line, left, w);
                    } else {
                        java.util.Arrays.fill(line, left, left + w, 0f);
                    }
                    int p0 = r * out * stride + j * tilesX;
                    for (int t = 0; t < phaseTiles; t += L) {
                        transforms.splitPhases(line, out * t, phase, p0 + t, stride);
                    }
                    for (int k = 0; k < past; k++) {
                        int from = p0 + k * stride + 1, to = shifted + (r * past + k) * stride + j * tilesX;
                        for (int t = 0; t < tilesX; t += L) {
                            FloatVector.fromArray(F, phase, from + t).intoArray(phase, to + t);
                        }
                    }
                }
            }
            for (int t0 = 0; t0 < width; t0 += L) {
                int count = Math.min(L, width - t0);
                for (int r = 0; r < in; r++) {
                    for (int c = 0; c < in; c++) {
                        at[c] = c < out ? (r * out + c) * stride + t0 : shifted + (r * past + c - out) * stride + t0;
                    }
                    transforms.transformInput(phase, at, tmp, r * in * L, L);
                }
                for (int c = 0; c < in; c++) {
                    for (int r = 0; r < in; r++) {
                        at[r] = c * L + r * in * L;
                    }
                    transforms.transformInput(tmp, at, col, 0, L);
                    for (int r = 0; r < in; r++) {
                        storeTiles(col, r * L, count, v, (r * in + c) * sizeB, ci, local * tilesX + t0, g.cin());
                    }
                }
            }
        }
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
     * Y = A^T M A for the tiles of a band of {@code bandRows} tile rows (as {@link #inputTransform}), output channels
     * [c0, c1), plus bias; each channel's m output rows of the band's tile rows are assembled side by side (tiles
     * interleaved) and written once, with the residual added.
     */
    private static void outputTransform(WinogradTile tile, MemorySegment m, int tiles, ConvKernels.Geometry g, int tilesY, int row,
                                        int local, int bandRows, int tilesX, int c0, int c1, float[] bias, MemorySegment out,
                                        MemorySegment residual, long imageOut) {
        int size = tile.out, in = tile.in;
        WinogradTransforms transforms = tile.transforms;
        int wo = g.wo(), ho = g.ho();
        int cout = g.cout();
        int width = bandRows * tilesX;
        Scratch s = SCRATCH.get();
        int rowLength = size * ((width + L - 1) / L * L);
        float[] rows = s.floats(0, size * rowLength);
        float[] tmp = s.floats(1, size * in * L);
        long xiStride = (long) cout * tiles;
        for (int co = c0; co < c1; co++) {
            float b = bias == null ? 0f : bias[co];
            for (int t0 = 0; t0 < width; t0 += L) {
                long first = (long) co * tiles + (long) local * tilesX + t0;
                for (int c = 0; c < in; c++) {
                    transforms.transformOutput(m, first + c * xiStride, in * xiStride, tmp, c * L, in * L);
                }
                for (int i = 0; i < size; i++) {
                    transforms.transformOutputRow(tmp, i * in * L, b, rows, i * rowLength + size * t0);
                }
            }
            for (int j = 0; j < bandRows; j++) {
                int ty = (row + j) % tilesY;
                long plane = (row + j) / tilesY * imageOut + (long) co * ho * wo;
                for (int i = 0; i < size; i++) {
                    int oy = size * ty + i;
                    if (oy >= ho) {
                        break;
                    }
                    writeRow(rows, i * rowLength + j * size * tilesX, out, residual, plane + (long) oy * wo, wo);
                }
            }
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
}
