"""Where a run's numbers come from: package versions, component weights, dataset manifest, device.

Everything here is recorded by ``iqa-bench submit`` and recomputed by ``iqa-bench verify``, which
reports the differences (:func:`compare`).

* **Weights**: each component (kind, name, preset) is built on the CPU and the sha256 of its
  parameters and buffers is taken (``state_sha256``: key, dtype, shape and bytes of every tensor,
  in key order). That is the identity of what ran, whatever file it came from. The weight *files*
  the component opened while it was built are listed too, with their sha256 and, for files in the
  :mod:`iqa_core.weights` cache without a published hash, the hash recorded on first use
  (``<file>.sha256``). A component without tensors says so (``state_sha256`` null, a note).
* **Dataset manifest**: per dataset, the sha256 of the sorted ``(file name, size, sha256)`` list
  of the images the run used (after sampling and ``limit``) and of the ``(id, MOS)`` list; for the
  in-memory demo dataset, the sha256 of its generator parameters, the ``(id, MOS)`` list and the
  generated pixels.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import platform
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import BenchConfig, ComponentConfig, DatasetConfig

if TYPE_CHECKING:
    from ..datasets import ImageItem

WEIGHT_SUFFIXES = (".pt", ".pth", ".ckpt", ".bin", ".safetensors", ".pkl", ".tar", ".onnx", ".npz", ".h5", ".mat")
"""File endings taken for weight files among the files a component opens while it is built."""

EXTRA_PACKAGES = ("torch", "torchvision", "numpy", "pillow", "scipy", "pyiqa")
"""Packages recorded beside every ``iqa-*`` distribution (when installed)."""


def canonical_json(value: Any) -> bytes:
    """The one byte form that is hashed: sorted keys, no spaces, UTF-8, no NaN."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def sha256_json(value: Any) -> str:
    return hashlib.sha256(canonical_json(value)).hexdigest()


def now() -> str:
    """The current UTC time, ISO 8601 to the second."""
    return _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


# ---------------------------------------------------------------------------------------------- packages
def package_versions() -> dict[str, str]:
    """Every installed ``iqa-*`` distribution and :data:`EXTRA_PACKAGES`, name -> version."""
    found: dict[str, str] = {}
    for dist in metadata.distributions():
        name = (dist.metadata["Name"] or "").lower().replace("_", "-")
        if name.startswith("iqa-") or name in EXTRA_PACKAGES:
            found[name] = str(dist.version)
    return dict(sorted(found.items()))


# ---------------------------------------------------------------------------------------------- device
def _cpu_name() -> str:
    """The CPU model (``/proc/cpuinfo`` on Linux), else what :mod:`platform` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            if line.lower().startswith("model name") and ":" in line:
                return line.split(":", 1)[1].strip()[:200] or "cpu"
    except OSError:
        pass
    return (platform.processor() or platform.machine() or "cpu")[:200]


def device_info(device: str) -> dict[str, Any]:
    """The device cells are computed on: type, name, CUDA capability, torch and CUDA versions."""
    import torch

    from iqa_core import Scorer

    resolved = Scorer(device, 1).device
    info: dict[str, Any] = {
        "type": resolved.type,
        "name": _cpu_name(),
        "capability": None,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "python": platform.python_version(),
        "platform": sys.platform,
    }
    if resolved.type == "cuda":
        index = resolved.index if resolved.index is not None else torch.cuda.current_device()
        info["name"] = torch.cuda.get_device_name(index)
        major, minor = torch.cuda.get_device_capability(index)
        info["capability"] = f"{major}.{minor}"
    return info


# ---------------------------------------------------------------------------------------------- weights
_opened = threading.local()
_hook_lock = threading.Lock()
_hook_installed = False


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event == "open":
        record = getattr(_opened, "files", None)
        if record is not None and args and isinstance(args[0], str | bytes | os.PathLike):
            record.append(os.fsdecode(args[0]))


@contextmanager
def opened_files() -> Iterator[list[str]]:
    """The paths this thread opens inside the block (an audit hook; installed once, idle outside)."""
    global _hook_installed
    with _hook_lock:
        if not _hook_installed:
            sys.addaudithook(_audit)
            _hook_installed = True
    previous = getattr(_opened, "files", None)
    files: list[str] = []
    _opened.files = files
    try:
        yield files
    finally:
        _opened.files = previous


def state_sha256(obj: Any) -> tuple[str | None, int]:
    """sha256 of the tensors of ``obj`` (an ``nn.Module``, or an object holding modules) and their count."""
    import torch

    modules: list[tuple[str, torch.nn.Module]] = []
    if isinstance(obj, torch.nn.Module):
        modules.append(("", obj))
    else:
        for name, value in sorted(vars(obj).items()) if hasattr(obj, "__dict__") else []:
            if isinstance(value, torch.nn.Module):
                modules.append((name + ".", value))
    digest = hashlib.sha256()
    count = 0
    for prefix, module in modules:
        for key, tensor in sorted(module.state_dict().items()):
            flat = tensor.detach().cpu().contiguous().reshape(-1)
            digest.update(f"{prefix}{key}|{flat.dtype}|{tuple(tensor.shape)}|".encode())
            digest.update(flat.view(torch.uint8).numpy().tobytes())
            count += 1
    return (digest.hexdigest() if count else None), count


def _weight_file(path: str) -> dict[str, Any] | None:
    from iqa_core import weights

    file = Path(path)
    if not file.name.lower().endswith(WEIGHT_SUFFIXES) or not file.is_file():
        return None
    record = file.with_name(file.name + ".sha256")
    try:
        in_cache = file.resolve().is_relative_to(weights.cache_dir().resolve())
    except OSError:
        in_cache = False
    return {
        "file": file.name,
        "sha256": weights.sha256_of(file),
        "recorded_sha256": record.read_text().strip() if record.is_file() else None,
        "in_cache": in_cache,
    }


def component_weights(kind: str, spec: ComponentConfig, preset: str | None) -> dict[str, Any]:
    """One component's weight record (see the module docstring); built on the CPU."""
    from iqa_core import create

    with opened_files() as paths:
        obj = create(kind, spec.name, preset=preset, **spec.params)
    digest, tensors = state_sha256(obj)
    files = []
    for path in dict.fromkeys(paths):
        record = _weight_file(path)
        if record is not None:
            files.append(record)
    entry: dict[str, Any] = {
        "kind": kind,
        "name": spec.name,
        "preset": preset,
        "state_sha256": digest,
        "tensors": tensors,
        "files": files,
    }
    if digest is None:
        entry["note"] = "no weights (the component has no parameters or buffers)"
    return entry


def weight_hashes(config: BenchConfig) -> list[dict[str, Any]]:
    """:func:`component_weights` of every component and preset of an expanded config."""
    out = []
    for kind, specs in (
        ("metric", config.metrics),
        ("attack", config.attacks),
        ("defence", config.defences),
        ("certifier", config.certifiers),
    ):
        for spec in specs:
            presets = (None,) if kind == "metric" else spec.presets
            for preset in presets:
                out.append(component_weights(kind, spec, preset))
    return out


def weights_key(record: Mapping[str, Any]) -> str:
    return f"{record['kind']} {record['name']}" + (f" [{record['preset']}]" if record.get("preset") else "")


# ---------------------------------------------------------------------------------------------- datasets
def demo_generator() -> dict[str, Any]:
    """The parameters the demo dataset is generated from."""
    from ..demo.dataset import DEFAULT_DISTORTIONS, DEFAULT_LEVELS
    from ..demo.references import DEFAULT_SIZE, DEMO_REFERENCES

    return {
        "references": list(DEMO_REFERENCES),
        "distortions": list(DEFAULT_DISTORTIONS),
        "levels": list(DEFAULT_LEVELS),
        "size": list(DEFAULT_SIZE),
    }


def _file_row(path: Path | None, fallback: str) -> list[Any]:
    from iqa_core import weights

    if path is None or not path.is_file():
        return [fallback if path is None else path.name, -1, None]
    return [path.name, path.stat().st_size, weights.sha256_of(path)]


def dataset_record(dataset: DatasetConfig, seed: int, items: Sequence[ImageItem] | None = None) -> dict[str, Any]:
    """Manifest of one dataset (see the module docstring); ``items``: its items when already listed."""
    from ..planning import dataset_items

    items = dataset_items(dataset, seed) if items is None else items
    labels = [[item.id, item.mos] for item in items]
    record: dict[str, Any] = {"kind": dataset.kind, "images": len(items), "mos_sha256": sha256_json(labels)}
    if dataset.kind == "demo":
        pixels = hashlib.sha256()
        for item in items:
            pixels.update(item.load().contiguous().numpy().tobytes())
        generator = {**demo_generator(), "limit": dataset.limit, "sample": dataset.sample}
        record.update(
            basis="demo generator",
            generator=generator,
            pixels_sha256=pixels.hexdigest(),
            sha256=sha256_json({"generator": generator, "items": labels}),
        )
    else:
        files = sorted(_file_row(item.path, item.id) for item in items)
        record.update(basis="files", sha256=sha256_json(files))
        missing = sum(row[1] < 0 for row in files)
        if missing:
            record["missing"] = missing
    return record


def dataset_manifest(
    config: BenchConfig, items: Mapping[str, Sequence[ImageItem]] | None = None
) -> dict[str, dict[str, Any]]:
    """:func:`dataset_record` of every dataset of the config, by dataset name (``items``: the runner's)."""
    return {ds.name: dataset_record(ds, config.seed, (items or {}).get(ds.name)) for ds in config.datasets}


# ---------------------------------------------------------------------------------------------- comparing
def compare(recorded: Mapping[str, Any], current: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """``(errors, warnings)`` between a recorded provenance and this machine's.

    Errors: a dataset whose manifest differs, a component whose weights differ (the cells are
    then not expected to agree). Warnings: package versions, the device.
    """
    errors: list[str] = []
    warnings: list[str] = []
    packages_then, packages_now = recorded.get("packages", {}), current.get("packages", {})
    for name in sorted(set(packages_then) | set(packages_now)):
        then, here = packages_then.get(name), packages_now.get(name)
        if then != here:
            warnings.append(
                f"package {name}: the entry was computed with {then or 'it absent'}, this machine has "
                f"{here or 'it absent'}"
            )
    datasets_then, datasets_now = recorded.get("datasets", {}), current.get("datasets", {})
    for name in sorted(set(datasets_then) | set(datasets_now)):
        then, here = datasets_then.get(name), datasets_now.get(name)
        if then is None or here is None:
            errors.append(f"dataset {name}: present only {'here' if then is None else 'in the entry'}")
            continue
        for field in ("images", "sha256", "mos_sha256", "pixels_sha256"):
            if then.get(field) != here.get(field):
                what = "number of images" if field == "images" else field
                errors.append(
                    f"dataset {name}: {what} differs (entry {then.get(field)}, here {here.get(field)}); "
                    "the images used here are not those of the entry, so its cells are not expected to agree"
                )
    weights_then = {weights_key(w): w for w in recorded.get("weights", [])}
    weights_now = {weights_key(w): w for w in current.get("weights", [])}
    for key in sorted(set(weights_then) | set(weights_now)):
        then, here = weights_then.get(key), weights_now.get(key)
        if then is None or here is None:
            errors.append(f"weights of {key}: recorded only {'here' if then is None else 'in the entry'}")
        elif then.get("state_sha256") != here.get("state_sha256"):
            errors.append(
                f"weights of {key} differ: entry {then.get('state_sha256')}, here {here.get('state_sha256')} "
                "(another checkpoint is installed here; fetch the one the entry used)"
            )
    device_then, device_now = recorded.get("device", {}), current.get("device", {})
    if (device_then.get("type"), device_then.get("name")) != (device_now.get("type"), device_now.get("name")):
        warnings.append(
            f"device: the entry was computed on {device_then.get('type')} ({device_then.get('name')}), "
            f"this check runs on {device_now.get('type')} ({device_now.get('name')})"
        )
    return errors, warnings


__all__ = [
    "canonical_json",
    "compare",
    "component_weights",
    "dataset_manifest",
    "dataset_record",
    "device_info",
    "now",
    "opened_files",
    "package_versions",
    "sha256_json",
    "state_sha256",
    "weight_hashes",
]
