"""What every adversarial family shares: config fields, the model shell, and the recipe.

A GAN family (dcgan, gan, wgan, cgan ...) defines its two networks and picks settings;
the recipe below turns the settings into phases for the one engine:

* phase ``d``: ``d_steps`` discriminator updates on fresh real batches, loss from the loss
  registry, optional gradient penalty (``gp_weight``), optional weight clipping (``clip_value``);
* phase ``g``: one generator update through the discriminator.

Logged besides the losses, as mode-collapse telltales: the discriminator's accuracy on real
and fake (``d_acc_real``, ``d_acc_fake``; score > 0 counts as "real") and the per-pixel
standard deviation across the generated batch (``fake_std``; near 0 means collapse),
measured on the last step of each log interval (the losses are averaged over the interval).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from genzoo.anomaly import anogan_scores
from genzoo.config import ModelConfig, bounded
from genzoo.errors import GenzooError
from genzoo.family import LatentModel, Phase, Recipe, StepContext
from genzoo.registry import losses
from genzoo.regularizers import clip_weights, gradient_penalty


@dataclass
class AdversarialConfig(ModelConfig):
    latent_dim: int = bounded(100, min=1)
    loss: str = "non-saturating"  # see `genzoo list losses`
    d_steps: int = bounded(1, min=1)  # discriminator (critic) updates per generator update
    gp_weight: float = bounded(0.0, min=0)  # gradient penalty weight (WGAN-GP: 10); 0 = off
    clip_value: float = bounded(0.0, min=0)  # clip discriminator weights to [-c, c] after each update (WGAN: 0.01)
    lr_d: float = bounded(0.0, min=0)  # discriminator learning rate; 0 = same as lr
    d_spectral_norm: bool = False  # spectral normalisation of every D layer (Miyato et al. 2018); see spectral_normalise


def spectral_normalise(module: nn.Module) -> nn.Module:
    """Put spectral normalisation on every Linear, Conv2d and Embedding inside ``module``.

    torch's parametrisation keeps the raw weight and the power-iteration vectors u, v in the
    state dict, so checkpoints and saved models restore the estimate as it was; in eval mode the
    estimate is frozen.
    """
    from torch.nn.utils.parametrizations import spectral_norm  # here: only models that ask for it

    for m in list(module.modules()):
        if isinstance(m, (nn.Linear, nn.Conv2d, nn.Embedding)):
            spectral_norm(m)
    return module


class AdversarialModel(LatentModel):
    """Generator + discriminator. Sampling uses the generator (its EMA when trained with ema > 0)."""

    sampling_network = "generator"

    @torch.inference_mode()
    def discriminate(self, images: Tensor, labels: Any = None) -> Tensor:
        """Images (N, C, H, W) in [0, 1] -> discriminator scores (N,)."""
        y = self.check_labels(labels, images.shape[0]) if self.is_conditional else None
        with self.evaluating():
            x = images.to(self.device) * 2 - 1
            return self.discriminator(x, None if y is None else y.to(self.device)).float().cpu()  # type: ignore[attr-defined]

    def anomaly_score(self, images: Tensor, labels: Any = None, *, seed: int = 0, steps: int = 100,
                      lam: float = 0.1, restarts: int = 8, lr: float = 0.05) -> dict[str, Tensor]:
        """ScoresAnomalies: AnoGAN's latent search + discriminator, see genzoo.anomaly."""
        return anogan_scores(self, images, labels, seed=seed, steps=steps, lam=lam, restarts=restarts, lr=lr)


def _batch_std(x: Tensor) -> Tensor:
    """Per-pixel standard deviation across the batch (unbiased), averaged: x.std(dim=0).mean().

    Written out because std over dim 0 takes ~6x longer on CPU, and this runs every step.
    """
    f = x.float().flatten(1)
    return (f - f.mean(0)).square_().sum(0).div_(max(f.shape[0] - 1, 1)).sqrt_().mean()


def _fake(ctx: StepContext, n: int) -> Tensor:
    model = ctx.model
    z = torch.randn(n, model.latent_dim, device=ctx.device)  # type: ignore[attr-defined]
    return model.generator(z, ctx.batch.labels)  # type: ignore[attr-defined]


def adversarial_recipe(model: AdversarialModel, config: AdversarialConfig) -> Recipe:
    """Phases ``d`` (``d_steps`` discriminator updates) and ``g`` (one generator update)."""
    loss = losses.get(config.loss)
    if not hasattr(loss, "d") or not hasattr(loss, "g"):
        raise GenzooError(f"loss '{config.loss}' is not an adversarial loss (it needs d and g parts)")

    def d_loss(ctx: StepContext) -> tuple[Tensor, dict[str, Tensor]]:
        real, y = ctx.batch.images, ctx.batch.labels
        fake = _fake(ctx, real.shape[0])
        ctx.state["fake"] = fake  # the generator phase reuses it: G has not changed since
        d_real = ctx.model.discriminator(real, y)  # type: ignore[attr-defined]
        d_fake = ctx.model.discriminator(fake.detach(), y)  # type: ignore[attr-defined]
        logs: dict[str, Tensor] = {}
        c = ctx.config
        if (ctx.step + 1) % c.log_every == 0 or ctx.step + 1 == c.steps:
            # Telltales on the last step of each log interval only: a dozen small ops each step
            # cost about 1% of a small GAN's step on a CPU, and a snapshot shows collapse as well.
            with torch.no_grad():
                logs = {
                    "d_acc_real": (d_real > 0).float().mean(),
                    "d_acc_fake": (d_fake < 0).float().mean(),
                    "fake_std": _batch_std(fake.detach()),
                }
        return loss.d(d_real, d_fake), logs

    def g_loss(ctx: StepContext) -> Tensor:
        fake = ctx.state.get("fake")
        if fake is None:
            fake = _fake(ctx, ctx.batch.images.shape[0])
        return loss.g(ctx.model.discriminator(fake, ctx.batch.labels))  # type: ignore[attr-defined]

    regs = []
    if config.gp_weight > 0:

        def gp(ctx: StepContext) -> Tensor:
            return config.gp_weight * gradient_penalty(
                ctx.model.discriminator, ctx.batch.images, ctx.state["fake"], ctx.batch.labels  # type: ignore[attr-defined]
            )

        regs.append(gp)
    after = []
    if config.clip_value > 0:
        after.append(lambda m: clip_weights(m.discriminator, config.clip_value))  # type: ignore[attr-defined]

    return Recipe(
        phases=[
            Phase("d", ["discriminator"], d_loss, repeats=config.d_steps, lr=config.lr_d or None,
                  regularizers=regs, after_step=after),
            Phase("g", ["generator"], g_loss),
        ],
        ema_module="generator",
    )
