"""Hostile inputs: random configs, score files, image folders and command lines end in a result or a
clear error (ConfigError / DatasetLayoutError / exit status 2), never in a traceback or a silent wrong value."""

from __future__ import annotations

import math
import string

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from iqa_bench.cli import main
from iqa_bench.config import CONFIG_KEYS, BenchConfig, ConfigError, parse_config
from iqa_bench.datasets import DatasetLayoutError, folder
from iqa_bench.validation import grid_problems
from iqa_core.images import load_folder

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(string.printable, max_size=12),
)
junk = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)

KEYS = list(CONFIG_KEYS)


def _valid(tmp_path) -> dict:
    return {
        "name": "h",
        "datasets": [{"name": "d", "kind": "demo", "limit": 4}],
        "metrics": ["toy-metric"],
        "attacks": [{"name": "toy-sign", "presets": ["weak"]}],
        "defences": [{"name": "toy-blur", "presets": ["k3"]}],
        "device": "cpu",
        "store": str(tmp_path / "s.sqlite"),
    }


@SETTINGS
@given(raw=junk)
def test_any_top_level_value_is_a_config_or_a_config_error(raw):
    try:
        config = parse_config(raw)
    except ConfigError:
        return
    assert isinstance(config, BenchConfig)


@SETTINGS
@given(
    key=st.sampled_from(KEYS),
    value=junk,
    entry_key=st.sampled_from(["name", "presets", "params", "images", "kind", "limit", "bogus"]),
)
def test_one_corrupted_field_is_a_config_error_naming_it_or_valid(tmp_path, toy_plugins, key, value, entry_key):
    raw = _valid(tmp_path)
    raw[key] = value
    if key in ("attacks", "defences") and isinstance(value, dict):
        raw[key] = [{"name": "toy-sign" if key == "attacks" else "toy-blur", entry_key: value}]
    try:
        config = parse_config(raw)
    except ConfigError as error:
        assert str(error)
        return
    problems = grid_problems(config)  # never raises: every problem is a line
    assert all(isinstance(p, str) and p for p in problems)


names = st.text(string.ascii_letters + string.digits + " ._-,\"'=+@", min_size=0, max_size=10)
mos_values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr), st.text(string.printable, max_size=6), st.just("")
)


@SETTINGS
@given(rows=st.lists(st.tuples(names, mos_values), min_size=1, max_size=8))
def test_score_files_give_unique_items_with_finite_mos_or_an_error(tmp_path, rows):
    root = tmp_path / "csv"
    root.mkdir(exist_ok=True)
    with open(root / "mos.csv", "w", newline="") as handle:
        import csv

        writer = csv.writer(handle)
        writer.writerow(["name", "mos"])
        writer.writerows(rows)
    try:
        items = folder(root, "mos.csv")
    except DatasetLayoutError as error:
        assert "line" in str(error) or "lacks columns" in str(error)
        return
    assert len({item.id for item in items}) == len(items)
    assert all(math.isfinite(item.mos) for item in items)


@SETTINGS
@given(
    files=st.lists(
        st.one_of(
            st.binary(max_size=64).map(lambda b: ("bin", b)),
            st.tuples(st.sampled_from(["L", "RGB", "RGBA", "P", "I;16", "CMYK"]), st.integers(1, 9), st.integers(1, 9)),
        ),
        min_size=1,
        max_size=5,
    )
)
def test_image_folders_decode_what_can_be_decoded_and_name_the_rest(tmp_path, files):
    root = tmp_path / "imgs"
    root.mkdir(exist_ok=True)
    for old in root.iterdir():
        old.unlink()
    for k, spec in enumerate(files):
        if spec[0] == "bin":
            (root / f"f{k}.png").write_bytes(spec[1])
            continue
        mode, h, w = spec
        suffix = ".jpg" if mode == "CMYK" else ".png"
        array = np.random.default_rng(k).integers(0, 255, size=(h, w), dtype=np.uint8)
        Image.fromarray(array).convert(mode).save(root / f"f{k}{suffix}")
    loaded, failed = load_folder(root)
    assert len(loaded) + len(failed) == len(files)
    for _, image in loaded:
        assert image.ndim == 3 and image.shape[0] == 3 and float(image.min()) >= 0 and float(image.max()) <= 1
    for path, error in failed:
        assert path.name in error


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=junk)
def test_the_cli_never_ends_in_a_traceback_on_a_hostile_config(tmp_path, toy_plugins, capsys, raw):
    path = tmp_path / "c.yaml"
    try:
        path.write_text(yaml.safe_dump(raw))
    except yaml.YAMLError:
        return
    status = main(["run", str(path), "--dry-run", "--no-progress"])
    err = capsys.readouterr().err
    assert status == 2 and err.startswith("iqa-bench: error: ") and "Traceback" not in err


def test_quickstart_limit_zero_is_a_clear_error(capsys):
    assert main(["quickstart", "--limit", "0", "--no-progress"]) == 2
    assert "--limit must be an integer >= 2" in capsys.readouterr().err


@pytest.mark.parametrize("text", ["{{{", "- [", "a: b: c", "\x00"])
def test_a_config_that_is_not_yaml_is_a_clear_error(tmp_path, capsys, text):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    assert main(["run", str(path), "--dry-run"]) == 2
    assert "iqa-bench: error:" in capsys.readouterr().err


def test_csv_header_cells_are_escaped_against_formula_injection(tmp_path):
    import csv

    from iqa_bench.leaderboard.tables import write_csv

    path = write_csv([{"=HYPERLINK(1)": "=cmd|' /C calc'!A0", "ok": 1}], tmp_path / "t.csv")
    header, row = list(csv.reader(path.open()))
    assert header == ["'=HYPERLINK(1)", "ok"] and row == ["'=cmd|' /C calc'!A0", "1"]


@pytest.mark.parametrize("depth", [40, 5000])
def test_a_deeply_nested_submission_is_refused_not_a_recursion_error(tmp_path, depth):
    from iqa_bench.leaderboard.entries import EntryValidationError, load_entries

    path = tmp_path / "entry.json"
    path.write_text("[" * depth + "]" * depth)
    with pytest.raises(EntryValidationError, match="nested"):
        load_entries(path)
