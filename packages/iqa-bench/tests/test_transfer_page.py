"""The transfer section of the HTML leaderboard in headless Chromium: heatmaps drawn, pair table,
labels escaped. Chromium is driven as in test_html_page.py; a screenshot of the section goes to
``$IQA_TEST_SCREENSHOTS`` when set, else to a pytest temporary folder (printed with ``pytest -s``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from _browser import DevTools
from _synthetic import BOUNDS, synthetic_rows

from iqa_bench.report import write_report
from iqa_bench.store import TRANSFER_COLUMNS
from iqa_bench.transfer import report_sections

HOSTILE = '<img src=x onerror="window.__xss=1">'


def transfer_rows() -> list[dict[str, Any]]:
    """Every pair of 2 metrics (one with a hostile name) x (none, good[p2]) x both modes; one failed."""
    rng = np.random.default_rng(3)
    metrics = ("m-wide", HOSTILE)
    sources = [
        (m, mode, d, p)
        for m in metrics
        for mode, d, p in (("non-adaptive", "none", "none"), ("adaptive", "good", "p2"))
    ]
    targets = [(m, d, p) for m in metrics for d, p in (("none", "none"), ("good", "p2"))]
    rows = []
    for metric, mode, defence, preset in sources:
        for target_metric, target_defence, target_preset in targets:
            row = dict.fromkeys(TRANSFER_COLUMNS)
            row.update(
                dataset="koniq",
                attack="fgsm",
                attack_preset="strong",
                mode=mode,
                source_metric=metric,
                source_defence=defence,
                source_defence_preset=preset,
                target_metric=target_metric,
                target_defence=target_defence,
                target_defence_preset=target_preset,
                n_images=20,
                n_missing=0,
                gain=float(rng.uniform(0, 1)),
                gain_defended=float(rng.uniform(0, 1)),
                n_gain_undefined=0,
                srocc_clean=0.9,
                srocc_adv=float(rng.uniform(0, 0.9)),
                status="done",
                fingerprint="f",
            )
            row["srocc_drop"] = 0.9 - row["srocc_adv"]
            rows.append(row)
    rows[5].update(status="failed", error="a failed pair", gain=None, gain_defended=None, srocc_adv=None)
    return rows


def test_transfer_heatmaps_and_pairs_on_the_page(browser: DevTools, tmp_path: Path, shots: Path) -> None:
    rows = transfer_rows()
    written = write_report(
        synthetic_rows(), [], BOUNDS, tmp_path, formats=("html", "csv"), extra_sections=report_sections(rows)
    )
    page = next(p for p in written["html"] if p.name == "leaderboard.html")
    browser.open(page.as_uri())
    browser.evaluate("Promise.all(Array.from(document.images).map(i => i.decode()))")
    figures = browser.evaluate(
        "Array.from(document.querySelectorAll('#transfer figure.plot')).map(f => [f.id,"
        " f.querySelector('img').naturalWidth, f.querySelector('img').naturalHeight, !f.hidden])"
    )
    assert [f[0] for f in figures] == [
        f"figure-transfer-{value}-koniq-fgsm-strong" for value in ("gain", "gain-defended", "srocc-adv")
    ]
    assert all(width > 200 and height > 150 and shown for _, width, height, shown in figures)
    pairs = browser.evaluate("document.querySelectorAll('#transfer-pairs tbody tr').length")
    assert pairs == len(rows) == 16
    statuses = browser.evaluate(
        "Array.from(document.querySelectorAll('#transfer-pairs tbody tr')).map(r => r.innerText.includes('failed'))"
    )
    assert statuses.count(True) == 1
    assert browser.evaluate("window.__xss === undefined")
    assert HOSTILE in browser.evaluate("document.getElementById('transfer-pairs').innerText")
    browser.evaluate("document.getElementById('transfer').scrollIntoView()")
    browser.screenshot(shots / "transfer-section.png", height=1400)
    assert (shots / "transfer-section.png").stat().st_size > 10_000
    csv_rows = (tmp_path / "transfer_pairs.csv").read_text().splitlines()
    assert len(csv_rows) == 1 + 16 and "gain_defended" in csv_rows[0].split(",")
