"""Validation: SROCC / PLCC / RMSE with the MOS, on clean images and under an attack."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn


def correlations(predictions: Any, mos: Any) -> dict[str, float]:
    """SROCC, PLCC and RMSE between predictions and MOS (NaN where undefined: fewer than 3 or constant)."""
    from scipy import stats

    x = np.asarray(predictions, dtype=np.float64).ravel()
    y = np.asarray(mos, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise ValueError(f"{x.size} predictions for {y.size} MOS values")
    out = {"srocc": math.nan, "plcc": math.nan, "rmse": float(np.sqrt(np.mean((x - y) ** 2))) if x.size else math.nan}
    if x.size >= 3 and np.ptp(x) > 0 and np.ptp(y) > 0:
        out["srocc"] = float(stats.spearmanr(x, y).statistic)
        out["plcc"] = float(stats.pearsonr(x, y).statistic)
    return out


def predict(
    model: nn.Module,
    batches: Iterable[tuple[Tensor, Tensor]],
    device: torch.device,
    *,
    attack: Any = None,
    generator_seed: int | None = None,
) -> dict[str, np.ndarray]:
    """Scores of ``model`` (eval mode) on clean images and, with ``attack``, on attacked ones.

    The attack gets a generator seeded by ``(generator_seed, batch index)`` so repeated validations
    see the same attacked images.
    """
    from .datasets import derived_seed

    was_training = model.training
    model.eval()
    clean, attacked, mos = [], [], []
    try:
        for index, (images, targets) in enumerate(batches):
            images = images.to(device)
            with torch.no_grad():
                clean.append(model(images).detach().float().cpu())
            if attack is not None:
                generator = torch.Generator(device=device)
                generator.manual_seed(derived_seed("val-attack", generator_seed or 0, index))
                adversarial = attack(model, images, generator=generator)
                with torch.no_grad():
                    attacked.append(model(adversarial).detach().float().cpu())
            mos.append(targets.float().cpu())
    finally:
        model.train(was_training)
    out = {"clean": torch.cat(clean).numpy(), "mos": torch.cat(mos).numpy()}
    if attack is not None:
        out["attacked"] = torch.cat(attacked).numpy()
    return out


def summarise(scores: dict[str, np.ndarray], diam: float | None = None) -> dict[str, float]:
    """Correlations with the MOS (clean and ``adv_`` prefixed) and the score change under attack.

    ``score_change``: mean ``|f(x') - f(x)|``; ``score_change_rel`` the same divided by ``diam``
    (the metric's score range) when given.
    """
    out = {f"val_{k}": v for k, v in correlations(scores["clean"], scores["mos"]).items()}
    if "attacked" in scores:
        out.update({f"val_adv_{k}": v for k, v in correlations(scores["attacked"], scores["mos"]).items()})
        change = float(np.mean(np.abs(scores["attacked"] - scores["clean"])))
        out["val_score_change"] = change
        if diam:
            out["val_score_change_rel"] = change / diam
    return out
