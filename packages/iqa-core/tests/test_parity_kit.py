"""The parity kit: seeded weights and inputs are pure functions, goldens round-trip, comparisons fail loudly."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from iqa_core.testing.parity import (
    assert_matches_golden,
    load_golden,
    seeded_images,
    seeded_state_dict,
    seeded_weights_,
    write_golden,
)


def _net() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.Flatten(), nn.LazyLinear(1))


def test_seeded_weights_depend_only_on_key_shape_and_seed() -> None:
    a = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8))
    b = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8))
    torch.manual_seed(1)
    seeded_weights_(a, seed=3)
    torch.manual_seed(2)
    seeded_weights_(b, seed=3)
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert ka == kb and torch.equal(va, vb)
    shapes = {k: tuple(v.shape) for k, v in a.state_dict().items() if v.is_floating_point()}
    from_shapes = seeded_state_dict(shapes, seed=3)
    assert torch.equal(from_shapes["0.weight"], a.state_dict()["0.weight"])
    assert not torch.equal(seeded_state_dict(shapes, seed=4)["0.weight"], from_shapes["0.weight"])
    state = a.state_dict()
    assert torch.equal(state["1.running_var"], torch.ones(8)) and torch.equal(state["1.running_mean"], torch.zeros(8))
    assert state["1.num_batches_tracked"].item() == 0
    # fan-in scaling: conv weight std close to 1/sqrt(27)
    assert abs(float(state["0.weight"].std()) - 27**-0.5) < 0.08


def test_seeded_images_are_reproducible_and_in_range() -> None:
    x = seeded_images(7, (2, 3, 5, 6))
    assert x.shape == (2, 3, 5, 6) and x.dtype == torch.float32
    assert torch.equal(x, seeded_images(7, (2, 3, 5, 6)))
    assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0
    assert not torch.equal(x, seeded_images(8, (2, 3, 5, 6)))


def test_golden_round_trip_and_comparison(tmp_path) -> None:
    scores = torch.tensor([1.0, 2.5, -3.0])
    path = write_golden(
        tmp_path / "toy.json",
        component="toy",
        repo="owner/repo",
        commit="0" * 40,
        entry="toy.py",
        generator="tools/parity/toy.py",
        cases=[{"name": "basic", "inputs": {"seed": 1}, "outputs": {"score": scores}}],
    )
    golden = load_golden(path)
    assert golden.origin == "owner/repo@000000000000"
    expected = golden.case("basic")["outputs"]["score"]
    assert assert_matches_golden(scores + 1e-7, expected, rtol=0, atol=1e-6, what="toy") < 1e-6
    with pytest.raises(AssertionError, match=r"differs from the official code's output by up to 0\.01"):
        assert_matches_golden(scores + 0.01, expected, rtol=0, atol=1e-6, what="toy")
    with pytest.raises(AssertionError, match="shape"):
        assert_matches_golden(scores[:2], expected, rtol=0, atol=1e-6, what="toy")
    with pytest.raises(KeyError, match="no case 'other'"):
        golden.case("other")
    with pytest.raises(ValueError, match="40-hex"):
        write_golden(tmp_path / "x.json", component="x", repo="o/r", commit="abc", entry="", generator="", cases=[])


def test_seeded_network_gives_finite_scores() -> None:
    net = _net()
    net(torch.zeros(1, 3, 8, 8))  # materialise the lazy layer
    seeded_weights_(net, seed=0)
    assert torch.isfinite(net(seeded_images(0, (2, 3, 8, 8)))).all()
