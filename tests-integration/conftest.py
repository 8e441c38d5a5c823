import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("IQA_OFFLINE", "1")

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml


@pytest.fixture
def demo_run(tmp_path: Path) -> Callable[..., Path]:
    """Run a small grid on the offline demo through the CLI (`iqa-bench run`); returns its config path.

    Defaults: the demo metric, I-FGSM weak, JPEG q50, both modes, CPU, chunks of 3, one EOT draw, the
    store under ``tmp_path/run``; keyword arguments replace top-level config keys."""
    from iqa_bench.cli import main

    def run(name: str, **overrides: Any) -> Path:
        config = {
            "name": name,
            "datasets": [{"name": "demo", "kind": "demo", "limit": 6}],
            "metrics": ["demo-cnniqa"],
            "attacks": [{"name": "ifgsm", "presets": ["weak"]}],
            "defences": [{"name": "jpeg", "presets": ["q50"]}],
            "mode": "both",
            "device": "cpu",
            "chunk_size": 3,
            "eot_samples": 1,
            "store": str(tmp_path / "run" / "results.sqlite"),
            **overrides,
        }
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(config))
        assert main(["run", str(path), "--no-progress"]) == 0
        return path

    return run
