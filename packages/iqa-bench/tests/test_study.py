"""The subjective study without a browser: assignment, the server's validation, concurrency, QC, scores."""

from __future__ import annotations

import csv
import http.client
import json
import random
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _study_fixtures import CONDITIONS, FakeClock, make_study, vote_as

from iqa_bench.cli import main
from iqa_bench.study import (
    QCRule,
    StudyError,
    VoteError,
    VoteStore,
    assess,
    board_column,
    compute_results,
    load_results,
    load_study,
    write_results,
)
from iqa_bench.study.design import STUDY_FILE
from iqa_bench.study.server import StudyServer
from iqa_bench.uncertainty import bradley_terry, resampled_intervals

TRUTH = {"none": -1.0, "a[p1]": 1.0, "b[p2]": 0.0, "c": 0.4}


# ---------------------------------------------------------------------------- design
def test_assignment_spreads_pairs_evenly_and_interleaves_checks(tmp_path: Path) -> None:
    study = make_study(tmp_path, trials=6, checks=2)
    assert len(study.pairs) == 18  # 3 groups x C(4, 2)
    with VoteStore(tmp_path / "votes.sqlite") as store:
        assigned: list[str] = []
        for _ in range(3):
            participant, n = store.create_participant(study.assign)
            assert n == 8
            trials = [store.next_trial(participant)]
            kinds = []
            position = 0
            while trials[-1] is not None:
                _, _, trial = trials[-1]
                kinds.append(trial.kind)
                if trial.kind == "pair":
                    assigned.append(trial.item)
                store.record_vote(participant, position, "left")
                position += 1
                trials.append(store.next_trial(participant))
            assert kinds.count("check") == 2
            assert "check,check" not in ",".join(kinds)
    assert sorted(assigned) == sorted(p.id for p in study.pairs)  # 3 x 6 = every pair exactly once


def test_check_sides_are_random_and_answers_known(tmp_path: Path) -> None:
    study = make_study(tmp_path, trials=2, checks=3)
    rng = random.Random(1)
    sides = []
    for _ in range(40):
        for trial in study.assign({}, rng):
            if trial.kind == "check":
                good = next(c.good for c in study.checks if c.id == trial.item)
                assert (trial.left if trial.correct == "left" else trial.right) == good
                sides.append(trial.correct)
    assert 0.3 < sides.count("left") / len(sides) < 0.7


def test_load_study_names_what_is_broken(tmp_path: Path) -> None:
    with pytest.raises(StudyError, match=r"missing study\.json"):
        load_study(tmp_path)
    make_study(tmp_path)
    raw = json.loads((tmp_path / STUDY_FILE).read_text())
    raw["groups"][0]["versions"]["a[p1]"] = "s000000000bad"
    (tmp_path / STUDY_FILE).write_text(json.dumps(raw))
    with pytest.raises(StudyError, match="group g001 shows unknown stimulus 's000000000bad'"):
        load_study(tmp_path)
    raw["groups"][0]["versions"]["zzz"] = raw["groups"][0]["versions"].pop("a[p1]")
    (tmp_path / STUDY_FILE).write_text(json.dumps(raw))
    with pytest.raises(StudyError, match=r"unknown stimulus|undeclared conditions"):
        load_study(tmp_path)
    (tmp_path / STUDY_FILE).write_text("{not json")
    with pytest.raises(StudyError, match="not valid JSON"):
        load_study(tmp_path)


def test_qc_rule_rejects_nonsense() -> None:
    with pytest.raises(StudyError, match="min_check_accuracy"):
        QCRule(min_check_accuracy=1.5)
    with pytest.raises(StudyError, match="min_seconds"):
        QCRule(min_seconds=-1)


# ---------------------------------------------------------------------------- server
def _request(server: StudyServer, method: str, path: str, body: Any = None, **headers: str) -> tuple[int, Any]:
    host, port = server.httpd.server_address[:2]
    connection = http.client.HTTPConnection(str(host), int(port), timeout=20)
    try:
        data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        send = {"Content-Type": "application/json", **headers} if data is not None else dict(headers)
        connection.request(method, path, body=data, headers=send)
        response = connection.getresponse()
        raw = response.read()
        kind = response.getheader("Content-Type", "")
        return response.status, json.loads(raw) if kind.startswith("application/json") else (raw, response.headers)
    finally:
        connection.close()


@pytest.fixture
def server(tmp_path: Path) -> Any:
    make_study(tmp_path, trials=4, checks=1)
    with StudyServer(tmp_path, port=0) as running:
        yield running


def test_page_is_escaped_self_contained_and_locked_down(server: StudyServer) -> None:
    status, (page, headers) = _request(server, "GET", "/")
    assert status == 200
    text = page.decode()
    assert "toy &lt;b&gt;study&lt;/b&gt;" in text and "<b>study</b>" not in text
    assert "http://" not in text and "https://" not in text  # nothing loaded from outside
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert _request(server, "GET", "/static/study.js")[0] == 200


@pytest.mark.parametrize(
    ("path", "status"),
    [("/stimuli/s000000000001.png", 200), ("/stimuli/s0000000000ff.png", 404), ("/stimuli/../study.json", 404),
     ("/study.json", 404), ("/votes.sqlite", 404)],
)  # fmt: skip
def test_only_the_studys_own_images_are_served(server: StudyServer, path: str, status: int) -> None:
    assert _request(server, "GET", path)[0] == status


def test_every_bad_post_gets_a_clear_4xx(server: StudyServer) -> None:
    status, created = _request(server, "POST", "/api/participants", {})
    assert status == 201 and created["trials"] == 5
    pid = created["participant"]
    cases: list[tuple[str, Any, dict[str, str], int, str]] = [
        ("/api/votes", b"{not json", {}, 400, "malformed JSON"),
        ("/api/votes", b"[1, 2]", {}, 400, "must be a JSON object"),
        ("/api/votes", {"participant": pid}, {"Content-Type": "text/plain"}, 415, "send JSON"),
        ("/api/votes", {"participant": "f" * 16, "position": 0, "choice": "left"}, {}, 404, "unknown participant"),
        ("/api/votes", {"participant": "x'; DROP", "position": 0, "choice": "left"}, {}, 400, "16-hex-digit"),
        ("/api/votes", {"participant": pid, "position": 0, "choice": "up"}, {}, 400, "'left' or 'right'"),
        ("/api/votes", {"participant": pid, "position": "0", "choice": "left"}, {}, 400, "integer"),
        ("/api/votes", {"participant": pid, "position": 0, "choice": "left", "ms": -5}, {}, 400, "milliseconds"),
        ("/api/votes", {"participant": pid, "position": 0, "choice": "left", "x": 1}, {}, 400, "unknown fields"),
        ("/api/votes", {"participant": pid, "position": 99, "choice": "left"}, {}, 404, "no trial 99"),
        ("/api/votes", {"participant": pid, "position": 0, "choice": "left"}, {}, 409, "not been shown"),
        ("/api/next", {"participant": "0" * 16}, {}, 404, "unknown participant"),
        ("/api/nope", {}, {}, 404, "no API"),
        ("/api/votes", b"{" + b" " * 5000 + b"}", {}, 413, "over 4096 bytes"),
    ]
    for path, body, headers, status, message in cases:
        got, answer = _request(server, "POST", path, body, **headers)
        assert (got, message in answer["error"]) == (status, True), (path, body, answer)
    status, trial = _request(server, "POST", "/api/next", {"participant": pid})
    assert status == 200 and trial["position"] == 0 and trial["left"].startswith("/stimuli/s")
    assert _request(server, "POST", "/api/votes", {"participant": pid, "position": 0, "choice": "left"})[0] == 200
    status, answer = _request(server, "POST", "/api/votes", {"participant": pid, "position": 0, "choice": "right"})
    assert status == 409 and "already answered" in answer["error"]
    assert _request(server, "PUT", "/api/votes", {})[0] == 405
    with VoteStore(server.app.folder / "votes.sqlite") as store:
        assert [(v.position, v.choice) for v in store.votes()] == [(0, "left")]  # the replay did not count


def test_concurrent_participants_and_replays(server: StudyServer) -> None:
    errors: list[str] = []

    def participant() -> None:
        status, created = _request(server, "POST", "/api/participants", {})
        pid = created["participant"]
        while True:
            status, trial = _request(server, "POST", "/api/next", {"participant": pid})
            if status != 200:
                errors.append(str(trial))
                return
            if trial["done"]:
                return
            status, answer = _request(server, "POST", "/api/votes", {"participant": pid, "position": trial["position"],
                                                                   "choice": "right", "ms": 900})  # fmt: skip
            if status != 200:
                errors.append(str(answer))

    threads = [threading.Thread(target=participant) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with VoteStore(server.app.folder / "votes.sqlite") as store:
        assert store.counts() == {"participants": 8, "trials": 40, "votes": 40}
    _, created = _request(server, "POST", "/api/participants", {})
    pid = created["participant"]
    _request(server, "POST", "/api/next", {"participant": pid})
    statuses: list[int] = []
    vote = {"participant": pid, "position": 0, "choice": "left"}
    racers = [threading.Thread(target=lambda: statuses.append(_request(server, "POST", "/api/votes", vote)[0]))
              for _ in range(8)]  # fmt: skip
    for thread in racers:
        thread.start()
    for thread in racers:
        thread.join()
    assert sorted(statuses) == [200] + [409] * 7


# ---------------------------------------------------------------------------- QC
def test_quality_control_excludes_failed_checks_and_flags_fast_answers(tmp_path: Path) -> None:
    study = make_study(tmp_path, trials=8, checks=4)
    clock = FakeClock()
    rng = random.Random(0)
    rule = QCRule(min_check_accuracy=0.75, min_seconds=1.0, max_fast_fraction=0.25)
    with VoteStore(tmp_path / "votes.sqlite", clock=clock) as store:
        good = vote_as(store, study, clock, TRUTH, rng=rng)
        careless = vote_as(store, study, clock, TRUTH, check_accuracy=0.0, rng=rng)
        hasty = vote_as(store, study, clock, TRUTH, seconds=0.2, rng=rng)
        votes = store.votes()
    verdicts = assess(votes, rule)
    assert verdicts[good].kept and verdicts[good].accuracy == 1.0 and verdicts[good].fast == 0
    assert not verdicts[careless].kept
    assert verdicts[careless].reasons == ["0 of 4 verification checks right (0% < 75%)"]
    assert not verdicts[hasty].kept and verdicts[hasty].fast == 12
    assert "12 of 12 answers faster than 1 s" in verdicts[hasty].reasons[0]
    lenient = assess(votes, QCRule(min_check_accuracy=0.0, min_seconds=0.1))
    assert all(q.kept for q in lenient.values())
    # one fast answer among twelve: flagged and dropped, the participant stays
    mine = [v for v in votes if v.participant == good]
    one_fast = [replace(mine[0], seconds=0.1), *mine[1:]]
    verdict = assess(one_fast, rule)[good]
    assert verdict.kept and verdict.fast == 1


def test_a_participant_without_checks_is_excluded(tmp_path: Path) -> None:
    study = make_study(tmp_path, trials=4, checks=1)
    clock = FakeClock()
    with VoteStore(tmp_path / "votes.sqlite", clock=clock) as store:
        pid = vote_as(store, study, clock, TRUTH, rng=random.Random(0))
        only_pairs = [v for v in store.votes() if v.kind == "pair"]
    assert assess(only_pairs, QCRule())[pid].reasons == ["answered no verification check"]


# ---------------------------------------------------------------------------- scores
@pytest.fixture(scope="module")
def crowd(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any, list[Any]]:
    """30 honest participants voting by :data:`TRUTH`, 6 who fail the checks and vote the reverse."""
    folder = tmp_path_factory.mktemp("crowd")
    study = make_study(folder, trials=12, checks=3)
    clock = FakeClock()
    rng = random.Random(7)
    reverse = {k: -v for k, v in TRUTH.items()}
    with VoteStore(folder / "votes.sqlite", clock=clock) as store:
        for k in range(36):
            if k % 6 == 5:
                vote_as(store, study, clock, reverse, check_accuracy=0.0, rng=rng)
            else:
                vote_as(store, study, clock, TRUTH, rng=rng)
        votes = store.votes()
    return folder, study, votes


def test_bradley_terry_recovers_the_ranking_with_intervals(crowd: tuple[Path, Any, list[Any]]) -> None:
    _folder, study, votes = crowd
    results = compute_results(study, votes, n_resamples=300)
    assert results.resample == "participants"
    data = results.to_dict()
    assert (data["participants_total"], data["participants_kept"], data["votes_counted"]) == (36, 30, 360)
    scores = {r["condition"]: r for r in data["conditions"]}
    order = sorted(TRUTH, key=TRUTH.get, reverse=True)
    assert sorted(scores, key=lambda c: -scores[c]["bt_score"]) == order
    for row in scores.values():
        assert row["bt_low"] < row["bt_score"] < row["bt_high"]
    assert scores["a[p1]"]["rank"] == 1 and scores["none"]["rank"] == 4
    assert scores["a[p1]"]["bt_low"] > scores["b[p2]"]["bt_high"]  # 2 log-units apart: separated
    # the estimate is bradley_terry of the kept votes' win matrix
    index = {name: k for k, name in enumerate(CONDITIONS)}
    condition_of = {sid: name for g in study.groups for name, sid in g.versions.items()}
    kept = {q["participant"] for q in data["participants"] if q["kept"]}
    wins = np.zeros((4, 4))
    for vote in votes:
        if vote.kind == "pair" and vote.participant in kept:
            wins[index[condition_of[vote.chosen]], index[condition_of[vote.other]]] += 1
    assert [scores[c]["bt_score"] for c in CONDITIONS] == pytest.approx(list(bradley_terry(wins)))
    with_cheats = compute_results(study, votes, rule=QCRule(min_check_accuracy=0.0), n_resamples=50).to_dict()
    assert with_cheats["participants_kept"] == 36
    cheat_scores = {r["condition"]: r["bt_score"] for r in with_cheats["conditions"]}
    assert cheat_scores["a[p1]"] - cheat_scores["none"] < scores["a[p1]"]["bt_score"] - scores["none"]["bt_score"]


def test_resampling_votes_and_reproducibility(crowd: tuple[Path, Any, list[Any]]) -> None:
    _, study, votes = crowd
    first = compute_results(study, votes, resample="votes", n_resamples=200, seed=3).to_dict()
    again = compute_results(study, votes, resample="votes", n_resamples=200, seed=3).to_dict()
    assert first == again and first["resample"] == "votes"
    few = [v for v in votes if v.participant in sorted({v.participant for v in votes})[:3]]
    assert compute_results(study, few, n_resamples=20).resample == "votes"  # auto: too few participants
    with pytest.raises(StudyError, match="no votes to score"):
        compute_results(study, [v for v in votes if v.kind == "check"])


def test_results_files_and_the_board_column(crowd: tuple[Path, Any, list[Any]], tmp_path: Path) -> None:
    _folder, study, votes = crowd
    with pytest.raises(StudyError, match="run `iqa-bench study results"):
        load_results(tmp_path)
    paths = write_results(compute_results(study, votes, n_resamples=100), tmp_path)
    assert [p.name for p in paths] == ["subjective.json", "subjective.csv", "participants.csv"]
    with paths[2].open() as handle:
        participants = list(csv.DictReader(handle))
    assert sum(p["kept"] == "False" for p in participants) == 6
    column = board_column(load_results(tmp_path))
    assert column.key == "subjective" and column.higher_is_better is True
    assert set(column.values) == {"none", "a", "b", "c"}
    assert column.values["a"].low <= column.values["a"].estimate <= column.values["a"].high
    assert "300 pairwise votes" not in column.description and "30 participants" in column.description


def test_resampled_intervals() -> None:
    samples = np.stack([np.arange(101.0), -np.arange(101.0)], axis=1)
    low, high = resampled_intervals([50.0, -50.0], samples, confidence=0.9)
    assert (low.estimate, low.low, low.high) == pytest.approx((50.0, 5.0, 95.0))
    assert (high.low, high.high) == pytest.approx((-95.0, -5.0))
    with pytest.raises(ValueError, match=r"resampled must be \(B, 2\)"):
        resampled_intervals([1.0, 2.0], np.zeros((5, 3)))


# ---------------------------------------------------------------------------- command line
def test_cli_results_and_report_errors_say_what_to_do(crowd: tuple[Path, Any, list[Any]], tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    make_study(tmp_path / "fresh")
    assert main(["study", "results", str(tmp_path / "fresh")]) == 2
    assert "no votes yet" in capsys.readouterr().err
    folder, _, _ = crowd
    assert main(["study", "results", str(folder), "--resamples", "50"]) == 0
    out = capsys.readouterr()
    assert "subjective.json" in out.out and "30 of 36 participants kept" in out.err
    assert main(["study", "serve", str(tmp_path / "nothing")]) == 2
    assert "make one with `iqa-bench study prepare`" in capsys.readouterr().err


def test_vote_errors_carry_their_status() -> None:
    assert VoteError("x", 409).status == 409


@pytest.mark.parametrize("kind", ["blur", "noise"])
def test_check_degradations_are_unmistakable(kind: str) -> None:
    import torch

    from iqa_bench.study.stimuli import degrade

    y, x = torch.meshgrid(torch.linspace(0, 1, 48), torch.linspace(0, 1, 64), indexing="ij")
    image = torch.stack([x, y, (torch.sin(x * 40) * torch.cos(y * 30) + 1) / 2])
    bad = degrade(image, kind, seed=0)
    assert bad.shape == image.shape and float(bad.min()) >= 0 and float(bad.max()) <= 1
    psnr = 10 * torch.log10(1 / torch.mean((bad - image) ** 2))
    assert psnr < 20  # heavy: far below the 30-40 dB of the defences studied
    with pytest.raises(ValueError, match="unknown degradation"):
        degrade(image, "sharpen", seed=0)


def test_a_condition_without_votes_has_no_score(crowd: tuple[Path, Any, list[Any]], tmp_path: Path) -> None:
    _, study, votes = crowd
    c_stimuli = {g.versions["c"] for g in study.groups}
    without_c = [v for v in votes if v.left not in c_stimuli and v.right not in c_stimuli]
    data = compute_results(study, without_c, n_resamples=50).to_dict()
    row = next(r for r in data["conditions"] if r["condition"] == "c")
    assert (row["bt_score"], row["bt_low"], row["votes"]) == (None, None, 0)
    write_results(compute_results(study, without_c, n_resamples=50), tmp_path)
    column = board_column(load_results(tmp_path))
    assert "c" not in column.values and set(column.values) == {"none", "a", "b"}
