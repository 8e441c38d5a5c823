"""The result store: one SQLite file (WAL) per run, one row per evaluated item.

Rows are written a whole work unit (a chunk of images for one experiment) per transaction, so a
run killed at any moment (even ``kill -9``) leaves only complete units behind; the primary keys
make a re-run's writes idempotent (no duplicates). Each row records the unit that wrote it, and
each finished unit its fingerprint (:mod:`iqa_bench.identity`): rewriting a unit first deletes
every row it wrote before, in the same transaction, so a recomputed unit leaves no stale row
behind. Reading and writing use plain dicts with the columns of :mod:`iqa_bench.schema`.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from .schema import CERTIFICATE_COLUMNS, CERTIFICATE_KEY, CERTIFICATE_VALUES, RESULT_COLUMNS, RESULT_KEY, RESULT_VALUES

SCHEMA_VERSION = 4  # 3: results.queries; 4: results.lpips and results.dists (older stores gain them when opened)
UNIT_COLUMN = "unit"  # which unit wrote a row (schema 2; NULL for rows of schema-1 stores)

#: Table ``transfer`` (:mod:`iqa_bench.transfer`): one row per (adversarial images crafted against
#: a source metric and defence) x (target metric and defence) pair, added by ``iqa-bench transfer``.
TRANSFER_KEY: tuple[str, ...] = (
    "dataset",
    "attack",
    "attack_preset",
    "mode",
    "source_metric",
    "source_defence",
    "source_defence_preset",
    "target_metric",
    "target_defence",
    "target_defence_preset",
)
TRANSFER_VALUES: tuple[tuple[str, str], ...] = (
    ("n_images", "INTEGER"),
    ("n_missing", "INTEGER"),
    ("gain", "REAL"),
    ("gain_defended", "REAL"),
    ("n_gain_undefined", "INTEGER"),
    ("srocc_clean", "REAL"),
    ("srocc_adv", "REAL"),
    ("srocc_drop", "REAL"),
    ("seconds", "REAL"),
    ("status", "TEXT"),
    ("error", "TEXT"),
    ("fingerprint", "TEXT"),
)
TRANSFER_COLUMNS: tuple[str, ...] = TRANSFER_KEY + tuple(name for name, _ in TRANSFER_VALUES)


class StoreError(RuntimeError):
    """The file is not a usable result store; the message names the file and the fix."""


def _create_sql(table: str, key: tuple[str, ...], values: tuple[tuple[str, str], ...]) -> str:
    cols = [f"{name} TEXT NOT NULL" for name in key] + [f"{name} {kind}" for name, kind in values]
    return f"CREATE TABLE IF NOT EXISTS {table} ({', '.join(cols)}, PRIMARY KEY ({', '.join(key)}))"


class ResultStore:
    """SQLite-backed store of result rows, certificate rows, metric bounds and run metadata."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            raise StoreError(
                f"result store {self.path} is a folder; pass the .sqlite file (e.g. {self.path}/results.sqlite)"
            )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        try:
            self._setup()
        except sqlite3.DatabaseError as error:
            self._db.close()
            raise StoreError(
                f"{self.path} is not a usable result store ({error}): pass another store path in the "
                "config (`store:`), or move the file away to start a new store"
            ) from error

    def _setup(self) -> None:
        self._use_wal()
        self._db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: committed data survives a killed process
        # One write transaction: another process opening the same store meanwhile (`iqa-bench status`
        # during a run's start) waits, then sees the whole schema, instead of adding a column twice.
        with self._transaction():
            self._create_schema()
        self.set_meta("schema_version", SCHEMA_VERSION)

    def _use_wal(self, wait: float = 60.0) -> None:
        """Switch to WAL. The switch takes the database's exclusive lock and SQLite's busy handler does
        not wait for it, so a store another process is opening at this moment is retried here."""
        deadline = time.monotonic() + wait
        while True:
            try:
                self._db.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    def _create_schema(self) -> None:
        self._db.execute(_create_sql("results", RESULT_KEY, RESULT_VALUES))
        self._db.execute(_create_sql("certificates", CERTIFICATE_KEY, CERTIFICATE_VALUES))
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS metrics "
            "(metric TEXT PRIMARY KEY, lower REAL, upper REAL, higher_is_better INTEGER)"
        )
        self._db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
        self._db.execute("CREATE TABLE IF NOT EXISTS units (unit TEXT PRIMARY KEY, finished REAL, fingerprint TEXT)")
        self._db.execute(_create_sql("transfer", TRANSFER_KEY, TRANSFER_VALUES))
        # schema 1 -> 2: rows remember their unit, units their fingerprint (old units then count as changed)
        # schema 2 -> 3: results count a black-box attack's queries per image
        # schema 3 -> 4: optional learned perceptual measures of P(x') against x (config `measures`)
        added = (
            ("results", UNIT_COLUMN, "TEXT"),
            ("certificates", UNIT_COLUMN, "TEXT"),
            ("units", "fingerprint", "TEXT"),
            ("results", "queries", "REAL"),
            ("results", "lpips", "REAL"),
            ("results", "dists", "REAL"),
        )
        for table, column, kind in added:
            present = {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}
            if column not in present:
                self._db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")

    # ------------------------------------------------------------------ writing
    def write_unit(
        self,
        unit: str,
        results: Iterable[Mapping[str, Any]] = (),
        certificates: Iterable[Mapping[str, Any]] = (),
        *,
        fingerprint: str | None = None,
    ) -> None:
        """Replace a work unit's rows and mark it finished (with its fingerprint), in one transaction."""
        # Column names come from iqa_bench.schema constants; values are always bound parameters.
        result_cols = (*RESULT_COLUMNS, UNIT_COLUMN)
        cert_cols = (*CERTIFICATE_COLUMNS, UNIT_COLUMN)
        result_sql = (
            f"INSERT OR REPLACE INTO results ({', '.join(result_cols)}) "  # noqa: S608
            f"VALUES ({', '.join('?' * len(result_cols))})"
        )
        cert_sql = (
            f"INSERT OR REPLACE INTO certificates ({', '.join(cert_cols)}) "  # noqa: S608
            f"VALUES ({', '.join('?' * len(cert_cols))})"
        )
        with self._transaction():
            self._db.execute("DELETE FROM results WHERE unit = ?", (unit,))
            self._db.execute("DELETE FROM certificates WHERE unit = ?", (unit,))
            self._db.executemany(result_sql, [(*(row.get(c) for c in RESULT_COLUMNS), unit) for row in results])
            self._db.executemany(cert_sql, [(*(row.get(c) for c in CERTIFICATE_COLUMNS), unit) for row in certificates])
            self._db.execute(
                "INSERT OR REPLACE INTO units (unit, finished, fingerprint) VALUES (?, ?, ?)",
                (unit, time.time(), fingerprint),
            )

    def write_transfer(self, row: Mapping[str, Any]) -> None:
        """Insert or replace one pair of the ``transfer`` table (one transaction)."""
        sql = (
            f"INSERT OR REPLACE INTO transfer ({', '.join(TRANSFER_COLUMNS)}) "  # noqa: S608
            f"VALUES ({', '.join('?' * len(TRANSFER_COLUMNS))})"
        )
        with self._transaction():
            self._db.execute(sql, tuple(row.get(c) for c in TRANSFER_COLUMNS))

    def set_bounds(self, metric: str, lower: float, upper: float, higher_is_better: bool) -> None:
        with self._transaction():
            self._db.execute(
                "INSERT OR REPLACE INTO metrics VALUES (?, ?, ?, ?)", (metric, lower, upper, int(higher_is_better))
            )

    def set_meta(self, key: str, value: Any) -> None:
        with self._transaction():
            self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value)))

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)

    # ------------------------------------------------------------------ reading
    def unit_done(self, unit: str) -> bool:
        return self._db.execute("SELECT 1 FROM units WHERE unit = ?", (unit,)).fetchone() is not None

    def finished_units(self) -> dict[str, str | None]:
        """Finished unit ids and the fingerprint each was computed with (None for schema-1 units)."""
        return {unit: fingerprint for unit, fingerprint in self._db.execute("SELECT unit, fingerprint FROM units")}

    def results(self, **where: Any) -> Iterator[dict[str, Any]]:
        """Result rows as dicts, optionally filtered on key columns (``metric="x"``)."""
        yield from self._select("results", RESULT_COLUMNS, where)

    def certificates(self, **where: Any) -> Iterator[dict[str, Any]]:
        yield from self._select("certificates", CERTIFICATE_COLUMNS, where)

    def transfer(self, **where: Any) -> Iterator[dict[str, Any]]:
        """Rows of the ``transfer`` table (:mod:`iqa_bench.transfer`), optionally filtered on its columns."""
        yield from self._select("transfer", TRANSFER_COLUMNS, where)

    def _select(self, table: str, columns: tuple[str, ...], where: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        bad = set(where) - set(columns)
        if bad:
            raise ValueError(f"cannot filter {table} on {sorted(bad)}; columns: {', '.join(columns)}")
        clause = " AND ".join(f"{k} = ?" for k in where)
        # table, columns and filter keys are schema constants (keys checked above); values are bound.
        sql = f"SELECT {', '.join(columns)} FROM {table}" + (f" WHERE {clause}" if clause else "")  # noqa: S608
        keys = {"results": RESULT_KEY, "certificates": CERTIFICATE_KEY, "transfer": TRANSFER_KEY}[table]
        sql += f" ORDER BY {', '.join(columns[: len(keys)])}"
        for row in self._db.execute(sql, tuple(where.values())):
            yield dict(zip(columns, row, strict=True))

    def bounds(self) -> dict[str, tuple[float, float]]:
        return {m: (lo, hi) for m, lo, hi, _ in self._db.execute("SELECT * FROM metrics")}

    def directions(self) -> dict[str, bool]:
        """``{metric: higher_is_better}`` as recorded with the bounds."""
        rows = self._db.execute("SELECT metric, higher_is_better FROM metrics").fetchall()
        return {str(metric): bool(higher) for metric, higher in rows if higher is not None}

    def meta(self, key: str, default: Any = None) -> Any:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return default if row is None else json.loads(row[0])

    def counts(self) -> dict[str, int]:
        """Numbers of result rows done and failed, certificate rows, finished units."""
        done, failed = self._db.execute("SELECT SUM(status = 'done'), SUM(status = 'failed') FROM results").fetchone()
        (certs,) = self._db.execute("SELECT COUNT(*) FROM certificates").fetchone()
        (units,) = self._db.execute("SELECT COUNT(*) FROM units").fetchone()
        return {"results_done": done or 0, "results_failed": failed or 0, "certificates": certs, "units": units}

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *_: object) -> None:
        self.db.execute("ROLLBACK" if exc_type is not None else "COMMIT")
