package io.jdiffusion.models.clip;

import io.jdiffusion.backend.graph.Activation;
import io.jdiffusion.backend.graph.Graph;
import io.jdiffusion.backend.graph.GraphBuilder;
import io.jdiffusion.backend.graph.Value;
import io.jdiffusion.core.DType;
import io.jdiffusion.core.Shape;
import io.jdiffusion.models.config.ClipTextConfig;
import io.jdiffusion.models.nn.Dense;
import io.jdiffusion.models.nn.Norm;
import io.jdiffusion.models.weights.Parameter;
import io.jdiffusion.models.weights.WeightReader;
import io.jdiffusion.models.weights.WeightSource;

import java.util.ArrayList;
import java.util.List;

/**
 * The CLIP text tower as transformers' {@code CLIPTextModel}: token + position embeddings, pre-LayerNorm
 * transformer layers with causal self-attention and an MLP, and a final LayerNorm. Stable Diffusion uses
 * the final-normed hidden states of every token (SD 2.x: of the penultimate layer, see
 * {@link ClipTextConfig#skipLastLayers()}); the pooled output is not needed.
 *
 * <p>SD calls the encoder without an attention mask, so padding tokens are attended (causally) like any other.
 */
public final class ClipTextEncoder {
    /** transformers' name of CLIPTextModelWithProjection's projection (outside {@code text_model.}). */
    public static final String PROJECTION = "text_projection";
    /** Graph input of {@link #penultimateGraph}: where each row is pooled. */
    public static final String EOS_INDEX = "eos_index";
    private final ClipTextConfig config;
    private final Parameter tokenEmbedding;
    private final Parameter positionEmbedding;
    private final List<Layer> layers;
    private final Norm finalNorm;
    /** {@code text_projection} of CLIPTextModelWithProjection (no bias); null for CLIPTextModel. */
    private final Dense projection;
    private final List<Parameter> parameters;

    /** One pre-LN encoder layer. */
    private record Layer(Norm norm1, Dense q, Dense k, Dense v, Dense out, Norm norm2, Dense fc1, Dense fc2) {
        static Layer load(WeightReader r, String p, ClipTextConfig c) {
            int d = c.hiddenSize();
            return new Layer(
                    Norm.load(r, p + ".layer_norm1", d),
                    Dense.load(r, p + ".self_attn.q_proj", d, d),
                    Dense.load(r, p + ".self_attn.k_proj", d, d),
                    Dense.load(r, p + ".self_attn.v_proj", d, d),
                    Dense.load(r, p + ".self_attn.out_proj", d, d),
                    Norm.load(r, p + ".layer_norm2", d),
                    Dense.load(r, p + ".mlp.fc1", c.intermediateSize(), d),
                    Dense.load(r, p + ".mlp.fc2", d, c.intermediateSize()));
        }

        Value forward(GraphBuilder g, Value x, ClipTextConfig c) {
            Value h = norm1.layerNorm(g, x, c.layerNormEps());
            Value a = g.attention(q.apply(g, h), k.apply(g, h), v.apply(g, h), c.numHeads(),
                    (float) (1.0 / Math.sqrt(c.headDim())), true);
            x = out.apply(g, a, Activation.NONE, x);
            h = norm2.layerNorm(g, x, c.layerNormEps());
            return fc2.apply(g, fc1.apply(g, h, c.activation(), null), Activation.NONE, x);
        }
    }

    private ClipTextEncoder(ClipTextConfig config, Parameter tokenEmbedding, Parameter positionEmbedding,
                            List<Layer> layers, Norm finalNorm, Dense projection, List<Parameter> parameters) {
        this.config = config;
        this.tokenEmbedding = tokenEmbedding;
        this.positionEmbedding = positionEmbedding;
        this.layers = List.copyOf(layers);
        this.finalNorm = finalNorm;
        this.projection = projection;
        this.parameters = List.copyOf(parameters);
    }

    /**
     * Takes the weights (transformers names without the {@code text_model.} prefix) from {@code source};
     * fails with one error listing every missing, mis-shaped or unexpected tensor.
     */
    public static ClipTextEncoder load(ClipTextConfig config, WeightSource source, String configSource) {
        WeightReader r = new WeightReader(source, "text encoder", configSource);
        int d = config.hiddenSize();
        Parameter token = r.take("embeddings.token_embedding.weight", config.vocabSize(), d);
        Parameter position = r.take("embeddings.position_embedding.weight", config.maxPositions(), d);
        List<Layer> layers = new ArrayList<>();
        for (int i = 0; i < config.numLayers(); i++) {
            layers.add(Layer.load(r, "encoder.layers." + i, config));
        }
        Norm finalNorm = Norm.load(r, "final_layer_norm", d);
        Dense projection = config.projectionDim() > 0
                ? Dense.load(r, PROJECTION, config.projectionDim(), d, false) : null;
        r.finish();
        return new ClipTextEncoder(config, token, position, layers, finalNorm, projection, r.parameters());
    }

    /**
     * Input 0: {@code input_ids} I64 [batch, maxPositions]. Output 0: the hidden states SD conditions on,
     * [batch, maxPositions, hiddenSize].
     */
    public Graph graph(int batch) {
        return graph(batch, false);
    }

    /**
     * As {@link #graph(int)}; with {@code allHiddenStates} the outputs after the first are transformers'
     * {@code hidden_states}: [0] the embeddings, [i] the output of layer i (before the final LayerNorm), for
     * every layer run.
     */
    public Graph graph(int batch, boolean allHiddenStates) {
        GraphBuilder g = new GraphBuilder("clip_text_encoder");
        int seq = config.maxPositions();
        Value ids = g.input("input_ids", Shape.of(batch, seq), DType.I64);
        g.scope("embeddings");
        Value x = g.add(g.embedding(ids, tokenEmbedding.in(g)), positionEmbedding.in(g));
        List<Value> hidden = new ArrayList<>();
        hidden.add(x);
        for (int i = 0; i < config.usedLayers(); i++) {
            g.scope("encoder.layers." + i);
            x = layers.get(i).forward(g, x, config);
            hidden.add(x);
        }
        g.scope("final_layer_norm");
        g.output(finalNorm.layerNorm(g, x, config.layerNormEps()));
        if (allHiddenStates) {
            hidden.forEach(g::output);
        }
        return g.build();
    }

    /**
     * The two outputs SDXL conditions on. Inputs: {@code input_ids} I64 [batch, maxPositions] and, with
     * {@code pooled}, {@code eos_index} I64 [batch]: the flat position {@code b * maxPositions + i} of each row's
     * pooling token (transformers pools at argmax(ids), the first EOS). Output 0: {@code hidden_states[-2]}, the
     * output of the penultimate layer without the final LayerNorm [batch, maxPositions, hiddenSize]; output 1
     * (with {@code pooled}): {@code text_embeds}, text_projection(final_layer_norm(last layer)[eos]) [batch,
     * projectionDim]. Without {@code pooled} the last layer is not run.
     */
    public Graph penultimateGraph(int batch, boolean pooled) {
        if (pooled && projection == null) {
            throw new IllegalStateException("this text encoder has no text_projection to pool with");
        }
        int n = config.numLayers();
        if (n < 2) {
            throw new IllegalStateException("the penultimate layer of a " + n + "-layer text encoder");
        }
        GraphBuilder g = new GraphBuilder("clip_text_encoder_penultimate");
        int seq = config.maxPositions();
        Value ids = g.input("input_ids", Shape.of(batch, seq), DType.I64);
        Value eos = pooled ? g.input(EOS_INDEX, Shape.of(batch), DType.I64) : null;
        g.scope("embeddings");
        Value x = g.add(g.embedding(ids, tokenEmbedding.in(g)), positionEmbedding.in(g));
        for (int i = 0; i < n - 1; i++) {
            g.scope("encoder.layers." + i);
            x = layers.get(i).forward(g, x, config);
        }
        g.output(x);
        if (pooled) {
            g.scope("encoder.layers." + (n - 1));
            Value last = layers.get(n - 1).forward(g, x, config);
            g.scope("final_layer_norm");
            Value normed = finalNorm.layerNorm(g, last, config.layerNormEps());
            g.scope("text_projection");
            Value rows = g.embedding(eos, g.reshape(normed, (long) batch * seq, config.hiddenSize()));
            g.output(projection.apply(g, rows));
        }
        return g.build();
    }

    /** The flat {@code eos_index} row of each id sequence: transformers' argmax(ids), the first maximal id. */
    public static long[] poolingIndices(long[] ids, int batch, int seq) {
        long[] out = new long[batch];
        for (int b = 0; b < batch; b++) {
            int best = 0;
            for (int i = 1; i < seq; i++) {
                if (ids[b * seq + i] > ids[b * seq + best]) {
                    best = i;
                }
            }
            out[b] = (long) b * seq + best;
        }
        return out;
    }

    /** Width of the pooled {@code text_embeds}; 0 when the encoder has no projection. */
    public int projectionDim() {
        return config.projectionDim();
    }

    public ClipTextConfig config() {
        return config;
    }

    public int hiddenSize() {
        return config.hiddenSize();
    }

    public int maxPositions() {
        return config.maxPositions();
    }

    /** Every weight under its diffusers name, in the order the network takes them. */
    public List<Parameter> parameters() {
        return parameters;
    }

    /** Elements of all weights. */
    public long parameterCount() {
        return parameters.stream().mapToLong(p -> p.tensor().elementCount()).sum();
    }
}
