"""Noise schedules of the forward process q(x_t | x_0) = N(sqrt(abar_t) x_0, (1 - abar_t) I).

Timesteps are integers t = 0 .. T-1 (t = 0 is the least noisy). Tables are computed in
float64 on the CPU once; samplers read scalar coefficients from them, so the arithmetic
on images (float32) never accumulates a rounding error from a float32 cumulative product.

* ``linear`` (Ho, Jain and Abbeel 2020, arXiv:2006.11239): beta_t evenly spaced from
  ``beta_start`` (1e-4) to ``beta_end`` (0.02).
* ``cosine`` (Nichol and Dhariwal 2021, arXiv:2102.09672, eq. 17): abar(s) = f(s) / f(0),
  f(s) = cos(((s + 0.008) / 1.008) * pi / 2)^2 at s = (t + 1) / T, with each beta clipped
  at 0.999 so the last steps stay finite.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from genzoo.plugin import GenzooError

SCHEDULES = ("linear", "cosine")
COSINE_OFFSET = 0.008  # s in Nichol and Dhariwal: keeps beta_0 from being vanishingly small
MAX_BETA = 0.999


def linear_betas(timesteps: int, beta_start: float = 1e-4, beta_end: float = 0.02) -> Tensor:
    """(T,) float64: beta_t = beta_start + (beta_end - beta_start) * t / (T - 1)."""
    return torch.linspace(beta_start, beta_end, timesteps, dtype=torch.float64)


def cosine_alpha_bar(s: Tensor) -> Tensor:
    """f(s) = cos(((s + 0.008) / 1.008) * pi / 2)^2 for continuous time s in [0, 1] (not normalised)."""
    return torch.cos((s + COSINE_OFFSET) / (1 + COSINE_OFFSET) * math.pi / 2) ** 2


def cosine_betas(timesteps: int, max_beta: float = MAX_BETA) -> Tensor:
    """(T,) float64: beta_t = min(1 - f((t+1)/T) / f(t/T), max_beta)."""
    s = torch.arange(timesteps + 1, dtype=torch.float64) / timesteps
    f = cosine_alpha_bar(s)
    return (1 - f[1:] / f[:-1]).clamp(max=max_beta)


class NoiseSchedule:
    """The tables of one schedule. All tensors are float64, shape (T,), on the CPU.

    Attributes:
        betas: beta_t, the variance added at step t.
        alphas_cumprod: abar_t = prod_{s <= t} (1 - beta_s); x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps.
    """

    def __init__(self, kind: str = "linear", timesteps: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02):
        if timesteps < 2:
            raise GenzooError(f"timesteps must be at least 2, got {timesteps}")
        if kind == "linear":
            if not 0 < beta_start < beta_end < 1:
                raise GenzooError(f"linear schedule needs 0 < beta_start < beta_end < 1, got {beta_start}, {beta_end}")
            betas = linear_betas(timesteps, beta_start, beta_end)
        elif kind == "cosine":
            betas = cosine_betas(timesteps)
        else:
            raise GenzooError(f"unknown noise schedule '{kind}'; use {' or '.join(SCHEDULES)}")
        self.kind = kind
        self.timesteps = timesteps
        self.betas = betas
        self.alphas_cumprod = torch.cumprod(1 - betas, dim=0)
        self._device_tables: dict[str, Tensor] = {}

    def __len__(self) -> int:
        return self.timesteps

    def abar(self, t: int) -> float:
        """abar_t as a Python float; t = -1 (past the last step) is 1: the clean image."""
        return 1.0 if t < 0 else float(self.alphas_cumprod[t])

    def alphas_cumprod_on(self, device: torch.device) -> Tensor:
        """abar as float32 (T,) on ``device``, cached: for indexing by a batch of timesteps."""
        key = str(device)
        if key not in self._device_tables:
            self._device_tables[key] = self.alphas_cumprod.to(device=device, dtype=torch.float32)
        return self._device_tables[key]
