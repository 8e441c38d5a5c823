"""Draw the figures of docs/leaderboard.md from the offline demo grid (configs/demo.yaml).

    python tools/docs/make_figures.py                         # run the demo grid (resumable), then draw
    python tools/docs/make_figures.py --store runs/demo/results.sqlite   # draw from a finished run

Runs ``iqa-bench run`` on the demo config with its store under ``--work`` (default
``runs/docs-figures``; a rerun resumes and skips finished units), builds the report of that store
with :func:`iqa_bench.report.build_report` and writes a few small PNGs into ``--out`` (default
``docs/img``): the Pareto front, a Gain heatmap, a win-rate matrix, D^(D) bars (the report's own
figures, :func:`iqa_bench.report.figure_specs`) and, when Chromium is installed, a screenshot of
the HTML leaderboard. Every PNG must stay under ``--max-kb`` (150 KB): the script fails otherwise.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
FIGURES = {
    "pareto_d_srocc_adv": "leaderboard-pareto.png",
    "heatmap_gain_non-adaptive": "leaderboard-heatmap-gain.png",
    "winrate_d_defended_demo_non-adaptive": "leaderboard-winrate.png",
    "bars_d_defended": "leaderboard-bars.png",
}
"""Report figure name -> file in docs/img."""
SCREENSHOT = "leaderboard-page.png"
CHROMIUM = Path("/usr/bin/chromium")


def run_grid(config: Path, work: Path) -> Path:
    """Run (or resume) the config's grid with its store under ``work``; return the store path."""
    raw = yaml.safe_load(config.read_text(encoding="utf-8"))
    work.mkdir(parents=True, exist_ok=True)
    store = (work / "results.sqlite").resolve()
    raw["store"] = str(store)
    copy = work / config.name
    copy.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    command = [str(Path(sys.executable).with_name("iqa-bench")), "run", str(copy), "--no-progress"]
    print("running:", " ".join(command), flush=True)
    subprocess.run(command, check=True)
    return store


def draw(store: Path, out: Path, *, max_kb: int, dpi: int) -> list[Path]:
    from iqa_bench import plots
    from iqa_bench.report import build_report, figure_specs, metric_directions, write_report
    from iqa_bench.store import ResultStore

    with ResultStore(store) as results:
        rows = list(results.results())
        certificates = list(results.certificates())
        bounds = results.bounds()
        directions = metric_directions(results)
    report = build_report(rows, certificates, bounds, directions=directions)
    specs = {spec.name: spec for spec in figure_specs(report)}
    missing = sorted(set(FIGURES) - set(specs))
    if missing:
        raise SystemExit(f"the run has no figure(s) {missing}; figures it has: {sorted(specs)}")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, filename in FIGURES.items():
        path = out / filename
        path.write_bytes(plots.png_bytes(specs[name].build(), dpi=dpi))
        written.append(path)
    if CHROMIUM.exists():
        with tempfile.TemporaryDirectory() as tmp:
            page = write_report(
                rows,
                certificates,
                bounds,
                Path(tmp) / "report",
                ("html",),
                directions=directions,
                title="iqa-bench demo leaderboard",
            )["html"][0]
            shot = Path(tmp) / "shot.png"
            subprocess.run(
                [
                    str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                    f"--user-data-dir={Path(tmp) / 'profile'}", "--hide-scrollbars", "--window-size=1280,700",
                    "--virtual-time-budget=3000", f"--screenshot={shot}", page.as_uri() + "#rank=d_defended",
                ],
                check=True, capture_output=True, timeout=120,
            )  # fmt: skip
            from PIL import Image

            with Image.open(shot) as image:  # a palette PNG keeps the page screenshot small
                image.convert("RGB").quantize(colors=128).save(out / SCREENSHOT, optimize=True)
            written.append(out / SCREENSHOT)
    else:
        print(f"no Chromium at {CHROMIUM}: {SCREENSHOT} not redrawn", file=sys.stderr)
    too_big = [f"{p.name} ({p.stat().st_size // 1024} KB)" for p in written if p.stat().st_size > max_kb * 1024]
    if too_big:
        raise SystemExit(f"figures over {max_kb} KB: {too_big}; lower --dpi")
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=ROOT / "configs" / "demo.yaml", help="grid to run")
    parser.add_argument("--work", type=Path, default=ROOT / "runs" / "docs-figures", help="folder of the run")
    parser.add_argument("--store", type=Path, help="draw from this finished run's store instead of running the grid")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img", help="where the PNGs go")
    parser.add_argument("--dpi", type=int, default=90, help="resolution of the figures")
    parser.add_argument("--max-kb", type=int, default=150, help="largest PNG allowed, in KB")
    args = parser.parse_args(argv)
    if args.store is not None and not args.store.is_file():
        parser.error(f"--store {args.store} does not exist; run the grid first or leave --store out")
    if shutil.which("iqa-bench") is None and not Path(sys.executable).with_name("iqa-bench").exists():
        parser.error("iqa-bench is not installed in this environment: run `uv sync --all-packages` first")
    store = args.store or run_grid(args.config, args.work)
    for path in draw(store, args.out, max_kb=args.max_kb, dpi=args.dpi):
        print(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}  {path.stat().st_size // 1024} KB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
