"""A study's design: its stimuli, conditions, pairs, verification checks and quality-control rule.

``iqa-bench study prepare`` writes it as ``study.json`` beside the stimulus PNGs; ``serve`` and
``results`` read it back (:func:`load_study` checks every reference in it, so a hand-edited file
fails with the field to fix, not in the middle of a participant's session).

A *group* is one reference image x and its processed versions, one per *condition* (a defence
preset, or ``none``: the adversarial image itself), as one "subjective evaluation" of the
benchmark's appendix A.2. A *pair* is two conditions of one group; a *check* is a known-answer
question: the reference itself against a heavily degraded copy of it.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from iqa_core.errors import UserError

STUDY_FILE = "study.json"
VOTES_FILE = "votes.sqlite"
STIMULI_DIR = "stimuli"
RESULTS_DIR = "results"
FORMAT_VERSION = 1

INSTRUCTION = (
    "You will see one original image and two modified ones. Choose the modified image that looks of "
    "higher quality, more realistic and closer to the original."
)
"""The benchmark's instruction to participants (appendix A.2), shown above every trial."""


class StudyError(UserError, ValueError):
    """A study folder or file that cannot be used; the message names the problem and the fix."""


@dataclass(frozen=True)
class QCRule:
    """Per-participant quality control (see docs/study.md).

    A participant is excluded when they answered no verification check, when fewer than
    ``min_check_accuracy`` of their checks are right, or when more than ``max_fast_fraction`` of
    their answers came faster than ``min_seconds`` after the trial was served. Fast answers of a
    kept participant are flagged and left out of the scores.
    """

    min_check_accuracy: float = 0.8
    min_seconds: float = 0.5
    max_fast_fraction: float = 0.25

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_check_accuracy <= 1.0:
            raise StudyError(f"min_check_accuracy must be in [0, 1], got {self.min_check_accuracy}")
        if not (math.isfinite(self.min_seconds) and self.min_seconds >= 0.0):
            raise StudyError(f"min_seconds must be >= 0, got {self.min_seconds}")
        if not 0.0 <= self.max_fast_fraction <= 1.0:
            raise StudyError(f"max_fast_fraction must be in [0, 1], got {self.max_fast_fraction}")


@dataclass(frozen=True)
class Condition:
    """A way a version was made: ``defence`` at ``preset`` (``none``/``none``: not defended)."""

    id: str
    defence: str
    preset: str


@dataclass(frozen=True)
class Group:
    """One reference image and its versions ``{condition id: stimulus id}``."""

    id: str
    dataset: str
    image: str
    metric: str
    attack: str
    attack_preset: str
    mode: str
    reference: str
    versions: dict[str, str]
    scores: dict[str, dict[str, float | None]] = field(default_factory=dict)
    """``{condition: {"stored": f(P(x')) in the run's store, "recomputed": f of the stimulus}}``."""


@dataclass(frozen=True)
class Pair:
    id: str
    group: str
    a: str
    b: str


@dataclass(frozen=True)
class Check:
    """A known-answer question: ``good`` (the reference) against ``bad`` (degraded by ``degradation``)."""

    id: str
    group: str
    good: str
    bad: str
    degradation: str


@dataclass(frozen=True)
class Trial:
    """One screen a participant answers: ``left`` / ``right`` are stimulus ids."""

    kind: str  # "pair" | "check"
    item: str  # pair or check id
    reference: str
    left: str
    right: str
    correct: str | None = None  # "left" / "right" for a check


@dataclass
class Study:
    name: str
    mode: str
    conditions: list[Condition]
    groups: list[Group]
    pairs: list[Pair]
    checks: list[Check]
    stimuli: dict[str, str]
    """``{stimulus id: file name in stimuli/}``."""
    trials_per_participant: int
    checks_per_participant: int
    qc: QCRule = field(default_factory=QCRule)
    board_presets: dict[str, str] = field(default_factory=dict)
    """``{defence: preset}`` whose score joins the leaderboard (the preset the board selects)."""
    source: dict[str, Any] = field(default_factory=dict)
    """Where the stimuli came from: config path, its fingerprint, store, seed, notes."""
    seed: int = 0
    instruction: str = INSTRUCTION
    version: int = FORMAT_VERSION

    # ------------------------------------------------------------------ lookups
    def condition(self, condition_id: str) -> Condition:
        for condition in self.conditions:
            if condition.id == condition_id:
                return condition
        raise KeyError(condition_id)

    def group(self, group_id: str) -> Group:
        for group in self.groups:
            if group.id == group_id:
                return group
        raise KeyError(group_id)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    # ------------------------------------------------------------------ assignment
    def assign(self, assigned: Mapping[str, int], rng: random.Random) -> list[Trial]:
        """A new participant's trials: the least-assigned pairs first, checks interleaved, sides random.

        ``assigned`` counts how often each pair was already given out, so votes spread evenly over
        the pairs as participants arrive. Checks are placed one per equal slice of the session
        (never two in a row when there are more pairs than checks).
        """
        order = sorted(self.pairs, key=lambda p: (assigned.get(p.id, 0), rng.random()))
        chosen = order[: self.trials_per_participant]
        rng.shuffle(chosen)
        trials: list[Trial] = []
        for pair in chosen:
            group = self.group(pair.group)
            a, b = group.versions[pair.a], group.versions[pair.b]
            left, right = (a, b) if rng.random() < 0.5 else (b, a)
            trials.append(Trial("pair", pair.id, group.reference, left, right))
        checks = list(self.checks)
        rng.shuffle(checks)
        n_checks = self.checks_per_participant
        picked = [checks[k % len(checks)] for k in range(n_checks)] if checks else []
        slice_len = (len(trials) + n_checks) / max(n_checks, 1)
        for k, check in enumerate(picked):
            good_left = rng.random() < 0.5
            group = self.group(check.group)
            left, right = (check.good, check.bad) if good_left else (check.bad, check.good)
            trial = Trial("check", check.id, group.reference, left, right, "left" if good_left else "right")
            position = min(len(trials), int(k * slice_len + rng.random() * max(slice_len - 1, 0)))
            trials.insert(position, trial)
        return trials


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise StudyError(message)


def study_from_dict(raw: Any, where: str = STUDY_FILE) -> Study:
    """Parse and check a study's JSON; every id a trial can show must name a stimulus file."""
    _expect(isinstance(raw, dict), f"{where}: expected a JSON object")
    _expect(
        raw.get("version") == FORMAT_VERSION,
        f"{where}: format version {raw.get('version')!r} is not {FORMAT_VERSION}; prepare the study again",
    )
    try:
        study = Study(
            name=str(raw["name"]),
            mode=str(raw["mode"]),
            conditions=[Condition(**c) for c in raw["conditions"]],
            groups=[Group(**g) for g in raw["groups"]],
            pairs=[Pair(**p) for p in raw["pairs"]],
            checks=[Check(**c) for c in raw["checks"]],
            stimuli={str(k): str(v) for k, v in raw["stimuli"].items()},
            trials_per_participant=int(raw["trials_per_participant"]),
            checks_per_participant=int(raw["checks_per_participant"]),
            qc=QCRule(**raw.get("qc", {})),
            board_presets={str(k): str(v) for k, v in raw.get("board_presets", {}).items()},
            source=dict(raw.get("source", {})),
            seed=int(raw.get("seed", 0)),
            instruction=str(raw.get("instruction", INSTRUCTION)),
        )
    except (KeyError, TypeError, AttributeError) as error:
        raise StudyError(
            f"{where}: malformed study ({type(error).__name__}: {error}); prepare the study again"
        ) from error
    conditions = {c.id for c in study.conditions}
    for group in study.groups:
        for stimulus in [group.reference, *group.versions.values()]:
            _expect(stimulus in study.stimuli, f"{where}: group {group.id} shows unknown stimulus {stimulus!r}")
        unknown = set(group.versions) - conditions
        _expect(not unknown, f"{where}: group {group.id} has undeclared conditions {sorted(unknown)}")
    groups = {g.id: g for g in study.groups}
    for pair in study.pairs:
        _expect(pair.group in groups, f"{where}: pair {pair.id} names unknown group {pair.group!r}")
        versions = groups[pair.group].versions
        _expect(
            pair.a in versions and pair.b in versions and pair.a != pair.b,
            f"{where}: pair {pair.id} compares {pair.a!r} and {pair.b!r}, not two versions of group {pair.group}",
        )
    for check in study.checks:
        _expect(check.group in groups, f"{where}: check {check.id} names unknown group {check.group!r}")
        for stimulus in (check.good, check.bad):
            _expect(stimulus in study.stimuli, f"{where}: check {check.id} shows unknown stimulus {stimulus!r}")
    _expect(study.pairs != [], f"{where}: the study has no pairs to compare (each group needs two versions)")
    _expect(
        1 <= study.trials_per_participant <= len(study.pairs),
        f"{where}: trials_per_participant must be in 1..{len(study.pairs)}, got {study.trials_per_participant}",
    )
    _expect(
        study.checks_per_participant >= 1 and study.checks != [],
        f"{where}: every participant needs at least one verification check (checks_per_participant >= 1)",
    )
    return study


def load_study(folder: str | Path) -> Study:
    """The study of a folder made by ``iqa-bench study prepare`` (checked, see :func:`study_from_dict`)."""
    path = Path(folder) / STUDY_FILE
    if not path.is_file():
        raise StudyError(f"no study at {folder} (missing {STUDY_FILE}); make one with `iqa-bench study prepare`")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise StudyError(f"{path} is not valid JSON ({error}); prepare the study again") from error
    study = study_from_dict(raw, str(path))
    missing = [name for name in study.stimuli.values() if not (Path(folder) / STIMULI_DIR / name).is_file()]
    _expect(not missing, f"{path}: {len(missing)} stimulus files are missing from {STIMULI_DIR}/ (e.g. {missing[:3]})")
    return study


def save_study(study: Study, folder: str | Path) -> Path:
    path = Path(folder) / STUDY_FILE
    path.write_text(json.dumps(study.to_dict(), indent=1, allow_nan=False) + "\n", encoding="utf-8")
    return path


def condition_id(defence: str, preset: str) -> str:
    """``jpeg[q50]``; a defence without presets is its bare name; ``none`` is the undefended image."""
    from ..schema import NONE

    if defence == NONE:
        return NONE
    return defence if preset == NONE else f"{defence}[{preset}]"


def all_pairs(groups: Sequence[Group]) -> list[Pair]:
    """Every two versions of every group, in condition order."""
    pairs: list[Pair] = []
    for group in groups:
        names = list(group.versions)
        for i, a in enumerate(names):
            for b in names[i + 1 :]:
                pairs.append(Pair(f"p{len(pairs) + 1:04d}", group.id, a, b))
    return pairs
