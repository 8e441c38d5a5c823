"""IQA losses, norm-in-norm in particular (Li et al. 2020)."""

from __future__ import annotations

import pytest
import torch

from iqa_train.losses import get_loss, l1_loss, mse_loss, norm_in_norm_loss


def test_l1_and_mse():
    p, y = torch.tensor([1.0, 2.0]), torch.tensor([2.0, 4.0])
    assert float(l1_loss(p, y)) == pytest.approx(1.5)
    assert float(mse_loss(p, y)) == pytest.approx(2.5)


def test_norm_in_norm_is_zero_for_linear_predictions_and_affine_invariant():
    y = torch.tensor([1.0, 3.0, 2.0, 5.0, 4.0])
    assert float(norm_in_norm_loss(3 * y + 7, y)) == pytest.approx(0.0, abs=1e-6)
    p = torch.tensor([0.3, 0.1, 0.8, 0.9, 0.2])
    assert float(norm_in_norm_loss(p, y)) == pytest.approx(float(norm_in_norm_loss(10 * p - 4, y)), rel=1e-5)


def test_norm_in_norm_p2_q2_is_half_one_minus_pearson():
    g = torch.Generator().manual_seed(0)
    p, y = torch.randn(16, generator=g), torch.randn(16, generator=g)
    rho = torch.corrcoef(torch.stack([p, y]))[0, 1]
    assert float(norm_in_norm_loss(p, y, p=2, q=2)) == pytest.approx(float((1 - rho) / 2), rel=1e-4)


def test_norm_in_norm_single_image_has_zero_loss_with_graph():
    p = torch.tensor([2.0], requires_grad=True)
    loss = norm_in_norm_loss(p, torch.tensor([1.0]))
    assert float(loss.detach()) == 0
    loss.backward()


def test_get_loss():
    assert get_loss("norm_in_norm") is norm_in_norm_loss
    with pytest.raises(ValueError, match="unknown IQA loss"):
        get_loss("huber")
