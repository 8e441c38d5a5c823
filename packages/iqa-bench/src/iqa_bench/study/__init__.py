"""Subjective study: pairwise votes on a run's images, per-participant quality control, Bradley-Terry scores.

``iqa-bench study prepare`` picks the stimuli (:mod:`.stimuli`), ``serve`` collects votes in SQLite
(:mod:`.server`, :mod:`.store`), ``results`` applies quality control (:mod:`.qc`) and fits
Bradley-Terry scores with bootstrap intervals (:mod:`.results`) that join the leaderboard
(``iqa-bench report RUN --study STUDY_DIR``). See docs/study.md.
"""

from __future__ import annotations

from .design import QCRule, Study, StudyError, load_study
from .qc import ParticipantQC, assess, kept_pair_votes
from .results import StudyResults, board_column, compute_results, load_results, write_results
from .store import Vote, VoteError, VoteStore

__all__ = [
    "ParticipantQC",
    "QCRule",
    "Study",
    "StudyError",
    "StudyResults",
    "Vote",
    "VoteError",
    "VoteStore",
    "assess",
    "board_column",
    "compute_results",
    "kept_pair_votes",
    "load_results",
    "load_study",
    "write_results",
]
