"""High-level entry points: adversarial training and NT on an IQA dataset.

Both take the metric to fine-tune as an ``nn.Module`` (from the registry or built by the caller),
the training and validation items (:mod:`iqa_train.datasets`), and write to ``out_dir``:
``checkpoint.pt`` (resume state, every epoch), ``log.jsonl`` (one row per epoch: training losses,
SROCC / PLCC / RMSE on validation, clean and under ``eval_attack``), ``best.pt`` (the weights with
the best validation SROCC, a plain state dict of ``export_submodule`` when given, e.g. ``"net"``
for ``demo-cnniqa`` so that ``create("metric", "demo-cnniqa", weights="best.pt")`` loads it) and
``best.json``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from . import checkpoint as ckpt
from .adversarial import AdversarialTraining, make_attacks
from .components import ComponentSpec, Measure, create
from .datasets import IQAItem, PatchDataset, mos_range
from .evaluation import predict, summarise
from .losses import LossFn
from .nt import DEFAULT_H, NormRegularization, nt_lambda
from .trainer import EpochHook, Objective, Trainer, TrainResult, TrainSettings, stack_batch


def _submodule(model: nn.Module, name: str | None) -> nn.Module:
    if not name:
        return model
    module = model.get_submodule(name)
    return module


def make_export(submodule: str | None, monitor: str) -> Any:
    def export(model: nn.Module, path: Path, row: dict[str, Any]) -> None:
        part = _submodule(model, submodule)
        state = {key: value.detach().cpu() for key, value in part.state_dict().items()}
        ckpt.atomic_save(state, path)
        info = {"epoch": row["epoch"], "monitor": monitor, "value": row.get(monitor), "submodule": submodule}
        path.with_suffix(".json").write_text(json.dumps(info, indent=2) + "\n")

    return export


def resolve_eval_attack(eval_attack: Any) -> Any:
    """``None``, an attack object, or a registry spec (name or ``{name, preset, params}``)."""
    if eval_attack is None or (callable(eval_attack) and not isinstance(eval_attack, str | dict)):
        return eval_attack
    return create("attack", ComponentSpec.parse(eval_attack, "validation under attack"), "validation under attack")


def _validator(
    model: nn.Module,
    val_items: Sequence[IQAItem],
    settings: TrainSettings,
    val_patch_size: int | None,
    eval_attack: Any,
    device: torch.device,
    cache: bool,
) -> Any:
    val_set = PatchDataset(val_items, patch_size=val_patch_size, random=False, cache=cache)
    batch = settings.batch_size if val_patch_size is not None else 1
    bounds = getattr(model, "bounds", None)
    diam = float(bounds.diam) if bounds is not None else None

    def validate(m: nn.Module) -> dict[str, float]:
        loader = torch.utils.data.DataLoader(val_set, batch_size=batch, shuffle=False, collate_fn=stack_batch)
        scores = predict(m, loader, device, attack=eval_attack, generator_seed=settings.seed)
        return summarise(scores, diam)

    return validate


def _fit(
    model: nn.Module,
    objective: Objective,
    train_items: Sequence[IQAItem],
    val_items: Sequence[IQAItem],
    out_dir: str | Path,
    settings: TrainSettings,
    *,
    patch_size: int | None,
    val_patch_size: int | None,
    eval_attack: Any,
    export_submodule: str | None,
    resume: bool,
    on_epoch_end: EpochHook | None,
    description: str,
    cache: bool,
) -> TrainResult:
    train_set = PatchDataset(train_items, patch_size=patch_size, random=True, seed=settings.seed, cache=cache)
    trainer = Trainer(
        model,
        objective,
        train_set,
        settings,
        out_dir,
        export_best=make_export(export_submodule, settings.monitor),
        on_epoch_end=on_epoch_end,
        description=description,
    )
    trainer.validate = (
        _validator(model, val_items, settings, val_patch_size, resolve_eval_attack(eval_attack), trainer.device, cache)
        if val_items
        else None
    )
    return trainer.fit(resume=resume)


def train_adversarial(
    model: nn.Module,
    train_items: Sequence[IQAItem],
    val_items: Sequence[IQAItem],
    out_dir: str | Path,
    *,
    settings: TrainSettings | None = None,
    attack: ComponentSpec | str | dict | None = None,
    attacks: Sequence[Any] | None = None,
    eps: Sequence[float] | float | None = None,
    measure: str | Measure = "ssim",
    loss: str | LossFn = "l1",
    mos_span: float | None = None,
    patch_size: int | None = None,
    val_patch_size: int | None = None,
    eval_attack: Any = "same",
    export_submodule: str | None = None,
    resume: bool = True,
    on_epoch_end: EpochHook | None = None,
    cache: bool = False,
) -> TrainResult:
    """Adversarial fine-tuning (see :mod:`iqa_train.adversarial`).

    ``attacks``: ready attack objects; otherwise ``attack`` (registry spec, default APGD with 2
    iterations) at each ``eps`` (per 255, default 4). ``mos_span``: default the MOS range of the
    training items. ``eval_attack="same"`` validates under the first training attack.
    """
    settings = settings or TrainSettings()
    attack_list = list(attacks) if attacks is not None else make_attacks(attack, eps)
    span = mos_span if mos_span is not None else (lambda r: r[1] - r[0])(mos_range(train_items))
    objective = AdversarialTraining(attack_list, mos_span=span, measure=measure, loss=loss)
    if isinstance(eval_attack, str) and eval_attack == "same":
        eval_attack = attack_list[0]
    return _fit(
        model,
        objective,
        train_items,
        val_items,
        out_dir,
        settings,
        patch_size=patch_size,
        val_patch_size=val_patch_size,
        eval_attack=eval_attack,
        export_submodule=export_submodule,
        resume=resume,
        on_epoch_end=on_epoch_end,
        description="adv",
        cache=cache,
    )


def train_nt(
    model: nn.Module,
    train_items: Sequence[IQAItem],
    val_items: Sequence[IQAItem],
    out_dir: str | Path,
    *,
    settings: TrainSettings | None = None,
    lam: float | None = None,
    h: float = DEFAULT_H,
    mode: str = "finite-difference",
    loss: str | LossFn = "l1",
    patch_size: int | None = None,
    val_patch_size: int | None = None,
    eval_attack: Any = None,
    export_submodule: str | None = None,
    resume: bool = True,
    on_epoch_end: EpochHook | None = None,
    cache: bool = False,
) -> TrainResult:
    """NT fine-tuning (see :mod:`iqa_train.nt`); ``lam=None`` takes the paper's value for the model's name."""
    settings = settings or TrainSettings()
    lam = nt_lambda(getattr(model, "name", None)) if lam is None else lam
    objective = NormRegularization(lam, h=h, mode=mode, loss=loss)
    return _fit(
        model,
        objective,
        train_items,
        val_items,
        out_dir,
        settings,
        patch_size=patch_size,
        val_patch_size=val_patch_size,
        eval_attack=eval_attack,
        export_submodule=export_submodule,
        resume=resume,
        on_epoch_end=on_epoch_end,
        description="nt",
        cache=cache,
    )
