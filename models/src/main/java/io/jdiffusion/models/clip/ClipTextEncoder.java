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
    private final ClipTextConfig config;
    private final Parameter tokenEmbedding;
    private final Parameter positionEmbedding;
    private final List<Layer> layers;
    private final Norm finalNorm;
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
                            List<Layer> layers, Norm finalNorm, List<Parameter> parameters) {
        this.config = config;
        this.tokenEmbedding = tokenEmbedding;
        this.positionEmbedding = positionEmbedding;
        this.layers = List.copyOf(layers);
        this.finalNorm = finalNorm;
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
        r.finish();
        return new ClipTextEncoder(config, token, position, layers, finalNorm, r.parameters());
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
