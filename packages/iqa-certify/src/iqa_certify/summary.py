"""Aggregate scores over certificates (benchmark 3.5, Tables 3 and 21).

* Cert.R - :func:`certified_radius`: the mean certified radius over **all** images, an
  abstention counting as radius 0 (as certified-accuracy curves count abstentions as failures).
  ``include_abstained=False`` averages over the certified images only.
* Abst. - :func:`abstention_rate`: percentage of abstentions.
* Cert.RD - :func:`certified_relative_delta`: mean of ``delta / diam`` over the images with a
  finite certificate (median smoothing); abstentions are reported by Abst., not averaged in.
* SROCC - :func:`smoothed_srocc`: Spearman correlation of the smoothed scores with MOS.
  A classification certificate's smoothed score is its class representative (bin centre, the
  nearer bound for the outer classes); for an abstention the top class of the selection step
  stands in by default (``abstained="top"``), or the image is dropped (``abstained="drop"``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import stats

from iqa_core import Certificate

AbstainedPolicy = Literal["top", "drop"]


def _check(certificates: Sequence[Certificate]) -> None:
    if len(certificates) == 0:
        raise ValueError("no certificates to aggregate")


def certified_radius(certificates: Sequence[Certificate], *, include_abstained: bool = True) -> float:
    """Cert.R: mean radius, abstentions counted as 0 (or left out with ``include_abstained=False``)."""
    _check(certificates)
    radii = [0.0 if c.abstained else c.radius for c in certificates if include_abstained or not c.abstained]
    return float(np.mean(radii)) if radii else 0.0


def abstention_rate(certificates: Sequence[Certificate]) -> float:
    """Abst.: percentage of certificates that abstained."""
    _check(certificates)
    return 100.0 * sum(c.abstained for c in certificates) / len(certificates)


def certified_relative_delta(certificates: Sequence[Certificate]) -> float | None:
    """Cert.RD: mean ``relative_delta`` of the non-abstained certificates; None when none has one."""
    _check(certificates)
    values = [c.relative_delta for c in certificates if c.relative_delta is not None and not c.abstained]
    return float(np.mean(values)) if values else None


def smoothed_score(certificate: Certificate, abstained: AbstainedPolicy = "top") -> float:
    """The smoothed score of one certificate (NaN when there is none under the policy)."""
    if certificate.abstained:
        if abstained == "drop":
            return math.nan
        if "top_score" in certificate.extra:
            return float(certificate.extra["top_score"])
    return math.nan if certificate.score is None else float(certificate.score)


def smoothed_srocc(
    certificates: Sequence[Certificate], mos: Sequence[float] | np.ndarray, *, abstained: AbstainedPolicy = "top"
) -> float:
    """Spearman rank correlation of the smoothed scores with ``mos`` (pairs without a score dropped)."""
    _check(certificates)
    y = np.asarray(mos, dtype=float)
    if y.shape != (len(certificates),):
        raise ValueError(f"mos must have one value per certificate ({len(certificates)}), got shape {y.shape}")
    x = np.array([smoothed_score(c, abstained) for c in certificates])
    keep = np.isfinite(x) & np.isfinite(y)
    if keep.sum() < 2:
        return math.nan
    return float(stats.spearmanr(x[keep], y[keep]).statistic)


@dataclass(frozen=True)
class CertificationSummary:
    """Scores of one certifier on one image set (None: not applicable to this kind of certifier)."""

    images: int
    abstention_pct: float
    cert_r: float | None
    cert_rd: float | None
    srocc: float | None
    seconds_per_image: float


def summarize(
    certificates: Sequence[Certificate],
    mos: Sequence[float] | np.ndarray | None = None,
    *,
    abstained: AbstainedPolicy = "top",
) -> CertificationSummary:
    """Cert.R (classification certificates), Cert.RD (median smoothing), Abst., SROCC, time per image."""
    _check(certificates)
    regression = any(c.relative_delta is not None for c in certificates)
    return CertificationSummary(
        images=len(certificates),
        abstention_pct=abstention_rate(certificates),
        cert_r=None if regression else certified_radius(certificates),
        cert_rd=certified_relative_delta(certificates) if regression else None,
        srocc=None if mos is None else smoothed_srocc(certificates, mos, abstained=abstained),
        seconds_per_image=float(np.mean([c.seconds for c in certificates])),
    )


__all__ = [
    "AbstainedPolicy",
    "CertificationSummary",
    "abstention_rate",
    "certified_radius",
    "certified_relative_delta",
    "smoothed_score",
    "smoothed_srocc",
    "summarize",
]
