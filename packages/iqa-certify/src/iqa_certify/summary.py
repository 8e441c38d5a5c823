"""Aggregate scores over certificates (benchmark 3.5, Tables 3 and 21).

The definitions shared with ``iqa-bench``'s tables live in :mod:`iqa_core.scoring`, so a run's
report and this summary give the same numbers on the same certificates.

* Kind - :func:`iqa_core.scoring.certificate_kind`: classification (RS, DRS, DDRS, DensePure: a
  class and an L2 radius) or regression (MS, DMS: a smoothed score and a certified delta), as the
  certifier made the certificates.
* Cert.R - :func:`certified_radius`: the mean certified radius over **all** images, an
  abstention counting as radius 0 (as certified-accuracy curves count abstentions as failures).
  ``include_abstained=False`` averages over the certified images only. Classification only:
  :func:`summarize` reports ``None`` for regression certificates (the paper's "-").
* Abst. - :func:`abstention_rate`: percentage of abstentions.
* Cert.RD - :func:`certified_relative_delta`: mean of ``delta / diam`` over the images with a
  finite certificate (median smoothing); abstentions are reported by Abst., not averaged in.
* SROCC - :func:`smoothed_srocc`: Spearman correlation of the smoothed scores with MOS
  (:func:`iqa_core.scoring.certified_srocc`): abstained images are left out (an abstention
  certifies no score), the scores are oriented by the metric's direction (``higher_is_better``).
  A classification certificate's smoothed score is its class representative (bin centre, the
  nearer bound for the outer classes), a median-smoothing one's the median. ``abstained="top"``
  is a non-default variant that keeps abstained classification images at the top class of the
  selection step (the result store does not record that class, so benchmark reports cannot
  use it).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from iqa_core import Certificate, scoring

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


def smoothed_score(certificate: Certificate, abstained: AbstainedPolicy = "drop") -> float:
    """The smoothed score of one certificate (NaN when there is none under the policy)."""
    if certificate.abstained:
        if abstained == "drop":
            return math.nan
        if "top_score" in certificate.extra:
            return float(certificate.extra["top_score"])
    return math.nan if certificate.score is None else float(certificate.score)


def smoothed_srocc(
    certificates: Sequence[Certificate],
    mos: Sequence[float] | np.ndarray,
    *,
    higher_is_better: bool = True,
    abstained: AbstainedPolicy = "drop",
) -> float:
    """SROCC of the smoothed scores with ``mos`` (see the module docstring; NaN below two pairs).

    ``higher_is_better`` is the metric's direction (a lower-is-better metric's scores are negated).
    With the default ``abstained="drop"`` this is :func:`iqa_core.scoring.certified_srocc`, the
    definition ``iqa-bench`` reports.
    """
    _check(certificates)
    y = np.asarray(mos, dtype=float)
    if y.shape != (len(certificates),):
        raise ValueError(f"mos must have one value per certificate ({len(certificates)}), got shape {y.shape}")
    x = np.array([smoothed_score(c, abstained) for c in certificates])
    flags = [c.abstained and abstained == "drop" for c in certificates]
    return scoring.certified_srocc(y, x, flags, higher_is_better=higher_is_better)


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
    higher_is_better: bool = True,
    abstained: AbstainedPolicy = "drop",
) -> CertificationSummary:
    """Cert.R (classification certificates), Cert.RD (median smoothing), Abst., SROCC, time per image.

    The kind comes from the certificates (:func:`iqa_core.scoring.certificate_kind`); certificates
    of both kinds together raise ``ValueError``. ``higher_is_better`` orients the SROCC.
    """
    _check(certificates)
    kinds = {scoring.certificate_kind(c) for c in certificates}
    if len(kinds) > 1:
        raise ValueError("certificates mix classification and regression kinds; summarise each certifier apart")
    regression = kinds == {"regression"}
    return CertificationSummary(
        images=len(certificates),
        abstention_pct=abstention_rate(certificates),
        cert_r=None if regression else certified_radius(certificates),
        cert_rd=certified_relative_delta(certificates) if regression else None,
        srocc=None
        if mos is None
        else smoothed_srocc(certificates, mos, higher_is_better=higher_is_better, abstained=abstained),
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
