"""NT: norm regularisation training (Liu et al., CVPR 2024, "gradient norm regularization").

    L = L_IQA(f(x), y) + lambda * mean_batch(((f(x + h d) - f(x)) / h)^2) / 2,   d = sign(grad_x f(x))

The factor 1/2 is the reference code's (DefenseIQA-NT ``HyperIQASolver.loss_grad``:
``dl.pow(2).mean()/2``), and the paper's lambdas were tuned with it: lambda here means what it
means there (checked against that code by ``tests/test_parity_nt.py``).

The finite difference approximates ``||grad_x f(x)||_1`` (eq. 6: the first-order change along
``d`` is ``d . grad = ||grad||_1``) without double backpropagation; the exact version,
``lambda * ||grad_x f(x)||_1^2 / 2`` with ``create_graph=True`` (eq. 5), is here for small models
and to check the approximation (tested: both values and their parameter gradients agree).

Pixel space. The step ``x + h d`` is taken on the image in [0, 1], the space the attacks use
(their ``eps`` is in pixel units) and then clipped to [0, 1] like an attacked image. The
reference code takes it after the ImageNet normalisation ``(x - mean) / std``; there a step
``h`` moves pixels by ``h * std`` (about ``h / 4.4``) and the estimated norm is
``||grad_pixels * std||_1``. Here the penalty is the quantity Theorem 1 ties to an ``eps``-Linf
attack in pixel space (``eps * ||grad_x f||_1``), and it does not depend on each model's input
normalisation. The paper's lambdas are kept; for a model with ImageNet normalisation the
pixel-space penalty is about ``1 / std^2 ~ 19`` times the reference's, so divide lambda by that to
reproduce the reference's strength exactly. Scores are in the model's own scale (the paper
normalises MOS to [0, 100]): lambda depends on it.

Lambdas per model (paper, sec. 5.1): HyperIQA 0.001, DBCNN 0.0005, LinearityIQA 0.0005,
MANIQA 0.003; ``h = 0.01``. Other models default to 0.0005, the value the benchmark used.
Both forward passes run in float32 even with AMP: in float16 the score difference over
``h = 0.01`` would drown in rounding. With batch normalisation in training mode the samples of a
batch interact, so the "input gradient" is the gradient of the batch's summed scores.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from iqa_core.registry import normalise_name

from .losses import LossFn, get_loss
from .trainer import Step

#: lambda per model (Liu et al. 2024, sec. 5.1).
NT_LAMBDAS: dict[str, float] = {"hyperiqa": 0.001, "dbcnn": 0.0005, "linearity": 0.0005, "maniqa": 0.003}
#: The benchmark's lambda (A.3.5) for models the paper did not train.
DEFAULT_LAMBDA = 0.0005
DEFAULT_H = 0.01
MODES = ("finite-difference", "exact")


def nt_lambda(metric_name: str | None) -> float:
    """The paper's lambda for ``metric_name`` (HyperIQA, DBCNN, Linearity, MANIQA), else 0.0005."""
    if metric_name is None:
        return DEFAULT_LAMBDA
    return NT_LAMBDAS.get(normalise_name(metric_name), DEFAULT_LAMBDA)


def input_gradient(model: nn.Module, images: Tensor, *, create_graph: bool = False) -> tuple[Tensor, Tensor, Tensor]:
    """``(x, f(x), grad_x sum f(x))`` with ``x`` a leaf copy of ``images`` that requires grad.

    The scores keep their graph (to the parameters) for the IQA loss.
    """
    x = images.detach().to(torch.promote_types(images.dtype, torch.float32)).requires_grad_(True)
    scores = model(x).flatten()
    scores = scores.to(torch.promote_types(scores.dtype, torch.float32))
    (grad,) = torch.autograd.grad(scores.sum(), x, create_graph=create_graph, retain_graph=True)
    return x, scores, grad


def finite_difference_penalty(
    model: nn.Module, images: Tensor, *, h: float = DEFAULT_H, clip: bool = True
) -> tuple[Tensor, Tensor]:
    """Per-image ``((f(x + h d) - f(x)) / h)^2`` and ``f(x)`` (both with graphs to the parameters)."""
    if not h > 0:
        raise ValueError(f"h must be > 0, got {h}")
    x, scores, grad = input_gradient(model, images)
    direction = grad.sign().detach()
    shifted = x.detach() + h * direction
    if clip:
        shifted = shifted.clamp(0, 1)
    difference = (model(shifted).flatten().to(scores.dtype) - scores) / h
    return difference.pow(2), scores


def exact_penalty(model: nn.Module, images: Tensor) -> tuple[Tensor, Tensor]:
    """Per-image ``||grad_x f(x)||_1^2`` by double backpropagation, and ``f(x)``."""
    _, scores, grad = input_gradient(model, images, create_graph=True)
    return grad.abs().flatten(1).sum(1).pow(2), scores


class NormRegularization:
    """Objective for :class:`~iqa_train.trainer.Trainer` (see the module docstring)."""

    def __init__(
        self,
        lam: float = DEFAULT_LAMBDA,
        *,
        h: float = DEFAULT_H,
        mode: str = "finite-difference",
        loss: str | LossFn = "l1",
        clip: bool = True,
    ) -> None:
        if not lam >= 0:
            raise ValueError(f"lambda must be >= 0, got {lam}")
        if not h > 0:
            raise ValueError(f"h must be > 0, got {h}")
        if mode not in MODES:
            raise ValueError(f"unknown NT mode {mode!r}; use one of {', '.join(MODES)}")
        self.lam = float(lam)
        self.h = float(h)
        self.mode = mode
        self.clip = clip
        self.loss_fn = get_loss(loss) if isinstance(loss, str) else loss

    def penalty(self, model: nn.Module, images: Tensor) -> tuple[Tensor, Tensor]:
        if self.mode == "exact":
            return exact_penalty(model, images)
        return finite_difference_penalty(model, images, h=self.h, clip=self.clip)

    def __call__(
        self, model: nn.Module, images: Tensor, targets: Tensor, step: Step
    ) -> tuple[Tensor, dict[str, float]]:
        penalty, scores = self.penalty(model, images)
        iqa = self.loss_fn(scores, targets.float())
        mean_square = penalty.mean()
        loss = iqa + self.lam * mean_square / 2  # the reference's dl.pow(2).mean()/2
        return loss, {"iqa_loss": float(iqa.detach()), "grad_l1_rms": float(mean_square.detach().sqrt())}
