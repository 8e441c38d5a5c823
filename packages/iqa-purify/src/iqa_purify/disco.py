"""DISCO (Ho & Vasconcelos, 2022): adversarial purification with a local implicit function (LIIF)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from iqa_core.weights import WeightSpec, load_checkpoint

from ._common import PathLike, freeze, resolve_weights
from .base import PurificationDefence

# The DISCO checkpoints are a Google Drive zip (README of chihhuiho/disco); the benchmark uses the
# ImageNet PGD-trained one (``disco_pgd.pth``).
DISCO_PGD = WeightSpec(
    name="disco",
    url="https://drive.google.com/file/d/1kMjqPVmu1xNhmZdPf25BN9JQ0j9LBar5",
    sha256="",
    filename="disco_pgd.pth",
    cli="iqa-purify",
)


class MeanShift(nn.Conv2d):
    """EDSR's fixed 1x1 colour shift. Present in the checkpoints, unused by DISCO's forward pass."""

    def __init__(self, sign: int = -1, rgb_mean: tuple[float, float, float] = (0.4488, 0.4371, 0.4040)) -> None:
        super().__init__(3, 3, kernel_size=1)
        with torch.no_grad():
            self.weight.copy_(torch.eye(3).view(3, 3, 1, 1))
            assert self.bias is not None  # created with bias=True
            self.bias.copy_(sign * torch.tensor(rgb_mean))
        self.requires_grad_(False)


class ResBlock(nn.Module):
    def __init__(self, n_feats: int, res_scale: float) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(n_feats, n_feats, 3, padding=1), nn.ReLU(), nn.Conv2d(n_feats, n_feats, 3, padding=1)
        )
        self.res_scale = res_scale

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x) * self.res_scale + x


class EDSREncoder(nn.Module):
    """EDSR without upsampling (LIIF's ``edsr-baseline``, ``no_upsampling=True``): head, residual body."""

    def __init__(self, n_resblocks: int = 16, n_feats: int = 64, res_scale: float = 1.0) -> None:
        super().__init__()
        self.sub_mean = MeanShift(-1)
        self.add_mean = MeanShift(1)
        self.head = nn.Sequential(nn.Conv2d(3, n_feats, 3, padding=1))
        self.body = nn.Sequential(
            *[ResBlock(n_feats, res_scale) for _ in range(n_resblocks)], nn.Conv2d(n_feats, n_feats, 3, padding=1)
        )
        self.out_dim = n_feats

    def forward(self, x: Tensor) -> Tensor:
        x = self.head(x)
        return self.body(x) + x


class MLP(nn.Module):
    """LIIF's ``mlp``: Linear/ReLU stack under ``layers``."""

    def __init__(self, in_dim: int, out_dim: int, hidden_list: list[int]) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        last = in_dim
        for hidden in hidden_list:
            layers += [nn.Linear(last, hidden), nn.ReLU()]
            last = hidden
        layers.append(nn.Linear(last, out_dim))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x)


def make_coord(h: int, w: int, device: torch.device, dtype: torch.dtype) -> Tensor:
    """Pixel-centre coordinates in [-1, 1], ``(h, w, 2)`` in (row, column) order (LIIF's ``make_coord``)."""
    ys = -1 + (2 * torch.arange(h, device=device, dtype=dtype) + 1) / h
    xs = -1 + (2 * torch.arange(w, device=device, dtype=dtype) + 1) / w
    return torch.stack(torch.meshgrid(ys, xs, indexing="ij"), dim=-1)


class LIIF(nn.Module):
    """Local implicit image function with ``feat_unfold``, ``local_ensemble`` and ``cell_decode`` (all on in DISCO).

    Module names as the official code (``encoder``, ``imnet``), so ``checkpoint["model"]["sd"]`` loads unchanged.
    """

    def __init__(
        self,
        n_resblocks: int = 16,
        n_feats: int = 64,
        res_scale: float = 1.0,
        hidden_list: tuple[int, ...] = (256, 256, 256, 256),
    ) -> None:
        super().__init__()
        self.encoder = EDSREncoder(n_resblocks, n_feats, res_scale)
        self.imnet = MLP(n_feats * 9 + 4, 3, list(hidden_list))

    def query(self, feat: Tensor, coord: Tensor, cell: Tensor) -> Tensor:
        """RGB at ``coord`` (``(N, Q, 2)``) from the (unfolded) features ``feat``."""
        n, _, fh, fw = feat.shape
        feat_coord = make_coord(fh, fw, feat.device, feat.dtype).permute(2, 0, 1).unsqueeze(0).expand(n, 2, fh, fw)
        rx, ry = 1 / fh, 1 / fw
        preds, areas = [], []
        for vx in (-1, 1):
            for vy in (-1, 1):
                shift = torch.tensor([vx * rx + 1e-6, vy * ry + 1e-6], device=coord.device, dtype=coord.dtype)
                coord_ = (coord + shift).clamp(-1 + 1e-6, 1 - 1e-6)
                grid = coord_.flip(-1).unsqueeze(1)
                q_feat = F.grid_sample(feat, grid, mode="nearest", align_corners=False)[:, :, 0, :].permute(0, 2, 1)
                q_coord = F.grid_sample(feat_coord, grid, mode="nearest", align_corners=False)[:, :, 0, :]
                rel = (coord - q_coord.permute(0, 2, 1)) * torch.tensor(
                    [fh, fw], device=coord.device, dtype=coord.dtype
                )
                rel_cell = cell * torch.tensor([fh, fw], device=coord.device, dtype=coord.dtype)
                preds.append(self.imnet(torch.cat([q_feat, rel, rel_cell], dim=-1)))
                areas.append((rel[..., 0] * rel[..., 1]).abs() + 1e-9)
        total = torch.stack(areas).sum(dim=0)
        areas = [areas[3], areas[2], areas[1], areas[0]]  # each prediction weighted by the opposite area
        return sum(p * (a / total).unsqueeze(-1) for p, a in zip(preds, areas, strict=True))

    def forward(self, inp: Tensor, out_size: tuple[int, int], chunk: int = 30000) -> Tensor:
        """Image ``inp`` (normalised to [-1, 1]) rendered at ``out_size``; returns ``(N, 3, H, W)`` in [-1, 1] units."""
        feat = self.encoder(inp)
        n, c, fh, fw = feat.shape
        feat = F.unfold(feat, 3, padding=1).view(n, c * 9, fh, fw)
        h, w = out_size
        coord = make_coord(h, w, inp.device, inp.dtype).view(1, -1, 2).expand(n, -1, -1)
        cell = torch.tensor([2 / h, 2 / w], device=inp.device, dtype=inp.dtype).expand_as(coord)
        out = torch.cat(
            [self.query(feat, coord[:, i : i + chunk], cell[:, i : i + chunk]) for i in range(0, h * w, chunk)], dim=1
        )
        return out.view(n, h, w, 3).permute(0, 3, 1, 2)


def _liif_args(spec: Mapping[str, Any]) -> dict[str, Any]:
    """Architecture arguments from an official ``{"name": "liif", "args": ..., "sd": ...}`` model spec."""
    args = spec.get("args", {}) or {}
    enc = (args.get("encoder_spec") or {}).get("args", {}) or {}
    enc_name = (args.get("encoder_spec") or {}).get("name", "edsr-baseline")
    if enc_name not in ("edsr-baseline", "edsr"):
        raise ValueError(f"DISCO checkpoint uses encoder {enc_name!r}; only EDSR encoders are supported")
    imnet = (args.get("imnet_spec") or {}).get("args", {}) or {}
    for flag in ("local_ensemble", "feat_unfold", "cell_decode"):
        if not args.get(flag, True):
            raise ValueError(f"DISCO checkpoint has {flag}=False; only the default LIIF configuration is supported")
    default_blocks, default_feats, default_scale = (16, 64, 1.0) if enc_name == "edsr-baseline" else (32, 256, 0.1)
    return {
        "n_resblocks": int(enc.get("n_resblocks", default_blocks)),
        "n_feats": int(enc.get("n_feats", default_feats)),
        "res_scale": float(enc.get("res_scale", default_scale)),
        "hidden_list": tuple(imnet.get("hidden_list", (256, 256, 256, 256))),
    }


class DISCO(PurificationDefence):
    """DISCO purification: encode the image, query the local implicit function at every pixel; no presets.

    As the reference ``INR`` wrapper: input normalised with (x - 0.5) / 0.5, queried at pixel centres
    with cell size 2/H, 2/W, output * 0.5 + 0.5 clamped to [0, 1] — at the input size (the
    benchmark's reference code renders 299x299 whatever the input). Queries are processed in chunks
    of ``chunk`` pixels, all images of the batch together. Weights: the official checkpoint
    (``{"model": {"name": "liif", "args": ..., "sd": ...}}``; the architecture is read from ``args``);
    Google Drive only, so ``weights=PATH`` is required. Differentiable.
    """

    name = "disco"
    differentiable = True
    randomized = False

    def __init__(self, weights: PathLike | None = None, *, check_hash: bool = True, chunk: int = 30000) -> None:
        super().__init__()
        checkpoint = load_checkpoint(resolve_weights(DISCO_PGD, weights, check_hash=check_hash))
        spec = checkpoint.get("model", checkpoint) if isinstance(checkpoint, Mapping) else None
        if not isinstance(spec, Mapping) or "sd" not in spec:
            raise ValueError(f"{weights}: not a DISCO/LIIF checkpoint (expected checkpoint['model']['sd'])")
        self.net = LIIF(**_liif_args(spec))
        self.net.load_state_dict(spec["sd"])
        freeze(self.net)
        self.chunk = int(chunk)

    def purify(self, images: Tensor, *, generator: torch.Generator | None) -> Tensor:
        out = self.net((images - 0.5) / 0.5, tuple(images.shape[-2:]), chunk=self.chunk)
        return (out * 0.5 + 0.5).clamp(0, 1)
