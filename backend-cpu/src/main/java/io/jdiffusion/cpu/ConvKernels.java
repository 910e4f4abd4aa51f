package io.jdiffusion.cpu;

import io.jdiffusion.backend.graph.Activation;
import io.jdiffusion.backend.graph.Op;
import io.jdiffusion.backend.graph.Padding;
import io.jdiffusion.backend.graph.Value;
import io.jdiffusion.core.DType;
import io.jdiffusion.core.Tensor;
import jdk.incubator.vector.FloatVector;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

import static io.jdiffusion.cpu.CpuVectors.F;
import static io.jdiffusion.cpu.CpuVectors.FLOAT;
import static io.jdiffusion.cpu.CpuVectors.L;
import static io.jdiffusion.cpu.CpuVectors.ORDER;
import static io.jdiffusion.cpu.Gemm.NR;

/**
 * Convolutions as GEMMs with the weights as the packed A operand [Cout, Cin*kh*kw] (packed once) and the
 * image as B: a 1x1 stride-1 convolution reads the image rows directly; any other kernel packs im2col
 * panels straight from the image (no im2col matrix is materialised). Bias and residual are fused into
 * the output write.
 */
final class ConvKernels {
    /** packIm2col's runs of a panel along output rows, per thread: run r is (start, row, column, length) from 4 r. */
    private static final ThreadScratch RUNS = new ThreadScratch();
    /** The padded channel planes of the small images a task packs ({@link #packSmallImages}). */
    private static final ThreadScratch SMALL_IMAGE = new ThreadScratch();

    private ConvKernels() {
    }

    /** Shapes of one convolution, for kernels and benchmarks. */
    record Geometry(int batch, int cin, int h, int w, int cout, int kh, int kw, int stride, Padding pad, int ho, int wo) {
        static Geometry of(Op.Conv2d op) {
            var xs = op.x().shape();
            var ws = op.weight().shape();
            var os = op.out().shape();
            return new Geometry(xs.size(0), xs.size(1), xs.size(2), xs.size(3), ws.size(0), ws.size(2), ws.size(3),
                    op.stride(), op.padding(), os.size(2), os.size(3));
        }

        boolean pointwise() {
            return kh == 1 && kw == 1 && stride == 1 && pad.top() == 0 && pad.bottom() == 0 && pad.left() == 0 && pad.right() == 0;
        }

        int depth() {
            return cin * kh * kw;
        }
    }

    static Kernel compile(Op.Conv2d op, CompileContext ctx) {
        Geometry g = Geometry.of(op);
        WinogradTile tile = ctx.winograd.tile(op);
        return tile != null ? WinogradConv.compile(op, g, tile, ctx)
                : FewOutputsConv.applies(g) ? FewOutputsConv.compile(op, g, ctx)
                : im2col(op, g, ctx);
    }

    /**
     * A convolution's weights as the packed GEMM A operand [Cout, Cin*kh*kw] (packed once where they are a constant,
     * else at every run), its bias and its residual, for a run's buffers.
     */
    record Weights(Op.Conv2d op, Geometry g, PackedWeights fixed, float[] fixedBias) {
        static Weights of(Op.Conv2d op, Geometry g, CompileContext ctx) {
            int depth = g.depth();
            PackedWeights fixed = op.weight().kind() != Value.Kind.CONSTANT ? null
                    : ctx.weights(op.weight(), WeightForm.Kind.CONV_A, g.cout(), depth, false, Packing.sizeA(g.cout(), depth),
                            dst -> Packing.packAFromWeights(op.weight().constant(), g.cout(), depth, dst));
            return new Weights(op, g, fixed, ctx.constantFloats(op.bias()));
        }

        PackedWeights a(MemorySegment[] buffers) {
            return fixed != null ? fixed
                    : Packing.packAFromWeights(Tensor.view(buffers[op.weight().id()], op.weight().shape(), DType.F32), g.cout(),
                    g.depth(), PackedWeights.ofArray(new float[Math.toIntExact(Packing.sizeA(g.cout(), g.depth()))]));
        }

        float[] bias(MemorySegment[] buffers) {
            return op.bias() == null ? null : fixedBias != null ? fixedBias
                    : Packing.toArray(buffers[op.bias().id()], op.bias().shape().size(0));
        }

        MemorySegment residual(MemorySegment[] buffers) {
            return op.residual() == null ? null : buffers[op.residual().id()];
        }
    }

    /** The im2col (or direct 1x1) GEMM path; works for every kernel size, stride and padding. */
    static Kernel im2col(Op.Conv2d op, Geometry g, CompileContext ctx) {
        int depth = g.depth();
        Weights weights = Weights.of(op, g, ctx);
        int x = op.x().id(), out = op.out().id();
        WorkerPool pool = ctx.pool;
        Workspace ws = ctx.workspace;
        int pixels = g.ho() * g.wo();
        // B holds the panels of every image of the batch, one after the other (each image's pixels padded to
        // whole panels), so each staged weight block is reused across all of them: a 4x4 image is a single
        // panel, and one GEMM per image would stream the weights from memory once per image.
        int panels = Gemm.panelsB(pixels);
        // Images smaller than a panel share panels, side by side: with AVX-512's 32-column panels a 4x4 image
        // padded to a panel of its own left half of every multiply-add on padding (the UNet's 4x4 level at
        // 256x256 took 2x ONNX Runtime's time, docs/PERFORMANCE.md).
        int perPanel = pixels < NR && NR % pixels == 0 && g.batch() > 1 ? NR / pixels : 1;
        int allPanels = perPanel > 1 ? (g.batch() + perPanel - 1) / perPanel : g.batch() * panels;
        // B is packed and multiplied in chunks of panels, so a large image never needs its whole im2col matrix.
        int chunkPanels = (int) Math.max(1, Math.min(allPanels, ctx.options.winogradChunkFloats() / ((long) depth * NR)));
        long imageIn = (long) g.cin() * g.h() * g.w();
        long imageOut = (long) g.cout() * pixels;
        boolean packInTasks = perPanel == 1 && packsBInTasks(depth, allPanels, pool.threads());
        return buffers -> {
            PackedWeights a = weights.a(buffers);
            float[] biasArr = weights.bias(buffers);
            MemorySegment resSeg = weights.residual(buffers);
            if (packInTasks) {
                MemorySegment xs = buffers[x];
                Gemm.multiply(a, g.cout(), (first, end, dst) -> packImages(xs, imageIn, g, first, end, dst, null),
                        allPanels, allPanels * NR, depth, GemmOutput.ofImages(buffers[out], pixels, imageOut, 0, biasArr, resSeg), pool);
                return;
            }
            float[] b = ws.get(Workspace.Slot.PACK_B, (long) chunkPanels * depth * NR);
            for (int q0 = 0; q0 < allPanels; q0 += chunkPanels) {
                int q1 = Math.min(allPanels, q0 + chunkPanels);
                if (perPanel > 1) {
                    for (int q = q0; q < q1; q++) {
                        packSmallImages(buffers[x], imageIn, g, q * perPanel, Math.min(g.batch(), (q + 1) * perPanel), b,
                                (q - q0) * depth * NR, pool);
                    }
                    GemmOutput target = GemmOutput.ofSmallImages(buffers[out], pixels, imageOut, q0, perPanel, g.batch(), biasArr, resSeg);
                    Gemm.multiply(a, 0, g.cout(), b, 0, q1 - q0, (q1 - q0) * NR, depth, target, pool);
                    continue;
                }
                packImages(buffers[x], imageIn, g, q0, q1, b, pool);
                GemmOutput target = GemmOutput.ofImages(buffers[out], pixels, imageOut, q0, biasArr, resSeg);
                Gemm.multiply(a, 0, g.cout(), b, 0, q1 - q0, (q1 - q0) * NR, depth, target, pool);
            }
        };
    }

    /**
     * Whether a GEMM's tasks pack their own blocks of B ({@link Gemm#multiply(PackedWeights, int, Gemm.PanelSource, int,
     * int, int, GemmOutput, WorkerPool)}) rather than all threads packing a chunk of B before the multiply. Those tasks
     * split only B, and each reads all of A once per block it packs: every thread needs a full block, and a block must
     * span two panels or more, so each weight read serves 64 columns or more (at one panel the deepest layers, 8x8 at
     * 2560 channels, would read their weights from memory for every 32 columns). The deep layers of one panel's block
     * and small batches of small images keep the chunked path, where the threads share one packed B and split A.
     */
    static boolean packsBInTasks(int k, int bPanels, int threads) {
        int block = Gemm.bBlockPanels(k);
        return block >= 2 && bPanels >= threads * block;
    }

    /**
     * B panels [q0, q1) of the batch's images (each image padded to whole panels, panel q of the batch being panel
     * q % panels of image q / panels) into dst from offset 0: the image rows of a 1x1 convolution, else its im2col.
     * Spread over the pool's threads, or in the calling thread where {@code pool} is null (a GEMM task's own block).
     */
    private static void packImages(MemorySegment x, long imageIn, Geometry g, int q0, int q1, float[] dst, WorkerPool pool) {
        int pixels = g.ho() * g.wo();
        int panels = Gemm.panelsB(pixels);
        for (int n = q0 / panels; n < g.batch() && n * panels < q1; n++) {
            // this image's panels [p0, p1) within [q0, q1)
            int p0 = Math.max(q0, n * panels) - n * panels, p1 = Math.min(q1, (n + 1) * panels) - n * panels;
            int at = (n * panels + p0 - q0) * g.depth() * NR;
            long base = n * imageIn;
            if (g.pointwise()) {
                int col0 = p0 * NR, cols = Math.min(pixels, p1 * NR) - col0;
                if (pool == null) {
                    Packing.packBRows(x, base + col0, g.cin(), cols, pixels, 0, p1 - p0, dst, at);
                } else {
                    Packing.packBRows(x, base + col0, g.cin(), cols, pixels, dst, at, pool);
                }
            } else if (pool == null) {
                packIm2col(x, base, g, p0, p1, dst, at);
            } else {
                packIm2col(x, base, g, p0, p1, dst, at, pool);
            }
        }
    }

    /**
     * One panel holding images [first, end), each smaller than a panel, side by side: image first + s in columns
     * [s * pixels, (s + 1) * pixels) of every row, the columns past the last image zero. Tasks take ranges of input
     * channels, so no two write the same rows. Each image's padded channel plane is copied once into the task's scratch,
     * and the panel's kh * kw rows of that channel are read from it element by element. Packing them in runs along output
     * rows instead, a few floats a call, one image after another and on one thread, took 1.3 of the 5.7 ms of the UNet's 4x4
     * level's 3x3 layers at 256x256 (2026-12-07, Zen 4 class, two threads).
     */
    private static void packSmallImages(MemorySegment x, long imageIn, Geometry g, int first, int end, float[] dst, int dstOffset,
                                        WorkerPool pool) {
        pool.forRange(g.cin(), 4, (c0, c1) -> packSmallImages(x, imageIn, g, first, end, (int) c0, (int) c1, dst, dstOffset));
    }

    /** The same for input channels [c0, c1), in the calling thread. */
    private static void packSmallImages(MemorySegment x, long imageIn, Geometry g, int first, int end, int c0, int c1, float[] dst,
                                        int dstOffset) {
        int s = g.stride(), kh = g.kh(), kw = g.kw(), ho = g.ho(), wo = g.wo(), h = g.h(), w = g.w();
        int top = g.pad().top(), left = g.pad().left();
        int pixels = ho * wo;
        // The padded plane covers every input position an output reads: (ho - 1) s + kh rows of (wo - 1) s + kw.
        int ph = (ho - 1) * s + kh, pw = (wo - 1) * s + kw;
        int y0 = Math.max(0, top), y1 = Math.min(ph, top + h), x0 = Math.max(0, left), x1 = Math.min(pw, left + w);
        int images = end - first;
        float[] plane = SMALL_IMAGE.floats(images * ph * pw);
        // Zero once: positions outside the image are never written, those inside are by every channel.
        Arrays.fill(plane, 0, images * ph * pw, 0f);
        for (int ci = c0; ci < c1; ci++) {
            for (int n = 0; n < images; n++) {
                long in = (first + n) * imageIn + (long) ci * h * w;
                for (int py = y0; py < y1; py++) {
                    MemorySegment.copy(x, FLOAT, 4 * (in + (long) (py - top) * w + x0 - left), plane, (n * ph + py) * pw + x0,
                            x1 - x0);
                }
            }
            int d = dstOffset + ci * kh * kw * NR;
            for (int ky = 0; ky < kh; ky++) {
                for (int kx = 0; kx < kw; kx++, d += NR) {
                    for (int n = 0; n < images; n++) {
                        int o = d + n * pixels, p = n * ph * pw + ky * pw + kx;
                        for (int oy = 0; oy < ho; oy++, p += s * pw) {
                            for (int ox = 0; ox < wo; ox++) {
                                dst[o++] = plane[p + ox * s];
                            }
                        }
                    }
                    Arrays.fill(dst, d + images * pixels, d + NR, 0f);
                }
            }
        }
    }

    /**
     * NR floats from element {@code src} to dst[o]: two vector moves. A method of its own, so the JIT
     * compiles its Vector API calls to instructions whatever it decides about inlining the large caller.
     */
    private static void copyPanelRow(MemorySegment x, long src, float[] dst, int o) {
        FloatVector.fromMemorySegment(F, x, 4 * src, ORDER).intoArray(dst, o);
        FloatVector.fromMemorySegment(F, x, 4 * (src + L), ORDER).intoArray(dst, o + L);
    }

    /**
     * Packs panels [firstPanel, endPanel) of B[(ci, ky, kx)][(oy, ox)] = x[ci][oy*s + ky - top][ox*s + kx - left]
     * (zero outside the image) into NR-column panels, panel firstPanel at dst[dstOffset]. A panel's pixels fall into at most a few runs along
     * output rows; with stride 1 each run reads one contiguous stretch of an input row (copied in bulk, the
     * parts hanging over the padding zeroed), with larger strides it is gathered element by element.
     */
    static void packIm2col(MemorySegment x, long base, Geometry g, int firstPanel, int endPanel, float[] dst, int dstOffset,
                           WorkerPool pool) {
        int panelSize = g.depth() * NR;
        pool.forRange(endPanel - firstPanel, 4, (from, to) -> packIm2col(x, base, g, firstPanel + (int) from, firstPanel + (int) to,
                dst, dstOffset + (int) from * panelSize));
    }

    /** The same in the calling thread (a GEMM task packing its own block of B). */
    static void packIm2col(MemorySegment x, long base, Geometry g, int firstPanel, int endPanel, float[] dst, int dstOffset) {
        int pixels = g.ho() * g.wo();
        int depth = g.depth();
        int s = g.stride(), top = g.pad().top(), left = g.pad().left();
        int h = g.h(), w = g.w(), wo = g.wo();
        int[] run = RUNS.ints(4 * NR);
        for (int p = 0; p < endPanel - firstPanel; p++) {
            int c0 = (firstPanel + p) * NR;
            int cols = Math.min(NR, pixels - c0);
            int runs = 0;
            for (int j = 0; j < cols; runs++) {
                int pix = c0 + j, ox = pix % wo, length = Math.min(cols - j, wo - ox);
                run[4 * runs] = j;
                run[4 * runs + 1] = pix / wo;
                run[4 * runs + 2] = ox;
                run[4 * runs + 3] = length;
                j += length;
            }
            int d = dstOffset + p * depth * NR;
            for (int ci = 0; ci < g.cin(); ci++) {
                long plane = base + (long) ci * h * w;
                for (int ky = 0; ky < g.kh(); ky++) {
                    for (int kx = 0; kx < g.kw(); kx++, d += NR) {
                        for (int r = 0; r < runs; r++) {
                            int o = d + run[4 * r], len = run[4 * r + 3];
                            int iy = run[4 * r + 1] * s + ky - top;
                            if (iy < 0 || iy >= h) {
                                Arrays.fill(dst, o, o + len, 0f);
                                continue;
                            }
                            long row = plane + (long) iy * w;
                            int ix0 = run[4 * r + 2] * s + kx - left;
                            if (s == 1 && len == NR && ix0 >= 0 && ix0 + NR <= w) {
                                copyPanelRow(x, row + ix0, dst, o); // a whole panel inside the image
                            } else if (s == 1) {
                                int lo = Math.max(0, -ix0), hi = Math.min(len, w - ix0);
                                if (hi <= lo) {
                                    Arrays.fill(dst, o, o + len, 0f);
                                    continue;
                                }
                                Arrays.fill(dst, o, o + lo, 0f);
                                MemorySegment.copy(x, FLOAT, 4 * (row + ix0 + lo), dst, o + lo, hi - lo);
                                Arrays.fill(dst, o + hi, o + len, 0f);
                            } else {
                                for (int e = 0, ix = ix0; e < len; e++, ix += s) {
                                    dst[o + e] = ix >= 0 && ix < w ? x.getAtIndex(FLOAT, row + ix) : 0f;
                                }
                            }
                        }
                        if (cols < NR) {
                            Arrays.fill(dst, d + cols, d + NR, 0f);
                        }
                    }
                }
            }
        }
    }
}
