#!/usr/bin/env python3
"""Where a profiled range's GPU time goes: Nsight Compute's CSV, summed by kind and by kernel.

  ncu --clock-control none --profile-from-start off --metrics gpu__time_duration.sum --csv PROGRAM > run.csv
  ncu_summary.py run.csv [run2.csv ...] [--top 25]

Each file is one profiled range (NetworkBenchmark --profiler-range true, gpu_compare.py profile-unet). A kernel's
kind comes from its name: the libraries' convolution, product and attention kernels, cuDNN's layout transposes,
and jdiffusion's Java kernels by method name. The same kinds for both sides let a row be compared across engines.
Gzipped CSVs are read as they are.
"""

import argparse
import collections
import csv
import gzip
import re
import sys

# First match wins: order from the most specific name to the most general.
KINDS = [
    ("attention", r"fmha|flash|sdpa|attention|Attention|softmax|Softmax"),
    ("layout transposes", r"nchwToNhwc|nhwcToNchw|[Tt]ranspose|[Nn]chw[24]?[Nn]hwc|[Nn]hwc[24]?[Nn]chw|convertTensor"),
    ("convolution", r"conv|Conv|fprop|dgrad|implicit_convolve|xmma_fprop|winograd|Winograd"),
    ("matrix product", r"gemm|Gemm|GEMM|nvjet|cutlass|matmul|splitKreduce|tensorCore|TensorCore"),
    ("normalisation", r"[Nn]orm|Moments|FusedParams"),
    ("copies and staging", r"headsToHalf|headsFromHalf|rowsHalf|concat|Concat|CatArray|cat_|copy|Copy|touch|fill|Fill|init_device_workspace"),
    ("elementwise", r"op_generic_tensor|elementwise|vectorized|binary|unary|Pointwise|biasResidual|Epilogue|upsample|silu|gelu|add|mul"),
]


def kind(name):
    for k, pattern in KINDS:
        if re.search(pattern, name):
            return k
    return "other"


def rows(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", errors="replace") as f:
        lines = [line for line in f if line.startswith('"')]
    for r in csv.DictReader(lines):
        if r.get("Metric Name") != "gpu__time_duration.sum":
            continue
        value = float(r["Metric Value"].replace(",", ""))
        scale = {"ns": 1e-6, "us": 1e-3, "usecond": 1e-3, "ms": 1.0, "msecond": 1.0, "nsecond": 1e-6}[r["Metric Unit"]]
        yield r["Kernel Name"], value * scale


def short(name, width=90):
    name = re.sub(r"\(.*", "", name)  # drop argument lists
    return name if len(name) <= width else name[: width - 3] + "..."


def summarise(path, top):
    by_kind = collections.defaultdict(lambda: [0, 0.0])
    by_name = collections.defaultdict(lambda: [0, 0.0])
    for name, ms in rows(path):
        by_kind[kind(name)][0] += 1
        by_kind[kind(name)][1] += ms
        by_name[short(name)][0] += 1
        by_name[short(name)][1] += ms
    total = sum(v[1] for v in by_kind.values())
    launches = sum(v[0] for v in by_kind.values())
    print(f"== {path}: {total:.2f} ms of kernel time, {launches} launches")
    print(f"{'kind':<20} {'launches':>8} {'ms':>8} {'share':>6}")
    for k, (n, ms) in sorted(by_kind.items(), key=lambda kv: -kv[1][1]):
        print(f"{k:<20} {n:>8} {ms:>8.2f} {100 * ms / total:>5.1f}%")
    print(f"{'kernel':<90} {'launches':>8} {'ms':>8}")
    for name, (n, ms) in sorted(by_name.items(), key=lambda kv: -kv[1][1])[:top]:
        print(f"{name:<90} {n:>8} {ms:>8.3f}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("csv", nargs="+")
    ap.add_argument("--top", type=int, default=25)
    args = ap.parse_args()
    for path in args.csv:
        summarise(path, args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
