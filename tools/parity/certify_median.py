"""Golden for median smoothing's percentile bounds: Ping-C/CertifiedObjectDetection's ``estimated_qu_ql`` and median.

Runs the official ``estimated_qu_ql(eps, sample_count, sigma, conf_thres)`` (the ranks of the
order statistics that bound the ``Phi(-+eps/sigma)`` quantiles) over a grid of sample counts,
radii, noise levels and confidences, and ``DetectionsAcc.median`` (the smoothed value) on
``n = 10`` and ``n = 11`` known samples. Only those two definitions are executed from
``utils/utils.py`` (the module imports plotting and debugging helpers at import time); nothing is
patched.

    uv run --locked python tools/parity/certify_median.py --repo /path/to/CertifiedObjectDetection
"""

from __future__ import annotations

import argparse
import ast
import math
import subprocess
from pathlib import Path
from typing import Any

import scipy.stats as stats
import torch

from iqa_core.testing.parity import write_golden

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "packages/iqa-certify/tests/goldens/certify_median.json"
GRID = [
    (1000, 0.05, 0.12, 0.999),
    (1000, 0.05, 0.12, 0.9995),
    (1000, 0.05, 0.25, 0.999),
    (1000, 0.2, 0.12, 0.999),
    (256, 0.05, 0.12, 0.999),
    (100, 0.05, 0.12, 0.999),
    (100, 0.3, 0.12, 0.99),
    (2000, 0.1, 0.25, 0.99999),
]


def official(path: Path, names: set[str]) -> dict[str, Any]:
    tree = ast.parse(path.read_text())
    nodes = [n for n in tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef) and n.name in names]
    namespace: dict[str, Any] = {"math": math, "stats": stats, "torch": torch}
    exec(compile(ast.Module(body=nodes, type_ignores=[]), str(path), "exec"), namespace)
    return namespace


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, required=True, help="checkout of Ping-C/CertifiedObjectDetection")
    parser.add_argument("--commit", help="commit of the checkout (read with git when omitted)")
    args = parser.parse_args()
    commit = (
        args.commit or subprocess.check_output(["git", "-C", str(args.repo), "rev-parse", "HEAD"], text=True).strip()
    )
    ns = official(args.repo / "utils/utils.py", {"estimated_qu_ql", "DetectionsAcc"})
    cases: list[dict[str, Any]] = []
    for n, eps, sigma, conf in GRID:
        q_u, q_l = ns["estimated_qu_ql"](eps, n, sigma, conf_thres=conf)
        cases.append(
            {
                "name": f"qu-ql-n{n}-eps{eps}-sigma{sigma}-conf{conf}",
                "inputs": {"n": n, "eps": eps, "sigma": sigma, "conf_thres": conf},
                "outputs": {"q_u": int(q_u), "q_l": int(q_l)},
            }
        )
    for n in (10, 11):
        acc = ns["DetectionsAcc"]()
        values = torch.randperm(n, generator=torch.Generator().manual_seed(n)).float()
        acc.track([v.view(1, 1).expand(1, 7) for v in values])  # one 7-field "detection" per sample
        acc.tensorize()
        cases.append(
            {
                "name": f"median-n{n}",
                "inputs": {"n": n, "samples": values},
                "outputs": {"median": float(acc.median()[0, 0])},
            }
        )
    write_golden(
        GOLDEN,
        component="certify-median",
        repo="Ping-C/CertifiedObjectDetection",
        commit=commit,
        entry="utils/utils.py: estimated_qu_ql, DetectionsAcc.median",
        generator="tools/parity/certify_median.py",
        cases=cases,
        notes="CPU. Only estimated_qu_ql and DetectionsAcc are executed from utils/utils.py; no patches.",
    )
    print(f"wrote {GOLDEN}")


if __name__ == "__main__":
    main()
