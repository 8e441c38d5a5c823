"""``Scorer``: run a metric, a defence or any batch function over many images, in device batches.

Every package uses it instead of writing its own loop. It

* accepts a ``(N,3,H,W)`` tensor, a sequence of ``(3,H,W)`` / ``(1,3,H,W)`` tensors of any sizes,
  or an iterable of batches (streamed: never materialised as a whole);
* groups images of equal size into batches and returns results in input order;
* picks the device (CUDA when available), copies through pinned memory with
  ``non_blocking=True`` on CUDA;
* halves the batch and retries when the device runs out of memory, and remembers the size
  that worked;
* optionally runs under autocast and in channels-last memory format;
* runs under ``torch.inference_mode`` unless gradients are requested;
* reports progress through a callback ``progress(done, total)`` (``total`` is None for streams).
"""

from __future__ import annotations

import contextlib
import logging
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, cast

import torch
from torch import Tensor, nn

from .errors import UserError
from .protocols import Metric

log = logging.getLogger(__name__)

BatchFn = Callable[[Tensor], Tensor]
ProgressFn = Callable[[int, "int | None"], None]
ImagesLike = Tensor | Sequence[Tensor] | Iterable[Tensor]


class DeviceUnavailableError(UserError, RuntimeError):
    """The requested device does not exist on this machine."""


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """``None`` or ``"auto"`` -> CUDA when available, else CPU; anything else as given."""
    if device is None or (isinstance(device, str) and device == "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise DeviceUnavailableError(
            f"device {device!r} was requested but CUDA is not available; use device='cpu' or 'auto'"
        )
    return dev


def is_out_of_memory(error: BaseException) -> bool:
    """True for a device out-of-memory error (CUDA or others that say so)."""
    oom_type = getattr(torch, "OutOfMemoryError", None) or getattr(torch.cuda, "OutOfMemoryError", None)
    if oom_type is not None and isinstance(error, oom_type):
        return True
    return isinstance(error, RuntimeError) and "out of memory" in str(error).lower()


class OutOfMemoryAtBatchOne(RuntimeError):
    """The device ran out of memory even for a single image."""


@dataclass
class _Group:
    """Indices (into the input) of images of one size, and where to find them."""

    shape: tuple[int, ...]
    indices: list[int]


def _as_item(image: Tensor, index: int) -> Tensor:
    if image.ndim == 4 and image.shape[0] == 1:
        image = image[0]
    if image.ndim != 3 or image.shape[0] != 3:
        raise ValueError(f"image {index} has shape {tuple(image.shape)}; each item must be (3, H, W) or (1, 3, H, W)")
    return image


class Scorer:
    """Batched, device-aware runner; see the module docstring.

    Parameters
    ----------
    device: ``"auto"`` (default), ``"cpu"``, ``"cuda"``, ``"cuda:1"`` or a ``torch.device``.
    batch_size: largest batch sent to the device; halved on out-of-memory.
    autocast: run under ``torch.autocast`` (float16 on CUDA, bfloat16 on CPU unless
        ``autocast_dtype`` says otherwise); outputs are cast back to float32.
    channels_last: send batches (and module components) in channels-last memory format.
    progress: ``progress(done, total)`` after every batch.
    output_device: where results are gathered (default CPU, so large runs do not fill the
        device); ``None`` keeps them on the compute device.
    """

    def __init__(
        self,
        device: str | torch.device | None = "auto",
        batch_size: int = 32,
        *,
        autocast: bool = False,
        autocast_dtype: torch.dtype | None = None,
        channels_last: bool = False,
        progress: ProgressFn | None = None,
        output_device: str | torch.device | None = "cpu",
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.device = resolve_device(device)
        self.batch_size = int(batch_size)
        self.autocast = autocast
        self.autocast_dtype = autocast_dtype
        self.channels_last = channels_last
        self.progress = progress
        self.output_device = None if output_device is None else torch.device(output_device)
        self._prepared: set[int] = set()

    # ------------------------------------------------------------------ public API
    def score(self, metric: Metric | BatchFn, images: ImagesLike, *, grad: bool = False) -> Tensor:
        """Scores ``(N,)`` (float32) of ``metric`` on ``images``, in input order."""
        outputs = self.map(metric, images, grad=grad)
        if not outputs:
            return torch.empty(0)
        return torch.stack([o.reshape(()) for o in outputs]).float()

    def apply(
        self,
        fn: Callable[..., Tensor],
        images: ImagesLike,
        *,
        generator: torch.Generator | None = None,
        grad: bool = False,
    ) -> Tensor | list[Tensor]:
        """Apply an image-to-image function (a defence, an attack closure) batch-wise.

        A tensor input gives a tensor output; a sequence or stream gives a list, in input order.
        ``generator`` is passed to ``fn`` as a keyword when given.
        """
        call = fn if generator is None else (lambda batch: fn(batch, generator=generator))
        outputs = self.map(call, images, grad=grad)
        if isinstance(images, Tensor):
            return torch.stack(outputs) if outputs else images[:0]
        return outputs

    def map(self, fn: Metric | BatchFn, images: ImagesLike, *, grad: bool = False) -> list[Tensor]:
        """Run ``fn`` on batches of ``images``; one output per image (``fn``'s output split on dim 0)."""
        return list(self.iter_map(fn, images, grad=grad))

    def iter_map(self, fn: Metric | BatchFn, images: ImagesLike, *, grad: bool = False) -> Iterator[Tensor]:
        """Like :meth:`map`, yielding per-image outputs as they are computed (in input order)."""
        self.prepare(fn)
        if isinstance(images, Tensor):
            if images.ndim == 3:
                images = images.unsqueeze(0)
            if images.ndim != 4:
                raise ValueError(f"images must be (N, 3, H, W), got shape {tuple(images.shape)}")
            total = images.shape[0]
            done = 0
            for out in self._run_batch(fn, images, grad):
                yield from out
                done += out.shape[0]
                self._report(done, total)
            return
        if isinstance(images, Sequence):
            yield from self._run_sequence(fn, images, grad)
            return
        yield from self._run_stream(fn, images, grad)

    # ------------------------------------------------------------------ internals
    def prepare(self, fn: object) -> None:
        """Move a module component to the scorer's device (once per object); other objects are left alone."""
        key = id(fn)
        if key in self._prepared:
            return
        if isinstance(fn, nn.Module):
            fn.to(self.device)
            if self.channels_last:
                fn.to(memory_format=torch.channels_last)
        self._prepared.add(key)

    def _report(self, done: int, total: int | None) -> None:
        if self.progress is not None:
            self.progress(done, total)

    def _run_sequence(self, fn: Callable[[Tensor], Tensor], images: Sequence[Tensor], grad: bool) -> Iterator[Tensor]:
        items = [_as_item(img, i) for i, img in enumerate(images)]
        groups: OrderedDict[tuple[int, ...], _Group] = OrderedDict()
        for i, item in enumerate(items):
            shape = tuple(item.shape)
            groups.setdefault(shape, _Group(shape, [])).indices.append(i)
        results: dict[int, Tensor] = {}
        next_out = 0
        done = 0
        for group in groups.values():
            for start in range(0, len(group.indices), self.batch_size):
                idx = group.indices[start : start + self.batch_size]
                batch = torch.stack([items[i] for i in idx])
                outs = [o for out in self._run_batch(fn, batch, grad) for o in out]
                for i, o in zip(idx, outs, strict=True):
                    results[i] = o
                done += len(idx)
                self._report(done, len(items))
                while next_out in results:  # yield what is ready, in order
                    yield results.pop(next_out)
                    next_out += 1
        while next_out in results:
            yield results.pop(next_out)
            next_out += 1

    def _run_stream(self, fn: Callable[[Tensor], Tensor], batches: Iterable[Tensor], grad: bool) -> Iterator[Tensor]:
        done = 0
        for k, batch in enumerate(batches):
            if not isinstance(batch, Tensor):
                raise TypeError(f"stream item {k} is {type(batch).__name__}; an iterable input must yield tensors")
            if batch.ndim == 3:
                batch = batch.unsqueeze(0)
            for out in self._run_batch(fn, batch, grad):
                yield from out
                done += out.shape[0]
                self._report(done, None)

    def _to_device(self, batch: Tensor) -> Tensor:
        if batch.device == self.device:
            out = batch
        elif self.device.type == "cuda" and batch.device.type == "cpu":
            out = batch.pin_memory().to(self.device, non_blocking=True)
        else:
            out = batch.to(self.device)
        if self.channels_last:
            out = out.contiguous(memory_format=torch.channels_last)
        return out

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        if not self.autocast:
            return contextlib.nullcontext()
        dtype = self.autocast_dtype or (torch.float16 if self.device.type == "cuda" else torch.bfloat16)
        return torch.autocast(device_type=self.device.type, dtype=dtype)

    def _forward(self, fn: Callable[[Tensor], Tensor], batch: Tensor, grad: bool) -> Tensor:
        x = self._to_device(batch)
        grad_ctx = contextlib.nullcontext() if grad else torch.inference_mode()
        with grad_ctx, self._autocast():
            out = fn(x)
        if not isinstance(out, Tensor):
            raise TypeError(f"the batch function returned {type(out).__name__}; it must return a tensor")
        if out.ndim == 0 or out.shape[0] != x.shape[0]:
            raise ValueError(
                f"the batch function returned shape {tuple(out.shape)} for a batch of {x.shape[0]}; "
                "its first dimension must be the batch"
            )
        if out.is_floating_point() and out.dtype != torch.float32 and self.autocast:
            out = out.float()
        if self.output_device is not None and out.device != self.output_device:
            out = out.detach().to(self.output_device) if not grad else out.to(self.output_device)
        return out

    def _run_batch(self, fn: Callable[[Tensor], Tensor], batch: Tensor, grad: bool) -> Iterator[Tensor]:
        """Yield outputs for ``batch`` in chunks of the current batch size, halving on OOM."""
        start, n = 0, batch.shape[0]
        while start < n:
            size = min(self.batch_size, n - start)
            try:
                out = self._forward(fn, batch[start : start + size], grad)
            except Exception as error:
                if not is_out_of_memory(error):
                    raise
                self._release_memory()
                if size == 1:
                    raise OutOfMemoryAtBatchOne(
                        f"out of memory on {self.device} even with one image of shape "
                        f"{tuple(batch.shape[1:])}; use a smaller image, autocast=True or another device"
                    ) from error
                self.batch_size = max(1, size // 2)
                log.warning(
                    "out of memory at batch size %d on %s; retrying with %d", size, self.device, self.batch_size
                )
                continue
            start += size
            yield out

    def _release_memory(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.empty_cache()


def score_images(metric: Metric, images: ImagesLike, **scorer_options: Any) -> Tensor:
    """Shortcut: ``Scorer(**scorer_options).score(metric, images)``."""
    return Scorer(**scorer_options).score(cast(BatchFn, metric), images)
