"""The HTML leaderboard in headless Chromium: it loads from file://, ranks, filters, sorts, prints, shows figures.

Chromium is driven through the DevTools protocol over pipes (``--remote-debugging-pipe``: commands
on fd 3, replies on fd 4, NUL-separated JSON), so no Selenium or websocket client is needed.
Needs Debian's ``chromium`` at /usr/bin/chromium: missing, the tests fail (never skip).
Screenshots (and a printed PDF) go to ``$IQA_TEST_SCREENSHOTS`` when set, else to a pytest
temporary folder (its path is printed; ``pytest -s`` shows it).
"""

from __future__ import annotations

import base64
import json
import math
import subprocess
from pathlib import Path
from typing import Any

import pytest
from _browser import CHROMIUM, FLAGS, DevTools, _require_chromium
from _synthetic import BOUNDS, synthetic_rows

from iqa_bench import aggregate
from iqa_bench.leaderboard import ExtraColumn, load_entries
from iqa_bench.report import LEADERBOARD_COLUMNS, build_report, write_report

SCRIPT_NAME = "<script>alert(1)</script>"
IMG_NAME = '<img src=x onerror="window.__xss=1">'


SUBJECTIVE = ExtraColumn(
    "subjective",
    "Subjective " + IMG_NAME,
    True,
    {"good": (0.75, 0.5, 1.0), SCRIPT_NAME: (-0.75, -1.0, -0.5)},
    description="Bradley-Terry score of a subjective study",
    digits=2,
)
"""An outside column (as the subjective study adds), with a hostile label."""

DIRECTIONS = {"m-wide": False, "m-narrow": True}
"""m-wide is lower-is-better here: the page must say so where it matters."""


def _hostile_rows() -> list[dict[str, Any]]:
    rows = synthetic_rows()
    for row in rows:
        if row["defence"] == "bad":
            row["defence"] = SCRIPT_NAME
        if row["attack"] == "advcf":
            row["attack"] = IMG_NAME
        if row["metric"] == "m-narrow" and row["attack"] == "fgsm":
            row["mos"] = None  # no correlation there: cells whose columns have different counts
        if row["attack"] != "none":  # as a run with `measures: [lpips]` stores it
            row["lpips"] = 0.03 if row["attack_preset"] == "weak" else 0.15
    return rows


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report")
    written = write_report(
        _hostile_rows(),
        [],
        BOUNDS,
        out,
        formats=("html",),
        title="Synthetic <b>board</b>",
        directions=DIRECTIONS,
        extra_columns=[SUBJECTIVE],
        n_resamples=200,
    )
    return written["html"][0]


@pytest.fixture(scope="module")
def selected() -> list[dict[str, Any]]:
    """The per-experiment summaries behind the leaderboard (one preset per defence and mode)."""
    return build_report(_hostile_rows(), [], BOUNDS, directions=DIRECTIONS).selected


COLUMN = """(key, table) => {
  const t = document.getElementById(table);
  const i = Array.from(t.tHead.rows[0].cells).findIndex(c => c.getAttribute('data-key') === key);
  return Array.from(t.tBodies[0].rows).filter(r => !r.hidden).map(r => r.cells[i].getAttribute('data-value'));
}"""


def _column(browser: DevTools, key: str, table: str = "leaderboard") -> list[str]:
    return list(browser.evaluate(f"({COLUMN})({json.dumps(key)}, {json.dumps(table)})"))


def _board(browser: DevTools) -> dict[str, dict[str, float]]:
    """``{defence: {column: value}}`` of the leaderboard as shown."""
    names = _column(browser, "defence")
    table: dict[str, dict[str, float]] = {name: {} for name in names}
    for key, *_ in LEADERBOARD_COLUMNS:
        for name, value in zip(names, _column(browser, key), strict=True):
            table[name][key] = float(value) if value else math.nan
    return table


def test_page_loads_from_file_and_escapes_names(browser: DevTools, page: Path, shots: Path) -> None:
    browser.open(page.as_uri())
    assert browser.evaluate("document.title") == "Synthetic <b>board</b>"
    assert browser.evaluate("typeof window.iqaBenchSort") == "function"  # the page's own script ran (CSP hash)
    runnable = "Array.from(document.scripts).filter(s => !s.type || s.type === 'text/javascript').length"
    assert browser.evaluate(runnable) == 1
    assert browser.evaluate("window.__xss === undefined")
    defences = _column(browser, "defence")
    assert SCRIPT_NAME in defences
    assert SCRIPT_NAME in browser.evaluate("document.getElementById('leaderboard').innerText")
    assert IMG_NAME in browser.evaluate("document.getElementById('by-attack').textContent")
    sources = browser.evaluate("Array.from(document.images).map(i => i.getAttribute('src').slice(0, 22))")
    assert sources and set(sources) == {"data:image/png;base64,"}  # only inline figures, nothing fetched
    browser.screenshot(shots / "leaderboard.png")
    assert (shots / "leaderboard.png").stat().st_size > 10_000


def test_rank_order_follows_the_rank_column_and_its_direction(browser: DevTools, page: Path) -> None:
    browser.open(page.as_uri())
    ranks = _column(browser, "rank")
    names = _column(browser, "defence")
    assert names[0] == "none" and ranks[0] == ""  # the undefended baseline first, not ranked
    assert [int(r) for r in ranks[1:]] == list(range(1, len(ranks)))
    srocc = [float(v) for v in _column(browser, "srocc_adv")[1:]]
    assert srocc == sorted(srocc, reverse=True)  # default: SROCC adv, higher is better
    browser.select("rank", "d_defended")  # lower is better
    assert browser.evaluate("document.getElementById('leaderboard').getAttribute('data-rank-by')") == "d_defended"
    d = [float(v) for v in _column(browser, "d_defended")[1:]]
    assert d == sorted(d) and d[0] < d[-1]
    assert _column(browser, "defence")[1] == "good"  # the defence with the smaller residual shift
    assert "ranked by D^(D) (lower is better)" in browser.evaluate("document.getElementById('selection').textContent")


@pytest.mark.parametrize(
    ("filters", "hash_part"),
    [
        ({"mode": "adaptive"}, "mode=adaptive"),
        ({"metric": "m-wide"}, "metric=m-wide"),
        ({"attack": "fgsm", "mode": "adaptive"}, "attack=fgsm"),
        ({"dataset": "koniq", "metric": "m-narrow", "attack": IMG_NAME}, "metric=m-narrow"),
    ],
)
def test_filters_recompute_the_leaderboard(
    browser: DevTools, page: Path, selected: list[dict[str, Any]], filters: dict[str, str], hash_part: str
) -> None:
    browser.open(page.as_uri())
    mixed = "JSON.parse(document.getElementById('board-data').textContent).cells.some(c => Array.isArray(c[6]))"
    assert browser.evaluate(mixed)
    for dimension, value in filters.items():
        browser.select(dimension, value)
    wanted = {"mode": "non-adaptive", **filters}
    subset = [s for s in selected if all(str(s[k]) == v for k, v in wanted.items())]
    expected = {r["defence"]: r for r in aggregate.rollup(subset, ("defence",))}
    shown = _board(browser)
    assert set(shown) == set(expected) and len(shown) == 3
    for defence, values in shown.items():
        for key, value in values.items():
            assert value == pytest.approx(expected[defence][key], rel=1e-9, abs=1e-12, nan_ok=True), (defence, key)
    assert hash_part in browser.evaluate("decodeURIComponent(location.hash)")
    visible = browser.evaluate(
        "Array.from(document.querySelectorAll('table.filterable tbody tr')).filter(r => !r.hidden)"
        ".map(r => [r.getAttribute('data-f-mode'), r.getAttribute('data-f-metric'), r.getAttribute('data-f-attack')])"
    )
    assert visible
    for mode, metric, attack in visible:
        assert mode in (None, wanted["mode"])
        assert metric in (None, wanted.get("metric", metric))
        assert attack in (None, wanted.get("attack", attack))
    figures = browser.evaluate(
        "Array.from(document.querySelectorAll('figure.plot')).map(f => [f.getAttribute('data-f-mode'), f.hidden])"
    )
    assert all(hidden == (mode is not None and mode != wanted["mode"]) for mode, hidden in figures)


def test_a_filtered_view_is_a_shareable_link(browser: DevTools, page: Path, shots: Path) -> None:
    browser.open(page.as_uri() + "#mode=adaptive&metric=m-wide&rank=gain&table=leaderboard&sort=defence&desc=0")
    assert browser.evaluate("document.getElementById('filter-mode').value") == "adaptive"
    assert browser.evaluate("document.getElementById('filter-metric').value") == "m-wide"
    assert browser.evaluate("document.getElementById('leaderboard').getAttribute('data-sort-key')") == "defence"
    names = _column(browser, "defence")
    assert names == browser.evaluate(f"{json.dumps(names)}.slice().sort((a, b) => a.localeCompare(b))")
    browser.screenshot(shots / "leaderboard-adaptive-m-wide.png")
    browser.evaluate("document.getElementById('filter-reset').click()")
    browser.evaluate("new Promise(r => setTimeout(r, 50))")
    assert browser.evaluate("document.getElementById('filter-mode').value") == "non-adaptive"
    assert browser.evaluate("document.getElementById('filter-metric').value") == ""


def test_direction_notes_are_right_for_a_lower_is_better_metric(browser: DevTools, page: Path) -> None:
    browser.open(page.as_uri())
    headers = browser.evaluate(
        "Array.from(document.querySelectorAll('#leaderboard th[data-key]')).map(h => [h.getAttribute('data-key'),"
        " h.querySelector('.dir') ? h.querySelector('.dir').textContent : null])"
    )
    notes = dict(headers)
    for key, *_ in LEADERBOARD_COLUMNS:
        higher = aggregate.SCORES[key].higher_is_better
        assert notes[key] == ("↑ higher is better" if higher else "↓ lower is better"), key
    assert notes["defence"] is None and notes["n_images"] is None
    metrics = dict(
        browser.evaluate(
            "Array.from(document.querySelectorAll('#metrics tbody tr')).map(r => [r.cells[0].textContent,"
            " r.cells[1].textContent])"
        )
    )
    assert metrics == {"m-narrow": "↑ higher is better", "m-wide": "↓ lower is better"}
    assert browser.evaluate("document.getElementById('metric-direction').hidden")
    browser.select("metric", "m-wide")
    note = browser.evaluate("document.getElementById('metric-direction')")
    text = browser.evaluate("document.getElementById('metric-direction').textContent")
    assert note is not None and not browser.evaluate("document.getElementById('metric-direction').hidden")
    assert text.startswith("m-wide is a lower-is-better metric")
    browser.select("metric", "m-narrow")
    assert browser.evaluate("document.getElementById('metric-direction').textContent") == (
        "m-narrow is a higher-is-better metric."
    )
    option = browser.evaluate("document.querySelector('#filter-metric option[value=\\'m-wide\\']').textContent")
    assert option == "m-wide (↓)"


def test_each_row_links_to_its_raw_json_entry(browser: DevTools, page: Path) -> None:
    browser.open(page.as_uri())
    links = browser.evaluate(
        "Array.from(document.querySelectorAll('#leaderboard tbody tr')).map(r => [r.getAttribute('data-defence'),"
        " r.querySelector('a').getAttribute('href')])"
    )
    assert len(links) == 3
    for defence, href in links:
        assert href.startswith("entries/") and href.endswith(".json") and "<" not in href
        (entry,) = load_entries(page.parent / href)
        assert entry["method"] == defence


def test_click_sorts_numbers_both_ways(browser: DevTools, page: Path) -> None:
    browser.open(page.as_uri())
    browser.click("#by-defence th[data-key='d']")
    assert browser.evaluate("document.getElementById('by-defence').getAttribute('data-sort-dir')") == "asc"
    values = [float(v) for v in _column(browser, "d", "by-defence")]
    assert values == sorted(values) and len(values) == 3  # the non-adaptive rows: the default mode filter
    browser.click("#by-defence th[data-key='d']")
    values = [float(v) for v in _column(browser, "d", "by-defence")]
    assert values == sorted(values, reverse=True)
    assert browser.evaluate("location.hash") == "#table=by-defence&sort=d&desc=1"
    browser.click("#leaderboard th[data-key='defence']")
    names = _column(browser, "defence")
    expected = browser.evaluate(f"{json.dumps(names)}.slice().sort((a, b) => a.localeCompare(b))")
    assert names == expected and set(names) == {SCRIPT_NAME, "good", "none"}
    assert browser.evaluate("document.getElementById('leaderboard').getAttribute('data-sort-key')") == "defence"


def test_url_hash_sorts_on_load(browser: DevTools, page: Path) -> None:
    browser.open(page.as_uri() + "#sort=srocc_adv&desc=1&table=by-defence")
    values = [float(v) for v in _column(browser, "srocc_adv", "by-defence")]
    assert values == sorted(values, reverse=True)
    assert browser.evaluate("document.getElementById('by-metric').getAttribute('data-sort-key')") is None


def test_figures_are_inline_and_drawn(browser: DevTools, page: Path) -> None:
    browser.open(page.as_uri())
    browser.evaluate("Promise.all(Array.from(document.images).map(i => i.decode()))")
    figures = browser.evaluate(
        "Array.from(document.querySelectorAll('figure.plot')).map(f => [f.closest('section').id,"
        " f.querySelector('img').naturalWidth, f.querySelector('img').naturalHeight])"
    )
    sections = [section for section, _, _ in figures]
    assert sections.count("pareto") == 2  # SROCC_adv vs D, Quality vs Gain
    assert sections.count("heatmaps") == 4  # Gain and SROCC_adv x two modes
    assert sections.count("winrates") == 2  # d_defended x (koniq) x two modes
    assert sections.count("bars") == 3
    assert all(width > 100 and height > 100 for _, width, height in figures)


def test_print_layout_hides_filters_and_does_not_cut_tables(browser: DevTools, page: Path, shots: Path) -> None:
    browser.open(page.as_uri())
    browser.call(
        "Emulation.setDeviceMetricsOverride", {"width": 1040, "height": 1400, "deviceScaleFactor": 1, "mobile": False}
    )
    browser.call("Emulation.setEmulatedMedia", {"media": "print"})
    try:
        assert browser.evaluate("getComputedStyle(document.getElementById('filters')).display") == "none"
        cut = browser.evaluate(
            "Array.from(document.querySelectorAll('table')).filter(t => t.offsetParent !== null)"
            ".filter(t => t.getBoundingClientRect().right > document.documentElement.clientWidth + 1)"
            ".map(t => [t.id, t.getBoundingClientRect().right])"
        )
        assert cut == []
        pdf = browser.call("Page.printToPDF", {"landscape": True, "printBackground": False}, timeout=60)["data"]
        (shots / "leaderboard.pdf").write_bytes(base64.b64decode(pdf))
        assert (shots / "leaderboard.pdf").read_bytes().startswith(b"%PDF")
    finally:
        browser.call("Emulation.setEmulatedMedia", {"media": ""})
        browser.call("Emulation.clearDeviceMetricsOverride")


def test_print_css_is_in_the_page(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    print_css = text.split("@media print{", 1)[1].split("</style>", 1)[0]
    assert ".filters" in print_css and "display:none" in print_css
    assert "overflow:visible" in print_css and "thead{display:table-header-group}" in print_css


def test_screenshot_and_dump_dom_apply_the_hash(page: Path, tmp_path: Path, shots: Path) -> None:
    _require_chromium()
    common = [str(CHROMIUM), *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=3000"]
    url = page.as_uri() + "#sort=d&desc=0&table=by-defence&mode=adaptive"
    result = subprocess.run([*common, "--dump-dom", url], capture_output=True, text=True, timeout=90, check=True)
    dom = result.stdout
    assert 'id="by-defence" data-sort-key="d" data-sort-dir="asc"' in dom
    assert "<script>alert(1)</script>" not in dom
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom
    shot = shots / "leaderboard-cli-screenshot.png"
    subprocess.run(
        [*common, "--window-size=1400,1800", f"--screenshot={shot}", url], capture_output=True, timeout=90, check=True
    )
    assert shot.read_bytes().startswith(b"\x89PNG") and shot.stat().st_size > 10_000


RANKED = """(id) => Array.from(document.getElementById(id).tBodies[0].rows).filter(r => !r.hidden).map(r => {
  const cells = Array.from(r.cells);
  const heads = Array.from(document.getElementById(id).tHead.rows[0].cells).map(c => c.getAttribute('data-key'));
  const out = {};
  heads.forEach((k, i) => { out[k] = [cells[i].textContent, cells[i].getAttribute('data-value'),
                                      cells[i].getAttribute('data-unstable')]; });
  return out;
})"""


def test_three_ranked_boards_show_rank_intervals_and_escape_names(browser: DevTools, page: Path, shots: Path) -> None:
    browser.open(page.as_uri())
    ids = browser.evaluate("Array.from(document.querySelectorAll('section.breakdown')).map(s => s.id)")
    assert ids[:3] == ["board-defences-section", "board-metrics-section", "board-attacks-section"]
    toc = browser.evaluate("Array.from(document.querySelectorAll('nav.toc a')).map(a => a.getAttribute('href'))")
    assert {"#board-defences-title", "#board-metrics-title", "#board-attacks-title"} <= set(toc)
    for table in ("board-defences", "board-metrics", "board-attacks"):
        rows = browser.evaluate(f"({RANKED})({json.dumps(table)})")
        assert rows, table
        for row in rows:
            text, value, unstable = row["rank"]
            rank = int(value.split(".")[0])
            assert text.startswith(str(rank))  # "2 (1–3)", "1= (1–2) ↕" for a tie that can flip
            low, high = (int(x) for x in text.split("(")[1].split(")")[0].split("–")) if "–" in text else (rank, rank)
            assert low <= rank <= high
            assert (unstable == "true") == (low != high) == text.endswith("↕")
            composite = float(row["composite"][1])
            lo, hi = (float(x) for x in row["composite"][0].split("(")[1].rstrip(")").split("–"))
            assert lo - 0.005 <= composite <= hi + 0.005  # shown with 2 decimals
    ranked = browser.evaluate(f"({RANKED})('board-defences')")
    shown = {row["defence"][0] for row in ranked}
    assert shown == {"good", SCRIPT_NAME}  # the mode filter shows one mode; names as text, never markup
    order = [row["defence"][0] for row in ranked]
    assert order[0] == "good" and ranked[0]["rank"][0].startswith("1")
    attacks = browser.evaluate("document.getElementById('board-attacks').textContent")
    assert IMG_NAME.split(" ")[0] in attacks  # the hostile attack name, as text
    assert "LPIPS" in attacks and "LPIPS ≤ 0.05" in browser.evaluate("document.body.textContent")  # budget bins
    assert browser.evaluate("window.__xss === undefined")
    for table in ("board-defences", "board-metrics", "board-attacks"):
        browser.evaluate(f"document.getElementById({json.dumps(table)}).scrollIntoView()")
        browser.screenshot(shots / f"{table}.png", height=900)
        assert (shots / f"{table}.png").stat().st_size > 5_000


def test_extra_column_is_rendered_with_its_interval_after_a_filter_change(browser: DevTools, page: Path) -> None:
    browser.open(page.as_uri())
    header = browser.evaluate(
        "Array.from(document.getElementById('leaderboard').tHead.rows[0].cells).map(c => c.textContent)"
    )
    assert any(h.startswith("Subjective " + IMG_NAME) for h in header)  # a hostile label stays text
    for mode in ("adaptive", "non-adaptive"):
        browser.select("mode", mode)  # the script re-renders the rows, the outside column with them
        values = dict(zip(_column(browser, "defence"), _column(browser, "subjective"), strict=True))
        assert values["good"] == "0.75" and values[SCRIPT_NAME] == "-0.75" and values["none"] == ""
        texts = browser.evaluate(
            "Array.from(document.querySelectorAll('#leaderboard td.extra')).map(td => td.textContent)"
        )
        assert "0.75 (0.50–1.00)" in texts and "—" in texts


def test_ranked_board_rows_link_to_their_raw_entries(browser: DevTools, page: Path) -> None:
    browser.open(page.as_uri())
    for table, board in (("board-metrics", "metrics"), ("board-attacks", "attacks"), ("board-defences", "defences")):
        links = browser.evaluate(
            f"Array.from(document.querySelectorAll('#{table} tbody a')).map(a => a.getAttribute('href'))"
        )
        assert links, table
        for href in set(links):
            assert href.startswith("entries/") and ".." not in href
            (entry,) = load_entries(page.parent / href)
            assert entry.get("board", "defences") == board and "ranking" in entry
    attack_links = browser.evaluate("Array.from(document.querySelectorAll('#board-attacks tbody a')).map(a => a.href)")
    assert all(link.startswith("file://") for link in attack_links)  # the hostile attack name is only a slug
