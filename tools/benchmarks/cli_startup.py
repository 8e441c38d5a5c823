"""Start-up time of every console script: ``--help`` and ``iqa-bench list [--presets]``.

    python tools/benchmarks/cli_startup.py [--out docs/perf-cli.json] [--repeats 5]

Each command runs as a subprocess (the console script beside this interpreter, as a user runs
it); the figure is the best wall time of ``--repeats`` runs (the first, cold-cache run included
in the best-of). Also records whether the command imported torch (``-X importtime`` of the same
command through ``python -m``). Prints a Markdown table; writes JSON. Targets (issue 15):
``--help`` < 1 s, ``list`` and ``list --presets`` < 3 s.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TARGETS = {"--help": 1.0, "list": 3.0}


def scripts() -> dict[str, str]:
    """Every console script of the workspace: name -> ``module:function``."""
    found: dict[str, str] = {}
    for pyproject in sorted((ROOT / "packages").glob("*/pyproject.toml")):
        found.update(tomllib.loads(pyproject.read_text())["project"].get("scripts", {}))
    return found


def commands() -> list[tuple[str, str, list[str]]]:
    """``(script, module, arguments)`` of each timed command."""
    table = scripts()
    chosen = [(name, target.split(":")[0], ["--help"]) for name, target in sorted(table.items())]
    if "iqa-bench" in table:
        module = table["iqa-bench"].split(":")[0]
        chosen += [("iqa-bench", module, ["list"]), ("iqa-bench", module, ["list", "--presets"])]
    return chosen


def best_wall(argv: list[str], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return min(times)


def imports_torch(module: str, args: list[str]) -> bool:
    """True when ``python -X importtime -m module args`` imports torch."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", module, *args], capture_output=True, text=True, check=True
    )
    return any(line.rsplit("|", 1)[-1].strip() == "torch" for line in done.stderr.splitlines())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="docs/perf-cli.json", help="JSON file to write")
    parser.add_argument("--repeats", type=int, default=5, help="runs per command; the best counts (default 5)")
    args = parser.parse_args(argv)
    bin_dir = Path(sys.executable).parent
    rows = []
    for script, module, arguments in commands():
        executable = bin_dir / script
        command = [str(executable)] if executable.exists() else [sys.executable, "-m", module]
        seconds = best_wall([*command, *arguments], args.repeats)
        target = TARGETS["--help"] if arguments == ["--help"] else TARGETS["list"]
        rows.append(
            {
                "command": " ".join([script, *arguments]),
                "best_s": round(seconds, 3),
                "target_s": target,
                "within_target": seconds < target,
                "imports_torch": imports_torch(module, arguments),
            }
        )
    result = {
        "measured_by": "python tools/benchmarks/cli_startup.py (nox -s perf)",
        "repeats": args.repeats,
        "python_startup_s": round(best_wall([sys.executable, "-c", "pass"], args.repeats), 3),  # the floor
        "python": platform.python_version(),
        "machine": platform.machine(),
        "commands": rows,
    }
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"Python itself (`python -c pass`): {result['python_startup_s']:.2f} s\n")
    print(f"| command | best of {args.repeats} (s) | target (s) | imports torch |")
    print("| --- | --- | --- | --- |")
    for row in rows:
        mark = "" if row["within_target"] else " (over)"
        print(f"| `{row['command']}` | {row['best_s']:.2f}{mark} | < {row['target_s']:g} | {row['imports_torch']} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
