#!/usr/bin/env python3
"""Stable Diffusion on this machine's CPU: PyTorch + diffusers and ONNX Runtime beside jdiffusion, in one sitting
(scripts/cpu-compare.sh runs all of it).

  cpu_compare.py export PART --size S --dir DIR [--model sd15|sdxl]
      Exports one part of the full-size architecture (random weights, seed 0, fp32) to DIR/PART-S/model.onnx with
      static shapes, for ONNX Runtime: `te` (batch 2 x 77 tokens), `unet` (one call, batch 2, S/8 latents),
      `vae` (the decoder, batch 1, S/8 latents to S pixels).
  cpu_compare.py run ENGINE PART --size S --out DIR [--model sd15|sdxl] [--threads 2] [--repeats N] [--warmup N]
                     [--onnx DIR] [--process P]
      Times one part on one engine (`pytorch` or `ort`) in this process, so that its peak RSS is the part's own,
      and writes DIR/ENGINE-MODEL-PART-S-pP.json: the median and every timed run in ms, warm-up runs, peak RSS.
  cpu_compare.py report --peers DIR --jdiffusion J.json [J2.json ...] [--jdiffusion-f16 F.json ...] --out compare.json
      One row per stage and size: jdiffusion's median beside PyTorch's and ONNX Runtime's (each the median over
      its processes: jdiffusion's bench outputs of one size, one per JVM, and the peers' files of one part), with the ratios
      (jdiffusion over the peer), and the N-step pipeline beside the sum of each peer's parts (text encoder +
      N UNet calls + VAE decode). J.json are `jdiffusion bench --json` outputs; F.json the same with
      `--random-weights f16`, reported as a row `unet_f16` beside the peers' (fp32) UNet call.

The architecture comes from the configs jdiffusion bundles (models/src/main/resources/io/jdiffusion/models/sd),
so every engine runs the same shapes as `jdiffusion bench`. Batches follow it: text encoder and UNet batch 2
(one image with guidance), VAE batch 1. diffusers comes from its source on PYTHONPATH.
"""

import argparse
import datetime
import json
import os
import platform
import resource
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gpu_compare import git_commit, load_config  # noqa: E402  (one reader of the bundled configs)

PARTS = ["te", "unet", "vae"]
ENGINES = ["pytorch", "ort"]
# The first ONNX Runtime runs are slow (allocator and kernel warm-up), so both engines get two untimed runs by default.
WARMUP = 2


def log(*a):
    print(*a, flush=True, file=sys.stderr)


def build(model, part):
    """The part as a torch module with random weights (seed 0)."""
    import torch
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    torch.manual_seed(0)
    if part == "te":
        te = CLIPTextModel(CLIPTextConfig(**load_config(model, "text_encoder"))).eval().requires_grad_(False)
        if model != "sdxl":
            return _Call(lambda i: te(i)[0], te)
        te2 = CLIPTextModelWithProjection(CLIPTextConfig(**load_config(model, "text_encoder_2"))).eval().requires_grad_(False)
        return _Call(lambda i: (te(i, output_hidden_states=True).hidden_states[-2],
                                te2(i, output_hidden_states=True).hidden_states[-2]), te, te2)
    if part == "unet":
        return unet_wrapper(UNet2DConditionModel.from_config(load_config(model, "unet")).eval().requires_grad_(False),
                            model == "sdxl")
    vae = AutoencoderKL.from_config(load_config(model, "vae")).eval().requires_grad_(False)
    return _Call(lambda z: vae.decode(z).sample, vae)


class _Call:
    """A callable over modules, exportable as one torch module."""

    def __init__(self, fn, *modules):
        import torch

        class M(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.parts = torch.nn.ModuleList(modules)

            def forward(self, *x):
                return fn(*x)

        self.module = M().eval()

    def __call__(self, *x):
        return self.module(*x)


def inputs(model, part, size):
    """The part's inputs at this image size, as torch tensors (seed 0)."""
    import torch

    g = torch.Generator("cpu").manual_seed(0)
    lat = size // 8
    if part == "te":
        return (torch.randint(0, 49408, (2, 77), generator=g),)
    if part == "vae":
        return (torch.randn((1, 4, lat, lat), generator=g),)
    ctx_dim = load_config(model, "unet")["cross_attention_dim"]
    args = (torch.randn((2, 4, lat, lat), generator=g), torch.tensor([500, 500]), torch.randn((2, 77, ctx_dim), generator=g))
    if model == "sdxl":  # pooled text embedding and (original size, crop, target size) of both guidance rows
        args += (torch.randn((2, 1280), generator=g), torch.tensor([[size, size, 0, 0, size, size]] * 2, dtype=torch.float32))
    return args


def unet_wrapper(unet, sdxl):
    import torch

    class U(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.u = unet

        def forward(self, sample, timestep, ctx, text_embeds=None, time_ids=None):
            kw = {"added_cond_kwargs": {"text_embeds": text_embeds, "time_ids": time_ids}} if sdxl else {}
            return self.u(sample, timestep, encoder_hidden_states=ctx, return_dict=False, **kw)[0]

    return U().eval()


def torch_callable(model, part, size):
    """(module to call or export, positional inputs)."""
    module = build(model, part)
    return getattr(module, "module", module), inputs(model, part, size)


def export(args):
    import torch

    torch.set_num_threads(args.threads)
    module, x = torch_callable(args.model, args.part, args.size)
    out = os.path.join(args.dir, f"{args.model}-{args.part}-{args.size}")
    os.makedirs(out, exist_ok=True)
    t0 = time.perf_counter()
    prog = torch.onnx.export(module, x, input_names=[f"in{i}" for i in range(len(x))], dynamo=True, opset_version=18)
    prog.save(os.path.join(out, "model.onnx"), external_data=True)
    log(f"export {args.model} {args.part} {args.size}: {time.perf_counter() - t0:.1f} s -> {out}")


def run(args):
    res = {"engine": args.engine, "part": args.part, "model": args.model, "size": args.size, "threads": args.threads,
           "python": platform.python_version()}
    if args.engine == "pytorch":
        import torch
        import diffusers

        torch.set_num_threads(args.threads)
        module, x = torch_callable(args.model, args.part, args.size)
        res.update(torch=torch.__version__, diffusers=diffusers.__version__)
        if args.part == "unet":
            res["attention"] = type(next(iter(module.u.attn_processors.values()))).__name__

        def call():
            with torch.inference_mode():
                module(*x)
    else:
        import onnxruntime as ort

        x = inputs(args.model, args.part, args.size)
        so = ort.SessionOptions()
        so.intra_op_num_threads = args.threads
        so.inter_op_num_threads = 1
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        t0 = time.perf_counter()
        path = os.path.join(args.onnx, f"{args.model}-{args.part}-{args.size}", "model.onnx")
        session = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
        res.update(ort=ort.__version__, session_load_ms=(time.perf_counter() - t0) * 1e3)
        by_name = {f"in{i}": t.numpy() for i, t in enumerate(x)}
        feed = {i.name: by_name[i.name] for i in session.get_inputs()}  # the exporter drops inputs it folded

        def call():
            session.run(None, feed)

    warm = []
    for _ in range(args.warmup):
        t0 = time.perf_counter(); call(); warm.append((time.perf_counter() - t0) * 1e3)
    ms = []
    for _ in range(args.repeats):
        t0 = time.perf_counter(); call(); ms.append((time.perf_counter() - t0) * 1e3)
    res.update(warmup_ms=warm, runs_ms=ms, median_ms=statistics.median(ms),
               peak_rss_bytes=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    os.makedirs(args.out, exist_ok=True)
    res["process"] = args.process
    with open(os.path.join(args.out, f"{args.engine}-{args.model}-{args.part}-{args.size}-p{args.process}.json"), "w") as f:
        json.dump(res, f, indent=1)
    log(f"{args.engine} {args.model} {args.part} {args.size}: median {res['median_ms']:.1f} ms of {len(ms)}, "
        f"peak RSS {res['peak_rss_bytes'] / 2**30:.2f} GiB")


def report(args):
    runs = {}
    for name in sorted(os.listdir(args.peers)):
        if name.endswith(".json") and name.split("-")[0] in ENGINES:
            with open(os.path.join(args.peers, name)) as f:
                r = json.load(f)
            runs.setdefault((r["engine"], r["part"], r["size"]), []).append(r)
    # one part's processes: the median of their medians, each process's median kept, the largest peak RSS
    peers = {k: {"median_ms": statistics.median(r["median_ms"] for r in rs), "process_ms": [r["median_ms"] for r in rs],
                 "peak_rss_bytes": max(r["peak_rss_bytes"] for r in rs)} for k, rs in runs.items()}
    jd = bench_results(args.jdiffusion)
    jd16 = bench_results(args.jdiffusion_f16 or [])
    keys = {"te": "text_encoder_ms", "unet": "unet_ms", "vae": "vae_decode_ms"}
    rows = []
    for size in sorted(jd):
        j = jd[size]
        for part in PARTS:
            row = {"stage": part, "size": size, "jdiffusion_ms": j.get(keys[part]), "jdiffusion_jvms_ms": j.get(keys[part] + "_jvms")}
            for engine in ENGINES:
                p = peer(peers, engine, part, size)
                row[f"{engine}_ms"] = p["median_ms"] if p else None
                row[f"{engine}_processes_ms"] = p["process_ms"] if p else None
                row[f"{engine}_peak_rss_bytes"] = p["peak_rss_bytes"] if p else None
                row[f"ratio_{engine}"] = ratio(row["jdiffusion_ms"], row[f"{engine}_ms"])
            rows.append(row)
        if size in jd16 and jd16[size].get("unet_ms"):
            row = {"stage": "unet_f16", "size": size, "jdiffusion_ms": jd16[size]["unet_ms"],
                   "jdiffusion_jvms_ms": jd16[size].get("unet_ms_jvms")}
            for engine in ENGINES:
                p = peer(peers, engine, "unet", size)
                row[f"{engine}_ms"] = p["median_ms"] if p else None
                row[f"ratio_{engine}"] = ratio(row["jdiffusion_ms"], row[f"{engine}_ms"])
            rows.append(row)
        if j.get("pipeline_ms") and j.get("steps"):
            n = j["steps"]
            row = {"stage": f"pipeline_{n}", "size": size, "jdiffusion_ms": j["pipeline_ms"]}
            for engine in ENGINES:
                parts = [peer(peers, engine, p, size) for p in PARTS]
                total = (parts[0]["median_ms"] + n * parts[1]["median_ms"] + parts[2]["median_ms"]) if all(parts) else None
                row[f"{engine}_ms"] = total
                row[f"{engine}_is_sum_of_parts"] = True
                row[f"ratio_{engine}"] = ratio(j["pipeline_ms"], total)
            rows.append(row)
        rows.append({"stage": "peak_rss", "size": size, "jdiffusion_bytes": j.get("peak_rss_bytes"),
                     "memory_bytes": j.get("memory_bytes")})
    first = next(iter(jd.values()), {})
    out = {"machine": machine(), "device": first.get("device"), "commit": args.commit,
           "date": args.date or datetime.date.today().isoformat(), "rows": rows}
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1)
    print(f"{out['machine']}; jdiffusion {out['device']} (commit {out['commit']}, {out['date']})")
    print(f"{'stage':<12} {'size':>5} {'jdiffusion ms':>14} {'PyTorch ms':>11} {'ORT ms':>10} {'jd/PT':>6} {'jd/ORT':>7}  spread: jd JVMs / ORT processes")
    fmt = lambda v, p=1: f"{v:.{p}f}" if v is not None else "-"  # noqa: E731
    for r in rows:
        if r["stage"] == "peak_rss":
            print(f"{'peak RSS':<12} {r['size']:>5} {fmt((r['jdiffusion_bytes'] or 0) / 2**30, 2):>13}G")
            continue
        def spread(values):
            return f"{min(values):.0f}-{max(values):.0f}" if values and len(values) > 1 else "-"
        jvms = f"{spread(r.get('jdiffusion_jvms_ms'))} / {spread(r.get('ort_processes_ms'))}"
        print(f"{r['stage']:<12} {r['size']:>5} {fmt(r['jdiffusion_ms']):>14} {fmt(r['pytorch_ms']):>11} "
              f"{fmt(r['ort_ms']):>10} {fmt(r['ratio_pytorch'], 2):>6} {fmt(r['ratio_ort'], 2):>7}  {jvms}")


TIMES = ("text_encoder_ms", "unet_ms", "vae_decode_ms", "pipeline_ms")


def bench_results(paths):
    """`jdiffusion bench --json` outputs by image width, those of one size (one per JVM) merged: each time the median
    over the JVMs that measured it, their own values in <time>_jvms; the peak RSS the largest; the rest the first's."""
    runs = {}
    for path in paths:
        with open(path) as f:
            j = json.loads([line for line in f if line.startswith("{")][-1])
        runs.setdefault(j["width"], []).append(j)
    jd = {}
    for width, results in runs.items():
        merged = {}
        for j in results:
            for k, v in j.items():
                if v is None or v == -1:
                    continue
                if k in TIMES:
                    merged.setdefault(k + "_jvms", []).append(v)
                elif k == "peak_rss_bytes":
                    merged[k] = max(merged.get(k, 0), v)
                else:
                    merged.setdefault(k, v)
        for k in TIMES:
            if k + "_jvms" in merged:
                merged[k] = statistics.median(merged[k + "_jvms"])
        jd[width] = merged
    return jd


def peer(peers, engine, part, size):
    """A peer's result for the part at this size; the text encoder's, which does not depend on it, at any size."""
    if part == "te":
        return next((r for (e, p, _), r in sorted(peers.items()) if (e, p) == (engine, part)), None)
    return peers.get((engine, part, size))


def ratio(a, b):
    return a / b if a and b else None


def machine():
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} CPUs"


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("export")
    e.add_argument("part", choices=PARTS)
    e.add_argument("--size", type=int, required=True)
    e.add_argument("--dir", required=True)
    e.add_argument("--model", default="sd15", choices=["sd15", "sdxl"])
    e.add_argument("--threads", type=int, default=2)
    r = sub.add_parser("run")
    r.add_argument("engine", choices=ENGINES)
    r.add_argument("part", choices=PARTS)
    r.add_argument("--size", type=int, required=True)
    r.add_argument("--out", required=True)
    r.add_argument("--model", default="sd15", choices=["sd15", "sdxl"])
    r.add_argument("--threads", type=int, default=2)
    r.add_argument("--repeats", type=int, default=3)
    r.add_argument("--warmup", type=int, default=WARMUP, help="untimed runs first (default %(default)s)")
    r.add_argument("--onnx", help="the folder `export` wrote into")
    r.add_argument("--process", type=int, default=1, help="which of the sitting's processes for this part (file name)")
    p = sub.add_parser("report")
    p.add_argument("--peers", required=True)
    p.add_argument("--jdiffusion", nargs="+", required=True)
    p.add_argument("--jdiffusion-f16", nargs="*", help="bench outputs with --random-weights f16 (UNet call rows)")
    p.add_argument("--out", required=True)
    p.add_argument("--commit", default=os.environ.get("JDIFFUSION_COMMIT") or git_commit())
    p.add_argument("--date", default=None)
    args = ap.parse_args()
    if args.cmd == "run" and args.engine == "ort" and not args.onnx:
        ap.error("run ort needs --onnx DIR (where `export` wrote the model)")
    {"export": export, "run": run, "report": report}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
