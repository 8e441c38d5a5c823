"""Verified submissions: ``iqa-bench submit`` writes a run with its provenance, ``iqa-bench verify``
re-runs a sample of its cells (see :mod:`.submit`, :mod:`.verify`, :mod:`.provenance`).

Names load on first access (:mod:`iqa_core.lazy`): the CLI's ``--help`` imports nothing heavy.
"""

from __future__ import annotations

from typing import Any

from iqa_core import lazy

_LAZY = {
    "HASH_FIELD": "submit",
    "SUBMISSION_VERSION": "submit",
    "SubmissionError": "submit",
    "build_submission": "submit",
    "content_hash": "submit",
    "portable_config": "submit",
    "seal": "submit",
    "write_submission": "submit",
    "SubmissionRejected": "verify",
    "Tolerance": "verify",
    "VerifyReport": "verify",
    "check_envelope": "verify",
    "format_report": "verify",
    "read_envelope": "verify",
    "verify_submission": "verify",
    "write_board": "verify",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    return lazy.resolve(__name__, _LAZY, name, globals())
