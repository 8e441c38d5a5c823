import pytest
import torch

from iqa_core.testing import check_denoiser, toy_images
from iqa_purify.dncnn import DnCNN, DnCNNNet, train_dncnn


def _data(n=8, seed=0):
    return [toy_images(4, (32, 32), seed=seed + i) for i in range(n)]


def test_dncnn_layout_matches_denoised_smoothing():
    keys = list(DnCNNNet().state_dict())
    assert keys[:2] == ["dncnn.0.weight", "dncnn.0.bias"]
    assert "dncnn.3.running_mean" in keys and keys[-1] == "dncnn.47.weight"
    assert sum(1 for k in keys if k.endswith("weight") and DnCNNNet().state_dict()[k].ndim == 4) == 17


def test_dncnn_training_reduces_the_loss_and_then_denoises(tmp_path):
    torch.manual_seed(0)
    denoiser = DnCNN(depth=5, channels=16)
    losses = train_dncnn(denoiser, _data(), 0.12, epochs=6, lr=2e-3, generator=torch.Generator().manual_seed(0))
    assert sum(losses[-8:]) / 8 < 0.5 * sum(losses[:8]) / 8
    assert denoiser.sigma == 0.12 and not denoiser.net.training
    check_denoiser(denoiser)
    denoiser.save(tmp_path / "dncnn.pth")
    again = DnCNN(tmp_path / "dncnn.pth", sigma=0.12)
    x = toy_images(1, (16, 16))
    assert torch.allclose(again(x, 0.12), denoiser(x, 0.12))


def test_dncnn_loads_a_dataparallel_checkpoint_and_checks_sigma(tmp_path):
    net = DnCNNNet(depth=4, channels=8)
    torch.save(
        {"arch": "imagenet_dncnn", "state_dict": {f"module.{k}": v for k, v in net.state_dict().items()}},
        tmp_path / "ck.pth.tar",
    )
    denoiser = DnCNN(tmp_path / "ck.pth.tar", sigma=0.25)
    assert len(denoiser.net.dncnn) == len(net.dncnn)
    with pytest.raises(ValueError, match=r"sigma=0\.25"):
        denoiser(toy_images(1, (8, 8)), 0.12)
