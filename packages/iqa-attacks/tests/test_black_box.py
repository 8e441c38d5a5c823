"""Attack-specific behaviour of the black-box attacks: query budgets, early stop, restrictions, seeds."""

import math

import pytest
import torch

from iqa_attacks import NES, OnePixel, Parsimonious, PatchRS, Square
from iqa_attacks.base import QueryOracle
from iqa_attacks.square import p_schedule
from iqa_core import Bounds
from iqa_core.measures import l0, psnr
from iqa_core.testing import ToyMetric, toy_images

FACTORIES = {
    "square": lambda **kw: Square(max_queries=80, **kw),
    "nes": lambda **kw: NES(max_queries=80, n_samples=10, **kw),
    "parsimonious": lambda **kw: Parsimonious(max_queries=80, **kw),
    "onepixel": lambda **kw: OnePixel(max_queries=80, popsize=10, **kw),
    "patch-rs": lambda **kw: PatchRS(max_queries=80, **kw),
}


class CountingMetric(ToyMetric):
    """Counts the images it scores."""

    def __init__(self):
        super().__init__()
        self.scored = 0

    def forward(self, images):
        self.scored += images.shape[0]
        return super().forward(images)


@pytest.mark.parametrize("name", list(FACTORIES))
def test_query_counters_match_the_metric_calls_and_the_budget(name):
    metric, x = CountingMetric(), toy_images(3, (32, 32), seed=1)
    attack = FACTORIES[name]()
    attack(metric, x, generator=torch.Generator().manual_seed(0))
    assert attack.last_queries.shape == (3,)
    assert bool((attack.last_queries <= attack.max_queries).all())
    assert int(attack.last_queries.sum()) == metric.scored


@pytest.mark.parametrize("name", list(FACTORIES))
def test_early_stop_per_image(name):
    metric, x = ToyMetric(), toy_images(2, (32, 32), seed=2)
    attack = FACTORIES[name](stop_gain=1e-6)
    adv = attack(metric, x, generator=torch.Generator().manual_seed(0))
    assert bool((attack.last_queries < attack.max_queries).all()), attack.last_queries
    assert bool((metric(adv) > metric(x)).all())


@pytest.mark.parametrize("name", list(FACTORIES))
def test_seeds_change_the_search(name):
    metric, x = ToyMetric(), toy_images(2, (32, 32), seed=2)
    attack = FACTORIES[name]()
    a = attack(metric, x, generator=torch.Generator().manual_seed(0))
    b = attack(metric, x, generator=torch.Generator().manual_seed(1))
    assert not torch.equal(a, b)


def test_more_queries_do_not_hurt():
    metric, x = ToyMetric(), toy_images(2, (32, 32), seed=3)
    few = Square(max_queries=20)(metric, x, generator=torch.Generator().manual_seed(0))
    many = Square(max_queries=200)(metric, x, generator=torch.Generator().manual_seed(0))
    assert bool((metric(many) >= metric(few) - 1e-5).all())


def test_square_schedule_halves_p():
    assert p_schedule(0.08, 0, 10000) == 0.08
    assert p_schedule(0.08, 30, 10000) == 0.04
    assert p_schedule(0.08, 9000, 10000) == 0.08 / 512
    assert p_schedule(0.08, 3, 100) == 0.01  # rescaled to the query budget: step 300 of 10,000


def test_square_changes_are_plus_minus_eps():
    metric, x = ToyMetric(), 0.25 + 0.5 * toy_images(2, (32, 32))
    adv = Square(eps=4 / 255, max_queries=50)(metric, x, generator=torch.Generator().manual_seed(0))
    delta = (adv - x).abs()
    assert torch.allclose(delta, torch.full_like(delta, 4 / 255), atol=1e-6)


def test_parsimonious_perturbation_is_on_the_vertices_and_its_psnr_bound_holds():
    metric, x = ToyMetric(), 0.25 + 0.5 * toy_images(2, (32, 32))
    attack = Parsimonious(eps=0.02, max_queries=100, block_size=8)
    adv = attack(metric, x, generator=torch.Generator().manual_seed(0))
    delta = (adv - x).abs()
    assert torch.allclose(delta, torch.full_like(delta, 0.02), atol=1e-6)
    assert math.isclose(attack.budget.value, -20 * math.log10(0.02))
    assert bool((psnr(x, adv) >= attack.budget.value - 1e-3).all())


def test_parsimonious_refines_blocks_hierarchically():
    metric, x = ToyMetric(), toy_images(1, (8, 8))
    attack = Parsimonious(eps=0.03, max_queries=2 + 3 * 4 + 3 * 16 + 5, block_size=4)
    adv = attack(metric, x, generator=torch.Generator().manual_seed(0))
    signs = ((adv - x) / 0.03).round()
    # after the 4x4 and 2x2 passes some 2x2 blocks differ inside a 4x4 block
    blocks4 = signs.unfold(2, 4, 4).unfold(3, 4, 4).flatten(-2)
    assert bool((blocks4.amax(-1) != blocks4.amin(-1)).any())


@pytest.mark.parametrize("pixels", [1, 5])
def test_onepixel_changes_at_most_its_pixel_count(pixels):
    metric, x = ToyMetric(), toy_images(3, (24, 24), seed=4)
    attack = OnePixel(pixels=pixels, popsize=8, max_queries=60)
    adv = attack(metric, x, generator=torch.Generator().manual_seed(0))
    assert bool((l0(x, adv) <= pixels).all())
    assert float(metric(adv).mean()) > float(metric(x).mean())


def test_patch_rs_holds_the_psnr_budget_on_small_images_and_is_a_local_patch():
    metric, x = ToyMetric(), toy_images(2, (32, 32), seed=5)
    attack = PatchRS(patch_size=6, psnr=30.0, max_queries=60)
    adv = attack(metric, x, generator=torch.Generator().manual_seed(0))
    assert bool((psnr(x, adv) >= 30.0 - 1e-3).all())
    assert bool((l0(x, adv) <= 36).all())


def test_oracle_counts_rows_per_source_image():
    oracle = QueryOracle(ToyMetric(), 3, "up", batch_size=2, device=torch.device("cpu"))
    x = toy_images(5, (16, 16))
    losses = oracle.loss(x, torch.tensor([0, 0, 2, 2, 2]))
    assert losses.shape == (5,)
    assert oracle.queries.tolist() == [2, 0, 3]


def test_bad_parameters_raise_early():
    with pytest.raises(ValueError, match="even"):
        NES(n_samples=5)
    with pytest.raises(ValueError, match="max_queries"):
        OnePixel(popsize=20, max_queries=30)
    with pytest.raises(ValueError, match="eps must be > 0"):
        Square(eps=0)
    with pytest.raises(ValueError, match="direction"):
        Square(direction="sideways")


class NarrowBoundsMetric(ToyMetric):
    """ToyMetric whose dataset bounds end below the test images' scores (bounds are not limits)."""

    def __init__(self, higher_is_better=True):
        super().__init__()
        self.higher_is_better = higher_is_better
        self.bounds = Bounds(0.0, 5.0) if higher_is_better else Bounds(-5.0, 0.0)

    def forward(self, images):
        score = super().forward(images)
        return score if self.higher_is_better else -score


def _full_budget(attack):
    # NES spends n_samples + 1 queries per step, One Pixel popsize per generation: a remainder may stay
    step = getattr(attack, "n_samples", 0) + 1 if hasattr(attack, "n_samples") else getattr(attack, "popsize", 1)
    return bool((attack.last_queries > attack.max_queries - step).all())


@pytest.mark.parametrize("higher_is_better", [True, False])
@pytest.mark.parametrize("name", list(FACTORIES))
def test_an_image_past_the_metric_bound_gets_the_whole_query_budget(name, higher_is_better):
    # issue 13, defect 5: the bound used to be the stop, so such an image got one query and no gain
    metric, x = NarrowBoundsMetric(higher_is_better), toy_images(2, (32, 32), seed=2)
    clean = metric(x)
    past = clean > metric.bounds.upper if higher_is_better else clean < metric.bounds.lower
    assert bool(past.all())
    attack = FACTORIES[name]()
    adv = attack(metric, x, generator=torch.Generator().manual_seed(0))
    assert _full_budget(attack), attack.last_queries
    better = metric(adv) > clean if higher_is_better else metric(adv) < clean
    assert bool(better.all())


@pytest.mark.parametrize("higher_is_better", [True, False])
@pytest.mark.parametrize("name", list(FACTORIES))
def test_an_explicit_target_stops_early(name, higher_is_better):
    metric, x = NarrowBoundsMetric(higher_is_better), toy_images(2, (32, 32), seed=2)
    clean = metric(x)
    sign = 1.0 if higher_is_better else -1.0
    target = float((sign * clean).min() * sign) + sign * 1e-4  # just beyond the worse clean score
    attack = FACTORIES[name](target=target)
    adv = attack(metric, x, generator=torch.Generator().manual_seed(0))
    assert bool((attack.last_queries < attack.max_queries).all()), attack.last_queries
    reached = sign * metric(adv) >= sign * target
    assert bool(reached.any())
    # an image stopped before its budget ran out only because it reached the target
    stopped = attack.last_queries < attack.max_queries - 30
    assert bool((reached | ~stopped).all())


def test_target_is_in_the_attack_direction():
    metric = NarrowBoundsMetric(True)
    attack = Square(max_queries=10, target=3.0, direction="down")
    stop = attack.stop_threshold(metric, torch.zeros(2))
    assert torch.allclose(stop, torch.full((2,), -3.0 / metric.bounds.diam))
    assert torch.isinf(Square(max_queries=10).stop_threshold(metric, torch.zeros(2))).all()
