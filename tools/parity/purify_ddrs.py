"""Golden for the one-step diffusion denoiser (DDRS): the benchmark's certified ``ccrf/calc_*_ddrs_*.py``.

Those scripts (Carlini et al.'s ``DiffusionRobustModel``, copied) pick ``t`` with
``t = 0; while real_sigma < 2 * sigma: t += 1; real_sigma = sqrt_one_minus_alphas_cumprod[t] /
sqrt_alphas_cumprod[t]`` and denoise with ``x_t = diffusion.q_sample(2 x - 1, t, noise)``,
``diffusion.p_sample(model, x_t, t, clip_denoised=True)["pred_xstart"]``, mapped back with
``(imgs + 1) / 2``. The scripts run model code at import, so this generator repeats those few
glue lines and calls the official ``guided_diffusion`` (``ccrf/guided_diffusion``: ``UNetModel``,
``GaussianDiffusion.q_sample`` / ``p_sample``) with the scripts' ``Args`` (learned sigma, linear
1000 steps, no respacing, ``rescale_timesteps=False``) in a TINY network configuration (16x16,
32 channels, mult 1,2, attention at 8, head channels 16) with ``seeded_state_dict`` weights.
The golden stores ``t``, the noised ``x_t`` (so the project's denoiser can be given the same noisy
image, ``(x_t / sqrt(a_bar_t) + 1) / 2``) and the denoised output.

No environment patches (``use_fp16=False`` as the scripts).

    uv run --locked python tools/parity/purify_ddrs.py --repo /path/to/certified-iqa-defenses
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import torch

from iqa_core.testing.parity import seeded_images, seeded_state_dict, write_golden

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "packages/iqa-purify/tests/goldens/ddrs.json"
SHAPE = (1, 3, 16, 16)
TINY_MODEL = {
    "image_size": 16,
    "num_channels": 32,
    "num_res_blocks": 1,
    "channel_mult": "1,2",
    "attention_resolutions": "8",
    "num_head_channels": 16,
    "learn_sigma": True,
    "use_scale_shift_norm": True,
    "resblock_updown": True,
    "use_fp16": False,
    "class_cond": False,
    "diffusion_steps": 1000,
    "noise_schedule": "linear",
    "timestep_respacing": None,
    "rescale_timesteps": False,
}


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
    sys.path.insert(0, str(args.repo / "ccrf"))
    from guided_diffusion.script_util import create_model_and_diffusion, model_and_diffusion_defaults

    config = model_and_diffusion_defaults()
    config.update(TINY_MODEL)
    model, diffusion = create_model_and_diffusion(**config)
    state = seeded_state_dict(model, seed=0)
    model.load_state_dict(state)
    model.eval()
    layout = {k: list(v.shape) for k, v in state.items()}
    cases = []
    for name, sigma, image_seed, noise_seed in (("sigma0.12", 0.12, 14, 15), ("sigma0.25", 0.25, 16, 17)):
        t, real_sigma = 0, 0.0
        while real_sigma < 2 * sigma:  # the scripts' loop
            t += 1
            real_sigma = diffusion.sqrt_one_minus_alphas_cumprod[t] / diffusion.sqrt_alphas_cumprod[t]
        x = seeded_images(image_seed, SHAPE)
        t_batch = torch.tensor([t] * len(x))
        noise = torch.randn(SHAPE, generator=torch.Generator().manual_seed(noise_seed))
        x_t = diffusion.q_sample(x_start=x * 2 - 1, t=t_batch, noise=noise)
        with torch.no_grad():
            out = diffusion.p_sample(model, x_t, t_batch, clip_denoised=True)["pred_xstart"]
        cases.append(
            {
                "name": name,
                "inputs": {"sigma": sigma, "image_seed": image_seed, "shape": list(SHAPE), "noise_seed": noise_seed},
                "outputs": {"t": t, "x_t": f32(x_t), "output": f32((out + 1) / 2)},
            }
        )
    write_golden(
        GOLDEN,
        component="ddrs",
        repo="katiashh/certified-iqa-defenses",
        commit=commit,
        entry="ccrf/calc_*_ddrs_*.py: timestep loop + DiffusionRobustModel.denoise (q_sample, p_sample pred_xstart) "
        "on ccrf/guided_diffusion, tiny configuration",
        generator="tools/parity/purify_ddrs.py",
        cases=[{"name": "config", "inputs": {"model": TINY_MODEL, "layout": layout}, "outputs": {}}, *cases],
        notes=(
            "Seeded weights (seed 0) by official key, float32 CPU, no environment patches. The glue of the "
            "scripts (timestep loop, q_sample, p_sample(...)['pred_xstart'], (x + 1) / 2) is repeated here "
            "because the scripts run at import. Values rounded to 9 significant digits."
        ),
    )
    print(f"wrote {GOLDEN} ({GOLDEN.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
