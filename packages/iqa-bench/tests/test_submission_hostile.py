"""Hostile or malformed submissions are rejected with a message naming the problem, one test per class;
nothing of a rejected submission is built or run."""

from __future__ import annotations

import copy
import json
import os

import pytest
from _grids import run_grid, toy_grid

from iqa_bench.config import parse_config
from iqa_bench.schema import RESULT_COLUMNS
from iqa_bench.submission import (
    SubmissionRejected,
    build_submission,
    check_envelope,
    content_hash,
    read_envelope,
    seal,
)
from iqa_bench.submission.verify import config_problems, parse_envelope, verify_submission


@pytest.fixture(scope="module")
def submitted(tmp_path_factory):
    """A small finished toy run (clean + non-adaptive, one defence) and its valid submission."""
    import numpy as np
    from _toy_plugins import register_toys
    from PIL import Image

    register_toys()
    tmp = tmp_path_factory.mktemp("hostile")
    folder = tmp / "data" / "images"
    folder.mkdir(parents=True)
    for i in range(3):
        Image.fromarray(np.full((16, 16, 3), 60 * i + 20, dtype=np.uint8)).save(folder / f"i{i}.png")
    (folder / "mos.csv").write_text("name,mos\ni0.png,1\ni1.png,2\ni2.png,3\n")
    raw = toy_grid(tmp, folder, mode="non-adaptive", defences=[{"name": "toy-quantize"}], chunk_size=8)
    config = parse_config(raw)
    run_grid(config)
    envelope = build_submission(config, data_root=tmp / "data")
    assert envelope["config"]["datasets"][0]["root"] == "images"
    return tmp / "data", envelope


def _resealed(envelope, change):
    """A copy changed by ``change`` and re-hashed (a forger who recomputes the hash)."""
    out = copy.deepcopy(envelope)
    change(out)
    return seal(out)


def _rejected(envelope, data_root, match):
    """The submission passes the structural checks but its config is refused before anything is built."""
    check_envelope(envelope)
    with pytest.raises(SubmissionRejected, match=match):
        verify_submission(envelope, sample=1, seed=0, data_root=data_root)


def test_the_valid_submission_verifies(submitted):
    data_root, envelope = submitted
    assert verify_submission(check_envelope(envelope), sample=2, seed=0, data_root=data_root).ok


def test_invalid_json_is_rejected(tmp_path):
    path = tmp_path / "entry.json"
    path.write_text('{"submission_version": 1, "cells": [')
    with pytest.raises(SubmissionRejected, match="not valid JSON"):
        read_envelope(path)
    path.write_bytes(b"\xff\xfe{}")
    with pytest.raises(SubmissionRejected, match="not UTF-8"):
        read_envelope(path)


def test_non_finite_numbers_are_rejected():
    with pytest.raises(SubmissionRejected, match="NaN is not a number JSON allows"):
        parse_envelope('{"a": NaN}')
    with pytest.raises(SubmissionRejected, match="Infinity"):
        parse_envelope('{"a": [1, -Infinity]}')
    with pytest.raises(SubmissionRejected, match=r"at \$\.a\[1\]: a number that overflows to infinity"):
        parse_envelope('{"a": [0, 1e400]}')


def test_duplicate_keys_are_rejected():
    with pytest.raises(SubmissionRejected, match="appears twice"):
        parse_envelope('{"content_sha256": "a", "content_sha256": "b"}')


def test_absurd_sizes_are_rejected_before_reading(tmp_path, submitted):
    _, envelope = submitted
    path = tmp_path / "entry.json"
    path.write_text(json.dumps(envelope))
    with pytest.raises(SubmissionRejected, match=r"over the limit of 1000 .*--max-bytes"):
        read_envelope(path, max_bytes=1000)
    assert read_envelope(path) == envelope
    # too many cells, rows or columns, or texts too long: the schema's limits
    huge = copy.deepcopy(envelope)
    error_column = RESULT_COLUMNS.index("error")
    huge["cells"][0]["results"][0][error_column] = "x" * 6000
    where = rf"cells\[0\]\.results\[0\]\[{error_column}\]: a text of 6000 characters"
    with pytest.raises(SubmissionRejected, match=where):
        check_envelope(huge)
    flag = copy.deepcopy(envelope)
    flag["cells"][0]["results"][0][9] = True
    with pytest.raises(SubmissionRejected, match=r"results\[0\]\[9\]: bool values are not accepted"):
        check_envelope(flag)
    many = copy.deepcopy(envelope)
    many["cells"][0]["results"] = [many["cells"][0]["results"][0]] * 100_001
    with pytest.raises(SubmissionRejected, match=r"cells\[0\]\.results: a list of 100001 items, over the limit"):
        check_envelope(many)


def test_deep_nesting_is_rejected(tmp_path):
    with pytest.raises(SubmissionRejected, match="nested"):
        parse_envelope("[" * 100_000 + "]" * 100_000)
    with pytest.raises(SubmissionRejected, match="nested deeper than 32"):
        parse_envelope("[" * 40 + "]" * 40)


def test_schema_violations_are_rejected_naming_the_field(submitted):
    _, envelope = submitted
    broken = copy.deepcopy(envelope)
    del broken["provenance"]["weights"]
    broken["cells"][0]["unit"][3] = "zero"
    with pytest.raises(SubmissionRejected) as error:
        check_envelope(broken)
    message = str(error.value)
    assert "at $.provenance: 'weights' is a required property" in message
    assert "at $.cells[0].unit[3]: 'zero' is not of type 'integer'" in message
    # rows of another width, and leaderboard entries that break entry.schema.json
    narrow = copy.deepcopy(envelope)
    narrow["cells"][0]["results"][0] = narrow["cells"][0]["results"][0][:-1]
    width = len(RESULT_COLUMNS)
    with pytest.raises(SubmissionRejected, match=rf"cells\[0\]\.results\[0\]: {width - 1} values, expected {width}"):
        check_envelope(narrow)
    bad_entry = copy.deepcopy(envelope)
    bad_entry["leaderboard"][0]["link"] = "javascript:alert(1)"
    with pytest.raises(SubmissionRejected, match=r"leaderboard\[0\] \.link: .* does not match"):
        check_envelope(bad_entry)


def test_a_leaderboard_entry_is_not_a_submission(submitted):
    _, envelope = submitted
    with pytest.raises(SubmissionRejected, match="leaderboard entry, not a submission"):
        check_envelope(envelope["leaderboard"][0])


def test_a_wrong_content_hash_is_rejected(submitted):
    _, envelope = submitted
    changed = copy.deepcopy(envelope)
    changed["bounds"]["toy-metric"]["upper"] += 1.0  # the bounds scale D: a quiet way to move every score
    with pytest.raises(SubmissionRejected, match=r"content_sha256 .* the file was changed after"):
        check_envelope(changed)


def test_a_config_that_does_not_match_its_hash_is_rejected(submitted):
    _, envelope = submitted

    changed = copy.deepcopy(envelope)
    changed["config"]["seed"] = 1
    changed["content_sha256"] = content_hash(changed)  # the content hash recomputed, the config's own hash not
    with pytest.raises(SubmissionRejected, match="config_sha256 is not the hash of config"):
        check_envelope(changed)


def test_unknown_components_are_rejected(submitted):
    data_root, envelope = submitted

    def change(e):
        e["config"]["defences"][0]["name"] = "evil-defence"

    _rejected(_resealed(envelope, change), data_root, r"unknown defence 'evil-defence'.*installed")


def test_parameters_naming_files_or_holding_paths_are_rejected(submitted):
    data_root, envelope = submitted

    def weights(e):
        e["config"]["metrics"][0]["params"] = {"weights": "model.pt"}

    _rejected(_resealed(envelope, weights), data_root, r"params\.weights: names a file")

    def path_value(e):
        e["config"]["defences"][0]["params"] = {"levels": "../../etc/passwd"}

    _rejected(_resealed(envelope, path_value), data_root, "looks like a path")

    def nested(e):
        e["config"]["defences"][0]["params"] = {"levels": {"__class__": "os.system"}}

    _rejected(_resealed(envelope, nested), data_root, "dict values are not accepted")


def test_dataset_paths_outside_the_data_root_are_rejected(submitted, tmp_path):
    data_root, envelope = submitted
    for root, match in (("/etc", "absolute path"), ("../..", "climbs out"), ("C:/data", "absolute path")):

        def change(e, root=root):
            e["config"]["datasets"][0]["root"] = root

        _rejected(_resealed(envelope, change), data_root, match)

    def csv(e):
        e["config"]["datasets"][0]["csv"] = "/etc/passwd"

    _rejected(_resealed(envelope, csv), data_root, r"csv: '/etc/passwd' is an absolute path")
    # a link inside the data root that leads out of it
    outside = tmp_path / "secret"
    outside.mkdir()
    os.symlink(outside, data_root / "link")

    def link(e):
        e["config"]["datasets"][0]["root"] = "link"

    _rejected(_resealed(envelope, link), data_root, "resolves outside")
    # without --data-root a folder dataset is not read at all
    _rejected(envelope, None, "pass --data-root")


def test_store_cache_and_device_may_not_be_set(submitted):
    data_root, envelope = submitted

    def change(e):
        e["config"].update(store="/tmp/x.sqlite", cache="/tmp/x", device="cuda:7")

    changed = _resealed(envelope, change)
    problems = config_problems(changed["config"], data_root)
    assert [p.split(":")[0] for p in problems] == ["config.store", "config.cache", "config.device"]
    _rejected(changed, data_root, "verification writes to a temporary folder")


def test_absurd_config_sizes_are_rejected(submitted):
    data_root, envelope = submitted

    def change(e):
        e["config"]["chunk_size"] = 10**9
        e["config"]["attacks"] = [{"name": "toy-sign", "presets": ["weak"], "images": 10**9}]

    _rejected(_resealed(envelope, change), data_root, r"chunk_size: expected an integer 0 \.\. 100000")


def test_cells_that_do_not_match_the_config_are_rejected(submitted):
    data_root, envelope = submitted

    def foreign(e):
        e["cells"][0]["unit"][2] = "toy-nan"

    _rejected(_resealed(envelope, foreign), data_root, "is not a unit of its config")

    def twice(e):
        e["cells"].append(copy.deepcopy(e["cells"][0]))

    _rejected(_resealed(envelope, twice), data_root, "appears twice")

    def missing(e):
        e["cells"].pop()

    _rejected(_resealed(envelope, missing), data_root, "have no cell")


def test_rejection_builds_nothing(submitted, monkeypatch):
    """A rejected config never reaches the registry's factories."""
    data_root, envelope = submitted
    from iqa_core import registry

    def refuse(*args, **kwargs):
        raise AssertionError("a component was built for a rejected submission")

    monkeypatch.setattr(registry, "create", refuse)
    monkeypatch.setattr("iqa_bench.runner.create", refuse)

    def change(e):
        e["config"]["datasets"][0]["root"] = "/etc"

    _rejected(_resealed(envelope, change), data_root, "absolute path")
