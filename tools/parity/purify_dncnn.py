"""Golden for DnCNN: the benchmark's certified code (``archs/dncnn.py``, denoised smoothing's DnCNN).

Builds the official ``DnCNN(image_channels=3, ...)`` as the benchmark's certification scripts do
(``ccrf/calc_*_{rs,nms}_*.py``: ``DnCNN(image_channels=3, depth=17, n_channels=64)``, checkpoint
``best.pth`` with a ``module.`` prefix), in a TINY configuration (``depth=5, n_channels=16``), with
``seeded_state_dict`` weights, in eval mode, and runs it on noisy images prepared as those scripts
do (``x + sigma * N(0, 1)``, clipped to [0, 1], sigma 0.12); the output goes to the metric
unclamped. A gradient case: input gradient of a weighted sum of the output.

No environment patches: ``archs/dncnn.py`` is loaded by file (``archs/__init__.py`` imports every
classifier architecture).

    uv run --locked python tools/parity/purify_dncnn.py --repo /path/to/certified-iqa-defenses
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
from pathlib import Path

import torch

from iqa_core.testing.parity import seeded_images, seeded_state_dict, write_golden

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "packages/iqa-purify/tests/goldens/dncnn.json"
TINY = {"depth": 5, "n_channels": 16}
SHAPE = (2, 3, 12, 12)
SIGMA = 0.12


def _round(v):  # type: ignore[no-untyped-def]
    return [_round(x) for x in v] if isinstance(v, list) else float(f"{v:.9g}")


def f32(t: torch.Tensor) -> list:
    return _round(t.detach().float().tolist())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, required=True, help="checkout of katiashh/certified-iqa-defenses")
    parser.add_argument("--commit", help="commit of the checkout (read with git when omitted)")
    args = parser.parse_args()
    commit = args.commit or subprocess.check_output(["git", "-C", str(args.repo), "rev-parse", "HEAD"], text=True)
    commit = commit.strip()
    torch.set_num_threads(1)
    spec = importlib.util.spec_from_file_location("certified_dncnn", args.repo / "archs/dncnn.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    net = module.DnCNN(image_channels=3, **TINY)
    state = seeded_state_dict(net, seed=0)
    net.load_state_dict(state)
    net.eval()
    layout = {k: list(v.shape) for k, v in state.items()}
    clean = seeded_images(11, SHAPE)
    noisy = (clean + SIGMA * torch.randn(SHAPE, generator=torch.Generator().manual_seed(12))).clamp(0, 1)
    x = noisy.clone().requires_grad_(True)
    out = net(x)
    weights = seeded_images(13, SHAPE) - 0.5
    (out * weights).sum().backward()
    write_golden(
        GOLDEN,
        component="dncnn",
        repo="katiashh/certified-iqa-defenses",
        commit=commit,
        entry="archs/dncnn.py: DnCNN(image_channels=3), eval mode, as ccrf/calc_*_{rs,nms}_*.py use it; tiny",
        generator="tools/parity/purify_dncnn.py",
        cases=[
            {"name": "config", "inputs": {"args": TINY, "layout": layout}, "outputs": {}},
            {
                "name": "denoise",
                "inputs": {
                    "image_seed": 11,
                    "shape": list(SHAPE),
                    "sigma": SIGMA,
                    "noise": "torch.randn(shape, generator=manual_seed(12)); noisy clipped to [0, 1]",
                    "weights": "seeded_images(13) - 0.5",
                },
                "outputs": {"output": f32(out), "grad": f32(x.grad)},
            },
        ],
        notes=(
            "Seeded weights (seed 0) by official key (running statistics 0/1 as seeded_state_dict makes them), "
            "float32 CPU, no environment patches. The benchmark feeds the output to the metric unclamped. "
            "Values rounded to 9 significant digits."
        ),
    )
    print(f"wrote {GOLDEN} ({GOLDEN.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
