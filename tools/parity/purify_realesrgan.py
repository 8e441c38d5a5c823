"""Golden for Real-ESRGAN: the benchmark's ``metrics/defences/realesrgan`` (SRVGGNetCompact + its ``RealESRGANer``).

Builds the benchmark's ``dfsrc/archs/srvgg_arch.py: SRVGGNetCompact`` (``act_type='prelu'``, x4) in a
TINY configuration (``num_feat=8, num_conv=2``; ``realesr-general-x4v3`` is 64/32) and runs the
benchmark's ``dfsrc/utils.py: RealESRGANer`` as ``run.py: RealESRGANDefense`` configures it for
``realesr-general-x4v3`` with denoise strength 0.2: ``model_path=[x4v3, wdn]``,
``dni_weight=[0.2, 0.8]`` (deep network interpolation of the two checkpoints, key ``params``),
``tile=0, tile_pad=10, pre_pad=0, half=False`` (``fp32=True``), then ``enhance(image, outscale=1)``.
The two checkpoints hold ``seeded_state_dict`` weights, seed 0 (x4v3) and seed 1 (wdn).
The benchmark's ``enhance`` ignores ``outscale`` and returns the x4 network output, unclamped.
A gradient case: input gradient of a weighted sum of the interpolated network's output.

Environment patches: ``basicsr`` is not installed; stub modules ``basicsr.utils.registry``
(``ARCH_REGISTRY.register()`` returns the class unchanged) and ``basicsr.utils.download_util``
(``load_file_from_url``, unused with local paths) are put in ``sys.modules``; ``srvgg_arch.py`` and
``utils.py`` are loaded by file (``dfsrc/__init__.py`` would import basicsr's data and model code).

    uv run --locked python tools/parity/purify_realesrgan.py --repo /path/to/adversarial-defenses-for-iqa
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
GOLDEN = ROOT / "packages/iqa-purify/tests/goldens/realesrgan.json"
TINY = {"num_feat": 8, "num_conv": 2}
SHAPE = (1, 3, 6, 8)


def _round(v):  # type: ignore[no-untyped-def]
    return [_round(x) for x in v] if isinstance(v, list) else float(f"{v:.9g}")


def f32(t: torch.Tensor) -> list:
    return _round(t.detach().float().tolist())


def _load(name: str, path: Path) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _stub_basicsr() -> None:
    registry = types.ModuleType("basicsr.utils.registry")
    registry.ARCH_REGISTRY = types.SimpleNamespace(register=lambda *a, **k: lambda cls: cls)  # type: ignore[attr-defined]
    download = types.ModuleType("basicsr.utils.download_util")
    download.load_file_from_url = None  # type: ignore[attr-defined]
    sys.modules["basicsr"] = types.ModuleType("basicsr")
    sys.modules["basicsr.utils"] = types.ModuleType("basicsr.utils")
    sys.modules["basicsr.utils.registry"] = registry
    sys.modules["basicsr.utils.download_util"] = download


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, required=True, help="checkout of the Guardians benchmark code")
    parser.add_argument("--commit", help="commit of the checkout (read with git when omitted)")
    args = parser.parse_args()
    commit = args.commit or subprocess.check_output(["git", "-C", str(args.repo), "rev-parse", "HEAD"], text=True)
    commit = commit.strip()
    torch.set_num_threads(1)
    _stub_basicsr()
    root = args.repo / "metrics/defences/realesrgan/dfsrc"
    arch = _load("srvgg_arch", root / "archs/srvgg_arch.py")
    utils = _load("realesrgan_utils", root / "utils.py")

    def build() -> torch.nn.Module:
        return arch.SRVGGNetCompact(num_in_ch=3, num_out_ch=3, upscale=4, act_type="prelu", **TINY)

    layout_net = build()
    x4v3 = seeded_state_dict(layout_net, seed=0)
    wdn = seeded_state_dict(layout_net, seed=1)
    layout = {k: list(v.shape) for k, v in x4v3.items()}
    image = seeded_images(9, SHAPE)
    with tempfile.TemporaryDirectory() as tmp:
        a, b = Path(tmp) / "realesr-general-x4v3.pth", Path(tmp) / "realesr-general-wdn-x4v3.pth"
        torch.save({"params": x4v3}, a)
        torch.save({"params": wdn}, b)
        upsampler = utils.RealESRGANer(
            scale=4,
            model_path=[str(a), str(b)],
            dni_weight=[0.2, 0.8],
            model=build(),
            tile=0,
            tile_pad=10,
            pre_pad=0,
            half=False,
            device=torch.device("cpu"),
        )
        with torch.no_grad():
            enhanced, _ = upsampler.enhance(image.clone(), outscale=1)
    x = image.clone().requires_grad_(True)
    out = upsampler.model(x)
    weights = seeded_images(10, tuple(out.shape)) - 0.5
    (out * weights).sum().backward()
    cases = [
        {"name": "config", "inputs": {"args": TINY, "layout": layout, "seeds": {"x4v3": 0, "wdn": 1}}, "outputs": {}},
        {
            "name": "enhance-dn0.2",
            "inputs": {"image_seed": 9, "shape": list(SHAPE), "denoise_strength": 0.2, "outscale": 1},
            "outputs": {"output": f32(enhanced)},
        },
        {
            "name": "gradient",
            "inputs": {"image_seed": 9, "shape": list(SHAPE), "weights": "seeded_images(10, output shape) - 0.5"},
            "outputs": {"grad": f32(x.grad)},
        },
    ]
    write_golden(
        GOLDEN,
        component="realesrgan",
        repo="msu-video-group/adversarial-defenses-for-iqa",
        commit=commit,
        entry="metrics/defences/realesrgan/dfsrc/archs/srvgg_arch.py: SRVGGNetCompact; dfsrc/utils.py: "
        "RealESRGANer(dni, tile=0, pre_pad=0, fp32).enhance(outscale=1) as run.py configures it, tiny configuration",
        generator="tools/parity/purify_realesrgan.py",
        cases=cases,
        notes=(
            "Seeded weights by official key (x4v3 seed 0, wdn seed 1), float32 CPU. Environment patches: stub "
            "basicsr.utils.registry / basicsr.utils.download_util modules (basicsr not installed); srvgg_arch.py "
            "and utils.py loaded by file. The benchmark's enhance ignores outscale: the output is the x4 image, "
            "unclamped. Values rounded to 9 significant digits."
        ),
    )
    print(f"wrote {GOLDEN} ({GOLDEN.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
