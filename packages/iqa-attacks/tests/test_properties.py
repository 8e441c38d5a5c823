"""Property-based tests (hypothesis) over random images, sizes, batch sizes and presets:
range, shape, budget, determinism and no NaN, for every attack that runs offline."""

from __future__ import annotations

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iqa_core import create, measures, presets
from iqa_core.testing import ToyMetric

ATTACKS = [
    "fgsm", "ifgsm", "mifgsm", "amifgsm", "apgd", "korhonen", "zhang-ssim", "madc", "ssah",
    "stadv", "nes", "square", "onepixel", "parsimonious", "patch-rs",
]  # fmt: skip


@st.composite
def batches(draw: st.DrawFn) -> torch.Tensor:
    n = draw(st.integers(1, 3))
    h = draw(st.integers(32, 56))
    w = draw(st.integers(32, 56))
    seed = draw(st.integers(0, 2**31 - 1))
    kind = draw(st.sampled_from(["uniform", "smooth", "flat", "saturated"]))
    g = torch.Generator().manual_seed(seed)
    if kind == "uniform":
        return torch.rand(n, 3, h, w, generator=g)
    if kind == "smooth":
        low = torch.rand(n, 3, 4, 4, generator=g)
        return torch.nn.functional.interpolate(low, size=(h, w), mode="bilinear", align_corners=False)
    if kind == "flat":
        return torch.full((n, 3, h, w), float(torch.rand(1, generator=g)))
    return (torch.rand(n, 3, h, w, generator=g) > 0.5).float()  # only 0 and 1: clipping everywhere


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(images=batches(), attack_name=st.sampled_from(ATTACKS), preset_index=st.integers(0, 2), seed=st.integers(0, 99))
def test_attack_properties(images, attack_name, preset_index, seed):
    preset = list(presets("attack", attack_name))[preset_index]
    attack = create("attack", attack_name, preset=preset)
    metric = ToyMetric()
    adv = attack(metric, images, generator=torch.Generator().manual_seed(seed))
    assert adv.shape == images.shape and adv.dtype == torch.float32
    assert torch.isfinite(adv).all()
    assert float(adv.min()) >= 0 and float(adv.max()) <= 1
    held = measures.within_budget(attack.budget.kind, attack.budget.value, images, adv)
    assert bool(held.all()), f"{attack_name}[{preset}] broke {attack.budget}"
    again = attack(metric, images, generator=torch.Generator().manual_seed(seed))
    assert torch.equal(adv, again)
