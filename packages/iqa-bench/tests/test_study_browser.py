"""The subjective study end to end: a toy run, ``study prepare``, a scripted participant in headless
Chromium (buttons and arrow keys), ``study results`` and the subjective column on the HTML board.

Chromium is driven by _browser.py (DevTools over pipes). Screenshots go to
``$IQA_TEST_SCREENSHOTS`` when set, else to a pytest temporary folder (printed with ``pytest -s``).
"""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from _browser import DevTools, _require_chromium
from _grids import run_grid, toy_grid
from PIL import Image

from iqa_bench.cli import main
from iqa_bench.config import parse_config
from iqa_bench.store import ResultStore
from iqa_bench.study import VoteStore, load_study
from iqa_bench.study.server import StudyServer

PREFERENCE = ("toy-quantize", "none", "toy-blur[k3]", "toy-blur[k5]")
"""The scripted participant's taste, best first: the scores must come out in this order."""


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished toy run (both modes, one attack preset, 4 textured 48x64 images); its config path."""
    from _toy_plugins import register_toys

    register_toys()
    tmp = tmp_path_factory.mktemp("study-run")
    folder = tmp / "images"
    folder.mkdir()
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:48, 0:64]
    lines = ["name,mos"]
    for i in range(4):
        base = np.stack([(x * 4 + 20 * i) % 256, (y * 5) % 256, ((x + y) * 2 + 40 * i) % 256], -1)
        image = np.clip(base + rng.integers(0, 30, base.shape), 0, 255).astype(np.uint8)
        Image.fromarray(image).save(folder / f"img{i}.png")
        lines.append(f"img{i}.png,{10 + i}")
    (folder / "mos.csv").write_text("\n".join(lines) + "\n")
    raw = toy_grid(tmp, folder, attacks=[{"name": "toy-sign", "presets": ["strong"]}])
    path = tmp / "run.yaml"
    path.write_text(yaml.safe_dump(raw))
    run_grid(parse_config(raw))
    return path


def test_prepare_refuses_what_it_cannot_do(run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["study", "prepare", str(run), "--out", str(tmp_path / "s"), "--attack", "nope"]) == 2
    assert "attack 'nope' is not in the run's config" in capsys.readouterr().err
    assert main(["study", "prepare", str(run), "--out", str(tmp_path / "s"), "--metric", "nope"]) == 2
    assert "metric 'nope' is not in the run's config" in capsys.readouterr().err
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "votes.sqlite").write_bytes(b"")
    assert main(["study", "prepare", str(run), "--out", str(tmp_path / "taken")]) == 2
    assert "already holds a study" in capsys.readouterr().err
    raw = yaml.safe_load(run.read_text())
    raw["store"] = str(tmp_path / "missing" / "results.sqlite")
    (tmp_path / "other.yaml").write_text(yaml.safe_dump(raw))
    assert main(["study", "prepare", str(tmp_path / "other.yaml"), "--out", str(tmp_path / "s")]) == 2
    assert "run `iqa-bench run" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("mode", "conditions", "column"),
    [
        ("adaptive", ["none", "toy-blur[k3]", "toy-quantize"], "score_purified_attacked"),
        ("clean", ["toy-blur[k3]", "toy-quantize"], "score_purified_clean"),
    ],
)
def test_prepare_adaptive_and_clean_studies_match_the_stored_scores(
    run: Path, tmp_path: Path, mode: str, conditions: list[str], column: str
) -> None:
    assert main(["study", "prepare", str(run), "--out", str(tmp_path / mode), "--images", "2", "--mode", mode]) == 0
    study = load_study(tmp_path / mode)
    assert [c.id for c in study.conditions] == conditions and study.mode == mode
    assert study.source["score_mismatches"] == 0 and study.source["attacked_again"] == 0
    for group in study.groups:
        assert set(group.versions) == set(conditions)
        for scores in group.scores.values():
            assert scores["stored"] == pytest.approx(scores["recomputed"], rel=1e-3)
    assert len(study.pairs) == 2 * len(conditions) * (len(conditions) - 1) // 2
    assert study.board_presets == {"toy-blur": "k3", "toy-quantize": "none"}
    with ResultStore(parse_config(yaml.safe_load(run.read_text())).store_path) as store:
        group = study.groups[0]
        (row,) = store.results(image=group.image, defence="toy-blur", defence_preset="k3", mode="non-adaptive"
                               if mode == "clean" else mode, attack=group.attack)  # fmt: skip
    assert group.scores["toy-blur[k3]"]["stored"] == row[column]


def _wait(browser: DevTools, expression: str, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = browser.evaluate(expression)
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"page never satisfied {expression}")
        time.sleep(0.02)


def _press(browser: DevTools, key: str) -> None:
    code = {"ArrowLeft": 37, "ArrowRight": 39}[key]
    for kind in ("keyDown", "keyUp"):
        browser.call("Input.dispatchKeyEvent", {"type": kind, "key": key, "code": key, "windowsVirtualKeyCode": code})


def test_a_participant_votes_in_chromium_and_the_scores_reach_the_board(
    run: Path, tmp_path: Path, shots: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _require_chromium()
    study_dir = tmp_path / "study"
    argv = ["study", "prepare", str(run), "--out", str(study_dir), "--images", "3", "--presets", "all"]
    assert main([*argv, "--min-seconds", "0", "--checks", "4"]) == 0
    study = load_study(study_dir)
    assert [c.id for c in study.conditions] == ["none", "toy-blur[k3]", "toy-blur[k5]", "toy-quantize"]
    assert study.source["score_mismatches"] == 0 and study.source["attacked_again"] == 0
    assert study.trials_per_participant == len(study.pairs) == 18
    condition_of = {sid: name for g in study.groups for name, sid in g.versions.items()}
    rank = {name: k for k, name in enumerate(PREFERENCE)}
    capsys.readouterr()

    with StudyServer(study_dir, port=0) as server:
        browser = DevTools(tmp_path / "profile")
        try:
            browser.open(server.url)
            assert browser.evaluate("document.title") == study.name
            browser.screenshot(shots / "study-intro.png", 1200, 900)
            browser.click("#start")
            answered = {"pair": 0, "check": 0}
            for step in range(study.trials_per_participant + study.checks_per_participant):
                _wait(browser, f"document.body.getAttribute('data-position') === '{step}' && "
                               "!document.getElementById('vote-left').disabled")  # fmt: skip
                src = browser.evaluate(
                    "['reference', 'left', 'right'].map(k => document.getElementById('img-' + k).getAttribute('src'))"
                )
                reference, left, right = (s.removeprefix("/stimuli/").removesuffix(".png") for s in src)
                if left == reference or right == reference:  # a check: the untouched copy is the answer
                    choice = "left" if left == reference else "right"
                    answered["check"] += 1
                    if answered["check"] == 1:
                        browser.screenshot(shots / "study-check.png", 1200, 900)
                else:
                    choice = "left" if rank[condition_of[left]] < rank[condition_of[right]] else "right"
                    answered["pair"] += 1
                    if answered["pair"] == 1:
                        browser.screenshot(shots / "study-trial.png", 1200, 900)
                if step % 2:
                    _press(browser, "ArrowLeft" if choice == "left" else "ArrowRight")
                else:
                    browser.click(f"#vote-{choice}")
            _wait(browser, "document.body.getAttribute('data-state') === 'done'")
            code = browser.evaluate("document.getElementById('participant-code').textContent")
            assert browser.evaluate("document.getElementById('error').hidden")
            browser.screenshot(shots / "study-done.png", 1200, 600)
        finally:
            browser.close()
    assert answered == {"pair": 18, "check": 4}

    with VoteStore(study_dir / "votes.sqlite") as store:
        votes = store.votes()
    assert len(votes) == 22 and {v.participant for v in votes} == {code}
    assert all(v.right_answer for v in votes if v.kind == "check")

    assert main(["study", "results", str(study_dir), "--resamples", "200"]) == 0
    data = json.loads((study_dir / "results" / "subjective.json").read_text())
    assert data["participants_kept"] == 1 and data["votes_counted"] == 18 and data["resample"] == "votes"
    scores = {row["condition"]: row["bt_score"] for row in data["conditions"]}
    assert sorted(scores, key=lambda c: -scores[c]) == list(PREFERENCE)

    report = tmp_path / "report"
    assert main(["report", str(run), "--out", str(report), "--study", str(study_dir)]) == 0
    with (report / "leaderboard.json").open() as handle:
        entries = {e["method"]: e for e in json.load(handle)}
    on_board = {r["defence"]: r for r in data["conditions"] if r["on_board"]}
    for defence, row in on_board.items():
        assert entries[defence]["extra"]["subjective"]["estimate"] == pytest.approx(row["bt_score"])

    browser = DevTools(tmp_path / "profile-board")
    try:
        browser.open((report / "leaderboard.html").as_uri())
        shown = browser.evaluate(
            "(() => { const t = document.getElementById('leaderboard');"
            " const i = Array.from(t.tHead.rows[0].cells).findIndex(c => c.getAttribute('data-key') === 'subjective');"
            " return Array.from(t.tBodies[0].rows).map(r => [r.getAttribute('data-defence'), r.cells[i].textContent,"
            " r.cells[i].getAttribute('data-value')]); })()"
        )
        header = browser.evaluate("document.querySelector('#leaderboard th[data-key=subjective]').textContent")
        assert "Subjective quality" in header
        values = {defence: (text, float(value)) for defence, text, value in shown}
        assert set(values) == set(on_board)
        for defence, (text, value) in values.items():
            assert value == pytest.approx(on_board[defence]["bt_score"])
            assert text.startswith(f"{on_board[defence]['bt_score']:.2f} (")
        browser.call("Emulation.setDeviceMetricsOverride", {"width": 1400, "height": 900, "deviceScaleFactor": 1,
                                                           "mobile": False})  # fmt: skip
        browser.evaluate("document.querySelector('#leaderboard th[data-key=subjective]')"
                         ".scrollIntoView({block: 'start', inline: 'center'})")  # fmt: skip
        browser.screenshot(shots / "study-leaderboard.png", 1400, 900)
    finally:
        browser.close()
    with (study_dir / "results" / "subjective.csv").open() as handle:
        assert len(list(csv.DictReader(handle))) == 4
