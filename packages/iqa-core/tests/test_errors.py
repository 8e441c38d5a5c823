"""run_cli: user errors become one line and exit 2; --debug and bugs keep the traceback."""

from __future__ import annotations

import argparse
import errno

import pytest

from iqa_core.errors import UserError, run_cli


def _parser(handler):
    parser = argparse.ArgumentParser(prog="tool")
    sub = parser.add_subparsers(dest="command", required=True)
    go = sub.add_parser("go")
    go.set_defaults(handler=handler)
    return parser


def _raise(error):
    def handler(_args):
        raise error

    return handler


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (UserError("config.yaml: attacks[0].presets: no preset 'x'; use weak, medium or strong"), "no preset 'x'"),
        (FileNotFoundError(2, "No such file or directory", "data/mos.csv"), "data/mos.csv"),
        (OSError(errno.ENOSPC, "No space left on device", "/runs/x.sqlite"), "no space left on the device writing"),
    ],
)
def test_user_errors_are_one_line_and_exit_2(capsys, error, expected):
    assert run_cli(_parser(_raise(error)), ["go"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tool: error: ") and expected in err and err.count("\n") == 1
    assert "Traceback" not in err


def test_debug_shows_the_traceback_anywhere_on_the_line():
    with pytest.raises(UserError):
        run_cli(_parser(_raise(UserError("bad"))), ["go", "--debug"])


def test_bugs_are_not_hidden():
    with pytest.raises(ZeroDivisionError):
        run_cli(_parser(_raise(ZeroDivisionError("bug"))), ["go"])
    with pytest.raises(OSError):
        run_cli(_parser(_raise(OSError(errno.EIO, "io"))), ["go"])


def test_success_returns_the_handler_status():
    assert run_cli(_parser(lambda _a: 0), ["go"]) == 0
