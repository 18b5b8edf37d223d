"""Latent samplers: named, registered objects that produce the noise a model decodes.

A sampler says which models it supports (``supports(model)``), which keyword options it
takes (``options``), and draws latents on the CPU from a ``torch.Generator`` so that a seed
fixes the result on any device. Diffusion samplers (whole trajectories) register here too.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor

from genzoo.errors import GenzooError
from genzoo.registry import register_sampler


class Sampler:
    """Base class. ``latents`` returns (n, latent_dim) float32 on the CPU."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    options: ClassVar[tuple[str, ...]] = ()

    def supports(self, model: Any) -> bool:
        from genzoo.family import LatentModel

        return isinstance(model, LatentModel)

    def latents(self, model: Any, n: int, gen: torch.Generator, **opts: Any) -> Tensor:
        raise NotImplementedError


@register_sampler("normal")
class NormalSampler(Sampler):
    name = "normal"
    description = "the prior N(0, I)"

    def latents(self, model: Any, n: int, gen: torch.Generator, **opts: Any) -> Tensor:
        return torch.randn(n, model.latent_dim, generator=gen)


@register_sampler("truncated-normal")
class TruncatedNormalSampler(Sampler):
    """N(0, I) with entries beyond ``truncation`` resampled (default) or clamped.

    Lower thresholds trade variety for fidelity (the "truncation trick").
    """

    name = "truncated-normal"
    description = "N(0, I) truncated at |z| <= truncation (resample or clamp)"
    options = ("truncation", "truncation_mode")

    def latents(self, model: Any, n: int, gen: torch.Generator, *, truncation: float = 1.0,
                truncation_mode: str = "resample", **opts: Any) -> Tensor:
        if truncation <= 0:
            raise GenzooError(f"truncation must be > 0, got {truncation}")
        z = torch.randn(n, model.latent_dim, generator=gen)
        if truncation_mode == "clamp":
            return z.clamp_(-truncation, truncation)
        if truncation_mode != "resample":
            raise GenzooError(f"truncation_mode must be 'resample' or 'clamp', got '{truncation_mode}'")
        for _ in range(1000):  # each round keeps P(|z|<=t) of the rest; terminates fast for t >= 0.1
            bad = z.abs() > truncation
            if not bad.any():
                break
            z[bad] = torch.randn(int(bad.sum()), generator=gen)
        return z.clamp_(-truncation, truncation)


@register_sampler("uniform")
class UniformSampler(Sampler):
    """U(-sqrt(3), sqrt(3)): zero mean, unit variance, bounded."""

    name = "uniform"
    description = "uniform with unit variance, U(-sqrt 3, sqrt 3)"

    def latents(self, model: Any, n: int, gen: torch.Generator, **opts: Any) -> Tensor:
        return (torch.rand(n, model.latent_dim, generator=gen) * 2 - 1) * 3**0.5
