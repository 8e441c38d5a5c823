"""Golden for FPR (no-reference ``FPR_NI``): Baoliang93/FPR's ``IQANet`` and test data path on seeded weights.

Builds the official ``IQANet(weighted=True)`` of ``FPR_IQA/FPR_NI/src/model.py``, loads
``seeded_state_dict(model, seed=0)``, writes seeded uint8 PNG images and a test list, reads them with
the official ``KADIDDataset(phase="test_0", n_ptchs=1024)`` (skimage ``imread``, non-overlapping
64 x 64 patches, ``/ 255``) through a ``DataLoader`` with batch size 1, and calls
``model(img, img)`` as the official ``iqaTest.test`` does; the returned ``NS`` is the score.

* ``test-192x256``: 3 x 4 = 12 patches - score and the input gradient of the score. The gradient is
  taken w.r.t. the official patch tensor and mapped back to pixels with the official
  ``Transforms.to_patches``/``to_tensor`` applied to an image of pixel indices; summary: L1 norm, sum,
  32 x 32 block sums, values at seeded positions;
* ``test-150x200``: 2 x 3 patches, the bottom 22 rows and right 8 columns dropped - score and
  gradient summary.

Environment patches (not the code): ``torch.zeros(..., device=0)`` (the GRU's initial state is
created on CUDA device 0) creates the tensor on the CPU; the loader's patch tensor (a NumPy
``swapaxes`` view) is made contiguous before the model - with current PyTorch on the CPU its strides
reach the convolution outputs and the official ``.view`` fails (same values); ``random.shuffle``
(the test loader shuffles the patch order, which changes the GRU-weighted score) is the identity, so
the patches keep the official extraction order (column by column, top to bottom) - the order the port uses.

    uv run --locked python tools/parity/fpr.py --repo /path/to/FPR
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
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
GOLDEN = ROOT / "packages/iqa-metrics/tests/goldens/fpr.json"
WEIGHT_SEED = 0
BLOCK = 32


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, required=True, help="checkout of Baoliang93/FPR")
    parser.add_argument("--commit", help="commit of the checkout (read with git when omitted)")
    args = parser.parse_args()
    commit = reference_commit(args.repo, args.commit)
    torch.manual_seed(0)

    # environment patches
    zeros = torch.zeros

    def cpu_zeros(*size: object, device: object = None, **kwargs: object) -> torch.Tensor:
        if device == 0 or (isinstance(device, str) and device.startswith("cuda")):
            device = "cpu"
        return zeros(*size, device=device, **kwargs)  # type: ignore[call-overload]

    torch.zeros = cpu_zeros  # type: ignore[assignment]
    random.shuffle = lambda x, *a, **k: None  # keep the official extraction order of the patches

    sys.path.insert(0, str(args.repo / "FPR_IQA" / "FPR_NI" / "src"))
    from dataset import KADIDDataset, Transforms  # the official data path
    from model import IQANet  # the official model
    from PIL import Image

    model = IQANet(weighted=True)
    model.load_state_dict(seeded_state_dict(model, WEIGHT_SEED), strict=True)
    model.eval()

    specs = [("test-192x256", 401, (3, 192, 256), 10), ("test-150x200", 402, (3, 150, 200), 11)]
    cases = []
    with tempfile.TemporaryDirectory() as tmp:
        names = []
        for name, seed, shape, _ in specs:
            Image.fromarray(to_uint8(seeded_images(seed, shape))).save(Path(tmp) / f"{name}.png")
            names.append(f"{name}.png")
        listing = {"img": names, "ref": names, "score": [3.0] * len(names)}
        (Path(tmp) / "test_0_data.json").write_text(json.dumps(listing))
        data = KADIDDataset(tmp, phase="test_0", list_dir=tmp, n_ptchs=1024, subset="test")
        loader = torch.utils.data.DataLoader(data, batch_size=1, shuffle=False)
        for ((img, _ref), _score), (name, seed, shape, pos_seed) in zip(loader, specs, strict=True):
            # the loader's patches are a NumPy swapaxes view: with current PyTorch on the CPU their strides
            # propagate to the conv outputs and the official ``.view`` fails; same values, contiguous memory
            img = img.contiguous()
            with torch.no_grad():
                score = model(img, img)
            patches = img.clone().requires_grad_(True)
            model(patches, patches).sum().backward()
            assert patches.grad is not None
            # map the patch gradient back to pixels through the official patch extraction of an index image
            c, h, w = shape
            index = np.arange(c * h * w, dtype=np.float64).reshape(c, h, w).transpose(1, 2, 0)  # (H, W, C)
            tfs = Transforms()
            index_patches = tfs.to_tensor(tfs.to_patches(index, ptch_size=64, n_ptchs=1024))
            index_patches = torch.round(index_patches.double() * 255).long()
            grad = torch.zeros(c * h * w, dtype=torch.float32)
            grad.index_add_(0, index_patches.reshape(-1), patches.grad[0].reshape(-1))
            grad = grad.view(shape)
            positions = seeded_positions(pos_seed, shape)
            cases.append(
                {
                    "name": name,
                    "inputs": {"image_seed": seed, "shape": [1, *shape], "quantised": "uint8 PNG, u8 / 255"},
                    "outputs": {
                        "score": score.reshape(-1),
                        "n_patches": img.shape[1],
                        "grad_positions": positions,
                        "grad": gradient_summary(grad, positions, BLOCK),
                    },
                }
            )
            print(f"{name}: score {score.reshape(-1).tolist()}, {img.shape[1]} patches")

    write_golden(
        GOLDEN,
        component="fpr",
        repo="Baoliang93/FPR",
        commit=commit,
        entry="FPR_IQA/FPR_NI/src: model.py IQANet(weighted=True), dataset.py KADIDDataset test path, model(img, img)",
        generator="tools/parity/fpr.py",
        cases=cases,
        notes=(
            f"weights: seeded_state_dict(IQANet, seed={WEIGHT_SEED}); images: seeded_images(seed, shape) saved as "
            "uint8 PNG and read by the official dataset (the test feeds u8 / 255). Environment patches: torch.zeros "
            "with device=0 (the GRU initial state on CUDA) creates it on the CPU; the loader's patch tensor (a NumPy "
            "swapaxes view) is made contiguous before the model (its strides otherwise reach the conv outputs and "
            "the official .view fails on the CPU; same values); random.shuffle is the identity, so "
            "the "
            "official test loader keeps the extraction order of the patches (column by column, top to bottom) instead "
            "of a random order - the score depends on the order through the GRU. Gradients: of NS w.r.t. the official "
            "patch tensor, mapped back to pixels through the official to_patches/to_tensor of an index image; "
            f"summarised as L1 norm, sum, {BLOCK}x{BLOCK} block sums per channel and values at seeded positions."
        ),
    )
    print(f"wrote {GOLDEN}")


if __name__ == "__main__":
    main()
