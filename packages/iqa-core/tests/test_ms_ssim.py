"""MS-SSIM in iqa_core.measures: size rule, scale option, clamped terms."""

import pytest
import torch

from iqa_core import measures


def test_ms_ssim_needs_176_pixels_for_five_scales() -> None:
    ok = torch.rand(1, 3, 176, 180)
    assert measures.ms_ssim(ok, ok).item() == pytest.approx(1.0, abs=1e-6)
    small = torch.rand(1, 3, 175, 300)
    with pytest.raises(ValueError, match=r"176x176 pixels.*11 \* 2\*\*4.*got 175x300.*scales=4"):
        measures.ms_ssim(small, small)
    tiny = torch.rand(1, 3, 8, 8)
    with pytest.raises(ValueError, match="at least 11x11"):
        measures.ms_ssim(tiny, tiny, scales=1)
    with pytest.raises(ValueError, match="between 1 and 5"):
        measures.ms_ssim(ok, ok, scales=0)
    assert measures.ms_ssim_min_size(3) == 44


def test_one_scale_is_ssim_and_weights_are_renormalised() -> None:
    g = torch.Generator().manual_seed(0)
    ref = torch.rand(2, 3, 48, 48, generator=g)
    dist = (ref + 0.1 * torch.randn(ref.shape, generator=g)).clamp(0, 1)
    assert torch.allclose(measures.ms_ssim(ref, dist, scales=1), measures.ssim(ref, dist), atol=1e-6)
    # Two scales: weights 0.0448 and 0.2856 renormalised to sum to 1, so identical images give 1.
    assert torch.allclose(measures.ms_ssim(ref, ref, scales=2), torch.ones(2), atol=1e-6)
    two = measures.ms_ssim(ref, dist, scales=2)
    assert bool(((two > 0) & (two < 1)).all())


def test_negative_terms_are_clamped_with_finite_gradients() -> None:
    """Inverted random images have negative cs at every scale: the value is 0, gradients finite (0)."""
    g = torch.Generator().manual_seed(0)
    ref = torch.rand(1, 3, 48, 48, generator=g)
    dist = (1 - ref).requires_grad_(True)
    out = measures.ms_ssim(ref, dist, scales=2)
    assert out.item() == 0.0
    out.sum().backward()
    assert dist.grad is not None and torch.isfinite(dist.grad).all()
    # Mixed: one channel anti-correlated, the others not - finite, non-zero gradient.
    mixed = ref.clone()
    mixed[:, 0] = 1 - ref[:, 0]
    mixed = (mixed + 0.05 * torch.randn(mixed.shape, generator=g)).clamp(0, 1).requires_grad_(True)
    value = measures.ms_ssim(ref, mixed, scales=2)
    value.sum().backward()
    assert 0 < value.item() < 1
    assert mixed.grad is not None and torch.isfinite(mixed.grad).all() and float(mixed.grad.abs().sum()) > 0
