package io.jdiffusion.models.sd;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.jdiffusion.core.Shape;
import io.jdiffusion.models.config.ClipTextConfig;
import io.jdiffusion.models.config.ModelLoadException;
import io.jdiffusion.models.config.UNetConfig;
import io.jdiffusion.models.weights.LdmKeyMap;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The architecture of a single-file (LDM layout) checkpoint, read from its tensor shapes: channels and
 * layer counts of the UNet levels, which levels attend, transformer depth, cross-attention width, linear or
 * convolutional projections, input channels (9 for inpainting), the text tower's width, depth, vocabulary and
 * positions, the VAE's channels, depth and latent channels. What the shapes cannot show (head counts, norm
 * epsilons, the noise schedule, the default image size) comes from the family's bundled configs and
 * conventions. The result goes through the same checks as a diffusers folder's configs, and the weight
 * check then confirms every tensor fits.
 */
final class LdmArchitecture {
    private static final String U = LdmKeyMap.UNET_PREFIX;
    private static final String V = LdmKeyMap.VAE_PREFIX;
    /** SD 2.x 512-base: 64x64 latents (768-v: 96). */
    private static final int SD2_BASE_SAMPLE_SIZE = 64;

    private final Map<String, Shape> shapes;
    private final Path file;

    private LdmArchitecture(Map<String, Shape> shapes, Path file) {
        this.shapes = shapes;
        this.file = file;
    }

    /**
     * @param shapes every stored tensor's name and shape
     * @param file   the checkpoint, for messages
     */
    static ModelConfigs infer(Map<String, Shape> shapes, CheckpointFamily family, PredictionTypeChoice prediction, Path file) {
        LdmArchitecture a = new LdmArchitecture(shapes, file);
        String dir = family.bundledDir();
        String source = family.label() + " architecture inferred from the tensors of " + file;
        ObjectNode scheduler = ModelConfigs.bundledTree(dir, ModelConfigs.SCHEDULER);
        scheduler.put("prediction_type", prediction.predictionType());
        if (family == CheckpointFamily.SDXL) {
            // SDXL base: the bundled configs as they are, but for inpainting's input channels
            ObjectNode unet = ModelConfigs.bundledTree(dir, ModelConfigs.UNET);
            unet.put("in_channels", a.require(U + "input_blocks.0.0.weight", 4).size(1));
            return ModelConfigs.fromTrees(ModelConfigs.bundledTree(dir, ModelConfigs.TEXT_ENCODER),
                    ModelConfigs.bundledTree(dir, ModelConfigs.TEXT_ENCODER_2), unet, ModelConfigs.bundledTree(dir, ModelConfigs.VAE),
                    scheduler, source);
        }
        ObjectNode unet = a.unet(ModelConfigs.bundledTree(dir, ModelConfigs.UNET), family);
        if (family == CheckpointFamily.SD2 && prediction.predictionType().equals(PredictionTypeChoice.EPSILON)) {
            unet.put("sample_size", SD2_BASE_SAMPLE_SIZE);
        }
        ObjectNode text = a.text(ModelConfigs.bundledTree(dir, ModelConfigs.TEXT_ENCODER), family);
        ObjectNode vae = a.vae(ModelConfigs.bundledTree(dir, ModelConfigs.VAE));
        ModelConfigs configs = ModelConfigs.fromTrees(text, null, unet, vae, scheduler, source);
        if (family.textTower() == SingleFileCheckpoint.TextTower.OPEN_CLIP) {
            // SD 2.x conditions on the penultimate of the stored layers
            ClipTextConfig t = configs.textEncoder();
            configs = configs.withTextEncoder(t.withSkipLastLayers(1));
        }
        return configs;
    }

    private ObjectNode unet(ObjectNode c, CheckpointFamily family) {
        Shape convIn = require(U + "input_blocks.0.0.weight", 4);
        Shape convOut = require(U + "out.2.weight", 4);
        c.put("in_channels", convIn.size(1)).put("conv_in_kernel", convIn.size(2));
        c.put("out_channels", convOut.size(0)).put("conv_out_kernel", convOut.size(2));
        c.put("time_embedding_dim", require(U + "time_embed.0.weight", 2).size(0));

        List<Integer> channels = new ArrayList<>();
        List<Integer> layers = new ArrayList<>();
        List<Integer> depth = new ArrayList<>();
        List<Boolean> attends = new ArrayList<>();
        int resnets = 0;
        int levelChannels = 0;
        boolean levelAttends = false;
        int levelDepth = 1;
        String firstAttention = null;
        for (int i = 1; ; i++) {
            String block = U + "input_blocks." + i + ".";
            if (shapes.containsKey(block + "0.op.weight")) {
                channels.add(levelChannels);
                layers.add(resnets);
                attends.add(levelAttends);
                depth.add(levelDepth);
                resnets = 0;
                levelAttends = false;
                levelDepth = 1;
                continue;
            }
            Shape conv = shapes.get(block + "0.in_layers.2.weight");
            if (conv == null) {
                break;
            }
            resnets++;
            levelChannels = conv.size(0);
            if (shapes.containsKey(block + "1.proj_in.weight")) {
                levelAttends = true;
                levelDepth = count(block + "1.transformer_blocks.");
                if (firstAttention == null) {
                    firstAttention = block + "1.";
                }
            }
        }
        if (resnets == 0 || firstAttention == null) {
            throw new ModelLoadException(file + ": the UNet's input blocks are not an SD UNet's (no resnet levels with "
                    + "cross-attention under " + U + "input_blocks.*)");
        }
        channels.add(levelChannels);
        layers.add(resnets);
        attends.add(levelAttends);
        depth.add(levelDepth);

        int n = channels.size();
        ArrayNode down = c.putArray("down_block_types");
        ArrayNode up = c.putArray("up_block_types");
        ArrayNode heads = c.putArray("attention_head_dim");
        for (int i = 0; i < n; i++) {
            down.add(attends.get(i) ? UNetConfig.CROSS_ATTN_DOWN : UNetConfig.DOWN);
            up.add(attends.get(n - 1 - i) ? UNetConfig.CROSS_ATTN_UP : UNetConfig.UP);
            heads.add(family.unetHeads(channels.get(i)));
        }
        c.set("block_out_channels", ints(c, channels));
        c.set("layers_per_block", ints(c, layers));
        c.set("transformer_layers_per_block", ints(c, depth));
        c.remove("num_attention_heads");
        c.put("cross_attention_dim", require(firstAttention + "transformer_blocks.0.attn2.to_k.weight", 2).size(1));
        c.put("use_linear_projection", require(firstAttention + "proj_in.weight", -1).rank() == 2);
        return c;
    }

    private ObjectNode text(ObjectNode c, CheckpointFamily family) {
        Shape tokens;
        Shape positions;
        Shape mlp;
        int layers;
        if (family.textTower() == SingleFileCheckpoint.TextTower.CLIP) {
            String p = LdmKeyMap.CLIP_PREFIX + (shapes.containsKey(LdmKeyMap.CLIP_PREFIX + "text_model.embeddings.token_embedding.weight")
                    ? "text_model." : "");
            tokens = require(p + "embeddings.token_embedding.weight", 2);
            positions = require(p + "embeddings.position_embedding.weight", 2);
            mlp = require(p + "encoder.layers.0.mlp.fc1.weight", 2);
            layers = count(p + "encoder.layers.");
        } else {
            String p = LdmKeyMap.OPEN_CLIP_PREFIX;
            tokens = require(p + "token_embedding.weight", 2);
            positions = require(p + "positional_embedding", 2);
            mlp = require(p + "transformer.resblocks.0.mlp.c_fc.weight", 2);
            layers = count(p + "transformer.resblocks.");
        }
        int hidden = tokens.size(1);
        c.put("vocab_size", tokens.size(0)).put("hidden_size", hidden).put("max_position_embeddings", positions.size(0))
                .put("intermediate_size", mlp.size(0)).put("num_hidden_layers", layers)
                .put("num_attention_heads", family.textHeads(hidden));
        return c;
    }

    private ObjectNode vae(ObjectNode c) {
        List<Integer> channels = new ArrayList<>();
        for (int i = 0; shapes.containsKey(V + "encoder.down." + i + ".block.0.conv1.weight"); i++) {
            channels.add(shapes.get(V + "encoder.down." + i + ".block.0.conv1.weight").size(0));
        }
        if (channels.isEmpty()) {
            throw new ModelLoadException(file + ": no VAE encoder levels (" + V + "encoder.down.*)");
        }
        ArrayNode down = c.putArray("down_block_types");
        ArrayNode up = c.putArray("up_block_types");
        channels.forEach(ch -> {
            down.add("DownEncoderBlock2D");
            up.add("UpDecoderBlock2D");
        });
        c.set("block_out_channels", ints(c, channels));
        c.put("layers_per_block", count(V + "encoder.down.0.block."));
        c.put("in_channels", require(V + "encoder.conv_in.weight", 4).size(1));
        c.put("out_channels", require(V + "decoder.conv_out.weight", 4).size(0));
        c.put("latent_channels", require(V + "decoder.conv_in.weight", 4).size(1));
        c.put("use_quant_conv", shapes.containsKey(V + "quant_conv.weight"));
        c.put("use_post_quant_conv", shapes.containsKey(V + "post_quant_conv.weight"));
        return c;
    }

    /** How many numbered children {@code prefix + N.} exist. */
    private int count(String prefix) {
        Pattern index = Pattern.compile(Pattern.quote(prefix) + "(\\d+)\\.");
        int max = -1;
        for (String name : shapes.keySet()) {
            Matcher m = index.matcher(name);
            if (m.lookingAt()) {
                max = Math.max(max, Integer.parseInt(m.group(1)));
            }
        }
        return max + 1;
    }

    /** The shape of a tensor the architecture is read from, of rank {@code rank} (-1: any). */
    private Shape require(String name, int rank) {
        Shape s = shapes.get(name);
        if (s == null || (rank >= 0 && s.rank() != rank)) {
            throw new ModelLoadException(file + ": cannot infer the architecture: " + name + " is "
                    + (s == null ? "missing" : s + ", expected rank " + rank));
        }
        return s;
    }

    private static ArrayNode ints(ObjectNode c, List<Integer> values) {
        ArrayNode a = c.arrayNode();
        values.forEach(a::add);
        return a;
    }
}
