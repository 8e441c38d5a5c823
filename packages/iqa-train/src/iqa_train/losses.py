"""IQA training losses: L1, MSE and norm-in-norm (Li, Jiang and Jiang, ACM MM 2020; LinearityIQA).

Norm-in-norm normalises predictions and targets over the batch (subtract the mean, divide by the
``q``-norm) and takes the ``p``-norm of the difference, divided by
``2^max(1, 1/q) * N^max(0, 1/p - 1/q)`` and raised to the power ``p``; ``alpha`` weighs this term
and the second one, which first rescales the prediction by the Pearson correlation ``rho``. The
defaults follow the LinearityIQA code: ``p = 1``, ``q = 2``, ``alpha = (1, 0)``. A batch of one
image has no norm to normalise by: the loss is zero (with a graph), as in the reference.
Norm-in-norm is invariant to an affine map of the predictions, so it trains rank and linearity,
not the scale: models trained with it keep their output scale from elsewhere (Linearity maps it
with fixed ``k, b`` parameters).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

_EPS = 1e-8

LossFn = Callable[[Tensor, Tensor], Tensor]


def l1_loss(prediction: Tensor, target: Tensor) -> Tensor:
    return F.l1_loss(prediction.float(), target.float())


def mse_loss(prediction: Tensor, target: Tensor) -> Tensor:
    return F.mse_loss(prediction.float(), target.float())


def norm_in_norm_loss(
    prediction: Tensor,
    target: Tensor,
    *,
    p: float = 1.0,
    q: float = 2.0,
    alpha: tuple[float, float] = (1.0, 0.0),
    exponent: bool = True,
) -> Tensor:
    """Norm-in-norm loss of LinearityIQA (``norm_loss_with_normalization`` of its ``IQAloss.py``)."""
    if p <= 0 or q <= 0:
        raise ValueError(f"norm-in-norm needs p > 0 and q > 0, got p={p}, q={q}")
    if alpha[0] < 0 or alpha[1] < 0 or alpha[0] + alpha[1] <= 0:
        raise ValueError(f"alpha must be two non-negative weights with a positive sum, got {alpha}")
    y_pred = prediction.float().flatten()
    y = target.float().flatten()
    n = y_pred.numel()
    if n != y.numel():
        raise ValueError(f"{n} predictions for {y.numel()} targets")
    if n < 2:
        return (y_pred - y_pred.detach()).abs().sum()
    y_pred = y_pred - y_pred.mean()
    y_pred = y_pred / (_EPS + torch.linalg.vector_norm(y_pred, ord=q))
    y = y - y.mean()
    y = y / (_EPS + torch.linalg.vector_norm(y, ord=q))
    scale = 2 ** max(1.0, 1.0 / q) * n ** max(0.0, 1.0 / p - 1.0 / q)
    total = y_pred.new_zeros(())
    if alpha[0] > 0:
        err = y_pred - y
        if p < 1:
            err = err + _EPS
        term = torch.linalg.vector_norm(err, ord=p) / scale
        total = total + alpha[0] * (term**p if exponent else term)
    if alpha[1] > 0:
        rho = F.cosine_similarity(y_pred[None], y[None])[0]
        err = rho * y_pred - y
        if p < 1:
            err = err + _EPS
        term = torch.linalg.vector_norm(err, ord=p) / scale
        total = total + alpha[1] * (term**p if exponent else term)
    return total / (alpha[0] + alpha[1])


LOSSES: dict[str, LossFn] = {"l1": l1_loss, "mse": mse_loss, "norm-in-norm": norm_in_norm_loss}


def per_image_loss(loss: LossFn, prediction: Tensor, target: Tensor) -> Tensor:
    """The training loss of each image on its own, ``(N,)``: what an attack on the loss maximises.

    L1 and MSE are means of per-image terms (``|f - y|``, ``(f - y)^2``). Norm-in-norm is defined
    over a batch (it normalises by the batch's mean and norm), so an image has no loss of its
    own: its per-image term is ``|f - y|``, the ``p = 1`` error that norm-in-norm sums after
    normalisation (documented deviation: the attacked quantity is then the unnormalised error).
    Any other callable is evaluated on each image alone.
    """
    prediction = prediction.float().flatten()
    target = target.float().flatten()
    if loss is l1_loss or loss is norm_in_norm_loss:
        return (prediction - target).abs()
    if loss is mse_loss:
        return (prediction - target).pow(2)
    return torch.stack([loss(prediction[i : i + 1], target[i : i + 1]) for i in range(prediction.numel())])


def get_loss(name: str) -> LossFn:
    """The loss called ``name`` (``l1``, ``mse`` or ``norm-in-norm``)."""
    key = name.strip().lower().replace("_", "-")
    if key not in LOSSES:
        raise ValueError(f"unknown IQA loss {name!r}; use one of {', '.join(LOSSES)}")
    return LOSSES[key]
