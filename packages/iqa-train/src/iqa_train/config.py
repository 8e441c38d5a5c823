"""YAML run configurations for ``iqa-train adv|nt|fcn CONFIG``, validated before anything runs.

Relative paths are resolved against the folder of the configuration file. Unknown keys, wrong
types and missing required values raise :class:`ConfigError` naming the key (with a suggestion
for misspellings). See the package README for the full schema; the shape is::

    out_dir: runs/at-demo              # required
    metric: {name: demo-cnniqa, preset: null, params: {}}   # adv / nt: the model to fine-tune
    export_submodule: net              # optional: save best.pt from this submodule
    data: {layout: folder, root: data, csv: scores.csv, patch_size: 64, val_fraction: 0.2}
    train: {epochs: 30, batch_size: 8, lr: 1.0e-5, loss: l1, seed: 0, device: auto, amp: true}
    adv: {attack: {name: apgd, params: {n_iter: 2}}, eps: [4], measure: ssim, mos_span: null}
    nt: {lambda: null, h: 0.01, mode: finite-difference}
    eval_attack: same                  # adv default; a registry spec, or null
    fcn: {clean: clean/, attacked: attacked/, hidden: 16, patch_size: null, val_fraction: 0.2}
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .components import ComponentSpec
from .datasets import READERS
from .losses import LOSSES
from .nt import MODES
from .trainer import OPTIMIZERS

COMMANDS = ("adv", "nt", "fcn")


class ConfigError(ValueError):
    """The run configuration is invalid; the message names the key and what to do."""


_TOP = {
    "adv": {"out_dir", "metric", "export_submodule", "data", "train", "adv", "eval_attack"},
    "nt": {"out_dir", "metric", "export_submodule", "data", "train", "nt", "eval_attack"},
    "fcn": {"out_dir", "train", "fcn"},
}
_DATA = {
    "layout",
    "root",
    "csv",
    "name_column",
    "mos_column",
    "resolution",
    "include_training_images",
    "val_fraction",
    "split_dir",
    "patch_size",
    "val_patch_size",
    "cache",
}
_TRAIN = {
    "epochs",
    "batch_size",
    "lr",
    "weight_decay",
    "optimizer",
    "seed",
    "device",
    "amp",
    "num_workers",
    "grad_clip",
    "progress",
    "loss",
}
_ADV = {"attack", "eps", "measure", "mos_span"}
_NT = {"lambda", "h", "mode"}
_FCN = {"clean", "attacked", "generate", "hidden", "patch_size", "val_fraction"}
_GENERATE = {"metric", "attack"}


def _check_keys(section: Mapping[str, Any], allowed: set[str], where: str) -> None:
    for key in section:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), sorted(allowed), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; allowed: {', '.join(sorted(allowed))}"
            raise ConfigError(f"{where}: unknown key {key!r}{hint}")


def _section(raw: Mapping[str, Any], key: str, allowed: set[str], where: str) -> dict[str, Any]:
    value = raw.get(key) or {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}{key}: expected a mapping, got {type(value).__name__}")
    _check_keys(value, allowed, f"{where}{key}")
    return dict(value)


def _int(section: Mapping[str, Any], key: str, where: str, default: int | None, minimum: int = 0) -> int | None:
    value = section.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{where}.{key}: expected an integer >= {minimum}, got {value!r}")
    return value


def _float(section: Mapping[str, Any], key: str, where: str, default: float | None, *, positive: bool = False) -> Any:
    value = section.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(f"{where}.{key}: expected a number, got {value!r}")
    if positive and value <= 0:
        raise ConfigError(f"{where}.{key}: must be > 0, got {value!r}")
    if value < 0:
        raise ConfigError(f"{where}.{key}: must be >= 0, got {value!r}")
    return float(value)


def _bool(section: Mapping[str, Any], key: str, where: str, default: bool) -> bool:
    value = section.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(f"{where}.{key}: expected true or false, got {value!r}")
    return value


def _str(section: Mapping[str, Any], key: str, where: str, default: str | None, choices: Any = None) -> Any:
    value = section.get(key, default)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ConfigError(f"{where}.{key}: expected a string, got {value!r}")
    if choices is not None and value not in choices:
        raise ConfigError(f"{where}.{key}: {value!r} is not one of {', '.join(choices)}")
    return value


def _path(value: Any, base: Path, where: str) -> Path:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where}: expected a path, got {value!r}")
    path = Path(value).expanduser()
    return path if path.is_absolute() else base / path


def _spec(value: Any, where: str) -> ComponentSpec:
    try:
        return ComponentSpec.parse(value, where)
    except ValueError as error:
        raise ConfigError(str(error)) from error


@dataclass
class RunConfig:
    """A validated configuration (see the module docstring)."""

    command: str
    out_dir: Path
    train: dict[str, Any]
    loss: str = "l1"
    metric: ComponentSpec | None = None
    export_submodule: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    method: dict[str, Any] = field(default_factory=dict)
    eval_attack: ComponentSpec | str | None = None
    source: Path | None = None


def parse_config(raw: Any, command: str, base: str | Path = ".") -> RunConfig:
    """Validate a loaded YAML mapping for ``command`` (``adv``, ``nt`` or ``fcn``)."""
    if command not in COMMANDS:
        raise ConfigError(f"unknown command {command!r}; use one of {', '.join(COMMANDS)}")
    if not isinstance(raw, Mapping):
        raise ConfigError(f"the configuration must be a YAML mapping, got {type(raw).__name__}")
    base = Path(base)
    _check_keys(raw, _TOP[command], f"{command} config")
    if "out_dir" not in raw:
        raise ConfigError("out_dir: required (the folder for checkpoints, logs and the trained model)")
    out_dir = _path(raw["out_dir"], base, "out_dir")

    t = _section(raw, "train", _TRAIN, "")
    fcn = command == "fcn"
    train = {
        "epochs": _int(t, "epochs", "train", 200 if fcn else 30, 1),
        "batch_size": _int(t, "batch_size", "train", 8, 1),
        "lr": _float(t, "lr", "train", 1e-3 if fcn else 1e-5, positive=True),
        "weight_decay": _float(t, "weight_decay", "train", 0.0),
        "optimizer": _str(t, "optimizer", "train", "adam", tuple(OPTIMIZERS)),
        "seed": _int(t, "seed", "train", 0),
        "device": _str(t, "device", "train", "auto"),
        "amp": _bool(t, "amp", "train", True),
        "num_workers": _int(t, "num_workers", "train", 0),
        "grad_clip": _float(t, "grad_clip", "train", None, positive=True),
        "progress": _bool(t, "progress", "train", True),
    }
    if fcn:
        if "loss" in t:
            raise ConfigError("train.loss: the FCN filter is trained with MSE (purification paper 3.3); remove it")
        train.update(monitor="val_ssim", monitor_mode="max")
        f = _section(raw, "fcn", _FCN, "")
        if "clean" not in f:
            raise ConfigError("fcn.clean: required (the folder of clean images)")
        if ("attacked" in f) == ("generate" in f):
            raise ConfigError("fcn: give exactly one of 'attacked' (a folder of attacked images) or 'generate'")
        method: dict[str, Any] = {
            "clean": _path(f["clean"], base, "fcn.clean"),
            "hidden": _int(f, "hidden", "fcn", 16, 1),
            "patch_size": _int(f, "patch_size", "fcn", None, 1),
            "val_fraction": _float(f, "val_fraction", "fcn", 0.2, positive=True),
        }
        if not method["val_fraction"] < 1:
            raise ConfigError(f"fcn.val_fraction: must be in (0, 1), got {method['val_fraction']}")
        if "attacked" in f:
            method["attacked"] = _path(f["attacked"], base, "fcn.attacked")
        else:
            g = _section(f, "generate", _GENERATE, "fcn.")
            for key in ("metric", "attack"):
                if key not in g:
                    raise ConfigError(f"fcn.generate.{key}: required (a registry name or {{name, preset, params}})")
            method["generate"] = {
                "metric": _spec(g["metric"], "fcn.generate.metric"),
                "attack": _spec(g["attack"], "fcn.generate.attack"),
            }
        return RunConfig(command, out_dir, train, "mse", method=method, source=None)

    loss = _str(t, "loss", "train", "l1", tuple(LOSSES))
    train.update(monitor="val_srocc", monitor_mode="max")
    if "metric" not in raw:
        raise ConfigError("metric: required (the registry name of the metric to fine-tune, e.g. demo-cnniqa)")
    metric = _spec(raw["metric"], "metric")
    export_submodule = _str(raw, "export_submodule", "config", None)

    d = _section(raw, "data", _DATA, "")
    for key in ("layout", "root"):
        if key not in d:
            raise ConfigError(f"data.{key}: required")
    data: dict[str, Any] = {
        "layout": _str(d, "layout", "data", None, tuple(READERS)),
        "root": _path(d["root"], base, "data.root"),
        "val_fraction": _float(d, "val_fraction", "data", 0.2, positive=True),
        "split_dir": _path(d["split_dir"], base, "data.split_dir") if d.get("split_dir") else out_dir,
        "patch_size": _int(d, "patch_size", "data", None, 1),
        "val_patch_size": _int(d, "val_patch_size", "data", None, 1),
        "cache": _bool(d, "cache", "data", False),
        "options": {},
    }
    if not data["val_fraction"] < 1:
        raise ConfigError(f"data.val_fraction: must be in (0, 1), got {data['val_fraction']}")
    layout_options = {
        "folder": {"csv", "name_column", "mos_column"},
        "koniq10k": {"resolution"},
        "livec": {"include_training_images"},
        "kadid10k": set(),
    }[data["layout"]]
    for key in ("csv", "name_column", "mos_column", "resolution", "include_training_images"):
        if key in d:
            if key not in layout_options:
                raise ConfigError(f"data.{key}: not an option of the {data['layout']} layout")
            if key == "include_training_images":
                data["options"][key] = _bool(d, key, "data", False)
            else:
                data["options"][key] = _str(d, key, "data", None)
    if "csv" in data["options"]:
        data["options"]["csv_file"] = data["options"].pop("csv")

    method = {}
    eval_default: Any = "same" if command == "adv" else None
    eval_raw = raw.get("eval_attack", eval_default)
    eval_attack: ComponentSpec | str | None
    if eval_raw is None:
        eval_attack = None
    elif eval_raw == "same":
        if command != "adv":
            raise ConfigError("eval_attack: 'same' means the training attack, which only adv has; name an attack")
        eval_attack = "same"
    else:
        eval_attack = _spec(eval_raw, "eval_attack")
    if command == "adv":
        a = _section(raw, "adv", _ADV, "")
        eps = a.get("eps", [4])
        eps_list = eps if isinstance(eps, list) else [eps]
        if not eps_list or any(isinstance(e, bool) or not isinstance(e, int | float) or e <= 0 for e in eps_list):
            raise ConfigError(f"adv.eps: expected a number or a list of numbers > 0 (per 255), got {eps!r}")
        method = {
            "attack": _spec(a["attack"], "adv.attack") if a.get("attack") is not None else None,
            "eps": [float(e) for e in eps_list],
            "measure": _str(a, "measure", "adv", "ssim", ("ssim", "lpips", "dists", "none")),
            "mos_span": _float(a, "mos_span", "adv", None, positive=True),
        }
    else:
        n = _section(raw, "nt", _NT, "")
        method = {
            "lambda": _float(n, "lambda", "nt", None),
            "h": _float(n, "h", "nt", 0.01, positive=True),
            "mode": _str(n, "mode", "nt", "finite-difference", MODES),
        }
    return RunConfig(command, out_dir, train, loss, metric, export_submodule, data, method, eval_attack)


def load_config(path: str | Path, command: str) -> RunConfig:
    """Read ``path`` with ``yaml.safe_load`` and validate it for ``command``."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"configuration file {path} not found")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ConfigError(f"{path} is not valid YAML: {error}") from error
    config = parse_config(raw, command, path.resolve().parent)
    config.source = path
    return config
