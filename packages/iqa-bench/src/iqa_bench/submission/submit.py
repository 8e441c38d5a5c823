"""``iqa-bench submit``: a finished run as one self-contained, hashed submission file.

The submission (an *envelope*, ``submission.schema.json``) holds:

* ``config``: the run's grid in a portable form (presets expanded; no store, cache or device;
  dataset folders relative to a data root), which ``verify`` re-parses;
* ``config_fingerprint``: the run's identity as recorded in its store
  (:meth:`iqa_bench.config.BenchConfig.fingerprint`), ``config_sha256`` the hash of ``config``;
* ``provenance``: package versions, weight hashes, dataset manifest, device
  (:mod:`iqa_bench.submission.provenance`);
* ``bounds``: each metric's bounds and direction, as the run recorded them;
* ``cells``: every unit of the run (:mod:`iqa_bench.planning`) with its fingerprint
  (:mod:`iqa_bench.identity`) and its stored rows, in the column order of ``columns``;
* ``leaderboard``: the validated leaderboard entries built from those rows
  (:func:`iqa_bench.report.build_report`, hence :func:`~iqa_bench.leaderboard.entries.build_entries`);
* ``content_sha256``: sha256 of the canonical JSON of everything else. It detects a changed file;
  it is not a signature (anyone can recompute it): re-running cells is what ``verify`` trusts.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, is_dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from iqa_core.errors import UserError

from .. import __version__
from ..config import BenchConfig, ComponentConfig, DatasetConfig
from ..schema import CERTIFICATE_COLUMNS, CERTIFICATE_KEY, RESULT_COLUMNS, RESULT_KEY
from . import provenance

SUBMISSION_VERSION = 1
HASH_FIELD = "content_sha256"


class SubmissionError(UserError, ValueError):
    """A run cannot be submitted, or a submission is malformed; the message says why and the fix."""


# ---------------------------------------------------------------------------------------------- portable config
def _relative(path: Path, base: Path, what: str, fix: str) -> str:
    try:
        return PurePosixPath(path.resolve().relative_to(base.resolve())).as_posix()
    except ValueError:
        raise SubmissionError(f"{what} {path} is not inside {base}; {fix}") from None


def _component(spec: ComponentConfig, *, presets: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {"name": spec.name}
    if presets and spec.presets != (None,):
        out["presets"] = list(spec.presets)
    if spec.params:
        out["params"] = dict(spec.params)
    if spec.images is not None:
        out["images"] = spec.images
    precision = getattr(spec, "precision", None)  # metrics' precision switches, where this iqa-bench has them
    if precision:
        out["precision"] = dict(precision)
    return out


def _dataset(ds: DatasetConfig, data_root: Path | None) -> dict[str, Any]:
    out: dict[str, Any] = {"name": ds.name, "kind": ds.kind}
    if ds.kind != "demo":
        root = Path(ds.root or "")
        base = data_root if data_root is not None else root.resolve().parent
        out["root"] = _relative(
            root, base, f"dataset {ds.name!r}: its folder", "pass --data-root with a folder that holds it"
        )
        if ds.csv is not None:
            csv = Path(ds.csv)
            out["csv"] = (
                _relative(csv, root, f"dataset {ds.name!r}: its score file", "move the CSV into the dataset folder")
                if csv.is_absolute()
                else PurePosixPath(csv).as_posix()
            )
    if ds.limit is not None:
        out["limit"] = ds.limit
    if ds.sample is not None:
        out["sample"] = dict(ds.sample)
    return out


def portable_config(config: BenchConfig, data_root: Path | None = None) -> dict[str, Any]:
    """The grid of an expanded config as a mapping ``parse_config`` accepts: no store, cache or device,
    dataset folders relative to ``data_root`` (default: each folder's parent, i.e. its own name)."""
    raw: dict[str, Any] = {
        "name": config.name,
        "datasets": [_dataset(ds, data_root) for ds in config.datasets],
        "metrics": [_component(m, presets=False) for m in config.metrics],
        "attacks": [_component(a) for a in config.attacks],
        "defences": [_component(d) for d in config.defences],
        "certifiers": [_component(c) for c in config.certifiers],
        "mode": "both" if len(config.modes) == 2 else config.modes[0],
        "batch_size": config.batch_size,
        "chunk_size": config.chunk_size,
        "seed": config.seed,
        "eot_samples": config.eot_samples,
        "bounds": config.bounds,
    }
    for key in ("precision", "sufficient"):  # optional switches: recorded only when set
        value = getattr(config, key, None)
        if value is not None:
            raw[key] = asdict(value) if is_dataclass(value) and not isinstance(value, type) else dict(value)
    return raw


# ---------------------------------------------------------------------------------------------- store
MAX_TEXT = 2000
"""Longest stored text (an error message) kept in a cell; longer ones are cut."""


def _json_value(value: Any) -> Any:
    if isinstance(value, str) and len(value) > MAX_TEXT:
        return value[: MAX_TEXT - 3] + "..."
    return None if isinstance(value, float) and not math.isfinite(value) else value


def read_cells(store_path: Path) -> dict[str, dict[str, Any]]:
    """Every finished unit of a store: ``{unit id: {"fingerprint", "results", "certificates"}}``.

    Rows are lists in :data:`~iqa_bench.schema.RESULT_COLUMNS` / ``CERTIFICATE_COLUMNS`` order,
    sorted by their key; non-finite numbers become ``None``. The store is opened read-only.
    """
    db = sqlite3.connect(f"{store_path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        cells = {
            str(unit): {"fingerprint": fingerprint, "results": [], "certificates": []}
            for unit, fingerprint in db.execute("SELECT unit, fingerprint FROM units ORDER BY unit")
        }
        for table, columns, key in (
            ("results", RESULT_COLUMNS, RESULT_KEY),
            ("certificates", CERTIFICATE_COLUMNS, CERTIFICATE_KEY),
        ):
            # table and column names are schema constants; nothing here comes from the user
            sql = f"SELECT unit, {', '.join(columns)} FROM {table} ORDER BY unit, {', '.join(key)}"  # noqa: S608
            for unit, *values in db.execute(sql):
                if unit in cells:
                    cells[unit][table].append([_json_value(v) for v in values])
    except sqlite3.DatabaseError as error:
        raise SubmissionError(f"{store_path} is not a readable result store ({error})") from error
    finally:
        db.close()
    return cells


def rows_of(cells: Sequence[Mapping[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The result and certificate rows (dicts) of cells, as the store returns them."""
    results = [dict(zip(RESULT_COLUMNS, row, strict=True)) for cell in cells for row in cell["results"]]
    certificates = [dict(zip(CERTIFICATE_COLUMNS, row, strict=True)) for cell in cells for row in cell["certificates"]]
    return results, certificates


def leaderboard(cells: Sequence[Mapping[str, Any]], bounds: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The leaderboard entries of the cells' rows (the report's entries, validated)."""
    from ..report import build_report

    results, certificates = rows_of(cells)
    report = build_report(
        results,
        certificates,
        {m: (float(b["lower"]), float(b["upper"])) for m, b in bounds.items()},
        directions={m: bool(b["higher_is_better"]) for m, b in bounds.items()},
    )
    return list(report.entries)


# ---------------------------------------------------------------------------------------------- hashing
def content_hash(envelope: Mapping[str, Any]) -> str:
    """sha256 of the canonical JSON of every field but :data:`HASH_FIELD`."""
    return provenance.sha256_json({k: v for k, v in envelope.items() if k != HASH_FIELD})


def seal(envelope: dict[str, Any]) -> dict[str, Any]:
    """Set the envelope's hashes, ``config_sha256`` and the content hash (after any change to it)."""
    envelope["config_sha256"] = provenance.sha256_json(envelope["config"])
    envelope[HASH_FIELD] = content_hash(envelope)
    return envelope


# ---------------------------------------------------------------------------------------------- submit
def build_submission(
    config: BenchConfig,
    *,
    data_root: Path | None = None,
    say: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """The submission of a finished run of ``config`` (read from its store; nothing is recomputed
    but the provenance: weights are hashed, dataset files read)."""
    from ..planning import expand_presets
    from ..runner import Runner
    from ..store import ResultStore

    say = say or (lambda _m: None)
    store_path = config.store_path
    if not store_path.is_file():
        raise SubmissionError(f"no result store at {store_path}: run `iqa-bench run CONFIG` first")
    with ResultStore(store_path) as store:
        recorded = store.meta("config_fingerprint")
        bounds = {
            metric: {"lower": lower, "upper": upper, "higher_is_better": higher}
            for metric, (lower, upper) in store.bounds().items()
            for higher in [store.directions().get(metric, True)]
        }
        runner = Runner(config, store, progress=False)
        units = runner.load()
    expanded = expand_presets(config)
    if recorded != expanded.fingerprint():
        raise SubmissionError(
            f"the store {store_path} was last run with another configuration (fingerprint {recorded}, this "
            f"config {expanded.fingerprint()}): run `iqa-bench run CONFIG` with this config first"
        )
    stored = read_cells(store_path)
    cells = []
    missing, stale = [], []
    for unit in units:
        fingerprint = runner.identity.fingerprint(unit, runner.unit_items(unit))
        cell = stored.get(unit.id)
        if cell is None:
            missing.append(unit.id)
            continue
        if cell["fingerprint"] != fingerprint:
            stale.append(unit.id)
            continue
        cells.append(
            {
                "unit": [
                    *(unit.kind, unit.dataset, unit.metric, unit.chunk),
                    *(unit.component, unit.preset, unit.defence, unit.defence_preset),
                ],
                "fingerprint": fingerprint,
                "results": cell["results"],
                "certificates": cell["certificates"],
            }
        )
    if getattr(expanded, "sufficient", None) is not None:
        missing = []  # `sufficient:` stops a cell's chunks once its interval is narrow: those units never run
    if missing or stale:
        problems = []
        if missing:
            problems.append(f"{len(missing)} of {len(units)} units are not finished (first: {missing[0]})")
        if stale:
            problems.append(
                f"{len(stale)} units were computed with other parameters, items or versions (first: {stale[0]})"
            )
        raise SubmissionError(
            f"the run cannot be submitted: {'; '.join(problems)}. Run `iqa-bench run CONFIG` to complete it"
        )
    foreign = len(stored) - len(cells)
    if foreign:
        say(f"the store also holds {foreign} units outside this configuration: left out of the submission")
    portable = portable_config(expanded, data_root)
    say("recording provenance: package versions, weight hashes, dataset manifest")
    envelope: dict[str, Any] = {
        "submission_version": SUBMISSION_VERSION,
        "created": provenance.now(),
        "tool": {"name": "iqa-bench", "version": __version__},
        "config": portable,
        "config_fingerprint": recorded,
        "config_sha256": provenance.sha256_json(portable),
        "provenance": {
            "packages": provenance.package_versions(),
            "weights": provenance.weight_hashes(expanded),
            "datasets": provenance.dataset_manifest(expanded, runner.items),
            "device": provenance.device_info(config.device),
        },
        "bounds": bounds,
        "columns": {"results": list(RESULT_COLUMNS), "certificates": list(CERTIFICATE_COLUMNS)},
        "cells": cells,
        "leaderboard": leaderboard(cells, bounds),
    }
    return seal(envelope)


def write_submission(envelope: Mapping[str, Any], path: str | Path) -> Path:
    """Write the envelope as indented, strict JSON (after checking it against the schema)."""
    import json

    from .verify import envelope_errors

    problems = envelope_errors(envelope)
    if problems:
        raise SubmissionError("the submission does not follow its schema:\n  - " + "\n  - ".join(problems))
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(envelope, indent=1, allow_nan=False, ensure_ascii=False) + "\n", encoding="utf-8")
    return target


__all__ = [
    "HASH_FIELD",
    "SUBMISSION_VERSION",
    "SubmissionError",
    "build_submission",
    "content_hash",
    "leaderboard",
    "portable_config",
    "read_cells",
    "rows_of",
    "seal",
    "write_submission",
]
