import json

import pytest

from iqa_bench import bounds
from iqa_bench.config import parse_config
from iqa_bench.runner import Runner
from iqa_bench.store import ResultStore


def test_missing_measurement_says_how_to_measure(tmp_path, monkeypatch):
    monkeypatch.setenv("IQA_HOME", str(tmp_path))
    with pytest.raises(bounds.BoundsNotMeasuredError, match="iqa-bench bounds toy-metric --images DIR"):
        bounds.cached_bounds("toy-metric")


def test_runner_uses_measured_bounds(tmp_path, monkeypatch, image_folder, toy_plugins):
    monkeypatch.setenv("IQA_HOME", str(tmp_path / "home"))
    cache = bounds.bounds_cache_dir()
    cache.mkdir(parents=True)
    (cache / "toy-metric.json").write_text(json.dumps({"lower": 5.0, "upper": 60.0, "higher_is_better": True}))
    config = parse_config(
        {
            "datasets": [{"name": "toy", "kind": "folder", "root": str(image_folder), "csv": "mos.csv", "limit": 2}],
            "metrics": ["toy-metric"],
            "defences": [{"name": "toy-blur"}],
            "bounds": "measured",
            "store": str(tmp_path / "s.sqlite"),
            "device": "cpu",
        }
    )
    with ResultStore(config.store_path) as store:
        Runner(config, store, progress=False).run()
        assert store.bounds() == {"toy-metric": (5.0, 60.0)}
