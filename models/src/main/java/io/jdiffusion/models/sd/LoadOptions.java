package io.jdiffusion.models.sd;

import java.nio.file.Path;
import java.util.List;

/**
 * How to load a model beyond its path. Built with {@link #builder()}.
 *
 * @param configFolder   for a single-file checkpoint: a folder holding its tokenizer ({@code tokenizer/}), and
 *                       optionally the diffusers component configs to use instead of the inferred architecture;
 *                       for a diffusers folder: another folder's configs and tokenizer. Null: search (see
 *                       {@link TokenizerSearch}).
 * @param predictionType epsilon or v_prediction, overriding the model's (null: the model's own, or for a single
 *                       file, a config beside it or the family's usual one)
 * @param hubCaches      the Hugging Face hub caches searched for a single file's tokenizer
 */
public record LoadOptions(Path configFolder, String predictionType, List<Path> hubCaches) {
    public LoadOptions {
        hubCaches = List.copyOf(hubCaches);
        predictionType = predictionType == null ? null : PredictionTypeChoice.normalize(predictionType);
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Collects {@link LoadOptions}; the hub caches default to this environment's. */
    public static final class Builder {
        private Path configFolder;
        private String predictionType;
        private List<Path> hubCaches = TokenizerSearch.hubCaches(System.getenv(), System.getProperty("user.home"));

        private Builder() {
        }

        public Builder configFolder(Path folder) {
            this.configFolder = folder;
            return this;
        }

        /** epsilon (eps) or v_prediction (v); null keeps the model's. */
        public Builder predictionType(String type) {
            this.predictionType = type;
            return this;
        }

        public Builder hubCaches(List<Path> caches) {
            this.hubCaches = caches;
            return this;
        }

        public LoadOptions build() {
            return new LoadOptions(configFolder, predictionType, hubCaches);
        }
    }
}
