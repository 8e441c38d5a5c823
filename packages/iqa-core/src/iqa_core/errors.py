"""Errors a user can fix, and the one way every command line reports them.

A CLI turns a :class:`UserError` (and the standard errors a user causes: a missing file, a
permission, a full disk, an unknown component or preset) into one line ``<prog>: error: <message>``
on stderr and exit status 2; ``--debug`` shows the traceback instead. Anything else is a bug and
keeps its traceback.
"""

from __future__ import annotations

import argparse
import errno
import sys
from collections.abc import Callable, Sequence

from .registry import ComponentNotFoundError, PresetNotFoundError

__all__ = ["USER_ERRORS", "UserError", "run_cli"]


class UserError(Exception):
    """Raised for bad input the user can fix; the message names the problem and the fix."""


USER_ERRORS: tuple[type[BaseException], ...] = (
    UserError,
    FileNotFoundError,
    IsADirectoryError,
    NotADirectoryError,
    PermissionError,
    ComponentNotFoundError,
    PresetNotFoundError,
)


def _message(error: BaseException) -> str:
    if isinstance(error, OSError) and error.errno == errno.ENOSPC:
        where = f" writing {error.filename}" if error.filename else ""
        return f"no space left on the device{where}: free some space (or point the store/cache elsewhere) and rerun"
    text = str(error).strip() or type(error).__name__
    return " ".join(text.split("\n"))


def run_cli(
    parser: argparse.ArgumentParser,
    argv: Sequence[str] | None,
    *,
    extra_errors: tuple[type[BaseException], ...] = (),
) -> int:
    """Parse ``argv``, call ``args.handler(args)`` and report user errors as one line (exit 2).

    Adds ``--debug`` to ``parser`` (show the traceback of a user error instead); it is accepted
    anywhere on the command line, also after a sub-command.
    """
    parser.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    arguments = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in arguments
    args = parser.parse_args([a for a in arguments if a != "--debug"])
    args.debug = debug
    handler: Callable[[argparse.Namespace], int] = args.handler
    user_errors: tuple[type[BaseException], ...] = (*USER_ERRORS, *extra_errors)
    caught: tuple[type[BaseException], ...] = (*user_errors, OSError)
    try:
        return int(handler(args) or 0)
    except KeyboardInterrupt:
        print(f"{parser.prog}: interrupted", file=sys.stderr)
        return 130
    except caught as error:
        is_user_error = isinstance(error, user_errors) or (isinstance(error, OSError) and error.errno == errno.ENOSPC)
        if args.debug or not is_user_error:
            raise
        print(f"{parser.prog}: error: {_message(error)}", file=sys.stderr)
        return 2
