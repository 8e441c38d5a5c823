"""``add_download_command``: the ``download`` sub-command every package with weights exposes."""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import pytest

from iqa_core import weights
from iqa_core.errors import run_cli
from iqa_core.weights import WeightSpec


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("IQA_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("IQA_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    return tmp_path


def _cli(specs: dict[str, WeightSpec], argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="iqa-toy")
    sub = parser.add_subparsers(dest="command", required=True)
    weights.add_download_command(sub, lambda: specs, prog="iqa-toy")
    return run_cli(parser, argv)


def _file(home: Path, data: bytes = b"weights") -> tuple[Path, str]:
    src = home / "net.pth"
    src.write_bytes(data)
    return src, hashlib.sha256(data).hexdigest()


def test_download_fetches_verifies_and_lists_as_cached(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src, digest = _file(home)
    specs = {"toy-net": WeightSpec("toy-net", src.as_uri(), digest, cli="iqa-toy")}
    assert _cli(specs, ["download", "toy-net"]) == 0
    assert (weights.cache_dir() / "net.pth").read_bytes() == b"weights"
    capsys.readouterr()
    assert _cli(specs, ["download", "--list"]) == 0
    assert "toy-net" in capsys.readouterr().out.split("cached")[0]


def test_download_from_a_local_copy_checks_the_hash(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src, digest = _file(home)
    specs = {"toy-net": WeightSpec("toy-net", "https://example.invalid/net.pth", digest, cli="iqa-toy")}
    assert _cli(specs, ["download", "toy-net", "--from", str(src)]) == 0
    assert (weights.cache_dir() / "net.pth").is_file()
    bad = home / "bad.pth"
    bad.write_bytes(b"other")
    assert _cli(specs, ["download", "toy-net", "--from", str(bad)]) == 2
    assert "does not match" in capsys.readouterr().err


def test_unknown_name_and_no_direct_download_are_one_line_errors(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    specs = {"drive-net": WeightSpec("drive-net", "https://drive.example/x", "", filename="x.pth", cli="iqa-toy")}
    assert _cli(specs, ["download", "nope"]) == 2
    err = capsys.readouterr().err
    assert "iqa-toy has no weights named 'nope'" in err and "drive-net" in err
    assert _cli(specs, ["download", "drive-net"]) == 2
    assert "weights=PATH" in capsys.readouterr().err


def test_offline_download_names_the_package_command(home: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("IQA_OFFLINE", "1")
    specs = {"toy-net": WeightSpec("toy-net", "https://example.invalid/net.pth", "a" * 64, cli="iqa-toy")}
    assert _cli(specs, ["download", "toy-net"]) == 2
    assert "`iqa-toy download toy-net`" in capsys.readouterr().err
