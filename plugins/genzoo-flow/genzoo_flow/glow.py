"""A multi-scale normalizing flow in the RealNVP / Glow line, in one file (plain torch).

Dinh, Sohl-Dickstein and Bengio 2017 (RealNVP, arXiv:1605.08803): affine coupling layers,
squeeze, and a multi-scale architecture that factors out half of the dimensions at each scale.
Kingma and Dhariwal 2018 (Glow, arXiv:1807.03039): each step is actnorm -> invertible 1x1
convolution -> affine coupling.

The map, from a dequantized image y in [0, 1]^(C x S x S) to a standard-normal latent::

    y --preprocess--> h --[squeeze, K steps, split]--> ... --[squeeze, K steps]--> top
                                               |                                    |
                                  eps_1 = (z_1 - mu_1(h)) / sigma_1(h)     eps_L = (top - mu) / sigma

Every layer is a bijection with a cheap log |det Jacobian|, so the change of variables gives
the exact log-density::

    log p(y) = sum_levels log N(z_l; mu_l, sigma_l) + sum_layers log |det J_layer| (+ preprocess)

``Glow.forward(y) -> (eps (N, D), log p(y) (N,))`` and ``Glow.inverse(eps) -> y``. eps, the
concatenation of every level's standardised latent, is N(0, I) under the model and has as many
entries as the image (D = C * S * S): sampling draws eps ~ N(0, T^2 I) (T: temperature) and
inverts. Every layer has ``forward(x) -> (y, logdet (N,))`` and ``inverse(y) -> x``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

LOG_2PI = math.log(2 * math.pi)


def squeeze(x: Tensor) -> Tensor:
    """(N, C, H, W) -> (N, 4C, H/2, W/2): each 2x2 patch becomes 4 channels (a permutation: logdet 0)."""
    n, c, h, w = x.shape
    x = x.view(n, c, h // 2, 2, w // 2, 2)
    return x.permute(0, 1, 3, 5, 2, 4).reshape(n, c * 4, h // 2, w // 2)


def unsqueeze(x: Tensor) -> Tensor:
    """The inverse of :func:`squeeze`: (N, 4C, H, W) -> (N, C, 2H, 2W)."""
    n, c, h, w = x.shape
    x = x.view(n, c // 4, 2, 2, h, w)
    return x.permute(0, 1, 4, 2, 5, 3).reshape(n, c // 4, h * 2, w * 2)


def std_normal_logp(eps: Tensor) -> Tensor:
    """log N(eps; 0, I) summed per item: (N, ...) -> (N,)."""
    return (-0.5 * (eps.pow(2) + LOG_2PI)).flatten(1).sum(1)


# ------------------------------------------------------------------------------------------
# preprocessing: [0, 1] -> the space the flow works in
# ------------------------------------------------------------------------------------------
class Preprocess(nn.Module):
    """y (N, C, H, W) in [0, 1] -> h, with its log-determinant, so log p(y) stays exact.

    ``logit`` (RealNVP): h = logit(alpha + (1 - 2 alpha) y); spreads the bounded pixel range
    over the real line, alpha keeps 0 and 1 finite. log|det| = sum log((1 - 2 alpha) / (p (1 - p))).
    ``affine`` (Glow): h = y - 0.5; log|det| = 0.
    """

    def __init__(self, kind: str = "logit", alpha: float = 0.05):
        super().__init__()
        if kind not in ("logit", "affine"):
            raise ValueError(f"preprocess must be 'logit' or 'affine', got '{kind}'")
        if not 0 < alpha < 0.5:
            raise ValueError(f"logit_alpha must be in (0, 0.5), got {alpha}")
        self.kind, self.alpha = kind, alpha

    def forward(self, y: Tensor) -> tuple[Tensor, Tensor]:
        if self.kind == "affine":
            return y - 0.5, y.new_zeros(y.shape[0])
        p = self.alpha + (1 - 2 * self.alpha) * y
        h = torch.log(p) - torch.log1p(-p)
        logdet = (math.log(1 - 2 * self.alpha) - torch.log(p) - torch.log1p(-p)).flatten(1).sum(1)
        return h, logdet

    def inverse(self, h: Tensor) -> Tensor:
        if self.kind == "affine":
            return h + 0.5
        return (torch.sigmoid(h) - self.alpha) / (1 - 2 * self.alpha)


# ------------------------------------------------------------------------------------------
# the three layers of a Glow step
# ------------------------------------------------------------------------------------------
class ActNorm(nn.Module):
    """Per-channel affine y = (x + bias) * exp(logs), log|det| = H * W * sum(logs).

    Data-dependent init (Glow section 3.1): the first batch seen in training mode sets bias and
    logs so that this batch comes out with zero mean and unit variance per channel. The
    ``initialized`` flag is a buffer, so it is saved in checkpoints and a resumed run does not
    initialise again; an untrained model in eval mode is the identity.
    """

    def __init__(self, channels: int):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.logs = nn.Parameter(torch.zeros(1, channels, 1, 1))
        # uint8, not float: EMA averages float buffers but copies integer ones
        self.register_buffer("initialized", torch.zeros((), dtype=torch.uint8))

    @torch.no_grad()
    def initialize(self, x: Tensor) -> None:
        mean = x.mean(dim=(0, 2, 3), keepdim=True)
        std = x.std(dim=(0, 2, 3), keepdim=True) if x.numel() > x.shape[1] else torch.ones_like(mean)
        self.bias.copy_(-mean)
        self.logs.copy_(-torch.log(std + 1e-6))
        self.initialized.fill_(1)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        if self.training and not bool(self.initialized):
            self.initialize(x)
        y = (x + self.bias) * torch.exp(self.logs)
        logdet = x.shape[2] * x.shape[3] * self.logs.sum()
        return y, logdet.expand(x.shape[0])

    def inverse(self, y: Tensor) -> Tensor:
        return y * torch.exp(-self.logs) - self.bias


class InvConv1x1(nn.Module):
    """Invertible 1x1 convolution, LU-decomposed (Glow section 3.2): W = P L (U + diag(s)).

    P is a fixed permutation, L unit lower-triangular, U strictly upper-triangular, s the
    diagonal with fixed signs: log|det W| = sum log|s| costs O(C) instead of O(C^3), and the
    inverse is two triangular solves. Starts as a random rotation (orthogonal: log|det| = 0).
    """

    def __init__(self, channels: int):
        super().__init__()
        w = torch.linalg.qr(torch.randn(channels, channels))[0]
        p, lower, upper = torch.linalg.lu(w)
        s = torch.diagonal(upper)
        self.register_buffer("perm", p)
        self.register_buffer("sign_s", torch.sign(s))
        self.lower = nn.Parameter(lower)  # only the strict lower triangle is used
        self.upper = nn.Parameter(torch.triu(upper, 1))  # only the strict upper triangle is used
        self.log_s = nn.Parameter(torch.log(s.abs()))

    def _factors(self) -> tuple[Tensor, Tensor]:
        eye = torch.eye(self.lower.shape[0], dtype=self.lower.dtype, device=self.lower.device)
        lower = torch.tril(self.lower, -1) + eye
        upper = torch.triu(self.upper, 1) + torch.diag(self.sign_s * torch.exp(self.log_s))
        return lower, upper

    def weight(self) -> Tensor:
        lower, upper = self._factors()
        return self.perm @ lower @ upper

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        y = F.conv2d(x, self.weight()[:, :, None, None])
        logdet = x.shape[2] * x.shape[3] * self.log_s.sum()
        return y, logdet.expand(x.shape[0])

    def inverse(self, y: Tensor) -> Tensor:
        lower, upper = self._factors()
        eye = torch.eye(lower.shape[0], dtype=lower.dtype, device=lower.device)
        # W^-1 = U^-1 L^-1 P^T, from triangular solves (no general inverse)
        w_inv = torch.linalg.solve_triangular(upper, torch.linalg.solve_triangular(lower, eye, upper=False,
                                                                                   unitriangular=True), upper=True)
        w_inv = w_inv @ self.perm.T
        return F.conv2d(y, w_inv[:, :, None, None])


class ZeroConv(nn.Conv2d):
    """A 3x3 convolution that starts at zero, so a new coupling or prior starts as the identity
    (a standard normal) and the deep flow trains from a well-behaved start (Glow section 3.3)."""

    def __init__(self, cin: int, cout: int):
        super().__init__(cin, cout, 3, padding=1)
        nn.init.zeros_(self.weight)
        nn.init.zeros_(self.bias)


class AffineCoupling(nn.Module):
    """Affine coupling (RealNVP): x = (xa, xb) split by channel; xa passes unchanged and a
    small conv net of xa gives a shift and a scale for xb::

        yb = xb * exp(log_scale) + shift,   log_scale = clamp * tanh(raw / clamp)

    log|det| = sum log_scale. The soft clamp bounds each layer's scale to exp(+-clamp), so the
    inverse (used for sampling) cannot blow up; the zero-initialised last layer makes the
    layer the identity at the start. The 1x1 convolution before it decides which channels
    form xa, so the fixed channel split loses nothing.
    """

    def __init__(self, channels: int, hidden: int, clamp: float = 2.0):
        super().__init__()
        self.ca = channels // 2
        cb = channels - self.ca
        self.clamp = clamp
        self.net = nn.Sequential(
            nn.Conv2d(self.ca, hidden, 3, padding=1), nn.ReLU(),
            nn.Conv2d(hidden, hidden, 1), nn.ReLU(),
            ZeroConv(hidden, 2 * cb),
        )

    def _shift_scale(self, xa: Tensor) -> tuple[Tensor, Tensor]:
        shift, raw = self.net(xa).chunk(2, dim=1)
        return shift, self.clamp * torch.tanh(raw / self.clamp)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        xa, xb = x[:, : self.ca], x[:, self.ca :]
        shift, log_scale = self._shift_scale(xa)
        yb = xb * torch.exp(log_scale) + shift
        return torch.cat([xa, yb], dim=1), log_scale.flatten(1).sum(1)

    def inverse(self, y: Tensor) -> Tensor:
        ya, yb = y[:, : self.ca], y[:, self.ca :]
        shift, log_scale = self._shift_scale(ya)
        return torch.cat([ya, (yb - shift) * torch.exp(-log_scale)], dim=1)


class FlowStep(nn.Module):
    """One Glow step: actnorm -> invertible 1x1 conv -> affine coupling; (N, C, H, W) -> same."""

    def __init__(self, channels: int, hidden: int, clamp: float = 2.0):
        super().__init__()
        self.layers = nn.ModuleList([ActNorm(channels), InvConv1x1(channels), AffineCoupling(channels, hidden, clamp)])

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        logdet = x.new_zeros(x.shape[0])
        for layer in self.layers:
            x, ld = layer(x)
            logdet = logdet + ld
        return x, logdet

    def inverse(self, y: Tensor) -> Tensor:
        for layer in reversed(self.layers):
            y = layer.inverse(y)
        return y


# ------------------------------------------------------------------------------------------
# priors: factor-out (split) at each scale, and the top
# ------------------------------------------------------------------------------------------
class SplitPrior(nn.Module):
    """Factor-out: h (N, C, H, W) -> kept half (N, C/2, H, W), and the other half z leaves the
    flow with a learned Gaussian prior conditioned on the kept half (Glow's split2d):
    mu, log sigma = ZeroConv(kept). Returns its standardised form eps = (z - mu) / sigma and
    log N(z; mu, sigma) = log N(eps; 0, I) - sum log sigma.
    """

    def __init__(self, channels: int):
        super().__init__()
        self.keep = channels // 2
        self.prior = ZeroConv(self.keep, 2 * (channels - self.keep))

    def forward(self, h: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        kept, z = h[:, : self.keep], h[:, self.keep :]
        mu, log_sigma = self.prior(kept).chunk(2, dim=1)
        eps = (z - mu) * torch.exp(-log_sigma)
        return kept, eps, std_normal_logp(eps) - log_sigma.flatten(1).sum(1)

    def inverse(self, kept: Tensor, eps: Tensor) -> Tensor:
        mu, log_sigma = self.prior(kept).chunk(2, dim=1)
        return torch.cat([kept, mu + torch.exp(log_sigma) * eps], dim=1)


class TopPrior(nn.Module):
    """The last level's output (N, C, H, W) under a learned diagonal Gaussian (one mean and
    log sigma per entry, starting at N(0, I)); returns eps and its log-density as SplitPrior."""

    def __init__(self, channels: int, size: int):
        super().__init__()
        self.mu = nn.Parameter(torch.zeros(1, channels, size, size))
        self.log_sigma = nn.Parameter(torch.zeros(1, channels, size, size))

    def forward(self, h: Tensor) -> tuple[Tensor, Tensor]:
        eps = (h - self.mu) * torch.exp(-self.log_sigma)
        return eps, std_normal_logp(eps) - self.log_sigma.sum()

    def inverse(self, eps: Tensor) -> Tensor:
        return self.mu + torch.exp(self.log_sigma) * eps


# ------------------------------------------------------------------------------------------
# the whole flow
# ------------------------------------------------------------------------------------------
class Glow(nn.Module):
    """Multi-scale Glow: images (N, C, S, S) in [0, 1] <-> latents eps (N, C*S*S).

    ``levels`` scales, each a squeeze then ``depth`` Glow steps; every level but the last
    factors out half of its channels (SplitPrior). S must be divisible by 2^levels. The latent
    is the levels' eps flattened in order (first factored-out level first, the top last).
    """

    def __init__(self, channels: int, image_size: int, *, levels: int, depth: int, hidden: int,
                 preprocess: str = "logit", alpha: float = 0.05, clamp: float = 2.0):
        super().__init__()
        if levels < 1 or image_size % (2**levels):
            raise ValueError(f"image_size {image_size} is not divisible by 2^{levels}")
        self.pre = Preprocess(preprocess, alpha)
        self.levels = nn.ModuleList()
        self.splits = nn.ModuleList()
        self.shapes: list[tuple[int, int, int]] = []  # each level's eps shape (C, H, W), in latent order
        c, s = channels, image_size
        for i in range(levels):
            c, s = c * 4, s // 2
            self.levels.append(nn.ModuleList([FlowStep(c, hidden, clamp) for _ in range(depth)]))
            if i < levels - 1:
                self.splits.append(SplitPrior(c))
                self.shapes.append((c - c // 2, s, s))
                c = c // 2
        self.top = TopPrior(c, s)
        self.shapes.append((c, s, s))
        self.dim = channels * image_size * image_size

    def forward(self, y: Tensor) -> tuple[Tensor, Tensor]:
        """y (N, C, S, S) in [0, 1] -> (eps (N, D), log p(y) (N,) in nats, a density on [0, 1]^D)."""
        h, logp = self.pre(y)
        eps_all = []
        for i, steps in enumerate(self.levels):
            h = squeeze(h)
            for step in steps:
                h, ld = step(h)
                logp = logp + ld
            if i < len(self.splits):
                h, eps, lp = self.splits[i](h)
                eps_all.append(eps.flatten(1))
                logp = logp + lp
        eps, lp = self.top(h)
        eps_all.append(eps.flatten(1))
        return torch.cat(eps_all, dim=1), logp + lp

    def inverse(self, eps: Tensor) -> Tensor:
        """eps (N, D) -> y (N, C, S, S) (in [0, 1] for latents of real images; samples may stray)."""
        parts, at = [], 0
        for c, h, w in self.shapes:
            parts.append(eps[:, at : at + c * h * w].reshape(-1, c, h, w))
            at += c * h * w
        h = self.top.inverse(parts[-1])
        for i in reversed(range(len(self.levels))):
            if i < len(self.splits):
                h = self.splits[i].inverse(h, parts[i])
            for step in reversed(self.levels[i]):
                h = step.inverse(h)
            h = unsqueeze(h)
        return self.pre.inverse(h)
