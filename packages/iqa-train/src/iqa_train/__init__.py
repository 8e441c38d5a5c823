"""iqa_train: adversarial fine-tuning, NT regularisation, FCN-filter training for NR-IQA metrics.

Attacks, metrics and full-reference measures come from the iqa-core registry only. Nothing
heavy is imported here: the submodules load torch-side machinery when used.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from iqa_core import lazy

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("IQA_OFFLINE", "1")

if TYPE_CHECKING:
    from .adversarial import AdversarialTraining, TrainingLossObjective, adjusted_mos, make_attacks
    from .api import train_adversarial, train_nt
    from .components import ComponentSpec, MissingComponentError
    from .datasets import (
        DatasetLayoutError,
        IQAItem,
        PatchDataset,
        folder,
        kadid10k,
        koniq10k,
        livec,
        make_split,
        read_dataset,
        read_split,
        split_dataset,
        write_split,
    )
    from .fcn import FCNNet, Pair, generate_attacked, read_pairs, train_fcn
    from .losses import l1_loss, mse_loss, norm_in_norm_loss, per_image_loss
    from .nt import NT_LAMBDAS, NormRegularization, exact_penalty, finite_difference_penalty, nt_lambda
    from .trainer import Trainer, TrainResult, TrainSettings

# public name -> submodule that defines it (imported on first access: importing the package stays cheap)
_LAZY: dict[str, str] = {
    "AdversarialTraining": "adversarial",
    "TrainingLossObjective": "adversarial",
    "adjusted_mos": "adversarial",
    "make_attacks": "adversarial",
    "train_adversarial": "api",
    "train_nt": "api",
    "ComponentSpec": "components",
    "MissingComponentError": "components",
    "DatasetLayoutError": "datasets",
    "IQAItem": "datasets",
    "PatchDataset": "datasets",
    "folder": "datasets",
    "kadid10k": "datasets",
    "koniq10k": "datasets",
    "livec": "datasets",
    "make_split": "datasets",
    "read_dataset": "datasets",
    "read_split": "datasets",
    "split_dataset": "datasets",
    "write_split": "datasets",
    "FCNNet": "fcn",
    "Pair": "fcn",
    "generate_attacked": "fcn",
    "read_pairs": "fcn",
    "train_fcn": "fcn",
    "l1_loss": "losses",
    "mse_loss": "losses",
    "norm_in_norm_loss": "losses",
    "per_image_loss": "losses",
    "NT_LAMBDAS": "nt",
    "NormRegularization": "nt",
    "exact_penalty": "nt",
    "finite_difference_penalty": "nt",
    "nt_lambda": "nt",
    "Trainer": "trainer",
    "TrainResult": "trainer",
    "TrainSettings": "trainer",
}


def __getattr__(name: str) -> Any:
    return lazy.resolve(__name__, _LAZY, name, globals())


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__version__ = "0.2.1"

__all__ = [
    "NT_LAMBDAS",
    "AdversarialTraining",
    "ComponentSpec",
    "DatasetLayoutError",
    "FCNNet",
    "IQAItem",
    "MissingComponentError",
    "NormRegularization",
    "Pair",
    "PatchDataset",
    "TrainResult",
    "TrainSettings",
    "Trainer",
    "TrainingLossObjective",
    "__version__",
    "adjusted_mos",
    "exact_penalty",
    "finite_difference_penalty",
    "folder",
    "generate_attacked",
    "kadid10k",
    "koniq10k",
    "l1_loss",
    "livec",
    "make_attacks",
    "make_split",
    "mse_loss",
    "norm_in_norm_loss",
    "nt_lambda",
    "per_image_loss",
    "read_dataset",
    "read_pairs",
    "read_split",
    "split_dataset",
    "train_adversarial",
    "train_fcn",
    "train_nt",
    "write_split",
]
