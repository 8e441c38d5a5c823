"""Golden for the SPAQ baseline: h4nwei/SPAQ's ``Baseline`` and ``Image_load`` on seeded weights and images.

Builds the official ``BL_demo.Baseline`` (ResNet-50 with a 1-output ``fc``), loads
``seeded_state_dict(model, seed=0, scale=sqrt(2))`` and runs the official demo's inference
(``Image_load(size=512, stride=224)`` on the PIL image, then ``model(patches).mean()``):

* ``demo-512x512``: a seeded 512 x 512 image (``Resize(512)`` leaves it unchanged; 4 x 4 = 16
  patches of 224 px) - score, per-patch scores and the input gradient of the score. The official
  patching goes through NumPy, so the gradient is taken w.r.t. the official patch tensor (one batch
  of all patches, as the demo runs them: with these He-scaled weights, batch-1 backward passes differ
  from the batch-16 one by up to 0.7 % at single pixels, float32 reordering) and mapped
  back to image pixels with the official ``generate_patches`` applied to an image of pixel indices
  (the patches overlap: contributions add up). Summary: L1 norm, sum, 32 x 32 block sums, values at
  seeded positions;
* ``demo-resize``: a seeded 544 x 600 image, resized by the official ``Resize(512)`` (PIL bilinear on
  the uint8 image, result rounded to uint8) to 512 x 564, 4 x 5 patches - score.

Environment patches: none needed on the CPU (``torchvision.models.resnet50(pretrained=False)`` still
works; ``Demo`` is not used because it loads a checkpoint file and prints).

    uv run --locked python tools/parity/spaq.py --repo /path/to/SPAQ
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
import torch

from iqa_core.testing.parity import (
    gradient_summary,
    reference_commit,
    seeded_images,
    seeded_positions,
    seeded_state_dict,
    to_uint8,
    write_golden,
)

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "packages/iqa-metrics/tests/goldens/spaq.json"
WEIGHT_SEED = 0
WEIGHT_SCALE = math.sqrt(2)  # He scaling: with scale 1 the deep trunk nearly forgets the image
BLOCK = 32


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, required=True, help="checkout of h4nwei/SPAQ")
    parser.add_argument("--commit", help="commit of the checkout (read with git when omitted)")
    args = parser.parse_args()
    commit = reference_commit(args.repo, args.commit)
    torch.manual_seed(0)
    sys.path.insert(0, str(args.repo))
    from BL_demo import Baseline  # the official model
    from PIL import Image
    from Prepare_image import Image_load  # the official preprocessing

    model = Baseline()
    model.load_state_dict(seeded_state_dict(model, WEIGHT_SEED, scale=WEIGHT_SCALE), strict=True)
    model.eval()
    loader = Image_load(size=512, stride=224)

    cases = []
    # case 1: 512 x 512, score, per-patch scores and the input gradient
    seed, shape = 301, (3, 512, 512)
    image = Image.fromarray(to_uint8(seeded_images(seed, shape))).convert("RGB")
    patches = loader(image)
    with torch.no_grad():
        per_patch = model(patches).squeeze(1)
    score = float(per_patch.mean())
    # gradient of the official score (all patches in one batch, as the demo runs them) w.r.t. the patch
    # tensor, mapped back to pixels through the official patch extraction applied to an image of pixel indices
    patch_input = patches.clone().requires_grad_(True)
    model(patch_input).mean().backward()
    assert patch_input.grad is not None
    grad_patches = patch_input.grad
    index_image = torch.arange(int(np.prod(shape)), dtype=torch.float32).view(shape)
    index_patches = loader.generate_patches(index_image, input_size=224).long()
    grad = torch.zeros(int(np.prod(shape)), dtype=torch.float32)
    grad.index_add_(0, index_patches.reshape(-1), grad_patches.reshape(-1))
    grad = grad.view(shape)
    positions = seeded_positions(9, shape)
    cases.append(
        {
            "name": "demo-512x512",
            "inputs": {
                "weight_scale": WEIGHT_SCALE,
                "image_seed": seed,
                "shape": [1, *shape],
                "quantised": "uint8, u8 / 255",
            },
            "outputs": {
                "score": [score],
                "patch_scores": per_patch,
                "grad_positions": positions,
                "grad": gradient_summary(grad, positions, BLOCK),
            },
        }
    )
    print(f"demo-512x512: score {score:.6f}, {patches.shape[0]} patches")

    # case 2: the official Resize(512) on a larger image
    seed, shape = 302, (3, 544, 600)
    image = Image.fromarray(to_uint8(seeded_images(seed, shape))).convert("RGB")
    patches = loader(image)
    with torch.no_grad():
        score = float(model(patches).mean())
    cases.append(
        {
            "name": "demo-resize",
            "inputs": {
                "weight_scale": WEIGHT_SCALE,
                "image_seed": seed,
                "shape": [1, *shape],
                "quantised": "uint8, u8 / 255",
            },
            "outputs": {"score": [score], "n_patches": patches.shape[0]},
        }
    )
    print(f"demo-resize: score {score:.6f}, {patches.shape[0]} patches")

    write_golden(
        GOLDEN,
        component="spaq",
        repo="h4nwei/SPAQ",
        commit=commit,
        entry="BL_demo.py Baseline + Prepare_image.py Image_load(size=512, stride=224); score = model(patches).mean()",
        generator="tools/parity/spaq.py",
        cases=cases,
        notes=(
            f"weights: seeded_state_dict(Baseline, seed={WEIGHT_SEED}, scale=sqrt(2)); images: "
            "seeded_images(seed, shape) as uint8 "
            "PIL images (the test feeds u8 / 255). No environment patch needed. Gradients: of the score w.r.t. the "
            "official patch tensor (all patches in one batch, as the demo), mapped back to pixels through the "
            "official generate_patches "
            f"applied to an index image; summarised as L1 norm, sum, {BLOCK}x{BLOCK} block sums per channel and "
            "values at seeded positions [c, y, x]. demo-resize: PIL resizes the uint8 image (rounded), the port "
            "the float tensor (bilinear, antialiased) - documented deviation with its own tolerance."
        ),
    )
    print(f"wrote {GOLDEN}")


if __name__ == "__main__":
    main()
