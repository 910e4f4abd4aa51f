package io.jdiffusion.models.lora;

import io.jdiffusion.core.OneLine;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;

/**
 * Maps the tensor names of a LoRA file to the model's weights: kohya/A1111 ({@code .lora_down.weight},
 * {@code .lora_up.weight}, {@code .alpha}), diffusers/PEFT ({@code .lora_A.weight}, {@code .lora_B.weight})
 * and older diffusers ({@code .lora.down.weight}, {@code .processor.to_q_lora.down.weight}). LoCon
 * (convolution kernels in {@code lora_down}) maps like any other module. Pure: names in, pairs out, or a
 * {@link LoraException} that lists what does not fit (the first few of each kind).
 */
public final class LoraKeyMapper {
    private static final int LISTED = 5;
    private static final List<String[]> DOWN_UP_SUFFIXES = List.of(
            new String[]{".lora_down.weight", ".lora_up.weight"},
            new String[]{".lora_A.weight", ".lora_B.weight"},
            new String[]{".lora.down.weight", ".lora.up.weight"});
    private static final String ALPHA = ".alpha";
    /** diffusers' attention-processor LoRA names: {@code attn1.processor.to_out_lora.up.weight}. */
    private static final Pattern PROCESSOR = Pattern.compile("\\.processor\\.(to_q|to_k|to_v|to_out)_lora\\.(down|up)\\.weight$");
    /** Tensors of adapter kinds other than LoRA/LoCon, by the suffix that marks them. */
    private static final Map<String, String> UNSUPPORTED = unsupportedKinds();

    private LoraKeyMapper() {
    }

    private static Map<String, String> unsupportedKinds() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put(".lora_mid.weight", "LoCon with a Tucker mid kernel (lora_mid)");
        for (String s : List.of(".hada_w1_a", ".hada_w1_b", ".hada_w2_a", ".hada_w2_b", ".hada_t1", ".hada_t2")) {
            m.put(s, "LyCORIS LoHa (hada_*)");
        }
        for (String s : List.of(".lokr_w1", ".lokr_w2", ".lokr_w1_a", ".lokr_w1_b", ".lokr_w2_a", ".lokr_w2_b", ".lokr_t2")) {
            m.put(s, "LyCORIS LoKr (lokr_*)");
        }
        m.put(".dora_scale", "DoRA (dora_scale)");
        m.put(".lora_magnitude_vector", "DoRA (lora_magnitude_vector)");
        m.put(".diff", "full weight differences (diff)");
        m.put(".diff_b", "full bias differences (diff_b)");
        m.put(".w_norm", "norm-layer weights (w_norm)");
        m.put(".b_norm", "norm-layer weights (b_norm)");
        m.put(".oft_blocks", "OFT (oft_blocks)");
        m.put(".oft_diag", "OFT (oft_diag)");
        return m;
    }

    /** {@link #map(Set, LoraTargets, String)} with "LoRA" as the source in messages. */
    public static List<LoraModule> map(Set<String> keys, LoraTargets targets) {
        return map(keys, targets, "LoRA");
    }

    /**
     * The pairs of {@code keys} in key order, each with the model weight it changes.
     *
     * @param source what the keys come from, for messages (a file name)
     * @throws LoraException when a key is of an unsupported adapter kind, names no module of the model, a
     *                       pair lacks its partner, or two names in the file refer to the same weight
     */
    public static List<LoraModule> map(Set<String> keys, LoraTargets targets, String source) {
        if (keys == null || targets == null) {
            throw new LoraException(source + ": no keys or no model to map them to");
        }
        Map<String, String[]> pairs = new LinkedHashMap<>(); // module name -> {down, up, alpha}
        Set<String> unknown = new TreeSet<>();
        Map<String, Set<String>> unsupported = new LinkedHashMap<>();
        for (String key : new TreeSet<>(keys)) {
            if (key == null) {
                throw new LoraException(source + ": a tensor without a name");
            }
            String kind = unsupportedKind(key);
            if (kind != null) {
                unsupported.computeIfAbsent(kind, k -> new TreeSet<>()).add(key);
                continue;
            }
            String normal = PROCESSOR.matcher(key).replaceFirst(m -> "."
                    + (m.group(1).equals("to_out") ? "to_out.0" : m.group(1)) + ".lora." + m.group(2) + ".weight");
            Role role = role(normal);
            if (role == null) {
                unknown.add(key);
                continue;
            }
            String[] slots = pairs.computeIfAbsent(role.module, m -> new String[3]);
            if (slots[role.slot] != null) {
                throw new LoraException(source + ": module " + role.module + " has two " + role.describe()
                        + " tensors: " + slots[role.slot] + " and " + key);
            }
            slots[role.slot] = key;
        }
        if (!unsupported.isEmpty()) {
            var first = unsupported.entrySet().iterator().next();
            throw new LoraException(source + ": " + first.getKey() + " is not supported, only LoRA and LoCon ("
                    + first.getValue().size() + " such tensors, e.g. " + listed(first.getValue()) + ")");
        }
        List<LoraModule> modules = new ArrayList<>();
        Map<String, String> moduleOfTarget = new LinkedHashMap<>();
        for (var e : pairs.entrySet()) {
            String name = e.getKey();
            String[] slots = e.getValue();
            LoraTargets.Module target = targets.module(name);
            if (target == null) {
                for (String k : slots) {
                    if (k != null) {
                        unknown.add(k + (targets.isAmbiguous(name) ? " (ambiguous)" : ""));
                    }
                }
                continue;
            }
            if (slots[0] == null || slots[1] == null) {
                throw new LoraException(source + ": module " + name + " has "
                        + (slots[0] == null ? "no down (A) tensor" : "no up (B) tensor")
                        + (slots[0] == null && slots[1] == null ? " and no up (B) tensor" : ""));
            }
            String other = moduleOfTarget.putIfAbsent(target.network() + "/" + target.parameter(), name);
            if (other != null) {
                throw new LoraException(source + ": " + other + " and " + name + " both change " + target.network()
                        + " weight " + target.parameter());
            }
            modules.add(new LoraModule(target, name, slots[0], slots[1], slots[2]));
        }
        if (!unknown.isEmpty()) {
            boolean sdxlText = unknown.stream().anyMatch(k -> k.startsWith("lora_te1_") || k.startsWith("lora_te2_")
                    || k.startsWith("text_encoder_2."));
            throw new LoraException(source + ": " + unknown.size() + " tensor" + (unknown.size() == 1 ? "" : "s")
                    + " name no module of this model (" + (sdxlText
                    ? "names of SDXL's two text encoders on a model with one: a LoRA for SDXL?"
                    : "a LoRA for another model family?") + "), e.g. " + listed(unknown));
        }
        if (modules.isEmpty()) {
            throw new LoraException(source + ": holds no LoRA tensors");
        }
        return List.copyOf(modules);
    }

    private static String listed(Set<String> keys) {
        List<String> first = keys.stream().limit(LISTED).map(OneLine::of).toList();
        return String.join(", ", first) + (keys.size() > LISTED ? ", ..." : "");
    }

    private static String unsupportedKind(String key) {
        for (var e : UNSUPPORTED.entrySet()) {
            if (key.endsWith(e.getKey())) {
                return e.getValue();
            }
        }
        return key.startsWith("bundle_emb.") ? "a bundled textual-inversion embedding (bundle_emb)" : null;
    }

    /** Which slot of which module a key fills: 0 down, 1 up, 2 alpha; null when it is none. */
    private record Role(String module, int slot) {
        String describe() {
            return switch (slot) {
                case 0 -> "down (A)";
                case 1 -> "up (B)";
                default -> "alpha";
            };
        }
    }

    private static Role role(String key) {
        for (String[] suffixes : DOWN_UP_SUFFIXES) {
            for (int slot = 0; slot < 2; slot++) {
                if (key.endsWith(suffixes[slot]) && key.length() > suffixes[slot].length()) {
                    return new Role(key.substring(0, key.length() - suffixes[slot].length()), slot);
                }
            }
        }
        if (key.endsWith(ALPHA) && key.length() > ALPHA.length()) {
            return new Role(key.substring(0, key.length() - ALPHA.length()), 2);
        }
        return null;
    }
}
