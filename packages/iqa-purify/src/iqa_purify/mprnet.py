"""MPRNet (Zamir et al., 2021), the denoising model, as a purification defence."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from iqa_core.weights import WeightSpec

from ._common import PathLike, freeze, load_state, pad_to_multiple, resolve_weights
from .base import PurificationDefence

# Released on Google Drive only (Denoising/pretrained_models/README.md of swz30/MPRNet).
MPRNET_DENOISING = WeightSpec(
    name="mprnet-denoising",
    url="https://github.com/swz30/MPRNet/tree/main/Denoising/pretrained_models",
    sha256="",
    filename="model_denoising.pth",
    cli="iqa-purify",
)


def _conv(cin: int, cout: int, k: int, bias: bool = False, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, padding=k // 2, bias=bias, stride=stride)


class CALayer(nn.Module):
    def __init__(self, ch: int, reduction: int, bias: bool) -> None:
        super().__init__()
        self.conv_du = nn.Sequential(
            nn.Conv2d(ch, ch // reduction, 1, bias=bias),
            nn.ReLU(),
            nn.Conv2d(ch // reduction, ch, 1, bias=bias),
            nn.Sigmoid(),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x * self.conv_du(x.mean(dim=(2, 3), keepdim=True))


class CAB(nn.Module):
    """Channel attention block: conv, act, conv, channel attention, residual."""

    def __init__(self, ch: int, k: int, reduction: int, bias: bool, act: nn.Module) -> None:
        super().__init__()
        self.body = nn.Sequential(_conv(ch, ch, k, bias), act, _conv(ch, ch, k, bias))
        self.CA = CALayer(ch, reduction, bias)

    def forward(self, x: Tensor) -> Tensor:
        return self.CA(self.body(x)) + x


class SAM(nn.Module):
    """Supervised attention module."""

    def __init__(self, ch: int, k: int, bias: bool) -> None:
        super().__init__()
        self.conv1 = _conv(ch, ch, k, bias)
        self.conv2 = _conv(ch, 3, k, bias)
        self.conv3 = _conv(3, ch, k, bias)

    def forward(self, x: Tensor, x_img: Tensor) -> tuple[Tensor, Tensor]:
        img = self.conv2(x) + x_img
        return self.conv1(x) * torch.sigmoid(self.conv3(img)) + x, img


class Resample(nn.Module):
    """Holds the scaling as ``self.up`` / ``self.down`` = Sequential(resample, conv) so the keys are ``*.1.weight``."""

    def __init__(self, attr: str, cin: int, cout: int, factor: float) -> None:
        super().__init__()
        seq = nn.Sequential(
            nn.Upsample(scale_factor=factor, mode="bilinear", align_corners=False), nn.Conv2d(cin, cout, 1, bias=False)
        )
        self.attr = attr
        setattr(self, attr, seq)

    def forward(self, x: Tensor, skip: Tensor | None = None) -> Tensor:
        out = getattr(self, self.attr)(x)
        return out if skip is None else out + skip


class Encoder(nn.Module):
    def __init__(self, n: int, k: int, red: int, act: nn.Module, bias: bool, s: int, csff: bool) -> None:
        super().__init__()
        widths = (n, n + s, n + 2 * s)
        for i, c in enumerate(widths, start=1):
            setattr(self, f"encoder_level{i}", nn.Sequential(*[CAB(c, k, red, bias, act) for _ in range(2)]))
        self.down12 = Resample("down", n, n + s, 0.5)
        self.down23 = Resample("down", n + s, n + 2 * s, 0.5)
        self.csff = csff
        if csff:
            for i, c in enumerate(widths, start=1):
                setattr(self, f"csff_enc{i}", nn.Conv2d(c, c, 1, bias=bias))
                setattr(self, f"csff_dec{i}", nn.Conv2d(c, c, 1, bias=bias))

    def forward(self, x: Tensor, enc: list[Tensor] | None = None, dec: list[Tensor] | None = None) -> list[Tensor]:
        outs = []
        for i in (1, 2, 3):
            if i > 1:
                x = getattr(self, f"down{i - 1}{i}")(x)
            x = getattr(self, f"encoder_level{i}")(x)
            if enc is not None and dec is not None:
                x = x + getattr(self, f"csff_enc{i}")(enc[i - 1]) + getattr(self, f"csff_dec{i}")(dec[i - 1])
            outs.append(x)
        return outs


class Decoder(nn.Module):
    # built with setattr (official key names); declared for type checkers
    decoder_level1: nn.Sequential
    decoder_level2: nn.Sequential
    decoder_level3: nn.Sequential

    def __init__(self, n: int, k: int, red: int, act: nn.Module, bias: bool, s: int) -> None:
        super().__init__()
        for i, c in enumerate((n, n + s, n + 2 * s), start=1):
            setattr(self, f"decoder_level{i}", nn.Sequential(*[CAB(c, k, red, bias, act) for _ in range(2)]))
        self.skip_attn1 = CAB(n, k, red, bias, act)
        self.skip_attn2 = CAB(n + s, k, red, bias, act)
        self.up21 = Resample("up", n + s, n, 2)
        self.up32 = Resample("up", n + 2 * s, n + s, 2)

    def forward(self, outs: list[Tensor]) -> list[Tensor]:
        enc1, enc2, enc3 = outs
        dec3 = self.decoder_level3(enc3)
        dec2 = self.decoder_level2(self.up32(dec3, self.skip_attn2(enc2)))
        dec1 = self.decoder_level1(self.up21(dec2, self.skip_attn1(enc1)))
        return [dec1, dec2, dec3]


class ORB(nn.Module):
    def __init__(self, ch: int, k: int, red: int, act: nn.Module, bias: bool, num_cab: int) -> None:
        super().__init__()
        self.body = nn.Sequential(*[CAB(ch, k, red, bias, act) for _ in range(num_cab)], _conv(ch, ch, k))

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x) + x


class ORSNet(nn.Module):
    # built with setattr (official key names); declared for type checkers
    orb1: nn.Module
    orb2: nn.Module
    orb3: nn.Module
    conv_enc1: nn.Conv2d
    conv_enc2: nn.Conv2d
    conv_enc3: nn.Conv2d
    conv_dec1: nn.Conv2d
    conv_dec2: nn.Conv2d
    conv_dec3: nn.Conv2d

    def __init__(self, n: int, so: int, k: int, red: int, act: nn.Module, bias: bool, s: int, num_cab: int) -> None:
        super().__init__()
        for i in (1, 2, 3):
            setattr(self, f"orb{i}", ORB(n + so, k, red, act, bias, num_cab))
            setattr(self, f"conv_enc{i}", nn.Conv2d(n, n + so, 1, bias=bias))
            setattr(self, f"conv_dec{i}", nn.Conv2d(n, n + so, 1, bias=bias))
        self.up_enc1 = Resample("up", n + s, n, 2)
        self.up_dec1 = Resample("up", n + s, n, 2)
        self.up_enc2 = nn.Sequential(Resample("up", n + 2 * s, n + s, 2), Resample("up", n + s, n, 2))
        self.up_dec2 = nn.Sequential(Resample("up", n + 2 * s, n + s, 2), Resample("up", n + s, n, 2))

    def forward(self, x: Tensor, enc: list[Tensor], dec: list[Tensor]) -> Tensor:
        x = self.orb1(x) + self.conv_enc1(enc[0]) + self.conv_dec1(dec[0])
        x = self.orb2(x) + self.conv_enc2(self.up_enc1(enc[1])) + self.conv_dec2(self.up_dec1(dec[1]))
        return self.orb3(x) + self.conv_enc3(self.up_enc2(enc[2])) + self.conv_dec3(self.up_dec2(dec[2]))


class MPRNetArch(nn.Module):
    """MPRNet with the official module names (``Denoising/MPRNet.py``), so official checkpoints load unchanged.

    Denoising configuration: ``n_feat=80, scale_unetfeats=48, scale_orsnetfeats=32, num_cab=8``.
    One PReLU is shared by every block, as in the official code. Returns the stage-3 image.
    """

    # built with setattr (official key names); declared for type checkers
    shallow_feat1: nn.Sequential
    shallow_feat2: nn.Sequential
    shallow_feat3: nn.Sequential

    def __init__(
        self,
        n_feat: int = 80,
        scale_unetfeats: int = 48,
        scale_orsnetfeats: int = 32,
        num_cab: int = 8,
        kernel_size: int = 3,
        reduction: int = 4,
        bias: bool = False,
    ) -> None:
        super().__init__()
        n, s, so, k, red = n_feat, scale_unetfeats, scale_orsnetfeats, kernel_size, reduction
        act = nn.PReLU()
        for i in (1, 2, 3):
            setattr(self, f"shallow_feat{i}", nn.Sequential(_conv(3, n, k, bias), CAB(n, k, red, bias, act)))
        self.stage1_encoder = Encoder(n, k, red, act, bias, s, csff=False)
        self.stage1_decoder = Decoder(n, k, red, act, bias, s)
        self.stage2_encoder = Encoder(n, k, red, act, bias, s, csff=True)
        self.stage2_decoder = Decoder(n, k, red, act, bias, s)
        self.stage3_orsnet = ORSNet(n, so, k, red, act, bias, s, num_cab)
        self.sam12 = SAM(n, 1, bias)
        self.sam23 = SAM(n, 1, bias)
        self.concat12 = _conv(2 * n, n, k, bias)
        self.concat23 = _conv(2 * n, n + so, k, bias)
        self.tail = _conv(n + so, 3, k, bias)

    def forward(self, x3: Tensor) -> Tensor:
        h, w = x3.shape[-2:]
        top, bot = x3[:, :, : h // 2], x3[:, :, h // 2 :]
        quads = [top[..., : w // 2], top[..., w // 2 :], bot[..., : w // 2], bot[..., w // 2 :]]
        # Stage 1: the four quadrants share the encoder (batched along N), decoded per half.
        n = x3.shape[0]
        feats = self.stage1_encoder(self.shallow_feat1(torch.cat(quads)))
        lt, rt, lb, rb = zip(*(f.split(n) for f in feats), strict=True)
        feat1_top = [torch.cat(p, 3) for p in zip(lt, rt, strict=True)]
        feat1_bot = [torch.cat(p, 3) for p in zip(lb, rb, strict=True)]
        res1_top, res1_bot = self.stage1_decoder(feat1_top), self.stage1_decoder(feat1_bot)
        sam_top, _ = self.sam12(res1_top[0], top)
        sam_bot, _ = self.sam12(res1_bot[0], bot)
        # Stage 2
        x2top = self.concat12(torch.cat([self.shallow_feat2(top), sam_top], 1))
        x2bot = self.concat12(torch.cat([self.shallow_feat2(bot), sam_bot], 1))
        feat2_top = self.stage2_encoder(x2top, feat1_top, res1_top)
        feat2_bot = self.stage2_encoder(x2bot, feat1_bot, res1_bot)
        feat2 = [torch.cat(p, 2) for p in zip(feat2_top, feat2_bot, strict=True)]
        res2 = self.stage2_decoder(feat2)
        sam3, _ = self.sam23(res2[0], x3)
        # Stage 3
        x3_cat = self.concat23(torch.cat([self.shallow_feat3(x3), sam3], 1))
        return self.tail(self.stage3_orsnet(x3_cat, feat2, res2)) + x3


class MPRNet(PurificationDefence):
    """MPRNet denoising (SIDD-trained ``model_denoising.pth``) as a purification; no presets.

    As the official ``demo.py``: the image is reflect-padded to a multiple of 8, restored, cropped
    back and clamped to [0, 1]. Weights: Google Drive only, so ``weights=PATH`` is required
    (``{"state_dict": ...}``, a ``module.`` prefix is stripped). Differentiable.
    """

    name = "mprnet"
    differentiable = True
    randomized = False

    def __init__(
        self,
        weights: PathLike | None = None,
        *,
        check_hash: bool = True,
        n_feat: int = 80,
        scale_unetfeats: int = 48,
        scale_orsnetfeats: int = 32,
        num_cab: int = 8,
    ) -> None:
        super().__init__()
        state = load_state(resolve_weights(MPRNET_DENOISING, weights, check_hash=check_hash), keys=("state_dict",))
        self.net = MPRNetArch(n_feat, scale_unetfeats, scale_orsnetfeats, num_cab)
        self.net.load_state_dict(state)
        freeze(self.net)

    def purify(self, images: Tensor, *, generator: torch.Generator | None) -> Tensor:
        padded, (h, w) = pad_to_multiple(images, 8)
        return self.net(padded)[..., :h, :w].clamp(0, 1)
