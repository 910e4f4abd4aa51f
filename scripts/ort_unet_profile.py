#!/usr/bin/env python3
"""Per-operator profile of an ONNX Runtime CPU UNet call, grouped by the kinds `jdiffusion bench --profile` prints.

Usage: ort_unet_profile.py MODEL_DIR LATENT_HW [--threads 1] [--runs 4] [--json]
MODEL_DIR holds model.onnx (batch 2, LATENT_HW x LATENT_HW latents, as ../shared/bench/onnxruntime_cpu_anchor.py
or `scripts/cpu_compare.py export` exports it). The InferenceSession runs with ORT_ENABLE_ALL and `--threads` intra-op threads; every run is profiled
(SessionOptions.enable_profiling) and each node's time is the minimum over the runs after the first (the warm-up),
so a neighbour's burst on a shared machine inflates no row. Each row is a kind of operator:
  conv KxK HxW cin->cout (stride 2 marked), linear M=.. K=.. N=.. (a MatMul/Gemm with a constant operand),
  attention (MatMul between activations, Softmax), norm (Instance/Layer/GroupNormalization),
  elementwise (Add, Mul, activations; ORT runs GroupNorm's affine and SiLU as such nodes), layout (Reshape, Transpose,
  Concat, Split, NCHWc reorders, Upsample).
"""
import argparse, collections, glob, json, os, re, sys, tempfile, time

import numpy as np
import onnx
import onnxruntime as ort

LAYOUT = {"Reshape", "Transpose", "Concat", "Split", "Unsqueeze", "Squeeze", "ReorderInput", "ReorderOutput",
          "Upsample", "Resize", "Slice", "Gather", "Expand", "Identity"}
NORM = {"InstanceNormalization", "LayerNormalization", "GroupNormalization", "SimplifiedLayerNormalization",
        "SkipLayerNormalization", "GroupNorm"}


def graph_info(path):
    m = onnx.load(path, load_external_data=False)
    inits = {i.name: list(i.dims) for i in m.graph.initializer}
    nodes = {n.name: n for n in m.graph.node}
    return inits, nodes


def shape_list(arg):
    return [next(iter(d.values())) for d in arg]


def kind(ev, inits, nodes):
    a = ev["args"]
    op = a["op_name"]
    name = ev["name"][: -len("_kernel_time")]
    ins, outs = shape_list(a.get("input_type_shape", [])), shape_list(a.get("output_type_shape", []))
    node = nodes.get(name) or nodes.get("node_" + re.sub(r"_nchwc$", "", name))
    consts = [inits[i] for i in node.input if i in inits] if node is not None else []
    if op in ("Conv", "FusedConv"):
        w = next((c for c in consts if len(c) == 4), None)
        x, y = ins[0], outs[0]  # NCHW, or NCHWc (one more dimension, last) after ORT's layout transform
        if w is None:
            return f"conv ?x? {y[2]}x{y[3]}"
        stride = " stride 2" if y[3] * 2 == x[3] else ""
        return f"conv{w[2]}x{w[3]} {y[2]}x{y[3]} {w[1]}->{w[0]}{stride}"
    if op in ("MatMul", "FusedMatMul", "Gemm", "MatMulNBits"):
        w = next((c for c in consts if len(c) == 2), None)
        if w is None and len(ins) >= 2 and all(len(s) >= 3 for s in ins[:2]):
            return "attention"
        x = ins[0]
        m = int(np.prod(x[:-1]))
        k = x[-1]
        n = outs[0][-1]
        return f"linear M={m} K={k} N={n}"
    if op == "Softmax":
        return "attention"
    if op in NORM:
        return "norm"
    if op in LAYOUT:
        return "layout"
    return "elementwise"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("model_dir")
    p.add_argument("hw", type=int)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--runs", type=int, default=4)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    path = os.path.join(args.model_dir, "model.onnx")
    inits, nodes = graph_info(path)
    so = ort.SessionOptions()
    so.intra_op_num_threads = args.threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.enable_profiling = True
    so.profile_file_prefix = os.path.join(tempfile.mkdtemp(), "ort")
    s = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    hw = args.hw
    feed = {"sample": rng.standard_normal((2, 4, hw, hw), dtype=np.float32),
            "timestep": np.array([999, 999], dtype=np.int64),
            "encoder_hidden_states": rng.standard_normal((2, 77, 768), dtype=np.float32)}
    # scripts/cpu_compare.py exports the inputs positionally (in0 sample, in1 timestep, in2 context)
    positional = dict(zip(["in0", "in1", "in2"], feed.values()))
    types = {"tensor(float)": np.float32, "tensor(int64)": np.int64, "tensor(float16)": np.float16}
    feed = {i.name: (feed.get(i.name) if i.name in feed else positional[i.name]).astype(types[i.type])
            for i in s.get_inputs()}
    wall, cpu = [], []
    for _ in range(args.runs):
        t0, c0 = time.perf_counter(), time.process_time()
        s.run(None, feed)
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    events = json.load(open(s.end_profiling()))
    runs = [e for e in events if e.get("cat") == "Session" and e["name"] == "model_run"]
    per_node = collections.defaultdict(list)
    for e in events:
        if e.get("cat") != "Node" or not e["name"].endswith("_kernel_time"):
            continue
        run = sum(1 for r in runs if r["ts"] <= e["ts"]) - 1
        if run >= 1:  # the first run is the warm-up
            per_node[(e["name"], e["args"].get("node_index"))].append(e)
    rows = collections.defaultdict(lambda: [0.0, 0])
    for evs in per_node.values():
        k = kind(evs[0], inits, nodes)
        rows[k][0] += min(e["dur"] for e in evs) / 1e3
        rows[k][1] += 1
    total = sum(v[0] for v in rows.values())
    if args.json:
        for k, (ms, n) in sorted(rows.items(), key=lambda kv: -kv[1][0]):
            print(json.dumps({"kind": k, "ms": ms, "nodes": n}))
        print(json.dumps({"total_ms": total, "wall_s": wall, "cpu_s": cpu, "ort": ort.__version__}))
        return
    print(f"ONNX Runtime {ort.__version__}, {args.threads} thread(s); runs wall {['%.2f' % w for w in wall]} s, "
          f"CPU {['%.2f' % c for c in cpu]} s")
    print(f"{'kind':44s} {'nodes':>6s} {'ms':>9s} {'share':>6s}")
    for k, (ms, n) in sorted(rows.items(), key=lambda kv: -kv[1][0]):
        print(f"{k:44s} {n:6d} {ms:9.2f} {100 * ms / total:5.1f}%")
    print(f"{'total (sum of per-node minima)':44s} {sum(v[1] for v in rows.values()):6d} {total:9.2f}")


if __name__ == "__main__":
    main()
