"""A study's votes -> Bradley-Terry scores per condition with bootstrap intervals, and the board column.

The kept pair votes (:func:`iqa_bench.study.qc.kept_pair_votes`) are pooled over the groups into
one win matrix of the conditions; :func:`iqa_bench.uncertainty.bradley_terry` gives each
condition's log-strength (mean 0: a condition at +1 beats one at 0 with probability 0.73). The
interval resamples the independent units with replacement: participants when enough were kept
(their votes are correlated), else single votes; both ways use
:func:`iqa_bench.uncertainty.bootstrap_indices` with a fixed seed, so results are reproducible.
"""

from __future__ import annotations

import csv
import json
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..uncertainty import (
    DEFAULT_CONFIDENCE,
    DEFAULT_RESAMPLES,
    Interval,
    bootstrap_indices,
    bradley_terry,
    rank_intervals,
    resampled_intervals,
)
from .design import RESULTS_DIR, QCRule, Study, StudyError
from .qc import assess, kept_pair_votes
from .store import Vote

RESULTS_FILE = "subjective.json"
MIN_PARTICIPANTS_TO_RESAMPLE = 5
"""``resample="auto"`` resamples participants from this many kept participants on, else votes."""

COLUMN_KEY = "subjective"
COLUMN_LABEL = "Subjective quality"


@dataclass
class StudyResults:
    conditions: list[str]
    scores: list[Interval]
    ranks: list[dict[str, Any]]
    votes: list[int]
    wins: list[float]
    participants: list[dict[str, Any]]
    resample: str
    n_resamples: int
    qc: QCRule
    board_presets: dict[str, str] = field(default_factory=dict)
    defences: dict[str, tuple[str, str]] = field(default_factory=dict)
    """``{condition: (defence, preset)}``."""

    def rows(self) -> list[dict[str, Any]]:
        out = []
        for k, name in enumerate(self.conditions):
            defence, preset = self.defences.get(name, (name, ""))
            score = self.scores[k]
            out.append(
                {
                    "condition": name,
                    "defence": defence,
                    "preset": preset,
                    "bt_score": _num(score.estimate),
                    "bt_low": _num(score.low),
                    "bt_high": _num(score.high),
                    "rank": self.ranks[k]["rank"],
                    "rank_low": self.ranks[k]["low"],
                    "rank_high": self.ranks[k]["high"],
                    "votes": self.votes[k],
                    "wins": self.wins[k],
                    "win_rate": _num(self.wins[k] / self.votes[k]) if self.votes[k] else None,
                    "on_board": self.board_presets.get(defence) == preset or defence == "none",
                }
            )
        return out

    def to_dict(self) -> dict[str, Any]:
        kept = [p for p in self.participants if p["kept"]]
        return {
            "score": "Bradley-Terry log-strength (mean 0 over conditions); P(a beats b) = 1 / (1 + exp(b - a))",
            "confidence": self.scores[0].confidence if self.scores else DEFAULT_CONFIDENCE,
            "resample": self.resample,
            "n_resamples": self.n_resamples,
            "qc": self.qc.__dict__,
            "participants_total": len(self.participants),
            "participants_kept": len(kept),
            "votes_counted": int(sum(self.votes) // 2),
            "board_presets": self.board_presets,
            "conditions": self.rows(),
            "participants": self.participants,
        }


def _num(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def compute_results(
    study: Study,
    votes: Sequence[Vote],
    *,
    rule: QCRule | None = None,
    resample: str = "auto",
    n_resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = 0,
) -> StudyResults:
    """Scores of every condition of ``study`` from ``votes`` (QC by ``rule``, default the study's)."""
    rule = rule or study.qc
    if resample not in ("auto", "participants", "votes"):
        raise StudyError(f"resample must be auto, participants or votes, got {resample!r}")
    verdicts = assess(votes, rule)
    counted = kept_pair_votes(votes, rule)
    if not counted:
        raise StudyError(
            f"no votes to score: {len(verdicts)} participants voted, "
            f"{sum(q.kept for q in verdicts.values())} passed quality control; collect more votes first"
        )
    conditions = [c.id for c in study.conditions]
    index = {name: k for k, name in enumerate(conditions)}
    stimulus_condition = {
        stimulus: condition for group in study.groups for condition, stimulus in group.versions.items()
    }
    participants = sorted({v.participant for v in counted})
    unit = resample
    if unit == "auto":
        unit = "participants" if len(participants) >= MIN_PARTICIPANTS_TO_RESAMPLE else "votes"
    m = len(conditions)
    per_vote = np.zeros((len(counted), m, m))
    owner = np.zeros(len(counted), dtype=int)
    person = {p: k for k, p in enumerate(participants)}
    for k, vote in enumerate(counted):
        winner, loser = stimulus_condition[vote.chosen], stimulus_condition[vote.other]
        per_vote[k, index[winner], index[loser]] = 1.0
        owner[k] = person[vote.participant]
    wins = per_vote.sum(axis=0)
    estimates = bradley_terry(wins)
    if unit == "participants":
        per_unit = np.zeros((len(participants), m, m))
        np.add.at(per_unit, owner, per_vote)
    else:
        per_unit = per_vote
    draws = bootstrap_indices(len(per_unit), n_resamples, seed=seed)
    samples = np.stack([bradley_terry(per_unit[idx].sum(axis=0)) for idx in draws])
    with warnings.catch_warnings():  # a condition nobody voted on is NaN in every resample: its interval is NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        scores = resampled_intervals(estimates, samples, confidence=confidence)
    ranks = rank_intervals(estimates, samples, higher_is_better=True, confidence=confidence)
    games = wins + wins.T
    return StudyResults(
        conditions=conditions,
        scores=scores,
        ranks=[r.to_dict() for r in ranks],
        votes=[int(v) for v in games.sum(axis=1)],
        wins=[float(w) for w in wins.sum(axis=1)],
        participants=[q.to_dict() for q in verdicts.values()],
        resample=unit,
        n_resamples=n_resamples,
        qc=rule,
        board_presets=dict(study.board_presets),
        defences={c.id: (c.defence, c.preset) for c in study.conditions},
    )


def write_results(results: StudyResults, folder: str | Path) -> list[Path]:
    """``subjective.json`` (everything), ``subjective.csv`` (per condition), ``participants.csv`` (QC)."""
    out = Path(folder) / RESULTS_DIR
    out.mkdir(parents=True, exist_ok=True)
    data = results.to_dict()
    path_json = out / RESULTS_FILE
    path_json.write_text(json.dumps(data, indent=1, allow_nan=False) + "\n", encoding="utf-8")
    paths = [path_json]
    for name, rows in (("subjective.csv", data["conditions"]), ("participants.csv", data["participants"])):
        path = out / name
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]) if rows else ["condition"])
            writer.writeheader()
            writer.writerows(rows)
        paths.append(path)
    return paths


def load_results(folder: str | Path) -> dict[str, Any]:
    """The ``subjective.json`` of a study folder (written by ``iqa-bench study results``)."""
    path = Path(folder) / RESULTS_DIR / RESULTS_FILE
    if not path.is_file():
        raise StudyError(f"no study results at {path}: run `iqa-bench study results {folder}` first")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        rows = data["conditions"]
        assert isinstance(rows, list)
    except (json.JSONDecodeError, KeyError, AssertionError) as error:
        raise StudyError(f"{path} is not a study result ({error}); run `iqa-bench study results` again") from error
    return dict(data)


def board_column(data: dict[str, Any]) -> Any:
    """The leaderboard's "subjective quality" column: each defence's score at its board preset."""
    from ..leaderboard import ExtraColumn

    values: dict[str, Interval] = {}
    for row in data["conditions"]:
        if not row.get("on_board") or row.get("bt_score") is None:
            continue
        low = row["bt_low"] if row["bt_low"] is not None else math.nan
        high = row["bt_high"] if row["bt_high"] is not None else math.nan
        values[str(row["defence"])] = Interval(float(row["bt_score"]), float(low), float(high))
    confidence = float(data.get("confidence", DEFAULT_CONFIDENCE))
    kept = int(data.get("participants_kept", 0))
    description = (
        f"Bradley-Terry log-strength from {data.get('votes_counted', 0)} pairwise votes of "
        f"{kept} participant{'s' if kept != 1 else ''} who passed quality control "
        f"({confidence:.0%} bootstrap interval over {data.get('resample', 'votes')}); "
        "0 is the mean of the study's conditions, +1 wins 73 % of the time against 0"
    )
    return ExtraColumn(COLUMN_KEY, COLUMN_LABEL, True, values, description=description, digits=2)
