"""Test kit: toy components that follow the contracts and conformance checks for real ones."""

from .conformance import check_attack, check_certifier, check_defence, check_denoiser, check_metric
from .conformance_direction import DirectionReport, check_direction
from .toys import (
    ToyBlurDefence,
    ToyDenoiser,
    ToyLinearMetric,
    ToyMetric,
    ToyNoiseDefence,
    ToyQuantizeDefence,
    ToySignAttack,
    toy_images,
)

__all__ = [
    "DirectionReport",
    "ToyBlurDefence",
    "ToyDenoiser",
    "ToyLinearMetric",
    "ToyMetric",
    "ToyNoiseDefence",
    "ToyQuantizeDefence",
    "ToySignAttack",
    "check_attack",
    "check_certifier",
    "check_defence",
    "check_denoiser",
    "check_direction",
    "check_metric",
    "toy_images",
]
