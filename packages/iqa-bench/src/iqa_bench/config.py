"""Experiment-grid configuration: YAML (``yaml.safe_load``) validated into frozen dataclasses.

Every error names the offending key path and says what is expected, e.g.
``attacks[1].presets: expected a list of preset names, got 'strong'``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from iqa_core.errors import UserError

from .schema import MODES, NONE

DATASET_KINDS = ("demo", "koniq10k", "kadid10k", "nips2017", "agiqa3k", "folder")


CONFIG_KEYS: tuple[str, ...] = (
    "name",
    "datasets",
    "metrics",
    "attacks",
    "defences",
    "certifiers",
    "mode",
    "device",
    "batch_size",
    "chunk_size",
    "seed",
    "eot_samples",
    "bounds",
    "store",
    "cache",
    "precision",
    "sufficient",
    "measures",
)
"""The top-level keys of a config file."""


class ConfigError(UserError, ValueError):
    """The configuration is invalid; the message names the key and the fix."""


@dataclass(frozen=True)
class DatasetConfig:
    name: str
    kind: str
    root: str | None = None
    csv: str | None = None
    limit: int | None = None
    sample: dict[str, Any] | None = None  # {"clusters": 10, "per_cluster": 100, "seed": 0} or {"references": 8}


@dataclass(frozen=True)
class ComponentConfig:
    """A component and the presets to evaluate (``[None]`` = its default / no preset)."""

    name: str
    presets: tuple[str | None, ...] = (None,)
    params: dict[str, Any] = field(default_factory=dict)
    images: int | None = None  # certifiers and trainable attacks: how many images they use
    precision: dict[str, Any] | None = None  # metrics only: {autocast, channels_last, compile} (iqa_core.precision)


@dataclass(frozen=True)
class SufficientConfig:
    """Statistically sufficient evaluation (see :mod:`iqa_bench.sufficient`): attack units of a cell
    run chunk by chunk until the 95 % bootstrap interval of the cell's mean per-image ``value`` is
    at most ``ci_width`` wide (in the value's units; D is in % of the bound diameter) for every
    defence, and at least ``min_images`` images were attacked."""

    ci_width: float
    min_images: int = 40
    value: str = "d"
    resamples: int = 1000


@dataclass(frozen=True)
class BenchConfig:
    name: str
    datasets: tuple[DatasetConfig, ...]
    metrics: tuple[ComponentConfig, ...]
    attacks: tuple[ComponentConfig, ...]
    defences: tuple[ComponentConfig, ...]
    certifiers: tuple[ComponentConfig, ...] = ()
    modes: tuple[str, ...] = ("non-adaptive",)
    device: str = "auto"
    batch_size: int = 16
    chunk_size: int = 32
    seed: int = 0
    eot_samples: int = 8
    store: str = "runs/results.sqlite"
    cache: str | None = None  # adversarial-image cache folder; default: next to the store
    bounds: str = "catalogue"  # "catalogue" (the metric's own bounds) or "measured" (iqa-bench bounds cache)
    precision: dict[str, Any] | None = None  # every metric's precision; a metric's own `precision` overrides keys
    sufficient: SufficientConfig | None = None  # add chunks to a cell only until its D interval is narrow enough
    measures: tuple[ComponentConfig, ...] = ()  # learned perceptual measures of P(x') against x (lpips, dists)

    def metric_precision(self, spec: ComponentConfig) -> dict[str, Any]:
        """The precision a metric runs at: the config's ``precision`` updated by the metric's own
        (``{}`` = float32, contiguous, eager)."""
        merged = {**(self.precision or {}), **(spec.precision or {})}
        default = {"autocast": "off", "channels_last": False, "compile": False}
        return {} if all(merged.get(k, v) == v for k, v in default.items()) else {**default, **merged}

    @property
    def store_path(self) -> Path:
        return Path(self.store)

    @property
    def cache_path(self) -> Path:
        return (
            Path(self.cache)
            if self.cache
            else self.store_path.with_suffix("").with_name(self.store_path.stem + "-cache")
        )

    def fingerprint(self) -> str:
        """Stable hash of the configuration (recorded with the run)."""
        record = asdict(self)
        for key in ("precision", "sufficient", "measures"):  # optional switches added later: unset ones keep
            if not record[key]:  # old fingerprints
                del record[key]
        return hashlib.sha256(json.dumps(record, sort_keys=True, default=str).encode()).hexdigest()[:16]


def config_record(config: BenchConfig) -> dict[str, Any]:
    """The config as JSON values, recorded in the store by a run (``meta`` key ``config``), so
    commands given only the store (``iqa-bench transfer``) can rebuild it (:func:`config_from_record`)."""
    record: dict[str, Any] = json.loads(json.dumps(asdict(config), default=str))
    record["cache_resolved"] = str(config.cache_path.resolve())
    return record


def config_from_record(record: dict[str, Any], store: str | Path) -> BenchConfig:
    """The config of :func:`config_record`, its store at ``store`` (where it lies now); a default
    cache folder follows the store, an explicit one stays where the run wrote it."""
    fields = {k: v for k, v in record.items() if k != "cache_resolved"}

    def component(entry: dict[str, Any]) -> ComponentConfig:
        return ComponentConfig(**{**entry, "presets": tuple(entry.get("presets") or (None,))})

    return BenchConfig(
        **{
            **fields,
            "datasets": tuple(DatasetConfig(**d) for d in record["datasets"]),
            **{kind: tuple(component(c) for c in record[kind]) for kind in ("metrics", "attacks", "defences")},
            "certifiers": tuple(component(c) for c in record.get("certifiers", ())),
            "measures": tuple(component(c) for c in record.get("measures", ())),
            "modes": tuple(record["modes"]),
            "store": str(store),
            "cache": record.get("cache_resolved") if record.get("cache") else None,
            "sufficient": SufficientConfig(**record["sufficient"]) if record.get("sufficient") else None,
        }
    )


def _expect(cond: object, where: str, message: str) -> None:
    if not cond:
        raise ConfigError(f"{where}: {message}")


def _int(value: Any, where: str, minimum: int = 0) -> int:
    _expect(
        isinstance(value, int) and not isinstance(value, bool) and value >= minimum,
        where,
        f"expected an integer >= {minimum}, got {value!r}",
    )
    return int(value)


ALL_PRESETS = "all"


def _presets(value: Any, where: str) -> tuple[str | None, ...]:
    if value is None:
        return (None,)
    if value == ALL_PRESETS:
        return (ALL_PRESETS,)  # expanded from the registry when the run starts
    _expect(
        isinstance(value, list) and all(isinstance(v, str) for v in value) and value,
        where,
        f"expected a non-empty list of preset names, got {value!r}",
    )
    repeated = sorted({v for v in value if value.count(v) > 1})
    _expect(not repeated, where, f"presets listed more than once: {repeated}")
    return tuple(value)


def _component(entry: Any, where: str) -> ComponentConfig:
    if isinstance(entry, str):
        return ComponentConfig(entry)
    _expect(isinstance(entry, dict), where, f"expected a name or a mapping with 'name', got {entry!r}")
    allowed = ["name", "presets", "params", "images", *(["precision"] if where.startswith("metrics") else [])]
    unknown = set(entry) - set(allowed)
    _expect(not unknown, where, f"unknown keys {sorted(unknown)}; allowed: {', '.join(allowed)}")
    _expect(isinstance(entry.get("name"), str), f"{where}.name", "expected a component name")
    params = entry.get("params") or {}
    _expect(isinstance(params, dict), f"{where}.params", f"expected a mapping, got {params!r}")
    images = entry.get("images")
    return ComponentConfig(
        name=entry["name"],
        presets=_presets(entry.get("presets"), f"{where}.presets"),
        params=dict(params),
        images=None if images is None else _int(images, f"{where}.images", 1),
        precision=_precision(entry.get("precision"), f"{where}.precision"),
    )


def _precision(value: Any, where: str) -> dict[str, Any] | None:
    """A validated precision mapping (``None`` when absent); torch is imported only when one is given."""
    if value is None:
        return None
    from iqa_core.precision import Precision, PrecisionError

    try:
        Precision.from_mapping(value, where=where)
    except PrecisionError as error:
        raise ConfigError(str(error)) from None
    return dict(value)


def _measures(value: Any) -> tuple[ComponentConfig, ...]:
    """The learned perceptual measures to add to every attacked row: names or ``{name, params}``."""
    from .schema import PERCEPTUAL_MEASURES

    if value is None:
        return ()
    where = "measures"
    _expect(
        isinstance(value, list),
        where,
        f"expected a list such as [lpips] or [{{name: lpips, params: {{net: vgg}}}}], got {value!r}",
    )
    out = []
    for i, entry in enumerate(value):
        at = f"{where}[{i}]"
        if isinstance(entry, dict):
            unknown = set(entry) - {"name", "params"}
            _expect(not unknown, at, f"unknown keys {sorted(unknown)}; allowed: name, params")
        spec = _component(entry, at)
        _expect(
            spec.name in PERCEPTUAL_MEASURES,
            f"{at}.name",
            f"{spec.name!r} has no result column; choose from {', '.join(PERCEPTUAL_MEASURES)} "
            "(PSNR, SSIM, MSE and L-inf are always measured)",
        )
        out.append(spec)
    names = [m.name for m in out]
    repeated = sorted({n for n in names if names.count(n) > 1})
    _expect(not repeated, where, f"measures listed more than once: {repeated}")
    return tuple(out)


def _sufficient(value: Any) -> SufficientConfig | None:
    if value is None:
        return None
    where = "sufficient"
    _expect(
        isinstance(value, dict), where, f"expected a mapping such as {{ci_width: 2.0, min_images: 40}}, got {value!r}"
    )
    unknown = set(value) - {"ci_width", "min_images", "value", "resamples"}
    _expect(not unknown, where, f"unknown keys {sorted(unknown)}; allowed: ci_width, min_images, value, resamples")
    width = value.get("ci_width")
    _expect(
        isinstance(width, (int, float)) and not isinstance(width, bool) and width > 0,
        f"{where}.ci_width",
        f"expected the largest 95 % interval width to accept (a positive number, e.g. 2.0 D points), got {width!r}",
    )
    kind = value.get("value", "d")
    _expect(kind in ("d", "d_defended", "gain"), f"{where}.value", f"expected d, d_defended or gain, got {kind!r}")
    return SufficientConfig(
        ci_width=float(width),
        min_images=_int(value.get("min_images", 40), f"{where}.min_images", 1),
        value=kind,
        resamples=_int(value.get("resamples", 1000), f"{where}.resamples", 100),
    )


def _components(raw: dict[str, Any], key: str, required: bool) -> tuple[ComponentConfig, ...]:
    value = raw.get(key, [] if not required else None)
    if not isinstance(value, list) or (required and not value):
        raise ConfigError(f"{key}: expected a non-empty list, got {value!r}")
    specs = tuple(_component(entry, f"{key}[{i}]") for i, entry in enumerate(value))
    seen: dict[str, int] = {}
    for i, spec in enumerate(specs):
        if spec.name in seen:
            raise ConfigError(
                f"{key}[{i}]: {spec.name!r} is listed twice (also {key}[{seen[spec.name]}]); list each component "
                "once and put all its presets in one `presets:` list (one entry has one set of params)"
            )
        seen[spec.name] = i
    return specs


def _dataset(entry: Any, where: str) -> DatasetConfig:
    if isinstance(entry, str):
        entry = {"name": entry, "kind": entry if entry in DATASET_KINDS else "folder"}
    _expect(isinstance(entry, dict), where, f"expected a mapping, got {entry!r}")
    unknown = set(entry) - {"name", "kind", "root", "csv", "limit", "sample"}
    _expect(not unknown, where, f"unknown keys {sorted(unknown)}; allowed: name, kind, root, csv, limit, sample")
    kind = entry.get("kind", "folder")
    _expect(kind in DATASET_KINDS, f"{where}.kind", f"expected one of {', '.join(DATASET_KINDS)}, got {kind!r}")
    if kind != "demo":
        _expect(
            isinstance(entry.get("root"), str), f"{where}.root", f"dataset kind {kind!r} needs the folder it lives in"
        )
    if kind == "folder":
        _expect(
            isinstance(entry.get("csv"), str), f"{where}.csv", "a folder dataset needs a CSV with columns name, mos"
        )
    sample = entry.get("sample")
    _expect(sample is None or isinstance(sample, dict), f"{where}.sample", f"expected a mapping, got {sample!r}")
    limit = entry.get("limit")
    return DatasetConfig(
        name=str(entry.get("name", kind)),
        kind=kind,
        root=entry.get("root"),
        csv=entry.get("csv"),
        limit=None if limit is None else _int(limit, f"{where}.limit", 1),
        sample=sample,
    )


def parse_config(raw: Any, *, base_dir: Path | None = None) -> BenchConfig:
    """Validate a mapping (from YAML) into a :class:`BenchConfig`."""
    _expect(isinstance(raw, dict), "config", f"expected a mapping at the top level, got {type(raw).__name__}")
    allowed = set(CONFIG_KEYS)
    unknown = set(raw) - allowed
    _expect(not unknown, "config", f"unknown keys {sorted(unknown)}; allowed: {', '.join(sorted(allowed))}")
    datasets = raw.get("datasets")
    _expect(isinstance(datasets, list) and datasets, "datasets", "expected a non-empty list of datasets")
    mode = raw.get("mode", "non-adaptive")
    _expect(mode in (*MODES, "both"), "mode", f"expected non-adaptive, adaptive or both, got {mode!r}")
    modes = MODES if mode == "both" else (mode,)
    defences = _components(raw, "defences", required=True)
    names = [d.name for d in defences]
    _expect(NONE not in names, "defences", "'none' (the undefended baseline) is always evaluated; remove it")
    bounds = raw.get("bounds", "catalogue")
    _expect(bounds in ("catalogue", "measured"), "bounds", f"expected catalogue or measured, got {bounds!r}")
    store = str(raw.get("store", f"runs/{raw.get('name', 'bench')}/results.sqlite"))
    cache = raw.get("cache")
    if base_dir is not None:
        store = str((base_dir / store).resolve()) if not Path(store).is_absolute() else store
        cache = str((base_dir / cache).resolve()) if cache and not Path(cache).is_absolute() else cache
    config = BenchConfig(
        name=str(raw.get("name", "bench")),
        datasets=tuple(_dataset(d, f"datasets[{i}]") for i, d in enumerate(datasets)),
        metrics=_components(raw, "metrics", required=True),
        attacks=_components(raw, "attacks", required=False),
        defences=defences,
        certifiers=_components(raw, "certifiers", required=False),
        modes=modes,
        device=str(raw.get("device", "auto")),
        batch_size=_int(raw.get("batch_size", 16), "batch_size", 1),
        chunk_size=_int(raw.get("chunk_size", 32), "chunk_size", 1),
        seed=_int(raw.get("seed", 0), "seed"),
        eot_samples=_int(raw.get("eot_samples", 8), "eot_samples", 1),
        store=store,
        cache=cache,
        bounds=bounds,
        precision=_precision(raw.get("precision"), "precision"),
        sufficient=_sufficient(raw.get("sufficient")),
        measures=_measures(raw.get("measures")),
    )
    return config


def load_config(path: str | Path) -> BenchConfig:
    """Read and validate a YAML config; relative store/cache paths are relative to the current directory."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ConfigError(f"{path} is not valid YAML: {error}") from error
    return parse_config(raw)
