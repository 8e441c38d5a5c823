import tomllib
from pathlib import Path

import pytest
import torch

import iqa_certify
from iqa_certify import MonteCarloSampler
from iqa_certify.sampling import device_generator, pick_device
from iqa_core import registry
from iqa_core.testing import ToyLinearMetric

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"
NAMES = ["ddrs", "densepure", "dms", "drs", "ms", "rs"]


def test_every_certifier_is_declared_as_an_entry_point():
    table = tomllib.loads(PYPROJECT.read_text())["project"]["entry-points"]["iqa.certifiers"]
    assert sorted(table) == NAMES
    for name, target in table.items():
        module, attr = target.split(":")
        assert module == f"iqa_certify.{module.rsplit('.', 1)[-1]}"
        assert getattr(iqa_certify, attr) is iqa_certify.CERTIFIERS[name]


def test_every_certifier_is_in_the_registry():
    # entry points are read from the installed metadata: passes once the workspace is re-synced
    registry.refresh()
    assert set(NAMES) <= set(registry.available("certifier"))


def test_sampler_draws_the_requested_number_in_chunks():
    calls = []

    def fn(noisy):
        calls.append(noisy.shape[0])
        return noisy.flatten(1).mean(1)

    sampler = MonteCarloSampler(0.5, 64, torch.device("cpu"))
    out = sampler.sample(fn, torch.full((3, 4, 4), 0.5), 300, torch.Generator().manual_seed(0))
    assert out.shape == (300,) and calls == [64, 64, 64, 64, 44]
    # the noise is N(0, sigma^2) per pixel: the mean over 48 pixels has std 0.5 / sqrt(48)
    assert abs(float(out.mean()) - 0.5) < 6 * 0.5 / (48 * 300) ** 0.5


def test_sampler_halves_the_chunk_on_out_of_memory():
    calls = []

    def fn(noisy):
        calls.append(noisy.shape[0])
        if noisy.shape[0] > 16:
            raise RuntimeError("CUDA out of memory. Tried to allocate (simulated)")
        return noisy.flatten(1).mean(1)

    sampler = MonteCarloSampler(0.1, 64, torch.device("cpu"))
    out = sampler.sample(fn, torch.zeros(3, 4, 4), 100, torch.Generator().manual_seed(0))
    assert out.shape == (100,) and sampler.batch_size == 16
    assert calls[:3] == [64, 32, 16] and sum(c for c in calls if c <= 16) == 100


def test_sampler_reraises_other_errors():
    def fn(noisy):
        raise ValueError("broken metric")

    with pytest.raises(ValueError, match="broken metric"):
        MonteCarloSampler(0.1, 8, torch.device("cpu")).sample(fn, torch.zeros(3, 4, 4), 10, torch.Generator())


def test_device_generator_and_device_choice():
    g = torch.Generator().manual_seed(0)
    assert device_generator(g, torch.device("cpu")) is g
    m = ToyLinearMetric()
    assert pick_device(m, None) == torch.device("cpu")
    assert pick_device(m, "cpu") == torch.device("cpu")
    assert pick_device(object(), None, torch.device("cpu")) == torch.device("cpu")
