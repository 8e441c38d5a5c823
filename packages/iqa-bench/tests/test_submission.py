"""``iqa-bench submit`` / ``verify`` on the toy grid: a submission verifies, tampering is caught."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml
from _grids import run_grid, toy_grid

from iqa_bench.cli import main
from iqa_bench.config import parse_config
from iqa_bench.report import build_report
from iqa_bench.store import ResultStore
from iqa_bench.submission import (
    SubmissionError,
    SubmissionRejected,
    build_submission,
    check_envelope,
    read_envelope,
    seal,
    verify_submission,
    write_submission,
)
from iqa_bench.submission.provenance import dataset_record, opened_files, state_sha256
from iqa_bench.submission.submit import rows_of
from iqa_bench.submission.verify import Tolerance, choose_tolerance, compare_rows, format_report


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory):
    """A finished toy run (folder dataset with one corrupt image) and its submission."""
    from _toy_plugins import register_toys

    register_toys()
    tmp = tmp_path_factory.mktemp("submission")
    folder = _image_folder(tmp)
    config = parse_config(toy_grid(tmp, folder, attacks=[{"name": "toy-sign", "presets": ["weak"]}]))
    run_grid(config)
    envelope = build_submission(config)
    return tmp, config, envelope


def _image_folder(tmp: Path) -> Path:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    folder = tmp / "images"
    folder.mkdir()
    lines = ["name,mos"]
    for i in range(6):
        name = f"img{i:02d}.png"
        if i == 3:
            (folder / name).write_bytes(b"not a png")
        else:
            base = np.full((24, 32, 3), 40 + 15 * i, dtype=np.uint8)
            noise = rng.integers(0, 20, size=base.shape, dtype=np.uint8)
            Image.fromarray(np.clip(base.astype(int) + noise, 0, 255).astype(np.uint8)).save(folder / name)
        lines.append(f"{name},{10 + 3 * i}")
    (folder / "mos.csv").write_text("\n".join(lines) + "\n")
    return folder


def _cell(envelope, kind, defence=None):
    for index, cell in enumerate(envelope["cells"]):
        if cell["unit"][0] == kind and (defence is None or cell["unit"][6] == defence):
            return index, cell
    raise AssertionError(f"no {kind} cell")


def test_submission_holds_provenance_cells_and_the_reports_leaderboard(toy_run):
    _, config, envelope = toy_run
    assert check_envelope(envelope) is envelope  # schema, entries and hash hold
    assert envelope["config_fingerprint"] == config.fingerprint()
    assert envelope["config"]["datasets"][0]["root"] == "images"  # relative to the data root: no host path
    assert "store" not in envelope["config"] and "device" not in envelope["config"]
    provenance = envelope["provenance"]
    assert provenance["packages"]["iqa-bench"] and provenance["packages"]["torch"]
    weights = {(w["kind"], w["name"], w["preset"]): w for w in provenance["weights"]}
    assert weights[("metric", "toy-metric", None)]["state_sha256"]  # ToyMetric holds a buffer
    assert weights[("attack", "toy-sign", "weak")]["state_sha256"] is None
    assert "no weights" in weights[("attack", "toy-sign", "weak")]["note"]
    assert provenance["datasets"]["toy"]["images"] == 6 and provenance["datasets"]["toy"]["basis"] == "files"
    assert provenance["device"]["type"] == "cpu"
    # every unit of the run is a cell; the leaderboard is what the report builds from the same rows
    with ResultStore(config.store_path) as store:
        assert len(envelope["cells"]) == store.counts()["units"]
        stored_rows = list(store.results())
        bounds, directions = store.bounds(), store.directions()
    results, _ = rows_of(envelope["cells"])
    assert sorted(map(str, results)) == sorted(map(str, stored_rows))
    assert envelope["leaderboard"] == build_report(stored_rows, [], bounds, directions=directions).entries


def test_submit_then_verify_agrees_on_every_cell(toy_run):
    tmp, _, envelope = toy_run
    path = write_submission(envelope, tmp / "entry.json")
    loaded = check_envelope(read_envelope(path))
    report = verify_submission(loaded, sample=len(envelope["cells"]), seed=3, data_root=tmp)
    assert report.ok, format_report(report)
    assert len(report.cells) == len(envelope["cells"]) and all(c.agree for c in report.cells)
    assert report.tolerance.exact  # both sides on the CPU
    assert all(c.compared > 0 and c.fingerprint_matches for c in report.cells)
    assert not report.errors


def test_a_tampered_number_fails_verify_naming_the_cell(toy_run):
    tmp, _, envelope = toy_run
    tampered = copy.deepcopy(envelope)
    _, cell = _cell(tampered, "adaptive", "toy-blur")
    column = tampered["columns"]["results"].index("score_purified_attacked")
    row = next(r for r in cell["results"] if r[column] is not None)
    row[column] += 0.5
    seal(tampered)  # a forger recomputes the content hash: only re-running catches it
    report = verify_submission(check_envelope(tampered), sample=len(tampered["cells"]), seed=0, data_root=tmp)
    assert not report.ok
    bad = [c for c in report.cells if not c.agree]
    assert [c.unit for c in bad] == [cell["unit"]]
    assert bad[0].label.startswith("adaptive toy/toy-metric chunk")
    assert any("score_purified_attacked" in p and row[1] in p for p in bad[0].problems)
    text = format_report(report)
    assert f"{bad[0].label}: DISAGREES" in text and "NOT VERIFIED" in text
    # the changed row also changes what the leaderboard should be
    assert any("leaderboard" in e for e in report.errors)


def test_a_tampered_leaderboard_is_an_error_even_when_cells_agree(toy_run):
    tmp, _, envelope = toy_run
    tampered = copy.deepcopy(envelope)
    tampered["leaderboard"][0]["results"]["non-adaptive"]["scores"]["r"] = 0.123
    tampered["tool"]["version"] = "0.0.1"
    seal(tampered)
    report = verify_submission(check_envelope(tampered), sample=2, seed=0, data_root=tmp)
    assert all(c.agree for c in report.cells) and not report.ok
    (error,) = [e for e in report.errors if "leaderboard" in e]
    assert ".scores.r: 0.123 vs" in error and "written by iqa-bench 0.0.1" in error


def test_forged_bounds_with_a_rebuilt_leaderboard_are_an_error(toy_run):
    """Bounds scale D and R: a forger who changes them and rebuilds the leaderboard is caught by the bounds check."""
    from iqa_bench.submission.submit import leaderboard

    tmp, _, envelope = toy_run
    forged = copy.deepcopy(envelope)
    forged["bounds"]["toy-metric"]["upper"] *= 10
    forged["leaderboard"] = leaderboard(forged["cells"], forged["bounds"])
    assert forged["leaderboard"] != envelope["leaderboard"]
    report = verify_submission(check_envelope(seal(forged)), sample=1, seed=0, data_root=tmp)
    assert all(c.agree for c in report.cells) and not report.ok
    assert [e for e in report.errors if e.startswith("bounds of toy-metric")]
    assert not [e for e in report.errors if "leaderboard" in e]  # consistent with its (forged) bounds


def test_a_tampered_hash_is_rejected(toy_run):
    _, _, envelope = toy_run
    tampered = copy.deepcopy(envelope)
    _, cell = _cell(tampered, "clean")
    cell["results"][0][9] = 99.0  # a score changed, the hash left as it was
    with pytest.raises(SubmissionRejected, match=r"content_sha256 .* the file was changed"):
        check_envelope(tampered)
    tampered = copy.deepcopy(envelope)
    tampered["content_sha256"] = "0" * 64
    with pytest.raises(SubmissionRejected, match="content_sha256"):
        check_envelope(tampered)


def test_provenance_mismatches_are_reported(toy_run):
    tmp, _, envelope = toy_run
    changed = copy.deepcopy(envelope)
    changed["provenance"]["packages"]["iqa-bench"] = "0.0.1"
    weights = next(w for w in changed["provenance"]["weights"] if w["kind"] == "metric")
    weights["state_sha256"] = "a" * 64
    changed["provenance"]["datasets"]["toy"]["sha256"] = "b" * 64
    seal(changed)
    report = verify_submission(check_envelope(changed), sample=1, seed=0, data_root=tmp)
    assert all(c.agree for c in report.cells) and not report.ok
    assert any("weights of metric toy-metric differ" in e for e in report.errors)
    assert any("dataset toy: sha256 differs" in e for e in report.errors)
    assert any("package iqa-bench" in w and "0.0.1" in w for w in report.warnings)
    # a package version alone is a warning: the cells decide
    only_version = copy.deepcopy(envelope)
    only_version["provenance"]["packages"]["iqa-bench"] = "0.0.1"
    report = verify_submission(check_envelope(seal(only_version)), sample=1, seed=0, data_root=tmp)
    assert report.ok and report.warnings


def test_a_changed_image_changes_the_manifest(tmp_path):
    folder = _image_folder(tmp_path)
    from iqa_bench.config import DatasetConfig

    dataset = DatasetConfig("toy", "folder", str(folder), "mos.csv")
    before = dataset_record(dataset, 0)
    (folder / "img00.png").write_bytes((folder / "img01.png").read_bytes())
    after = dataset_record(dataset, 0)
    assert before["sha256"] != after["sha256"] and before["mos_sha256"] == after["mos_sha256"]


def test_weight_files_opened_while_building_are_hashed(tmp_path):
    import torch

    weights = tmp_path / "net.pt"
    torch.save({"w": torch.ones(2)}, weights)
    with opened_files() as paths:
        torch.load(weights, weights_only=True)
    assert str(weights) in paths
    digest, count = state_sha256(torch.nn.Linear(2, 1))
    assert count == 2 and len(digest or "") == 64
    assert state_sha256(object()) == (None, 0)


def test_tolerances():
    assert choose_tolerance("cpu", "cpu", None, None).exact
    assert choose_tolerance("cuda", "cpu", None, None) == Tolerance(1e-3, 1e-6)
    assert choose_tolerance("cpu", "cpu", 1e-2, None) == Tolerance(1e-2, 1e-6)
    loose, exact = Tolerance(1e-3, 0.0), Tolerance(0.0, 0.0)
    assert loose.agree(100.0, 100.05) and not loose.agree(100.0, 100.2) and not exact.agree(1.0, 1.0 + 1e-15)
    assert not loose.agree(None, 0.0) and loose.agree(None, None)
    columns, key = ("image", "status", "v"), ("image",)
    problems, _ = compare_rows([["a", "done", 1.0]], [["a", "failed", None]], columns, key, ("v",), exact)
    assert problems == ["image a: status 'done' in the entry, 'failed' here"]
    problems, _ = compare_rows([["a", "done", 1.0]], [["b", "done", 1.0]], columns, key, ("v",), exact)
    assert len(problems) == 2 and "not recomputed here" in problems[0]


def test_submit_refuses_an_unfinished_or_changed_run(tmp_path, toy_plugins):
    folder = _image_folder(tmp_path)
    raw = toy_grid(tmp_path, folder, attacks=[], mode="non-adaptive", defences=[{"name": "toy-quantize"}])
    config = parse_config(raw)
    with pytest.raises(SubmissionError, match="no result store"):
        build_submission(config)
    run_grid(config)
    changed = parse_config({**raw, "seed": 5})
    with pytest.raises(SubmissionError, match="another configuration"):
        build_submission(changed)


def test_cli_submit_and_verify(toy_run, capsys):
    tmp, config, _ = toy_run
    config_file = tmp / "toy.yaml"
    raw = toy_grid(tmp, tmp / "images", attacks=[{"name": "toy-sign", "presets": ["weak"]}])
    config_file.write_text(yaml.safe_dump(raw))
    out = tmp / "cli-entry.json"
    assert main(["submit", str(config_file), "--out", str(out)]) == 0
    assert "cells" in capsys.readouterr().out
    # the store with --config names the same run
    assert main(["submit", str(config.store_path), "--config", str(config_file), "--out", str(tmp / "b.json")]) == 0
    assert main(["submit", str(config.store_path), "--out", str(tmp / "c.json")]) == 2
    assert "--config" in capsys.readouterr().err

    report, board = tmp / "verify.json", tmp / "board"
    argv = ["verify", str(out), "--sample", "4", "--seed", "1", "--data-root", str(tmp)]
    assert main([*argv, "--json", str(report), "--board", str(board)]) == 0
    printed = capsys.readouterr().out
    assert "VERIFIED: 4 of 4 sampled cells agree" in printed and "tolerance exact" in printed
    assert json.loads(report.read_text())["ok"] is True
    page = (board / "leaderboard.html").read_text()
    assert "verified: 4 of 4 re-run cells agree" in page and "toy-blur" in page
    assert (board / "entries" / "toy-blur.json").is_file()

    entry = json.loads(out.read_text())
    _, cell = _cell(entry, "clean")
    cell["results"][0][9] = (cell["results"][0][9] or 0.0) + 1.0
    out.write_text(json.dumps(entry))
    assert main(["verify", str(out), "--data-root", str(tmp)]) == 2  # rejected: the hash no longer matches
    assert "content_sha256" in capsys.readouterr().err
    out.write_text(json.dumps(seal(entry)))
    every = str(len(entry["cells"]))
    assert main(["verify", str(out), "--sample", every, "--seed", "0", "--data-root", str(tmp)]) == 1
    printed = capsys.readouterr().out
    assert "clean toy/toy-metric chunk 0: DISAGREES" in printed and "NOT VERIFIED" in printed
    assert main(["verify", str(out), "--rtol", "-1"]) == 2


def test_the_verified_submission_renders_in_the_browser(toy_run, tmp_path):
    """The board of a verified submission in headless Chromium: the verdict in the heading, a hostile
    run name escaped, the entries linked; a screenshot lands in $IQA_TEST_SCREENSHOTS (or a temporary folder)."""
    import os
    import subprocess

    from _browser import CHROMIUM, FLAGS, _require_chromium

    from iqa_bench.submission import write_board

    data_root, _, envelope = toy_run
    hostile = copy.deepcopy(envelope)
    hostile["config"]["name"] = "<script>alert(1)</script>"
    seal(hostile)
    report = verify_submission(check_envelope(hostile), sample=2, seed=0, data_root=data_root)
    assert report.ok
    page = write_board(hostile, report, tmp_path / "board")[0]
    _require_chromium()
    common = [str(CHROMIUM), *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=3000"]
    dom = subprocess.run(
        [*common, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=90, check=True
    ).stdout
    heading = dom.split("<h1>", 1)[1].split("</h1>", 1)[0]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in heading and "<script>alert(1)" not in dom
    assert "verified: 2 of 2 re-run cells agree (exact)" in heading
    assert 'href="entries/toy-blur.json"' in dom
    shots = Path(os.environ.get("IQA_TEST_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    shot = shots / "submission-board.png"
    subprocess.run(
        [*common, "--window-size=1400,1400", f"--screenshot={shot}", page.as_uri()],
        capture_output=True,
        timeout=90,
        check=True,
    )
    print(f"screenshot of the verified submission's board: {shot}")
    assert shot.read_bytes().startswith(b"\x89PNG") and shot.stat().st_size > 10_000
