"""Golden for the benchmark's DensePure purification (katiashh/certified-iqa-defenses, ``DensePure-master``).

Runs the official ``GuidedDiffusion.image_editing_sample`` of ``DensePure-master/calc_dp_koncept.py``
(``num_t_steps = 2``, ``reverse_seed = 0``, ``sigma = 0.12`` and 0.25) with the checkout's modified
guided-diffusion ``p_sample`` (respaced learned-range steps) on noisy images, and records the
purified images ``(x_re + 1) / 2`` that the script gives the metric. The script loads the 256x256
ImageNet UNet at import; only the definitions of ``SubConfig`` and ``GuidedDiffusion`` are
executed, with these environment patches: ``create_model_and_diffusion`` returns a tiny seeded
stand-in UNet (one 3x3 convolution to 6 channels plus a timestep term; defined here and in the test)
with the checkout's real diffusion (``create_gaussian_diffusion`` with the script's ``SubConfig``),
and ``torch.load`` returns the stand-in's state dict. The reverse noise is the script's own: the
global torch RNG seeded with ``reverse_seed`` on the first call (the project's
``densepure_reverse`` gets a CPU generator seeded with 0 and draws in the same order).

    uv run --locked python tools/parity/certify_densepure.py --repo /path/to/certified-iqa-defenses
"""

from __future__ import annotations

import argparse
import ast
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import torch
from torch import nn

from iqa_core.testing.parity import seeded_images, seeded_weights_, write_golden

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "packages/iqa-certify/tests/goldens/certify_densepure.json"
SHAPE = (2, 3, 8, 8)


class StandIn(nn.Module):
    """``conv3x3(x) + 1e-3 * t``, 6 output channels (eps and the learned-range variance values)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 6, 3, padding=1)
        seeded_weights_(self, seed=21, scale=0.5)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        out = self.conv(x)
        return torch.cat([out[:, :3], torch.tanh(out[:, 3:])], 1) + 1e-3 * t.float().view(-1, 1, 1, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, required=True, help="checkout of katiashh/certified-iqa-defenses")
    parser.add_argument("--commit", help="commit of the checkout (read with git when omitted)")
    args = parser.parse_args()
    commit = (
        args.commit or subprocess.check_output(["git", "-C", str(args.repo), "rev-parse", "HEAD"], text=True).strip()
    )
    root = args.repo / "DensePure-master"
    sys.path.insert(0, str(root))
    from guided_diffusion import script_util  # the checkout's (DensePure-modified) guided diffusion

    stand_in = StandIn().eval()

    def create_model_and_diffusion(**kw: Any) -> tuple[nn.Module, Any]:
        keys = ("learn_sigma", "noise_schedule", "use_kl", "predict_xstart", "rescale_timesteps",
                "rescale_learned_sigmas", "timestep_respacing")  # fmt: skip
        diffusion = script_util.create_gaussian_diffusion(steps=kw["diffusion_steps"], **{k: kw[k] for k in keys})
        return stand_in, diffusion

    torch_env = types.SimpleNamespace(**{k: getattr(torch, k) for k in dir(torch) if not k.startswith("__")})
    torch_env.load = lambda *a, **k: stand_in.state_dict()
    cases = []
    for sigma in (0.12, 0.25):
        ns: dict[str, Any] = {
            "torch": torch_env, "np": __import__("numpy"), "random": __import__("random"),
            "create_model_and_diffusion": create_model_and_diffusion,
            "model_and_diffusion_defaults": script_util.model_and_diffusion_defaults,
            "args_to_dict": script_util.args_to_dict,
            "ssigma": sigma, "num_t_steps": 2, "t_total": 100, "reverse_seed": 0,
        }  # fmt: skip
        source = root / "calc_dp_koncept.py"
        tree = ast.parse(source.read_text())
        nodes = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name in {"SubConfig", "GuidedDiffusion"}]
        exec(compile(ast.Module(body=nodes, type_ignores=[]), str(source), "exec"), ns)
        runner = ns["GuidedDiffusion"](device=torch.device("cpu"))
        images = seeded_images(int(sigma * 100), SHAPE)
        noisy = images + sigma * torch.randn(SHAPE, generator=torch.Generator().manual_seed(5))
        outputs = []
        for _ in range(2):  # two calls: the second continues the reverse RNG stream
            x_re = runner.image_editing_sample((noisy - 0.5) * 2, bs_id=0, tag=None, sigma=sigma)
            outputs.append((x_re + 1) * 0.5)
        cases.append(
            {
                "name": f"sigma-{sigma}",
                "inputs": {
                    "image_seed": int(sigma * 100),
                    "shape": list(SHAPE),
                    "noise_seed": 5,
                    "sigma": sigma,
                    "reverse_seed": 0,
                    "num_t_steps": 2,
                },
                "outputs": {"t": int(runner.t), "first": outputs[0], "second": outputs[1]},
            }
        )
    write_golden(
        GOLDEN,
        component="certify-densepure",
        repo="katiashh/certified-iqa-defenses",
        commit=commit,
        entry="DensePure-master/calc_dp_koncept.py: GuidedDiffusion.image_editing_sample (num_t_steps=2) with "
        "DensePure-master/guided_diffusion (modified p_sample)",
        generator="tools/parity/certify_densepure.py",
        cases=cases,
        notes=(
            "CPU, float32. Tiny seeded stand-in UNet (conv3x3 3->6, seed 21, scale 0.5, tanh on the variance values, "
            "+1e-3 t) instead of 256x256_diffusion_uncond.pt: create_model_and_diffusion patched to return it with the "
            "checkout's create_gaussian_diffusion(SubConfig), torch.load patched to its state dict. Reverse noise: the "
            "script's global torch RNG seeded with reverse_seed=0, continued across the two calls."
        ),
    )
    print(f"wrote {GOLDEN}")


if __name__ == "__main__":
    main()
