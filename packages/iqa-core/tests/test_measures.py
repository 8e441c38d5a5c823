import math

import numpy as np
import pytest
import torch

from iqa_core import measures


def test_psnr_mse_linf_l0_known_values():
    ref = torch.zeros(2, 3, 4, 4)
    dist = ref.clone()
    dist[0, :, 0, 0] = 0.5  # one pixel changed in image 0
    assert measures.mse(ref, dist)[0] == pytest.approx(0.25 * 3 / 48)
    assert measures.linf(ref, dist).tolist() == [0.5, 0.0]
    assert measures.l0(ref, dist).tolist() == [1.0, 0.0]
    assert measures.psnr(ref, dist)[0] == pytest.approx(10 * math.log10(1 / (0.75 / 48)))
    assert measures.psnr(ref, dist)[1] == 100.0  # identical images capped, not inf


def test_ssim_matches_skimage_on_gaussian_window():
    from skimage import metrics as skimage

    g = torch.Generator().manual_seed(0)
    ref = torch.rand(1, 3, 40, 40, generator=g)
    dist = (ref + 0.1 * torch.randn(1, 3, 40, 40, generator=g)).clamp(0, 1)
    ours = float(measures.ssim(ref, dist))
    theirs = skimage.structural_similarity(
        ref[0].permute(1, 2, 0).numpy().astype(np.float64),
        dist[0].permute(1, 2, 0).numpy().astype(np.float64),
        channel_axis=2,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        data_range=1.0,
    )
    assert ours == pytest.approx(theirs, abs=2e-3)


def test_ssim_identity_and_gradient():
    x = torch.rand(2, 3, 16, 16, requires_grad=True)
    assert torch.allclose(measures.ssim(x.detach(), x.detach()), torch.ones(2))
    measures.ssim(torch.rand(2, 3, 16, 16), x).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


def test_within_budget_per_kind():
    ref = torch.zeros(2, 3, 8, 8)
    adv = ref.clone()
    adv[0] += 4 / 255
    adv[1] += 9 / 255
    assert measures.within_budget("linf", 8 / 255, ref, adv).tolist() == [True, False]
    assert measures.within_budget("psnr", 30, ref, adv).tolist() == [True, False]
    assert measures.within_budget("unrestricted", math.inf, ref, adv).all()
    with pytest.raises(ValueError, match="shape"):
        measures.mse(ref, adv[:1])
