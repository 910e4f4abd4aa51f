"""Goldens for "Inpaint area: Only masked" made with diffusers' StableDiffusionInpaintPipeline(padding_mask_crop=N).

diffusers' padding_mask_crop is A1111's inpaint_full_res: VaeImageProcessor.get_crop_region copies A1111's
get_crop_region + expand_crop_region, the image and mask are cut and brought to the processing size with
resize mode "fill" (PIL LANCZOS), and apply_overlay pastes the result back (resize mode "crop") through the
mask. The model is the tiny 9-channel inpainting model (test-data tiny-sd-inpaint/model); the image is a 48x40
test pattern and the mask a white box, both rebuilt by the Java test from the parameters in the JSON.

    PYTHONPATH=path/to/diffusers/src python3 tools/reference/make_inpaint_crop_goldens.py MODEL_DIR OUT_DIR
Writes OUT_DIR/inpaint_crop.safetensors and OUT_DIR/inpaint_crop.json.
"""
import json
import sys
import time

import numpy as np
import torch
from PIL import Image
from safetensors.torch import save_file

import diffusers
from diffusers import StableDiffusionInpaintPipeline

PROMPT = "a photograph of an astronaut riding a horse"
WIDTH, HEIGHT = 48, 40
CASES = [
    # the crop region is exactly 32x32 (no resampling): checks the region, the cut and the paste
    dict(name="crop_same_size", box=[10, 4, 30, 24], padding=6, seed=51),
    # a 16x16 region brought to 32x32 and back: adds the Lanczos resizes
    dict(name="crop_upscaled", box=[30, 26, 38, 34], padding=4, seed=52),
]


def pattern():
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH]
    return np.stack([x * 255 // (WIDTH - 1), y * 255 // (HEIGHT - 1), ((x + y) * 37) % 256], axis=-1).astype(np.uint8)


def main(model_dir, out_dir):
    torch.use_deterministic_algorithms(True)
    pipe = StableDiffusionInpaintPipeline.from_pretrained(model_dir, torch_dtype=torch.float32, safety_checker=None,
                                                          requires_safety_checker=False)
    image = Image.fromarray(pattern(), "RGB")
    tensors, entries = {}, []
    for c in CASES:
        x1, y1, x2, y2 = c["box"]
        mask = np.zeros((HEIGHT, WIDTH), np.uint8)
        mask[y1:y2, x1:x2] = 255
        mask_image = Image.fromarray(mask, "L")
        region = pipe.mask_processor.get_crop_region(mask_image, 32, 32, pad=c["padding"])
        kept = {}

        def keep(p, i, t, cb):
            kept["latents"] = cb["latents"].detach().clone()
            return cb

        with torch.no_grad():
            out = pipe(prompt=PROMPT, image=image, mask_image=mask_image, height=32, width=32, strength=1.0,
                       num_inference_steps=4, guidance_scale=7.5, padding_mask_crop=c["padding"],
                       generator=torch.Generator("cpu").manual_seed(c["seed"]), output_type="pil",
                       callback_on_step_end=keep, callback_on_step_end_tensor_inputs=["latents"]).images[0]
        tensors[c["name"] + ".final_latents"] = kept["latents"].float().contiguous()
        tensors[c["name"] + ".image_u8"] = torch.from_numpy(np.array(out).astype(np.int32))
        entries.append({**c, "crop_region": list(region), "width": 32, "height": 32, "image_size": [WIDTH, HEIGHT],
                        "steps": 4, "guidance": 7.5, "strength": 1.0, "prompt": PROMPT, "scheduler": "DDIMScheduler"})
        print(c["name"], "region", region, "output", out.size, flush=True)
    save_file(tensors, f"{out_dir}/inpaint_crop.safetensors")
    meta = {"generator": {"torch": torch.__version__, "diffusers": diffusers.__version__,
                          "made": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
                          "device": "cpu float32, deterministic algorithms"}, "cases": entries}
    with open(f"{out_dir}/inpaint_crop.json", "w") as f:
        json.dump(meta, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
