"""tools/check_isolation.py must fail where siblings are installed (here: all of them are)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _run(package):
    return subprocess.run(
        [sys.executable, str(ROOT / "tools" / "check_isolation.py"), package],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_fails_when_siblings_are_importable():
    result = _run("iqa-attacks")
    assert result.returncode == 1
    assert "iqa_metrics is importable" in result.stderr and "iqa_core" not in result.stderr


def test_unknown_package_is_rejected():
    result = _run("iqa-nothing")
    assert result.returncode != 0 and "unknown workspace package" in result.stderr
