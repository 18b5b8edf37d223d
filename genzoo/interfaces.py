"""The four network roles every family is built from.

Image convention (stated once, used everywhere): inside models, images are float
tensors of shape (N, C, H, W) with values in [-1, 1]. At the public API edge
(``model.sample``, files on disk) they are in [0, 1]. Labels are int64 tensors (N,)
with values in [0, num_classes).
"""

from __future__ import annotations

import abc

import torch
from torch import Tensor, nn

from genzoo.errors import GenzooError


class Generator(nn.Module, abc.ABC):
    """Latent (N, latent_dim) [+ labels (N,)] -> images (N, C, H, W) in [-1, 1]."""

    latent_dim: int

    @abc.abstractmethod
    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor: ...


class Discriminator(nn.Module, abc.ABC):
    """Images (N, C, H, W) in [-1, 1] [+ labels (N,)] -> scores (N,).

    Scores are logits for probabilistic losses, unbounded critic values for Wasserstein.
    """

    @abc.abstractmethod
    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor: ...


class Encoder(nn.Module, abc.ABC):
    """Images (N, C, H, W) in [-1, 1] [+ labels (N,)] -> (mean, logvar), each (N, latent_dim).

    The pair parameterises a diagonal Gaussian q(z | x).
    """

    latent_dim: int

    @abc.abstractmethod
    def forward(self, x: Tensor, labels: Tensor | None = None) -> tuple[Tensor, Tensor]: ...


class Denoiser(nn.Module, abc.ABC):
    """Noisy images x_t (N, C, H, W) + timesteps t (N,) [+ labels (N,)] -> prediction (N, C, H, W).

    The prediction is the noise epsilon (or v, if the family is configured so).
    """

    @abc.abstractmethod
    def forward(self, x_t: Tensor, t: Tensor, labels: Tensor | None = None) -> Tensor: ...


def to_unit(x: Tensor) -> Tensor:
    """[-1, 1] -> [0, 1], clamped."""
    return ((x + 1) * 0.5).clamp_(0, 1)


def to_signed(x: Tensor) -> Tensor:
    """[0, 1] -> [-1, 1]."""
    return x * 2 - 1


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


__all__ = ["Generator", "Discriminator", "Encoder", "Denoiser", "to_unit", "to_signed", "count_parameters", "torch"]


def size_plan(image_size: int, cannot: str, examples: str = "16, 28, 32, 64") -> tuple[int, int]:
    """image_size -> (base, k) with image_size = base * 2**k, base in 4..7 and k (at most 6) as large as
    possible: 32 -> (4, 3), 28 -> (7, 2). The plan of the strided conv stacks (DCGAN, VAE, autoencoder)
    that double or halve a base x base map k times. ``cannot`` starts the error ("the VAE cannot handle")."""
    plan = _plan(image_size)
    if plan is not None:
        return plan
    largest = 7 * 2**6
    below = next((s for s in range(min(image_size - 1, largest), 7, -1) if _plan(s)), None)
    above = next((s for s in range(max(image_size + 1, 8), largest + 1) if _plan(s)), None)
    nearest = " or ".join(str(s) for s in (below, above) if s is not None)
    raise GenzooError(
        f"{cannot} {image_size}x{image_size} images; use a size of base * 2^k with base 4..7 and k <= 6, "
        f"nearest: {nearest} (e.g. {examples})"
    )


def _plan(image_size: int) -> tuple[int, int] | None:
    for k in range(6, 0, -1):
        base, rem = divmod(image_size, 2**k)
        if rem == 0 and 4 <= base <= 7:
            return base, k
    return None
