"""The small toy grid the runner tests share (toy plugins of ``_toy_plugins``, a folder dataset)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from iqa_bench.runner import Runner
from iqa_bench.store import ResultStore


def toy_grid(tmp_path: Path, folder: Path, **overrides: Any) -> dict[str, Any]:
    """A raw config: toy metric, two toy-sign presets, toy-blur k3/k5 and toy-quantize, both modes."""
    raw: dict[str, Any] = {
        "name": "t",
        "datasets": [{"name": "toy", "kind": "folder", "root": str(folder), "csv": "mos.csv"}],
        "metrics": ["toy-metric"],
        "attacks": [{"name": "toy-sign", "presets": ["weak", "strong"]}],
        "defences": [{"name": "toy-blur", "presets": ["k3", "k5"]}, {"name": "toy-quantize"}],
        "mode": "both",
        "device": "cpu",
        "chunk_size": 4,
        "batch_size": 3,
        "store": str(tmp_path / "run" / "results.sqlite"),
    }
    raw.update(overrides)
    return raw


def run_grid(config: Any) -> tuple[Any, list[dict[str, Any]]]:
    """Run a parsed config into its store: (summary, result rows)."""
    with ResultStore(config.store_path) as store:
        summary = Runner(config, store, progress=False).run()
        return summary, list(store.results())
