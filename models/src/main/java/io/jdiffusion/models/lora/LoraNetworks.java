package io.jdiffusion.models.lora;

import io.jdiffusion.core.Tensor;
import io.jdiffusion.models.clip.ClipTextEncoder;
import io.jdiffusion.models.unet.UNet2DConditionModel;
import io.jdiffusion.models.weights.ReplacedWeights;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;

/**
 * One model's networks with LoRA sets merged in, cached. The base networks are never modified: a LoRA set's
 * merged weights are new tensors, made once per set and kept for the {@value #CACHED_SETS} most recently used
 * sets, so repeated requests with the same LoRAs do not merge again and a request without LoRAs runs the base
 * networks (and their compiled executables) as they are. LoRA files stay open while a cached set uses them.
 * Thread-safe.
 */
public final class LoraNetworks implements AutoCloseable {
    /** How many merged LoRA sets stay in memory (each holds copies of the weights its LoRAs change). */
    public static final int CACHED_SETS = 2;

    private final UNet2DConditionModel unet;
    private final List<ClipTextEncoder> textEncoders;
    private final Consumer<String> evicted;
    private final Map<String, AdaptedNetworks> cache = new LinkedHashMap<>(4, 0.75f, true);
    private final Map<String, LoraFile> files = new LinkedHashMap<>();
    /** Leases held per merged set; a set dropped from the cache while leased is freed when its last lease ends. */
    private final Map<AdaptedNetworks, Integer> leases = new IdentityHashMap<>();
    private final Set<AdaptedNetworks> retired = Collections.newSetFromMap(new IdentityHashMap<>());
    private LoraTargets targets;

    /**
     * @param textEncoders the model's text encoders in order: one (SD 1.x/2.x) or two (SDXL)
     * @param evicted      told the key of every network dropped from the cache, so that executables compiled for
     *                it can be freed with it
     */
    public LoraNetworks(UNet2DConditionModel unet, List<ClipTextEncoder> textEncoders, Consumer<String> evicted) {
        this.unet = unet;
        this.textEncoders = List.copyOf(textEncoders);
        this.evicted = evicted;
    }

    /** Networks held for one request: they stay valid, merged weights and executables, until {@link #close()}. */
    public final class Lease implements AutoCloseable {
        private final AdaptedNetworks networks;
        private boolean released;

        private Lease(AdaptedNetworks networks) {
            this.networks = networks;
        }

        public AdaptedNetworks networks() {
            return networks;
        }

        @Override
        public void close() {
            synchronized (LoraNetworks.this) {
                if (!released) {
                    released = true;
                    release(networks);
                }
            }
        }
    }

    /** {@link #networks} held until the lease is closed, so that a concurrent request cannot free them. */
    public synchronized Lease lease(List<LoraUse> loras) {
        AdaptedNetworks n = networks(loras);
        leases.merge(n, 1, Integer::sum);
        return new Lease(n);
    }

    private void release(AdaptedNetworks n) {
        int left = leases.merge(n, -1, Integer::sum);
        if (left <= 0) {
            leases.remove(n);
            if (retired.remove(n)) {
                dispose(n);
            }
        }
    }

    /**
     * The networks with {@code loras} merged; the base networks for an empty list. Valid until the set is
     * dropped from the cache; requests that may run concurrently take a {@link #lease} instead.
     */
    public synchronized AdaptedNetworks networks(List<LoraUse> loras) {
        String key = setKey(loras);
        if (key.isEmpty()) {
            return new AdaptedNetworks(unet, "", textEncoders, textEncoders.stream().map(t -> "").toList(), List.of());
        }
        AdaptedNetworks cached = cache.get(key);
        if (cached != null) {
            return cached;
        }
        AdaptedNetworks made = merge(loras, key);
        cache.put(key, made);
        evictBeyond(CACHED_SETS);
        return made;
    }

    private AdaptedNetworks merge(List<LoraUse> loras, String key) {
        List<LoraMerge.Term> unetTerms = new ArrayList<>();
        List<LoraMerge.Term> textTerms = new ArrayList<>();
        for (LoraUse use : loras) {
            LoraFile file = file(use.file());
            unetTerms.add(new LoraMerge.Term(file, use.unetWeight()));
            // A1111 applies a LoRA's text-encoder weight to every text encoder (SDXL: both)
            textTerms.add(new LoraMerge.Term(file, use.textEncoderWeight()));
        }
        List<Tensor> owned = new ArrayList<>();
        try {
            Map<String, Tensor> unetWeights = LoraMerge.merge(LoraTargets.UNET, unet.parameters(), unetTerms);
            owned.addAll(unetWeights.values());
            UNet2DConditionModel mergedUnet = unetWeights.isEmpty() ? unet : UNet2DConditionModel.load(unet.config(),
                    unet.predictionType(), new ReplacedWeights(unet.parameters(), unetWeights, "unet + " + key), "the loaded unet");
            List<ClipTextEncoder> mergedText = new ArrayList<>();
            List<String> textKeys = new ArrayList<>();
            for (int i = 0; i < textEncoders.size(); i++) {
                ClipTextEncoder base = textEncoders.get(i);
                String network = i == 0 ? LoraTargets.TEXT_ENCODER : LoraTargets.TEXT_ENCODER_2;
                Map<String, Tensor> weights = LoraMerge.merge(network, base.parameters(), textTerms);
                owned.addAll(weights.values());
                mergedText.add(weights.isEmpty() ? base : ClipTextEncoder.load(base.config(),
                        new ReplacedWeights(base.parameters(), weights, network + " + " + key), "the loaded " + network));
                textKeys.add(weights.isEmpty() ? "" : (i == 0 ? "te+" : "te2+") + key);
            }
            return new AdaptedNetworks(mergedUnet, unetWeights.isEmpty() ? "" : "unet+" + key, mergedText, textKeys, owned);
        } catch (RuntimeException e) {
            owned.forEach(Tensor::close);
            throw e;
        }
    }

    private LoraFile file(Path path) {
        String id = path.toAbsolutePath().normalize().toString();
        LoraFile f = files.get(id);
        if (f == null) {
            if (targets == null) {
                targets = LoraTargets.of(unet, textEncoders);
            }
            f = LoraFile.open(path, targets);
            files.put(id, f);
        }
        return f;
    }

    /**
     * The cache key of a LoRA set: each file (absolute path, size and modification time, so that a rewritten
     * file merges again) with its two weights, in order; "" when no LoRA changes anything.
     */
    private static String setKey(List<LoraUse> loras) {
        StringBuilder key = new StringBuilder();
        for (LoraUse use : loras) {
            if (use.unetWeight() == 0 && use.textEncoderWeight() == 0) {
                continue;
            }
            Path p = use.file().toAbsolutePath().normalize();
            String stamp;
            try {
                stamp = Files.size(p) + "@" + Files.getLastModifiedTime(p).toMillis();
            } catch (IOException e) {
                throw new LoraException("LoRA file not found: " + use.file());
            }
            key.append(key.isEmpty() ? "" : "|").append(p).append('#').append(stamp)
                    .append(':').append(use.textEncoderWeight()).append(':').append(use.unetWeight());
        }
        return key.toString();
    }

    private void evictBeyond(int keep) {
        Iterator<Map.Entry<String, AdaptedNetworks>> it = cache.entrySet().iterator();
        while (cache.size() > keep && it.hasNext()) {
            AdaptedNetworks old = it.next().getValue();
            it.remove();
            if (leases.containsKey(old)) {
                retired.add(old);
            } else {
                dispose(old);
            }
        }
        List<String> inUse = new ArrayList<>();
        cache.keySet().forEach(inUse::add);
        files.entrySet().removeIf(e -> {
            boolean used = inUse.stream().anyMatch(k -> k.contains(e.getKey() + "#"));
            if (!used) {
                e.getValue().close();
            }
            return !used;
        });
    }

    private void dispose(AdaptedNetworks old) {
        old.changedKeys().forEach(evicted);
        old.close();
    }

    /** Merged sets held now (for tests and memory reports). */
    public synchronized int cachedSets() {
        return cache.size();
    }

    @Override
    public synchronized void close() {
        evictBeyond(0);
        files.values().forEach(LoraFile::close);
        files.clear();
    }
}
