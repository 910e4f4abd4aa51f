package io.jdiffusion.server.api;

/**
 * A1111's {@code override_settings} as far as jdiffusion has a meaning for them, and
 * {@code override_settings_restore_afterwards}:
 * <ul>
 *   <li>{@code sd_model_checkpoint}: the checkpoint to run the request on (by title, name or hash; the
 *       route checks it names one), loaded for it and, by default, unloaded again afterwards;</li>
 *   <li>{@code eta_ddim}: DDIM's eta where the request gives no {@code eta};</li>
 *   <li>{@code eta_ancestral}: 1, the eta jdiffusion's ancestral samplers have (other values: 422);</li>
 *   <li>{@code CLIP_stop_at_last_layers}: 1, the text encoder as the model defines it (clip skip is fixed
 *       when a model loads; other values: 422).</li>
 * </ul>
 * Other keys are ignored, as A1111 ignores keys it does not know; a known key of the wrong type is 422 naming
 * it ({@code override_settings.eta_ddim}).
 */
record OverrideSettings(String checkpoint, boolean restoreAfterwards, float etaDdim) {
    static OverrideSettings read(JsonFields body) {
        JsonFields o = body.object("override_settings");
        String checkpoint = o.string("sd_model_checkpoint", null);
        boolean restore = body.bool("override_settings_restore_afterwards", true);
        float etaDdim = o.number("eta_ddim", 0f);
        if (etaDdim < 0) {
            throw new InvalidRequestException(o.where("eta_ddim"), "must be 0 or more, got " + etaDdim);
        }
        float etaAncestral = o.number("eta_ancestral", 1f);
        if (etaAncestral != 1f) {
            throw new InvalidRequestException(o.where("eta_ancestral"), "jdiffusion's ancestral samplers add noise with"
                    + " eta 1 only, got " + etaAncestral);
        }
        int clipStop = o.integer("CLIP_stop_at_last_layers", 1);
        if (clipStop != 1) {
            throw new InvalidRequestException(o.where("CLIP_stop_at_last_layers"), "clip skip is fixed by the model when"
                    + " it loads (SD 2.x skips its last layer as it was trained); only 1 is accepted, got " + clipStop);
        }
        return new OverrideSettings(checkpoint, restore, etaDdim);
    }
}
