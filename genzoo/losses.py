"""Adversarial losses, usable by every adversarial family.

Each entry is an :class:`AdversarialLoss` with two functions of discriminator scores
(shape (N,)): ``d(real, fake)`` is what the discriminator minimises, ``g(fake)`` what the
generator minimises. Scores are logits (minimax, non-saturating), raw critic values
(wasserstein, hinge) or least-squares outputs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch.nn.functional as F
from torch import Tensor

from genzoo.registry import register_loss


@dataclass(frozen=True)
class AdversarialLoss:
    name: str
    d: Callable[[Tensor, Tensor], Tensor]
    g: Callable[[Tensor], Tensor]
    description: str = ""


def _bce_real(x: Tensor) -> Tensor:  # -log sigmoid(x), numerically stable
    return F.softplus(-x).mean()


def _bce_fake(x: Tensor) -> Tensor:  # -log(1 - sigmoid(x))
    return F.softplus(x).mean()


register_loss(
    "minimax",
    AdversarialLoss(
        "minimax",
        d=lambda real, fake: _bce_real(real) + _bce_fake(fake),
        # G minimises log(1 - D(G(z))) = -softplus(x): saturates when D is confident.
        g=lambda fake: -F.softplus(fake).mean(),
        description="Goodfellow et al. minimax: G minimises log(1 - D(G(z)))",
    ),
)

register_loss(
    "non-saturating",
    AdversarialLoss(
        "non-saturating",
        d=lambda real, fake: _bce_real(real) + _bce_fake(fake),
        g=lambda fake: _bce_real(fake),  # G maximises log D(G(z))
        description="binary cross-entropy; G maximises log D(G(z)) (stronger early gradients)",
    ),
)

register_loss(
    "wasserstein",
    AdversarialLoss(
        "wasserstein",
        d=lambda real, fake: fake.mean() - real.mean(),
        g=lambda fake: -fake.mean(),
        description="Wasserstein critic loss (pair with weight clipping or a gradient penalty)",
    ),
)

register_loss(
    "hinge",
    AdversarialLoss(
        "hinge",
        d=lambda real, fake: F.relu(1 - real).mean() + F.relu(1 + fake).mean(),
        g=lambda fake: -fake.mean(),
        description="hinge loss (Lim & Ye; SAGAN, BigGAN)",
    ),
)

register_loss(
    "least-squares",
    AdversarialLoss(
        "least-squares",
        d=lambda real, fake: 0.5 * ((real - 1) ** 2).mean() + 0.5 * (fake**2).mean(),
        g=lambda fake: 0.5 * ((fake - 1) ** 2).mean(),
        description="LSGAN (Mao et al.), targets a=0, b=1, c=1",
    ),
)
