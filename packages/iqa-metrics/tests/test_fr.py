"""Full-reference measures as components."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from iqa_core.protocols import FullReferenceMetric
from iqa_core.weights import WeightsNotFoundError
from iqa_metrics.fr import LPIPS, MSE, PSNR, SSIM, Linf


def pair() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    ref = torch.rand(3, 3, 32, 40, generator=g)
    return ref, (ref + 0.05 * torch.randn(ref.shape, generator=g)).clamp(0, 1)


@pytest.mark.parametrize("cls", [PSNR, SSIM, MSE, Linf])
def test_measures_are_batched_differentiable_components(cls: type) -> None:
    measure = cls()
    assert isinstance(measure, FullReferenceMetric)
    ref, dist = pair()
    dist = dist.requires_grad_(True)
    out = measure(ref, dist)
    assert out.shape == (3,) and torch.isfinite(out).all()
    out.sum().backward()
    assert dist.grad is not None and float(dist.grad.abs().sum()) > 0
    single = torch.cat([measure(ref[i : i + 1], dist[i : i + 1]) for i in range(3)])
    assert torch.allclose(single, out, atol=1e-6)


def test_values_match_numpy() -> None:
    ref, dist = pair()
    r, d = ref.numpy().astype(np.float64), dist.numpy().astype(np.float64)
    mse = ((r - d) ** 2).reshape(3, -1).mean(1)
    assert np.allclose(MSE()(ref, dist).numpy(), mse, rtol=1e-5)
    assert np.allclose(PSNR()(ref, dist).numpy(), 10 * np.log10(1 / mse), rtol=1e-5)
    assert np.allclose(Linf()(ref, dist).numpy(), np.abs(r - d).reshape(3, -1).max(1), rtol=1e-6)
    assert PSNR.higher_is_better and SSIM.higher_is_better and not MSE.higher_is_better
    assert torch.allclose(SSIM()(ref, ref), torch.ones(3), atol=1e-5)


def test_shape_mismatch_is_refused() -> None:
    ref, dist = pair()
    with pytest.raises(ValueError, match="same shape"):
        PSNR()(ref, dist[:, :, :30])


def test_lpips_offline_needs_its_backbone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(WeightsNotFoundError, match="alexnet"):
        LPIPS(pretrained=False)
