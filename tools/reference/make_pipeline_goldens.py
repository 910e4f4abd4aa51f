"""Extra end-to-end golden cases for jdiffusion's pipeline tests, made with diffusers on the tiny model.

The shared goldens (test-data tiny-sd/golden) cover each sampler once, square, guided, with given latents.
This script adds seeded runs (the seed draws the latents, as `./jdiffusion generate --seed` does) for the
cases a user hits: every sampler, Karras sigmas, non-square sizes, guidance 1.0 (no CFG), an empty prompt,
a prompt longer than 77 tokens, DDIM with eta > 0, and image-to-image.

Run where torch, transformers and the diffusers source are importable (CPU float32; the numbers do not
depend on a GPU):
    PYTHONPATH=path/to/diffusers/src python3 tools/reference/make_pipeline_goldens.py MODEL_DIR OUT_DIR
Writes OUT_DIR/pipeline_extra.safetensors and OUT_DIR/pipeline_extra.json (one entry per case).
"""
import json
import sys
import time

import numpy as np
import torch
from PIL import Image
from safetensors.torch import save_file

import diffusers
from diffusers import (DDIMScheduler, DPMSolverMultistepScheduler, EulerAncestralDiscreteScheduler,
                       EulerDiscreteScheduler, LMSDiscreteScheduler, PNDMScheduler,
                       StableDiffusionImg2ImgPipeline, StableDiffusionPipeline)

SCHEDULERS = {
    "pndm": PNDMScheduler,
    "ddim": DDIMScheduler,
    "euler": EulerDiscreteScheduler,
    "euler_a": EulerAncestralDiscreteScheduler,
    "dpmpp_2m": DPMSolverMultistepScheduler,
    "lms": LMSDiscreteScheduler,
}

PROMPT = "a photograph of an astronaut riding a horse"
LONG_PROMPT = " ".join(["a very detailed painting of a lighthouse on a rocky coast at dusk with waves"] * 8)

CASES = [
    # name, sampler, karras, prompt, negative, seed, steps, guidance, width, height, eta, img2img strength
    dict(name="seed_pndm", sampler="pndm", seed=7, steps=20),
    dict(name="seed_ddim", sampler="ddim", seed=8, steps=20),
    dict(name="seed_euler", sampler="euler", seed=9, steps=20),
    dict(name="seed_euler_a", sampler="euler_a", seed=10, steps=20),
    dict(name="seed_dpmpp_2m", sampler="dpmpp_2m", seed=11, steps=20),
    dict(name="seed_lms", sampler="lms", seed=12, steps=20),
    dict(name="karras_dpmpp_2m", sampler="dpmpp_2m", karras=True, seed=13, steps=15),
    dict(name="karras_euler_a", sampler="euler_a", karras=True, seed=14, steps=15),
    dict(name="karras_lms", sampler="lms", karras=True, seed=15, steps=15),
    dict(name="nonsquare_euler_a", sampler="euler_a", seed=16, steps=12, width=48, height=32),
    dict(name="nonsquare_pndm", sampler="pndm", seed=17, steps=12, width=32, height=64),
    dict(name="guidance1_pndm", sampler="pndm", seed=18, steps=12, guidance=1.0),
    dict(name="guidance1_euler_a", sampler="euler_a", seed=19, steps=12, guidance=1.0),
    dict(name="empty_prompt_euler", sampler="euler", seed=20, steps=12, prompt=""),
    dict(name="negative_prompt_dpmpp_2m", sampler="dpmpp_2m", seed=21, steps=12, negative="blurry, low quality"),
    dict(name="long_prompt_ddim", sampler="ddim", seed=22, steps=12, prompt=LONG_PROMPT),
    dict(name="ddim_eta", sampler="ddim", seed=23, steps=12, eta=0.5),
    dict(name="img2img_euler", sampler="euler", seed=24, steps=20, strength=0.6),
    dict(name="img2img_ddim", sampler="ddim", seed=25, steps=10, strength=0.75),
    dict(name="img2img_pndm", sampler="pndm", seed=26, steps=10, strength=0.5),
]


def init_image(width, height):
    """A deterministic RGB test pattern; the Java test rebuilds it from the stored uint8 pixels."""
    y, x = np.mgrid[0:height, 0:width]
    r = (x * 255 // max(width - 1, 1))
    g = (y * 255 // max(height - 1, 1))
    b = ((x + y) * 37) % 256
    return np.stack([r, g, b], axis=-1).astype(np.uint8)


def main(model_dir, out_dir):
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(8)
    txt2img = StableDiffusionPipeline.from_pretrained(model_dir, torch_dtype=torch.float32, safety_checker=None,
                                                      requires_safety_checker=False)
    img2img = StableDiffusionImg2ImgPipeline(**txt2img.components)
    base_config = txt2img.scheduler.config
    tensors = {}
    entries = []
    for case in CASES:
        c = dict(karras=False, prompt=PROMPT, negative="", guidance=7.5, width=32, height=32, eta=0.0, strength=None)
        c.update(case)
        extra = {"use_karras_sigmas": True} if c["karras"] else {}
        scheduler = SCHEDULERS[c["sampler"]].from_config(base_config, **extra)
        generator = torch.Generator("cpu").manual_seed(c["seed"])
        kwargs = dict(prompt=c["prompt"], negative_prompt=c["negative"] or None, num_inference_steps=c["steps"],
                      guidance_scale=c["guidance"], generator=generator, output_type="pt")
        if c["sampler"] == "ddim":
            kwargs["eta"] = c["eta"]
        if c["strength"] is None:
            pipe = txt2img
            kwargs.update(width=c["width"], height=c["height"])
        else:
            pipe = img2img
            pixels = init_image(c["width"], c["height"])
            tensors[c["name"] + ".init_image_u8"] = torch.from_numpy(pixels.astype(np.int32)).to(torch.int64)
            kwargs.update(image=Image.fromarray(pixels, "RGB"), strength=c["strength"])
        pipe.scheduler = scheduler
        latents_out = {}

        def keep(p, i, t, cb):
            latents_out["final"] = cb["latents"].detach().clone()
            return cb

        with torch.no_grad():
            image = pipe(**kwargs, callback_on_step_end=keep, callback_on_step_end_tensor_inputs=["latents"]).images
        tensors[c["name"] + ".final_latents"] = latents_out["final"].float().contiguous()
        tensors[c["name"] + ".image"] = image.float().contiguous()
        entry = {k: c[k] for k in ("name", "sampler", "karras", "prompt", "negative", "seed", "steps", "guidance",
                                   "width", "height", "eta", "strength")}
        # Record what ran: from_config silently drops options a scheduler lacks (Euler a has no Karras sigmas).
        entry["karras"] = bool(scheduler.config.get("use_karras_sigmas", False))
        entries.append(entry)
        print(f"{c['name']}: latents {tuple(latents_out['final'].shape)} |x|max {latents_out['final'].abs().max():.3f}",
              flush=True)
    save_file(tensors, f"{out_dir}/pipeline_extra.safetensors")
    meta = {"generator": {"torch": torch.__version__, "diffusers": diffusers.__version__,
                          "made": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
                          "device": "cpu float32, deterministic algorithms"},
            "cases": entries}
    with open(f"{out_dir}/pipeline_extra.json", "w") as f:
        json.dump(meta, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
