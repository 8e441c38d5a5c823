"""Parity of APGD (and the black-box attacks' deterministic parts) with the reference code.

Goldens: ``goldens/apgd.json`` from fra31/auto-attack's ``APGDAttack`` (``tools/parity/apgd.py``).
The reference attacks ``softplus(f)`` (cross-entropy of logits ``[0, f]``), a strictly increasing
map of the benchmark loss ``f / diam``, so both runs make the same comparisons and sign steps.
"""

from pathlib import Path

import pytest
import torch
from torch import nn

from iqa_attacks import APGD
from iqa_attacks.apgd import checkpoints
from iqa_core import Bounds
from iqa_core.testing.parity import assert_matches_golden, load_golden, seeded_images, seeded_weights_

GOLDENS = Path(__file__).parent / "goldens"


class TinyRegressor(nn.Module):
    """Seeded regression net: one score per image (same definition as tools/parity/apgd.py)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 6, 3)
        self.head = nn.Linear(6, 1)

    def forward(self, x):
        h = torch.sin(8 * self.conv(x)).mean((2, 3))  # non-linear within the ball: no float32 ties
        return self.head(h).squeeze(1)


class RegressorMetric(nn.Module):
    name = "tiny-regressor"
    higher_is_better = True
    differentiable = True
    bounds = Bounds(0.0, 1.0)  # diam 1: the attack loss is f itself

    def __init__(self, seed):
        super().__init__()
        self.f = seeded_weights_(TinyRegressor(), seed=seed).double().eval()

    def forward(self, x):
        return self.f(x)


APGD_GOLDEN = load_golden(GOLDENS / "apgd.json")


@pytest.mark.parametrize("case", [c["name"] for c in APGD_GOLDEN["cases"]])
def test_apgd_matches_auto_attack(case):
    c = APGD_GOLDEN.case(case)
    inputs = c["inputs"]
    metric = RegressorMetric(inputs["weights_seed"])
    x = seeded_images(inputs["images_seed"], inputs["shape"], dtype=torch.float64)
    attack = APGD(eps=inputs["eps"], n_iter=inputs["n_iter"], random_start=False)
    adv = attack(metric, x)
    what = f"apgd {case} vs {APGD_GOLDEN.origin}"
    assert [w for w in checkpoints(inputs["n_iter"]) if w < inputs["n_iter"]] == c["checks"], what
    assert_matches_golden(
        attack.last_step_sizes, c["step_sizes"], rtol=1e-6, atol=0, what=what + " step sizes"
    )  # eta is float32 here
    assert_matches_golden(adv, c["x_best"], rtol=0, atol=1e-9, what=what + " x_best")
    with torch.no_grad():
        assert_matches_golden(metric(adv), c["score_best"], rtol=0, atol=1e-9, what=what + " f(x_best)")


class CheapRegressor(nn.Module):
    """Seeded stand-in metric on 256x256 images (same definition as tools/parity/black_box.py)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 6, 3)
        self.head = nn.Linear(6, 1)

    def forward(self, x):
        h = torch.sin(8 * self.conv(nn.functional.avg_pool2d(x, 4))).mean((2, 3))
        return self.head(h).squeeze(1)


class RecordingMetric(nn.Module):
    name = "cheap-regressor"
    higher_is_better = True
    differentiable = True
    bounds = Bounds(0.0, 1.0)

    def __init__(self, seed):
        super().__init__()
        self.f = seeded_weights_(CheapRegressor(), seed=seed).eval()
        self.queried = []

    def forward(self, x):
        s = self.f(x)
        self.queried.extend(s.tolist())
        return s


def test_square_matches_the_benchmark_code_on_the_same_draws(monkeypatch):
    """Query by query, on the reference's draws: window corner, window signs, acceptance, p schedule."""
    import numpy as np

    import iqa_attacks.square as square

    golden = load_golden(GOLDENS / "square.json")
    c = golden.case("square_eps4")
    inputs = c["inputs"]
    n_iters = 10000
    g = np.random.default_rng(c["draw_seed"])
    corners, signs = iter(g.random(4 * n_iters).tolist()), iter(g.random(3 * 40 * n_iters).tolist())

    def randint(high, shape, generator, device):
        # the reference draws np.random.randint(0, h - s), i.e. [0, high - 1) here (high = h - s + 1)
        return torch.tensor([int(next(corners) * (high - 1)) for _ in range(shape[0])], dtype=torch.long)

    def random_signs(shape, generator, device):
        if shape[2] != 1 or shape[3] != 1:  # the stripe initialisation: the reference starts from the clean image
            return torch.zeros(shape)
        return torch.tensor([-1.0 if next(signs) < 0.5 else 1.0 for _ in range(int(np.prod(shape)))]).view(shape)

    schedule = square.p_schedule
    monkeypatch.setattr(square, "randint", randint)
    monkeypatch.setattr(square, "random_signs", random_signs)
    # the reference's p schedule over its 10,000 iterations; we run the first `prefix` of them (CI time)
    monkeypatch.setattr(square, "p_schedule", lambda p, i, total: schedule(p, i, n_iters))
    prefix = 2000
    metric = RecordingMetric(inputs["weights_seed"])
    x = seeded_images(inputs["image_seed"], inputs["shape"])
    # our budget counts the clean query and the initialisation (which the reference does not make)
    square.Square(eps=inputs["eps"], max_queries=prefix + 1, p_init=inputs["p_init"])(metric, x)
    ours = np.array([metric.queried[0], *metric.queried[2:]])
    assert len(ours) == prefix
    what = f"square vs {golden.origin}"
    assert_matches_golden(ours[::50], c["scores_every_50"][: prefix // 50], rtol=0, atol=1e-5, what=what + " scores")
    sums = np.cumsum(ours)[499::500]
    assert_matches_golden(sums, c["prefix_sums_every_500"][: prefix // 500], rtol=1e-6, atol=0, what=what + " sums")


class LastInputMetric(RecordingMetric):
    def forward(self, x):
        self.last = x.detach().clone()
        return super().forward(x)


def test_nes_gradient_estimate_matches_the_benchmark_code_on_the_same_noise(monkeypatch):
    """Same noise, same estimate: the project's NES steps along the sign of the reference's ``grad_est``."""
    import iqa_attacks.nes as nes

    golden = load_golden(GOLDENS / "nes.json")
    c = golden.case("grad_est_32")
    inputs = c["inputs"]
    state = torch.get_rng_state()
    torch.manual_seed(c["noise_seed"])  # the reference draws torch.empty(3, 32, 32).normal_() per pair
    u = torch.stack([torch.empty((3, 32, 32)).normal_(mean=0, std=1) for _ in range(c["pairs"])])
    torch.set_rng_state(state)
    monkeypatch.setattr(nes, "randn", lambda shape, generator, device: u[None].expand(shape).clone())
    metric = LastInputMetric(inputs["weights_seed"])
    x = seeded_images(inputs["image_seed"], inputs["shape"])
    n_samples = 2 * c["pairs"]
    eps = 4 / 255
    attack = nes.NES(eps=eps, max_queries=n_samples + 2, n_samples=n_samples, sigma=inputs["sigma"], alpha=eps)
    attack(metric, x)
    step = torch.sign(metric.last - x)  # the last query scores the stepped point
    expected = torch.tensor(c["sign"], dtype=torch.float32)
    assert step.shape == expected.shape
    assert int((step != expected).sum()) == 0, f"nes vs {golden.origin}: {int((step != expected).sum())} signs differ"
