"""cAdv: the colourisation network's official layout, the weight manager path and the attack itself."""

import pytest
import torch

from iqa_attacks.cadv import SIGGRAPH17, CAdv, ColorizationNet
from iqa_core.measures import ssim
from iqa_core.testing import ToyMetric, toy_images
from iqa_core.weights import ChecksumError, WeightsNotFoundError

OFFICIAL_KEYS = [
    "model1.0.weight", "model1.2.weight", "model1.4.running_var", "model3.4.weight", "model5.0.weight",
    "model8up.0.weight", "model8.1.weight", "model8.5.weight", "model9.3.running_mean", "model10.1.weight",
    "model3short8.0.weight", "model2short9.0.bias", "model1short10.0.weight", "model_class.0.weight",
    "model_out.0.weight",
]  # fmt: skip


def test_network_has_the_official_keys_shapes_and_size():
    net = ColorizationNet()
    state = net.state_dict()
    assert all(k in state for k in OFFICIAL_KEYS)
    assert state["model1.0.weight"].shape == (64, 4, 3, 3)
    assert state["model8up.0.weight"].shape == (512, 256, 4, 4)  # ConvTranspose2d(512, 256)
    assert state["model_class.0.weight"].shape == (529, 256, 1, 1)
    assert abs(sum(p.numel() for p in net.parameters()) / 1e6 - 34.19) < 0.01
    assert SIGGRAPH17.url.endswith("siggraph17-df00044c.pth") and SIGGRAPH17.sha256 == "df00044c"


def test_official_layout_checkpoint_loads_through_the_weight_manager(tmp_path):
    path = tmp_path / "siggraph17-df00044c.pth"
    torch.manual_seed(0)
    torch.save(ColorizationNet().state_dict(), path)
    attack = CAdv(weights=str(path), check_weights=False, size=16, hints=5, iterations=1, min_ssim=0.5)
    net = attack.colorizer()
    assert torch.equal(net.state_dict()["model4.2.weight"], torch.load(path)["model4.2.weight"])
    metric, x = ToyMetric(), toy_images(1, (16, 16))
    adv = attack(metric, x, generator=torch.Generator().manual_seed(0))
    assert adv.shape == x.shape and bool((ssim(x, adv) >= 0.5 - 1e-5).all())
    with pytest.raises(ChecksumError):
        CAdv(weights=str(path)).colorizer()  # a random file is not the official checkpoint


def test_missing_weights_offline_say_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("IQA_HOME", str(tmp_path))
    monkeypatch.setenv("IQA_OFFLINE", "1")
    with pytest.raises(WeightsNotFoundError, match="weights=PATH"):
        CAdv().colorizer()


def test_random_weight_path_keeps_lightness_and_the_ssim_budget():
    from kornia.color import rgb_to_lab

    metric, x = ToyMetric(), toy_images(2, (32, 32), seed=3)
    attack = CAdv(min_ssim=0.85, pretrained=False, width=0.125, size=32, hints=10, iterations=4)
    adv = attack(metric, x, generator=torch.Generator().manual_seed(0))
    assert bool((ssim(x, adv) >= 0.85 - 1e-5).all())
    assert float(metric(adv).mean()) > float(metric(x).mean())
    changed = (rgb_to_lab(adv) - rgb_to_lab(x)).abs().flatten(2).mean(2)
    assert float(changed[:, 0].max()) < 0.5 * float(changed[:, 1:].max())  # chroma moves, lightness (almost) not


def test_bad_settings_raise():
    with pytest.raises(ValueError, match=r"width=1\.0"):
        CAdv(width=0.5)
    with pytest.raises(ValueError, match="multiple of 8"):
        CAdv(size=30, pretrained=False)
