"""Votes of a study in SQLite: participants, their assigned trials and one vote per trial.

One connection in WAL mode serves every request thread of the server; a lock makes each
operation one transaction, so the store has one writer at a time and concurrent participants
never interleave a half-written vote. A vote is keyed by ``(participant, position)``: a replayed
vote is refused, never counted twice.
"""

from __future__ import annotations

import random
import re
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .design import StudyError, Trial

PARTICIPANT_ID = re.compile(r"[0-9a-f]{16}")

SCHEMA = """
CREATE TABLE IF NOT EXISTS participants (
    id TEXT PRIMARY KEY,
    created REAL NOT NULL,
    user_agent TEXT
);
CREATE TABLE IF NOT EXISTS trials (
    participant TEXT NOT NULL REFERENCES participants(id),
    position INTEGER NOT NULL,
    kind TEXT NOT NULL,
    item TEXT NOT NULL,
    reference TEXT NOT NULL,
    left_stimulus TEXT NOT NULL,
    right_stimulus TEXT NOT NULL,
    correct TEXT,
    shown REAL,
    PRIMARY KEY (participant, position)
);
CREATE TABLE IF NOT EXISTS votes (
    participant TEXT NOT NULL,
    position INTEGER NOT NULL,
    choice TEXT NOT NULL CHECK (choice IN ('left', 'right')),
    seconds REAL NOT NULL,
    client_ms REAL,
    at REAL NOT NULL,
    PRIMARY KEY (participant, position),
    FOREIGN KEY (participant, position) REFERENCES trials(participant, position)
);
CREATE INDEX IF NOT EXISTS trials_item ON trials(item);
"""


class VoteError(StudyError):
    """A vote or request the store refuses; ``status`` is the HTTP status the server answers with."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Vote:
    """One answered trial, as :meth:`VoteStore.votes` returns it."""

    participant: str
    position: int
    kind: str
    item: str
    left: str
    right: str
    choice: str
    seconds: float
    correct: str | None

    @property
    def chosen(self) -> str:
        return self.left if self.choice == "left" else self.right

    @property
    def other(self) -> str:
        return self.right if self.choice == "left" else self.left

    @property
    def right_answer(self) -> bool | None:
        """For a check: whether the choice was the known answer; ``None`` for a pair."""
        return None if self.correct is None else self.choice == self.correct


class VoteStore:
    """The study's ``votes.sqlite`` (see the module docstring)."""

    def __init__(self, path: str | Path, *, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self.clock = clock
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30.0)
        self._db.execute("PRAGMA busy_timeout = 30000")
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = NORMAL")  # WAL + NORMAL: a committed vote survives a killed server
        self._db.execute("PRAGMA foreign_keys = ON")
        with self._lock:
            self._db.executescript(f"BEGIN IMMEDIATE;{SCHEMA}COMMIT;")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> VoteStore:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _transaction(self, body: Callable[[sqlite3.Connection], Any]) -> Any:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                result = body(self._db)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            return result

    # ------------------------------------------------------------------ participants
    def create_participant(
        self,
        assign: Callable[[Mapping[str, int], random.Random], list[Trial]],
        *,
        user_agent: str | None = None,
    ) -> tuple[str, int]:
        """A new participant with the trials ``assign(times each item was assigned, rng)`` gives."""
        participant = secrets.token_hex(8)
        rng = random.Random(secrets.randbits(64))  # noqa: S311 - trial order and sides, not a secret

        def body(db: sqlite3.Connection) -> int:
            counts = dict(db.execute("SELECT item, COUNT(*) FROM trials WHERE kind = 'pair' GROUP BY item").fetchall())
            trials = assign(counts, rng)
            db.execute(
                "INSERT INTO participants (id, created, user_agent) VALUES (?, ?, ?)",
                (participant, self.clock(), (user_agent or "")[:300]),
            )
            db.executemany(
                "INSERT INTO trials (participant, position, kind, item, reference, left_stimulus, right_stimulus,"
                " correct) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (participant, k, t.kind, t.item, t.reference, t.left, t.right, t.correct)
                    for k, t in enumerate(trials)
                ],
            )
            return len(trials)

        return participant, self._transaction(body)

    def _known(self, db: sqlite3.Connection, participant: Any) -> str:
        if not isinstance(participant, str) or not PARTICIPANT_ID.fullmatch(participant):
            raise VoteError("participant must be the 16-hex-digit id the server gave out", 400)
        if db.execute("SELECT 1 FROM participants WHERE id = ?", (participant,)).fetchone() is None:
            raise VoteError(f"unknown participant {participant!r}: start a new session at /", 404)
        return participant

    def next_trial(self, participant: Any) -> tuple[int, int, Trial] | None:
        """``(position, total, trial)`` of the participant's first unanswered trial, marked as shown; None when done."""

        def body(db: sqlite3.Connection) -> tuple[int, int, Trial] | None:
            pid = self._known(db, participant)
            total = db.execute("SELECT COUNT(*) FROM trials WHERE participant = ?", (pid,)).fetchone()[0]
            row = db.execute(
                "SELECT t.position, t.kind, t.item, t.reference, t.left_stimulus, t.right_stimulus, t.correct, t.shown"
                " FROM trials t LEFT JOIN votes v ON v.participant = t.participant AND v.position = t.position"
                " WHERE t.participant = ? AND v.position IS NULL ORDER BY t.position LIMIT 1",
                (pid,),
            ).fetchone()
            if row is None:
                return None
            position, kind, item, reference, left, right, correct, shown = row
            if shown is None:
                db.execute(
                    "UPDATE trials SET shown = ? WHERE participant = ? AND position = ?", (self.clock(), pid, position)
                )
            return position, total, Trial(kind, item, reference, left, right, correct)

        result: tuple[int, int, Trial] | None = self._transaction(body)
        return result

    def record_vote(self, participant: Any, position: Any, choice: Any, client_ms: Any = None) -> float:
        """Store one vote; return the seconds since its trial was served.

        Refused (:class:`VoteError`): an unknown participant (404) or trial (404), a choice other
        than ``left``/``right`` (400), a trial already answered (409, a replay) or not yet served
        (409: only the trial the server showed can be answered).
        """
        if choice not in ("left", "right"):
            raise VoteError(f"choice must be 'left' or 'right', got {choice!r}", 400)
        if isinstance(position, bool) or not isinstance(position, int):
            raise VoteError(f"position must be an integer, got {position!r}", 400)
        if client_ms is not None and (
            isinstance(client_ms, bool) or not isinstance(client_ms, int | float) or not 0 <= client_ms < 1e9
        ):
            raise VoteError(f"ms must be a non-negative number of milliseconds, got {client_ms!r}", 400)

        def body(db: sqlite3.Connection) -> float:
            pid = self._known(db, participant)
            row = db.execute(
                "SELECT shown FROM trials WHERE participant = ? AND position = ?", (pid, position)
            ).fetchone()
            if row is None:
                raise VoteError(f"participant {pid} has no trial {position}", 404)
            if db.execute("SELECT 1 FROM votes WHERE participant = ? AND position = ?", (pid, position)).fetchone():
                raise VoteError(f"trial {position} was already answered; a vote counts once", 409)
            if row[0] is None:
                raise VoteError(f"trial {position} has not been shown yet; answer the trial on screen", 409)
            now = self.clock()
            seconds = max(0.0, now - float(row[0]))
            db.execute(
                "INSERT INTO votes (participant, position, choice, seconds, client_ms, at) VALUES (?, ?, ?, ?, ?, ?)",
                (pid, position, choice, seconds, None if client_ms is None else float(client_ms), now),
            )
            return seconds

        seconds: float = self._transaction(body)
        return seconds

    # ------------------------------------------------------------------ reading
    def votes(self) -> list[Vote]:
        """Every vote with its trial, in participant and position order."""
        with self._lock:
            rows = self._db.execute(
                "SELECT v.participant, v.position, t.kind, t.item, t.left_stimulus, t.right_stimulus, v.choice,"
                " v.seconds, t.correct FROM votes v JOIN trials t"
                " ON t.participant = v.participant AND t.position = v.position ORDER BY v.participant, v.position"
            ).fetchall()
        return [Vote(*row) for row in rows]

    def counts(self) -> dict[str, int]:
        with self._lock:
            participants = self._db.execute("SELECT COUNT(*) FROM participants").fetchone()[0]
            trials = self._db.execute("SELECT COUNT(*) FROM trials").fetchone()[0]
            votes = self._db.execute("SELECT COUNT(*) FROM votes").fetchone()[0]
        return {"participants": participants, "trials": trials, "votes": votes}
