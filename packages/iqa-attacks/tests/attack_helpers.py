"""Shared test helpers: attack factories at test sizes, small FR measures, tiny training sets."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from iqa_attacks import (
    AMIFGSM,
    APGD,
    FACPA,
    FGSM,
    IFGSM,
    MADC,
    MIFGSM,
    NES,
    SSAH,
    UAP,
    AdvCF,
    CAdv,
    Korhonen,
    OnePixel,
    Parsimonious,
    PatchRS,
    Square,
    StAdv,
    ZhangDISTS,
    ZhangLPIPS,
    ZhangSSIM,
)
from iqa_core.testing import ToyMetric, toy_images


class MSEDistance:
    """A full-reference stand-in for LPIPS/DISTS in tests: lower is better, differentiable."""

    name = "mse-distance"
    higher_is_better = False

    def __call__(self, reference: Tensor, distorted: Tensor) -> Tensor:
        return 100 * (reference - distorted).pow(2).flatten(1).mean(1)


BLACK_BOX_TEST_PARAMS: dict[str, Any] = {"max_queries": 60}

# class -> extra constructor parameters used in tests (small query budgets, tiny networks)
ATTACKS: dict[type, dict[str, Any]] = {
    FGSM: {},
    IFGSM: {},
    MIFGSM: {},
    AMIFGSM: {},
    APGD: {},
    Korhonen: {},
    ZhangSSIM: {},
    ZhangLPIPS: {"fr": MSEDistance()},
    ZhangDISTS: {"fr": MSEDistance()},
    MADC: {},
    SSAH: {},
    StAdv: {"iterations": 8},
    AdvCF: {"iterations": 8},
    CAdv: {"pretrained": False, "width": 0.125, "size": 32, "hints": 10, "iterations": 4},
    UAP: {"size": 16, "epochs": 3, "lr": 0.05},
    FACPA: {"width": 8, "epochs": 8, "lr": 1e-2},
    NES: {"max_queries": 60, "n_samples": 10},
    Square: dict(BLACK_BOX_TEST_PARAMS),
    Parsimonious: dict(BLACK_BOX_TEST_PARAMS),
    OnePixel: {"max_queries": 60, "popsize": 10},
    PatchRS: dict(BLACK_BOX_TEST_PARAMS),
}


def build(cls: type, preset: str | None = None, *, fit_metric: Any = None, **params: Any) -> Any:
    """The attack ``cls`` at ``preset`` with test-size parameters, fitted (on ``fit_metric``) when trainable."""
    kwargs = {**(cls.presets[preset] if preset else {}), **ATTACKS[cls], **params}
    attack = cls(**kwargs)
    if hasattr(attack, "fit"):
        attack.fit(
            fit_metric or ToyMetric(), toy_images(6, (32, 32), seed=7), generator=torch.Generator().manual_seed(0)
        )
    return attack
