"""Turn the GPU check's outputs into docs/performance-gpu.md.

Inputs (written by ``tools/gpu_check.sh``): a pytest JUnit XML of the GPU tests, the JSON lines of
figures the tests recorded (``IQA_GPU_FIGURES``), and optionally the device's throughput profile.

Usage: ``python tools/gpu/report.py --junit J.xml --figures F.jsonl [--profile P.json] [--device TEXT] --out MD``
"""

from __future__ import annotations

import argparse
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any


def test_outcomes(junit: Path) -> list[tuple[str, str, str]]:
    """(test, outcome, message) for every test case in a pytest JUnit XML file."""
    if not junit.is_file():
        return []
    rows = []
    for case in ET.parse(junit).getroot().iter("testcase"):
        name = case.get("name", "?")
        outcome, message = "passed", ""
        for tag in ("failure", "error", "skipped"):
            found = case.find(tag)
            if found is not None:
                outcome = {"failure": "FAILED", "error": "ERROR", "skipped": "skipped"}[tag]
                message = (found.get("message") or "").splitlines()[0][:140] if found.get("message") else ""
                break
        rows.append((name, outcome, message))
    return rows


def figures(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def render(
    outcomes: list[tuple[str, str, str]], figs: list[dict[str, Any]], profile: dict[str, Any] | None, device: str
) -> str:
    passed = sum(1 for _, o, _ in outcomes if o == "passed")
    lines = [
        "# GPU figures",
        "",
        f"Measured by `tools/gpu_check.sh` on {device}. Tests: {passed} of {len(outcomes)} passed.",
        "",
        "| test | outcome | note |",
        "|---|---|---|",
        *(f"| `{name}` | {outcome} | {message} |" for name, outcome, message in outcomes),
        "",
    ]
    metric_rows = [f for f in figs if f.get("kind") == "metric"]
    if metric_rows:
        lines += [
            "## Benchmark metrics (random weights)",
            "",
            "Differences are the largest absolute score difference over a 4-image batch at 384x512,",
            "as a fraction of the metric's bound diameter.",
            "",
            "| metric | fp32 device vs CPU | autocast vs fp32 | forward+backward, batch 4 (s) |",
            "|---|---|---|---|",
        ]
        for f in metric_rows:
            lines.append(
                f"| {f['name']} | {f['device_vs_cpu_rel_diam']:.1e} | {f['autocast_rel_diam']:.1e} "
                f"| {f['forward_backward_s_batch4']:.3f} |"
            )
        lines.append("")
    other = [f for f in figs if f.get("kind") != "metric"]
    if other:
        lines += ["## Other figures", "", "| what | figures |", "|---|---|"]
        for f in other:
            rest = ", ".join(
                f"{k} = {v:.4g}" if isinstance(v, float) else f"{k} = {v}" for k, v in f.items() if k != "kind"
            )
            lines.append(f"| {f['kind']} | {rest} |")
        lines.append("")
    if profile:
        lines += ["## Throughput profile", "", "```json", json.dumps(profile, indent=1)[:6000], "```", ""]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--junit", type=Path, required=True, help="pytest --junitxml output of the GPU tests")
    parser.add_argument("--figures", type=Path, required=True, help="JSON lines written through IQA_GPU_FIGURES")
    parser.add_argument("--profile", type=Path, default=None, help="the device's throughput profile (JSON)")
    parser.add_argument("--device", default="an unnamed device", help="what the figures were measured on")
    parser.add_argument("--out", type=Path, required=True, help="the Markdown file to write")
    args = parser.parse_args()
    profile = json.loads(args.profile.read_text()) if args.profile and args.profile.is_file() else None
    text = render(test_outcomes(args.junit), figures(args.figures), profile, args.device)
    args.out.write_text(text)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
