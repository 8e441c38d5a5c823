"""Golden for DiffPure's forward noising and DDPM reverse steps: the benchmark's guided-diffusion runner.

Runs ``metrics/defences/diffpure/dfsrc/runners/diffpure_guided.py`` (``GuidedDiffusion.image_editing_sample``,
the code the Guardians benchmark's ``diffpure/run.py`` calls through ``SDE_Adv_Model``) with the
official ``guided_diffusion`` ``UNetModel`` / ``SpacedDiffusion`` in a TINY configuration of the same
classes (16x16, 32 channels, channel_mult 1,2, attention at 8, head channels 16, learned sigma,
scale-shift norm, resblock up/down; 1000-step linear schedule, ``timestep_respacing='1000'``,
``rescale_timesteps=True`` as ``configs/imagenet.yml``), weights from ``seeded_state_dict`` by
official key (the golden stores the key layout, so the test seeds the same weights without the
official code). Inputs are images in [-1, 1] as the runner gets them (``SDE_Adv_Model`` maps [0, 1]
with ``(x - 0.5) * 2``).

Environment patches (said so in the golden's notes):
* ``torch.load`` returns the seeded state dict (the runner loads ``256x256_diffusion_uncond.pt``);
* ``torch.randn_like`` returns precomputed noise: draw ``k`` (0 = forward noising, then one per
  reverse step, the last one at t=0 masked out) is ``torch.randn(shape, generator=
  torch.Generator().manual_seed(noise_seed + k))``; the project's test feeds the same draws;
* ``use_fp16=False`` (the benchmark converts the UNet to fp16 on CUDA; CPU float32 here);
* ``diffusion.p_sample`` is wrapped to record the state after each reverse step.

    uv run --locked python tools/parity/purify_diffpure.py --repo /path/to/adversarial-defenses-for-iqa
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import types
from pathlib import Path

import torch

from iqa_core.testing.parity import seeded_images, seeded_state_dict, write_golden

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "packages/iqa-purify/tests/goldens/diffpure.json"
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
    "timestep_respacing": "1000",
    "rescale_timesteps": True,
}


def noise(shape: tuple[int, ...], seed: int, k: int) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed + k))


def f32(t: torch.Tensor) -> list:
    """Nested lists of floats with 9 significant digits (exact for float32), to keep the golden small."""
    return _round(t.detach().float().tolist())


def _round(v):  # type: ignore[no-untyped-def]
    return [_round(x) for x in v] if isinstance(v, list) else float(f"{v:.9g}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, required=True, help="checkout of the Guardians benchmark code")
    parser.add_argument("--commit", help="commit of the checkout (read with git when omitted)")
    args = parser.parse_args()
    commit = args.commit or subprocess.check_output(["git", "-C", str(args.repo), "rev-parse", "HEAD"], text=True)
    commit = commit.strip()
    torch.set_num_threads(1)
    sys.path.insert(0, str(args.repo / "metrics/defences/diffpure"))
    from dfsrc.guided_diffusion.script_util import create_model_and_diffusion, model_and_diffusion_defaults
    from dfsrc.runners.diffpure_guided import GuidedDiffusion

    model_config = model_and_diffusion_defaults()
    model_config.update(TINY_MODEL)
    layout_model, _ = create_model_and_diffusion(**model_config)
    state = seeded_state_dict(layout_model, seed=0)
    layout = {k: list(v.shape) for k, v in layout_model.state_dict().items()}

    real_load, real_randn_like = torch.load, torch.randn_like
    torch.load = lambda *a, **k: {k2: v.clone() for k2, v in state.items()}  # type: ignore[assignment]
    config = types.SimpleNamespace(model=types.SimpleNamespace(**TINY_MODEL))
    cases = []
    try:
        for name, t, image_seed, noise_seed, keep in (
            ("t5", 5, 1, 100, ("x_t", "output")),
            ("t1", 1, 2, 200, ("output",)),
            ("t50", 50, 3, 300, ("output",)),
        ):
            runner = GuidedDiffusion(types.SimpleNamespace(t=t, sample_step=1), config, device=torch.device("cpu"))
            draws = iter(range(t + 1))

            def fake_randn_like(x, *a, _seed=noise_seed, _draws=draws, **k):  # type: ignore[no-untyped-def]
                return noise(tuple(x.shape), _seed, next(_draws)).to(x.dtype)

            torch.randn_like = fake_randn_like  # type: ignore[assignment]
            states: list[torch.Tensor] = []
            inner = runner.diffusion.p_sample

            def recording_p_sample(model, x, tt, *a, _inner=inner, _states=states, **k):  # type: ignore[no-untyped-def]
                if not _states:
                    _states.append(x.clone())  # x_t, what the runner noised
                out = _inner(model, x, tt, *a, **k)
                _states.append(out["sample"].clone())
                return out

            runner.diffusion.p_sample = recording_p_sample
            x0 = seeded_images(image_seed, SHAPE) * 2 - 1
            out = runner.image_editing_sample(x0.clone())
            assert next(draws, None) is None, "the runner drew a different number of noise tensors"
            outputs = {
                "x_t": f32(states[0]),
                "output": f32(out),
            }
            outputs = {k: v for k, v in outputs.items() if k in keep}
            outputs["step_mean"] = [float(s.mean()) for s in states[1:]]
            outputs["step_std"] = [float(s.std()) for s in states[1:]]
            cases.append(
                {
                    "name": name,
                    "inputs": {
                        "t": t,
                        "image_seed": image_seed,
                        "shape": list(SHAPE),
                        "image_range": "[-1, 1] = seeded_images * 2 - 1",
                        "noise_seed": noise_seed,
                    },
                    "outputs": outputs,
                }
            )
    finally:
        torch.load, torch.randn_like = real_load, real_randn_like  # type: ignore[assignment]

    write_golden(
        GOLDEN,
        component="diffpure",
        repo="msu-video-group/adversarial-defenses-for-iqa",
        commit=commit,
        entry="metrics/defences/diffpure/dfsrc/runners/diffpure_guided.py: GuidedDiffusion.image_editing_sample "
        "(guided_diffusion UNetModel + SpacedDiffusion.p_sample), tiny configuration",
        generator="tools/parity/purify_diffpure.py",
        cases=[{"name": "config", "inputs": {"model": TINY_MODEL, "layout": layout}, "outputs": {}}, *cases],
        notes=(
            "Seeded weights (seed 0) by official key; the UNet runs float32 on CPU (the benchmark: fp16 on "
            "CUDA). Environment patches: torch.load returns the seeded state dict; torch.randn_like returns "
            "draw k = torch.randn(shape, generator=torch.Generator().manual_seed(noise_seed + k)) "
            "(k = 0 forward noising, k = 1.. the reverse steps t-1..0; the t=0 draw is masked). The "
            "benchmark wraps this in SDE_Adv_Model, which resizes to 256x256 (bilinear) before and back "
            "after; that resize is not part of this golden. Values rounded to 9 significant digits."
        ),
    )
    print(f"wrote {GOLDEN} ({GOLDEN.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
