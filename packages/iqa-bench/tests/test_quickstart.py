"""The quickstart pipeline on toy components registered in-process (the real demo run is in tests-integration)."""

import pytest

from iqa_bench.cli import main
from iqa_bench.quickstart import format_table, run_quickstart
from iqa_core import registry
from iqa_core.testing import ToyMetric, ToyQuantizeDefence, ToySignAttack


@pytest.fixture
def toys():
    registry.register("metric", "toy-metric", ToyMetric, replace=True)
    registry.register("attack", "toy-sign", ToySignAttack, replace=True)
    registry.register("defence", "toy-quantize", ToyQuantizeDefence, replace=True)
    yield
    for kind, name in (("metric", "toy-metric"), ("attack", "toy-sign"), ("defence", "toy-quantize")):
        registry.unregister(kind, name)


def test_quickstart_table_on_toys(toys):
    result = run_quickstart(
        metric="toy-metric", attack="toy-sign", attack_preset="strong", defence="toy-quantize", limit=6, progress=False
    )
    no_defence, non_adaptive, adaptive = result.rows
    assert result.n_images == 6
    assert no_defence.mean_attacked > no_defence.mean_clean  # the attack raises the score
    assert no_defence.d == pytest.approx(no_defence.d_defended)  # identity purification
    assert non_adaptive.mean_clean == no_defence.mean_clean
    assert adaptive.setting.endswith("adaptive (BPDA/EOT)")
    text = format_table(result)
    assert "SROCC_adv" in text and "toy-quantize" in text


def test_cli_list_shows_registered_components(toys, capsys):
    assert main(["list", "attack", "--presets"]) == 0
    out = capsys.readouterr().out
    assert "toy-sign" in out and "medium*" in out
