"""Leaderboard entries: one plain JSON object per method (RobustBench style) and their validation.

The JSON Schema ships as package data (``entry.schema.json``, draft 2020-12). An entry::

    {"schema_version": 1, "method": "jpeg", "defence_type": "classic",
     "presets": {"non-adaptive": "q50"}, "datasets": ["koniq10k"], "metrics": [...],
     "attacks": [...], "results": {"non-adaptive": {"n_experiments": 8, "n_images": 160,
     "n_failed": 0, "scores": {"d": 12.3, "d_defended": 10.1, "r": 0.9, ...}}}}

Undefined scores (NaN) are ``null``; optional fields ``name``, ``authors``, ``paper``,
``venue``, ``link``, ``code``, ``footnote`` describe a submitted method.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema

from iqa_core.errors import UserError

from ..aggregate import DEFAULT_DEFENCE_TYPES, SCORES, Summary, rollup
from ..schema import MODES, NONE
from .board import ExtraColumn

SCHEMA_VERSION = 2
"""Written by this version; entries of version 1 (no ``board``, ``extra``, ``ranking``) stay valid."""
SCHEMA_RESOURCE = "entry.schema.json"


MAX_DEPTH = 32
"""Deepest nesting an entry may have (real entries are about 4 levels deep)."""


class EntryValidationError(UserError, ValueError):
    """A leaderboard entry does not follow the schema; ``errors`` lists every problem found."""

    def __init__(self, errors: Sequence[str], *, where: str = "entry") -> None:
        self.errors = list(errors)
        listing = "\n".join(f"  - {e}" for e in self.errors)
        super().__init__(f"invalid leaderboard {where} ({len(self.errors)} problem(s)):\n{listing}")


def packaged_schema(package: str, resource: str) -> dict[str, Any]:
    """A JSON Schema shipped inside ``package``, checked to be a valid Draft 2020-12 schema."""
    text = resources.files(package).joinpath(resource).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    jsonschema.Draft202012Validator.check_schema(schema)
    return schema


@cache
def load_schema() -> dict[str, Any]:
    """The entry JSON Schema shipped with the package."""
    return packaged_schema(__package__ or "iqa_bench.leaderboard", SCHEMA_RESOURCE)


def _path(parts: Iterable[Any]) -> str:
    text = "$"
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


def _non_finite(value: Any, parts: tuple[Any, ...] = ()) -> list[str]:
    if isinstance(value, float) and not math.isfinite(value):
        return [f"at {_path(parts)}: {value!r} is not a finite number (use null for an undefined score)"]
    if isinstance(value, Mapping):
        return [e for k, v in value.items() for e in _non_finite(v, (*parts, k))]
    if isinstance(value, list | tuple):
        return [e for i, v in enumerate(value) for e in _non_finite(v, (*parts, i))]
    return []


def _too_deep(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether ``value`` nests deeper than ``limit`` (iterative: no recursion on hostile input)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(item, Mapping):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list | tuple):
            stack.extend((v, depth + 1) for v in item)
    return False


def entry_errors(entry: Any) -> list[str]:
    """Every problem of ``entry`` as ``"at $.path: message"`` strings (empty when valid)."""
    if _too_deep(entry):
        return [f"at $: nested deeper than {MAX_DEPTH} levels (a leaderboard entry is a few levels deep)"]
    validator = jsonschema.Draft202012Validator(load_schema())
    errors = [
        f"at {_path(error.absolute_path)}: {error.message}"
        for error in sorted(validator.iter_errors(entry), key=lambda e: [str(p) for p in e.absolute_path])
    ]
    return errors + _non_finite(entry)


def validate_entry(entry: Any) -> None:
    """Raise :class:`EntryValidationError` (a ``ValueError``) listing every problem of ``entry``."""
    errors = entry_errors(entry)
    if errors:
        name = entry.get("method") if isinstance(entry, Mapping) else None
        raise EntryValidationError(errors, where=f"entry {name!r}" if isinstance(name, str) else "entry")


def validate_entries(entries: Any) -> None:
    """Validate a list of entries (errors name the offending index and method)."""
    if not isinstance(entries, list):
        raise EntryValidationError([f"expected a list of entries, got {type(entries).__name__}"], where="file")
    problems: list[str] = []
    for index, entry in enumerate(entries):
        name = entry.get("method") if isinstance(entry, Mapping) else None
        problems += [f"entry [{index}] ({name!r}) {e}" for e in entry_errors(entry)]
    if problems:
        raise EntryValidationError(problems, where="entries")


def load_entries(path: str | Path) -> list[dict[str, Any]]:
    """Read and validate a submitted JSON file holding one entry or a list of entries."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise EntryValidationError([f"not valid JSON: {error}"], where=f"file {str(path)!r}") from error
    except RecursionError as error:
        raise EntryValidationError(
            [f"nested too deeply to read (more than {MAX_DEPTH} levels are never valid)"], where=f"file {str(path)!r}"
        ) from error
    entries = data if isinstance(data, list) else [data]
    validate_entries(entries)
    return entries


def plain(value: Any) -> Any:
    """A JSON-ready copy: NaN / inf become ``None``, tuples lists, numpy scalars Python numbers."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if hasattr(value, "item") and callable(value.item):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def build_entries(
    summaries: Iterable[Summary],
    *,
    defence_types: Mapping[str, str] | None = None,
    metadata: Mapping[str, Mapping[str, Any]] | None = None,
    extra_columns: Sequence[ExtraColumn] = (),
) -> list[dict[str, Any]]:
    """One entry per defence from per-experiment summaries (clean-only experiments left out).

        Filter the summaries to one preset per defence and mode first (see
        :func:`iqa_bench.stats.select_presets` and :func:`iqa_bench.stats.apply_presets`): ``presets``
        names it per mode (several are joined with ``+``). ``metadata`` adds submission fields per defence
        (``name``, ``paper``, ``link``, ...); ``extra_columns`` (:class:`~.board.ExtraColumn`) add
    ``extra.<key>`` values with their intervals. Every entry is validated before it is returned.
    """
    items = [s for s in summaries if s.get("attack") != NONE]
    types = DEFAULT_DEFENCE_TYPES if defence_types is None else defence_types
    per_defence: dict[str, list[Summary]] = defaultdict(list)
    for summary in items:
        per_defence[summary["defence"]].append(summary)
    entries = []
    for defence in sorted(per_defence, key=lambda d: (d == NONE, d)):
        group = per_defence[defence]
        results: dict[str, Any] = {}
        presets: dict[str, str] = {}
        for entry in rollup(group, ("mode",)):
            mode = entry["mode"]
            if mode not in MODES:
                continue
            results[mode] = {
                "n_experiments": entry["n_experiments"],
                "n_images": entry["n_images"],
                "n_failed": entry["n_failed"],
                "scores": {name: entry[name] for name in SCORES},
            }
            mode_presets = sorted({s["defence_preset"] for s in group if s["mode"] == mode})
            presets[mode] = "+".join(mode_presets)
        if not results:
            continue
        record: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "method": defence,
            "defence_type": types.get(defence, NONE if defence == NONE else "other"),
            "presets": presets,
            "datasets": sorted({s["dataset"] for s in group}),
            "metrics": sorted({s["metric"] for s in group}),
            "attacks": sorted({s["attack"] for s in group}),
            "results": results,
        }
        extra = {e.key: e.to_entry(defence) for e in extra_columns if defence in e.values}
        if extra:
            record["extra"] = extra
        if metadata is not None and defence in metadata:
            record.update(metadata[defence])
        record = plain(record)
        validate_entry(record)
        entries.append(record)
    return entries


def write_json(entries: Sequence[Mapping[str, Any]], path: str | Path) -> Path:
    """Validate and write the entries as an indented JSON list (strict JSON: no NaN)."""
    data = plain(list(entries))
    validate_entries(data)
    target = Path(path)
    target.write_text(json.dumps(data, indent=2, allow_nan=False, ensure_ascii=False) + "\n", encoding="utf-8")
    return target
