"""Golden latents for the samplers and schedules added after the first six, made with diffusers on the tiny model.

Each case runs diffusers' StableDiffusionPipeline on the tiny SD 1.5-shaped model (test-data tiny-sd/model) with
one scheduler class, seeded as `./jdiffusion generate --seed S` is: `torch.Generator("cpu").manual_seed(S)` draws
the initial latents and then, in the order the scheduler asks for it, every step's noise (DPM2 a, DPM++ 2M SDE,
DDPM and LCM). The pipeline stops at the latents (output_type="latent"), so each case stores one [1, 4, 16, 16]
float32 tensor (4 KiB).

Run where torch, transformers and the diffusers source are importable (CPU float32; no GPU involved):
    PYTHONPATH=path/to/diffusers/src python3 tools/reference/make_sampler_goldens.py MODEL_DIR OUT_DIR
Writes OUT_DIR/sampler_goldens.safetensors and OUT_DIR/sampler_goldens.json (one entry per case).
"""
import json
import sys
import time

import torch
from safetensors.torch import save_file

import diffusers
from diffusers import (DDPMScheduler, DPMSolverMultistepScheduler, EulerDiscreteScheduler, HeunDiscreteScheduler,
                       KDPM2AncestralDiscreteScheduler, KDPM2DiscreteScheduler, LCMScheduler, StableDiffusionPipeline,
                       UniPCMultistepScheduler)

PROMPT = "a photograph of an astronaut riding a horse"

# jdiffusion's sampler name -> (diffusers class, options the sampler itself sets)
SAMPLERS = {
    "euler": (EulerDiscreteScheduler, {}),
    "heun": (HeunDiscreteScheduler, {}),
    "dpm2": (KDPM2DiscreteScheduler, {}),
    "dpm2_a": (KDPM2AncestralDiscreteScheduler, {}),
    "dpmpp_2m_sde": (DPMSolverMultistepScheduler, {"algorithm_type": "sde-dpmsolver++"}),
    "unipc": (UniPCMultistepScheduler, {}),
    "ddpm": (DDPMScheduler, {}),
    "lcm": (LCMScheduler, {}),
}

# jdiffusion's schedule name -> the config keys it overrides (as io.jdiffusion.models.scheduler.Schedule says)
SCHEDULES = {
    "default": {},
    "karras": {"use_karras_sigmas": True},
    "exponential": {"timestep_spacing": "linspace", "use_exponential_sigmas": True},
    "sgm_uniform": {"timestep_spacing": "trailing"},
}

CASES = [
    dict(name="heun", sampler="heun", seed=31, steps=6),
    dict(name="dpm2", sampler="dpm2", seed=32, steps=6),
    dict(name="dpm2_a", sampler="dpm2_a", seed=33, steps=6),
    dict(name="dpmpp_2m_sde", sampler="dpmpp_2m_sde", seed=34, steps=8),
    dict(name="unipc", sampler="unipc", seed=35, steps=8),
    dict(name="ddpm", sampler="ddpm", seed=36, steps=10),
    dict(name="lcm", sampler="lcm", seed=37, steps=4, guidance=1.5),
    dict(name="karras_dpmpp_2m_sde", sampler="dpmpp_2m_sde", schedule="karras", seed=38, steps=8),
    dict(name="karras_dpm2_a", sampler="dpm2_a", schedule="karras", seed=39, steps=6),
    dict(name="exponential_heun", sampler="heun", schedule="exponential", seed=40, steps=6),
    dict(name="exponential_euler", sampler="euler", schedule="exponential", seed=41, steps=8),
    dict(name="sgm_uniform_unipc", sampler="unipc", schedule="sgm_uniform", seed=42, steps=8),
    dict(name="sgm_uniform_ddpm", sampler="ddpm", schedule="sgm_uniform", seed=43, steps=10),
]


def main(model_dir, out_dir):
    torch.use_deterministic_algorithms(True)
    pipe = StableDiffusionPipeline.from_pretrained(model_dir, torch_dtype=torch.float32, safety_checker=None,
                                                   requires_safety_checker=False)
    base_config = pipe.scheduler.config
    tensors = {}
    entries = []
    for case in CASES:
        c = dict(schedule="default", guidance=7.5, width=32, height=32)
        c.update(case)
        cls, own = SAMPLERS[c["sampler"]]
        overrides = {**own, **SCHEDULES[c["schedule"]]}
        # X.from_config(PNDM's SD 1.5 config, **overrides): the usual way of switching schedulers.
        pipe.scheduler = cls.from_config(base_config, **overrides)
        for key, value in overrides.items():
            if pipe.scheduler.config.get(key) != value:
                raise SystemExit(f"{c['name']}: {cls.__name__} dropped {key}={value}")
        generator = torch.Generator("cpu").manual_seed(c["seed"])
        with torch.no_grad():
            latents = pipe(prompt=PROMPT, num_inference_steps=c["steps"], guidance_scale=c["guidance"],
                           width=c["width"], height=c["height"], generator=generator, output_type="latent").images
        tensors[c["name"] + ".final_latents"] = latents.float().contiguous()
        entry = {k: c[k] for k in ("name", "sampler", "schedule", "seed", "steps", "guidance", "width", "height")}
        entry["prompt"] = PROMPT
        entry["diffusers_class"] = cls.__name__
        entry["overrides"] = overrides
        entry["timesteps"] = [float(t) for t in pipe.scheduler.timesteps]
        entries.append(entry)
        print(f"{c['name']}: {cls.__name__}{overrides} latents {tuple(latents.shape)} "
              f"|x|max {latents.abs().max():.3f}", flush=True)
    save_file(tensors, f"{out_dir}/sampler_goldens.safetensors")
    meta = {"generator": {"torch": torch.__version__, "diffusers": diffusers.__version__,
                          "made": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
                          "device": "cpu float32, deterministic algorithms"},
            "cases": entries}
    with open(f"{out_dir}/sampler_goldens.json", "w") as f:
        json.dump(meta, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
