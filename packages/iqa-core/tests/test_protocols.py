import torch

from iqa_core import Attack, Certifier, Defence, Denoiser, FullReferenceMetric, Metric, TrainableAttack
from iqa_core.testing import ToyBlurDefence, ToyDenoiser, ToyMetric, ToySignAttack


def test_toys_satisfy_runtime_protocols():
    assert isinstance(ToyMetric(), Metric)
    assert isinstance(ToyBlurDefence(), Defence)
    assert isinstance(ToySignAttack(), Attack)
    assert isinstance(ToyDenoiser(), Denoiser)


def test_protocols_reject_objects_missing_members():
    class NotAMetric:
        name = "x"

        def __call__(self, images):
            return images

    assert not isinstance(NotAMetric(), Metric)
    assert not isinstance(ToySignAttack(), TrainableAttack)  # no fit()
    assert not isinstance(ToyMetric(), Certifier)


def test_full_reference_metric_protocol():
    class PSNRLike:
        name = "psnr"
        higher_is_better = True

        def __call__(self, reference, distorted):
            return -(reference - distorted).pow(2).flatten(1).mean(1)

    fr = PSNRLike()
    assert isinstance(fr, FullReferenceMetric)
    x = torch.rand(2, 3, 8, 8)
    assert fr(x, x).shape == (2,)
