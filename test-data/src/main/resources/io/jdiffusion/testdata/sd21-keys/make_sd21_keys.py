"""Writes sd21_keys_ldm.json: every tensor name and shape of an SD 2.1 (768-v) single-file checkpoint.

Enumerated from the original modules, not from jdiffusion's key map: the LDM repository's
openaimodel.UNetModel and FrozenOpenCLIPEmbedder (OpenCLIP ViT-H-14 text tower, visual tower deleted) with
the settings of configs/stable-diffusion/v2-inference-v.yaml. The VAE is SD 1.5's (same ddconfig), taken
from ../sd15-keys/sd15_keys_ldm.json. Run: python3 make_sd21_keys.py (no third-party packages).
"""
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
# v2-inference-v.yaml
MODEL_CHANNELS, IN_CH, OUT_CH, NUM_RES, MULT = 320, 4, 4, 2, [1, 2, 4, 4]
ATTN_RES, HEAD_CH, CONTEXT, DEPTH = [4, 2, 1], 64, 1024, 1
TEXT_WIDTH, TEXT_LAYERS, VOCAB, CTX = 1024, 24, 49408, 77

keys = {}


def put(name, *shape):
    keys[name] = list(shape)


def resblock(p, cin, cout, emb):
    put(p + "in_layers.0.weight", cin); put(p + "in_layers.0.bias", cin)
    put(p + "in_layers.2.weight", cout, cin, 3, 3); put(p + "in_layers.2.bias", cout)
    put(p + "emb_layers.1.weight", cout, emb); put(p + "emb_layers.1.bias", cout)
    put(p + "out_layers.0.weight", cout); put(p + "out_layers.0.bias", cout)
    put(p + "out_layers.3.weight", cout, cout, 3, 3); put(p + "out_layers.3.bias", cout)
    if cin != cout:
        put(p + "skip_connection.weight", cout, cin, 1, 1); put(p + "skip_connection.bias", cout)


def spatial_transformer(p, c):
    put(p + "norm.weight", c); put(p + "norm.bias", c)
    put(p + "proj_in.weight", c, c); put(p + "proj_in.bias", c)  # use_linear_in_transformer: nn.Linear
    for d in range(DEPTH):
        b = p + "transformer_blocks.%d." % d
        for attn, ctx in (("attn1", c), ("attn2", CONTEXT)):
            put(b + attn + ".to_q.weight", c, c)
            put(b + attn + ".to_k.weight", c, ctx)
            put(b + attn + ".to_v.weight", c, ctx)
            put(b + attn + ".to_out.0.weight", c, c); put(b + attn + ".to_out.0.bias", c)
        put(b + "ff.net.0.proj.weight", 8 * c, c); put(b + "ff.net.0.proj.bias", 8 * c)
        put(b + "ff.net.2.weight", c, 4 * c); put(b + "ff.net.2.bias", c)
        for n in ("norm1", "norm2", "norm3"):
            put(b + n + ".weight", c); put(b + n + ".bias", c)
    put(p + "proj_out.weight", c, c); put(p + "proj_out.bias", c)


def unet():
    u = "model.diffusion_model."
    emb = 4 * MODEL_CHANNELS
    put(u + "time_embed.0.weight", emb, MODEL_CHANNELS); put(u + "time_embed.0.bias", emb)
    put(u + "time_embed.2.weight", emb, emb); put(u + "time_embed.2.bias", emb)
    put(u + "input_blocks.0.0.weight", MODEL_CHANNELS, IN_CH, 3, 3); put(u + "input_blocks.0.0.bias", MODEL_CHANNELS)
    ch, ds, block, skips = MODEL_CHANNELS, 1, 1, [MODEL_CHANNELS]
    for level, mult in enumerate(MULT):
        for _ in range(NUM_RES):
            resblock(u + "input_blocks.%d.0." % block, ch, mult * MODEL_CHANNELS, emb)
            ch = mult * MODEL_CHANNELS
            if ds in ATTN_RES:
                spatial_transformer(u + "input_blocks.%d.1." % block, ch)
            skips.append(ch)
            block += 1
        if level != len(MULT) - 1:
            put(u + "input_blocks.%d.0.op.weight" % block, ch, ch, 3, 3); put(u + "input_blocks.%d.0.op.bias" % block, ch)
            skips.append(ch)
            block += 1
            ds *= 2
    resblock(u + "middle_block.0.", ch, ch, emb)
    spatial_transformer(u + "middle_block.1.", ch)
    resblock(u + "middle_block.2.", ch, ch, emb)
    block = 0
    for level, mult in list(enumerate(MULT))[::-1]:
        for i in range(NUM_RES + 1):
            skip = skips.pop()
            p = u + "output_blocks.%d." % block
            resblock(p + "0.", ch + skip, mult * MODEL_CHANNELS, emb)
            ch = mult * MODEL_CHANNELS
            layer = 1
            if ds in ATTN_RES:
                spatial_transformer(p + "1.", ch)
                layer = 2
            if level and i == NUM_RES:
                put(p + "%d.conv.weight" % layer, ch, ch, 3, 3); put(p + "%d.conv.bias" % layer, ch)
                ds //= 2
            block += 1
    put(u + "out.0.weight", MODEL_CHANNELS); put(u + "out.0.bias", MODEL_CHANNELS)
    put(u + "out.2.weight", OUT_CH, MODEL_CHANNELS, 3, 3); put(u + "out.2.bias", OUT_CH)


def open_clip():
    t = "cond_stage_model.model."
    w = TEXT_WIDTH
    put(t + "positional_embedding", CTX, w)
    put(t + "text_projection", w, w)
    put(t + "logit_scale")
    put(t + "token_embedding.weight", VOCAB, w)
    put(t + "ln_final.weight", w); put(t + "ln_final.bias", w)
    for i in range(TEXT_LAYERS):
        r = t + "transformer.resblocks.%d." % i
        put(r + "ln_1.weight", w); put(r + "ln_1.bias", w)
        put(r + "attn.in_proj_weight", 3 * w, w); put(r + "attn.in_proj_bias", 3 * w)
        put(r + "attn.out_proj.weight", w, w); put(r + "attn.out_proj.bias", w)
        put(r + "ln_2.weight", w); put(r + "ln_2.bias", w)
        put(r + "mlp.c_fc.weight", 4 * w, w); put(r + "mlp.c_fc.bias", 4 * w)
        put(r + "mlp.c_proj.weight", w, 4 * w); put(r + "mlp.c_proj.bias", w)


def vae():
    with open(os.path.join(HERE, "..", "sd15-keys", "sd15_keys_ldm.json")) as f:
        for e in json.load(f)["tensors"]:
            if e["name"].startswith("first_stage_model."):
                keys[e["name"]] = e["shape"]


unet()
open_clip()
vae()
count = lambda prefix: sum(1 for k in keys if k.startswith(prefix))
params = lambda prefix: sum(eval("*".join(map(str, s)) or "1") for k, s in keys.items() if k.startswith(prefix))
summary = {p: {"tensors": count(p), "parameters": params(p)}
           for p in ("model.diffusion_model.", "cond_stage_model.model.", "first_stage_model.")}
with open(os.path.join(HERE, "sd21_keys_ldm.json"), "w") as f:
    json.dump({"layout": "SD 2.1 768-v single file (LDM v2-inference-v.yaml); see make_sd21_keys.py",
               "summary": summary,
               "tensors": [{"name": k, "shape": s} for k, s in sorted(keys.items())]}, f, indent=0)
print(len(keys), json.dumps(summary))
