"""The denoising U-Net (Ho et al. 2020, with the refinements of Nichol and Dhariwal 2021).

Per resolution level: ``num_res_blocks`` residual blocks (GroupNorm, SiLU, 3x3 convs, the
timestep embedding applied as a scale and shift after the second norm), self-attention
at the low resolutions, then a stride-2 convolution down. The middle runs residual,
attention, residual at the smallest map. The up path mirrors it with skip connections
and nearest-neighbour upsampling. The last conv of every residual branch and of the
output is zero-initialised, so each block starts as the identity and the untrained
network predicts zero.

Levels are chosen from the image size: it is halved while the side stays an integer of
at least 4, at most 3 times: 16 -> 16/8/4, 28 -> 28/14/7, 32 -> 32/16/8/4, 64 -> 64/32/16/8.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genzoo.plugin import Denoiser, GenzooError


def levels_for(image_size: int, max_downsamples: int = 3) -> int:
    """Number of resolution levels: 1 + how often the side can be halved (integer, >= 4)."""
    k = 0
    while k < max_downsamples and image_size % 2 ** (k + 1) == 0 and image_size // 2 ** (k + 1) >= 4:
        k += 1
    return k + 1


#: From 128 px the U-Net halves the image down to 8 px (5 levels at 128, 6 at 256), with the
#: extra top levels kept narrow, as the 128 and 256 px networks of Ho et al. (2020) and Dhariwal
#: and Nichol (2021) are: the full-resolution levels cost the most and need the fewest channels.
LARGE = 128
LARGE_MULT = (1, 1, 2, 2, 3, 4)


def large_levels(image_size: int) -> int:
    """Levels from 128 px: 1 + how often the side halves while the result is still >= 8 px."""
    k = 0
    while image_size % 2 ** (k + 1) == 0 and image_size // 2 ** (k + 1) >= 8:
        k += 1
    return k + 1


def default_channel_mult(image_size: int) -> tuple[int, ...]:
    """Width multipliers per level: (1, 2, 2[, 2]) up to 32 px, (1, 2, 3, 4) at 64 px,
    (1, 1, 2, 3, 4) at 128 px, (1, 1, 2, 2, 3, 4) at 256 px."""
    if image_size >= LARGE:
        n = large_levels(image_size)
        if n > len(LARGE_MULT):
            return (1,) * (n - len(LARGE_MULT)) + LARGE_MULT
        return (1, 1, 2, 3, 4)[-n:] if n == 5 else LARGE_MULT[-n:]
    n = levels_for(image_size)
    return (1, 2, 3, 4)[:n] if image_size >= 64 else (1, 2, 2, 2)[:n]


def default_attention(image_size: int, channel_mult: tuple[int, ...]) -> tuple[int, ...]:
    """Attention at every level below the top whose side is 8 px or less; from 128 px, 16 px or
    less (the middle block always has it)."""
    sides = [image_size // 2**i for i in range(len(channel_mult))]
    most = 16 if image_size >= LARGE else 8
    return tuple(s for s in sides if s <= most and s != image_size)


def timestep_embedding(t: Tensor, dim: int, max_period: float = 10000.0) -> Tensor:
    """Sinusoidal embedding (Vaswani et al. 2017) of timesteps t (N,) -> (N, dim) float32."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    args = t.float()[:, None] * freqs[None]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=1)
    return F.pad(emb, (0, 1)) if dim % 2 else emb


def group_norm(channels: int, groups: int) -> nn.GroupNorm:
    # The largest group count <= `groups` that divides the channels.
    g = math.gcd(channels, groups)
    return nn.GroupNorm(g, channels)


def zero(module: nn.Module) -> nn.Module:
    for p in module.parameters():
        nn.init.zeros_(p)
    return module


class ResBlock(nn.Module):
    """x (N, in_ch, H, W), emb (N, emb_dim) -> (N, out_ch, H, W)."""

    def __init__(self, in_ch: int, out_ch: int, emb_dim: int, dropout: float, groups: int):
        super().__init__()
        self.norm1 = group_norm(in_ch, groups)
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, padding=1)
        self.emb = nn.Linear(emb_dim, 2 * out_ch)  # scale and shift (Nichol and Dhariwal's "scale-shift norm")
        self.norm2 = group_norm(out_ch, groups)
        self.drop = nn.Dropout(dropout)
        self.conv2 = zero(nn.Conv2d(out_ch, out_ch, 3, padding=1))
        self.skip = nn.Conv2d(in_ch, out_ch, 1) if in_ch != out_ch else nn.Identity()

    def forward(self, x: Tensor, emb: Tensor) -> Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.emb(F.silu(emb))[:, :, None, None].chunk(2, dim=1)
        h = self.norm2(h) * (1 + scale) + shift
        h = self.conv2(self.drop(F.silu(h)))
        return self.skip(x) + h


class AttentionBlock(nn.Module):
    """Multi-head self-attention over the H*W positions, residual: (N, C, H, W) -> same."""

    def __init__(self, channels: int, heads: int, groups: int):
        super().__init__()
        if channels % heads:
            heads = math.gcd(channels, heads)
        self.heads = heads
        self.norm = group_norm(channels, groups)
        self.qkv = nn.Conv2d(channels, 3 * channels, 1)
        self.proj = zero(nn.Conv2d(channels, channels, 1))

    def forward(self, x: Tensor, emb: Tensor | None = None) -> Tensor:
        n, c, h, w = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(n, 3, self.heads, c // self.heads, h * w).unbind(1)
        out = F.scaled_dot_product_attention(q.transpose(-1, -2), k.transpose(-1, -2), v.transpose(-1, -2))
        return x + self.proj(out.transpose(-1, -2).reshape(n, c, h, w))


class Downsample(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, stride=2, padding=1)

    def forward(self, x: Tensor, emb: Tensor | None = None) -> Tensor:
        return self.conv(x)


class Upsample(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: Tensor, emb: Tensor | None = None) -> Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class Stage(nn.Module):
    """A residual block optionally followed by attention (one entry of the down/up lists)."""

    def __init__(self, res: ResBlock, attn: AttentionBlock | None):
        super().__init__()
        self.res = res
        self.attn = attn

    def forward(self, x: Tensor, emb: Tensor) -> Tensor:
        x = self.res(x, emb)
        return self.attn(x) if self.attn is not None else x


class UNet(Denoiser):
    """Noisy images x_t (N, C, S, S) in roughly [-1, 1] scale, timesteps t (N,) int in [0, T),
    labels (N,) int in [0, num_classes] or None -> prediction (N, C, S, S) (epsilon or v).

    ``labels`` equal to ``num_classes`` (:attr:`null_label`), or ``labels=None``, mean "no
    class": the unconditional prediction that classifier-free guidance contrasts with.
    """

    def __init__(
        self,
        channels: int,
        image_size: int,
        width: int = 32,
        channel_mult: tuple[int, ...] = (),
        num_res_blocks: int = 2,
        attention_resolutions: tuple[int, ...] | None = None,
        attention_heads: int = 4,
        dropout: float = 0.1,
        norm_groups: int = 8,
        num_classes: int = 0,
    ):
        super().__init__()
        mult = tuple(channel_mult) or default_channel_mult(image_size)
        if image_size % 2 ** (len(mult) - 1):
            raise GenzooError(
                f"a U-Net with {len(mult)} levels needs an image size divisible by {2 ** (len(mult) - 1)}, "
                f"got {image_size}; use fewer channel_mult entries (e.g. --set channel_mult={','.join(map(str, default_channel_mult(image_size)))})"
            )
        if width < 1 or num_res_blocks < 1:
            raise GenzooError(f"width and num_res_blocks must be positive, got {width} and {num_res_blocks}")
        attn_at = set(default_attention(image_size, mult) if attention_resolutions is None else attention_resolutions)
        self.channels, self.image_size, self.num_classes = channels, image_size, num_classes
        self.null_label = num_classes
        self.width = width
        emb_dim = 4 * width
        self.time_mlp = nn.Sequential(nn.Linear(width, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))
        # one extra row: the "no label" embedding used for label dropout and guidance
        self.label_emb = nn.Embedding(num_classes + 1, emb_dim) if num_classes else None

        def res(i: int, o: int) -> ResBlock:
            return ResBlock(i, o, emb_dim, dropout, norm_groups)

        def attn(ch: int, side: int) -> AttentionBlock | None:
            return AttentionBlock(ch, attention_heads, norm_groups) if side in attn_at else None

        self.inp = nn.Conv2d(channels, width * mult[0], 3, padding=1)
        self.down = nn.ModuleList()
        skips = [width * mult[0]]
        ch, side = width * mult[0], image_size
        for level, m in enumerate(mult):
            for _ in range(num_res_blocks):
                self.down.append(Stage(res(ch, width * m), attn(width * m, side)))
                ch = width * m
                skips.append(ch)
            if level != len(mult) - 1:
                self.down.append(Downsample(ch))
                skips.append(ch)
                side //= 2
        self.mid = nn.ModuleList([Stage(res(ch, ch), AttentionBlock(ch, attention_heads, norm_groups)), Stage(res(ch, ch), None)])
        self.up = nn.ModuleList()
        for level, m in reversed(list(enumerate(mult))):
            for _ in range(num_res_blocks + 1):
                self.up.append(Stage(res(ch + skips.pop(), width * m), attn(width * m, side)))
                ch = width * m
            if level != 0:
                self.up.append(Upsample(ch))
                side *= 2
        self.out = nn.Sequential(group_norm(ch, norm_groups), nn.SiLU(), zero(nn.Conv2d(ch, channels, 3, padding=1)))

    def embed(self, t: Tensor, labels: Tensor | None) -> Tensor:
        emb = self.time_mlp(timestep_embedding(t, self.width))
        if self.label_emb is not None:
            if labels is None:
                labels = torch.full_like(t, self.null_label, dtype=torch.long)
            emb = emb + self.label_emb(labels)
        return emb

    def forward(self, x_t: Tensor, t: Tensor, labels: Tensor | None = None) -> Tensor:
        if t.ndim == 0:
            t = t.expand(x_t.shape[0])
        emb = self.embed(t, labels)
        h = self.inp(x_t)
        hs = [h]
        for block in self.down:
            h = block(h, emb)
            hs.append(h)
        for block in self.mid:
            h = block(h, emb)
        for block in self.up:
            if isinstance(block, Stage):
                h = block(torch.cat([h, hs.pop()], dim=1), emb)
            else:
                h = block(h)
        return self.out(h)
