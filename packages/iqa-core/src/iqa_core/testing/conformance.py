"""Conformance checks every package runs on all of its components.

Each ``check_*`` raises ``AssertionError`` with a message naming the component and the broken
rule, so a package's test is one line per component::

    def test_jpeg_conforms():
        check_defence(create("defence", "jpeg"))
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import Tensor, nn

from ..measures import within_budget
from ..protocols import Attack, Certifier, Defence, Denoiser, Metric
from ..types import Budget, Threat
from .toys import ToyMetric, toy_images


def _fail(component: Any, rule: str) -> AssertionError:
    return AssertionError(f"{getattr(component, 'name', type(component).__name__)}: {rule}")


def _generator(seed: int, device: str | torch.device = "cpu") -> torch.Generator:
    return torch.Generator(device=device).manual_seed(seed)


def _check_image_output(component: Any, inputs: Tensor, outputs: Tensor) -> None:
    if not isinstance(outputs, Tensor):
        raise _fail(component, f"must return a tensor, returned {type(outputs).__name__}")
    if outputs.shape != inputs.shape:
        raise _fail(component, f"must keep the input shape {tuple(inputs.shape)}, returned {tuple(outputs.shape)}")
    if outputs.dtype != torch.float32:
        raise _fail(component, f"must return float32, returned {outputs.dtype}")
    if outputs.device != inputs.device:
        raise _fail(component, f"must return on the input's device {inputs.device}, returned {outputs.device}")
    if not torch.isfinite(outputs).all():
        raise _fail(component, "returned non-finite values")
    lo, hi = float(outputs.min()), float(outputs.max())
    if lo < -1e-6 or hi > 1 + 1e-6:
        raise _fail(component, f"must return values in [0, 1], returned [{lo:.4g}, {hi:.4g}]")


def check_metric(
    metric: Metric,
    images: Tensor | None = None,
    *,
    atol: float = 1e-4,
    check_batch_independence: bool = True,
) -> None:
    """Contract of :class:`~iqa_core.protocols.Metric`.

    Attributes present and typed; ``(N,)`` float scores, finite; deterministic; a batch scores
    each image as if it were alone; gradients reach the input (finite, not all zero) when
    ``differentiable``; ``.to('cpu')`` round trip for modules.
    """
    if not isinstance(metric, Metric):
        raise _fail(
            metric, "does not have the Metric members (name, higher_is_better, bounds, differentiable, __call__)"
        )
    if not isinstance(metric.higher_is_better, bool) or not isinstance(metric.differentiable, bool):
        raise _fail(metric, "higher_is_better and differentiable must be bools")
    if metric.bounds.diam <= 0:
        raise _fail(metric, "bounds must have upper > lower")
    x = toy_images(3, (64, 64)) if images is None else images
    if isinstance(metric, nn.Module):
        metric.to(x.device)
    with torch.no_grad():
        scores = metric(x)
        again = metric(x)
    if not isinstance(scores, Tensor) or scores.shape != (x.shape[0],):
        shape = tuple(scores.shape) if isinstance(scores, Tensor) else type(scores).__name__
        raise _fail(metric, f"must return scores of shape ({x.shape[0]},), returned {shape}")
    if not scores.is_floating_point() or not torch.isfinite(scores).all():
        raise _fail(metric, f"must return finite float scores, returned {scores}")
    if not torch.allclose(scores, again, atol=atol):
        raise _fail(metric, "is not deterministic: two calls on the same batch differ")
    if check_batch_independence:
        with torch.no_grad():
            single = torch.cat([metric(x[i : i + 1]) for i in range(x.shape[0])])
        if not torch.allclose(single, scores, atol=atol, rtol=1e-4):
            raise _fail(metric, f"scores depend on the batch: alone {single.tolist()} vs batched {scores.tolist()}")
    if metric.differentiable:
        xg = x.detach().clone().requires_grad_(True)
        with torch.enable_grad():
            out = metric(xg)
        if not out.requires_grad:
            raise _fail(metric, "declares differentiable=True but gradients do not reach the input (output detached)")
        out.sum().backward()
        if xg.grad is None or not torch.isfinite(xg.grad).all() or float(xg.grad.abs().sum()) == 0:
            raise _fail(metric, "declares differentiable=True but gradients do not reach the input")
    if isinstance(metric, nn.Module):
        moved = copy.deepcopy(metric).to("cpu")
        with torch.no_grad():
            cpu_scores = moved(x.cpu())
        if not torch.allclose(cpu_scores, scores.cpu(), atol=max(atol, 1e-3), rtol=1e-3):
            raise _fail(metric, "scores change after a .to('cpu') round trip")


def check_defence(defence: Defence, images: Tensor | None = None, *, seed: int = 0) -> None:
    """Contract of :class:`~iqa_core.protocols.Defence`.

    Keeps shape (odd, non-square sizes included), dtype, device and [0, 1]; deterministic under
    a seeded generator; deterministic without one unless ``randomized``; gradients reach the
    input when ``differentiable``; a BPDA surrogate, when present, keeps the shape.
    """
    if not isinstance(defence, Defence):
        raise _fail(defence, "does not have the Defence members (name, differentiable, randomized, __call__)")
    x = toy_images(2, (37, 53), seed=seed) if images is None else images
    with torch.no_grad():
        out = defence(x, generator=_generator(seed, x.device))
        again = defence(x, generator=_generator(seed, x.device))
    _check_image_output(defence, x, out)
    if not torch.equal(out, again):
        raise _fail(defence, "is not deterministic under a seeded torch.Generator")
    if not defence.randomized:
        with torch.no_grad():
            plain1, plain2 = defence(x), defence(x)
        if not torch.equal(plain1, plain2):
            raise _fail(defence, "declares randomized=False but two calls differ")
    if defence.differentiable:
        xg = x.detach().clone().requires_grad_(True)
        with torch.enable_grad():
            out = defence(xg, generator=_generator(seed, x.device))
        if not out.requires_grad:
            raise _fail(defence, "declares differentiable=True but gradients do not reach the input (output detached)")
        out.sum().backward()
        if xg.grad is None or not torch.isfinite(xg.grad).all() or float(xg.grad.abs().sum()) == 0:
            raise _fail(defence, "declares differentiable=True but gradients do not reach the input")
    surrogate = getattr(defence, "bpda_surrogate", None)
    if surrogate is not None:
        approx = surrogate(x)
        if approx.shape != x.shape:
            raise _fail(defence, f"bpda_surrogate must keep the shape, returned {tuple(approx.shape)}")


def check_attack(
    attack: Attack,
    metric: Metric | None = None,
    images: Tensor | None = None,
    *,
    seed: int = 0,
    expect_increase: bool = True,
) -> Tensor:
    """Contract of :class:`~iqa_core.protocols.Attack`; returns the adversarial batch.

    Shape, dtype, device and [0, 1] kept; budget held per image; deterministic under a seeded
    generator; inputs and the metric's parameters (values and ``.grad``) left untouched; with
    ``expect_increase`` the mean score moves in the attack's direction (up for higher-is-better
    metrics).
    """
    if not isinstance(attack, Attack):
        raise _fail(attack, "does not have the Attack members (name, threat, budget, __call__)")
    if not isinstance(attack.threat, Threat) or not isinstance(attack.budget, Budget):
        raise _fail(attack, "threat must be a Threat and budget a Budget")
    metric = ToyMetric() if metric is None else metric
    x = toy_images(2, (48, 48), seed=seed) if images is None else images
    original = x.clone()
    parameters = list(metric.parameters()) if isinstance(metric, nn.Module) else []
    saved = [(p.detach().clone(), None if p.grad is None else p.grad.clone()) for p in parameters]
    adv = attack(metric, x, generator=_generator(seed, x.device))
    if not torch.equal(x, original):
        raise _fail(attack, "modified its input tensor in place")
    for p, (value, grad) in zip(parameters, saved, strict=True):
        if not torch.equal(p.detach(), value):
            raise _fail(attack, "changed the metric's parameters")
        changed = p.grad is not None if grad is None else (p.grad is None or not torch.equal(p.grad, grad))
        if changed:
            raise _fail(attack, "accumulated gradients into the metric's parameters (backward to the input only)")
    _check_image_output(attack, x, adv)
    if adv.requires_grad:
        raise _fail(attack, "must return a detached tensor (requires_grad=False)")
    held = within_budget(attack.budget.kind, attack.budget.value, x, adv)
    if not bool(held.all()):
        raise _fail(
            attack, f"does not hold its budget {attack.budget} on images {(~held).nonzero().flatten().tolist()}"
        )
    adv2 = attack(metric, x, generator=_generator(seed, x.device))
    if not torch.equal(adv, adv2):
        raise _fail(attack, "is not deterministic under a seeded torch.Generator")
    if expect_increase:
        with torch.no_grad():
            before, after = metric(x).mean(), metric(adv).mean()
        up = after > before if metric.higher_is_better else after < before
        if not bool(up):
            raise _fail(attack, f"did not move the score towards 'better' ({float(before):.4g} -> {float(after):.4g})")
    return adv


def check_denoiser(denoiser: Denoiser, images: Tensor | None = None, *, sigma: float = 0.12, seed: int = 0) -> None:
    """Contract of :class:`~iqa_core.protocols.Denoiser`: shape, range, and it reduces the noise."""
    if not isinstance(denoiser, Denoiser):
        raise _fail(denoiser, "does not have the Denoiser members (name, __call__)")
    x = toy_images(2, (32, 32), seed=seed) if images is None else images
    noise = torch.randn(x.shape, generator=_generator(seed)).to(x.device)
    noisy = x + sigma * noise
    with torch.no_grad():
        out = denoiser(noisy, sigma, generator=_generator(seed, x.device))
    _check_image_output(denoiser, x, out.clamp(0, 1) if out.shape == x.shape else out)
    err_before = (noisy.clamp(0, 1) - x).pow(2).mean()
    err_after = (out - x).pow(2).mean()
    if not bool(err_after < err_before):
        raise _fail(denoiser, f"did not reduce the noise (MSE {float(err_before):.4g} -> {float(err_after):.4g})")


def check_certifier(
    certifier: Certifier, metric: Metric | None = None, images: Tensor | None = None, *, seed: int = 0
) -> None:
    """Contract of :class:`~iqa_core.protocols.Certifier`: one certificate per image, deterministic."""
    if not isinstance(certifier, Certifier):
        raise _fail(certifier, "does not have the Certifier members (name, certify)")
    metric = ToyMetric() if metric is None else metric
    x = toy_images(2, (32, 32), seed=seed) if images is None else images
    first = certifier.certify(metric, x, generator=_generator(seed, x.device))
    second = certifier.certify(metric, x, generator=_generator(seed, x.device))
    if len(first) != x.shape[0]:
        raise _fail(certifier, f"must return one certificate per image, returned {len(first)} for {x.shape[0]}")
    for a, b in zip(first, second, strict=True):
        if (a.abstained, a.prediction, a.radius, a.score, a.delta) != (
            b.abstained,
            b.prediction,
            b.radius,
            b.score,
            b.delta,
        ):
            raise _fail(certifier, "is not deterministic under a seeded torch.Generator")
        if a.radius < 0 or (a.abstained and a.radius != 0):
            raise _fail(certifier, f"radius must be >= 0 and 0 when abstaining, got {a.radius}")
