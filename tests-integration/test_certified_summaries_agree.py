"""iqa_certify.summary and iqa_bench.aggregate give the same certified scores on the same certificates.

Defect 10 of issue 13: with abstentions, the SROCC of certified scores was -0.43 in one and 1.00 in
the other. Both now use iqa_core.scoring (abstained images left out, scores oriented).
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from iqa_bench import aggregate
from iqa_bench.evaluate import certificate_fields
from iqa_certify import summarize
from iqa_core import Certificate


def _row(image: int, cert: Certificate, mos: float) -> dict[str, Any]:
    """A certificate as iqa_bench's runner stores it."""
    row = {"dataset": "d", "image": f"img-{image}", "metric": "m", "certifier": "c", "certifier_preset": "default"}
    return {**row, "mos": mos, **certificate_fields(cert)}


CLASSIFICATION = [
    Certificate(abstained=False, prediction=1, radius=0.2, score=15.0, seconds=1.0),
    Certificate(abstained=True, seconds=1.0, extra={"top_class": 9.0, "top_score": 95.0}),
    Certificate(abstained=False, prediction=3, radius=0.1, score=35.0, seconds=1.0),
    Certificate(abstained=True, seconds=1.0, extra={"top_class": 0.0, "top_score": 5.0}),
    Certificate(abstained=False, prediction=6, radius=0.3, score=65.0, seconds=1.0),
]
MEDIAN = [
    Certificate(abstained=False, score=1.0, lower=0.5, upper=1.5, delta=0.5, relative_delta=0.05),
    Certificate(abstained=True, score=9.0, lower=-math.inf, upper=math.inf, delta=math.inf, relative_delta=math.inf),
    Certificate(abstained=False, score=3.0, lower=2.5, upper=3.6, delta=0.6, relative_delta=0.06),
    Certificate(abstained=False, score=4.0, lower=3.9, upper=4.1, delta=0.1, relative_delta=0.01),
]


@pytest.mark.parametrize("higher_is_better", [True, False])
@pytest.mark.parametrize("certificates", [CLASSIFICATION, MEDIAN], ids=["classification", "median"])
def test_both_paths_agree(certificates: list[Certificate], higher_is_better: bool) -> None:
    mos = [float(i + 1) for i in range(len(certificates))]
    direct = summarize(certificates, mos, higher_is_better=higher_is_better)
    rows = [_row(i, c, m) for i, (c, m) in enumerate(zip(certificates, mos, strict=True))]
    (table,) = aggregate.summarise_certificates(rows, {"m": (0.0, 10.0)}, directions={"m": higher_is_better})
    assert table["srocc"] == pytest.approx(direct.srocc)
    assert table["abstention"] == pytest.approx(direct.abstention_pct)
    if table["kind"] == "classification":
        assert direct.cert_r is not None and table["cert_r"] == pytest.approx(direct.cert_r)
        assert direct.cert_rd is None and math.isnan(table["cert_rd"])
    else:
        assert direct.cert_r is None and math.isnan(table["cert_r"])
        assert direct.cert_rd is not None and table["cert_rd"] == pytest.approx(direct.cert_rd)
    assert table["srocc"] == pytest.approx(1.0 if higher_is_better else -1.0)
