"""Studies for the study tests: a hand-made one (no run needed) and scripted participants."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
from PIL import Image

from iqa_bench.study.design import (
    STIMULI_DIR,
    Check,
    Condition,
    Group,
    QCRule,
    Study,
    all_pairs,
    save_study,
)
from iqa_bench.study.store import VoteStore

CONDITIONS = ("none", "a[p1]", "b[p2]", "c")


def make_study(
    folder: Path, *, groups: int = 3, trials: int | None = None, checks: int = 3, qc: QCRule | None = None
) -> Study:
    """A study of ``groups`` random images x :data:`CONDITIONS`, PNGs written, ``study.json`` saved."""
    (folder / STIMULI_DIR).mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    stimuli: dict[str, str] = {}

    def stimulus(n: int) -> str:
        sid = f"s{n:012x}"
        array = rng.integers(0, 255, (12, 16, 3), dtype=np.uint8)
        Image.fromarray(array).save(folder / STIMULI_DIR / f"{sid}.png")
        stimuli[sid] = f"{sid}.png"
        return sid

    made: list[Group] = []
    made_checks: list[Check] = []
    counter = 0
    for g in range(groups):
        counter += 1
        reference = stimulus(counter)
        versions = {}
        for name in CONDITIONS:
            counter += 1
            versions[name] = stimulus(counter)
        made.append(Group(f"g{g + 1:03d}", "toy", f"img{g}", "m", "atk", "strong", "non-adaptive", reference, versions))
        counter += 1
        made_checks.append(Check(f"c{g + 1:03d}", f"g{g + 1:03d}", reference, stimulus(counter), "blur"))
    pairs = all_pairs(made)
    study = Study(
        name="toy <b>study</b>",
        mode="non-adaptive",
        conditions=[
            Condition(name, name.split("[")[0], name.split("[")[1][:-1] if "[" in name else "none")
            for name in CONDITIONS
        ],
        groups=made,
        pairs=pairs,
        checks=made_checks,
        stimuli=stimuli,
        trials_per_participant=trials or len(pairs),
        checks_per_participant=checks,
        qc=qc or QCRule(),
        board_presets={"a": "p1", "b": "p2", "c": "none"},
    )
    save_study(study, folder)
    return study


class FakeClock:
    """A clock the tests move by hand (answer times without sleeping)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def vote_as(
    store: VoteStore,
    study: Study,
    clock: FakeClock,
    strengths: dict[str, float],
    *,
    check_accuracy: float = 1.0,
    seconds: float = 2.0,
    rng: random.Random,
) -> str:
    """One participant: pairs answered by Bradley-Terry draws from ``strengths``, checks right with
    probability ``check_accuracy``, every answer ``seconds`` after its trial was served."""
    condition_of = {sid: name for g in study.groups for name, sid in g.versions.items()}
    participant, _ = store.create_participant(study.assign)
    while (step := store.next_trial(participant)) is not None:
        position, _, trial = step
        if trial.kind == "check":
            assert trial.correct is not None
            wrong = "right" if trial.correct == "left" else "left"
            choice = trial.correct if rng.random() < check_accuracy else wrong
        else:
            left, right = strengths[condition_of[trial.left]], strengths[condition_of[trial.right]]
            p_left = 1.0 / (1.0 + np.exp(right - left))
            choice = "left" if rng.random() < p_left else "right"
        clock.now += seconds
        store.record_vote(participant, position, choice)
    return participant
