"""An independent port of guided-diffusion's UNetModel forward pass, with the official module names.

Test-only: random-initialised checkpoints in the official key layout come from here, and its outputs
are the reference the converted diffusers UNet must reproduce.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn


def timestep_embedding(t, dim):
    half = dim // 2
    freqs = torch.exp(-math.log(10000) * torch.arange(half, dtype=torch.float32) / half)
    args = t[:, None].float() * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


class ResBlock(nn.Module):
    def __init__(self, ch, emb, out, up=False, down=False, groups=32):
        super().__init__()
        self.in_layers = nn.Sequential(nn.GroupNorm(groups, ch), nn.SiLU(), nn.Conv2d(ch, out, 3, padding=1))
        self.emb_layers = nn.Sequential(nn.SiLU(), nn.Linear(emb, 2 * out))
        self.out_layers = nn.Sequential(
            nn.GroupNorm(groups, out), nn.SiLU(), nn.Dropout(0.0), nn.Conv2d(out, out, 3, padding=1)
        )
        self.skip_connection = nn.Identity() if out == ch else nn.Conv2d(ch, out, 1)
        self.up, self.down = up, down

    def forward(self, x, emb):
        if self.up or self.down:

            def resample(v):
                return F.interpolate(v, scale_factor=2, mode="nearest") if self.up else F.avg_pool2d(v, 2)

            h = resample(self.in_layers[:-1](x))
            x = resample(x)
            h = self.in_layers[-1](h)
        else:
            h = self.in_layers(x)
        scale, shift = self.emb_layers(emb)[..., None, None].chunk(2, dim=1)
        h = self.out_layers[0](h) * (1 + scale) + shift
        return self.skip_connection(x) + self.out_layers[1:](h)


class AttentionBlock(nn.Module):
    def __init__(self, ch, head_channels, groups=32):
        super().__init__()
        self.heads = ch // head_channels
        self.norm = nn.GroupNorm(groups, ch)
        self.qkv = nn.Conv1d(ch, 3 * ch, 1)
        self.proj_out = nn.Conv1d(ch, ch, 1)

    def forward(self, x, emb=None):
        b, c, *spatial = x.shape
        x = x.reshape(b, c, -1)
        qkv = self.qkv(self.norm(x))
        bs, width, length = qkv.shape
        ch = width // (3 * self.heads)
        q, k, v = qkv.reshape(bs * self.heads, ch * 3, length).split(ch, dim=1)
        scale = 1 / math.sqrt(math.sqrt(ch))
        w = torch.softmax(torch.einsum("bct,bcs->bts", q * scale, k * scale).float(), dim=-1)
        a = torch.einsum("bts,bcs->bct", w, v).reshape(bs, -1, length)
        return (x + self.proj_out(a)).reshape(b, c, *spatial)


class Seq(nn.ModuleList):
    def forward(self, x, emb):
        for layer in self:
            x = layer(x, emb) if isinstance(layer, ResBlock | AttentionBlock) else layer(x)
        return x


class GuidedUNet(nn.Module):
    def __init__(
        self,
        image_size=16,
        ch=32,
        num_res_blocks=1,
        channel_mult=(1, 2),
        attention_resolutions=(8,),
        head_channels=16,
        out_channels=6,
    ):
        super().__init__()
        emb = 4 * ch
        self.ch = ch
        self.time_embed = nn.Sequential(nn.Linear(ch, emb), nn.SiLU(), nn.Linear(emb, emb))
        attention_ds = {image_size // r for r in attention_resolutions}
        self.input_blocks = nn.ModuleList([Seq([nn.Conv2d(3, ch, 3, padding=1)])])
        chans, cur, ds = [ch], ch, 1
        for level, mult in enumerate(channel_mult):
            for _ in range(num_res_blocks):
                layers = [ResBlock(cur, emb, mult * ch)]
                cur = mult * ch
                if ds in attention_ds:
                    layers.append(AttentionBlock(cur, head_channels))
                self.input_blocks.append(Seq(layers))
                chans.append(cur)
            if level != len(channel_mult) - 1:
                self.input_blocks.append(Seq([ResBlock(cur, emb, cur, down=True)]))
                chans.append(cur)
                ds *= 2
        self.middle_block = Seq([ResBlock(cur, emb, cur), AttentionBlock(cur, head_channels), ResBlock(cur, emb, cur)])
        self.output_blocks = nn.ModuleList()
        for level, mult in list(enumerate(channel_mult))[::-1]:
            for i in range(num_res_blocks + 1):
                layers = [ResBlock(cur + chans.pop(), emb, mult * ch)]
                cur = mult * ch
                if ds in attention_ds:
                    layers.append(AttentionBlock(cur, head_channels))
                if level and i == num_res_blocks:
                    layers.append(ResBlock(cur, emb, cur, up=True))
                    ds //= 2
                self.output_blocks.append(Seq(layers))
        self.out = nn.Sequential(nn.GroupNorm(32, cur), nn.SiLU(), nn.Conv2d(cur, out_channels, 3, padding=1))

    def forward(self, x, t):
        emb = self.time_embed(timestep_embedding(t, self.ch))
        hs, h = [], x
        for block in self.input_blocks:
            h = block(h, emb)
            hs.append(h)
        h = self.middle_block(h, emb)
        for block in self.output_blocks:
            h = block(torch.cat([h, hs.pop()], dim=1), emb)
        return self.out(h)
