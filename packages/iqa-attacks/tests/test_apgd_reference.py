"""APGD's in-place step against the where-based loop it replaced (kept here as the reference)."""

import pytest
import torch
from torch import nn

from iqa_attacks import APGD
from iqa_attacks.apgd import _Projection, checkpoints, halve_at_checkpoint
from iqa_attacks.base import per_image, project_linf, rand
from iqa_core import Bounds


def reference_perturb(attack, metric, images, generator):
    """The previous ``APGD.perturb``: full-batch ``torch.where``s and out-of-place updates."""
    n = images.shape[0]
    x = images.clone()
    if attack.random_start:
        x = project_linf(x + attack.eps * (2 * rand(tuple(x.shape), generator, x.device) - 1), images, attack.eps)
    loss, grad = attack.loss_and_grad(metric, x)
    x_best, loss_best, grad_best = x.clone(), loss.clone(), grad.clone()
    eta = torch.full((n,), 2 * attack.eps, device=x.device, dtype=x.dtype)
    x_prev = x
    increases = torch.zeros(n, device=x.device)
    marks = checkpoints(attack.n_iter)
    last_mark = 0
    halved_last = torch.ones(n, dtype=torch.bool, device=x.device)
    best_at_mark = loss_best.clone()
    steps = []
    for k in range(attack.n_iter):
        steps.append(eta.clone())
        z = project_linf(x + per_image(eta, x) * grad.sign(), images, attack.eps)
        if k == 0:
            x_new = z
        else:
            a = attack.momentum
            x_new = project_linf(x + a * (z - x) + (1 - a) * (x - x_prev), images, attack.eps)
        loss_new, grad_new = attack.loss_and_grad(metric, x_new)
        increases += (loss_new > loss).float()
        improved = loss_new > loss_best
        x_best = torch.where(per_image(improved, x), x_new, x_best)
        grad_best = torch.where(per_image(improved, x), grad_new, grad_best)
        loss_best = torch.where(improved, loss_new, loss_best)
        x_prev, x, loss, grad = x, x_new, loss_new, grad_new
        step = k + 1
        if step in marks and step < attack.n_iter:
            halve = halve_at_checkpoint(
                increases, step - last_mark, attack.rho, halved_last=halved_last, best_last=best_at_mark,
                best_now=loss_best,
            )  # fmt: skip
            eta = torch.where(halve, eta / 2, eta)
            x = torch.where(per_image(halve, x), x_best, x)
            grad = torch.where(per_image(halve, x), grad_best, grad)
            increases.zero_()
            last_mark, halved_last, best_at_mark = step, halve, loss_best.clone()
    return x_best, torch.stack(steps).cpu()


class Wiggly(nn.Module):
    """A seeded metric whose loss rises and falls within the ball: images improve and halve at different steps."""

    name = "wiggly"
    higher_is_better = True
    differentiable = True
    bounds = Bounds(0.0, 1.0)

    def __init__(self, seed, dtype):
        super().__init__()
        torch.manual_seed(seed)
        self.conv = nn.Conv2d(3, 4, 3).to(dtype)

    def forward(self, x):
        return torch.sin(40 * self.conv(x)).mean((1, 2, 3))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(
    "params",
    [
        {"eps": 4 / 255, "n_iter": 10},
        {"eps": 8 / 255, "n_iter": 30, "random_start": True},
        {"eps": 0.3, "n_iter": 12, "direction": "down", "momentum": 0.5},
        {"eps": 2 / 255, "n_iter": 2},
    ],
)
def test_same_iterates_as_the_where_based_loop(dtype, params):
    g = torch.Generator().manual_seed(5)
    images = torch.rand(6, 3, 12, 14, generator=g, dtype=dtype)
    images[0] = 0.0  # against the [0, 1] walls
    images[1] = 1.0
    metric = Wiggly(3, dtype)
    attack = APGD(**params)
    ours = attack(metric, images, generator=torch.Generator().manual_seed(9))
    ref, ref_steps = reference_perturb(attack, metric, images, torch.Generator().manual_seed(9))
    assert torch.equal(ours, ref.clamp(0, 1))
    assert torch.equal(attack.last_step_sizes, ref_steps)
    assert len(set(map(tuple, ref_steps.T.tolist()))) > 1 or params["n_iter"] == 2  # images took different paths


def test_projection_equals_project_linf_inside_and_outside_the_unit_range():
    g = torch.Generator().manual_seed(1)
    for low, high in [(0.0, 1.0), (-0.2, 1.2)]:  # the second leaves [images - eps, images + eps] outside [0, 1]
        images = low + (high - low) * torch.rand(4, 3, 5, 5, generator=g)
        x = torch.rand(4, 3, 5, 5, generator=g) * 1.6 - 0.3
        project = _Projection(images, 0.05)
        assert project.merged == (low == 0.0)
        assert torch.equal(project(x.clone()), project_linf(x, images, 0.05))
