"""Attack-specific behaviour of the white-box attacks."""

import pytest
import torch
from attack_helpers import MSEDistance

from iqa_attacks import AMIFGSM, APGD, FGSM, IFGSM, MADC, MIFGSM, SSAH, AdvCF, Korhonen, StAdv, ZhangSSIM
from iqa_attacks.advcf import apply_curves
from iqa_attacks.apgd import checkpoints
from iqa_attacks.korhonen import spatial_activity
from iqa_attacks.naturalness import MSCNNaturalness
from iqa_attacks.ssah import haar_low
from iqa_attacks.stadv import flow_smoothness, warp
from iqa_attacks.zhang import Zhang, create_fr
from iqa_core import ComponentNotFoundError
from iqa_core.measures import mse, ssim
from iqa_core.testing import ToyLinearMetric, ToyMetric, toy_images


def _mid_images(n=2, size=16, seed=0):
    """Images away from 0 and 1, so that no clipping interferes with closed forms."""
    return 0.25 + 0.5 * torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("eps", [2 / 255, 8 / 255])
def test_fgsm_matches_the_closed_form_on_a_linear_metric(eps):
    metric, x = ToyLinearMetric(shape=(3, 16, 16)), _mid_images()
    expected = (x + eps * metric.weight.sign()).clamp(0, 1)
    assert torch.allclose(FGSM(eps=eps)(metric, x), expected, atol=1e-7)


def test_ifgsm_and_apgd_reach_the_linf_corner_of_a_linear_metric():
    metric, x = ToyLinearMetric(shape=(3, 16, 16)), _mid_images()
    corner = (x + 4 / 255 * metric.weight.sign()).clamp(0, 1)
    ifgsm = IFGSM(eps=4 / 255, alpha=1 / 255, iterations=6)(metric, x)
    assert torch.allclose(ifgsm, corner, atol=1e-6)
    apgd = APGD(eps=4 / 255, n_iter=5)(metric, x)
    assert torch.allclose(apgd, corner, atol=1e-6)
    # the independent value: the maximum of w.x over the ball is w.x + eps * |w|_1
    best = metric(x) + 4 / 255 * metric.weight.abs().sum()
    assert torch.allclose(metric(apgd), best, atol=1e-5)


def test_mifgsm_with_zero_decay_is_ifgsm():
    metric, x = ToyMetric(), toy_images(2, (32, 32))
    a = MIFGSM(eps=4 / 255, alpha=1e-3, iterations=5, decay=0.0)(metric, x)
    b = IFGSM(eps=4 / 255, alpha=1e-3, iterations=5)(metric, x)
    assert torch.equal(a, b)


def test_apgd_checkpoints_follow_croce_and_hein():
    assert checkpoints(100) == [22, 41, 57, 70, 80, 87, 93, 99]
    assert checkpoints(2) == [1, 2]


def test_apgd_returns_its_best_point_and_beats_fgsm():
    metric, x = ToyMetric(), toy_images(3, (32, 32), seed=4)
    apgd = APGD(eps=4 / 255, n_iter=20)(metric, x)
    fgsm = FGSM(eps=4 / 255)(metric, x)
    assert bool((metric(apgd) >= metric(fgsm) - 1e-4).all())


def test_apgd_two_steps_for_adversarial_training_with_random_start_is_seeded():
    metric, x = ToyMetric(), toy_images(2, (32, 32))
    attack = APGD(eps=8 / 255, n_iter=2, random_start=True)
    a = attack(metric, x, generator=torch.Generator().manual_seed(1))
    b = attack(metric, x, generator=torch.Generator().manual_seed(1))
    c = attack(metric, x, generator=torch.Generator().manual_seed(2))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert float((a - x).abs().max()) <= 8 / 255 + 1e-6


@pytest.mark.parametrize(
    "attack",
    [
        FGSM(),
        IFGSM(iterations=4),
        MIFGSM(iterations=4),
        APGD(n_iter=4),
        Korhonen(iterations=4),
        MADC(iterations=4),
        SSAH(iterations=4),
        ZhangSSIM(iterations=4),
        StAdv(iterations=4),
        AdvCF(iterations=4),
        AMIFGSM(iterations=4),
    ],
    ids=lambda a: a.name,
)
def test_batch_result_equals_per_image_result(attack):
    metric, x = ToyMetric(), toy_images(3, (32, 32), seed=6)
    batched = attack(metric, x)
    single = torch.cat([attack(metric, x[i : i + 1]) for i in range(3)])
    assert torch.allclose(batched, single, atol=1e-5)


def test_amifgsm_stops_images_whose_naturalness_would_degrade_too_much():
    metric, x = ToyMetric(), toy_images(2, (48, 48), seed=1)
    free = AMIFGSM(eps=8 / 255, alpha=2 / 255, max_degradation=1e6)(metric, x)
    tight = AMIFGSM(eps=8 / 255, alpha=2 / 255, max_degradation=0.3)(metric, x)
    measure = MSCNNaturalness()
    assert bool((measure.degradation(x, tight) <= 0.3).all())
    assert float((tight - x).abs().max()) < float((free - x).abs().max())
    assert torch.allclose(free, MIFGSM(eps=8 / 255, alpha=2 / 255)(metric, x))


def test_amifgsm_accepts_any_metric_as_the_naturalness_measure():
    class Roughness(ToyMetric):
        """Lower is better (like NIQE)."""

        name = "roughness"
        higher_is_better = False

    metric, x = ToyMetric(), toy_images(2, (32, 32), seed=1)
    attack = AMIFGSM(eps=8 / 255, alpha=2 / 255, naturalness=Roughness(), max_degradation=12.0)
    adv = attack(metric, x)
    assert bool((Roughness()(adv) - Roughness()(x) <= 12.0 + 1e-4).all())
    assert float((adv - x).abs().max()) < 8 / 255 - 1e-4  # the limit stopped it before the full budget
    assert float(metric(adv).mean()) > float(metric(x).mean())


def test_mscn_naturalness_is_zero_for_the_same_image_and_grows_with_noise():
    x = toy_images(2, (32, 32))
    noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(0))
    measure = MSCNNaturalness()
    assert torch.allclose(measure.degradation(x, x), torch.zeros(2))
    small = measure.degradation(x, (x + 0.005 * noise).clamp(0, 1))
    large = measure.degradation(x, (x + 0.05 * noise).clamp(0, 1))
    assert bool((large > small).all())


def test_korhonen_leaves_flat_regions_untouched():
    x = toy_images(1, (32, 32)).clone()
    x[..., :, :16] = 0.5  # flat left half
    mask = spatial_activity(x)
    assert float(mask[..., 2:-2, 2:12].abs().max()) == 0.0
    adv = Korhonen(eps=8 / 255, alpha=2 / 255)(ToyMetric(), x)
    assert float((adv - x)[..., 2:-2, 2:12].abs().max()) == 0.0
    assert float((adv - x)[..., 18:].abs().max()) > 0


def test_madc_steps_orthogonally_to_the_mse_gradient_and_holds_the_rmse_bound():
    metric, x = ToyMetric(), 0.25 + 0.5 * toy_images(2, (32, 32), seed=3)
    first = MADC(eps=16 / 255, alpha=1e-3, iterations=1)(metric, x)
    assert torch.allclose((first - x).abs(), torch.full_like(x, 1e-3), atol=1e-6)  # one signed step
    later = MADC(eps=16 / 255, alpha=1e-3, iterations=8)(metric, x)
    assert bool((metric(later) > metric(first)).all())
    bounded = MADC(eps=16 / 255, alpha=4e-3, iterations=8, rmse_bound=3e-3)(metric, x)
    assert bool((mse(x, bounded).sqrt() <= 3e-3 + 1e-7).all())


def test_ssah_low_frequency_constraint_reduces_low_frequency_change():
    metric, x = ToyMetric(), toy_images(2, (32, 32), seed=2)
    free = SSAH(eps=8 / 255, lr=2e-3, lambda_lf=0.0, iterations=10)(metric, x)
    constrained = SSAH(eps=8 / 255, lr=2e-3, lambda_lf=50.0, iterations=10)(metric, x)
    low = lambda a: (haar_low(a) - haar_low(x)).pow(2).sum()  # noqa: E731
    assert float(low(constrained)) < float(low(free))


def test_zhang_fr_term_keeps_the_image_closer():
    metric, x = ToyMetric(), toy_images(2, (32, 32), seed=5)
    loose = ZhangSSIM(eps=8 / 255, alpha=1e-3, fr_weight=0.0)(metric, x)
    tight = ZhangSSIM(eps=8 / 255, alpha=1e-3, fr_weight=50.0)(metric, x)
    assert float(ssim(x, tight).mean()) > float(ssim(x, loose).mean())
    with_mse = Zhang(eps=8 / 255, alpha=1e-3, fr=MSEDistance(), fr_weight=1e4)(metric, x)
    assert float(mse(x, with_mse).mean()) < float(mse(x, loose).mean())


def test_zhang_names_iqa_metrics_when_the_fr_measure_is_missing():
    with pytest.raises(ComponentNotFoundError, match="iqa-metrics"):
        create_fr("no-such-fr-measure")
    assert create_fr("ssim").name == "ssim"


def test_stadv_warp_flow_and_linf_budget():
    x = toy_images(2, (32, 32))
    zero = torch.zeros(2, 2, 32, 32)
    assert torch.allclose(warp(x, zero), x, atol=1e-6)
    assert torch.allclose(flow_smoothness(zero), torch.full((2,), 4 * 1e-4), atol=1e-6)
    shift = torch.zeros(2, 2, 32, 32)
    shift[:, 0] = 1.0  # one pixel to the right: sample x + 1
    assert torch.allclose(warp(x, shift)[..., :-1], x[..., 1:], atol=1e-5)
    metric = ToyMetric()
    adv = StAdv(eps=4 / 255, lr=0.1, iterations=10)(metric, x)
    assert float((adv - x).abs().max()) <= 4 / 255 + 1e-7
    assert float(metric(adv).mean()) > float(metric(x).mean())


def test_stadv_presets_are_the_reference_linf_targets():
    """Issue 13: the reference picks stAdv's lr so that Linf is 2/4/8 per 255 (picked_presets_v1.csv)."""
    budgets = [StAdv(**StAdv.presets[p]).budget for p in ("weak", "medium", "strong")]
    assert [b.kind for b in budgets] == ["linf"] * 3
    assert [round(b.value * 255, 6) for b in budgets] == [2, 4, 8]


def test_advcf_is_a_per_channel_monotone_colour_curve():
    metric, x = ToyMetric(), toy_images(2, (32, 32), seed=8)
    adv = AdvCF(lr=0.05, iterations=10)(metric, x)
    for n in range(2):
        for c in range(3):
            order = x[n, c].flatten().argsort()
            mapped = adv[n, c].flatten()[order]
            assert bool((mapped[1:] >= mapped[:-1] - 1e-6).all())
    raw = torch.zeros(1, 3, 8)
    assert torch.allclose(apply_curves(x[:1], raw), x[:1], atol=1e-6)
