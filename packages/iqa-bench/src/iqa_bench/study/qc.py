"""Per-participant quality control: known-answer checks and too-fast answers (rule: :class:`QCRule`)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from .design import QCRule
from .store import Vote


@dataclass
class ParticipantQC:
    """A participant's checks, speed and verdict (``kept``; ``reasons`` says why not)."""

    participant: str
    votes: int = 0
    checks: int = 0
    checks_right: int = 0
    fast: int = 0
    kept: bool = True
    reasons: list[str] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        return self.checks_right / self.checks if self.checks else float("nan")

    @property
    def fast_fraction(self) -> float:
        return self.fast / self.votes if self.votes else 0.0

    def to_dict(self) -> dict[str, object]:
        return {
            "participant": self.participant,
            "votes": self.votes,
            "checks": self.checks,
            "checks_right": self.checks_right,
            "check_accuracy": None if not self.checks else self.accuracy,
            "fast_answers": self.fast,
            "kept": self.kept,
            "reasons": "; ".join(self.reasons),
        }


def is_fast(vote: Vote, rule: QCRule) -> bool:
    """Answered sooner than ``rule.min_seconds`` after the trial was served."""
    return vote.seconds < rule.min_seconds


def assess(votes: Iterable[Vote], rule: QCRule) -> dict[str, ParticipantQC]:
    """The verdict on every participant who voted (see :class:`QCRule` for the rule)."""
    verdicts: dict[str, ParticipantQC] = defaultdict(lambda: ParticipantQC(""))
    for vote in votes:
        qc = verdicts[vote.participant]
        qc.participant = vote.participant
        qc.votes += 1
        qc.fast += is_fast(vote, rule)
        if vote.kind == "check":
            qc.checks += 1
            qc.checks_right += bool(vote.right_answer)
    for qc in verdicts.values():
        if qc.checks == 0:
            qc.reasons.append("answered no verification check")
        elif qc.accuracy < rule.min_check_accuracy:
            qc.reasons.append(
                f"{qc.checks_right} of {qc.checks} verification checks right "
                f"({qc.accuracy:.0%} < {rule.min_check_accuracy:.0%})"
            )
        if qc.fast_fraction > rule.max_fast_fraction:
            qc.reasons.append(
                f"{qc.fast} of {qc.votes} answers faster than {rule.min_seconds:g} s "
                f"({qc.fast_fraction:.0%} > {rule.max_fast_fraction:.0%})"
            )
        qc.kept = not qc.reasons
    return dict(sorted(verdicts.items()))


def kept_pair_votes(votes: Iterable[Vote], rule: QCRule) -> list[Vote]:
    """Pair votes that count: from kept participants, not too fast."""
    votes = list(votes)
    verdicts = assess(votes, rule)
    return [v for v in votes if v.kind == "pair" and verdicts[v.participant].kept and not is_fast(v, rule)]
