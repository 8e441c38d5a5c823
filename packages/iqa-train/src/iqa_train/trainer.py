"""The training loop shared by every method: AMP, per-epoch checkpoints, exact resume, progress, logs.

A method is an *objective*: ``objective(model, images, targets, step) -> (loss, parts)`` where
``parts`` are floats to average and log (e.g. the IQA loss and the regulariser). The loop:

* visits the training samples in an order that depends only on ``(seed, epoch)`` and asks the
  dataset for crops seeded by ``(seed, epoch, index)``; attacks get a generator seeded by
  ``(seed, epoch, step)`` (``step.generator``);
* runs the objective under ``torch.autocast`` (float16) with a ``GradScaler`` on CUDA when
  ``amp`` is on; on the CPU both are no-ops;
* after every epoch validates, appends a row to the log (``log.jsonl``, rewritten from the
  checkpoint's log so it stays consistent after a resume), keeps the best model by ``monitor``
  and writes ``checkpoint.pt`` atomically: model, optimiser, scaler, the global random states,
  the epoch and the log. ``resume=True`` continues from it; on the CPU the result is
  bit-identical to a run that was never interrupted (tested).
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader

from iqa_core import resolve_device

from . import checkpoint as ckpt
from .datasets import derived_seed, epoch_order

CHECKPOINT = "checkpoint.pt"
BEST = "best.pt"
LOG = "log.jsonl"


@dataclass
class TrainSettings:
    """Optimisation settings common to every method."""

    epochs: int = 30
    batch_size: int = 8
    lr: float = 1e-5
    weight_decay: float = 0.0
    optimizer: str = "adam"
    seed: int = 0
    device: str = "auto"
    amp: bool = True
    num_workers: int = 0
    grad_clip: float | None = None
    progress: bool = True
    monitor: str = "val_srocc"
    monitor_mode: str = "max"

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise ValueError(f"epochs must be >= 1, got {self.epochs}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.optimizer!r}; use one of {', '.join(OPTIMIZERS)}")
        if self.monitor_mode not in ("max", "min"):
            raise ValueError(f"monitor_mode must be 'max' or 'min', got {self.monitor_mode!r}")
        if self.num_workers < 0:
            raise ValueError(f"num_workers must be >= 0, got {self.num_workers}")


def _adam(params: Any, s: TrainSettings) -> torch.optim.Optimizer:
    return torch.optim.Adam(params, lr=s.lr, weight_decay=s.weight_decay)


def _adamw(params: Any, s: TrainSettings) -> torch.optim.Optimizer:
    return torch.optim.AdamW(params, lr=s.lr, weight_decay=s.weight_decay)


def _sgd(params: Any, s: TrainSettings) -> torch.optim.Optimizer:
    return torch.optim.SGD(params, lr=s.lr, momentum=0.9, weight_decay=s.weight_decay)


OPTIMIZERS: dict[str, Callable[[Any, TrainSettings], torch.optim.Optimizer]] = {
    "adam": _adam,
    "adamw": _adamw,
    "sgd": _sgd,
}


@dataclass
class Step:
    """What an objective knows of the current step."""

    epoch: int
    index: int
    device: torch.device
    seed: int
    amp: bool

    @property
    def generator(self) -> torch.Generator:
        """A fresh generator on the step's device, seeded by ``(seed, epoch, index)``."""
        generator = torch.Generator(device=self.device)
        generator.manual_seed(derived_seed("step", self.seed, self.epoch, self.index))
        return generator

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        """float16 autocast on CUDA when AMP is on; a no-op otherwise."""
        if self.amp and self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.float16)
        return contextlib.nullcontext()


class Objective(Protocol):
    def __call__(
        self, model: nn.Module, images: Tensor, targets: Tensor, step: Step
    ) -> tuple[Tensor, dict[str, float]]:
        """The loss to minimise and named float parts to log."""
        ...


class EpochDataset(Protocol):
    def __len__(self) -> int: ...
    def __getitem__(self, index: int) -> Any: ...
    def set_epoch(self, epoch: int) -> None: ...


Validate = Callable[[nn.Module], dict[str, float]]
EpochHook = Callable[[int, dict[str, Any]], None]
ExportBest = Callable[[nn.Module, Path, dict[str, Any]], None]


@dataclass
class TrainResult:
    """What :meth:`Trainer.fit` returns."""

    log: list[dict[str, Any]]
    checkpoint: Path
    best: Path | None
    best_value: float | None
    resumed_from: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def stack_batch(samples: list[tuple[Tensor, Tensor]]) -> tuple[Tensor, Tensor]:
    """Stack ``(image, target)`` samples; images of different sizes get a clear error."""
    shapes = {tuple(sample[0].shape) for sample in samples}
    if len(shapes) > 1:
        raise ValueError(
            f"a batch mixes image sizes {sorted(shapes)[:3]}; set a patch_size (random crops) or batch_size 1"
        )
    return torch.stack([s[0] for s in samples]), torch.stack([torch.as_tensor(s[1]) for s in samples])


def _default_export(model: nn.Module, path: Path, row: dict[str, Any]) -> None:
    ckpt.atomic_save({"model": model.state_dict(), "epoch": int(row["epoch"])}, path)


class Trainer:
    """Runs an objective over a dataset for ``settings.epochs`` epochs; see the module docstring.

    ``validate(model) -> metrics`` is called after each epoch (model in eval mode; the loop puts it
    back in train mode). ``export_best(model, path, row)`` writes the best model (default:
    ``{"model": state_dict, "epoch": n}``). ``on_epoch_end(epoch, row)`` runs after the checkpoint
    is written (used to stop early or, in tests, to simulate a kill).
    """

    def __init__(
        self,
        model: nn.Module,
        objective: Objective,
        train_set: EpochDataset,
        settings: TrainSettings,
        out_dir: str | Path,
        *,
        validate: Validate | None = None,
        export_best: ExportBest | None = None,
        on_epoch_end: EpochHook | None = None,
        description: str = "train",
        parameters: Sequence[nn.Parameter] | None = None,
    ) -> None:
        self.model = model
        self.objective = objective
        self.train_set = train_set
        self.settings = settings
        self.out_dir = Path(out_dir)
        self.validate = validate
        self.export_best = export_best or _default_export
        self.on_epoch_end = on_epoch_end
        self.description = description
        self._parameters = parameters
        self.device = resolve_device(None if settings.device == "auto" else settings.device)

    # ---------------------------------------------------------------- pieces
    def _loader(self, epoch: int) -> DataLoader:
        self.train_set.set_epoch(epoch)
        order = epoch_order(len(self.train_set), self.settings.seed, epoch)
        return DataLoader(
            self.train_set,  # type: ignore[arg-type]
            batch_size=self.settings.batch_size,
            sampler=order,
            num_workers=self.settings.num_workers,
            collate_fn=stack_batch,
            pin_memory=self.device.type == "cuda",
        )

    def _better(self, value: float, best: float | None) -> bool:
        if not math.isfinite(value):
            return False
        if best is None:
            return True
        return value > best if self.settings.monitor_mode == "max" else value < best

    def _write_log(self, log: list[dict[str, Any]]) -> None:
        text = "".join(json.dumps(row, sort_keys=True) + "\n" for row in log)
        tmp = self.out_dir / f".{LOG}.tmp"
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(self.out_dir / LOG)

    def _progress(self, loader: DataLoader, epoch: int) -> Iterator[Any]:
        if not self.settings.progress:
            yield from loader
            return
        from tqdm.auto import tqdm

        bar = tqdm(loader, desc=f"{self.description} {epoch + 1}/{self.settings.epochs}", leave=False, unit="batch")
        try:
            yield from bar
        finally:
            bar.close()

    # ---------------------------------------------------------------- the loop
    def fit(self, *, resume: bool = True) -> TrainResult:
        s = self.settings
        self.out_dir.mkdir(parents=True, exist_ok=True)
        model = self.model.to(self.device)
        params = list(self._parameters) if self._parameters is not None else list(model.parameters())
        if not params:
            raise ValueError("the model has no parameters to train")
        for p in params:
            p.requires_grad_(True)
        optimizer = OPTIMIZERS[s.optimizer](params, s)
        amp = bool(s.amp and self.device.type == "cuda")
        scaler = torch.amp.GradScaler("cuda", enabled=amp)
        log: list[dict[str, Any]] = []
        best_value: float | None = None
        start = 0
        path = self.out_dir / CHECKPOINT
        if resume and path.is_file():
            state = ckpt.load(path, map_location=self.device)
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            scaler.load_state_dict(state["scaler"])
            log = list(state["log"])
            best_value = state["best_value"]
            start = int(state["epoch"]) + 1
            ckpt.set_rng_state(state["rng"])
        else:
            ckpt.seed_everything(s.seed)
        resumed_from = start
        best_path = self.out_dir / BEST if (self.out_dir / BEST).is_file() else None
        for epoch in range(start, s.epochs):
            model.train()
            began = time.perf_counter()
            sums: dict[str, float] = {}
            batches = 0
            for index, (images, targets) in enumerate(self._progress(self._loader(epoch), epoch)):
                images = images.to(self.device, non_blocking=True)
                targets = targets.to(self.device, non_blocking=True)
                step = Step(epoch, index, self.device, s.seed, amp)
                optimizer.zero_grad(set_to_none=True)
                loss, parts = self.objective(model, images, targets, step)
                if not torch.isfinite(loss):
                    raise FloatingPointError(
                        f"non-finite training loss {float(loss)} at epoch {epoch + 1}, batch {index}; "
                        "lower the learning rate or check the data"
                    )
                scaler.scale(loss).backward()
                if s.grad_clip is not None:
                    scaler.unscale_(optimizer)
                    torch.nn.utils.clip_grad_norm_(params, s.grad_clip)
                scaler.step(optimizer)
                scaler.update()
                for key, value in {"train_loss": float(loss.detach()), **parts}.items():
                    sums[key] = sums.get(key, 0.0) + float(value)
                batches += 1
            row: dict[str, Any] = {"epoch": epoch + 1}
            row.update({key: value / max(batches, 1) for key, value in sums.items()})
            row["train_seconds"] = time.perf_counter() - began
            if self.validate is not None:
                model.eval()
                row.update(self.validate(model))
                model.train()
            log.append(row)
            monitored = row.get(s.monitor)
            if isinstance(monitored, float) and self._better(monitored, best_value):
                best_value = monitored
                best_path = self.out_dir / BEST
                self.export_best(model, best_path, row)
            ckpt.atomic_save(
                {
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "scaler": scaler.state_dict(),
                    "epoch": epoch,
                    "log": log,
                    "best_value": best_value,
                    "settings": asdict(s),
                    "rng": ckpt.rng_state(),
                },
                path,
            )
            self._write_log(log)
            if self.settings.progress:
                shown = ", ".join(f"{k}={v:.4g}" for k, v in row.items() if isinstance(v, float) and k != "epoch")
                from tqdm.auto import tqdm

                tqdm.write(f"{self.description} epoch {epoch + 1}/{s.epochs}: {shown}")
            if self.on_epoch_end is not None:
                self.on_epoch_end(epoch, row)
        model.eval()
        return TrainResult(log, path, best_path, best_value, resumed_from)
