"""Golden for KonCept512: ZhengyuZhao/koniq-PyTorch's ``model_qa`` and test procedure on seeded weights.

The official code lives in the notebook ``koncept512_train_test_pytorch.ipynb`` (``model_qa`` and the
``data_transforms`` are defined in its code cells) and ``inceptionresnetv2.py``. This generator
executes the notebook's first two code cells (imports + transforms; ``train_model`` + ``model_qa``)
from the checkout, builds ``model_qa(num_classes=1)``, loads ``seeded_state_dict(model, seed=0, scale=sqrt(2))``
and runs the notebook's test procedure (``data_transforms['val']`` = ``ToTensor`` +
``Normalize(0.5, 0.5)`` on the PIL image, a ``(N, 3, 384, 512)`` batch, ``model.eval()``):

* ``notebook-384x512``: two seeded 384 x 512 images in one batch (scores), and the input gradient of
  the first image's score (autograd on the ``ToTensor`` output; summary: L1 norm, sum, 32 x 32 block
  sums, values at seeded positions);
* ``wrapper-512x384``: one seeded 512 high x 384 wide image, the size the benchmark's wrapper
  resizes every frame to (``transforms.Resize([512, 384])``; the image already has that size, so
  the resize is the identity) - score. The port's default follows the notebook (384 x 512).

Environment patches (not the code): ``model_zoo.load_url`` in ``inceptionresnetv2`` returns a
freshly initialised 1001-class state dict instead of downloading the ImageNet weights (which the
seeded state dict overwrites anyway); ``torch.device("cuda:0")`` in the first cell is only created,
never used.

    uv run --locked python tools/parity/koncept512.py --repo /path/to/koniq-PyTorch
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

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
GOLDEN = ROOT / "packages/iqa-metrics/tests/goldens/koncept512.json"
WEIGHT_SEED = 0
WEIGHT_SCALE = math.sqrt(2)  # He scaling: with scale 1 the deep trunk nearly forgets the image
BLOCK = 32


def notebook_namespace(repo: Path) -> dict[str, object]:
    """Execute the notebook's first two code cells (definitions only) from the checkout."""
    notebook = json.loads((repo / "koncept512_train_test_pytorch.ipynb").read_text())
    cells = ["".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "code"]
    namespace: dict[str, object] = {"__name__": "koncept512_notebook"}
    for source in cells[:2]:
        exec(compile(source, str(repo / "koncept512_train_test_pytorch.ipynb"), "exec"), namespace)
    return namespace


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, required=True, help="checkout of ZhengyuZhao/koniq-PyTorch")
    parser.add_argument("--commit", help="commit of the checkout (read with git when omitted)")
    args = parser.parse_args()
    commit = reference_commit(args.repo, args.commit)
    torch.manual_seed(0)

    sys.path.insert(0, str(args.repo))
    import inceptionresnetv2 as irv2  # the official trunk

    irv2.model_zoo.load_url = lambda url, *a, **k: irv2.InceptionResNetV2(num_classes=1001).state_dict()
    ns = notebook_namespace(args.repo)
    from PIL import Image

    model_qa = ns["model_qa"]
    transform = ns["data_transforms"]["val"]  # type: ignore[index]
    model = model_qa(num_classes=1)  # type: ignore[operator]
    model.load_state_dict(seeded_state_dict(model, WEIGHT_SEED, scale=WEIGHT_SCALE), strict=True)
    model.eval()

    def pil(seed: int, shape: tuple[int, int, int]) -> Image.Image:
        return Image.fromarray(to_uint8(seeded_images(seed, shape)))

    cases = []
    # case 1: the notebook's batch at 384 x 512
    seeds, shape = [201, 202], (3, 384, 512)
    batch = torch.zeros(len(seeds), *shape)
    for i, seed in enumerate(seeds):
        batch[i] = transform(pil(seed, shape))
    with torch.no_grad():
        scores = model(batch).squeeze(1)
    to_tensor = transform.transforms[0]
    normalize = transform.transforms[1]
    image = to_tensor(pil(seeds[0], shape)).requires_grad_(True)
    out = model(normalize(image).unsqueeze(0))
    out.sum().backward()
    assert image.grad is not None
    positions = seeded_positions(8, shape)
    cases.append(
        {
            "name": "notebook-384x512",
            "inputs": {
                "weight_scale": WEIGHT_SCALE,
                "image_seeds": seeds,
                "shape": [len(seeds), *shape],
                "quantised": "uint8, u8 / 255",
            },
            "outputs": {
                "score": scores,
                "grad_of_first": {"positions": positions, "summary": gradient_summary(image.grad, positions, BLOCK)},
            },
        }
    )
    print(f"notebook-384x512: scores {scores.tolist()} (single-image autograd path {float(out):.6f})")

    # case 2: the benchmark wrapper's size, 512 high x 384 wide
    seed, shape = 203, (3, 512, 384)
    with torch.no_grad():
        score = model(transform(pil(seed, shape)).unsqueeze(0)).squeeze(1)
    cases.append(
        {
            "name": "wrapper-512x384",
            "inputs": {
                "weight_scale": WEIGHT_SCALE,
                "image_seeds": [seed],
                "shape": [1, *shape],
                "quantised": "uint8, u8 / 255",
            },
            "outputs": {"score": score},
        }
    )
    print(f"wrapper-512x384: score {score.tolist()}")

    write_golden(
        GOLDEN,
        component="koncept512",
        repo="ZhengyuZhao/koniq-PyTorch",
        commit=commit,
        entry="koncept512_train_test_pytorch.ipynb: model_qa(num_classes=1) + data_transforms['val'] (test cell)",
        generator="tools/parity/koncept512.py",
        cases=cases,
        notes=(
            f"weights: seeded_state_dict(model_qa, seed={WEIGHT_SEED}, scale=sqrt(2)); images: "
            "seeded_images(seed, shape) as "
            "uint8 PIL images (the test feeds u8 / 255). The notebook's first two code cells are executed from the "
            "checkout. Environment patch: inceptionresnetv2.model_zoo.load_url returns a fresh 1001-class state "
            "dict instead of downloading the ImageNet weights (overwritten by the seeded weights). Gradients: of "
            "the first image's score w.r.t. its [0, 1] ToTensor output, summarised as L1 norm, sum, "
            f"{BLOCK}x{BLOCK} block sums per channel and values at seeded positions [c, y, x]. "
            "wrapper-512x384: the benchmark wrapper's input size (Resize([512, 384]), identity here)."
        ),
    )
    print(f"wrote {GOLDEN}")


if __name__ == "__main__":
    main()
