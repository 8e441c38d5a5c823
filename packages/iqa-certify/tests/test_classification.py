import math

import pytest
import torch
from _linear import class_probabilities, grey_images, metric, random_perturbations
from scipy import stats

import iqa_core
from iqa_certify import DDRS, DRS, RS, DenoiserNotAvailableError, DensePure, clopper_pearson_interval
from iqa_core.testing import ToyDenoiser, ToyMetric, check_certifier, toy_images

SIGMA, N0, N, ALPHA = 0.12, 100, 1000, 0.001
WIDTH = 0.3  # class width in score units


def bounds_around(mu: float, offset: float) -> tuple[float, float]:
    """Ten classes of WIDTH whose 6th class starts ``offset`` below ``mu``."""
    lower = mu - offset - 5 * WIDTH
    return (lower, lower + 10 * WIDTH)


class AffineNoiseDenoiser:
    """Randomized toy purifier: z + tau * noise (draws from the generator)."""

    name = "affine-noise"

    def __init__(self, tau: float) -> None:
        self.tau = tau
        self.calls: list[tuple[int, float, bool]] = []

    def __call__(self, noisy, sigma, *, generator=None):
        self.calls.append((noisy.shape[0], sigma, generator is not None))
        noise = torch.randn(noisy.shape, generator=generator, device=noisy.device)
        return noisy + self.tau * noise


# ----------------------------------------------------------------- closed form on the linear metric
@pytest.mark.parametrize("offset", [0.05, 0.1, 0.15])
def test_rs_matches_closed_form_on_linear_metric(offset, generator):
    m, x = metric(), grey_images(1)
    mu = float(m(x))
    certifier = RS(sigma=SIGMA, n0=N0, n=N, alpha=ALPHA, bounds=bounds_around(mu, offset))
    (cert,) = certifier.certify(m, x, generator=generator)
    classes = certifier.classes(m)
    probs = class_probabilities(classes, mu, SIGMA)
    top = max(range(classes.total), key=probs.__getitem__)
    assert top == 6 and probs[top] > 0.5
    assert not cert.abstained and cert.prediction == top
    count = int(cert.extra["count"])
    # the count is Bin(N, p_true): p_true lies in its two-sided interval at level 1e-6
    lo, hi = clopper_pearson_interval(count, N, 1e-6)
    assert lo <= probs[top] <= hi
    # the certified lower bound holds (probability >= 1 - alpha) and the radius follows from it
    assert cert.extra["p_lower"] <= probs[top]
    assert cert.radius == pytest.approx(SIGMA * stats.norm.ppf(cert.extra["p_lower"]), rel=1e-12)
    assert cert.radius <= SIGMA * stats.norm.ppf(probs[top])
    assert (cert.lower, cert.upper) == pytest.approx(classes.interval(top))
    assert cert.n0 == N0 and cert.n == N and cert.seconds > 0


def test_rs_certificate_holds_for_perturbations_inside_the_radius(generator):
    m, x = metric(), grey_images(1)
    mu = float(m(x))
    certifier = RS(sigma=SIGMA, n0=N0, n=N, alpha=ALPHA, bounds=bounds_around(mu, 0.12))
    (cert,) = certifier.certify(m, x, generator=generator)
    assert not cert.abstained and cert.radius > 0.05
    classes = certifier.classes(m)
    deltas = random_perturbations(300, cert.radius, m.weight)
    for delta in deltas:
        shifted = mu + float((m.weight * delta).sum())  # smoothed distribution at x + delta: N(shifted, sigma^2)
        probs = class_probabilities(classes, shifted, SIGMA)
        guaranteed = stats.norm.cdf(stats.norm.ppf(cert.extra["p_lower"]) - float(delta.norm()) / SIGMA)
        assert probs[cert.prediction] >= guaranteed - 1e-9
        assert probs[cert.prediction] > 0.5
        assert max(range(classes.total), key=probs.__getitem__) == cert.prediction


def test_monte_carlo_prediction_inside_the_radius_never_contradicts(generator):
    m, x = metric(), grey_images(1)
    certifier = RS(sigma=SIGMA, n0=N0, n=N, alpha=ALPHA, bounds=bounds_around(float(m(x)), 0.12))
    (cert,) = certifier.certify(m, x, generator=generator)
    deltas = random_perturbations(4, cert.radius, m.weight, seed=1)
    predictions = certifier.predict(m, x + deltas, generator=generator)
    for p in predictions:  # a wrong class has probability <= alpha each
        assert p.abstained or p.prediction == cert.prediction
    assert any(not p.abstained for p in predictions)


def test_abstains_on_a_class_boundary(generator):
    m, x = metric(), grey_images(1)
    (cert,) = RS(bounds=bounds_around(float(m(x)), 0.0)).certify(m, x, generator=generator)
    # P(top class) = Phi(WIDTH / sigma) - 1/2 ~ 0.494 < 1/2: the lower bound cannot reach 1/2
    assert cert.abstained and cert.radius == 0.0 and cert.prediction is None and cert.score is None
    assert cert.extra["p_lower"] < 0.5
    (pred,) = RS(bounds=bounds_around(float(m(x)), 0.0)).predict(m, x, generator=generator)
    assert pred.abstained  # two classes nearly tied: not significant


@pytest.mark.parametrize(("shift", "expected"), [(-100.0, 0), (100.0, 11)])
def test_scores_below_and_above_the_bounds_get_the_outer_classes(shift, expected, generator):
    m, x = metric(), grey_images(1)
    mu = float(m(x))
    certifier = RS(bounds=(mu - shift - 1.0, mu - shift + 1.0))
    (cert,) = certifier.certify(m, x, generator=generator)
    assert cert.prediction == expected and cert.extra["count"] == N
    assert cert.radius == pytest.approx(SIGMA * stats.norm.ppf(ALPHA ** (1 / N)))
    assert math.isinf(cert.lower if expected == 0 else cert.upper)


def test_predict_returns_the_analytic_top_class(generator):
    m, x = metric(), grey_images(1)
    mu = float(m(x))
    certifier = RS(bounds=bounds_around(mu, 0.1))
    (pred,) = certifier.predict(m, x, generator=generator)
    assert not pred.abstained and pred.prediction == 6 and pred.radius == 0.0
    assert pred.extra["p_value"] <= ALPHA
    assert pred.score == pytest.approx(certifier.classes(m).representative(6))


# ----------------------------------------------------------------- contract, determinism, options
CERTIFIERS = [
    RS(n0=32, n=200),
    DRS(n0=32, n=200, denoiser=ToyDenoiser()),
    DDRS(n0=32, n=200, denoiser=ToyDenoiser()),
    DensePure(n0=32, n=200, purifier=AffineNoiseDenoiser(0.02), runs=3),
]


@pytest.mark.parametrize("certifier", CERTIFIERS, ids=lambda c: c.name)
def test_conformance(certifier):
    check_certifier(certifier, images=toy_images(2, (16, 16)))


@pytest.mark.parametrize("certifier", CERTIFIERS, ids=lambda c: c.name)
def test_deterministic_under_a_generator_and_seed_dependent(certifier):
    m, x = metric(), grey_images(2)
    certifier.bounds = iqa_core.Bounds(*bounds_around(float(m(x[:1])), 0.01))
    try:
        first = certifier.certify(m, x, generator=torch.Generator().manual_seed(3))
        again = certifier.certify(m, x, generator=torch.Generator().manual_seed(3))
        other = certifier.certify(m, x, generator=torch.Generator().manual_seed(4))
    finally:
        certifier.bounds = None
    key = [(c.prediction, c.radius, c.extra["count"]) for c in first]
    assert key == [(c.prediction, c.radius, c.extra["count"]) for c in again]
    assert [c.extra["count"] for c in first] != [c.extra["count"] for c in other]


def test_generator_none_follows_torch_manual_seed():
    m, x = ToyMetric(), toy_images(1, (16, 16))
    torch.manual_seed(7)
    a = RS(n0=20, n=100).certify(m, x)
    torch.manual_seed(7)
    b = RS(n0=20, n=100).certify(m, x)
    assert a[0].extra == b[0].extra


def test_batch_size_does_not_change_the_counts_in_distribution(generator):
    m, x = metric(), grey_images(1)
    bounds = bounds_around(float(m(x)), 0.1)
    small = RS(bounds=bounds, batch_size=7).certify(m, x, generator=generator)[0]
    large = RS(bounds=bounds, batch_size=1000).certify(m, x, generator=generator)[0]
    for cert in (small, large):
        assert cert.prediction == 6
        lo, hi = clopper_pearson_interval(int(cert.extra["count"]), N, 1e-6)
        assert lo <= class_probabilities(RS(bounds=bounds).classes(m), float(m(x)), SIGMA)[6] <= hi


def test_lower_is_better_metric_orders_classes_by_quality(generator):
    class Inverted(ToyMetric):
        higher_is_better = False

    x = toy_images(1, (16, 16))
    up = RS(n0=20, n=100).certify(ToyMetric(), x, generator=torch.Generator().manual_seed(0))[0]
    down = RS(n0=20, n=100).certify(Inverted(), x, generator=torch.Generator().manual_seed(0))[0]
    assert up.prediction is not None and down.prediction == 11 - up.prediction
    assert up.score == down.score


def test_clamp_keeps_noisy_inputs_in_range(generator):
    seen = []

    class Recording(ToyMetric):
        def forward(self, images):
            seen.append((float(images.min()), float(images.max())))
            return super().forward(images)

    x = toy_images(1, (16, 16))
    RS(n0=10, n=50, clamp=True).certify(Recording(), x, generator=generator)
    assert all(lo >= 0.0 and hi <= 1.0 for lo, hi in seen)
    seen.clear()
    RS(n0=10, n=50).certify(Recording(), x, generator=generator)
    assert any(lo < 0.0 or hi > 1.0 for lo, hi in seen)


def test_invalid_parameters_raise():
    for kwargs in ({"sigma": 0}, {"n0": 0}, {"n": 0}, {"alpha": 1.5}, {"n_classes": 0}, {"batch_size": 0}):
        with pytest.raises(ValueError):
            RS(**kwargs)
    with pytest.raises(ValueError, match="does not denoise"):
        RS(denoiser=ToyDenoiser())
    with pytest.raises(ValueError):
        DensePure(runs=0)
    with pytest.raises(ValueError, match="not both"):
        DensePure(purifier=ToyDenoiser(), denoiser=ToyDenoiser())


def test_presets_are_the_paper_defaults():
    assert RS.default_preset == "paper"
    assert RS.presets["paper"] == {"sigma": 0.12, "n0": 100, "n": 1000, "alpha": 0.001, "n_classes": 10, "clamp": True}
    rs = RS(**RS.presets["paper"])
    assert (rs.sigma, rs.n0, rs.n, rs.alpha, rs.n_classes) == (0.12, 100, 1000, 0.001, 10)
    assert (DensePure().runs, DRS().denoiser, DDRS().denoiser) == (1, "dncnn", "diffusion-one-step")


# ----------------------------------------------------------------- denoisers
def test_drs_applies_the_denoiser_with_sigma_and_generator(generator):
    calls = []

    class Recording(ToyDenoiser):
        def forward(self, noisy, sigma, *, generator=None):
            calls.append((noisy.shape[0], sigma, generator))
            return super().forward(noisy, sigma, generator=generator)

    DRS(sigma=0.25, n0=10, n=30, batch_size=16, denoiser=Recording()).certify(
        ToyMetric(), toy_images(1, (16, 16)), generator=generator
    )
    assert [c[0] for c in calls] == [10, 16, 14]
    assert all(c[1] == 0.25 and c[2] is generator for c in calls)


def test_missing_registry_denoiser_names_iqa_purify():
    certifier = DRS(denoiser="no-such-denoiser-for-tests")
    with pytest.raises(DenoiserNotAvailableError, match="iqa-purify"):
        certifier.certify(ToyMetric(), toy_images(1, (16, 16)))


def test_registry_denoiser_is_created_by_name(generator):
    iqa_core.registry.register("denoiser", "certify-test-blur", ToyDenoiser, replace=True)
    try:
        by_name = DRS(n0=20, n=100, denoiser="certify-test-blur")
        by_object = DRS(n0=20, n=100, denoiser=ToyDenoiser())
        x = toy_images(1, (16, 16))
        a = by_name.certify(ToyMetric(), x, generator=torch.Generator().manual_seed(0))
        b = by_object.certify(ToyMetric(), x, generator=torch.Generator().manual_seed(0))
        assert a[0].extra == b[0].extra
    finally:
        iqa_core.registry.unregister("denoiser", "certify-test-blur")


def test_densepure_with_one_deterministic_run_equals_drs():
    x = toy_images(2, (16, 16))
    dp = DensePure(n0=20, n=100, purifier=ToyDenoiser(), runs=1).certify(
        ToyMetric(), x, generator=torch.Generator().manual_seed(0)
    )
    drs = DRS(n0=20, n=100, denoiser=ToyDenoiser()).certify(ToyMetric(), x, generator=torch.Generator().manual_seed(0))
    assert [c.extra for c in dp] == [c.extra for c in drs]


def test_densepure_calls_the_purifier_runs_times_per_sample_run_major():
    seen = []

    class Recording(AffineNoiseDenoiser):
        def __call__(self, noisy, sigma, *, generator=None):
            seen.append(noisy.clone())
            return super().__call__(noisy, sigma, generator=generator)

    purifier = Recording(0.01)
    DensePure(n0=8, n=8, batch_size=12, purifier=purifier, runs=3).certify(ToyMetric(), toy_images(1, (16, 16)))
    assert [c[0] for c in purifier.calls] == [12] * 4  # 4 samples x 3 runs per call, 8 + 8 samples
    assert all(c[2] for c in purifier.calls)
    for batch in seen:
        assert torch.equal(batch[0:4], batch[4:8]) and torch.equal(batch[0:4], batch[8:12])


def test_densepure_majority_vote_concentrates_the_base_classifier(generator):
    # purifier noise tau dominates sigma; the score sits 0.3 tau above a class edge:
    # one run picks the upper class with p ~ Phi(0.3) ~ 0.62, a vote of 9 with p ~ 0.77
    m, x = metric(), grey_images(1)
    tau, sigma = 1.0, 0.01
    bounds = (float(m(x)) - 0.3 * tau - 5 * 50.0, float(m(x)) - 0.3 * tau + 5 * 50.0)
    counts = {}
    for runs in (1, 9):
        cert = DensePure(sigma=sigma, n0=50, n=400, runs=runs, purifier=AffineNoiseDenoiser(tau), bounds=bounds)
        counts[runs] = int(cert.certify(m, x, generator=generator)[0].extra["count"])
    p1 = stats.norm.cdf(0.3)
    p9 = sum(stats.binom.pmf(k, 9, p1) for k in range(5, 10))
    for runs, p in ((1, p1), (9, p9)):
        lo, hi = clopper_pearson_interval(counts[runs], 400, 1e-6)
        assert lo <= p <= hi
