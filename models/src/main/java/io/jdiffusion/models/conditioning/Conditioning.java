package io.jdiffusion.models.conditioning;

import io.jdiffusion.backend.DeviceTensor;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What the UNet is conditioned on for one request, already on the device: the cross-attention context
 * [batch, tokens, dim] (batch 2 = [negative, prompt] under classifier-free guidance), the pooled text
 * embedding where the model has one, and the UNet's added inputs by graph-input name in the order the UNet
 * takes them (SDXL: {@code text_embeds}, {@code time_ids}; none for SD 1.x/2.x). Closing it frees all of them.
 */
public final class Conditioning implements AutoCloseable {
    private final DeviceTensor context;
    private final DeviceTensor pooled;
    private final Map<String, DeviceTensor> addedInputs;
    private final List<String> warnings;

    /**
     * @param pooled      the pooled text embedding [batch, dim], or null where the model has none
     * @param addedInputs the UNet's added inputs in its input order (copied; iteration order is kept)
     * @param warnings    what the user should know about how the prompt was read (e.g. truncation)
     */
    public Conditioning(DeviceTensor context, DeviceTensor pooled, Map<String, DeviceTensor> addedInputs,
                        List<String> warnings) {
        if (context.shape().rank() != 3) {
            throw new IllegalArgumentException("context must be [batch, tokens, dim], got " + context.shape());
        }
        this.context = context;
        this.pooled = pooled;
        this.addedInputs = Collections.unmodifiableMap(new LinkedHashMap<>(addedInputs));
        this.warnings = List.copyOf(warnings);
    }

    /** Cross-attention context [batch, tokens, dim]. */
    public DeviceTensor context() {
        return context;
    }

    /** Pooled text embedding [batch, dim], or null. */
    public DeviceTensor pooled() {
        return pooled;
    }

    /** Added UNet inputs by graph-input name, in the UNet's input order; empty for SD 1.x/2.x. */
    public Map<String, DeviceTensor> addedInputs() {
        return addedInputs;
    }

    /** Rows of the context: 2 with classifier-free guidance ([negative, prompt]), otherwise 1. */
    public int batch() {
        return context.shape().size(0);
    }

    /** Context length in tokens (77 for one CLIP chunk; a multiple of it for long prompts). */
    public int tokens() {
        return context.shape().size(1);
    }

    public List<String> warnings() {
        return warnings;
    }

    @Override
    public void close() {
        List<DeviceTensor> all = new ArrayList<>();
        all.add(context);
        if (pooled != null && pooled != context) {
            all.add(pooled);
        }
        addedInputs.values().stream().filter(t -> !all.contains(t)).forEach(all::add);
        all.forEach(DeviceTensor::close);
    }
}
