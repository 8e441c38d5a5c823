"""Adversarial training of an NR-IQA metric (Chistyakova et al., 2024; benchmark A.3.5).

Each batch of ``B`` clean images ``x`` with MOS ``y`` is attacked on the fly (the model in eval
mode, the attack from the registry, a generator seeded per step) and the model is trained on the
``2B`` images ``[x, x']`` (clean : attacked = 1 : 1) against ``[y, y']`` with the adjusted MOS

    y' = y - s * (mos_max - mos_min) * M(x, x')

``M`` is ``1 - SSIM`` or LPIPS (or DISTS; ``none`` keeps ``y``), ``s = +1`` when higher scores
mean better quality (``-1`` otherwise, so attacked images always get *worse* labels).

Scaling: the paper writes ``y' = y - M(x, x')`` for MOS normalised to [0, 1]; ``M`` is a
distance on a [0, 1]-like scale (``1 - SSIM``: 0 for identical images, LPIPS about 0-1). To train
on MOS in their native scale (KonIQ 1-5, LIVE-C 0-100) we multiply ``M`` by the MOS range of the
training set, which is that same formula expressed in the native units: a perturbation with
``M = 0.05`` costs 5 % of the scale whatever the dataset. Adjusted MOS are not clipped.

Defaults: APGD (``apgd`` from iqa-attacks), 2 iterations, ``eps = 4/255``; the paper trains one
model per ``eps`` in {2, 4, 8}/255. A list of ``eps`` draws one per batch. Any registered
white-box attack can replace APGD (its own parameters then apply).

What the attack maximises (benchmark A.3.5: "the goal of the attack during the training process
is to increase model loss"): the training loss of each attacked image against its adjusted
target, ``l(f(x'), y'(x'))`` with ``y'(x') = y - s * span * M(x, x')`` recomputed for every
candidate ``x'`` (gradients flow through ``f`` and ``M``). The attack is handed that loss as a
higher-is-better "metric" (:class:`TrainingLossObjective`); it never sees the model's score
direction. Raising the predicted score instead (the benchmark's eq. 1 attack) *lowers* the loss
whenever the prediction is below ``y'``. The per-image loss is :func:`~iqa_train.losses.per_image_loss`
(``|f - y'|`` for L1 and norm-in-norm, ``(f - y')^2`` for MSE).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from iqa_core import Bounds

from .components import ComponentSpec, Measure, create, distance_measure
from .datasets import derived_seed
from .losses import LossFn, get_loss, per_image_loss
from .trainer import Step

DEFAULT_EPS_255: tuple[float, ...] = (4.0,)
PAPER_EPS_255: tuple[float, ...] = (2.0, 4.0, 8.0)
APGD_TRAINING_STEPS = 2


def adjusted_mos(mos: Tensor, distance: Tensor, mos_span: float, *, higher_is_better: bool = True) -> Tensor:
    """``y' = y - s * mos_span * M`` (see the module docstring)."""
    sign = 1.0 if higher_is_better else -1.0
    return mos - sign * float(mos_span) * distance.to(mos.dtype)


def make_attacks(
    spec: ComponentSpec | str | Mapping[str, Any] | None = None, eps_255: Sequence[float] | float | None = None
) -> list[Any]:
    """One registry attack per ``eps`` (in 1/255 units).

    Default: APGD with ``n_iter = 2``. ``eps`` is passed as ``eps = value / 255`` to attacks with an
    ``eps`` parameter (APGD and the other Linf attacks); with ``eps_255=None`` the attack's own
    parameters (preset / params) decide.
    """
    parsed = ComponentSpec.parse(spec, "adversarial training attack") if spec is not None else None
    if parsed is None:
        parsed = ComponentSpec("apgd", None, {"n_iter": APGD_TRAINING_STEPS})
        if eps_255 is None:
            eps_255 = DEFAULT_EPS_255
    if eps_255 is None:
        return [create("attack", parsed, "adversarial training")]
    values = [float(eps_255)] if isinstance(eps_255, int | float) else [float(v) for v in eps_255]
    if not values or any(not v > 0 for v in values):
        raise ValueError(f"eps values (per 255) must be > 0, got {values}")
    return [create("attack", parsed, "adversarial training", eps=v / 255.0) for v in values]


class TrainingLossObjective(nn.Module):
    """The per-image training loss on candidate images ``x'``, as a metric for an attack to raise.

    ``objective(x') = l(f(x'), y - s * span * M(x, x'))`` per image (see the module docstring).
    Declared higher-is-better with bounds ``[0, span]`` (the attack loss divides by the diameter:
    a constant scale). Every call must score the whole batch in its original order (white-box
    attacks do); a call with another number of images is refused with a clear error.
    """

    higher_is_better = True
    differentiable = True

    def __init__(
        self,
        model: nn.Module,
        images: Tensor,
        targets: Tensor,
        *,
        measure: Measure,
        mos_span: float,
        loss: LossFn,
        model_higher_is_better: bool,
    ) -> None:
        super().__init__()
        self.model = model
        self.images = images.detach()
        self.targets = targets.detach().float().flatten()
        self.measure = measure
        self.mos_span = float(mos_span)
        self.loss = loss
        self.model_higher_is_better = model_higher_is_better
        self.bounds = Bounds(0.0, self.mos_span)
        self.name = f"training-loss[{getattr(model, 'name', type(model).__name__)}]"

    def forward(self, candidates: Tensor) -> Tensor:
        if candidates.shape[0] != self.targets.numel():
            raise ValueError(
                f"the adversarial-training attack scored {candidates.shape[0]} images of a batch of "
                f"{self.targets.numel()}: attacks on the training loss must score the whole batch at once "
                "(use a white-box attack such as apgd, ifgsm or pgd, not a black-box one)"
            )
        predictions = self.model(candidates).flatten().float()
        distance = self.measure(self.images, candidates).float().flatten()
        adjusted = adjusted_mos(self.targets, distance, self.mos_span, higher_is_better=self.model_higher_is_better)
        return per_image_loss(self.loss, predictions, adjusted)


class AdversarialTraining:
    """Objective for :class:`~iqa_train.trainer.Trainer` (see the module docstring).

    ``attacks``: attack objects (one is drawn per batch); ``measure``: ``"ssim"``, ``"lpips"``,
    ``"dists"``, ``"none"`` or a callable ``(x, x') -> (N,)``; ``mos_span``: the MOS range the
    distance is scaled to; ``loss``: ``l1``, ``mse``, ``norm-in-norm`` or a callable.
    """

    def __init__(
        self,
        attacks: Sequence[Any],
        *,
        mos_span: float,
        measure: str | Measure = "ssim",
        loss: str | LossFn = "l1",
        higher_is_better: bool | None = None,
    ) -> None:
        if not attacks:
            raise ValueError("adversarial training needs at least one attack")
        if not mos_span > 0:
            raise ValueError(f"mos_span must be > 0 (the MOS range of the training set), got {mos_span}")
        self.attacks = list(attacks)
        self.mos_span = float(mos_span)
        self._measure_spec = measure
        self._measure: Measure | None = None if isinstance(measure, str) else measure
        self.loss_fn = get_loss(loss) if isinstance(loss, str) else loss
        self.higher_is_better = higher_is_better

    def measure(self, device: torch.device) -> Measure:
        if self._measure is None:
            assert isinstance(self._measure_spec, str)
            self._measure = distance_measure(self._measure_spec, device)
        return self._measure

    def model_higher_is_better(self, model: nn.Module) -> bool:
        if self.higher_is_better is not None:
            return self.higher_is_better
        return bool(getattr(model, "higher_is_better", True))

    def attack(self, model: nn.Module, images: Tensor, targets: Tensor, step: Step) -> Tensor:
        """Copies of ``images`` attacked to raise the training loss against the adjusted MOS.

        The model runs in eval mode during the attack and is restored afterwards.
        """
        choice = derived_seed("eps", step.seed, step.epoch, step.index) % len(self.attacks)
        objective = TrainingLossObjective(
            model,
            images,
            targets,
            measure=self.measure(images.device),
            mos_span=self.mos_span,
            loss=self.loss_fn,
            model_higher_is_better=self.model_higher_is_better(model),
        )
        was_training = model.training
        model.eval()
        try:
            adversarial = self.attacks[choice](objective, images.detach(), generator=step.generator)
        finally:
            model.train(was_training)
        return adversarial.detach().to(images.dtype)

    def __call__(
        self, model: nn.Module, images: Tensor, targets: Tensor, step: Step
    ) -> tuple[Tensor, dict[str, float]]:
        adversarial = self.attack(model, images, targets, step)
        higher = self.model_higher_is_better(model)
        with torch.no_grad():
            distance = self.measure(images.device)(images, adversarial).float()
            adjusted = adjusted_mos(targets.float(), distance, self.mos_span, higher_is_better=higher)
        with step.autocast():
            predictions = model(torch.cat([images, adversarial]))
        loss = self.loss_fn(predictions.float(), torch.cat([targets.float(), adjusted]))
        parts = {
            "distance": float(distance.mean()),
            "mos_shift": float((targets.float() - adjusted).mean()),
            "linf": float((adversarial - images).abs().flatten(1).amax(1).mean()),
        }
        return loss, parts
