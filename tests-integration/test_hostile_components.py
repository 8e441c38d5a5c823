"""Hostile tensors and parameters at the component boundary (hypothesis): every call ends in a valid result
or a clear ValueError / TypeError naming the problem, never in another exception or a silent NaN."""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import iqa_core
from iqa_core import registry

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# components that build offline in a fraction of a second
DEFENCES = ["jpeg", "gaussian-blur", "median-blur", "colour-quantization", "random-noise", "resize", "diffjpeg"]
ATTACKS = ["fgsm", "ifgsm", "apgd", "square", "nes", "mifgsm", "korhonen", "madc"]
CERTIFIERS = ["rs", "ms"]

values = st.one_of(
    st.sampled_from([math.nan, math.inf, -math.inf, -1.0, 0.0, 1e9, 2.5, -3, 0, 10**12, True, "x", None, [1], {}]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(10**6), 10**6),
)


def _tensor(shape, dtype, fill):
    data = np.random.default_rng(0).random(shape)
    if fill == "nan":
        data.flat[0] = np.nan
    elif fill == "inf":
        data.flat[-1] = np.inf
    elif fill == "255":
        data = data * 255
    elif fill == "negative":
        data = data - 2
    tensor = torch.from_numpy(data)
    return (
        tensor.to(dtype)
        if dtype != torch.uint8
        else torch.from_numpy((np.nan_to_num(data) * 255 % 256).astype(np.uint8))
    )


tensors = st.builds(
    _tensor,
    st.one_of(
        st.tuples(st.integers(1, 2), st.sampled_from([1, 3, 4]), st.integers(1, 40), st.integers(1, 40)),
        st.tuples(st.integers(1, 40), st.integers(1, 40), st.just(3)),
        st.tuples(st.just(3), st.integers(8, 40), st.integers(8, 40)),
    ),
    st.sampled_from([torch.float32, torch.float64, torch.uint8]),
    st.sampled_from(["ok", "nan", "inf", "255", "negative"]),
)


@pytest.fixture(scope="module")
def metric():
    return iqa_core.create("metric", "demo-cnniqa")


def _is_clear(error: BaseException) -> bool:
    return isinstance(error, ValueError | TypeError) and len(str(error)) > 10


@SETTINGS
@given(images=tensors, name=st.sampled_from(DEFENCES))
def test_defences_take_valid_batches_or_refuse_them_clearly(images, name):
    defence = iqa_core.create("defence", name)
    try:
        out = defence(images, generator=torch.Generator().manual_seed(0))
    except Exception as error:  # noqa: BLE001 - the assertion is about which exceptions
        assert _is_clear(error), f"{name}: {type(error).__name__}: {error}"
        return
    assert out.shape == images.shape and torch.isfinite(out).all()
    assert float(out.min()) >= 0 and float(out.max()) <= 1


@SETTINGS
@given(images=tensors)
def test_the_metric_scores_valid_batches_or_refuses_them_clearly(metric, images):
    try:
        scores = metric(images)
    except Exception as error:  # noqa: BLE001
        assert _is_clear(error), f"{type(error).__name__}: {error}"
        return
    assert scores.shape == (images.shape[0],) and torch.isfinite(scores).all()


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(images=tensors, name=st.sampled_from(["fgsm", "ifgsm"]))
def test_attacks_take_valid_batches_or_refuse_them_clearly(metric, images, name):
    attack = iqa_core.create("attack", name, preset="weak")
    try:
        out = attack(metric, images)
    except Exception as error:  # noqa: BLE001
        assert _is_clear(error), f"{name}: {type(error).__name__}: {error}"
        return
    assert out.shape == images.shape and torch.isfinite(out).all()


def _parameters(kind: str, name: str) -> list[str]:
    factory = registry.factory(kind, name)
    signature = inspect.signature(getattr(factory, "factory", factory))
    return [p for p in signature.parameters if p not in ("self", "weights", "denoiser", "purifier", "device")]


@SETTINGS
@given(data=st.data())
def test_hostile_parameters_build_a_valid_component_or_are_refused_clearly(data):
    kind, name = data.draw(
        st.sampled_from(
            [("defence", n) for n in DEFENCES]
            + [("attack", n) for n in ATTACKS]
            + [("certifier", n) for n in CERTIFIERS]
        )
    )
    parameter = data.draw(st.sampled_from(_parameters(kind, name)))
    value = data.draw(values)
    try:
        component = iqa_core.create(kind, name, **{parameter: value})
    except Exception as error:  # noqa: BLE001
        assert _is_clear(error), f"{kind} {name}({parameter}={value!r}): {type(error).__name__}: {error}"
        return
    budget = getattr(component, "budget", None)
    if budget is not None and budget.kind == "linf":
        assert 0 <= budget.value <= 1


@pytest.mark.parametrize(
    ("kind", "name"), [("attack", "ifgsm"), ("attack", "square"), ("certifier", "rs"), ("certifier", "ms")]
)
def test_a_bare_module_is_refused_with_as_metric_named(kind, name):
    bare = torch.nn.Sequential(torch.nn.Conv2d(3, 1, 3), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())
    component = iqa_core.create(kind, name)
    images = torch.rand(1, 3, 32, 32)
    with pytest.raises(TypeError, match=r"iqa_core\.as_metric\(model, higher_is_better=\.\.\."):
        component(bare, images) if kind == "attack" else component.certify(bare, images)
    wrapped = iqa_core.as_metric(lambda x: bare(x).flatten(), higher_is_better=True, bounds=(-1.0, 1.0))
    if kind == "attack":
        assert component(wrapped, images).shape == images.shape
