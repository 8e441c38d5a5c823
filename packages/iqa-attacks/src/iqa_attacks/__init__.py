"""iqa-attacks: adversarial attacks on NR-IQA metrics, behind the ``iqa_core.Attack`` contract.

Components are reached through the registry (``iqa_core.create("attack", "apgd", preset="strong")``);
the classes are importable from here as well. Every attack pushes the metric's predicted quality
up by default (``direction="down"`` lowers it), returns images in [0, 1] of the input's shape, holds
its ``budget`` exactly and is deterministic under a ``torch.Generator``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from iqa_core import lazy

if TYPE_CHECKING:
    from .advcf import AdvCF
    from .amifgsm import AMIFGSM
    from .apgd import APGD
    from .base import BlackBoxAttack, QueryOracle, WhiteBoxAttack, project_linf
    from .cadv import CAdv
    from .calibrate import CalibrationResult, calibrate, calibrate_joint, load_presets
    from .calibration_spec import CalibrationSpec
    from .facpa import FACPA
    from .fgsm import FGSM
    from .ifgsm import IFGSM
    from .korhonen import Korhonen
    from .loss import attack_loss, attack_sign
    from .madc import MADC
    from .mifgsm import MIFGSM
    from .naturalness import MSCNNaturalness
    from .nes import NES
    from .onepixel import OnePixel
    from .parsimonious import Parsimonious
    from .patch_rs import PatchRS
    from .square import Square
    from .ssah import SSAH
    from .stadv import StAdv
    from .trainable import TrainableAttackBase
    from .uap import UAP
    from .zhang import Zhang, ZhangDISTS, ZhangLPIPS, ZhangSSIM

# public name -> submodule that defines it (imported on first access: importing the package stays cheap)
_LAZY: dict[str, str] = {
    "AdvCF": "advcf",
    "AMIFGSM": "amifgsm",
    "APGD": "apgd",
    "BlackBoxAttack": "base",
    "QueryOracle": "base",
    "WhiteBoxAttack": "base",
    "project_linf": "base",
    "CAdv": "cadv",
    "CalibrationResult": "calibrate",
    "calibrate": "calibrate",
    "calibrate_joint": "calibrate",
    "load_presets": "calibrate",
    "CalibrationSpec": "calibration_spec",
    "FACPA": "facpa",
    "FGSM": "fgsm",
    "IFGSM": "ifgsm",
    "Korhonen": "korhonen",
    "attack_loss": "loss",
    "attack_sign": "loss",
    "MADC": "madc",
    "MIFGSM": "mifgsm",
    "MSCNNaturalness": "naturalness",
    "NES": "nes",
    "OnePixel": "onepixel",
    "Parsimonious": "parsimonious",
    "PatchRS": "patch_rs",
    "Square": "square",
    "SSAH": "ssah",
    "StAdv": "stadv",
    "TrainableAttackBase": "trainable",
    "UAP": "uap",
    "Zhang": "zhang",
    "ZhangDISTS": "zhang",
    "ZhangLPIPS": "zhang",
    "ZhangSSIM": "zhang",
}


def __getattr__(name: str) -> Any:
    return lazy.resolve(__name__, _LAZY, name, globals())


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


# Importing a submodule (calibrate) must not replace the function of the same name.
lazy.keep_exports_over_submodules(__name__, _LAZY)


__version__ = "0.3.1"

__all__ = [
    "AMIFGSM",
    "APGD",
    "FACPA",
    "FGSM",
    "IFGSM",
    "MADC",
    "MIFGSM",
    "NES",
    "SSAH",
    "UAP",
    "AdvCF",
    "BlackBoxAttack",
    "CAdv",
    "CalibrationResult",
    "CalibrationSpec",
    "Korhonen",
    "MSCNNaturalness",
    "OnePixel",
    "Parsimonious",
    "PatchRS",
    "QueryOracle",
    "Square",
    "StAdv",
    "TrainableAttackBase",
    "WhiteBoxAttack",
    "Zhang",
    "ZhangDISTS",
    "ZhangLPIPS",
    "ZhangSSIM",
    "__version__",
    "attack_loss",
    "attack_sign",
    "calibrate",
    "calibrate_joint",
    "load_presets",
    "project_linf",
]
