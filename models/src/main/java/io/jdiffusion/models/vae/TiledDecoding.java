package io.jdiffusion.models.vae;

import java.util.ArrayList;
import java.util.List;
import java.util.function.LongSupplier;

/**
 * Decoding large latents tile by tile, as diffusers' {@code AutoencoderKL.enable_tiling()}: square latent
 * tiles of the VAE's own sample size (64 latents for SD 1.5's 512-pixel VAE) that overlap by a quarter of
 * a tile, each decoded on its own and blended into the image with linear ramps across the overlaps. The
 * decoder's activation memory is then that of one tile, whatever the image size.
 *
 * <p>Two differences from diffusers, both for memory: every tile has the full tile size (the last tile of
 * a row or column is moved back to end at the edge instead of being cut short), so one compiled decoder
 * serves all tiles; and the tiles are blended by normalised weights (each pixel the weighted mean of the
 * tiles covering it, the weight ramping from the tile's edge over the nominal overlap on sides that have
 * a neighbour) instead of diffusers' crop-and-blend, which needs the nominal overlap everywhere. As in
 * diffusers, each tile's GroupNorm statistics are its own, so a tiled image differs a little from an
 * untiled one (the test holds the tiny model to a stated tolerance).
 */
public final class TiledDecoding {
    /** Decodes one latent tile [channels, tileH, tileW] to its image [3, tileH * f, tileW * f]. */
    @FunctionalInterface
    public interface TileDecoder {
        float[] decode(float[] latentTile, int tileH, int tileW);
    }

    private final int tile;
    private final int factor;

    /** Tiles of {@code tileLatents} latents (the VAE's sample size / its downscale factor) for a VAE of downscale factor {@code factor}. */
    public TiledDecoding(int tileLatents, int factor) {
        if (tileLatents < 4 || factor < 1) {
            throw new IllegalArgumentException("VAE tiles need at least 4 latents and a positive factor, got " + tileLatents + ", " + factor);
        }
        this.tile = tileLatents;
        this.factor = factor;
    }

    /**
     * Whether {@code auto} tiling takes a latent of h x w: when the image holds more than twice a tile's
     * pixels (for SD 1.5, above about 724x724, so 768x768 and up; 512x512 decodes whole).
     */
    boolean worthTiling(int latentH, int latentW) {
        return (long) latentH * latentW > 2L * tile * tile;
    }

    /**
     * Whether {@code auto} tiling decodes a latent of h x w in tiles: where {@link #worthTiling} says so, unless the
     * backend has device memory of its own ({@code deviceMemory} bytes, 0 for host memory) and the whole image's
     * decoder activations ({@code wholeDecoderBytes}, asked only then) take at most a quarter of it. Tiling exists
     * to bound memory and costs time (the overlaps are decoded twice or four times: 9 tiles of 64 latents for a
     * 128 x 128 latent, 2.25 times the pixels); a GPU with room decodes whole, as diffusers does by default.
     */
    public boolean autoTiles(int latentH, int latentW, long deviceMemory, LongSupplier wholeDecoderBytes) {
        if (!worthTiling(latentH, latentW)) {
            return false;
        }
        return deviceMemory <= 0 || wholeDecoderBytes.getAsLong() > deviceMemory / 4;
    }

    /** The tile size along an axis of {@code length} latents: the tile, or the whole axis when it is shorter. */
    int tileSize(int length) {
        return Math.min(tile, length);
    }

    /** Tile starts along an axis of {@code length} latents: a quarter-tile overlap, the last tile ending at the edge. */
    List<Integer> starts(int length) {
        List<Integer> s = new ArrayList<>();
        if (length <= tile) {
            s.add(0);
            return s;
        }
        int stride = tile - tile / 4;
        for (int start = 0; start + tile < length; start += stride) {
            s.add(start);
        }
        s.add(length - tile);
        return s;
    }

    /**
     * Decodes {@code latents} [channels, h, w] (already divided by the scaling factor) tile by tile into an
     * image [3, h * f, w * f].
     */
    public float[] decode(float[] latents, int channels, int h, int w, TileDecoder decoder) {
        int th = tileSize(h), tw = tileSize(w);
        int outH = h * factor, outW = w * factor;
        float[] sum = new float[3 * outH * outW];
        float[] weights = new float[outH * outW];
        float[] tileLatents = new float[channels * th * tw];
        int ramp = tile / 4 * factor;
        List<Integer> ys = starts(h), xs = starts(w);
        for (int iy = 0; iy < ys.size(); iy++) {
            for (int ix = 0; ix < xs.size(); ix++) {
                int y0 = ys.get(iy), x0 = xs.get(ix);
                for (int c = 0; c < channels; c++) {
                    for (int y = 0; y < th; y++) {
                        System.arraycopy(latents, (c * h + y0 + y) * w + x0, tileLatents, (c * th + y) * tw, tw);
                    }
                }
                float[] image = decoder.decode(tileLatents, th, tw);
                int ph = th * factor, pw = tw * factor;
                if (image.length != 3 * ph * pw) {
                    throw new IllegalStateException("a VAE tile decoded to " + image.length + " values, expected 3 x " + ph + " x " + pw);
                }
                float[] wy = ramp(ph, iy > 0, iy < ys.size() - 1, ramp);
                float[] wx = ramp(pw, ix > 0, ix < xs.size() - 1, ramp);
                int py0 = y0 * factor, px0 = x0 * factor;
                for (int y = 0; y < ph; y++) {
                    int row = (py0 + y) * outW + px0;
                    for (int x = 0; x < pw; x++) {
                        float wgt = wy[y] * wx[x];
                        weights[row + x] += wgt;
                        for (int c = 0; c < 3; c++) {
                            sum[c * outH * outW + row + x] += wgt * image[(c * ph + y) * pw + x];
                        }
                    }
                }
            }
        }
        for (int c = 0; c < 3; c++) {
            for (int i = 0; i < outH * outW; i++) {
                sum[c * outH * outW + i] /= weights[i];
            }
        }
        return sum;
    }

    /**
     * Weights along one axis of a tile of {@code size} pixels: 1, ramping linearly down towards an edge that
     * has a neighbouring tile over {@code ramp} pixels (never 0, so every pixel keeps a positive weight).
     */
    static float[] ramp(int size, boolean low, boolean high, int ramp) {
        float[] w = new float[size];
        for (int i = 0; i < size; i++) {
            float v = 1f;
            if (low) {
                v = Math.min(v, (i + 0.5f) / ramp);
            }
            if (high) {
                v = Math.min(v, (size - i - 0.5f) / ramp);
            }
            w[i] = v;
        }
        return w;
    }
}
