"""Regularisers the engine can attach to any phase (see :class:`genzoo.family.Phase`)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn


def gradient_penalty(
    critic: Callable[..., Tensor], real: Tensor, fake: Tensor, labels: Tensor | None = None,
    *, target: float = 1.0, generator: torch.Generator | None = None,
) -> Tensor:
    """WGAN-GP penalty E[(||grad_x D(x_hat)||_2 - target)^2] on random interpolates.

    x_hat = eps * real + (1 - eps) * fake with eps ~ U(0, 1) per sample (Gulrajani et al.).
    Shapes: real, fake (N, C, H, W); returns a scalar. Differentiable w.r.t. the critic.
    """
    eps = torch.rand(real.shape[0], *([1] * (real.dim() - 1)), device=real.device, dtype=real.dtype, generator=generator)
    x_hat = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
    return penalty_at(critic, x_hat, labels, target=target)


def penalty_at(critic: Callable[..., Tensor], x: Tensor, labels: Tensor | None = None, *, target: float = 1.0) -> Tensor:
    """(||grad_x critic(x)||_2 - target)^2 averaged over the batch, at given points x."""
    if not x.requires_grad:
        x = x.detach().requires_grad_(True)
    scores = critic(x, labels) if labels is not None else critic(x)
    (grad,) = torch.autograd.grad(scores.sum(), x, create_graph=True)
    norms = grad.flatten(1).norm(2, dim=1)
    return ((norms - target) ** 2).mean()


def clip_weights(module: nn.Module, value: float) -> None:
    """Clamp every parameter of ``module`` to [-value, value] in place (WGAN, Arjovsky et al.)."""
    with torch.no_grad():
        for p in module.parameters():
            p.clamp_(-value, value)
