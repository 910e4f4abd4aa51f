package io.jdiffusion.models.weights;

/**
 * Where a diffusers-named weight is stored: a stored tensor name, optionally only rows {@code [fromRow, toRow)}
 * of it (OpenCLIP stores q, k and v stacked in one {@code in_proj_weight}).
 */
public record StoredKey(String name, long fromRow, long toRow) {
    public static StoredKey whole(String name) {
        return new StoredKey(name, -1, -1);
    }

    public boolean isSlice() {
        return fromRow >= 0;
    }
}
