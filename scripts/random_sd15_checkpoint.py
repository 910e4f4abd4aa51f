"""Writes an SD 1.5-shaped single-file F16 checkpoint with seeded random weights, the names and shapes of
sd15_keys_ldm.json (argument 1) to argument 2: weights N(0, 1/fan_in), norm scales 1, biases 0. For timing a
user's first image from a file (scripts/gpu-measure.sh first-image); no model hub is reachable where it runs."""
import json, sys, torch
from safetensors.torch import save_file
keys = json.load(open(sys.argv[1]))["tensors"]
g = torch.Generator().manual_seed(0)
out = {}
for t in keys:
    shape = t["shape"]
    if t["dtype"].startswith("int"):
        out[t["name"]] = torch.arange(shape[-1], dtype=torch.int64).reshape(shape)
        continue
    if len(shape) == 1:
        # every 1-D weight of SD 1.5 is a norm's scale
        out[t["name"]] = (torch.ones if t["name"].endswith(".weight") else torch.zeros)(shape, dtype=torch.float16)
        continue
    fan_in = 1
    for d in shape[1:]:
        fan_in *= d
    out[t["name"]] = (torch.randn(shape, generator=g) / fan_in ** 0.5).to(torch.float16)
save_file(out, sys.argv[2])
print(len(out), "tensors written to", sys.argv[2])
