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
 *       {@code lora_te2_};</li>
 *   <li>diffusers / PEFT: the dotted module path after {@code unet.} or {@code text_encoder.} (with or
 *       without {@code text_model.}); a UNet path without prefix is the UNet, as diffusers reads it.</li>
 * </ul>
 * Flattened names are matched against this list, never split at underscores (module names such as
 * {@code to_q} and {@code proj_in} contain them).
 */
public final class LoraTargets {
    public static final String UNET = "unet";
    public static final String TEXT_ENCODER = "text_encoder";

    /** One weight a LoRA can change: the network and its parameter name there, and the weight's shape. */
    public record Module(String network, String parameter, Shape shape) {
    }

    private final Map<String, Module> byAlias;
    private final Set<String> ambiguous;

    private LoraTargets(Map<String, Module> byAlias, Set<String> ambiguous) {
        this.byAlias = Collections.unmodifiableMap(byAlias);
        this.ambiguous = Set.copyOf(ambiguous);
    }

    /** The targets of an SD 1.x/2.x model: its UNet and its one text encoder. */
    public static LoraTargets of(UNet2DConditionModel unet, ClipTextEncoder textEncoder) {
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
        addTextEncoder(b, textEncoder, TEXT_ENCODER, List.of("lora_te_text_model_", "lora_te_"),
                List.of("text_encoder.text_model.", "text_encoder."));
        return b.build();
    }

    /**
     * Adds a CLIP text encoder (parameter names without {@code text_model.}) under the given prefixes; SDXL
     * models call this once per encoder ({@code lora_te1_}/{@code text_encoder.}, {@code lora_te2_}/{@code text_encoder_2.}).
     */
    static void addTextEncoder(Builder b, ClipTextEncoder encoder, String network, List<String> kohyaPrefixes,
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
