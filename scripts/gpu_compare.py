#!/usr/bin/env python3
"""Stable Diffusion on one GPU: PyTorch + diffusers beside jdiffusion, in one run (scripts/gpu-measure.sh compare).

  gpu_compare.py pytorch --out DIR [--model sd15|sdxl] [--size 512] [--steps 20,50]
      Times diffusers on the full-size architecture of the model (the configs jdiffusion bundles, in
      models/src/main/resources/io/jdiffusion/models/sd/MODEL) with random weights (seed 0), fp16 with SDPA:
      the text encoder(s) (batch 2), one UNet call (batch 2) eager and replayed as a CUDA graph, the VAE decode,
      and the whole pipeline with the Euler sampler (the sampler `jdiffusion bench` uses) and guidance, for each
      step count. Writes DIR/pytorch.json.
  gpu_compare.py profile-unet [--model sd15|sdxl] [--size 512] [--channels-last]
      One eager UNet call (batch 2, fp16, SDPA, the same random model) after warm-up, between cudaProfilerStart and
      cudaProfilerStop: run it under `ncu --profile-from-start off` to list the kernels PyTorch runs for it.
  gpu_compare.py report --pytorch P.json --jdiffusion J.json [J2.json ...] --out compare.json
      Puts the two side by side: one row per stage with jdiffusion's time over PyTorch's, printed and written
      as {device, commit, date, rows: [{stage, pytorch_ms, jdiffusion_ms, ratio}]}. J.json are
      `jdiffusion bench --json` outputs; a pipeline row takes the one whose step count matches.

The tokenizers are the repository's tiny CLIP tokenizer (test-data), the one `jdiffusion bench` uses for its
random models: its ids are valid CLIP ids, and tokenizing costs nothing next to the GPU work.
diffusers comes from its source on PYTHONPATH (the GPU machine has torch and transformers, no diffusers).
"""

import argparse
import datetime
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOKENIZER = os.path.join(ROOT, "test-data/src/main/resources/io/jdiffusion/testdata/tiny-sd/model/tokenizer")
CONFIGS = os.path.join(ROOT, "models/src/main/resources/io/jdiffusion/models/sd")
PROMPT = "a photograph of an astronaut riding a horse"
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
    from diffusers import (AutoencoderKL, EulerDiscreteScheduler, StableDiffusionPipeline, StableDiffusionXLPipeline,
                           UNet2DConditionModel)
    from diffusers.utils import logging as diffusers_logging
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer
    import diffusers
    import transformers

    diffusers_logging.disable_progress_bar()
    dev = torch.device("cuda")
    dtype = torch.float16
    sdxl = args.model == "sdxl"

    def config(name):
        return load_config(args.model, name)

    torch.manual_seed(0)
    t0 = time.time()
    with torch.device(dev):
        te = CLIPTextModel(CLIPTextConfig(**config("text_encoder"))).to(dtype).eval().requires_grad_(False)
        te2 = (CLIPTextModelWithProjection(CLIPTextConfig(**config("text_encoder_2"))).to(dtype).eval().requires_grad_(False)
               if sdxl else None)
        unet = UNet2DConditionModel.from_config(config("unet")).to(dtype).eval().requires_grad_(False)
        vae = AutoencoderKL.from_config(config("vae")).to(dtype).eval().requires_grad_(False)
    torch.cuda.synchronize()
    res = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__, "cuda": torch.version.cuda,
           "cudnn": torch.backends.cudnn.version(), "diffusers": diffusers.__version__,
           "transformers": transformers.__version__, "python": platform.python_version(), "dtype": "fp16",
           "attention": type(next(iter(unet.attn_processors.values()))).__name__, "build_s": time.time() - t0,
           "model": args.model, "size": args.size}
    log("pytorch:", json.dumps(res))
    tok = CLIPTokenizer.from_pretrained(TOKENIZER)
    ids = tok(["", PROMPT], padding="max_length", max_length=77, truncation=True, return_tensors="pt").input_ids.to(dev)
    g = torch.Generator("cpu").manual_seed(0)
    lat_hw = args.size // 8
    lat = torch.randn((2, 4, lat_hw, lat_hw), generator=g).to(dev, dtype)
    ctx = torch.randn((2, 77, unet.config.cross_attention_dim), generator=g).to(dev, dtype)
    z = torch.randn((1, 4, lat_hw, lat_hw), generator=g).to(dev, dtype)
    t = torch.tensor(500, device=dev)
    added = None
    if sdxl:  # pooled text embedding and (original size, crop, target size) of both CFG rows
        added = {"text_embeds": torch.randn((2, te2.config.projection_dim), generator=g).to(dev, dtype),
                 "time_ids": torch.tensor([[args.size, args.size, 0, 0, args.size, args.size]] * 2).to(dev, dtype)}
    with torch.inference_mode():
        if sdxl:
            f_te = lambda: (te(ids, output_hidden_states=True).hidden_states[-2],  # noqa: E731
                            te2(ids, output_hidden_states=True).hidden_states[-2])
        else:
            f_te = lambda: te(ids)[0]  # noqa: E731
        f_unet = lambda: unet(lat, t, encoder_hidden_states=ctx, added_cond_kwargs=added).sample  # noqa: E731
        f_vae = lambda: vae.decode(z).sample  # noqa: E731
        res["unet_output_finite"] = bool(torch.isfinite(f_unet()).all())
        res["vae_output_finite"] = bool(torch.isfinite(f_vae()).all())
        res["text_encoder"] = timed(f_te, 5, 20)
        res["unet"] = timed(f_unet, 5, 20)
        res["vae"] = timed(f_vae, 3, 10)
        log(f"pytorch: text {res['text_encoder']['median_ms']:.2f} ms, unet {res['unet']['median_ms']:.2f} ms, "
            f"vae {res['vae']['median_ms']:.2f} ms")
        res["unet_graph"] = graph_replay(f_unet, 20)
        log(f"pytorch: unet as a CUDA graph {res['unet_graph']['median_ms']:.2f} ms")
        scheduler = EulerDiscreteScheduler.from_config(config("scheduler"))
        if sdxl:
            pipe = StableDiffusionXLPipeline(vae=vae, text_encoder=te, text_encoder_2=te2, tokenizer=tok, tokenizer_2=tok,
                                             unet=unet, scheduler=scheduler)
        else:
            pipe = StableDiffusionPipeline(vae=vae, text_encoder=te, tokenizer=tok, unet=unet, scheduler=scheduler,
                                           safety_checker=None, feature_extractor=None, requires_safety_checker=False)
        pipe.set_progress_bar_config(disable=True)

        def generate(steps):
            return pipe(PROMPT, height=args.size, width=args.size, num_inference_steps=steps, guidance_scale=7.5,
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
    # the process's peak RSS (Linux reports KiB): CUDA libraries' pages count here as in jdiffusion's rss_peak
    res["peak_rss_GiB"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "pytorch.json"), "w") as f:
        json.dump(res, f, indent=1)


def profile_unet(args):
    import torch
    from diffusers import UNet2DConditionModel

    dev = torch.device("cuda")
    torch.manual_seed(0)
    with torch.device(dev):
        unet = UNet2DConditionModel.from_config(load_config(args.model, "unet")).to(torch.float16).eval().requires_grad_(False)
    g = torch.Generator("cpu").manual_seed(0)
    lat = torch.randn((2, 4, args.size // 8, args.size // 8), generator=g).to(dev, torch.float16)
    ctx = torch.randn((2, 77, unet.config.cross_attention_dim), generator=g).to(dev, torch.float16)
    if args.channels_last:
        unet = unet.to(memory_format=torch.channels_last)
        lat = lat.to(memory_format=torch.channels_last)
    t = torch.tensor(500, device=dev)
    with torch.inference_mode():
        for _ in range(5):
            unet(lat, t, encoder_hidden_states=ctx)
        torch.cuda.synchronize()
        torch.cuda.profiler.start()
        unet(lat, t, encoder_hidden_states=ctx)
        torch.cuda.synchronize()
        torch.cuda.profiler.stop()
    log(f"profile-unet: one call of {args.model} at {args.size}, channels_last={args.channels_last}")


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
           "rows": rows, "memory_GiB": memory(pt, first)}
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1)
    log(f"{pt.get('model', '?')} {pt.get('size', '?')}px, batch 2, fp16 on {out['device']} (commit {out['commit']}, "
        f"{out['date']})")
    log(f"jdiffusion: {first.get('device')}, precision {first.get('precision_used')}; PyTorch {pt.get('torch')}, "
        f"diffusers {pt.get('diffusers')}, {pt.get('attention')}")
    log(f"{'stage':<14} {'PyTorch ms':>11} {'jdiffusion ms':>14} {'ratio':>7}")
    for r in rows:
        fmt = lambda v: f"{v:.2f}" if v is not None else "-"  # noqa: E731
        log(f"{r['stage']:<14} {fmt(r['pytorch_ms']):>11} {fmt(r['jdiffusion_ms']):>14} {fmt(r['ratio']):>7}")
    log(f"memory GiB: {out['memory_GiB']}")


def memory(pt, jd):
    """Peak device memory and peak host RSS of both, in GiB (None where not reported)."""
    gib = lambda v: v / 2**30 if v is not None else None  # noqa: E731
    return {"pytorch_device": pt.get("peak_device_GiB"), "pytorch_rss": pt.get("peak_rss_GiB"),
            "jdiffusion_device": gib(jd.get("peak_device_bytes")), "jdiffusion_rss": gib(jd.get("peak_rss_bytes")),
            "jdiffusion_rss_file": gib((jd.get("memory_bytes") or {}).get("rss_file"))}


def load_config(model, name):
    """A bundled diffusers/transformers config of the model (sd15, sd21, sdxl) as constructor arguments."""
    with open(os.path.join(CONFIGS, model, name + ".json")) as f:
        return {k: v for k, v in json.load(f).items()
                if not k.startswith("_") and k not in ("architectures", "model_type", "transformers_version", "torch_dtype")}


def ms(result, key):
    """A stage's median in ms, or None where it did not run."""
    return (result.get(key) or {}).get("median_ms")


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("pytorch")
    p.add_argument("--out", required=True)
    p.add_argument("--steps", default="20,50")
    p.add_argument("--model", default="sd15", choices=["sd15", "sdxl"])
    p.add_argument("--size", type=int, default=512)
    u = sub.add_parser("profile-unet")
    u.add_argument("--model", default="sd15", choices=["sd15"])
    u.add_argument("--size", type=int, default=512)
    u.add_argument("--channels-last", action="store_true")
    r = sub.add_parser("report")
    r.add_argument("--pytorch", required=True)
    r.add_argument("--jdiffusion", nargs="+", required=True)
    r.add_argument("--out", required=True)
    r.add_argument("--commit", default=os.environ.get("JDIFFUSION_COMMIT") or git_commit())
    r.add_argument("--date", default=None)
    args = ap.parse_args()
    {"pytorch": pytorch, "profile-unet": profile_unet, "report": report}[args.cmd](args)


def git_commit():
    try:
        return subprocess.run(["git", "-C", ROOT, "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=10).stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


if __name__ == "__main__":
    sys.exit(main())
