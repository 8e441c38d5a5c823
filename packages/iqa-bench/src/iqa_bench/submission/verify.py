"""``iqa-bench verify``: read a submission defensively, re-run a random sample of its cells, compare.

Reading (:func:`read_envelope`, :func:`check_envelope`) rejects, with one message naming the
problem: a file over the size limit, bytes that are not UTF-8 JSON, duplicate keys, ``NaN`` /
``Infinity`` or numbers that overflow to infinity, nesting deeper than :data:`MAX_DEPTH`, a
schema violation (``submission.schema.json``, and ``entry.schema.json`` for each leaderboard
entry), rows of the wrong width, and a ``content_sha256`` that does not match the content.

The embedded config is then checked before anything is built (:func:`safe_config`): only
components installed here, by registry name; parameters that are short scalars and never name a
file; dataset folders relative to ``--data-root`` and inside it (after resolving links); no
store, cache or device (verification writes to a temporary folder, on ``--device``).

Verifying (:func:`verify_submission`): the leaderboard must be what the cells' rows give; the
provenance is compared with this machine's (dataset manifest and weights: errors; package
versions and device: warnings); a random sample of cells is recomputed and every row compared.
Tolerances (:class:`Tolerance`): exact when the entry and this check both ran on a CPU (the
runner seeds every draw per unit, so a CPU run repeats bit for bit on the same software);
otherwise ``|a - b| <= atol + rtol * |b|`` with ``rtol = 1e-3``, ``atol = 1e-6``. Statuses,
row keys and ``None`` must always match; timings and error texts are not compared.
"""

from __future__ import annotations

import json
import math
import random
import re
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path, PurePosixPath
from typing import Any

import jsonschema

from .. import __version__
from ..config import CONFIG_KEYS, DATASET_KINDS, BenchConfig
from ..leaderboard.entries import packaged_schema
from ..schema import CERTIFICATE_COLUMNS, CERTIFICATE_KEY, RESULT_COLUMNS, RESULT_KEY
from . import provenance
from .limits import DEFAULT_ATOL, DEFAULT_RTOL, DEFAULT_SAMPLE, MAX_BYTES, MAX_DEPTH
from .submit import HASH_FIELD, SubmissionError, content_hash, leaderboard

SCHEMA_RESOURCE = "submission.schema.json"

RESULT_COMPARED = (
    "mos",
    "score_clean",
    "score_attacked",
    "score_purified_clean",
    "score_purified_attacked",
    "psnr",
    "ssim",
    "mse",
    "linf",
)
CERTIFICATE_COMPARED = (
    "mos",
    "abstained",
    "prediction",
    "radius",
    "score",
    "lower",
    "upper",
    "delta",
    "relative_delta",
)

SECTIONS = (("metrics", "metric"), ("attacks", "attack"), ("defences", "defence"), ("certifiers", "certifier"))
FORBIDDEN_KEYS = ("store", "cache", "device")
PATH_WORDS = ("path", "file", "weight", "root", "dir", "folder", "checkpoint", "ckpt", "url", "cache", "home")
PARAM_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
SAMPLE_KEYS = ("clusters", "per_cluster", "seed", "references")
LIMITS = {"batch_size": 4096, "chunk_size": 100_000, "eot_samples": 1000, "seed": 2**63 - 1}
MAX_TEXT = 200
MAX_LIST = 64
MAX_ROW_TEXT = 5000


class SubmissionRejected(SubmissionError):
    """The submission is malformed or hostile; nothing of it was run."""

    def __init__(self, problems: Sequence[str], *, where: str = "submission") -> None:
        self.problems = list(problems)
        if len(self.problems) == 1:
            super().__init__(f"{where} rejected: {self.problems[0]}")
            return
        shown = self.problems[:20]
        more = f"\n  ... and {len(self.problems) - 20} more" if len(self.problems) > 20 else ""
        listing = "\n".join(f"  - {p}" for p in shown)
        super().__init__(f"{where} rejected ({len(self.problems)} problem(s)):\n{listing}{more}")


# ---------------------------------------------------------------------------------------------- reading
@cache
def load_schema() -> dict[str, Any]:
    return packaged_schema(__package__ or "iqa_bench.submission", SCHEMA_RESOURCE)


def _constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows (non-finite scores are null)")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"the key {key[:80]!r} appears twice in one object (which one counts is ambiguous)")
        out[key] = value
    return out


def _scan(value: Any) -> tuple[int, str | None]:
    """Nesting depth of a JSON value and the path of its first non-finite number, if any (iterative:
    no recursion on hostile input; stops past :data:`MAX_DEPTH`). Only containers are stacked, so a
    run's millions of numbers cost one pass; the path is looked for only when there is a bad number."""
    if isinstance(value, float):
        return 0, None if math.isfinite(value) else "$"
    deepest, bad = 0, False
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > deepest:
            deepest = depth
            if deepest > MAX_DEPTH:
                break
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        for child in children:
            if isinstance(child, dict | list):
                stack.append((child, depth + 1))
            elif isinstance(child, float) and child - child != 0:  # inf - inf and nan - nan are nan
                bad = True
    if deepest > MAX_DEPTH or not bad:
        return deepest, None
    return deepest, _first_non_finite(value)


def _first_non_finite(value: Any) -> str:
    stack: list[tuple[Any, tuple[Any, ...]]] = [(value, ())]
    while stack:
        item, where = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return _path(where)
        if isinstance(item, dict):
            stack.extend((v, (*where, k)) for k, v in item.items())
        elif isinstance(item, list):
            stack.extend((v, (*where, i)) for i, v in enumerate(item))
    return "$"


def parse_envelope(text: str | bytes, *, where: str = "submission") -> Any:
    """Strict JSON: no NaN / Infinity, no overflow to infinity, no duplicate keys, bounded depth."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as error:
            raise SubmissionRejected([f"not UTF-8 text ({error})"], where=where) from error
    try:
        data = json.loads(text, parse_constant=_constant, object_pairs_hook=_unique_keys)
    except RecursionError as error:
        raise SubmissionRejected([f"nested too deeply to read (more than {MAX_DEPTH} levels)"], where=where) from error
    except ValueError as error:  # json.JSONDecodeError is a ValueError, as are the hooks' errors
        raise SubmissionRejected([f"not valid JSON: {error}"], where=where) from error
    depth, infinite = _scan(data)
    if depth > MAX_DEPTH:
        raise SubmissionRejected([f"nested deeper than {MAX_DEPTH} levels"], where=where)
    if infinite is not None:
        raise SubmissionRejected([f"at {infinite}: a number that overflows to infinity"], where=where)
    return data


def read_envelope(path: str | Path, *, max_bytes: int = MAX_BYTES) -> Any:
    """The parsed file, after the size check (nothing over ``max_bytes`` is read)."""
    path = Path(path)
    where = f"submission {str(path)!r}"
    if not path.is_file():
        raise SubmissionError(f"{path} is not a file: pass the JSON written by `iqa-bench submit`")
    size = path.stat().st_size
    if size > max_bytes:
        raise SubmissionRejected(
            [f"the file is {size} bytes, over the limit of {max_bytes} (raise it with --max-bytes if you trust it)"],
            where=where,
        )
    with open(path, "rb") as handle:
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:  # the file grew while it was read
        raise SubmissionRejected([f"the file is over the limit of {max_bytes} bytes"], where=where)
    return parse_envelope(data, where=where)


def _path(parts: Iterable[Any]) -> str:
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts)


def _schema_message(error: jsonschema.ValidationError) -> str:
    """The validator's message, or for a large value (whose repr it embeds) what is wrong with it."""
    if len(error.message) <= 300:
        return error.message
    value = error.instance
    size = f"a text of {len(value)} characters" if isinstance(value, str) else f"a {type(value).__name__}"
    if isinstance(value, list | dict):
        size += f" of {len(value)} items"
    return f"{size} fails the schema's {error.validator!r} rule (too long, too many items or the wrong type)"


def _row_problem(row: Any, width: int) -> str | None:
    """What is wrong with one stored row (``None``: nothing); fast, unlike a schema validator."""
    if not isinstance(row, list):
        return f": expected a list of {width} values, got {type(row).__name__}"
    if len(row) != width:
        return f": {len(row)} values, expected {width}"
    for column, value in enumerate(row):
        if value is None or (isinstance(value, int | float) and not isinstance(value, bool)):
            continue
        if isinstance(value, str):
            if len(value) > MAX_ROW_TEXT:
                return f"[{column}]: a text of {len(value)} characters (at most {MAX_ROW_TEXT})"
            continue
        return f"[{column}]: {type(value).__name__} values are not accepted (a number, a text or null)"
    return None


@cache
def _cell_schema() -> tuple[jsonschema.Draft202012Validator, int, int]:
    """A validator of one cell without its rows (``$ref`` inlined: resolving them per cell is slow),
    the most cells and the most rows per table the schema allows."""
    schema = load_schema()
    defs = schema["$defs"]

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return inline(defs[ref.removeprefix("#/$defs/")])
            return {k: inline(v) for k, v in node.items()}
        return [inline(v) for v in node] if isinstance(node, list) else node

    cells = schema["properties"]["cells"]
    return (
        jsonschema.Draft202012Validator(inline(cells["items"])),
        int(cells["maxItems"]),
        int(defs["rows"]["maxItems"]),
    )


def _cells_problems(cells: list[Any]) -> list[str]:
    validator, most_cells, most_rows = _cell_schema()
    if len(cells) > most_cells:
        return [f"at $.cells: a list of {len(cells)} items, over the schema's limit of {most_cells}"]
    problems: list[str] = []
    for index, cell in enumerate(cells):
        rows = {}
        if isinstance(cell, dict):
            rows = {name: cell.get(name) for name in ("results", "certificates")}
            cell = {**cell, **{name: [] for name, value in rows.items() if isinstance(value, list)}}
        for error in validator.iter_errors(cell):
            problems.append(f"at {_path(('cells', index, *error.absolute_path))}: {_schema_message(error)}")
        for name, value in rows.items():
            if isinstance(value, list) and len(value) > most_rows:
                problems.append(
                    f"at $.cells[{index}].{name}: a list of {len(value)} items, over the limit of {most_rows}"
                )
        if len(problems) >= 20:
            break
    return problems


def envelope_errors(envelope: Any) -> list[str]:
    """Every structural problem: schema, column lists, row widths, leaderboard entries (empty: valid)."""
    from ..leaderboard.entries import entry_errors

    if isinstance(envelope, list) or (
        isinstance(envelope, dict) and "submission_version" not in envelope and "method" in envelope
    ):
        return ["this is a leaderboard entry, not a submission: `iqa-bench submit RUN` writes the file to verify"]
    depth, infinite = _scan(envelope)
    if depth > MAX_DEPTH:
        return [f"at $: nested deeper than {MAX_DEPTH} levels"]
    if infinite is not None:
        return [f"at {infinite}: not a finite number (non-finite scores are null)"]
    validator = jsonschema.Draft202012Validator(load_schema())
    # The cells are validated one by one against their own (reference-free) schema, rows by Python:
    # a JSON Schema validator walking a large run's rows takes minutes.
    shallow = (
        {**envelope, "cells": []}
        if isinstance(envelope, dict) and isinstance(envelope.get("cells"), list)
        else envelope
    )
    problems = [
        f"at {_path(e.absolute_path)}: {_schema_message(e)}"
        for e in sorted(validator.iter_errors(shallow), key=lambda e: [str(p) for p in e.absolute_path])
    ]
    if shallow is not envelope:
        problems += _cells_problems(envelope["cells"])
    if problems:
        return problems
    columns = envelope["columns"]
    for name, expected in (("results", RESULT_COLUMNS), ("certificates", CERTIFICATE_COLUMNS)):
        if columns[name] != list(expected):
            problems.append(
                f"at $.columns.{name}: {columns[name]} are not this iqa-bench's columns {list(expected)} "
                "(the entry was written by another store schema)"
            )
    for index, cell in enumerate(envelope["cells"]):
        for name, expected in (("results", RESULT_COLUMNS), ("certificates", CERTIFICATE_COLUMNS)):
            for row_index, row in enumerate(cell[name]):
                problem = _row_problem(row, len(expected))
                if problem:
                    problems.append(f"at $.cells[{index}].{name}[{row_index}]{problem}")
                    break  # one per table of a cell
    for index, entry in enumerate(envelope["leaderboard"]):
        problems += [f"at $.leaderboard[{index}] {e.removeprefix('at $')}" for e in entry_errors(entry)]
    return problems


def check_envelope(envelope: Any, *, where: str = "submission") -> dict[str, Any]:
    """Raise :class:`SubmissionRejected` unless the envelope is well formed and its hash matches."""
    problems = envelope_errors(envelope)
    if problems:
        raise SubmissionRejected(problems, where=where)
    assert isinstance(envelope, dict)
    if provenance.sha256_json(envelope["config"]) != envelope["config_sha256"]:
        raise SubmissionRejected(["config_sha256 is not the hash of config: the config was changed"], where=where)
    actual = content_hash(envelope)
    if actual != envelope[HASH_FIELD]:
        raise SubmissionRejected(
            [
                f"content_sha256 is {envelope[HASH_FIELD]}, but the content hashes to {actual}: the file was changed "
                "after `iqa-bench submit` wrote it"
            ],
            where=where,
        )
    return envelope


# ---------------------------------------------------------------------------------------------- the config
def _relative_problems(value: Any, where: str) -> list[str]:
    if not isinstance(value, str) or not value or len(value) > 500 or "\x00" in value:
        return [f"{where}: expected a relative folder name, got {str(value)[:80]!r}"]
    pure = PurePosixPath(value)
    if "\\" in value or pure.is_absolute() or re.match(r"^[A-Za-z]:", value) or value.startswith("~"):
        return [f"{where}: {value!r} is an absolute path; a submission names folders relative to --data-root"]
    if ".." in pure.parts:
        return [f"{where}: {value!r} climbs out with '..'; a submission names folders inside --data-root"]
    return []


def _inside(path: Path, base: Path, where: str) -> list[str]:
    try:
        path.resolve().relative_to(base.resolve())
    except ValueError:
        return [f"{where}: {path} resolves outside {base} (a link?); verification reads only inside --data-root"]
    return []


def _param_problems(value: Any, where: str, *, nested: bool = False) -> list[str]:
    if value is None or isinstance(value, bool | int):
        return []
    if isinstance(value, float):
        return [] if math.isfinite(value) else [f"{where}: {value!r} is not finite"]
    if isinstance(value, str):
        if len(value) > MAX_TEXT:
            return [f"{where}: a text of {len(value)} characters (at most {MAX_TEXT})"]
        if "/" in value or "\\" in value or value.startswith(("~", ".")) or "\x00" in value:
            return [f"{where}: {value[:80]!r} looks like a path; verification loads no file an entry names"]
        return []
    if isinstance(value, list) and not nested:
        if len(value) > MAX_LIST:
            return [f"{where}: a list of {len(value)} values (at most {MAX_LIST})"]
        return [p for i, v in enumerate(value) for p in _param_problems(v, f"{where}[{i}]", nested=True)]
    return [f"{where}: {type(value).__name__} values are not accepted (numbers, booleans, short texts, lists)"]


def _component_problems(kind: str, entry: Any, where: str, available: Sequence[str]) -> list[str]:
    from iqa_core import registry

    if not isinstance(entry, dict):
        return [f"{where}: expected a mapping with 'name', got {type(entry).__name__}"]
    name = entry.get("name")
    if not isinstance(name, str) or len(name) > MAX_TEXT:
        return [f"{where}.name: expected a registry name"]
    if registry.normalise_name(name) not in available:
        shown = ", ".join(available[:30]) + (" ..." if len(available) > 30 else "")
        return [
            f"{where}.name: unknown {kind} {name[:80]!r}: verification builds only components installed here, by "
            f"registry name (installed: {shown or 'none'}); install the package that provides it"
        ]
    problems: list[str] = []
    presets = entry.get("presets", [])
    if (
        not isinstance(presets, list)
        or len(presets) > MAX_LIST
        or not all(isinstance(p, str) and len(p) <= MAX_TEXT for p in presets)
    ):
        problems.append(f"{where}.presets: expected a list of preset names")
    params = entry.get("params", {})
    if not isinstance(params, dict) or len(params) > MAX_LIST:
        return [*problems, f"{where}.params: expected a mapping of at most {MAX_LIST} parameters"]
    for key, value in params.items():
        if not PARAM_NAME.match(key):
            problems.append(f"{where}.params: {key[:80]!r} is not a parameter name")
        elif any(word in key.lower() for word in PATH_WORDS):
            problems.append(
                f"{where}.params.{key}: names a file or folder; verification loads only the weights installed "
                "here (drop the parameter, install the weights)"
            )
        else:
            problems += _param_problems(value, f"{where}.params.{key}")
    images = entry.get("images")
    if images is not None and not (isinstance(images, int) and 1 <= images <= 10**6):
        problems.append(f"{where}.images: expected an integer 1 .. 1000000")
    return problems


def _dataset_problems(entry: Any, where: str, data_root: Path | None) -> list[str]:
    if not isinstance(entry, dict):
        return [f"{where}: expected a mapping, got {type(entry).__name__}"]
    kind = entry.get("kind")
    if kind not in DATASET_KINDS:
        return [f"{where}.kind: expected one of {', '.join(DATASET_KINDS)}, got {str(kind)[:40]!r}"]
    problems: list[str] = []
    name = entry.get("name", kind)
    if not isinstance(name, str) or not name or len(name) > MAX_TEXT:
        problems.append(f"{where}.name: expected a short name")
    sample = entry.get("sample")
    if sample is not None:
        if not isinstance(sample, dict) or set(sample) - set(SAMPLE_KEYS):
            problems.append(f"{where}.sample: expected a mapping of {', '.join(SAMPLE_KEYS)}")
        elif not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 10**6 for v in sample.values()):
            problems.append(f"{where}.sample: values must be integers 0 .. 1000000")
    if kind == "demo":
        extra = {"root", "csv"} & set(entry)
        if extra:
            problems.append(f"{where}: the demo dataset is generated; {sorted(extra)} are not accepted")
        return problems
    root = entry.get("root")
    problems += _relative_problems(root, f"{where}.root")
    if entry.get("csv") is not None:
        problems += _relative_problems(entry.get("csv"), f"{where}.csv")
    if problems:
        return problems
    if data_root is None:
        return [
            f"{where}: dataset {name!r} ({kind}) reads image files: pass --data-root DIR, the folder holding {root}"
        ]
    folder = data_root / str(root)
    problems += _inside(folder, data_root, f"{where}.root")
    if entry.get("csv") is not None:
        problems += _inside(folder / str(entry["csv"]), data_root, f"{where}.csv")
    return problems


def config_problems(raw: Any, data_root: Path | None) -> list[str]:
    """Why verifying this embedded config could read outside ``data_root`` or run foreign code."""
    from iqa_core import registry

    if not isinstance(raw, dict):
        return [f"config: expected a mapping, got {type(raw).__name__}"]
    problems: list[str] = []
    for key in raw:
        if key in FORBIDDEN_KEYS:
            problems.append(
                f"config.{key}: a submission may not set it (verification writes to a temporary folder, "
                "on the device chosen with --device)"
            )
        elif key not in CONFIG_KEYS:
            problems.append(f"config.{str(key)[:80]}: unknown key")
    name = raw.get("name", "bench")
    if not isinstance(name, str) or not name or len(name) > MAX_TEXT:
        problems.append(f"config.name: expected a name of 1 .. {MAX_TEXT} characters")
    for key, top in LIMITS.items():
        value = raw.get(key)
        if value is not None and not (isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= top):
            problems.append(f"config.{key}: expected an integer 0 .. {top}, got {str(value)[:40]!r}")
    for section, kind in SECTIONS:
        entries = raw.get(section, [])
        if not isinstance(entries, list) or len(entries) > MAX_LIST:
            problems.append(f"config.{section}: expected a list of at most {MAX_LIST} components")
            continue
        available = [registry.normalise_name(n) for n in registry.available(kind)]
        for i, entry in enumerate(entries):
            problems += _component_problems(kind, entry, f"config.{section}[{i}]", available)
    datasets = raw.get("datasets")
    if not isinstance(datasets, list) or not datasets or len(datasets) > MAX_LIST:
        problems.append("config.datasets: expected a non-empty list")
    else:
        for i, entry in enumerate(datasets):
            problems += _dataset_problems(entry, f"config.datasets[{i}]", data_root)
    return problems


def safe_config(raw: Any, *, data_root: Path | None, workdir: Path, device: str) -> BenchConfig:
    """The embedded config, checked (:func:`config_problems`) and parsed to run in ``workdir``."""
    from ..config import ConfigError, parse_config

    problems = config_problems(raw, data_root)
    if problems:
        raise SubmissionRejected(problems, where="the submission's config")
    local = dict(raw)
    local["datasets"] = [
        {**d, "root": str(data_root / d["root"])} if d.get("kind") != "demo" and data_root is not None else dict(d)
        for d in raw["datasets"]
    ]
    local.update(store=str(workdir / "results.sqlite"), cache=str(workdir / "cache"), device=device)
    try:
        return parse_config(local)
    except ConfigError as error:
        raise SubmissionRejected([str(error)], where="the submission's config") from error


# ---------------------------------------------------------------------------------------------- comparing
@dataclass(frozen=True)
class Tolerance:
    """``|entry - here| <= atol + rtol * |entry|``; ``rtol = atol = 0`` is exact equality."""

    rtol: float
    atol: float

    @property
    def exact(self) -> bool:
        return self.rtol == 0 and self.atol == 0

    def agree(self, then: Any, here: Any) -> bool:
        if then is None or here is None or isinstance(then, str) or isinstance(here, str):
            return bool(then == here)
        if self.exact:
            return bool(then == here)
        return abs(float(here) - float(then)) <= self.atol + self.rtol * abs(float(then))

    def describe(self) -> str:
        return "exact" if self.exact else f"rtol {self.rtol:g}, atol {self.atol:g}"


def choose_tolerance(entry_device: str, here_device: str, rtol: float | None, atol: float | None) -> Tolerance:
    """Exact when both sides ran on a CPU and no tolerance is given; else the defaults or the given ones."""
    if rtol is None and atol is None and entry_device == "cpu" and here_device == "cpu":
        return Tolerance(0.0, 0.0)
    return Tolerance(DEFAULT_RTOL if rtol is None else rtol, DEFAULT_ATOL if atol is None else atol)


def _keyed(rows: Sequence[Sequence[Any]], columns: Sequence[str], key: Sequence[str]) -> dict[tuple[Any, ...], dict]:
    index = [columns.index(k) for k in key]
    return {tuple(row[i] for i in index): dict(zip(columns, row, strict=True)) for row in rows}


def _label(key: tuple[Any, ...], names: Sequence[str]) -> str:
    parts = dict(zip(names, key, strict=True))
    text = f"image {parts['image']}"
    if "defence" in parts:
        text += f", defence {parts['defence']}[{parts['defence_preset']}]"
    if "certifier" in parts:
        text += f", certifier {parts['certifier']}[{parts['certifier_preset']}]"
    return text


def compare_rows(
    then: Sequence[Sequence[Any]],
    here: Sequence[Sequence[Any]],
    columns: Sequence[str],
    key: Sequence[str],
    compared: Sequence[str],
    tolerance: Tolerance,
) -> tuple[list[str], int]:
    """Differences between an entry's rows and recomputed ones, and how many values were compared."""
    a, b = _keyed(then, columns, key), _keyed(here, columns, key)
    problems = [f"{_label(k, key)}: in the entry, not recomputed here" for k in sorted(set(a) - set(b), key=str)]
    problems += [f"{_label(k, key)}: recomputed here, absent from the entry" for k in sorted(set(b) - set(a), key=str)]
    count = 0
    for k in sorted(set(a) & set(b), key=str):
        if a[k].get("status") != b[k].get("status"):
            problems.append(
                f"{_label(k, key)}: status {a[k].get('status')!r} in the entry, {b[k].get('status')!r} here"
            )
            continue
        for column in compared:
            count += 1
            if not tolerance.agree(a[k][column], b[k][column]):
                problems.append(f"{_label(k, key)}: {column} is {a[k][column]!r} in the entry, {b[k][column]!r} here")
    return problems, count


def _differences(then: Any, here: Any, where: str = "$", rtol: float = 1e-9) -> list[str]:
    """Where two JSON values differ (numbers within ``rtol``)."""
    if isinstance(then, dict) and isinstance(here, dict):
        out = [f"{where}.{k}: only in the entry" for k in then if k not in here]
        out += [f"{where}.{k}: only in the recomputed leaderboard" for k in here if k not in then]
        return out + [d for k in then if k in here for d in _differences(then[k], here[k], f"{where}.{k}", rtol)]
    if isinstance(then, list) and isinstance(here, list):
        if len(then) != len(here):
            return [f"{where}: {len(then)} items in the entry, {len(here)} recomputed"]
        return [d for i, (x, y) in enumerate(zip(then, here, strict=True)) for d in _differences(x, y, f"{where}[{i}]")]
    numbers = (int, float)
    if isinstance(then, numbers) and isinstance(here, numbers) and not isinstance(then, bool):
        return [] if math.isclose(then, here, rel_tol=rtol, abs_tol=1e-12) else [f"{where}: {then!r} vs {here!r}"]
    return [] if then == here else [f"{where}: {then!r} vs {here!r}"]


def bounds_problems(config: BenchConfig, recorded: Mapping[str, Mapping[str, Any]]) -> tuple[list[str], list[str]]:
    """``(errors, warnings)``: the entry's metric bounds and directions against this machine's.

    Bounds scale D and R, so a changed bound with a leaderboard rebuilt from it would pass every
    other check. ``bounds: catalogue`` bounds come from the metric itself (must match);
    ``bounds: measured`` ones from this machine's bounds cache (a warning when it has none).
    """
    from iqa_core import create

    from ..bounds import cached_bounds

    errors: list[str] = []
    warnings: list[str] = []
    if set(recorded) != {m.name for m in config.metrics}:
        errors.append(
            f"bounds are given for {sorted(recorded)}, the config's metrics are {[m.name for m in config.metrics]}"
        )
    for spec in config.metrics:
        then = recorded.get(spec.name)
        if then is None:
            continue
        metric = create("metric", spec.name, **spec.params)
        lower, upper = float(metric.bounds.lower), float(metric.bounds.upper)
        if config.bounds == "measured":
            try:
                report = cached_bounds(spec.name)
            except Exception:  # noqa: BLE001 - not measured here: nothing to compare with
                warnings.append(
                    f"bounds of {spec.name}: measured bounds are not cached here (`iqa-bench bounds {spec.name} "
                    "--images DIR` measures them); the entry's are taken as given"
                )
                lower, upper = float(then["lower"]), float(then["upper"])
            else:
                lower, upper = float(report["lower"]), float(report["upper"])
        here = (lower, upper, bool(metric.higher_is_better))
        entry = (float(then["lower"]), float(then["upper"]), bool(then["higher_is_better"]))
        if not all(
            math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12) for a, b in zip(entry[:2], here[:2], strict=True)
        ) or (entry[2] != here[2]):
            errors.append(
                f"bounds of {spec.name}: the entry has lower {entry[0]}, upper {entry[1]}, higher is better "
                f"{entry[2]}; here {here[0]}, {here[1]}, {here[2]} (bounds scale D and R)"
            )
    return errors, warnings


# ---------------------------------------------------------------------------------------------- verifying
@dataclass
class CellCheck:
    """One re-run cell: its unit, whether it agrees, what differs."""

    unit: list[Any]
    label: str
    agree: bool
    compared: int
    problems: list[str] = field(default_factory=list)
    fingerprint_matches: bool = True


@dataclass
class VerifyReport:
    cells: list[CellCheck]
    total_cells: int
    seed: int
    tolerance: Tolerance
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """All sampled cells agree and no error (leaderboard, dataset, weights) was found."""
        return all(c.agree for c in self.cells) and not self.errors

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "seed": self.seed,
            "tolerance": {"rtol": self.tolerance.rtol, "atol": self.tolerance.atol, "exact": self.tolerance.exact},
            "total_cells": self.total_cells,
            "sampled": len(self.cells),
            "agreeing": sum(c.agree for c in self.cells),
            "errors": self.errors,
            "warnings": self.warnings,
            "cells": [
                {
                    "unit": c.unit,
                    "label": c.label,
                    "agree": c.agree,
                    "values_compared": c.compared,
                    "fingerprint_matches": c.fingerprint_matches,
                    "problems": c.problems,
                }
                for c in self.cells
            ],
        }


def cell_label(unit: Sequence[Any]) -> str:
    """``non-adaptive toy/toy-metric chunk 0: toy-sign[weak]`` (adaptive: ``... vs toy-blur[k3]``)."""
    kind, dataset, metric, chunk, component, preset, defence, defence_preset = unit
    text = f"{kind} {dataset}/{metric} chunk {chunk}"
    if kind != "clean":
        text += f": {component}[{preset}]"
    if kind == "adaptive":
        text += f" vs {defence}[{defence_preset}]"
    return text


def _plain_rows(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> list[list[Any]]:
    from .submit import _json_value

    return [[_json_value(row.get(c)) for c in columns] for row in rows]


def verify_submission(
    envelope: Mapping[str, Any],
    *,
    sample: int = DEFAULT_SAMPLE,
    seed: int | None = None,
    rtol: float | None = None,
    atol: float | None = None,
    data_root: Path | None = None,
    device: str = "cpu",
    say: Callable[[str], None] | None = None,
) -> VerifyReport:
    """Re-run ``sample`` random cells of a checked envelope (:func:`check_envelope`) and compare."""
    from ..planning import Unit
    from ..runner import Runner
    from ..store import ResultStore

    say = say or (lambda _m: None)
    if sample < 1:
        raise SubmissionError(f"--sample must be >= 1, got {sample}")
    seed = random.SystemRandom().randrange(2**31) if seed is None else seed
    cells = list(envelope["cells"])
    with tempfile.TemporaryDirectory(prefix="iqa-verify-") as tmp:
        workdir = Path(tmp)
        config = safe_config(envelope["config"], data_root=data_root, workdir=workdir, device=device)
        with ResultStore(config.store_path) as store:
            runner = Runner(config, store, progress=False, say=say)
            units = runner.load()
            planned = {u.id: u for u in units}
            by_id: dict[str, Mapping[str, Any]] = {}
            for index, cell in enumerate(cells):
                unit_id = Unit(*cell["unit"]).id
                if unit_id not in planned:
                    raise SubmissionRejected(
                        [f"cells[{index}] ({cell_label(cell['unit'])}) is not a unit of its config"]
                    )
                if unit_id in by_id:
                    raise SubmissionRejected([f"cells[{index}] ({cell_label(cell['unit'])}) appears twice"])
                by_id[unit_id] = cell
            absent = [u for u in units if u.id not in by_id]
            if absent and config.sufficient is None:  # a `sufficient:` run leaves the units it did not need
                raise SubmissionRejected(
                    [f"{len(absent)} of {len(units)} units of its config have no cell (first: {absent[0].id})"]
                )
            errors: list[str] = []
            warnings: list[str] = []
            rebuilt = leaderboard(cells, envelope["bounds"])
            differences = _differences(envelope["leaderboard"], rebuilt)
            if differences:
                shown = "; ".join(differences[:5]) + (
                    f"; ... ({len(differences) - 5} more)" if len(differences) > 5 else ""
                )
                written_by = str(envelope["tool"]["version"])
                if written_by != __version__:
                    shown += (
                        f" (the entry was written by iqa-bench {written_by}, this is {__version__}: if the "
                        "leaderboard's definition changed between them, verify with the version that wrote it)"
                    )
                errors.append(f"the leaderboard is not what the cells' rows give: {shown}")
            say("recomputing provenance here: weight hashes, dataset manifest")
            here = {
                "packages": provenance.package_versions(),
                "weights": provenance.weight_hashes(config),
                "datasets": provenance.dataset_manifest(config, runner.items),
                "device": provenance.device_info(device),
            }
            more_errors, more_warnings = provenance.compare(envelope["provenance"], here)
            errors += more_errors
            warnings += more_warnings
            more_errors, more_warnings = bounds_problems(runner.config, envelope["bounds"])
            errors += more_errors
            warnings += more_warnings
            tolerance = choose_tolerance(
                str(envelope["provenance"]["device"].get("type")), runner.device.type, rtol, atol
            )
            order = {u.id: i for i, u in enumerate(units)}
            chosen = random.Random(seed).sample(  # noqa: S311 - a reproducible draw, not a secret
                sorted(by_id), min(sample, len(by_id))
            )
            checks = []
            for unit_id in sorted(chosen, key=order.__getitem__):
                unit, cell = planned[unit_id], by_id[unit_id]
                label = cell_label(cell["unit"])
                say(f"re-running {label}")
                results, certificates = runner.compute(unit)
                problems, compared = compare_rows(
                    cell["results"],
                    _plain_rows(results, RESULT_COLUMNS),
                    RESULT_COLUMNS,
                    RESULT_KEY,
                    RESULT_COMPARED,
                    tolerance,
                )
                more, counted = compare_rows(
                    cell["certificates"],
                    _plain_rows(certificates, CERTIFICATE_COLUMNS),
                    CERTIFICATE_COLUMNS,
                    CERTIFICATE_KEY,
                    CERTIFICATE_COMPARED,
                    tolerance,
                )
                fingerprint = runner.identity.fingerprint(unit, runner.unit_items(unit))
                checks.append(
                    CellCheck(
                        list(cell["unit"]),
                        label,
                        not (problems or more),
                        compared + counted,
                        problems + more,
                        fingerprint == cell["fingerprint"],
                    )
                )
            changed = [c.label for c in checks if not c.fingerprint_matches]
            if changed:
                warnings.append(
                    f"{len(changed)} sampled cells have another fingerprint here (component versions or parameters "
                    f"differ from the entry's), first: {changed[0]}"
                )
    return VerifyReport(checks, len(cells), seed, tolerance, errors, warnings)


def write_board(envelope: Mapping[str, Any], report: VerifyReport | None, out: Path) -> list[Path]:
    """The submission's leaderboard page (``leaderboard.html``, ``entries/``) in ``out``, built from its
    cells' rows; the title says whether and how it was verified."""
    from ..report import build_report, write_html
    from .submit import rows_of

    results, certificates = rows_of(envelope["cells"])
    bounds = envelope["bounds"]
    built = build_report(
        results,
        certificates,
        {m: (float(b["lower"]), float(b["upper"])) for m, b in bounds.items()},
        directions={m: bool(b["higher_is_better"]) for m, b in bounds.items()},
    )
    name = envelope["config"].get("name", "run")
    if report is None:
        status = "not verified"
    else:
        agreeing = sum(c.agree for c in report.cells)
        verdict = "verified" if report.ok else "NOT verified"
        status = f"{verdict}: {agreeing} of {len(report.cells)} re-run cells agree ({report.tolerance.describe()})"
    title = f"iqa-bench submission {name} ({envelope['created']}, {status})"
    out.mkdir(parents=True, exist_ok=True)
    return write_html(built, out, title)


def format_report(report: VerifyReport) -> str:
    """The report as text: one line per cell, problems indented, then errors, warnings, the verdict."""
    lines = [
        f"re-ran {len(report.cells)} of {report.total_cells} cells (seed {report.seed}; tolerance "
        f"{report.tolerance.describe()})"
    ]
    for check in report.cells:
        verdict = "agrees" if check.agree else f"DISAGREES ({len(check.problems)} difference(s))"
        lines.append(f"  {check.label}: {verdict} ({check.compared} values compared)")
        lines += [f"      {p}" for p in check.problems[:10]]
        if len(check.problems) > 10:
            lines.append(f"      ... and {len(check.problems) - 10} more")
    lines += [f"error: {e}" for e in report.errors]
    lines += [f"warning: {w}" for w in report.warnings]
    agreeing = sum(c.agree for c in report.cells)
    verdict = "VERIFIED" if report.ok else "NOT VERIFIED"
    lines.append(f"{verdict}: {agreeing} of {len(report.cells)} sampled cells agree, {len(report.errors)} error(s)")
    return "\n".join(lines)


__all__ = [
    "DEFAULT_ATOL",
    "DEFAULT_RTOL",
    "MAX_BYTES",
    "MAX_DEPTH",
    "CellCheck",
    "SubmissionRejected",
    "Tolerance",
    "VerifyReport",
    "bounds_problems",
    "check_envelope",
    "choose_tolerance",
    "config_problems",
    "envelope_errors",
    "format_report",
    "parse_envelope",
    "read_envelope",
    "safe_config",
    "verify_submission",
    "write_board",
]
