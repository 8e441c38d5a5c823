"""Golden for LinearityIQA: the official ``IQAModel`` and ``test_demo.py`` on seeded weights and images.

Builds lidq92/LinearityIQA's ``IQAModel`` (``resnext101_32x8d``, ``pool=avg``, ``P6=P7=1``,
``use_bn_end=False``: the released ``p1q2.pth`` configuration), loads
``seeded_state_dict(model, seed=0)`` into it, saves it in the official checkpoint format
``{"model": ..., "k": [...], "b": [...]}`` with a distinct ``k``/``b`` per output, and runs the
official ``test_demo.run`` on seeded PNG images (its printed score is parsed):

* ``demo-noresize``: 224 x 288 image, no resize (the benchmark wrapper's convention: the frame at its
  own size) - score, the three raw outputs ``y``, and a summary of the input gradient of the score
  computed with the official pipeline (``to_tensor``, ``normalize``, ``IQAModel``, ``y[-1] * k[0] +
  b[0]``, as in ``test_demo.py``, with autograd on);
* ``demo-resize``: 240 x 320 image, ``--resize`` to 192 x 256 (the official ``--resize`` path with a
  smaller target than 498 x 664 to keep it cheap) - score only; PIL resizes the uint8 image (and
  rounds to uint8), the port resizes the float tensor.

Environment patches (not the code): ``numpy.int`` (removed from NumPy) is restored as ``int`` for
``SPSP``; torchvision's ``resnext101_32x8d`` is built with ``weights=None`` (``pretrained=True``
would download ImageNet weights, which are overwritten by the seeded state dict anyway); an empty
``h5py`` module stands in for the import ``test_demo.py`` makes but never uses.

    uv run --locked python tools/parity/linearity.py --repo /path/to/LinearityIQA
"""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import sys
import tempfile
import types
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
GOLDEN = ROOT / "packages/iqa-metrics/tests/goldens/linearity.json"
WEIGHT_SEED = 0
K = [12.5, 3.0, 0.5]  # k[0], b[0] map the final output; the others belong to the side regressors
B = [40.0, -7.0, 2.0]
BLOCK = 32  # gradient summary: sums over 32 x 32 blocks per channel


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, required=True, help="checkout of lidq92/LinearityIQA")
    parser.add_argument("--commit", help="commit of the checkout (read with git when omitted)")
    args = parser.parse_args()
    commit = reference_commit(args.repo, args.commit)
    torch.manual_seed(0)
    torch.set_num_threads(max(1, torch.get_num_threads()))

    # environment patches
    if not hasattr(np, "int"):
        np.int = int  # type: ignore[attr-defined]
    import torchvision.models as tv_models

    original = tv_models.resnext101_32x8d
    tv_models.resnext101_32x8d = lambda *a, pretrained=False, **k: original(weights=None)  # type: ignore[assignment]
    sys.modules.setdefault("h5py", types.ModuleType("h5py"))  # imported by test_demo.py, never used there
    sys.path.insert(0, str(args.repo))
    import test_demo  # the official inference script
    from IQAmodel import IQAModel  # the official model
    from PIL import Image
    from torchvision.transforms.functional import normalize, to_tensor

    model = IQAModel(arch="resnext101_32x8d", pool="avg", use_bn_end=False, P6=1, P7=1)
    model.load_state_dict(seeded_state_dict(model, WEIGHT_SEED), strict=True)
    model.eval()

    cases = []
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = Path(tmp) / "p1q2.pth"
        torch.save({"model": model.state_dict(), "k": K, "b": B}, ckpt)

        def run_demo(image_path: Path, resize: tuple[int, int] | None) -> float:
            demo_args = types.SimpleNamespace(
                architecture="resnext101_32x8d",
                pool="avg",
                use_bn_end=False,
                P6=1,
                P7=1,
                trained_model_file=str(ckpt),
                img_path=str(image_path),
                resize=resize is not None,
                resize_size_h=resize[0] if resize else 498,
                resize_size_w=resize[1] if resize else 664,
            )
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                test_demo.run(demo_args)
            match = re.search(r"The image quality score is (\S+)", out.getvalue())
            assert match, out.getvalue()
            return float(match.group(1))

        # case 1: no resize, score + raw outputs + input gradient
        seed, shape = 101, (3, 224, 288)
        u8 = to_uint8(seeded_images(seed, shape))
        path = Path(tmp) / "noresize.png"
        Image.fromarray(u8).save(path)
        score = run_demo(path, None)
        image = to_tensor(Image.open(path).convert("RGB")).requires_grad_(True)
        y = model(normalize(image, [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]).unsqueeze(0))
        mapped = y[-1] * K[0] + B[0]
        mapped.sum().backward()
        assert image.grad is not None
        positions = seeded_positions(7, shape)
        cases.append(
            {
                "name": "demo-noresize",
                "inputs": {
                    "image_seed": seed,
                    "shape": [1, *shape],
                    "quantised": "uint8 PNG, u8 / 255",
                    "k": K,
                    "b": B,
                },
                "outputs": {
                    "score": [score],
                    "y": [float(t) for t in y],
                    "grad_positions": positions,
                    "grad": gradient_summary(image.grad, positions, BLOCK),
                },
            }
        )
        print(f"demo-noresize: score {score:.6f} (autograd path {float(mapped):.6f}), y {[float(t) for t in y]}")

        # case 2: the official --resize path (PIL bilinear on uint8) to a small target
        seed, shape, target = 102, (3, 240, 320), (192, 256)
        u8 = to_uint8(seeded_images(seed, shape))
        path = Path(tmp) / "resize.png"
        Image.fromarray(u8).save(path)
        score = run_demo(path, target)
        cases.append(
            {
                "name": "demo-resize",
                "inputs": {"image_seed": seed, "shape": [1, *shape], "resize": list(target), "k": K, "b": B},
                "outputs": {"score": [score]},
            }
        )
        print(f"demo-resize: score {score:.6f}")

    write_golden(
        GOLDEN,
        component="linearity",
        repo="lidq92/LinearityIQA",
        commit=commit,
        entry="IQAmodel.py IQAModel(resnext101_32x8d, avg, P6=P7=1) + test_demo.py run(): y[-1] * k[0] + b[0]",
        generator="tools/parity/linearity.py",
        cases=cases,
        notes=(
            f"weights: seeded_state_dict(IQAModel, seed={WEIGHT_SEED}); images: seeded_images(seed, shape) saved as "
            "uint8 PNG and read back by the official script (the test feeds u8 / 255). Environment patches: "
            "numpy.int restored as int (SPSP uses np.int, removed from NumPy); torchvision resnext101_32x8d built "
            "with weights=None instead of downloading ImageNet weights (overwritten by the seeded state dict); an "
            "empty h5py module stands in for test_demo.py's unused import. "
            "Gradients: of the summed mapped score w.r.t. the [0, 1] image tensor, official to_tensor/normalize/"
            f"IQAModel with autograd on; summarised as L1 norm, sum, {BLOCK}x{BLOCK} block sums per channel and "
            "values at seeded positions [c, y, x]. demo-resize: PIL resizes the uint8 image; the port resizes the "
            "float tensor (bilinear, antialiased) - a documented deviation with its own tolerance."
        ),
    )
    print(f"wrote {GOLDEN}")


if __name__ == "__main__":
    main()
