"""OpenAI guided-diffusion UNet checkpoints -> diffusers ``UNet2DModel`` (a key-by-key converter).

The DiffPure model of the papers is ``256x256_diffusion_uncond.pt`` (Dhariwal & Nichol, 2021):
``image_size=256, num_channels=256, num_res_blocks=2, channel_mult=(1, 1, 2, 2, 4, 4),
attention_resolutions=(32, 16, 8), num_head_channels=64, resblock_updown=True,
use_scale_shift_norm=True, learn_sigma=True`` (6 output channels: epsilon and the variance
interpolation), linear beta schedule over 1000 steps. Every guided-diffusion block has an exact
diffusers counterpart (``ResnetDownsampleBlock2D``/``AttnDownBlock2D`` with resnet down-sampling,
scale-shift norm, legacy-order QKV attention split into ``to_q``/``to_k``/``to_v``), so the
conversion is a renaming plus the QKV split; ``tests/test_diffusion.py`` checks it numerically
against an independent port of the official forward pass, and ``tests/test_parity_neural.py``
against the official code (goldens from ``tools/parity/purify_diffpure.py`` / ``purify_ddrs.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from iqa_core.weights import WeightSpec, load_checkpoint

from ._common import PathLike, resolve_weights

if TYPE_CHECKING:
    from diffusers import DDPMScheduler, UNet2DModel

# No published checksum for this file and none verifiable here: weights=PATH is required.
GUIDED_256_UNCOND = WeightSpec(
    name="guided-diffusion-256x256-uncond",
    url="https://openaipublic.blob.core.windows.net/diffusion/jul-2021/256x256_diffusion_uncond.pt",
    sha256="",
    cli="iqa-purify",
)


@dataclass(frozen=True)
class GuidedDiffusionConfig:
    """The guided-diffusion ``create_model`` flags that shape the network (defaults: the 256x256 uncond model)."""

    image_size: int = 256
    num_channels: int = 256
    num_res_blocks: int = 2
    channel_mult: tuple[int, ...] = (1, 1, 2, 2, 4, 4)
    attention_resolutions: tuple[int, ...] = (32, 16, 8)
    num_head_channels: int = 64
    learn_sigma: bool = True
    use_scale_shift_norm: bool = True
    resblock_updown: bool = True
    num_groups: int = 32

    @property
    def attention_levels(self) -> set[int]:
        """Levels (0 = full resolution) whose blocks carry attention (``ds = 2**level`` in attention ds)."""
        ds_set = {self.image_size // r for r in self.attention_resolutions}
        return {level for level in range(len(self.channel_mult)) if 2**level in ds_set}


def unet_from_config(config: GuidedDiffusionConfig) -> UNet2DModel:
    """An (untrained) diffusers ``UNet2DModel`` with the architecture of ``config``."""
    from diffusers import UNet2DModel

    if not config.resblock_updown:
        raise ValueError("only resblock_updown=True guided-diffusion models are supported (all released ones are)")
    levels = len(config.channel_mult)
    attn = config.attention_levels
    down = tuple("AttnDownBlock2D" if i in attn else "ResnetDownsampleBlock2D" for i in range(levels))
    up = tuple("AttnUpBlock2D" if i in attn else "ResnetUpsampleBlock2D" for i in reversed(range(levels)))
    return UNet2DModel(
        sample_size=config.image_size,
        in_channels=3,
        out_channels=6 if config.learn_sigma else 3,
        block_out_channels=tuple(config.num_channels * m for m in config.channel_mult),
        layers_per_block=config.num_res_blocks,
        down_block_types=down,
        up_block_types=up,
        downsample_type="resnet",
        upsample_type="resnet",
        resnet_time_scale_shift="scale_shift" if config.use_scale_shift_norm else "default",
        attention_head_dim=config.num_head_channels,
        norm_num_groups=config.num_groups,
        attn_norm_num_groups=config.num_groups,
        flip_sin_to_cos=True,
        freq_shift=0,
        act_fn="silu",
        norm_eps=1e-5,
    )


def _resblock(src: str, dst: str, sd: Mapping[str, Tensor], out: dict[str, Tensor]) -> None:
    pairs = {
        "in_layers.0": "norm1",
        "in_layers.2": "conv1",
        "emb_layers.1": "time_emb_proj",
        "out_layers.0": "norm2",
        "out_layers.3": "conv2",
        "skip_connection": "conv_shortcut",
    }
    for a, b in pairs.items():
        for p in ("weight", "bias"):
            if f"{src}.{a}.{p}" in sd:
                out[f"{dst}.{b}.{p}"] = sd[f"{src}.{a}.{p}"]


def _attention(src: str, dst: str, sd: Mapping[str, Tensor], out: dict[str, Tensor], head_channels: int) -> None:
    for p in ("weight", "bias"):
        out[f"{dst}.group_norm.{p}"] = sd[f"{src}.norm.{p}"]
    w, b = sd[f"{src}.qkv.weight"], sd[f"{src}.qkv.bias"]
    channels = w.shape[1]
    heads = channels // head_channels
    # Legacy order (QKVAttentionLegacy): per head, [q, k, v] blocks of head_channels rows each.
    w = w.reshape(heads, 3, head_channels, channels)
    b = b.reshape(heads, 3, head_channels)
    for i, name in enumerate(("to_q", "to_k", "to_v")):
        out[f"{dst}.{name}.weight"] = w[:, i].reshape(channels, channels).contiguous()
        out[f"{dst}.{name}.bias"] = b[:, i].reshape(channels).contiguous()
    out[f"{dst}.to_out.0.weight"] = sd[f"{src}.proj_out.weight"].reshape(channels, channels)
    out[f"{dst}.to_out.0.bias"] = sd[f"{src}.proj_out.bias"]


def convert_guided_state_dict(sd: Mapping[str, Tensor], config: GuidedDiffusionConfig) -> dict[str, Tensor]:
    """Rename an official guided-diffusion ``UNetModel`` state dict to ``UNet2DModel`` keys."""
    sd = {k: v.float() for k, v in sd.items()}
    out: dict[str, Tensor] = {}
    copy = {
        "time_embed.0": "time_embedding.linear_1",
        "time_embed.2": "time_embedding.linear_2",
        "input_blocks.0.0": "conv_in",
        "out.0": "conv_norm_out",
        "out.2": "conv_out",
    }
    for a, b in copy.items():
        for p in ("weight", "bias"):
            out[f"{b}.{p}"] = sd[f"{a}.{p}"]
    levels, n_res, hc = len(config.channel_mult), config.num_res_blocks, config.num_head_channels
    attn = config.attention_levels
    block = 1
    for level in range(levels):
        for j in range(n_res):
            _resblock(f"input_blocks.{block}.0", f"down_blocks.{level}.resnets.{j}", sd, out)
            if level in attn:
                _attention(f"input_blocks.{block}.1", f"down_blocks.{level}.attentions.{j}", sd, out, hc)
            block += 1
        if level != levels - 1:
            _resblock(f"input_blocks.{block}.0", f"down_blocks.{level}.downsamplers.0", sd, out)
            block += 1
    _resblock("middle_block.0", "mid_block.resnets.0", sd, out)
    _attention("middle_block.1", "mid_block.attentions.0", sd, out, hc)
    _resblock("middle_block.2", "mid_block.resnets.1", sd, out)
    block = 0
    for up_index, level in enumerate(reversed(range(levels))):
        for j in range(n_res + 1):
            _resblock(f"output_blocks.{block}.0", f"up_blocks.{up_index}.resnets.{j}", sd, out)
            position = 1
            if level in attn:
                _attention(f"output_blocks.{block}.1", f"up_blocks.{up_index}.attentions.{j}", sd, out, hc)
                position = 2
            if level and j == n_res:
                _resblock(f"output_blocks.{block}.{position}", f"up_blocks.{up_index}.upsamplers.0", sd, out)
            block += 1
    return out


def load_guided_checkpoint(path: PathLike, config: GuidedDiffusionConfig | None = None) -> UNet2DModel:
    """Build a ``UNet2DModel`` from an official guided-diffusion ``.pt`` state dict (strict: every key used)."""
    config = config or GuidedDiffusionConfig()
    sd = load_checkpoint(path)
    if not isinstance(sd, Mapping) or "input_blocks.0.0.weight" not in sd:
        raise ValueError(f"{path}: not a guided-diffusion UNet state dict (no 'input_blocks.0.0.weight')")
    if "label_emb.weight" in sd:
        raise ValueError(f"{path}: a class-conditional model; DiffPure uses the unconditional one")
    unet = unet_from_config(config)
    converted = convert_guided_state_dict(sd, config)
    missing, unexpected = unet.load_state_dict(converted, strict=False)
    if missing or unexpected:
        raise ValueError(
            f"{path}: does not match the configuration {config}: missing {missing[:5]}, unexpected {unexpected[:5]}"
        )
    return unet


def default_scheduler(out_channels: int, num_train_timesteps: int = 1000) -> DDPMScheduler:
    """guided-diffusion's linear schedule (betas 1e-4 .. 0.02); learned-range variance for 6-channel models."""
    from diffusers import DDPMScheduler

    return DDPMScheduler(
        num_train_timesteps=num_train_timesteps,
        beta_start=1e-4,
        beta_end=0.02,
        beta_schedule="linear",
        variance_type="learned_range" if out_channels == 6 else "fixed_small",
        clip_sample=True,
        prediction_type="epsilon",
    )


def load_diffusion_model(
    model: PathLike | None = None, *, check_hash: bool = True, config: GuidedDiffusionConfig | None = None
) -> tuple[UNet2DModel, DDPMScheduler]:
    """``(unet, scheduler)`` from a diffusers directory, a guided-diffusion ``.pt`` file, or the default model.

    * a directory: a ``UNet2DModel`` saved with ``save_pretrained`` (model at the root, or a pipeline
      with ``unet/`` and optionally ``scheduler/``);
    * a file: an official guided-diffusion checkpoint, converted (``config``: its architecture);
    * ``None``: ``256x256_diffusion_uncond.pt`` from the cache (no verifiable checksum: pass the path).
    """
    from diffusers import DDPMScheduler, UNet2DModel

    if model is not None and Path(model).is_dir():
        root = Path(model)
        unet_dir = root / "unet" if (root / "unet" / "config.json").is_file() else root
        unet = UNet2DModel.from_pretrained(unet_dir)
        if (root / "scheduler" / "scheduler_config.json").is_file():
            scheduler = DDPMScheduler.from_pretrained(root, subfolder="scheduler")
        else:
            scheduler = default_scheduler(unet.config.out_channels)
        return unet, scheduler
    path = resolve_weights(GUIDED_256_UNCOND, model, check_hash=check_hash)
    unet = load_guided_checkpoint(path, config)
    return unet, default_scheduler(unet.config.out_channels)


def model_output(unet: Any, x: Tensor, t: int) -> Tensor:
    """Run ``unet`` at integer timestep ``t`` for the whole batch; returns the raw output tensor."""
    timesteps = torch.full((x.shape[0],), int(t), device=x.device, dtype=torch.long)
    out = unet(x, timesteps)
    return out.sample if hasattr(out, "sample") else out
