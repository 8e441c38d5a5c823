"""Throughput profiles: measured seconds per image of each component on one device, as JSON.

A profile is a plain mapping (it round-trips through JSON unchanged)::

    {"version": 1,
     "device": {"type": "cpu", "name": "...", "threads": 2, "torch": "2.14.1"},
     "assumptions": ["..."],
     "metrics":    {NAME: {"points": [{"height": H, "width": W, "batch": B,
                                       "forward": S, "backward": S}], "proxy": null, "note": ""}},
     "defences":   {NAME: {PRESET: {"points": [{..., "forward": S, "backward": S}], "randomized": false}}},
     "attacks":    {NAME: {PRESET: {"grad_evals": G, "evals": F, "overhead_fixed": S,
                                    "overhead_per_mpix": S, "fit": null | {...}, "scale": 1.0}}},
     "certifiers": {NAME: {PRESET: {"evals": N, "overhead_fixed": S, "overhead_per_mpix": S}}},
     "runner":     {"row": S, "unit": S, "measures_per_mpix": S, "decode_per_mpix": S}}

``forward`` is seconds per image of a forward pass without gradients, ``backward`` of a forward
and backward pass (the input's gradient); ``points`` are the sizes measured. A time at another
size is the nearest measured point's time scaled by the pixel count (stated in ``assumptions``).
An attack is described by what it asks of its target per attacked image (``grad_evals`` images
forwarded and back-propagated, ``evals`` forwarded only) plus its own work; a certifier by the
forward passes per certified image plus its own work (noise, denoiser). ``proxy`` names the
component measured instead when a component could not be built on the measuring machine.
Preset ``None`` is stored under ``"none"``.
"""

from __future__ import annotations

import json
import os
import platform
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..schema import NONE

VERSION = 1
SECTIONS = ("metrics", "defences", "attacks", "certifiers", "measures")
SIZED = ("metrics", "measures")
"""Sections whose entries hold timings per image size (``points``) instead of per preset."""


class ProfileError(ValueError):
    """A profile file is missing, unreadable or lacks what the estimate needs; the message says what to do."""


def preset_key(preset: str | None) -> str:
    return NONE if preset is None else preset


def device_name(device: str = "cpu") -> str:
    """A file-name-safe name of the device (CPU model, or the CUDA device's name)."""
    name = ""
    if device.startswith("cuda"):
        import torch

        name = torch.cuda.get_device_name(torch.device(device))
    else:
        try:
            for line in Path("/proc/cpuinfo").read_text().splitlines():
                if line.startswith("model name"):
                    name = line.split(":", 1)[1].strip()
                    break
        except OSError:
            pass
        name = name or platform.processor() or platform.machine() or "cpu"
        name = f"cpu-{os.cpu_count()}x-{name}"
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-").lower()


def default_profile_path(device: str = "cpu") -> Path:
    """``$IQA_BENCH_PROFILE_DIR`` (default ``~/.cache/iqa-bench/profiles``) / ``<device-name>.json``."""
    root = os.environ.get("IQA_BENCH_PROFILE_DIR") or Path.home() / ".cache" / "iqa-bench" / "profiles"
    return Path(root) / f"{device_name(device)}.json"


def empty_profile(device: dict[str, Any]) -> dict[str, Any]:
    return {
        "version": VERSION,
        "device": device,
        "assumptions": [],
        "metrics": {},
        "defences": {},
        "attacks": {},
        "certifiers": {},
        "measures": {},
        "runner": {},
    }


def load_profile(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise ProfileError(f"profile {path} not found; measure one with `iqa-bench estimate CONFIG --measure`")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise ProfileError(f"profile {path} is not readable JSON ({error}); measure it again with --measure") from error
    if not isinstance(data, dict) or data.get("version") != VERSION:
        raise ProfileError(
            f"profile {path} is not a version-{VERSION} iqa-bench profile; measure it again with --measure"
        )
    for section in (*SECTIONS, "runner"):
        data.setdefault(section, {})
    data.setdefault("assumptions", [])
    return data


def save_profile(profile: dict[str, Any], path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(profile, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


# ---------------------------------------------------------------------------------------- lookups
def at_size(points: list[dict[str, Any]], size: tuple[int, int], field: str) -> float:
    """Seconds of ``field`` at ``size``: the nearest measured point (by pixels), scaled by the pixel count."""
    pixels = size[0] * size[1]
    best = min(points, key=lambda p: abs(p["height"] * p["width"] - pixels))
    return float(best[field]) * pixels / (best["height"] * best["width"])


@dataclass(frozen=True)
class TargetCost:
    """Seconds per image of scoring (``forward``) and of scoring with the input gradient (``backward``)."""

    forward: float
    backward: float


def metric_cost(profile: dict[str, Any], name: str, size: tuple[int, int]) -> TargetCost:
    entry = profile["metrics"][name]
    return TargetCost(at_size(entry["points"], size, "forward"), at_size(entry["points"], size, "backward"))


def defence_cost(profile: dict[str, Any], name: str, preset: str | None, size: tuple[int, int]) -> TargetCost:
    entry = profile["defences"][name][preset_key(preset)]
    return TargetCost(at_size(entry["points"], size, "forward"), at_size(entry["points"], size, "backward"))


def defence_randomized(profile: dict[str, Any], name: str, preset: str | None) -> bool:
    return bool(profile["defences"][name][preset_key(preset)].get("randomized", False))


def attack_seconds(entry: dict[str, Any], target: TargetCost, pixels: float) -> float:
    """Seconds per attacked image against ``target`` (see the module docstring)."""
    return (
        entry["grad_evals"] * target.backward
        + entry["evals"] * target.forward
        + entry["overhead_fixed"]
        + entry["overhead_per_mpix"] * pixels / 1e6
    )


def measure_seconds(profile: dict[str, Any], name: str, size: tuple[int, int]) -> float:
    """Forward seconds per image pair of a learned perceptual measure (config ``measures``)."""
    return at_size(profile["measures"][name]["points"], size, "forward")


def certify_seconds(entry: dict[str, Any], metric: TargetCost, pixels: float) -> float:
    return entry["evals"] * metric.forward + entry["overhead_fixed"] + entry["overhead_per_mpix"] * pixels / 1e6


def metric_key(config: Any, name: str) -> str:
    """A metric's profile entry: its name, tagged with the config's precision switches when any
    (``linearity#bf16+channels_last``): lower precision is measured, not scaled."""
    spec = next(m for m in config.metrics if m.name == name)
    precision = config.metric_precision(spec) if hasattr(config, "metric_precision") else {}
    if not precision:
        return name
    tags = [precision["autocast"]] if precision["autocast"] != "off" else []
    tags += ["channels_last"] if precision["channels_last"] else []
    compile_ = precision["compile"]
    tags += [f"compile={'inductor' if compile_ is True else compile_}"] if compile_ else []
    return f"{name}#{'+'.join(tags)}"


def needed(config: Any) -> dict[str, list[tuple[str, str]]]:
    """``(name, preset key)`` of every component of an expanded config, by profile section."""
    return {
        "metrics": [(metric_key(config, m.name), NONE) for m in config.metrics],
        "defences": [(d.name, preset_key(p)) for d in config.defences for p in d.presets],
        "attacks": [(a.name, preset_key(p)) for a in config.attacks for p in a.presets],
        "certifiers": [(c.name, preset_key(p)) for c in config.certifiers for p in c.presets],
        "measures": [(m.name, NONE) for m in getattr(config, "measures", ())],
    }


def missing(profile: dict[str, Any], config: Any, sizes: list[tuple[int, int]] | None = None) -> list[str]:
    """Components of the config the profile lacks (``section/name[preset]``); metric sizes too when given."""
    out = []
    for section, wanted in needed(config).items():
        for name, preset in wanted:
            entry = profile.get(section, {}).get(name)
            if entry is None or (section not in SIZED and preset not in entry):
                out.append(f"{section}/{name}" + ("" if section in SIZED else f"[{preset}]"))
            elif section in SIZED and sizes:
                have = {(p["height"], p["width"]) for p in entry["points"]}
                out.extend(f"{section}/{name}@{h}x{w}" for h, w in sizes if (h, w) not in have)
    if not profile.get("runner"):
        out.append("runner")
    return out


__all__ = [
    "ProfileError",
    "TargetCost",
    "at_size",
    "attack_seconds",
    "certify_seconds",
    "default_profile_path",
    "defence_cost",
    "defence_randomized",
    "device_name",
    "empty_profile",
    "load_profile",
    "measure_seconds",
    "metric_cost",
    "metric_key",
    "missing",
    "needed",
    "preset_key",
    "save_profile",
]
