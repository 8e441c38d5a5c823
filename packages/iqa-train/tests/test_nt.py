"""NT: the finite difference approximates the exact (double-backprop) gradient-norm penalty."""

from __future__ import annotations

import pytest
import torch
from conftest import TinyIQA

from iqa_train import NT_LAMBDAS, NormRegularization, exact_penalty, finite_difference_penalty, nt_lambda
from iqa_train.trainer import Step


def _interior_images(n: int = 3, size: int = 12) -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    return (0.2 + 0.6 * torch.rand(n, 3, size, size, generator=g)).double()


def _param_grads(model: torch.nn.Module, value: torch.Tensor) -> torch.Tensor:
    grads = torch.autograd.grad(value, list(model.parameters()), allow_unused=True, materialize_grads=True)
    return torch.cat([g.flatten() for g in grads])


@pytest.mark.parametrize(("h", "rtol"), [(1e-5, 1e-3), (1e-2, 0.1)])
def test_finite_difference_matches_double_backprop(h, rtol):
    model = TinyIQA(seed=2).double()
    images = _interior_images()
    fd, scores_fd = finite_difference_penalty(model, images, h=h)
    exact, scores_exact = exact_penalty(model, images)
    torch.testing.assert_close(scores_fd, scores_exact)
    torch.testing.assert_close(fd, exact, rtol=rtol, atol=0)
    g_fd = _param_grads(model, fd.mean())
    g_exact = _param_grads(model, exact.mean())
    cosine = torch.nn.functional.cosine_similarity(g_fd, g_exact, dim=0)
    assert cosine > 1 - rtol
    assert (g_fd.norm() - g_exact.norm()).abs() / g_exact.norm() < rtol


def test_penalty_is_squared_l1_norm_of_input_gradient():
    model = TinyIQA(seed=4).double()
    images = _interior_images(2)
    x = images.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(model(x).sum(), x)
    exact, _ = exact_penalty(model, images)
    torch.testing.assert_close(exact, grad.abs().flatten(1).sum(1) ** 2)


def test_objective_adds_lambda_times_half_the_mean_penalty():
    model = TinyIQA(seed=5).double()
    images = _interior_images(4)
    targets = torch.tensor([10.0, 20.0, 30.0, 40.0], dtype=torch.float64)
    step = Step(0, 0, torch.device("cpu"), 0, False)
    plain, _ = NormRegularization(0.0, loss="mse")(model, images, targets, step)
    regularised, parts = NormRegularization(0.01, loss="mse", mode="exact")(model, images, targets, step)
    exact, _ = exact_penalty(model, images)
    # the reference halves the mean square (DefenseIQA-NT: dl.pow(2).mean()/2)
    torch.testing.assert_close(regularised, plain + 0.01 * exact.mean().float() / 2, rtol=1e-5, atol=1e-6)
    assert parts["grad_l1_rms"] > 0


def test_lambdas_per_model():
    assert NT_LAMBDAS == {"hyperiqa": 0.001, "dbcnn": 0.0005, "linearity": 0.0005, "maniqa": 0.003}
    assert nt_lambda("MANIQA") == 0.003
    assert nt_lambda("demo-cnniqa") == 0.0005


def test_invalid_parameters():
    with pytest.raises(ValueError, match="mode"):
        NormRegularization(0.1, mode="fd")
    with pytest.raises(ValueError, match="h must be"):
        NormRegularization(0.1, h=0)
