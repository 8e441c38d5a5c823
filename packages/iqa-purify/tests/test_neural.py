import pytest
import torch

from iqa_core.testing import check_defence, toy_images
from iqa_core.weights import ChecksumError, WeightsNotFoundError
from iqa_purify.disco import DISCO, LIIF, make_coord
from iqa_purify.fcn import FCNFilter, FCNNet
from iqa_purify.mprnet import MPRNet, MPRNetArch
from iqa_purify.realesrgan import GENERAL_WDN_X4V3, GENERAL_X4V3, RealESRGAN, SRVGGNetCompact

TINY_MPR = {"n_feat": 8, "scale_unetfeats": 4, "scale_orsnetfeats": 4, "num_cab": 1}


def _random_state(module, seed=0, scale=0.1):
    g = torch.Generator().manual_seed(seed)
    return {
        k: (torch.randn(v.shape, generator=g) * scale if v.is_floating_point() else v)
        for k, v in module.state_dict().items()
    }


# ---------------------------------------------------------------- FCN filter
def test_fcn_filter_loads_the_reference_checkpoint_layout(tmp_path):
    net = FCNNet(hidden=16)
    state = _random_state(net)
    assert sorted(state) == sorted(f"conv{i}.{p}" for i in (1, 2, 3) for p in ("weight", "bias"))
    torch.save({"model": state, "epoch": 123}, tmp_path / "fcn_mse.pth")
    defence = FCNFilter(weights=tmp_path / "fcn_mse.pth")
    check_defence(defence)
    x = toy_images(1, (20, 20))
    net.load_state_dict(state)
    assert torch.allclose(defence(x), net(x).clamp(0, 1))


def test_fcn_filter_reads_hidden_width_and_needs_a_path(tmp_path):
    torch.save(FCNNet(hidden=32).state_dict(), tmp_path / "bare.pth")
    assert FCNFilter(weights=tmp_path / "bare.pth").net.conv2.out_channels == 32
    with pytest.raises(WeightsNotFoundError, match="weights=PATH"):
        FCNFilter()
    torch.save({"model": {"x": torch.zeros(1)}}, tmp_path / "bad.pth")
    with pytest.raises(ValueError, match="FCN"):
        FCNFilter(weights=tmp_path / "bad.pth")


# ---------------------------------------------------------------- Real-ESRGAN
def _esrgan_files(tmp_path, num_conv=2):
    net = SRVGGNetCompact(num_feat=8, num_conv=num_conv)
    a, b = _random_state(net, 0, 0.05), _random_state(net, 1, 0.05)
    torch.save({"params": a}, tmp_path / "realesr-general-x4v3.pth")
    torch.save({"params": b}, tmp_path / "realesr-general-wdn-x4v3.pth")
    return net, a, b


def test_realesrgan_key_layout_matches_basicsr():
    keys = list(SRVGGNetCompact().state_dict())
    assert keys[:3] == ["body.0.weight", "body.0.bias", "body.1.weight"]
    assert keys[-2:] == ["body.66.weight", "body.66.bias"]  # conv + 32 x (conv, prelu) + prelu ... last conv
    assert len(keys) == 2 + 1 + 32 * 3 + 2


def test_realesrgan_interpolates_the_two_checkpoints_and_keeps_the_size(tmp_path):
    net, a, b = _esrgan_files(tmp_path)
    defence = RealESRGAN(
        tmp_path / "realesr-general-x4v3.pth",
        tmp_path / "realesr-general-wdn-x4v3.pth",
        check_hash=False,
        num_feat=8,
        num_conv=2,
    )
    check_defence(defence)
    for k, v in defence.net.state_dict().items():
        assert torch.allclose(v, 0.2 * a[k] + 0.8 * b[k])
    x = toy_images(1, (9, 13))
    net.load_state_dict({k: 0.2 * a[k] + 0.8 * b[k] for k in a})
    up = net(x).clamp(0, 1)
    assert up.shape[-2:] == (36, 52)
    expected = torch.nn.functional.interpolate(up, size=(9, 13), mode="bicubic", antialias=True).clamp(0, 1)
    assert torch.allclose(defence(x), expected, atol=1e-6)
    only = RealESRGAN(
        tmp_path / "realesr-general-x4v3.pth", denoise_strength=1, check_hash=False, num_feat=8, num_conv=2
    )
    assert torch.allclose(only.net.body[0].weight, a["body.0.weight"])


def test_realesrgan_checks_the_official_sha256(tmp_path):
    _esrgan_files(tmp_path)
    assert GENERAL_X4V3.sha256.startswith("8dc7edb9") and GENERAL_WDN_X4V3.sha256.startswith("1641f8c4")
    with pytest.raises(ChecksumError):
        RealESRGAN(tmp_path / "realesr-general-x4v3.pth", tmp_path / "realesr-general-wdn-x4v3.pth")


# ---------------------------------------------------------------- MPRNet
def test_mprnet_key_layout_matches_the_official_code():
    keys = set(MPRNetArch().state_dict())
    for key in (
        "shallow_feat1.0.weight",
        "shallow_feat1.1.body.0.weight",
        "shallow_feat1.1.body.1.weight",
        "shallow_feat1.1.CA.conv_du.0.weight",
        "shallow_feat1.1.CA.conv_du.2.weight",
        "stage1_encoder.encoder_level1.0.body.0.weight",
        "stage1_encoder.down12.down.1.weight",
        "stage2_encoder.csff_enc1.weight",
        "stage2_encoder.csff_dec3.weight",
        "stage1_decoder.skip_attn1.body.0.weight",
        "stage1_decoder.up21.up.1.weight",
        "stage3_orsnet.orb1.body.8.weight",
        "stage3_orsnet.up_enc2.1.up.1.weight",
        "stage3_orsnet.conv_dec3.weight",
        "sam12.conv1.weight",
        "sam23.conv3.weight",
        "concat12.weight",
        "concat23.weight",
        "tail.weight",
    ):
        assert key in keys, key
    assert "stage1_encoder.csff_enc1.weight" not in keys and not any(k.endswith(".bias") for k in keys)
    assert MPRNetArch().state_dict()["concat23.weight"].shape == (112, 160, 3, 3)


def test_mprnet_loads_a_dataparallel_checkpoint_and_conforms(tmp_path):
    arch = MPRNetArch(**TINY_MPR)
    state = _random_state(arch, scale=0.05)
    torch.save({"epoch": 1, "state_dict": {f"module.{k}": v for k, v in state.items()}}, tmp_path / "m.pth")
    defence = MPRNet(tmp_path / "m.pth", **TINY_MPR)
    check_defence(defence)
    x = toy_images(1, (16, 24))
    arch.load_state_dict(state)
    assert torch.allclose(defence(x), arch(x).clamp(0, 1), atol=1e-6)
    with pytest.raises(WeightsNotFoundError, match="weights=PATH"):
        MPRNet()


# ---------------------------------------------------------------- DISCO
def _disco_checkpoint(tmp_path, n_resblocks=2, n_feats=8, hidden=(16, 16)):
    liif = LIIF(n_resblocks, n_feats, 1.0, hidden)
    spec = {
        "name": "liif",
        "args": {
            "encoder_spec": {
                "name": "edsr-baseline",
                "args": {"n_resblocks": n_resblocks, "n_feats": n_feats, "no_upsampling": True},
            },
            "imnet_spec": {"name": "mlp", "args": {"out_dim": 3, "hidden_list": list(hidden)}},
        },
        "sd": _random_state(liif, scale=0.1),
    }
    torch.save({"model": spec, "epoch": 3}, tmp_path / "disco_pgd.pth")
    liif.load_state_dict(spec["sd"])
    return liif


def test_disco_key_layout_matches_liif():
    keys = list(LIIF().state_dict())
    assert {
        "encoder.sub_mean.weight",
        "encoder.add_mean.bias",
        "encoder.head.0.weight",
        "encoder.body.0.body.0.weight",
        "encoder.body.0.body.2.weight",
        "encoder.body.16.weight",
        "imnet.layers.0.weight",
        "imnet.layers.8.weight",
    } <= set(keys)
    assert LIIF().state_dict()["imnet.layers.0.weight"].shape == (256, 64 * 9 + 4)


def test_disco_loads_the_official_checkpoint_layout_and_conforms(tmp_path):
    liif = _disco_checkpoint(tmp_path)
    defence = DISCO(tmp_path / "disco_pgd.pth", chunk=100)
    assert len(defence.net.encoder.body) == 3
    check_defence(defence)
    x = toy_images(2, (10, 12))
    with torch.no_grad():
        ref = (liif((x - 0.5) / 0.5, (10, 12), chunk=10**6) * 0.5 + 0.5).clamp(0, 1)
    assert torch.allclose(defence(x), ref, atol=1e-6)  # chunking does not change the result


def test_disco_query_at_pixel_centres_reads_the_nearest_feature():
    coord = make_coord(2, 4, torch.device("cpu"), torch.float32)
    assert torch.allclose(coord[0, 0], torch.tensor([-0.5, -0.75])) and coord.shape == (2, 4, 2)
    with pytest.raises(WeightsNotFoundError, match="weights=PATH"):
        DISCO()
