"""Goldens for the classic purifications: the Guardians benchmark's own ``metrics/defences/<name>/run.py``.

Runs each official ``Defence`` class (msu-video-group/adversarial-defenses-for-iqa) at the
benchmark's five presets (``utils/defence_presets.json``) on seeded images, and writes one golden
per defence under ``packages/iqa-purify/tests/goldens/purify_<name>.json``. Inputs are
``seeded_images`` quantised to 8 bits (``round(255 x) / 255``), as the benchmark's inputs are (it
reads 8-bit files with ``ToTensor``); JPEG also gets a float (not 8-bit) input. Outputs are stored
as base64 of little-endian float32 (or uint8 for 8-bit codec outputs) with shape, so the golden
is exact and small. Randomized defences run under ``torch.manual_seed(seed)`` exactly as the
benchmark calls them (``defence_evaluate.run`` seeds the global RNG before every call, batch size
1); the generator records the parameters they drew (angle, crop origin) by wrapping torchvision's
``get_params`` (observed, not changed).

Environment patches (not the code): ``defence_evaluate`` (the evaluation harness, which imports
the datasets, cv2, pandas, frozendict) is replaced by a stub module, because only ``Defence`` is
run; ``subprocess.run`` is a no-op while importing/constructing (DiffJPEG's ``setup.sh`` runs
``pip install kornia``, FCN's downloads ``fcn_mse.pth``); FCN's ``torch.load`` returns
``{"model": seeded_state_dict(...)}`` (no checkpoint is public at a checksummed URL).

    uv run --locked python tools/parity/purify_classic.py --repo /path/to/adversarial-defenses-for-iqa
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import importlib.util
import json
import subprocess
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from iqa_core.testing.parity import seeded_images, seeded_state_dict, write_golden

ROOT = Path(__file__).resolve().parents[2]
GOLDENS = ROOT / "packages/iqa-purify/tests/goldens"
REPO = "msu-video-group/adversarial-defenses-for-iqa"
SMALL = (1, 3, 24, 32)  # most cases: one small image, arrays stored whole
LARGE = (1, 3, 384, 512)  # the benchmark's KonIQ image size (upscale's fixed output size)
NOISE = (2, 3, 16, 16)  # random noise: a batch of two (one draw for the batch)
IMAGE_SEED = 1301


def encode(t: torch.Tensor, dtype: str = "float32") -> dict[str, Any]:
    """An array as ``{"shape", "dtype", "b64"}`` (little-endian bytes, base64)."""
    a = t.detach().cpu().numpy()
    a = np.rint(a * 255).astype("<u1") if dtype == "uint8" else a.astype("<f4")
    return {"shape": list(a.shape), "dtype": dtype, "b64": base64.b64encode(a.tobytes()).decode()}


def stats(t: torch.Tensor) -> dict[str, float]:
    a = t.detach().double()
    return {"sum": float(a.sum()), "sumsq": float((a * a).sum()), "min": float(a.min()), "max": float(a.max())}


def images8(seed: int, shape: tuple[int, ...]) -> torch.Tensor:
    """The generator's and the test's input: seeded images quantised to 8 bits, float32."""
    return (seeded_images(seed, shape) * 255).round() / 255


@contextlib.contextmanager
def no_subprocess() -> Iterator[None]:
    saved = subprocess.run
    subprocess.run = lambda *a, **k: subprocess.CompletedProcess(a, 0)  # type: ignore[assignment]
    try:
        yield
    finally:
        subprocess.run = saved  # type: ignore[assignment]


def load_defence_module(repo: Path, name: str) -> types.ModuleType:
    folder = repo / "metrics/defences" / name
    sys.path.insert(0, str(folder))
    try:
        spec = importlib.util.spec_from_file_location(f"guardians_{name.replace('-', '_')}", folder / "run.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        with no_subprocess():
            spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(folder))
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--repo", type=Path, required=True, help="checkout of msu-video-group/adversarial-defenses-for-iqa"
    )
    parser.add_argument("--commit", help="commit of the checkout (read with git when omitted)")
    args = parser.parse_args()
    commit = (
        args.commit or subprocess.check_output(["git", "-C", str(args.repo), "rev-parse", "HEAD"], text=True).strip()
    )
    torch.set_num_threads(1)
    sys.modules["defence_evaluate"] = types.SimpleNamespace(test_main=None)  # type: ignore[assignment]
    presets = json.loads((args.repo / "metrics/defences/utils/defence_presets.json").read_text())
    base_notes = (
        "Environment patches: defence_evaluate (the evaluation harness) is a stub module; subprocess.run "
        "is a no-op during import/construction (setup.sh scripts). "
    )
    x = images8(IMAGE_SEED, SMALL)
    inputs = {"seed": IMAGE_SEED, "shape": list(SMALL), "quantised": "round(255 x) / 255"}

    def write(component: str, entry: str, cases: list[dict[str, Any]], notes: str = "") -> None:
        path = write_golden(
            GOLDENS / f"purify_{component.replace('-', '_')}.json",
            component=f"purify-{component}",
            repo=REPO,
            commit=commit,
            entry=entry,
            generator="tools/parity/purify_classic.py",
            cases=cases,
            notes=base_notes + notes,
        )
        print(f"{path.relative_to(ROOT)}: {len(cases)} cases, {path.stat().st_size // 1024} KiB")

    def values(name: str) -> list[Any]:
        return [presets[name]["presets"][str(i)] for i in range(5)]

    # deterministic, elementwise or filters: one golden per defence, every preset, the whole array
    simple = {
        "color-quantization": ("npp", {}),
        "gaussian-blur": ("kernel_size", {}),
        "median-blur": ("kernel_size", {}),
        "unsharp": ("kernel_size", {}),
        "resize": ("scale", {}),
    }
    for name, (param, _) in simple.items():
        module = load_defence_module(args.repo, name)
        cases = []
        for value in values(name):
            out = module.Defence(**{param: value})(x.clone())
            cases.append({"name": f"{param}={value}", "param": {param: value}, "inputs": inputs, "output": encode(out)})
        write(name, f"metrics/defences/{name}/run.py: Defence({param}=preset)(x)", cases)

    # JPEG: torchvision's libjpeg; 8-bit input (the benchmark's) and a float input (truncation)
    module = load_defence_module(args.repo, "jpeg")
    xf = seeded_images(IMAGE_SEED + 1, SMALL)
    cases = []
    for q in values("jpeg"):
        cases.append(
            {
                "name": f"q={q}",
                "param": {"q": q},
                "inputs": inputs,
                "output": encode(module.Defence(q=q)(x.clone()), "uint8"),
            }
        )
        cases.append(
            {
                "name": f"q={q} float input",
                "param": {"q": q},
                "inputs": {"seed": IMAGE_SEED + 1, "shape": list(SMALL), "quantised": "no"},
                "output": encode(module.Defence(q=q)(xf.clone()), "uint8"),
            }
        )
    write("jpeg", "metrics/defences/jpeg/run.py: Defence(q=preset)(x) (torchvision encode_jpeg/decode_jpeg)", cases)

    # DiffJPEG: the benchmark's dfsrc (Reich et al.'s code), STE variant, reflect padding to 16
    module = load_defence_module(args.repo, "diffjpeg")
    weight = seeded_images(IMAGE_SEED + 2, SMALL) - 0.5
    cases = []
    for q in values("diffjpeg"):
        xx = x.clone().requires_grad_(True)
        out = module.Defence(q=q)(xx)
        (out * weight).sum().backward()
        case = {"name": f"q={q}", "param": {"q": q}, "inputs": inputs, "output": encode(out)}
        if q in (10, 50, 90):
            case["grad"] = encode(xx.grad)
            case["grad_of"] = "sum(output * (seeded_images(1303, shape) - 0.5))"
        cases.append(case)
    write(
        "diffjpeg",
        "metrics/defences/diffjpeg/run.py: Defence(q=preset)(x) -> dfsrc.DiffJPEGCoding(ste=True)",
        cases,
        "Input gradients through the official STE codec are stored too.",
    )

    # upscale: the reference always upsamples to 384x512, so it runs on a 384x512 input (the benchmark's size)
    module = load_defence_module(args.repo, "upscale")
    xl = images8(IMAGE_SEED, LARGE)
    cases = []
    for s in values("upscale"):
        out = module.Defence(scale=s)(xl.clone())
        patches = {
            "top_left": encode(out[..., :16, :16]),
            "centre": encode(out[..., 184:200, 248:264]),
            "bottom_right": encode(out[..., -16:, -16:]),
        }
        cases.append(
            {
                "name": f"scale={s}",
                "param": {"scale": s},
                "inputs": {"seed": IMAGE_SEED, "shape": list(LARGE), "quantised": "round(255 x) / 255"},
                "output_shape": list(out.shape),
                "stats": stats(out),
                "patches": patches,
            }
        )
    write(
        "upscale",
        "metrics/defences/upscale/run.py: Defence(scale=preset)(x), x of 384x512",
        cases,
        "Output 384x512 (the reference's fixed nn.Upsample size): three 16x16 patches and whole-array statistics.",
    )

    # random noise: seeded exactly as the benchmark (torch.manual_seed before the call)
    module = load_defence_module(args.repo, "random-noise")
    xn = images8(IMAGE_SEED, NOISE)
    cases = []
    for sigma in values("random-noise"):
        torch.manual_seed(7)
        out = module.Defence(sigma=sigma)(xn.clone())
        cases.append(
            {
                "name": f"sigma={sigma}",
                "param": {"sigma": sigma},
                "inputs": {"seed": IMAGE_SEED, "shape": list(NOISE), "quantised": "round(255 x) / 255"},
                "torch_manual_seed": 7,
                "output": encode(out),
            }
        )
    write("random-noise", "metrics/defences/random-noise/run.py: torch.manual_seed(7); Defence(sigma=preset)(x)", cases)

    # random rotate / crop: record what torchvision drew
    from torchvision import transforms

    drawn: dict[str, Any] = {}
    rot_params = transforms.RandomRotation.get_params
    crop_params = transforms.RandomCrop.get_params

    def record_rot(degrees: Any) -> float:
        drawn["angle"] = rot_params(degrees)
        return drawn["angle"]

    def record_crop(img: Any, output_size: Any) -> Any:
        drawn["crop"] = crop_params(img, output_size)
        return drawn["crop"]

    transforms.RandomRotation.get_params = staticmethod(record_rot)  # type: ignore[assignment]
    transforms.RandomCrop.get_params = staticmethod(record_crop)  # type: ignore[assignment]
    module = load_defence_module(args.repo, "random-rotate")
    cases = []
    for limit in values("random-rotate"):
        for seed in (3,) if limit != 15 else (3, 4):
            torch.manual_seed(seed)
            out = module.Defence(angle_limit=limit)(x.clone())
            cases.append(
                {
                    "name": f"angle_limit={limit} seed={seed}",
                    "param": {"angle_limit": limit},
                    "inputs": inputs,
                    "torch_manual_seed": seed,
                    "angle": drawn["angle"],
                    "output": encode(out),
                }
            )
    write(
        "random-rotate",
        "metrics/defences/random-rotate/run.py: torch.manual_seed(s); Defence(angle_limit=preset)(x)",
        cases,
        "The angle torchvision drew is recorded by wrapping RandomRotation.get_params (values unchanged).",
    )
    module = load_defence_module(args.repo, "random-crop")
    cases = []
    for size in values("random-crop"):
        torch.manual_seed(5)
        out = module.Defence(size=size)(xl.clone())
        cases.append(
            {
                "name": f"size={size}",
                "param": {"size": size},
                "inputs": {"seed": IMAGE_SEED, "shape": list(LARGE), "quantised": "round(255 x) / 255"},
                "torch_manual_seed": 5,
                "top_left": list(drawn["crop"][:2]),
                "output_shape": list(out.shape),
                "stats": stats(out),
            }
        )
    write(
        "random-crop",
        "metrics/defences/random-crop/run.py: torch.manual_seed(5); Defence(size=preset)(x), x of 384x512",
        cases,
        "The crop origin torchvision drew is recorded by wrapping RandomCrop.get_params (values unchanged); the "
        "reference returns the crop itself (statistics stored).",
    )

    # flip
    module = load_defence_module(args.repo, "flip")
    write(
        "flip",
        "metrics/defences/flip/run.py: Defence()(x)",
        [{"name": "axes=[2, 3]", "param": {}, "inputs": inputs, "output": encode(module.Defence()(x.clone()))}],
    )

    # FCN: the benchmark's FCN class and Defence wrapper on seeded weights
    module = load_defence_module(args.repo, "fcn")
    layout = module.FCN(3, 3, 64, norm_type="instance", act_type="relu")
    state = seeded_state_dict(layout, seed=13)
    saved_load = torch.load
    torch.load = lambda *a, **k: {"model": state}  # type: ignore[assignment]
    try:
        with no_subprocess():
            defence = module.Defence(fcn_path="fcn_mse.pth")
    finally:
        torch.load = saved_load  # type: ignore[assignment]
    xx = x.clone().requires_grad_(True)
    out = defence(xx)
    (out * weight).sum().backward()
    write(
        "fcn",
        "metrics/defences/fcn/run.py: Defence() (FCN(3, 3, 64, norm_type='instance', act_type='relu'))",
        [
            {
                "name": "seeded weights",
                "weights": "seeded_state_dict(FCN layout, seed=13)",
                "inputs": inputs,
                "output": encode(out),
                "grad": encode(xx.grad),
                "grad_of": "sum(output * (seeded_images(1303, shape) - 0.5))",
            }
        ],
        "torch.load returns {'model': seeded_state_dict(layout, seed=13)} (no public checksummed checkpoint).",
    )


if __name__ == "__main__":
    main()
