import math

import pytest
import torch
from _linear import grey_images, metric, random_perturbations
from scipy import stats

from iqa_certify import DMS, MS, DenoiserNotAvailableError, median_index
from iqa_core.testing import ToyDenoiser, ToyMetric, check_certifier, toy_images

SIGMA, EPS, N, ALPHA = 0.12, 0.05, 1000, 0.001
LEVEL = 1e-6  # test tolerance: a check fails by chance with probability <= 1e-6


class AffineDenoiser:
    """z -> a z + (1 - a) / 2: keeps a linear metric linear (noise std becomes a * sigma)."""

    name = "affine"

    def __init__(self, a: float) -> None:
        self.a = a
        self.sigmas: list[float] = []

    def __call__(self, noisy, sigma, *, generator=None):
        self.sigmas.append(sigma)
        return self.a * noisy + (1 - self.a) / 2


def order_statistic_u_interval(index: int, n: int) -> tuple[float, float]:
    """Central interval of F(Y_(index + 1)) ~ Beta(index + 1, n - index) at level LEVEL."""
    dist = stats.beta(index + 1, n - index)
    return dist.ppf(LEVEL / 2), dist.ppf(1 - LEVEL / 2)


def check_against_closed_form(cert, certifier, mu: float, std: float, eps_score: float) -> None:
    """Noisy scores ~ N(mu, std^2): quantile h_p = mu + std Phi^-1(p); the bounds are mu -+ eps_score."""
    assert not cert.abstained
    u = lambda value: stats.norm.cdf((value - mu) / std)  # noqa: E731 - F of the score distribution
    for value, index in (
        (cert.score, median_index(N)),
        (cert.lower, certifier.index_lower),
        (cert.upper, certifier.index_upper),
    ):
        lo, hi = order_statistic_u_interval(index, N)
        assert lo <= u(value) <= hi
    # the guarantee (each side holds with probability >= 1 - alpha / 2)
    assert cert.lower <= mu - eps_score and cert.upper >= mu + eps_score
    assert cert.delta == pytest.approx(max(cert.upper - cert.score, cert.score - cert.lower))


def test_ms_matches_closed_form_on_linear_metric(generator):
    m, x = metric(), grey_images(3) + torch.tensor([-0.2, 0.0, 0.2]).view(3, 1, 1, 1)
    certifier = MS(sigma=SIGMA, eps=EPS, n=N, alpha=ALPHA)
    certs = certifier.certify(m, x, generator=generator)
    for cert, mu in zip(certs, m(x).tolist(), strict=True):
        check_against_closed_form(cert, certifier, mu, SIGMA, EPS)
        assert cert.relative_delta == pytest.approx(cert.delta / m.bounds.diam)
        assert cert.radius == 0.0 and cert.n0 == 0 and cert.n == N and cert.extra["eps"] == EPS


def test_paper_indices_and_quantile_levels():
    certifier = MS()
    assert certifier.p_lower == pytest.approx(stats.norm.cdf(-0.05 / 0.12))
    assert certifier.p_upper == pytest.approx(1 - certifier.p_lower)
    # Bonferroni: each bound at alpha / 2; ascending indices, lower below the median below upper
    assert certifier.index_lower is not None and certifier.index_upper is not None
    assert certifier.index_lower < median_index(1000) < certifier.index_upper
    assert stats.binom.sf(certifier.index_lower, 1000, certifier.p_lower) >= 1 - 0.0005
    assert stats.binom.cdf(certifier.index_upper, 1000, certifier.p_upper) >= 1 - 0.0005


def test_ms_certificate_holds_for_perturbations_inside_eps(generator):
    m, x = metric(), grey_images(1)
    (cert,) = MS().certify(m, x, generator=generator)
    mu = float(m(x))
    for delta in random_perturbations(300, EPS, m.weight):
        smoothed_median = mu + float((m.weight * delta).sum())  # median of N(mu + w.delta, sigma^2)
        assert cert.lower <= smoothed_median <= cert.upper
        assert abs(smoothed_median - cert.score) <= cert.delta + 1e-12


def test_dms_matches_closed_form_with_an_affine_denoiser(generator):
    m, x = metric(), grey_images(2) + torch.tensor([-0.1, 0.1]).view(2, 1, 1, 1)
    denoiser = AffineDenoiser(0.5)
    certifier = DMS(denoiser=denoiser)
    certs = certifier.certify(m, x, generator=generator)
    mus = m(denoiser(x, SIGMA)).tolist()
    for cert, mu in zip(certs, mus, strict=True):
        check_against_closed_form(cert, certifier, mu, 0.5 * SIGMA, 0.5 * EPS)
    assert set(denoiser.sigmas) == {SIGMA}


def test_too_few_samples_abstain_with_infinite_delta(generator):
    certifier = MS(n=5)
    assert certifier.index_lower is None and certifier.index_upper is None
    (cert,) = certifier.certify(metric(), grey_images(1), generator=generator)
    assert cert.abstained and math.isinf(cert.delta) and cert.lower == -math.inf and cert.upper == math.inf
    assert cert.score is not None and math.isfinite(cert.score)


def test_even_sample_count_reports_the_lower_middle_value():
    class Counter:
        """Scores 0, 1, 2, ... in draw order: the samples are known exactly."""

        name, higher_is_better, differentiable = "counter", True, True
        bounds = ToyMetric.bounds

        def __init__(self):
            self.next = 0

        def __call__(self, images):
            out = torch.arange(self.next, self.next + images.shape[0], dtype=torch.float32)
            self.next += images.shape[0]
            return out

    (cert,) = MS(n=1000, batch_size=64).certify(Counter(), toy_images(1, (8, 8)))
    certifier = MS(n=1000)
    # ascending 0..999: index (n - 1) // 2 = 499, the lower middle, as torch.median in the benchmark's
    # ccrf/calc_nms_*.py (issue 13, defect 17; the old code took 500, the upper middle)
    assert cert.score == 499.0
    assert cert.score == float(torch.arange(1000.0).median())
    assert (cert.lower, cert.upper) == (float(certifier.index_lower), float(certifier.index_upper))
    (odd,) = MS(n=7, alpha=0.5).predict(Counter(), toy_images(1, (8, 8)))
    assert odd.score == 3.0


@pytest.mark.parametrize("certifier", [MS(n=200), DMS(n=200, denoiser=ToyDenoiser())], ids=lambda c: c.name)
def test_conformance(certifier):
    check_certifier(certifier, images=toy_images(2, (16, 16)))


def test_deterministic_under_a_generator():
    m, x = metric(), grey_images(2)
    a = MS(n=200).certify(m, x, generator=torch.Generator().manual_seed(5))
    b = MS(n=200).certify(m, x, generator=torch.Generator().manual_seed(5))
    c = MS(n=200).certify(m, x, generator=torch.Generator().manual_seed(6))
    assert [(r.score, r.lower, r.upper) for r in a] == [(r.score, r.lower, r.upper) for r in b]
    assert [r.score for r in a] != [r.score for r in c]


def test_predict_is_the_median_of_the_noisy_scores(generator):
    m, x = metric(), grey_images(1)
    (pred,) = MS().predict(m, x, generator=generator)
    lo, hi = order_statistic_u_interval(median_index(N), N)
    u = stats.norm.cdf((pred.score - float(m(x))) / SIGMA)
    assert lo <= u <= hi and not pred.abstained and pred.delta is None


def test_errors():
    with pytest.raises(ValueError, match="DMS"):
        MS(denoiser=ToyDenoiser())
    with pytest.raises(ValueError):
        MS(eps=-1.0)
    with pytest.raises(DenoiserNotAvailableError, match="iqa-purify"):
        DMS(denoiser="no-such-denoiser-for-tests").certify(ToyMetric(), toy_images(1, (8, 8)))

    class NaNMetric(ToyMetric):
        def forward(self, images):
            return super().forward(images) * math.nan

    with pytest.raises(ValueError, match="NaN"):
        MS(n=20).certify(NaNMetric(), toy_images(1, (8, 8)))


def test_presets():
    assert MS.default_preset == "paper"
    assert MS.presets["paper"] == {
        "sigma": 0.12,
        "eps": 0.05,
        "n": 1000,
        "alpha": 0.001,
        "clamp": True,
        "bonferroni": False,
    }
    assert DMS().denoiser == "dncnn"
