"""Golden for DISCO: the benchmark's ``INR`` wrapper around the official LIIF (``metrics/defences/disco``).

Builds a TINY LIIF (EDSR-baseline encoder with 2 residual blocks of 16 features, no upsampling; MLP
hidden 32, 32; ``local_ensemble``, ``feat_unfold``, ``cell_decode`` on, as ``disco_pgd.pth``) through
the official ``models.make`` from a checkpoint ``{"model": {"name": "liif", "args": ..., "sd": ...}}``
with ``seeded_state_dict`` weights, and runs ``robustbench/model_zoo/defense/inr.py: INR.forward``
(input (x - 0.5) / 0.5, query at pixel centres with cell 2/H, 2/W, output * 0.5 + 0.5 clamped).
The benchmark's ``disco/run.py`` renders 299x299 whatever the input; here ``INR`` is built at the
input size (what the project returns) and at another size (the query at a different resolution).
A gradient case runs the official ``gen_feat`` + ``query_rgb`` without ``INR``'s ``torch.no_grad``.

Environment patches: ``Tensor.cuda`` is the identity (``query_rgb`` moves coordinates to CUDA);
``tensorboardX`` is a stub module (imported by ``dfsrc/utils.py`` for training logs only).

    uv run --locked python tools/parity/purify_disco.py --repo /path/to/adversarial-defenses-for-iqa
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import types
from pathlib import Path

import torch

from iqa_core.testing.parity import seeded_images, seeded_state_dict, write_golden

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "packages/iqa-purify/tests/goldens/disco.json"
SPEC_ARGS = {
    "encoder_spec": {"name": "edsr-baseline", "args": {"n_resblocks": 2, "n_feats": 16, "no_upsampling": True}},
    "imnet_spec": {"name": "mlp", "args": {"out_dim": 3, "hidden_list": [32, 32]}},
}
SHAPE = (2, 3, 12, 16)


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
    torch.Tensor.cuda = lambda self, *a, **k: self  # type: ignore[method-assign]
    sys.modules.setdefault("tensorboardX", types.SimpleNamespace(SummaryWriter=None))  # type: ignore[arg-type]
    sys.path.insert(0, str(args.repo / "metrics/defences/disco"))
    import dfsrc.models as inr_models

    # inr.py by file: importing it as a package module would run robustbench's __init__ chain (model zoo)
    inr_file = args.repo / "metrics/defences/disco/dfsrc/robustbench/model_zoo/defense/inr.py"
    inr_spec = importlib.util.spec_from_file_location("disco_inr", inr_file)
    assert inr_spec is not None and inr_spec.loader is not None
    inr_module = importlib.util.module_from_spec(inr_spec)
    inr_spec.loader.exec_module(inr_module)
    INR = inr_module.INR

    spec = {"name": "liif", "args": SPEC_ARGS}
    layout_model = inr_models.make(spec)
    state = seeded_state_dict(layout_model, seed=0)
    layout = {k: list(v.shape) for k, v in state.items()}
    images = seeded_images(4, SHAPE)
    cases = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "disco_tiny.pth"
        torch.save({"model": {**spec, "sd": state}}, path)
        for name, (h, w) in (("input-size", SHAPE[-2:]), ("other-size", (10, 21))):
            inr = INR("cpu", [str(path)], height=h, width=w)
            out = inr.forward(images.clone())
            cases.append(
                {
                    "name": name,
                    "inputs": {"image_seed": 4, "shape": list(SHAPE), "out_size": [h, w]},
                    "outputs": {"output": f32(out)},
                }
            )
        # input gradient of sum(weights * output) through the official modules (INR.forward runs no_grad)
        inr = INR("cpu", [str(path)], height=SHAPE[2], width=SHAPE[3])
        model = inr.inr_model[0]
        x = images[:1].clone().requires_grad_(True)
        model.gen_feat((x - 0.5) / 0.5)
        pred = model.query_rgb(inr.coord.unsqueeze(0), inr.cell.unsqueeze(0))
        rendered = (pred * 0.5 + 0.5).view(1, SHAPE[2], SHAPE[3], 3).permute(0, 3, 1, 2)
        weights = seeded_images(5, (1, 3, SHAPE[2], SHAPE[3])) - 0.5
        (rendered * weights).sum().backward()
        cases.append(
            {
                "name": "gradient",
                "inputs": {"image_seed": 4, "shape": list(SHAPE), "batch_index": 0, "weights": "seeded(5) - 0.5"},
                "outputs": {"rendered": f32(rendered), "grad": f32(x.grad)},
            }
        )
    write_golden(
        GOLDEN,
        component="disco",
        repo="msu-video-group/adversarial-defenses-for-iqa",
        commit=commit,
        entry="metrics/defences/disco/dfsrc/robustbench/model_zoo/defense/inr.py: INR.forward "
        "(models/liif.py LIIF.query_rgb, models/edsr.py edsr-baseline, models/mlp.py), tiny configuration",
        generator="tools/parity/purify_disco.py",
        cases=[{"name": "config", "inputs": {"args": SPEC_ARGS, "layout": layout}, "outputs": {}}, *cases],
        notes=(
            "Seeded weights (seed 0) by official key, float32 CPU. Environment patches: Tensor.cuda is the "
            "identity; tensorboardX is a stub. The benchmark renders 299x299 whatever the input "
            "(disco/run.py); this golden renders at the input size and at 10x21. The gradient case "
            "(unclamped rendering, no no_grad) is not what INR.forward does. Values rounded to 9 significant digits."
        ),
    )
    print(f"wrote {GOLDEN} ({GOLDEN.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
