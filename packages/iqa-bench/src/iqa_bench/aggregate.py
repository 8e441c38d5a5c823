"""Per-experiment summaries and roll-ups of result rows (benchmark 3.5, Tables 2, 11-14, 18-21).

Input: result rows as plain dicts with the columns of :mod:`iqa_bench.schema` (``RESULT_COLUMNS``),
the metric bounds ``{metric: (lower, upper)}`` (``diam = upper - lower``) and each metric's
direction, ``directions = {metric: higher_is_better}`` (or bounds given as
``(lower, upper, higher_is_better)``, as the store's ``metrics`` table holds them).

An *experiment* is one ``(dataset, metric, attack, attack_preset, defence, defence_preset, mode)``
group (:data:`EXPERIMENT_KEY`); :func:`summarise` turns its rows into one summary dict holding the
key columns and every score of :data:`SCORES`. Conventions:

* rows whose ``status`` is not ``"done"``, or that lack a finite score the experiment needs, are
  skipped and counted in ``n_failed``; ``n_images`` counts the rows used;
* ``defence = "none"`` is the undefended baseline: ``P`` is the identity, so a missing
  ``score_purified_clean`` / ``score_purified_attacked`` falls back to ``score_clean`` /
  ``score_attacked``;
* ``attack = "none"`` rows are clean-only evaluations: ``x' = x``, so a missing
  ``score_attacked`` / ``score_purified_attacked`` falls back to ``score_clean`` /
  ``score_purified_clean`` (then ``D`` measures how far the defence alone moves the score,
  ``D^(D) = 0`` and ``SROCC_adv = SROCC_clear``);
* ``R`` and ``R^(D)`` use ``(b1, b2) = (max, min)`` of the experiment's clean scores ``f(x)`` (the
  metric's range on the evaluated images), with :func:`iqa_bench.scores.r_score`'s ``eps`` for
  unchanged scores;
* correlations use the rows with a finite MOS (NaN when fewer than two, e.g. NIPS 2017 has no
  MOS) and the metric's *oriented* scores (negated for a lower-is-better metric, see
  :mod:`iqa_core.scoring`), so SROCC/PLCC/KROCC are higher-is-better for every metric; ``RMSE``
  is between MOS and the scores mapped linearly onto the MOS scale (least squares), because raw
  metric scores and MOS live on different scales;
* ``Gain = mean |f(x) - f(P(x'))| / |f(x)|`` (purification paper, eq. 5), ``gain_attack`` the same
  for the undefended attacked image ``f(x')``; an image with ``f(x) = 0`` has no Gain: it is left
  out of the mean and counted in ``n_gain_undefined`` (:func:`iqa_core.scoring.mean_gain`);
  ``Quality = PSNR/100 + SSIM/2``;
* PSNR/SSIM/MSE/Linf are means over the finite values (an identical image has PSNR = inf and is
  left out of the PSNR mean);
* times are seconds per image; ``seconds_per_image`` is the mean of attack + defence + metric.

Roll-ups (:func:`rollup` and the ``by_*`` helpers) average summaries (NaN-aware, finite values
only) and report ``<score>_std`` next to each mean, as the paper's ``mean±std`` tables do.
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from iqa_core import scoring

from . import scores
from .schema import CERTIFICATE_KEY, NONE, RESULT_KEY

Row = Mapping[str, Any]
Summary = dict[str, Any]
Bounds = Mapping[str, tuple[float, float] | Sequence[float]]
Directions = Mapping[str, bool]

log = logging.getLogger(__name__)
_WARNED_DIRECTIONS: set[str] = set()

EXPERIMENT_KEY: tuple[str, ...] = tuple(k for k in RESULT_KEY if k != "image")
"""Columns that identify an experiment (a result row's key without the image)."""

CERTIFIED_KEY: tuple[str, ...] = tuple(k for k in CERTIFICATE_KEY if k != "image")
"""Columns that identify a certified experiment."""


@dataclass(frozen=True)
class ScoreInfo:
    """How a score is shown: its label, whether higher is better, and a one-line definition."""

    label: str
    higher_is_better: bool
    description: str


SCORES: dict[str, ScoreInfo] = {
    "d": ScoreInfo("D", False, "100/n sum |f(P(x')) - f(x)| / diam (eq. 6)"),
    "d_defended": ScoreInfo("D^(D)", False, "100/n sum |f(P(x')) - f(P(x))| / diam (eq. 7)"),
    "r": ScoreInfo("R", True, "1/n sum log10(max(b1 - f(x), f(x) - b2) / |f(x) - f(P(x'))|) (eq. 5)"),
    "r_defended": ScoreInfo("R^(D)", True, "R with P applied to the source images too"),
    "srocc_clean": ScoreInfo("SROCC clear", True, "SROCC(MOS, s f(P(x))) (eq. 8; s = -1 for lower-is-better metrics)"),
    "srocc_adv": ScoreInfo("SROCC adv", True, "SROCC(MOS, s f(P(x'))) (eq. 9; s = -1 for lower-is-better metrics)"),
    "plcc_clean": ScoreInfo("PLCC clear", True, "PLCC(MOS, s f(P(x)))"),
    "plcc_adv": ScoreInfo("PLCC adv", True, "PLCC(MOS, s f(P(x')))"),
    "krocc_clean": ScoreInfo("KROCC clear", True, "KROCC(MOS, s f(P(x)))"),
    "krocc_adv": ScoreInfo("KROCC adv", True, "KROCC(MOS, s f(P(x')))"),
    "rmse_clean": ScoreInfo("RMSE clear", False, "RMSE(MOS, linear fit of f(P(x)) to MOS)"),
    "rmse_adv": ScoreInfo("RMSE adv", False, "RMSE(MOS, linear fit of f(P(x')) to MOS)"),
    "psnr": ScoreInfo("PSNR", True, "PSNR of P(x') against x (dB)"),
    "ssim": ScoreInfo("SSIM", True, "SSIM of P(x') against x"),
    "mse": ScoreInfo("MSE", False, "MSE of P(x') against x"),
    "linf": ScoreInfo("Linf", False, "L-infinity distance of P(x') to x"),
    "lpips": ScoreInfo("LPIPS", False, "LPIPS of P(x') against x (only with `measures: [lpips]` in the config)"),
    "dists": ScoreInfo("DISTS", False, "DISTS of P(x') against x (only with `measures: [dists]` in the config)"),
    "gain": ScoreInfo(
        "Gain", False, "mean |f(x) - f(P(x'))| / |f(x)| (purification paper, eq. 5; images with f(x) = 0 left out)"
    ),
    "gain_attack": ScoreInfo("Gain (no defence)", False, "mean |f(x) - f(x')| / |f(x)| (f(x) = 0 left out)"),
    "quality": ScoreInfo("Quality", True, "PSNR/100 + SSIM/2 (purification paper)"),
    "seconds_attack": ScoreInfo("Attack s/img", False, "mean attack time per image (s)"),
    "seconds_defence": ScoreInfo("Defence s/img", False, "mean defence time per image (s)"),
    "seconds_metric": ScoreInfo("Metric s/img", False, "mean metric time per image (s)"),
    "seconds_per_image": ScoreInfo("Total s/img", False, "mean attack + defence + metric time per image (s)"),
}
"""Every per-experiment score, in column order."""

CERTIFIED_SCORES: dict[str, ScoreInfo] = {
    "cert_r": ScoreInfo(
        "Cert.R", True, "mean certified l2 radius, abstentions counted as 0 (classification certifiers only)"
    ),
    "abstention": ScoreInfo("Abst. %", False, "percentage of abstentions"),
    "cert_rd": ScoreInfo(
        "Cert.RD", False, "mean certified delta / diam over the non-abstained images (regression certifiers only)"
    ),
    "srocc": ScoreInfo("SROCC", True, "SROCC(MOS, s * smoothed score) over the non-abstained images"),
    "seconds_per_image": ScoreInfo("s/img", False, "mean certification time per image (s)"),
}

COUNT_COLUMNS: tuple[str, ...] = ("n_images", "n_failed", "n_gain_undefined")

DEFAULT_DEFENCE_TYPES: dict[str, str] = {
    NONE: NONE,
    **{
        name: "classic"
        for name in (
            "jpeg",
            "diffjpeg",
            "colour-quantization",
            "resize",
            "upscale",
            "random-rotate",
            "random-crop",
            "flip",
            "gaussian-blur",
            "median-blur",
            "bilateral",
            "unsharp",
            "random-noise",
        )
    },
    **{name: "neural" for name in ("mprnet", "real-esrgan", "disco", "fcn-filter")},
    **{name: "diffusion" for name in ("diffpure", "diffpure-edge", "diffpure-unsharp")},
}
"""Default defence -> type table for the catalogue's defences (unknown names map to ``"other"``)."""

DEFAULT_ATTACK_TYPES: dict[str, str] = {
    NONE: NONE,
    **{
        name: "white-box"
        for name in (
            "fgsm",
            "ifgsm",
            "mifgsm",
            "amifgsm",
            "apgd",
            "uap",
            "korhonen",
            "zhang",
            "zhang-dists",
            "zhang-lpips",
            "zhang-ssim",
            "madc",
            "cadv",
            "advcf",
            "ssah",
            "facpa",
            "stadv",
        )
    },
    **{name: "black-box" for name in ("nes", "parsimonious", "onepixel", "square", "patch-rs")},
}
"""The catalogue's attacks by access (Table 7: WB / BB); unknown names map to ``"other"``."""


def attack_type(attack: str, attack_types: Mapping[str, str] | None = None) -> str:
    """The type (family) of ``attack``: ``attack_types`` first, else :data:`DEFAULT_ATTACK_TYPES`, else ``"other"``."""
    if attack_types is not None and attack in attack_types:
        return str(attack_types[attack])
    return DEFAULT_ATTACK_TYPES.get(attack, NONE if attack == NONE else "other")


PAPER_DEFENCE_GROUPS: dict[str, str] = {
    NONE: NONE,
    "gaussian-blur": "filtering",
    "median-blur": "filtering",
    "bilateral": "filtering",
    "unsharp": "filtering",
    "fcn-filter": "filtering",
    "jpeg": "compression",
    "diffjpeg": "compression",
    "colour-quantization": "compression",
    "flip": "spatial transforms",
    "resize": "spatial transforms",
    "upscale": "spatial transforms",
    "mprnet": "denoising",
    "real-esrgan": "denoising",
    "random-noise": "with randomness",
    "random-rotate": "with randomness",
    "random-crop": "with randomness",
    "disco": "adv. defences",
    "diffpure": "adv. defences",
    "diffpure-edge": "adv. defences",
    "diffpure-unsharp": "adv. defences",
}
"""The grouping of Table 18 (filtering, compression, ...), usable as ``defence_types``."""


def _float(value: Any) -> float:
    """A row value as a float; NULL / non-numbers become NaN."""
    if value is None:
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _key_value(value: Any) -> str:
    return NONE if value is None or value == "" else str(value)


def experiment_key(row: Row, key: Sequence[str] = EXPERIMENT_KEY) -> tuple[str, ...]:
    """The experiment a row belongs to (``None`` / empty key values read as ``"none"``)."""
    return tuple(_key_value(row.get(column)) for column in key)


def diameter(bounds: Bounds, metric: str) -> float:
    """``diam = upper - lower`` of ``metric``; a clear error when it is unknown or not positive."""
    if metric not in bounds:
        known = ", ".join(sorted(bounds)) or "none"
        raise KeyError(f"no bounds for metric {metric!r} (bounds known for: {known}); run `iqa-bench bounds` first")
    value = bounds[metric]
    if hasattr(value, "lower") and hasattr(value, "upper"):
        lower, upper = float(value.lower), float(value.upper)
    else:
        lower, upper = (float(v) for v in list(value)[:2])
    diam = upper - lower
    if not math.isfinite(diam) or diam <= 0:
        raise ValueError(f"bounds of metric {metric!r} must satisfy lower < upper, got ({lower}, {upper})")
    return diam


def higher_is_better(metric: str, bounds: Bounds | None = None, directions: Directions | None = None) -> bool:
    """The direction of ``metric``: ``directions[metric]``, else the third entry of its bounds.

    When neither says, higher-is-better is assumed and a warning is logged: correlations of a
    lower-is-better metric would then come out negated, so callers should pass the directions
    (the store's ``metrics`` table records them).
    """
    if directions is not None and metric in directions:
        return bool(directions[metric])
    if bounds is not None and metric in bounds:
        value = bounds[metric]
        direction = getattr(value, "higher_is_better", None)
        if direction is not None:
            return bool(direction)
        if isinstance(value, Sequence) and len(value) >= 3 and value[2] is not None:
            return bool(value[2])
    if metric not in _WARNED_DIRECTIONS:
        _WARNED_DIRECTIONS.add(metric)
        log.warning(
            "direction of metric %r unknown: assuming higher is better (pass directions={metric: higher_is_better})",
            metric,
        )
    return True


@dataclass(frozen=True)
class ImageScores:
    """One usable row's scores after the ``attack = none`` / ``defence = none`` fallbacks."""

    image: str
    mos: float
    clean: float
    attacked: float
    purified_clean: float
    purified_attacked: float
    psnr: float
    ssim: float
    mse: float
    linf: float
    seconds_attack: float
    seconds_defence: float
    seconds_metric: float
    lpips: float = math.nan
    dists: float = math.nan


def resolve(row: Row) -> ImageScores | None:
    """The row's scores with the conventions of this module; ``None`` when the row is unusable."""
    if row.get("status") != "done":
        return None
    clean = _float(row.get("score_clean"))
    attacked = _float(row.get("score_attacked"))
    purified_clean = _float(row.get("score_purified_clean"))
    purified_attacked = _float(row.get("score_purified_attacked"))
    no_attack = _key_value(row.get("attack")) == NONE
    no_defence = _key_value(row.get("defence")) == NONE
    if no_defence:
        purified_clean = clean if math.isnan(purified_clean) else purified_clean
        purified_attacked = attacked if math.isnan(purified_attacked) else purified_attacked
    if no_attack:
        attacked = clean if math.isnan(attacked) else attacked
        purified_attacked = purified_clean if math.isnan(purified_attacked) else purified_attacked
    if no_defence:
        purified_attacked = attacked if math.isnan(purified_attacked) else purified_attacked
    if not all(math.isfinite(v) for v in (clean, purified_clean, purified_attacked)):
        return None
    return ImageScores(
        image=str(row.get("image")),
        mos=_float(row.get("mos")),
        clean=clean,
        attacked=attacked,
        purified_clean=purified_clean,
        purified_attacked=purified_attacked,
        psnr=_float(row.get("psnr")),
        ssim=_float(row.get("ssim")),
        mse=_float(row.get("mse")),
        linf=_float(row.get("linf")),
        seconds_attack=_float(row.get("seconds_attack")),
        seconds_defence=_float(row.get("seconds_defence")),
        seconds_metric=_float(row.get("seconds_metric")),
        lpips=_float(row.get("lpips")),
        dists=_float(row.get("dists")),
    )


def _finite_mean(values: Iterable[float]) -> float:
    array = np.asarray(list(values), dtype=np.float64)
    array = array[np.isfinite(array)]
    return float(array.mean()) if array.size else math.nan


def _finite_std(values: Iterable[float]) -> float:
    array = np.asarray(list(values), dtype=np.float64)
    array = array[np.isfinite(array)]
    return float(array.std()) if array.size else math.nan


def _rmse_linear(mos: np.ndarray, predicted: np.ndarray) -> float:
    if mos.size < 2 or np.ptp(predicted) == 0:
        return math.nan
    slope, intercept = np.polyfit(predicted, mos, 1)
    return scores.rmse(mos, slope * predicted + intercept)


def _correlations(mos: np.ndarray, predicted: np.ndarray, suffix: str, higher: bool) -> dict[str, float]:
    keep = np.isfinite(mos) & np.isfinite(predicted)
    y, s = mos[keep], predicted[keep]
    if y.size < 2:
        return {f"{name}_{suffix}": math.nan for name in ("srocc", "plcc", "krocc", "rmse")}
    return {
        f"srocc_{suffix}": scores.srocc(y, s, higher_is_better=higher),
        f"plcc_{suffix}": scores.plcc(y, s, higher_is_better=higher),
        f"krocc_{suffix}": scores.krocc(y, s, higher_is_better=higher),
        f"rmse_{suffix}": _rmse_linear(y, s),
    }


def score_images(images: Sequence[ImageScores], diam: float, *, higher_is_better: bool = True) -> dict[str, float]:
    """Every score of :data:`SCORES` over one experiment's usable images (NaN where undefined).

    ``higher_is_better`` is the metric's direction (it orients the correlations with MOS). The
    result also holds ``n_gain_undefined``: images left out of ``gain`` because ``f(x) = 0``.
    """
    result = dict.fromkeys(SCORES, math.nan)
    result["n_gain_undefined"] = 0
    if not images:
        return result
    clean = np.array([i.clean for i in images])
    attacked = np.array([i.attacked for i in images])
    purified_clean = np.array([i.purified_clean for i in images])
    purified_attacked = np.array([i.purified_attacked for i in images])
    mos = np.array([i.mos for i in images])
    beta = scores.beta_of(clean)
    result["d"] = scores.d_score(clean, purified_attacked, diam)
    result["d_defended"] = scores.d_score_defended(purified_clean, purified_attacked, diam)
    result["r"] = scores.r_score(clean, purified_attacked, beta=beta, diam=diam)
    result["r_defended"] = scores.r_score_defended(purified_clean, purified_attacked, beta=beta, diam=diam)
    result.update(_correlations(mos, purified_clean, "clean", higher_is_better))
    result.update(_correlations(mos, purified_attacked, "adv", higher_is_better))
    for name in (
        "psnr",
        "ssim",
        "mse",
        "linf",
        "lpips",
        "dists",
        "seconds_attack",
        "seconds_defence",
        "seconds_metric",
    ):
        result[name] = _finite_mean(getattr(i, name) for i in images)
    gain = scores.gain_details(clean, purified_attacked)
    result["gain"] = gain.value
    result["n_gain_undefined"] = gain.n_undefined
    finite_attacked = np.isfinite(attacked)
    if finite_attacked.any():
        result["gain_attack"] = scores.gain(clean[finite_attacked], attacked[finite_attacked])
    if math.isfinite(result["psnr"]) and math.isfinite(result["ssim"]):
        result["quality"] = scores.quality_score(result["psnr"], result["ssim"])
    times = [
        sum(t for t in (i.seconds_attack, i.seconds_defence, i.seconds_metric) if math.isfinite(t)) for i in images
    ]
    result["seconds_per_image"] = float(np.mean(times))
    return result


def group_rows(rows: Iterable[Row], key: Sequence[str] = EXPERIMENT_KEY) -> dict[tuple[str, ...], list[Row]]:
    """Rows grouped by ``key``, in first-seen order."""
    groups: dict[tuple[str, ...], list[Row]] = defaultdict(list)
    for row in rows:
        groups[experiment_key(row, key)].append(row)
    return dict(groups)


def summarise(rows: Iterable[Row], bounds: Bounds, *, directions: Directions | None = None) -> list[Summary]:
    """One summary per experiment: the :data:`EXPERIMENT_KEY` columns, :data:`SCORES`, counts.

    Sorted by the key. Failed / unusable rows are skipped and counted in ``n_failed``.
    ``directions`` (``{metric: higher_is_better}``) orients the correlations; see
    :func:`higher_is_better`.
    """
    summaries: list[Summary] = []
    for key, group in sorted(group_rows(rows).items()):
        summary: Summary = dict(zip(EXPERIMENT_KEY, key, strict=True))
        images = [resolved for resolved in map(resolve, group) if resolved is not None]
        diam = diameter(bounds, summary["metric"])
        higher = higher_is_better(summary["metric"], bounds, directions)
        summary.update(score_images(images, diam, higher_is_better=higher))
        summary["n_images"] = len(images)
        summary["n_failed"] = len(group) - len(images)
        summaries.append(summary)
    return summaries


def with_types(
    summaries: Iterable[Summary],
    defence_types: Mapping[str, str] | None = None,
    attack_types: Mapping[str, str] | None = None,
) -> list[Summary]:
    """Copies of the summaries with ``defence_type`` (and ``attack_type``) columns added.

    ``defence_types`` defaults to :data:`DEFAULT_DEFENCE_TYPES`; names missing from a table map to
    ``"other"``; ``attack_type`` is added only when ``attack_types`` is given.
    """
    table = DEFAULT_DEFENCE_TYPES if defence_types is None else defence_types
    typed = []
    for summary in summaries:
        copy = dict(summary)
        copy["defence_type"] = table.get(summary["defence"], NONE if summary["defence"] == NONE else "other")
        if attack_types is not None:
            copy["attack_type"] = attack_types.get(summary["attack"], NONE if summary["attack"] == NONE else "other")
        typed.append(copy)
    return typed


def rollup(
    summaries: Iterable[Summary],
    by: Sequence[str],
    *,
    score_names: Sequence[str] = tuple(SCORES),
    include_clean: bool = False,
) -> list[Summary]:
    """Average the summaries over every group of ``by`` columns.

    Each result holds the ``by`` columns, ``<score>`` (mean of the finite per-experiment values),
    ``<score>_std``, ``n_experiments`` and the summed ``n_images`` / ``n_failed``. Clean-only
    experiments (``attack = "none"``) are left out unless ``include_clean``. Sorted by ``by``.
    """
    groups: dict[tuple[str, ...], list[Summary]] = defaultdict(list)
    for summary in summaries:
        if not include_clean and summary.get("attack") == NONE:
            continue
        missing = [column for column in by if column not in summary]
        if missing:
            raise KeyError(f"summary has no column(s) {missing}; add them first (see with_types)")
        groups[tuple(str(summary[column]) for column in by)].append(summary)
    table: list[Summary] = []
    for key, group in sorted(groups.items()):
        entry: Summary = dict(zip(by, key, strict=True))
        for name in score_names:
            values = [_float(s.get(name)) for s in group]
            entry[name] = _finite_mean(values)
            entry[f"{name}_std"] = _finite_std(values)
        entry["n_experiments"] = len(group)
        for column in COUNT_COLUMNS:
            entry[column] = int(sum(int(s.get(column, 0) or 0) for s in group))
        table.append(entry)
    return table


def by_defence(summaries: Iterable[Summary], *, with_preset: bool = False) -> list[Summary]:
    """Table 2: per defence (and preset) and mode, over datasets, metrics, attacks and images."""
    by = ("defence", "defence_preset", "mode") if with_preset else ("defence", "mode")
    return rollup(summaries, by)


def by_metric(summaries: Iterable[Summary]) -> list[Summary]:
    """Tables 12-13: per metric, defence and mode."""
    return rollup(summaries, ("metric", "defence", "mode"))


def by_attack(summaries: Iterable[Summary], attack_types: Mapping[str, str] | None = None) -> list[Summary]:
    """Table 14: per attack (or per attack type when ``attack_types`` is given), defence and mode."""
    if attack_types is None:
        return rollup(summaries, ("attack", "defence", "mode"))
    return rollup(with_types(summaries, attack_types=attack_types), ("attack_type", "defence", "mode"))


def by_attack_strength(summaries: Iterable[Summary]) -> list[Summary]:
    """Table 11: per attack preset (strength), defence and mode."""
    return rollup(summaries, ("attack_preset", "defence", "mode"))


def by_dataset(summaries: Iterable[Summary]) -> list[Summary]:
    """Table 19: per dataset, defence and mode."""
    return rollup(summaries, ("dataset", "defence", "mode"))


def by_defence_type(summaries: Iterable[Summary], defence_types: Mapping[str, str] | None = None) -> list[Summary]:
    """Table 18: per defence type and mode (``defence_types`` defaults to :data:`DEFAULT_DEFENCE_TYPES`)."""
    return rollup(with_types(summaries, defence_types), ("defence_type", "mode"))


def summarise_certificates(
    certificates: Iterable[Row], bounds: Bounds, *, directions: Directions | None = None
) -> list[Summary]:
    """Certified summaries (Tables 3, 21), one per (dataset, metric, certifier, certifier preset).

    * ``kind``: ``"classification"`` or ``"regression"``, from the certifier: an explicit ``kind``
      column when the rows carry one, else what the certificates hold
      (:func:`iqa_core.scoring.certificate_kind`: median smoothing records a certified delta,
      classification certifiers a class and a radius);
    * ``cert_r``: mean radius over all usable images, an abstention counting as 0; NaN (shown
      as "—") for a regression certifier, which certifies no radius (the paper's "-" for MS/DMS);
    * ``abstention``: percentage of abstentions;
    * ``cert_rd``: mean ``relative_delta`` (or ``delta / diam`` when the row has no relative delta)
      over the non-abstained images; NaN for a classification certifier;
    * ``srocc``: :func:`iqa_core.scoring.certified_srocc` of the smoothed ``score`` with MOS:
      abstained images and rows without a score or MOS left out, scores oriented by the metric's
      direction (the same definition as ``iqa_certify.summary.smoothed_srocc``);
    * ``seconds_per_image``; ``n_images`` / ``n_failed`` as for result rows (failed = status not done).
    """
    summaries: list[Summary] = []
    for key, group in sorted(group_rows(certificates, CERTIFIED_KEY).items()):
        summary: Summary = dict(zip(CERTIFIED_KEY, key, strict=True))
        done = [row for row in group if row.get("status") == "done"]
        diam = diameter(bounds, summary["metric"])
        higher = higher_is_better(summary["metric"], bounds, directions)
        abstained = [bool(row.get("abstained")) for row in done]
        kinds = {scoring.certificate_kind(row) for row in done}
        if len(kinds) > 1:
            raise ValueError(
                f"certificates of {key} mix classification and regression rows; one certifier gives one kind"
            )
        kind = kinds.pop() if kinds else "classification"
        summary["kind"] = kind
        if kind == "classification":
            radii = [_float(row.get("radius")) for row in done]
            summary["cert_r"] = _finite_mean(
                0.0 if a else (r if math.isfinite(r) else 0.0) for a, r in zip(abstained, radii, strict=True)
            )
            summary["cert_rd"] = math.nan
        else:
            summary["cert_r"] = math.nan
            relative = []
            for row, a in zip(done, abstained, strict=True):
                if a:
                    continue
                value = _float(row.get("relative_delta"))
                if not math.isfinite(value):
                    value = _float(row.get("delta")) / diam
                relative.append(value)
            summary["cert_rd"] = _finite_mean(relative)
        summary["abstention"] = 100.0 * sum(abstained) / len(done) if done else math.nan
        mos = np.array([_float(row.get("mos")) for row in done])
        smoothed = np.array([_float(row.get("score")) for row in done])
        summary["srocc"] = (
            scoring.certified_srocc(mos, smoothed, abstained, higher_is_better=higher) if done else math.nan
        )
        summary["seconds_per_image"] = _finite_mean(_float(row.get("seconds")) for row in done)
        summary["n_images"] = len(done)
        summary["n_failed"] = len(group) - len(done)
        summaries.append(summary)
    return summaries


def by_certifier(certified: Iterable[Summary]) -> list[Summary]:
    """Table 21: certified summaries averaged per certifier (over datasets, metrics, presets)."""
    groups: dict[str, list[Summary]] = defaultdict(list)
    for summary in certified:
        groups[summary["certifier"]].append(summary)
    table = []
    for certifier, group in sorted(groups.items()):
        entry: Summary = {"certifier": certifier, "kind": group[0]["kind"]}
        for name in CERTIFIED_SCORES:
            values = [_float(s.get(name)) for s in group]
            entry[name] = _finite_mean(values)
            entry[f"{name}_std"] = _finite_std(values)
        entry["n_experiments"] = len(group)
        entry["n_images"] = int(sum(s["n_images"] for s in group))
        entry["n_failed"] = int(sum(s["n_failed"] for s in group))
        table.append(entry)
    return table
