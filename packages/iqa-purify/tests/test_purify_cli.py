"""``iqa-purify download``: the defences' weights are fetched by this package's own command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from iqa_core import create
from iqa_core.weights import WeightsNotFoundError
from iqa_purify.cli import main, weight_specs


@pytest.fixture
def offline_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("IQA_HOME", str(tmp_path))
    monkeypatch.setenv("IQA_OFFLINE", "1")
    return tmp_path


def test_download_help_names_the_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["download", "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert "usage: iqa-purify download" in out and "NAME" in out and "--from FILE" in out and "--list" in out


def test_download_lists_every_checkpoint_of_the_package(offline_home: Path, capsys) -> None:
    assert main(["download", "--list"]) == 0
    out = capsys.readouterr().out
    for name, spec in weight_specs().items():
        assert name in out and spec.url in out
        assert spec.cli == "iqa-purify"


def test_missing_realesrgan_weights_name_iqa_purify_download(offline_home: Path) -> None:
    with pytest.raises(WeightsNotFoundError) as caught:
        create("defence", "real-esrgan")
    message = str(caught.value)
    assert "`iqa-purify download realesr-general-x4v3`" in message
    assert "iqa-metrics" not in message


def test_offline_download_is_a_one_line_error(offline_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["download", "realesr-general-x4v3"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("iqa-purify: error:") and "\n" not in err


def test_a_share_page_checkpoint_says_to_pass_weights(offline_home: Path, capsys) -> None:
    assert main(["download", "disco"]) == 2
    assert "weights=PATH" in capsys.readouterr().err
