package io.jdiffusion.models.lora;

import io.jdiffusion.core.Shape;
import io.jdiffusion.models.clip.ClipTextEncoder;
import io.jdiffusion.models.unet.UNet2DConditionModel;
import io.jdiffusion.models.weights.LdmKeyMap;
import io.jdiffusion.models.weights.Parameter;

import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The modules of a model that a LoRA can change, under every name LoRA files use for them. A module is a
 * weight of rank 2 (Linear) or 4 (Conv2d) of one network; its names are:
 * <ul>
 *   <li>kohya / A1111: a prefix and the module path with every '.' replaced by '_'
 *       ({@code lora_unet_down_blocks_0_attentions_0_proj_in}); the UNet also under its original LDM path
 *       ({@code lora_unet_input_blocks_1_1_proj_in}), the SD 1/2 text encoder under {@code lora_te_text_model_}
 *       and {@code lora_te_} (both spellings are in circulation), SDXL's two under {@code lora_te1_} and
 *       {@code lora_te2_} (each with or without {@code text_model_});</li>
 *   <li>diffusers / PEFT: the dotted module path after {@code unet.}, {@code text_encoder.} or (SDXL)
 *       {@code text_encoder_2.} (with or without {@code text_model.}); a UNet path without prefix is the UNet,
 *       as diffusers reads it.</li>
 * </ul>
 * Flattened names are matched against this list, never split at underscores (module names such as
 * {@code to_q} and {@code proj_in} contain them).
 */
public final class LoraTargets {
    public static final String UNET = "unet";
    public static final String TEXT_ENCODER = "text_encoder";
    /** SDXL's second text encoder (OpenCLIP ViT-bigG with projection). */
    public static final String TEXT_ENCODER_2 = "text_encoder_2";

    /** One weight a LoRA can change: the network and its parameter name there, and the weight's shape. */
    public record Module(String network, String parameter, Shape shape) {
    }

    private final Map<String, Module> byAlias;
    private final Set<String> ambiguous;

    private LoraTargets(Map<String, Module> byAlias, Set<String> ambiguous) {
        this.byAlias = Collections.unmodifiableMap(byAlias);
        this.ambiguous = Set.copyOf(ambiguous);
    }

    /**
     * The targets of a model with one text encoder (SD 1.x/2.x: {@code lora_te_}, {@code text_encoder.}) or two
     * (SDXL: {@code lora_te1_}/{@code text_encoder.} for CLIP ViT-L and {@code lora_te2_}/{@code text_encoder_2.}
     * for OpenCLIP ViT-bigG, as kohya's sd-scripts and diffusers name them). The UNet's LDM names come from the
     * map the single-file loader reads checkpoints with ({@link LdmKeyMap#unet}), SDXL's
     * {@code transformer_layers_per_block} and level without attention included.
     */
    public static LoraTargets of(UNet2DConditionModel unet, List<ClipTextEncoder> textEncoders) {
        if (textEncoders.isEmpty() || textEncoders.size() > 2) {
            throw new IllegalArgumentException("a model has one or two text encoders, got " + textEncoders.size());
        }
        Builder b = new Builder();
        for (Parameter p : unet.parameters()) {
            if (!b.isModuleWeight(p)) {
                continue;
            }
            String path = modulePath(p.name());
            Module m = new Module(UNET, p.name(), p.tensor().shape());
            b.add("lora_unet_" + flat(path), m);
            b.add("unet." + path, m);
            b.add(path, m);
            String ldm = LdmKeyMap.unet(p.name(), unet.config()).substring(LdmKeyMap.UNET_PREFIX.length());
            b.add("lora_unet_" + flat(modulePath(ldm)), m);
        }
        if (textEncoders.size() == 1) {
            addTextEncoder(b, textEncoders.getFirst(), TEXT_ENCODER, List.of("lora_te_text_model_", "lora_te_"),
                    List.of("text_encoder.text_model.", "text_encoder."));
        } else {
            addTextEncoder(b, textEncoders.get(0), TEXT_ENCODER, List.of("lora_te1_text_model_", "lora_te1_"),
                    List.of("text_encoder.text_model.", "text_encoder."));
            addTextEncoder(b, textEncoders.get(1), TEXT_ENCODER_2, List.of("lora_te2_text_model_", "lora_te2_"),
                    List.of("text_encoder_2.text_model.", "text_encoder_2."));
        }
        return b.build();
    }

    /** Adds a CLIP text encoder (parameter names without {@code text_model.}) under the given prefixes. */
    private static void addTextEncoder(Builder b, ClipTextEncoder encoder, String network, List<String> kohyaPrefixes,
                               List<String> dottedPrefixes) {
        for (Parameter p : encoder.parameters()) {
            if (!b.isModuleWeight(p) || p.name().startsWith("embeddings.")) {
                continue;
            }
            String path = modulePath(p.name());
            Module m = new Module(network, p.name(), p.tensor().shape());
            kohyaPrefixes.forEach(prefix -> b.add(prefix + flat(path), m));
            dottedPrefixes.forEach(prefix -> b.add(prefix + path, m));
        }
    }

    /** For tests and fuzzing: targets given directly as alias to module. */
    public static LoraTargets of(Map<String, Module> byAlias) {
        return new LoraTargets(new LinkedHashMap<>(byAlias), Set.of());
    }

    /** The module a name refers to, or null. */
    public Module module(String alias) {
        return byAlias.get(alias);
    }

    /** Whether two different modules flatten to {@code alias} (then a kohya name cannot say which is meant). */
    public boolean isAmbiguous(String alias) {
        return ambiguous.contains(alias);
    }

    public int size() {
        return byAlias.size();
    }

    private static String modulePath(String parameterName) {
        return parameterName.substring(0, parameterName.length() - ".weight".length());
    }

    private static String flat(String path) {
        return path.replace('.', '_');
    }

    /** Collects aliases; one alias claimed by two modules is marked ambiguous rather than silently picked. */
    static final class Builder {
        private final Map<String, Module> byAlias = new LinkedHashMap<>();
        private final Set<String> ambiguous = new HashSet<>();

        boolean isModuleWeight(Parameter p) {
            int rank = p.tensor() == null ? 0 : p.tensor().shape().rank();
            return p.name().endsWith(".weight") && (rank == 2 || rank == 4);
        }

        void add(String alias, Module m) {
            Module previous = byAlias.putIfAbsent(alias, m);
            if (previous != null && !previous.equals(m)) {
                ambiguous.add(alias);
            }
        }

        LoraTargets build() {
            ambiguous.forEach(byAlias::remove);
            return new LoraTargets(byAlias, ambiguous);
        }
    }
}
