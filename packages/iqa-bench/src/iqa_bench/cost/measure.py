"""Micro-benchmarks that fill a throughput profile (:mod:`.profile`) on the present device.

Kept to minutes on a 2-core CPU for the paper's config, with these stated shortcuts:

* metrics: forward at every dataset size, forward + backward at the largest (other sizes: its
  backward / forward ratio), small batches (at most
  ``PIXEL_BUDGET`` pixels per batch); weights are random where the real ones are absent (the ports
  with ``pretrained=False``, pyiqa's metrics with :mod:`iqa_metrics.offline` stand-in backbones);
* defences: forward and forward + backward (through :func:`iqa_core.defended`, i.e. BPDA where the
  defence is not differentiable) at the largest dataset size; the diffusion purifiers at one
  256x256 tile with ``t = 1`` step, scaled by ``t`` and by the pixel count; neural purifiers with
  random weights; one that cannot be built offline is replaced by a named proxy;
* attacks: run with their real preset (iterations, query budget) on a cheap counting target at two
  small sizes: the target images they ask for (with and without gradients) are counted and their
  own work is fitted as ``fixed + per-pixel`` seconds; trainable attacks are fitted on 2 images;
* certifiers: the same counting, with the sample counts cut (``n0``, ``n`` at most 8 / 24) and the
  counts and own work scaled back by the ratio of samples.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from iqa_core import create, registry
from iqa_core.types import Bounds

from . import profile as P

log = logging.getLogger(__name__)

PIXEL_BUDGET = 400_000
"""Largest batch measured on a CPU, in pixels (one 384x512 image; sixteen 96x128 images)."""
ATTACK_SIZES = ((48, 64), (96, 128))
DEFENCE_TILE = (256, 256)
DIFFUSION_DEFENCES = ("diffpure", "diffpure-edge", "diffpure-unsharp")
PORTED_RANDOM = ("linearity", "koncept512", "spaq", "fpr")
METRIC_PROXY = "linearity"
"""Measured in place of a metric that cannot be built offline (ResNeXt-101: as heavy as the heaviest
of the benchmark's CNN metrics, so the proxy over- rather than under-estimates)."""
NEURAL_DEFENCE_PROXY = "mprnet"
ASSUMPTIONS = [
    "times scale linearly with the pixel count between measured sizes",
    "a metric's forward+backward / forward ratio is the one measured at the largest dataset size",
    "metric weights are random where the release is absent: same architecture, same cost",
    "attacks: target evaluations counted with the real preset (iterations, queries) on a counting "
    "target; the attack's own work is fixed + per-pixel, fitted at 48x64 and 96x128",
    "diffusion purifiers: one 256x256 tile at t=1, scaled by t and by the pixel count (tiles)",
    "certifiers: measured with fewer samples, scaled by the sample ratio",
    "trainable attacks (UAP, FACPA) are fitted once per (metric, attack, preset) on `images` (50) images",
]


_CLOCKS: dict[str, Callable[[], float]] = {"wall": time.perf_counter, "cpu": time.process_time}
_clock = ["wall"]


def _now() -> float:
    """The profiling clock: wall time (default) or this process's CPU time (``clock="cpu"``, for checks
    of the model on a loaded machine, where wall time measures the other processes too)."""
    return _CLOCKS[_clock[0]]()


def timed(
    fn: Callable[[], Any], *, min_time: float = 0.3, reps: int = 3, sync: Callable[[], None] = lambda: None
) -> float:
    """Median seconds of one call after a warm-up call (lazy imports, one-off probes, allocator).

    A first call over 20 s is taken as the measurement (one heavy call; its one-off share is small)."""
    t0 = _now()
    fn()
    sync()
    if _now() - t0 > 20.0:
        return _now() - t0
    times: list[float] = []
    while len(times) < reps and (sum(times) < min_time or not times):
        t0 = _now()
        fn()
        sync()
        times.append(_now() - t0)
    return statistics.median(times)


FR_ATTACKS: dict[str, str] = {"zhang-lpips": "lpips", "zhang-dists": "dists"}
"""Attacks whose loss holds a learned full-reference measure (built offline from stand-ins)."""

NEURAL_DEFENCES = ("mprnet", "real-esrgan", "disco")
"""Purifiers that are large networks: measured on at most 192x256 (scaled by pixel count), one image
per call on a CPU."""


def _batch(size: tuple[int, int], wanted: int) -> int:
    return max(1, min(wanted, PIXEL_BUDGET // (size[0] * size[1])))


class Profiler:
    """Measures the components of a config into a profile (see the module docstring)."""

    def __init__(self, device: str = "cpu", *, batch_size: int = 16, say: Callable[[str], None] | None = None) -> None:
        self.device = torch.device(device)
        self.batch_size = batch_size
        self.say = say or (lambda _m: None)
        self._tmp = tempfile.TemporaryDirectory(prefix="iqa-bench-profile-")
        self.root = Path(self._tmp.name)
        self._unet: Any = None
        self._per_step: dict[str, tuple[float, float, int, bool]] = {}  # diffusion purifier: t = 1 times
        self._denoiser: dict[str, float] = {}

    def close(self) -> None:
        self._tmp.cleanup()

    def sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def describe_device(self) -> dict[str, Any]:
        return {
            "type": self.device.type,
            "name": P.device_name(str(self.device)),
            "threads": torch.get_num_threads(),
            "clock": _clock[0],
            "torch": torch.__version__,
        }

    # ------------------------------------------------------------------ metrics
    @contextlib.contextmanager
    def _offline(self) -> Iterator[None]:
        from iqa_metrics.offline import offline_backbones

        with offline_backbones(self.root):
            yield

    def build_metric(self, name: str, params: dict[str, Any]) -> tuple[Any, str | None]:
        """The metric (random weights where needed) and the proxy's name when it had to be replaced."""
        from iqa_metrics.offline import STAND_IN_OPTIONS, stand_in_options

        key = registry.normalise_name(name)
        attempts: list[Callable[[], Any]] = []
        if key in STAND_IN_OPTIONS:
            attempts.append(lambda: create("metric", key, **{**params, **stand_in_options(key, self.root)}))
        if key in PORTED_RANDOM:
            attempts.append(lambda: create("metric", key, **{**params, "pretrained": False}))
        attempts.append(lambda: create("metric", key, **params))
        errors = []
        with self._offline():
            for attempt in attempts:
                try:
                    return attempt(), None
                except Exception as error:  # noqa: BLE001 - try the next way, then a proxy
                    errors.append(f"{type(error).__name__}: {error}")
            log.warning("metric %s cannot be built offline (%s); proxy %s", name, errors[-1][:200], METRIC_PROXY)
            return create(
                "metric", METRIC_PROXY, pretrained=False
            ), f"{METRIC_PROXY} (random weights): {errors[-1][:160]}"

    def measure_metric(
        self,
        name: str,
        params: dict[str, Any],
        sizes: list[tuple[int, int]],
        *,
        precision: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        t0 = _now()
        metric, proxy = self.build_metric(name, params)
        if isinstance(metric, nn.Module):
            metric.to(self.device).eval()
        if precision:
            from iqa_core.precision import with_precision

            metric = with_precision(metric, precision)
        build = _now() - t0
        points = []
        largest = max(sizes, key=lambda s: s[0] * s[1])
        ratio: float | None = None  # forward+backward / forward, measured at the largest size
        for h, w in sorted(sizes, key=lambda s: -s[0] * s[1]):
            batch = _batch((h, w), self.batch_size)
            images = torch.rand(batch, 3, h, w, device=self.device)

            def forward(images: Tensor = images) -> None:
                with torch.no_grad():
                    metric(images)

            def backward(images: Tensor = images) -> None:
                x = images.clone().requires_grad_(True)
                metric(x).sum().backward()

            f = timed(forward, sync=self.sync) / batch
            if ratio is None or (h, w) == largest:
                b = timed(backward, sync=self.sync) / batch
                ratio = b / f if f > 0 else 3.0
            else:
                b = f * ratio  # the backward/forward ratio of the largest size
            points.append({"height": h, "width": w, "batch": batch, "forward": f, "backward": b})
            self.say(
                f"  metric {name} @ {h}x{w}: forward {f * 1e3:.1f} ms, forward+backward {b * 1e3:.1f} ms per image"
            )
        return {"points": points, "build": build, "proxy": proxy}

    # ------------------------------------------------------------------ defences
    def _random_unet(self) -> Any:
        if self._unet is None:
            from iqa_purify.guided_diffusion import GuidedDiffusionConfig, unet_from_config

            self._unet = unet_from_config(GuidedDiffusionConfig()).eval()
        return self._unet

    def _random_weights(self, name: str) -> dict[str, Any] | None:
        """Options that build a neural purifier with random weights, or None when not known."""
        if name == "mprnet":
            from iqa_purify.mprnet import MPRNetArch

            path = self.root / "mprnet-random.pth"
            torch.save({"state_dict": MPRNetArch().state_dict()}, path)
            return {"weights": str(path), "check_hash": False}
        if name == "fcn-filter":
            from iqa_purify.fcn import FCNNet

            path = self.root / "fcn-random.pth"
            torch.save({"model": FCNNet().state_dict()}, path)
            return {"weights": str(path), "check_hash": False}
        return None

    def build_defence(self, name: str, preset: str | None, params: dict[str, Any]) -> tuple[Any, str | None, float]:
        """(defence, proxy, work scale): diffusion purifiers are built with ``t = 1`` (scale = t)."""
        if name in DIFFUSION_DEFENCES:
            t = int(registry.resolve_params("defence", name, preset, **params).get("t", 1))
            options = {**params, "t": 1, "unet": self._random_unet()}
            return create("defence", name, preset=preset, **options), None, float(t)
        try:
            return create("defence", name, preset=preset, **params), None, 1.0
        except Exception as error:  # noqa: BLE001 - weights missing offline: random weights, else a proxy
            random_options = self._random_weights(name)
            if random_options is not None:
                return create("defence", name, preset=preset, **{**params, **random_options}), None, 1.0
            proxy_options = self._random_weights(NEURAL_DEFENCE_PROXY) or {}
            note = f"{NEURAL_DEFENCE_PROXY} (random weights): {type(error).__name__}"
            return create("defence", NEURAL_DEFENCE_PROXY, **proxy_options), note, 1.0

    def measure_defence(
        self, name: str, preset: str | None, params: dict[str, Any], size: tuple[int, int]
    ) -> dict[str, Any]:
        from iqa_core import defended

        t0 = _now()
        defence, proxy, scale = self.build_defence(name, preset, params)
        if isinstance(defence, nn.Module):
            defence.to(self.device)
        build = _now() - t0
        neural = name in DIFFUSION_DEFENCES or proxy is not None or name in NEURAL_DEFENCES
        if neural:
            size = DEFENCE_TILE if name in DIFFUSION_DEFENCES else (min(size[0], 192), min(size[1], 256))
        batch = _batch(size, self.batch_size)
        if neural and self.device.type == "cpu":
            batch = 1  # MPRNet's forward+backward on 8 images of 192x256 needs more than 23 GB of host memory
        images = torch.rand(batch, 3, *size, device=self.device)
        generator = torch.Generator(device=self.device).manual_seed(0)
        target = defended(_Zero(), defence, generator=generator)

        def forward() -> None:
            with torch.no_grad():
                defence(images, generator=generator)

        def backward() -> None:
            x = images.clone().requires_grad_(True)
            target(x).sum().backward()

        if name in self._per_step:  # the same network at t = 1, measured for another preset: scale by t
            f1, b1, batch, randomized = self._per_step[name]
        else:
            f1 = timed(forward, sync=self.sync) / batch
            b1 = timed(backward, sync=self.sync) / batch
            randomized = bool(getattr(defence, "randomized", False))
            if name in DIFFUSION_DEFENCES:
                self._per_step[name] = (f1, b1, batch, randomized)
        f, b = f1 * scale, b1 * scale
        self.say(f"  defence {name}[{P.preset_key(preset)}] @ {size[0]}x{size[1]}: {f * 1e3:.1f} / {b * 1e3:.1f} ms")
        return {
            "points": [{"height": size[0], "width": size[1], "batch": batch, "forward": f, "backward": b}],
            "randomized": randomized,
            "build": build,
            "proxy": proxy,
            "scale": scale,
        }

    # ------------------------------------------------------------------ attacks
    def _build_attack(self, name: str, preset: str | None, params: dict[str, Any]) -> Any:
        if name == "cadv":
            params = {"pretrained": False, **params}
        fr = FR_ATTACKS.get(name)
        if fr is not None and "fr" not in params:  # Zhang et al.'s LPIPS / DISTS term: random backbones offline
            params = {**params, "fr": self._measure(fr, {})}
        return create("attack", name, preset=preset, **params)

    def _measure(self, name: str, params: dict[str, Any]) -> Any:
        """A learned full-reference measure: its real weights when present, else random-weight backbones."""
        from iqa_metrics.offline import measure_stand_in_options

        with self._offline():
            try:
                return create("measure", name, **params)
            except Exception:  # noqa: BLE001 - weights absent here: the same network with random weights
                return create("measure", name, **measure_stand_in_options(name, self.root, **params))

    def measure_attack(self, name: str, preset: str | None, params: dict[str, Any]) -> dict[str, Any]:
        t0 = _now()
        proxy = None
        try:
            attack = self._build_attack(name, preset, params)
            build = _now() - t0
            with self._offline():  # anything the attack builds on first use must not download either
                self._count_attack(attack, ATTACK_SIZES[0])  # warm-up: lazy imports, first-call work
                runs = [self._count_attack(attack, size) for size in ATTACK_SIZES]
        except Exception as error:  # noqa: BLE001 - an attack that cannot run offline: named proxy
            strength = preset if preset in ("weak", "medium", "strong") else "medium"
            proxy = f"ifgsm[{strength}]: {type(error).__name__}: {str(error)[:160]}"
            attack = create("attack", "ifgsm", preset=preset if preset in ("weak", "medium", "strong") else None)
            build = 0.0
            self._count_attack(attack, ATTACK_SIZES[0])
            runs = [self._count_attack(attack, size) for size in ATTACK_SIZES]
        entry = _fit_overhead(runs)
        entry.update(build=max(0.0, build), proxy=proxy, fit=None)
        if hasattr(attack, "fit"):
            entry["fit"] = self._count_fit(name, preset, params)
        self.say(
            f"  attack {name}[{P.preset_key(preset)}]: {entry['grad_evals']:.0f} gradient + {entry['evals']:.0f} plain "
            f"target evaluations per image, own work {entry['overhead_fixed'] * 1e3:.1f} ms + "
            f"{entry['overhead_per_mpix'] * 1e3:.1f} ms/Mpx"
        )
        return entry

    def _count_attack(self, attack: Any, size: tuple[int, int], batch: int = 2) -> dict[str, float]:
        target = _Counting().to(self.device)
        images = torch.rand(batch, 3, *size, generator=torch.Generator().manual_seed(0)).to(self.device)
        generator = torch.Generator(device=self.device).manual_seed(0)
        if hasattr(attack, "fit") and not getattr(attack, "_iqa_profile_fitted", False):
            attack.fit(target, [images[0].cpu(), images[1].cpu()])
            attack._iqa_profile_fitted = True
            target.reset()
        t0 = _now()
        attack(target, images, generator=generator)
        self.sync()
        wall = _now() - t0
        return {
            "pixels": size[0] * size[1],
            "grad_evals": target.grad_images / batch,
            "evals": target.plain_images / batch,
            "overhead": max(0.0, wall - target.seconds) / batch,
            "wall": wall,
        }

    def _count_fit(self, name: str, preset: str | None, params: dict[str, Any]) -> dict[str, Any]:
        attack = self._build_attack(name, preset, params)
        target = _Counting().to(self.device)
        size = ATTACK_SIZES[-1]
        train = [torch.rand(3, *size, generator=torch.Generator().manual_seed(k)) for k in range(2)]
        t0 = _now()
        attack.fit(target, train)
        wall = _now() - t0
        return {
            "grad_evals": target.grad_images / 2,
            "evals": target.plain_images / 2,
            "overhead_fixed": 0.0,
            "overhead_per_mpix": max(0.0, wall - target.seconds) / 2 / (size[0] * size[1] / 1e6),
        }

    # ------------------------------------------------------------------ certifiers
    def measure_certifier(self, name: str, preset: str | None, params: dict[str, Any]) -> dict[str, Any]:
        resolved = registry.resolve_params("certifier", name, preset, **params)
        cut = {k: min(int(resolved[k]), limit) for k, limit in (("n0", 8), ("n", 24)) if k in resolved}
        ratio = sum(int(resolved[k]) for k in cut) / max(1, sum(cut.values()))
        proxy = None
        t0 = _now()
        try:
            certifier = create("certifier", name, preset=preset, **{**params, **cut})
            build = _now() - t0
            self._count_certify(certifier, ATTACK_SIZES[0])  # warm-up
            runs = [self._count_certify(certifier, size) for size in ATTACK_SIZES]
        except Exception as error:  # noqa: BLE001 - denoiser weights absent: RS/MS plus a denoiser proxy
            base = "ms" if "eps" in resolved else "rs"
            certifier = create(
                "certifier", base, preset=preset if preset in registry.presets("certifier", base) else None, **cut
            )
            self._count_certify(certifier, ATTACK_SIZES[0])
            runs = [self._count_certify(certifier, size) for size in ATTACK_SIZES]
            steps = int(resolved.get("reverse_steps") or 1) * int(resolved.get("runs") or 1)
            per_sample = self._denoiser_proxy_seconds(name) * steps
            for run in runs:
                run["overhead"] += per_sample * sum(cut.values())
            proxy = (
                f"{base} + {steps} random-weight guided-diffusion UNet pass(es) per sample at 256x256"
                if name in ("ddrs", "densepure")
                else f"{base} + a random-weight MPRNet pass per sample at 256x256"
            ) + f" ({type(error).__name__}: {str(error)[:120]})"
        entry = _fit_overhead(runs)
        entry["evals"] *= ratio
        entry["overhead_fixed"] *= ratio
        entry["overhead_per_mpix"] *= ratio
        entry.pop("grad_evals", None)
        entry.update(build=max(0.0, build), proxy=proxy, samples_scale=ratio)
        self.say(f"  certifier {name}[{P.preset_key(preset)}]: {entry['evals']:.0f} evaluations per image")
        return entry

    def _denoiser_proxy_seconds(self, name: str) -> float:
        kind = "unet" if name in ("ddrs", "densepure", "dms") else "mprnet"
        if kind not in self._denoiser:
            self._denoiser[kind] = self._time_denoiser(kind)
        return self._denoiser[kind]

    def _time_denoiser(self, kind: str) -> float:
        images = torch.rand(1, 3, *DEFENCE_TILE, device=self.device)
        if kind == "unet":
            unet = self._random_unet().to(self.device)

            def run() -> None:
                with torch.no_grad():
                    unet(images * 2 - 1, 10)

        else:
            from iqa_purify.mprnet import MPRNetArch

            net = MPRNetArch().to(self.device).eval()

            def run() -> None:
                with torch.no_grad():
                    net(images)

        return timed(run, sync=self.sync)

    def _count_certify(self, certifier: Any, size: tuple[int, int]) -> dict[str, float]:
        target = _Counting().to(self.device)
        image = torch.rand(1, 3, *size, generator=torch.Generator().manual_seed(0)).to(self.device)
        generator = torch.Generator(device=self.device).manual_seed(0)
        t0 = _now()
        certifier.certify(target, image, generator=generator)
        self.sync()
        wall = _now() - t0
        return {
            "pixels": size[0] * size[1],
            "grad_evals": 0.0,
            "evals": target.plain_images + target.grad_images,
            "overhead": max(0.0, wall - target.seconds),
            "wall": wall,
        }

    # ------------------------------------------------------------------ learned perceptual measures
    def measure_measure(self, name: str, params: dict[str, Any], sizes: list[tuple[int, int]]) -> dict[str, Any]:
        """Forward seconds per image pair of a learned measure (LPIPS, DISTS) at each size; built from
        random-weight backbones when its weights are not on this machine (same architecture, same cost)."""
        t0 = _now()
        measure = self._measure(name, params)
        if isinstance(measure, nn.Module):
            measure.to(self.device).eval()
        build = _now() - t0
        points = []
        for h, w in sorted(sizes, key=lambda s: -s[0] * s[1]):
            batch = _batch((h, w), self.batch_size)
            reference = torch.rand(batch, 3, h, w, device=self.device)
            distorted = (reference + 0.03 * torch.randn_like(reference)).clamp(0, 1)

            def forward(reference: Tensor = reference, distorted: Tensor = distorted) -> None:
                with torch.no_grad():
                    measure(reference, distorted)

            f = timed(forward, sync=self.sync) / batch
            points.append({"height": h, "width": w, "batch": batch, "forward": f})
            self.say(f"  measure {name} @ {h}x{w}: {f * 1e3:.1f} ms per image pair")
        return {"points": points, "build": build}

    # ------------------------------------------------------------------ runner
    def measure_runner(self, size: tuple[int, int]) -> dict[str, float]:
        """Per-row store writes, per-unit transactions, per-row PSNR/SSIM/MSE/Linf, decoding a PNG."""
        from iqa_core import measures

        from ..datasets import load_image
        from ..store import ResultStore

        row = {
            "dataset": "d", "image": "i", "metric": "m", "attack": "a", "attack_preset": "p", "defence": "d",
            "defence_preset": "p", "mode": "non-adaptive", "mos": 1.0, "score_clean": 1.0, "score_attacked": 1.0,
            "score_purified_clean": 1.0, "score_purified_attacked": 1.0, "status": "done", "error": None,
            "seconds_attack": 0.0, "seconds_defence": 0.0, "seconds_metric": 0.0,
            "psnr": 30.0, "ssim": 0.9, "mse": 0.001, "linf": 0.01,
        }  # fmt: skip
        with ResultStore(self.root / "store.sqlite") as store:
            counter = iter(range(10**9))

            def write(n: int) -> None:
                k = next(counter)
                store.write_unit(f"u{k}", [{**row, "image": f"i{k}-{j}"} for j in range(n)], [], fingerprint="f")

            one = timed(lambda: write(1), min_time=0.2, reps=5)
            many = timed(lambda: write(200), min_time=0.2, reps=3)
        per_row = max(0.0, (many - one) / 199)
        h, w = size
        ref, dist = torch.rand(1, 3, h, w), torch.rand(1, 3, h, w)

        def measure() -> None:
            measures.psnr(ref, dist), measures.ssim(ref, dist), measures.mse(ref, dist), measures.linf(ref, dist)

        t_measures = timed(measure)
        from PIL import Image

        png = self.root / "decode.png"
        Image.fromarray((torch.rand(h, w, 3) * 255).byte().numpy()).save(png)
        t_decode = timed(lambda: load_image(png))
        mpix = h * w / 1e6
        return {
            "row": per_row,
            "unit": max(0.0, one - per_row),
            "measures_per_mpix": t_measures / mpix,
            "decode_per_mpix": t_decode / mpix,
        }


def _fit_overhead(runs: list[dict[str, float]]) -> dict[str, Any]:
    """Counts from the largest run; own work ``fixed + per_mpix * Mpx`` through the two sizes (both >= 0)."""
    small, large = runs[0], runs[-1]
    dp = (large["pixels"] - small["pixels"]) / 1e6
    slope = max(0.0, (large["overhead"] - small["overhead"]) / dp) if dp > 0 else 0.0
    fixed = max(0.0, large["overhead"] - slope * large["pixels"] / 1e6)
    return {
        "grad_evals": large["grad_evals"],
        "evals": large["evals"],
        "overhead_fixed": fixed,
        "overhead_per_mpix": slope,
    }


class _Zero(nn.Module):
    """A metric costing nothing: isolates a defence's own forward / backward cost inside ``defended``."""

    name = "zero"
    higher_is_better = True
    differentiable = True
    bounds = Bounds(0.0, 1.0)

    def forward(self, images: Tensor) -> Tensor:
        return images.flatten(1).mean(1)


class _Counting(nn.Module):
    """A cheap differentiable metric counting the images it scores, with and without gradients."""

    name = "counting"
    higher_is_better = True
    differentiable = True
    bounds = Bounds(0.0, 1.0)

    def __init__(self) -> None:
        super().__init__()
        self.reset()

    def reset(self) -> None:
        self.grad_images = 0
        self.plain_images = 0
        self.seconds = 0.0

    def forward(self, images: Tensor) -> Tensor:
        t0 = _now()
        n = images.shape[0] if images.dim() == 4 else 1
        if torch.is_grad_enabled() and images.requires_grad:
            self.grad_images += n
        else:
            self.plain_images += n
        gray = images.mean(-3)
        out = (gray[..., 1:, :] - gray[..., :-1, :]).abs().flatten(-2).mean(-1) + 0.5 * gray.flatten(-2).mean(-1)
        self.seconds += _now() - t0
        return out.reshape(-1) if images.dim() == 4 else out.reshape(())


def measure(
    config: Any,
    sizes: list[tuple[int, int]],
    profile: dict[str, Any] | None = None,
    *,
    device: str = "cpu",
    remeasure: bool = False,
    say: Callable[[str], None] | None = None,
    clock: str = "wall",
    checkpoint: Callable[[dict[str, Any]], Any] | None = None,
) -> dict[str, Any]:
    """Measure what ``profile`` lacks of the (expanded) ``config`` (everything with ``remeasure``).

    ``checkpoint(profile)`` is called after every measured component (the CLI saves the profile
    there, so an interrupted measurement resumes where it stopped). A component whose measurement
    fails is reported through ``say`` and left out; the estimate then names it as missing."""
    if clock not in _CLOCKS:
        raise ValueError(f"clock must be one of {', '.join(_CLOCKS)}, got {clock!r}")
    say = say or (lambda _m: None)
    _clock[0] = clock
    profiler = Profiler(device, batch_size=config.batch_size, say=say)
    profile = P.empty_profile(profiler.describe_device()) if profile is None or remeasure else profile
    if profile["device"].get("clock", "wall") != clock:
        raise P.ProfileError(
            f"the profile was measured with the {profile['device'].get('clock', 'wall')} clock; "
            f"remeasure it (--measure) to use the {clock} clock"
        )
    profile["assumptions"] = list(ASSUMPTIONS)
    largest = max(sizes, key=lambda s: s[0] * s[1])
    failed: list[str] = []

    def attempt(what: str, work: Callable[[], Any]) -> None:
        try:
            measured = work()
        except Exception as error:  # noqa: BLE001 - one component's failure must not lose the others
            failed.append(what)
            say(f"  could not measure {what}: {type(error).__name__}: {str(error)[:200]} (left out of the profile)")
            return
        if checkpoint is not None and measured is not False:
            checkpoint(profile)

    def sized(section: str, key: str, build: Callable[[list[tuple[int, int]]], dict[str, Any]]) -> bool:
        """Measure the sizes the entry lacks; False when it lacks none."""
        entry = profile[section].get(key)
        have = {(p["height"], p["width"]) for p in entry["points"]} if entry else set()
        todo = [s for s in sizes if s not in have]
        if not todo:
            return False
        new = build(todo)
        if entry:
            entry["points"].extend(new["points"])
        else:
            profile[section][key] = new
        return True

    def runner() -> None:
        profile["runner"] = profiler.measure_runner(largest)

    def metric(spec: Any) -> bool:
        precision = config.metric_precision(spec) if hasattr(config, "metric_precision") else {}
        return sized(
            "metrics",
            P.metric_key(config, spec.name),
            lambda todo: profiler.measure_metric(spec.name, spec.params, todo, precision=precision),
        )

    def learned(spec: Any) -> bool:
        return sized("measures", spec.name, lambda todo: profiler.measure_measure(spec.name, spec.params, todo))

    def preset_entry(section: str, spec: Any, preset: str | None) -> None:
        if section == "defences":
            entry = profiler.measure_defence(spec.name, preset, spec.params, largest)
        elif section == "attacks":
            entry = profiler.measure_attack(spec.name, preset, spec.params)
        else:
            entry = profiler.measure_certifier(spec.name, preset, spec.params)
        profile[section].setdefault(spec.name, {})[P.preset_key(preset)] = entry

    try:
        with torch.inference_mode(False):
            if not profile.get("runner"):
                say("measuring the runner's per-row and per-unit work")
                attempt("the runner", runner)
            for spec in config.metrics:
                attempt(f"metric {spec.name}", functools.partial(metric, spec))
            for spec in getattr(config, "measures", ()):
                attempt(f"measure {spec.name}", functools.partial(learned, spec))
            for section, specs in (
                ("defences", config.defences),
                ("attacks", config.attacks),
                ("certifiers", config.certifiers),
            ):
                for spec in specs:
                    for preset in spec.presets:
                        if P.preset_key(preset) not in profile[section].get(spec.name, {}):
                            what = f"{section[:-1]} {spec.name}[{P.preset_key(preset)}]"
                            attempt(what, functools.partial(preset_entry, section, spec, preset))
    finally:
        profiler.close()
        _clock[0] = "wall"
    return profile


__all__ = ["ASSUMPTIONS", "Profiler", "measure", "timed"]
