package io.jdiffusion.cpu;

import io.jdiffusion.backend.graph.Activation;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;

import java.lang.foreign.MemorySegment;

import static io.jdiffusion.cpu.CpuVectors.F;
import static io.jdiffusion.cpu.CpuVectors.L;
import static io.jdiffusion.cpu.CpuVectors.ORDER;

/**
 * Where a GEMM's tiles go and what is fused on the way: out[base + row * rowStride + col] =
 * act(tile + bias) + residual[...], written once. Bias is per output column (linear layers) or per row
 * (convolutions, whose rows are output channels). With {@link Activation#GEGLU} each B panel holds the h
 * and the gate of the same L output columns in its two vectors, and the stored value is h * gelu(gate);
 * the bias then has 2n entries, the gate's starting at {@code n}. The bias is a heap copy; per-column
 * biases are padded ({@link #padColumnBias}) so whole tile rows can be read.
 */
final class GemmOutput {
    private final MemorySegment out;
    private final long base;
    private final long rowStride;
    private final float[] bias;
    private final boolean biasPerRow;
    private final long gateBiasOffset;
    private final Activation act;
    private final MemorySegment residual;
    /** With columns from several images ({@link #ofImages}): panels per image (0: one plain matrix), and so on. */
    private final int panelsPerImage;
    private final int columnsPerImage;
    private final long imageStride;
    private final int firstPanel;
    /** Images sharing one panel ({@link #ofSmallImages}), their columns side by side; 0 otherwise. */
    private final int imagesPerPanel;
    /** The batch's images, where {@link #imagesPerPanel} is set: the last panel's slots past it are padding. */
    private final int images;

    GemmOutput(MemorySegment out, long base, long rowStride, float[] bias, boolean biasPerRow,
               long gateBiasOffset, Activation act, MemorySegment residual) {
        this(out, base, rowStride, bias, biasPerRow, gateBiasOffset, act, residual, 0, 0, 0, 0, 0, 0);
    }

    private GemmOutput(MemorySegment out, long base, long rowStride, float[] bias, boolean biasPerRow,
                       long gateBiasOffset, Activation act, MemorySegment residual,
                       int panelsPerImage, int columnsPerImage, long imageStride, int firstPanel, int imagesPerPanel, int images) {
        this.imagesPerPanel = imagesPerPanel;
        this.images = images;
        this.panelsPerImage = panelsPerImage;
        this.columnsPerImage = columnsPerImage;
        this.imageStride = imageStride;
        this.firstPanel = firstPanel;
        this.out = out;
        this.base = base;
        this.rowStride = rowStride;
        this.bias = bias;
        this.biasPerRow = biasPerRow;
        this.gateBiasOffset = gateBiasOffset;
        this.act = act;
        this.residual = residual;
    }

    /**
     * A convolution's output [batch, rows, pixels] whose GEMM columns are the pixels of every image, each
     * image padded to whole panels: GEMM column 0 is B panel {@code firstPanel} of that layout (a chunk's
     * first), image i starts at element i * imageStride. Bias per row (output channel), no activation.
     */
    static GemmOutput ofImages(MemorySegment out, int pixels, long imageStride, int firstPanel, float[] bias,
                               MemorySegment residual) {
        return new GemmOutput(out, 0, pixels, bias, true, 0, Activation.NONE, residual, Gemm.panelsB(pixels), pixels,
                imageStride, firstPanel, 0, 0);
    }

    /**
     * A convolution's output [images, rows, pixels] whose images are smaller than a panel: each panel holds
     * {@code imagesPerPanel} = NR / pixels whole images side by side, GEMM column 0 being panel {@code firstPanel}.
     */
    static GemmOutput ofSmallImages(MemorySegment out, int pixels, long imageStride, int firstPanel, int imagesPerPanel, int images,
                                    float[] bias, MemorySegment residual) {
        if (imagesPerPanel < 2 || imagesPerPanel * pixels != Gemm.NR) {
            throw new IllegalArgumentException(imagesPerPanel + " images of " + pixels + " pixels do not fill a panel of " + Gemm.NR);
        }
        return new GemmOutput(out, 0, pixels, bias, true, 0, Activation.NONE, residual, 0, pixels, imageStride, firstPanel,
                imagesPerPanel, images);
    }

    int columnsPerPanel() {
        return act == Activation.GEGLU ? L : Gemm.NR;
    }

    /**
     * The epilogue of one register tile, its rows written once: act(tile + bias) + residual. Without an activation
     * the bias is added on the way out, in the same pass as the write; an activation is applied in the tile array
     * first (after the bias), by {@link FusedActivation}'s loops over the whole tile. Vectors stay inside small
     * loops and never cross a method boundary or sit in a variable that may be null, either of which would make the
     * JIT box them. A tile's rows are written by one loop ({@link #write}): a bias pass and then a call per row took
     * 7-9% of a single thread's block time (A 144 x 320, B 320 x 2560, Zen 5), the one loop 3-5%.
     */
    void store(float[] tile, int row0, int rows, int col0, int cols) {
        float[] columnBias = biasPerRow ? null : bias;
        float[] rowBias = biasPerRow ? bias : null;
        if (act == Activation.GEGLU) {
            FusedActivation.geglu(tile, rows, Gemm.NR, bias, col0, (int) gateBiasOffset + col0);
            columnBias = null;
        } else if (act != Activation.NONE) {
            if (bias != null) {
                for (int r = 0; r < rows; r++) {
                    add(tile, r * Gemm.NR, rowBias == null ? 0f : rowBias[row0 + r], columnBias, col0);
                }
            }
            FusedActivation.apply(act, tile, rows * Gemm.NR);
            columnBias = null;
            rowBias = null;
        }
        if (imagesPerPanel > 0) {
            // a tile is one whole panel here: its images' columns go each to their own image
            int first = (firstPanel + col0 / Gemm.NR) * imagesPerPanel;
            for (int s = 0; s < imagesPerPanel && first + s < images; s++) {
                write(tile, s * columnsPerImage, rows, (first + s) * imageStride + (long) row0 * rowStride, columnsPerImage,
                        rowBias, row0, null, 0);
            }
            return;
        }
        long o = base + col0;
        int n = cols;
        if (panelsPerImage > 0) {
            int panel = firstPanel + col0 / Gemm.NR;
            int within = (panel % panelsPerImage) * Gemm.NR + col0 % Gemm.NR;
            o = base + panel / panelsPerImage * imageStride + within;
            n = Math.min(cols, columnsPerImage - within);
        }
        write(tile, 0, rows, o + (long) row0 * rowStride, n, rowBias, row0, columnBias, col0);
    }

    /** tile[t, t + NR) += rowBias + columnBias[col0, col0 + NR) (no column bias where it is null). */
    private static void add(float[] tile, int t, float rowBias, float[] columnBias, int col0) {
        for (int i = 0; i < Gemm.NR; i += L) {
            FloatVector x = FloatVector.fromArray(F, tile, t + i).add(rowBias);
            if (columnBias != null) {
                x = x.add(FloatVector.fromArray(F, columnBias, col0 + i));
            }
            x.intoArray(tile, t + i);
        }
    }

    /**
     * For each of {@code rows} tile rows r (tile stride NR, output stride rowStride, the first at tile[t] and out[o]):
     * out[o + r rowStride, + cols) = tile[t + r NR, + cols) + rowBias[row0 + r] + columnBias[col0, ...) (+ residual), no
     * row bias where rowBias is null, no column bias where columnBias is. One loop over the rows, not a call per row.
     * Per-column bias arrays are padded by NR ({@link #padColumnBias}), so whole vectors of them can be read past cols.
     */
    private void write(float[] tile, int t, int rows, long o, int cols, float[] rowBias, int row0, float[] columnBias, int col0) {
        for (int r = 0; r < rows; r++, t += Gemm.NR, o += rowStride) {
            float b = rowBias == null ? 0f : rowBias[row0 + r];
            int v = 0;
            for (; v + L <= cols; v += L) {
                long bytes = 4L * (o + v);
                FloatVector x = FloatVector.fromArray(F, tile, t + v).add(b);
                if (columnBias != null) {
                    x = x.add(FloatVector.fromArray(F, columnBias, col0 + v));
                }
                if (residual != null) {
                    x = x.add(FloatVector.fromMemorySegment(F, residual, bytes, ORDER));
                }
                x.intoMemorySegment(out, bytes, ORDER);
            }
            if (v < cols) {
                long bytes = 4L * (o + v);
                VectorMask<Float> m = F.indexInRange(v, cols);
                FloatVector x = FloatVector.fromArray(F, tile, t + v).add(b);
                if (columnBias != null) {
                    x = x.add(FloatVector.fromArray(F, columnBias, col0 + v));
                }
                if (residual != null) {
                    x = x.add(FloatVector.fromMemorySegment(F, residual, bytes, ORDER, m));
                }
                x.intoMemorySegment(out, bytes, ORDER, m);
            }
        }
    }

    /** A per-column bias padded by NR floats, as {@link #store} reads whole tile rows of it. */
    static float[] padColumnBias(float[] bias) {
        return bias == null ? null : java.util.Arrays.copyOf(bias, bias.length + Gemm.NR);
    }
}
