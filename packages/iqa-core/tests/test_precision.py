"""Per-metric precision switches (iqa_core.precision)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from iqa_core import Bounds, Precision, with_precision
from iqa_core.precision import PrecisionError, PrecisionMetric


class ConvMetric(nn.Module):
    name = "conv-metric"
    higher_is_better = False
    bounds = Bounds(0.0, 10.0)
    min_size = 8

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.net = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Conv2d(8, 4, 3), nn.AdaptiveAvgPool2d(1))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(images).flatten(1).sum(dim=1)


def images(n: int = 4) -> torch.Tensor:
    return torch.rand(n, 3, 32, 32, generator=torch.Generator().manual_seed(1))


def test_the_default_precision_returns_the_metric_itself() -> None:
    metric = ConvMetric()
    assert with_precision(metric, None) is metric
    assert with_precision(metric, {}) is metric
    assert with_precision(metric, Precision()) is metric


def test_bf16_autocast_stays_close_returns_float32_and_keeps_gradients_float32() -> None:
    metric = ConvMetric().eval()
    fast = with_precision(metric, {"autocast": "bf16"})
    x = images().requires_grad_(True)
    exact = metric(x)
    scores = fast(x)
    assert scores.dtype == torch.float32
    assert not torch.equal(scores, exact), "autocast did not change the computation"
    assert torch.allclose(scores, exact, atol=0.02 * float(metric.bounds.diam))
    scores.sum().backward()
    assert x.grad is not None and x.grad.dtype == torch.float32 and torch.isfinite(x.grad).all()


def test_the_wrapper_is_accepted_wherever_the_metric_is() -> None:
    metric = ConvMetric()
    fast = with_precision(metric, Precision(autocast="bf16", channels_last=True))
    assert isinstance(fast, PrecisionMetric)
    assert (fast.name, fast.higher_is_better, fast.bounds, fast.min_size) == (
        "conv-metric",
        False,
        Bounds(0.0, 10.0),
        8,
    )
    assert list(fast.state_dict()) == [f"metric.{k}" for k in metric.state_dict()]
    with pytest.raises(AttributeError):
        _ = fast.no_such_attribute


def test_channels_last_alone_gives_the_float32_scores() -> None:
    metric = ConvMetric().eval()
    x = images()
    exact = metric(x)
    assert torch.allclose(with_precision(ConvMetric().eval(), {"channels_last": True})(x), exact, atol=1e-5)


def test_compile_runs_the_metric_through_torch_compile_with_the_named_backend() -> None:
    metric = ConvMetric().eval()
    x = images().requires_grad_(True)
    compiled = with_precision(metric, {"compile": "eager"})  # dynamo tracing without a C++ toolchain
    torch._dynamo.reset()
    torch._dynamo.utils.counters.clear()
    scores = compiled(x)
    assert torch.allclose(scores, metric(x), atol=1e-6)
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] >= 1, "torch.compile did not trace the metric"
    scores.sum().backward()
    assert x.grad is not None


def test_bad_settings_name_the_key_and_the_accepted_values() -> None:
    with pytest.raises(PrecisionError, match=r"metrics\[0\]\.precision: precision.autocast must be one of off, bf16"):
        Precision.from_mapping({"autocast": "int8"}, where="metrics[0].precision")
    with pytest.raises(PrecisionError, match=r"unknown key.*fast"):
        Precision.from_mapping({"fast": True})
    with pytest.raises(PrecisionError, match="true or false"):
        Precision(channels_last="yes")  # type: ignore[arg-type]
    with pytest.raises(PrecisionError, match="backend name"):
        Precision(compile=3)  # type: ignore[arg-type]
    with pytest.raises(PrecisionError, match="as_metric"):
        with_precision(lambda x: x.mean(dim=(1, 2, 3)), {"autocast": "bf16"})
