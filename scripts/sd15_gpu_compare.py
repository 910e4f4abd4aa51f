#!/usr/bin/env python3
"""SD 1.5 on one GPU: PyTorch + diffusers beside jdiffusion, in one run (scripts/gpu-measure.sh compare).

  sd15_gpu_compare.py pytorch --out DIR [--steps 20,50]
      Times diffusers on the full-size SD 1.5 architecture with random weights (seed 0), fp16 with SDPA:
      the text encoder (batch 2), one UNet call (batch 2, 64x64 latents) eager and replayed as a CUDA graph,
      the VAE decode (1 -> 512x512), and the whole pipeline at 512x512 with the Euler sampler (the sampler
      `jdiffusion bench` uses) and guidance, for each step count. Writes DIR/pytorch.json.
  sd15_gpu_compare.py report --pytorch P.json --jdiffusion J.json [J2.json ...] --out compare.json
      Puts the two side by side: one row per stage with jdiffusion's time over PyTorch's, printed and written
      as {device, commit, date, rows: [{stage, pytorch_ms, jdiffusion_ms, ratio}]}. J.json are
      `jdiffusion bench --json` outputs; a pipeline row takes the one whose step count matches.

The tokenizer is the repository's tiny CLIP tokenizer (test-data), the one `jdiffusion bench` uses for its
random model: its ids are valid CLIP ids, and tokenizing costs nothing next to the GPU work.
diffusers comes from its source on PYTHONPATH (the GPU machine has torch and transformers, no diffusers).
"""

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOKENIZER = os.path.join(ROOT, "test-data/src/main/resources/io/jdiffusion/testdata/tiny-sd/model/tokenizer")
PROMPT = "a photograph of an astronaut riding a horse"
SCHEDULER = {"beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "scaled_linear", "num_train_timesteps": 1000,
             "steps_offset": 1, "timestep_spacing": "leading", "prediction_type": "epsilon"}
TEXT = dict(vocab_size=49408, hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
            max_position_embeddings=77, hidden_act="quick_gelu", projection_dim=768, layer_norm_eps=1e-5,
            bos_token_id=0, pad_token_id=1, eos_token_id=2)
UNET = dict(sample_size=64, in_channels=4, out_channels=4, layers_per_block=2, block_out_channels=(320, 640, 1280, 1280),
            down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
            up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3, cross_attention_dim=768, attention_head_dim=8,
            norm_num_groups=32, norm_eps=1e-5, act_fn="silu", flip_sin_to_cos=True, freq_shift=0)
VAE = dict(in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 4,
           up_block_types=("UpDecoderBlock2D",) * 4, block_out_channels=(128, 256, 512, 512), layers_per_block=2,
           latent_channels=4, norm_num_groups=32, sample_size=512, act_fn="silu")
STAGES = ["text_encoder", "unet", "unet_vs_graph", "vae", "pipeline_20", "pipeline_50"]


def log(*a):
    print(*a, flush=True)


def timed(fn, warmup, repeats):
    """Median of CUDA-event-timed calls after warm-up calls, in ms."""
    import torch

    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    ms = []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        ms.append(start.elapsed_time(end))
    return {"median_ms": statistics.median(ms), "min_ms": min(ms), "max_ms": max(ms), "n": repeats}


def graph_replay(fn, repeats):
    """fn captured as one CUDA graph, its replays timed: the GPU time without launch overhead."""
    import torch

    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):
            fn()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        fn()
    result = timed(graph.replay, 3, repeats)
    del graph
    return result


def pytorch(args):
    import torch
    from diffusers import AutoencoderKL, EulerDiscreteScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from diffusers.utils import logging as diffusers_logging
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer
    import diffusers
    import transformers

    diffusers_logging.disable_progress_bar()
    dev = torch.device("cuda")
    dtype = torch.float16
    torch.manual_seed(0)
    t0 = time.time()
    with torch.device(dev):
        te = CLIPTextModel(CLIPTextConfig(**TEXT)).to(dtype).eval().requires_grad_(False)
        unet = UNet2DConditionModel(**UNET).to(dtype).eval().requires_grad_(False)
        vae = AutoencoderKL(**VAE).to(dtype).eval().requires_grad_(False)
    torch.cuda.synchronize()
    res = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__, "cuda": torch.version.cuda,
           "cudnn": torch.backends.cudnn.version(), "diffusers": diffusers.__version__,
           "transformers": transformers.__version__, "python": platform.python_version(), "dtype": "fp16",
           "attention": type(next(iter(unet.attn_processors.values()))).__name__, "build_s": time.time() - t0}
    log("pytorch:", json.dumps(res))
    tok = CLIPTokenizer.from_pretrained(TOKENIZER)
    ids = tok(["", PROMPT], padding="max_length", max_length=77, truncation=True, return_tensors="pt").input_ids.to(dev)
    g = torch.Generator("cpu").manual_seed(0)
    lat = torch.randn((2, 4, 64, 64), generator=g).to(dev, dtype)
    ctx = torch.randn((2, 77, 768), generator=g).to(dev, dtype)
    z = torch.randn((1, 4, 64, 64), generator=g).to(dev, dtype)
    t = torch.tensor(500, device=dev)
    with torch.inference_mode():
        f_te = lambda: te(ids)[0]  # noqa: E731
        f_unet = lambda: unet(lat, t, encoder_hidden_states=ctx).sample  # noqa: E731
        f_vae = lambda: vae.decode(z).sample  # noqa: E731
        assert torch.isfinite(f_unet()).all() and torch.isfinite(f_vae()).all(), "non-finite output"
        res["text_encoder"] = timed(f_te, 5, 20)
        res["unet"] = timed(f_unet, 5, 20)
        res["vae"] = timed(f_vae, 3, 10)
        log(f"pytorch: text {res['text_encoder']['median_ms']:.2f} ms, unet {res['unet']['median_ms']:.2f} ms, "
            f"vae {res['vae']['median_ms']:.2f} ms")
        res["unet_graph"] = graph_replay(f_unet, 20)
        log(f"pytorch: unet as a CUDA graph {res['unet_graph']['median_ms']:.2f} ms")
        pipe = StableDiffusionPipeline(vae=vae, text_encoder=te, tokenizer=tok, unet=unet,
                                       scheduler=EulerDiscreteScheduler(**SCHEDULER), safety_checker=None,
                                       feature_extractor=None, requires_safety_checker=False)
        pipe.set_progress_bar_config(disable=True)

        def generate(steps):
            return pipe(PROMPT, height=512, width=512, num_inference_steps=steps, guidance_scale=7.5,
                        generator=torch.Generator("cuda").manual_seed(0), output_type="np").images

        generate(3)
        torch.cuda.reset_peak_memory_stats()
        for steps in [int(s) for s in args.steps.split(",")]:
            ms = []
            for _ in range(3):
                torch.cuda.synchronize()
                start = time.perf_counter()
                generate(steps)
                torch.cuda.synchronize()
                ms.append((time.perf_counter() - start) * 1e3)
            res[f"pipeline_{steps}"] = {"median_ms": statistics.median(ms), "min_ms": min(ms), "max_ms": max(ms), "n": 3}
            log(f"pytorch: pipeline {steps} steps {res[f'pipeline_{steps}']['median_ms']:.1f} ms")
        res["peak_device_GiB"] = torch.cuda.max_memory_allocated() / 2**30
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "pytorch.json"), "w") as f:
        json.dump(res, f, indent=1)


def report(args):
    try:
        with open(args.pytorch) as f:
            pt = json.load(f)
    except (OSError, ValueError) as e:
        log(f"{args.pytorch}: no PyTorch result ({e})")
        pt = {}
    jd = []
    for path in args.jdiffusion:
        try:
            with open(path) as f:
                jd.append(json.loads([line for line in f if line.startswith("{")][-1]))
        except (OSError, IndexError, ValueError) as e:
            log(f"{path}: no bench result ({e})")
    first = jd[0] if jd else {}
    pipelines = {j["steps"]: j["pipeline_ms"] for j in jd if "pipeline_ms" in j}
    pairs = {
        "text_encoder": (ms(pt, "text_encoder"), first.get("text_encoder_ms")),
        "unet": (ms(pt, "unet"), first.get("unet_ms")),
        "unet_vs_graph": (ms(pt, "unet_graph"), first.get("unet_ms")),
        "vae": (ms(pt, "vae"), first.get("vae_decode_ms")),
        "pipeline_20": (ms(pt, "pipeline_20"), pipelines.get(20)),
        "pipeline_50": (ms(pt, "pipeline_50"), pipelines.get(50)),
    }
    rows = []
    for stage in STAGES:
        p, j = pairs[stage]
        ratio = j / p if p and j else None
        rows.append({"stage": stage, "pytorch_ms": p, "jdiffusion_ms": j, "ratio": ratio})
    out = {"device": pt.get("device") or first.get("device"), "commit": args.commit, "date": args.date or datetime.date.today().isoformat(),
           "rows": rows}
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1)
    log(f"SD 1.5, 512x512, batch 2, fp16 on {out['device']} (commit {out['commit']}, {out['date']})")
    log(f"jdiffusion: {first.get('device')}, precision {first.get('precision_used')}; PyTorch {pt.get('torch')}, "
        f"diffusers {pt.get('diffusers')}, {pt.get('attention')}")
    log(f"{'stage':<14} {'PyTorch ms':>11} {'jdiffusion ms':>14} {'ratio':>7}")
    for r in rows:
        fmt = lambda v: f"{v:.2f}" if v is not None else "-"  # noqa: E731
        log(f"{r['stage']:<14} {fmt(r['pytorch_ms']):>11} {fmt(r['jdiffusion_ms']):>14} {fmt(r['ratio']):>7}")


def ms(result, key):
    """A stage's median in ms, or None where it did not run."""
    return (result.get(key) or {}).get("median_ms")


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("pytorch")
    p.add_argument("--out", required=True)
    p.add_argument("--steps", default="20,50")
    r = sub.add_parser("report")
    r.add_argument("--pytorch", required=True)
    r.add_argument("--jdiffusion", nargs="+", required=True)
    r.add_argument("--out", required=True)
    r.add_argument("--commit", default=os.environ.get("JDIFFUSION_COMMIT") or git_commit())
    r.add_argument("--date", default=None)
    args = ap.parse_args()
    {"pytorch": pytorch, "report": report}[args.cmd](args)


def git_commit():
    try:
        return subprocess.run(["git", "-C", ROOT, "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=10).stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


if __name__ == "__main__":
    sys.exit(main())
