"""Batched Monte-Carlo sampling of ``fn(image + sigma * noise)`` through :class:`iqa_core.Scorer`.

The hot loop of every certifier. For one image it draws ``num`` Gaussian noise samples **on the
compute device**, in chunks of ``batch_size``, runs ``fn`` (denoiser + metric + whatever the
certifier needs) on each chunk, and returns the ``num`` outputs as one tensor on the device.
There is no Python loop over samples: one ``fn`` call per chunk.

How the Scorer is used: the Scorer splits its input along dim 0 and splits every output again
into per-item results. To keep its per-item bookkeeping per *chunk*, the Scorer receives one
"token" per chunk (the clean image, expanded without copying) with ``batch_size=1``, and the
batch function turns a token into a whole chunk of noisy samples and returns a ``(1, chunk)``
output. The Scorer contributes ``torch.inference_mode``, autocast, channels-last and the
device placement; when the device runs out of memory on a chunk, the Scorer raises
:class:`iqa_core.OutOfMemoryAtBatchOne` and the sampler halves the chunk size and goes on with
the samples still missing (the noise stream then differs from an uninterrupted run).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import torch
from torch import Tensor, nn

from iqa_core import OutOfMemoryAtBatchOne, Scorer, resolve_device
from iqa_core.validation import noisy_inputs

log = logging.getLogger(__name__)

SampleFn = Callable[[Tensor], Tensor]


def module_device(obj: object) -> torch.device | None:
    """Device of the first parameter or buffer of a module (None for other objects or empty modules)."""
    if isinstance(obj, nn.Module):
        for param in obj.parameters():
            return param.device
        for buffer in obj.buffers():
            return buffer.device
    return None


def pick_device(
    metric: object, device: str | torch.device | None, fallback: torch.device | None = None
) -> torch.device:
    """``device`` when given (the metric is moved there if it is a module), else the metric's device.

    A metric that is not a module (or has no tensors) runs on ``fallback`` (the images' device)
    when given, else on ``resolve_device("auto")``.
    """
    if device is not None:
        dev = resolve_device(device)
        if isinstance(metric, nn.Module):
            metric.to(dev)
        return dev
    found = module_device(metric)
    if found is not None:
        return found
    return fallback if fallback is not None else resolve_device("auto")


def same_device(a: torch.device, b: torch.device) -> bool:
    """True when two devices are the same (``cuda`` and ``cuda:0`` on a one-GPU machine count as equal)."""
    if a.type != b.type:
        return False
    if a.type != "cuda":
        return True
    ia = a.index if a.index is not None else torch.cuda.current_device()
    ib = b.index if b.index is not None else torch.cuda.current_device()
    return ia == ib


def device_generator(generator: torch.Generator | None, device: torch.device) -> torch.Generator:
    """A generator on ``device`` that is a deterministic function of ``generator``.

    A generator already on ``device`` is used as is (it advances). One on another device seeds a
    fresh generator on ``device`` with a 62-bit draw from it, so noise is always drawn on the
    compute device and a seeded generator still gives reproducible certificates. Without a
    generator the seed comes from torch's global RNG (``torch.manual_seed`` makes it reproducible).
    """
    if generator is not None and same_device(generator.device, device):
        return generator
    if generator is not None:
        seed = int(torch.randint(0, 2**62, (1,), generator=generator, device=generator.device).item())
    else:
        seed = int(torch.randint(0, 2**62, (1,)).item())
    return torch.Generator(device=device).manual_seed(seed)


class MonteCarloSampler:
    """Draws ``fn(x + sigma * eps)``, ``eps ~ N(0, I)``, for one image in chunks; see the module docstring.

    Parameters
    ----------
    sigma: noise standard deviation (image units, images in [0, 1]).
    batch_size: noisy samples per ``fn`` call (halved on out-of-memory).
    device: compute device; the image must already be there.
    clamp: clip the noisy images to [0, 1] before ``fn``.
    autocast, channels_last: passed to the :class:`~iqa_core.Scorer`.
    """

    def __init__(
        self,
        sigma: float,
        batch_size: int,
        device: torch.device,
        *,
        clamp: bool = False,
        autocast: bool = False,
        channels_last: bool = False,
    ) -> None:
        if sigma <= 0:
            raise ValueError(f"sigma must be > 0, got {sigma}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.sigma = float(sigma)
        self.batch_size = int(batch_size)
        self.device = device
        self.clamp = clamp
        self.scorer = Scorer(device, batch_size=1, autocast=autocast, channels_last=channels_last, output_device=None)

    def _chunk_fn(self, fn: SampleFn, chunk: int, generator: torch.Generator) -> SampleFn:
        sigma, clamp = self.sigma, self.clamp

        def run(token: Tensor) -> Tensor:
            # token: (1, 3, H, W), the clean image; one call = one chunk of noisy samples
            noise = torch.randn((chunk, *token.shape[1:]), generator=generator, device=token.device, dtype=token.dtype)
            noisy = noise.mul_(sigma).add_(token)
            if clamp:
                noisy = noisy.clamp_(0.0, 1.0)
            with noisy_inputs():  # unclipped samples leave [0, 1]: metrics then check finiteness only
                out = fn(noisy)
            if out.shape[0] != chunk:
                raise ValueError(f"the sample function returned shape {tuple(out.shape)} for {chunk} noisy images")
            return out.reshape(1, chunk)

        return run

    def sample(self, fn: SampleFn, image: Tensor, num: int, generator: torch.Generator) -> Tensor:
        """``num`` outputs of ``fn`` on noisy copies of ``image`` (``(3, H, W)`` on the device), in draw order."""
        if num < 1:
            raise ValueError(f"the number of samples must be >= 1, got {num}")
        token = image.unsqueeze(0)
        outputs: list[Tensor] = []
        done = 0
        while done < num:
            chunk = min(self.batch_size, num - done)
            calls = (num - done) // chunk
            tokens = token.expand(calls, *token.shape[1:])
            try:
                for out in self.scorer.iter_map(self._chunk_fn(fn, chunk, generator), tokens):
                    outputs.append(out)
                    done += chunk
            except OutOfMemoryAtBatchOne:
                if chunk == 1:
                    raise
                self.batch_size = max(1, chunk // 2)
                if self.device.type == "cuda":
                    torch.cuda.empty_cache()
                log.warning("out of memory with %d noisy samples per batch; retrying with %d", chunk, self.batch_size)
        return torch.cat(outputs) if len(outputs) > 1 else outputs[0]


__all__ = ["MonteCarloSampler", "device_generator", "module_device", "pick_device", "same_device"]
