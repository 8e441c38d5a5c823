"""Running commands for the release tools (smoke_wheels.py, tools/lowest/lowest.py): uv on PATH,
offline settings, and a failure that carries the command and its output."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path


class CommandError(RuntimeError):
    """A command failed; the message holds the command and its output."""


def uv() -> str:
    found = os.environ.get("UV") or shutil.which("uv")
    if not found:
        raise SystemExit("uv is not on PATH; install it (python -m pip install uv) or set UV=/path/to/uv")
    return found


def run(cmd: Sequence[str | Path], *, cwd: Path | None = None, timeout: float = 600) -> str:
    """stdout + stderr of ``cmd`` run offline (no Python downloads, HF offline, bytecode written)."""
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never", "HF_HUB_OFFLINE": "1", "IQA_OFFLINE": "1"}
    env.pop("VIRTUAL_ENV", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    result = subprocess.run(
        [str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if result.returncode != 0:
        command = " ".join(str(c) for c in cmd)
        raise CommandError(f"`{command}` exited {result.returncode}\n{result.stdout}\n{result.stderr}".rstrip())
    return result.stdout + result.stderr


EXPORT_FORMAT = ("--no-emit-workspace", "--no-annotate", "--no-header", "--format", "requirements-txt")


def lock_constraints(dest: Path, root: Path) -> Path:
    """The third-party pins of ``uv.lock`` as a constraints file (read-only: ``uv export --frozen``)."""
    text = run(
        [uv(), "export", "--frozen", "--all-packages", "--all-extras", "--all-groups", "--no-hashes", *EXPORT_FORMAT],
        cwd=root,
    )
    dest.write_text("\n".join(line for line in text.splitlines() if line and not line.startswith(("#", "-e "))) + "\n")
    return dest
