"""Golden for MPRNet: the benchmark's ``metrics/defences/mprnet`` (``MPR_model.py`` + ``run.py: MPRNetDefence``).

Builds the official ``MPRNet`` in a TINY configuration (``n_feat=16, scale_unetfeats=8,
scale_orsnetfeats=8, num_cab=2``; the released denoising model is 80/48/32/8) with
``seeded_state_dict`` weights (scale 0.5, so the stage outputs stay inside [0, 1] often enough for
the clamp not to hide differences), and runs:
* the raw network (stage-3 image, before the clamp) on a 16x16 image;
* ``MPRNetDefence.__call__`` (reflect pad to a multiple of 8, network, clamp, crop) on 13x18;
* the input gradient of a weighted sum of the raw 16x16 output.
The benchmark's copy of ``MPR_model.py`` is the Denoising ``MPRNet.py`` of swz30/MPRNet.

Environment patches: ``run.py`` is loaded by file with a stub ``defence_evaluate`` module (the
benchmark's evaluation harness); ``MPRNetDefence.__init__`` (which downloads the checkpoint with
``wget``) is bypassed and the seeded network is set as its ``model``.

    uv run --locked python tools/parity/purify_mprnet.py --repo /path/to/adversarial-defenses-for-iqa
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import types
from pathlib import Path

import torch

from iqa_core.testing.parity import seeded_images, seeded_state_dict, write_golden

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "packages/iqa-purify/tests/goldens/mprnet.json"
TINY = {"n_feat": 16, "scale_unetfeats": 8, "scale_orsnetfeats": 8, "num_cab": 2}
SCALE = 0.5


def _round(v):  # type: ignore[no-untyped-def]
    return [_round(x) for x in v] if isinstance(v, list) else float(f"{v:.9g}")


def f32(t: torch.Tensor) -> list:
    return _round(t.detach().float().tolist())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, required=True, help="checkout of the Guardians benchmark code")
    parser.add_argument("--commit", help="commit of the checkout (read with git when omitted)")
    args = parser.parse_args()
    commit = args.commit or subprocess.check_output(["git", "-C", str(args.repo), "rev-parse", "HEAD"], text=True)
    commit = commit.strip()
    torch.set_num_threads(1)
    root = args.repo / "metrics/defences/mprnet"
    sys.path.insert(0, str(root))
    sys.modules.setdefault("defence_evaluate", types.SimpleNamespace(test_main=None))  # type: ignore[arg-type]
    spec = importlib.util.spec_from_file_location("mprnet_run", root / "run.py")
    assert spec is not None and spec.loader is not None
    run = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run)

    net = run.MPRNet(**TINY)
    state = seeded_state_dict(net, seed=0, scale=SCALE)
    net.load_state_dict(state)
    net.eval()
    layout = {k: list(v.shape) for k, v in state.items()}
    defence = object.__new__(run.MPRNetDefence)
    defence.model = net

    x = seeded_images(6, (1, 3, 16, 16)).requires_grad_(True)
    raw = net(x)[0]
    weights = seeded_images(7, (1, 3, 16, 16)) - 0.5
    (raw * weights).sum().backward()
    odd = seeded_images(8, (1, 3, 13, 18))
    with torch.no_grad():
        defended = defence(odd)
    cases = [
        {"name": "config", "inputs": {"args": TINY, "weight_scale": SCALE, "layout": layout}, "outputs": {}},
        {
            "name": "network-16x16",
            "inputs": {"image_seed": 6, "shape": [1, 3, 16, 16], "weights": "seeded_images(7) - 0.5"},
            "outputs": {"output": f32(raw), "grad": f32(x.grad)},
        },
        {
            "name": "defence-13x18",
            "inputs": {"image_seed": 8, "shape": [1, 3, 13, 18]},
            "outputs": {"output": f32(defended)},
        },
    ]
    clamped = float(((defended == 0) | (defended == 1)).float().mean())
    print(f"raw output in [{float(raw.min()):.3f}, {float(raw.max()):.3f}]; {clamped:.0%} of defended pixels clamped")
    write_golden(
        GOLDEN,
        component="mprnet",
        repo="msu-video-group/adversarial-defenses-for-iqa",
        commit=commit,
        entry="metrics/defences/mprnet/dfsrc/MPR_model.py: MPRNet; metrics/defences/mprnet/run.py: "
        "MPRNetDefence.__call__, tiny configuration",
        generator="tools/parity/purify_mprnet.py",
        cases=cases,
        notes=(
            f"Seeded weights (seed 0, scale {SCALE}) by official key, float32 CPU. Environment patches: run.py "
            "loaded with a stub defence_evaluate module; MPRNetDefence.__init__ (wget of the checkpoint) "
            "bypassed. Values rounded to 9 significant digits."
        ),
    )
    print(f"wrote {GOLDEN} ({GOLDEN.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
