"""``wgan`` and ``wgan-gp``: Wasserstein GANs.

Both train a critic f (unbounded scores, no sigmoid) to maximise E[f(x)] - E[f(G(z))], an
estimate of the Wasserstein-1 distance when f is 1-Lipschitz, with the ``wasserstein`` loss
from the loss registry and ``d_steps`` (n_critic) = 5 critic updates per generator update.
They differ in how they keep f Lipschitz:

* ``wgan`` (Arjovsky, Chintala and Bottou 2017, arXiv:1701.07875): clip every critic weight
  to [-0.01, 0.01] after each update (``clip_value``, an after-step hook of the engine);
  RMSprop with lr 5e-5, as the paper recommends (momentum-based optimisers were unstable).
* ``wgan-gp`` (Gulrajani et al. 2017, arXiv:1704.00028): add lambda (||grad f(x_hat)||_2 - 1)^2
  on random interpolates x_hat between real and fake (``gp_weight`` = 10), the engine's
  general gradient-penalty regulariser; Adam lr 1e-4, betas (0.0, 0.9); layer norm instead
  of batch norm in the critic, since the penalty is per sample.

Both use the DCGAN convolutional networks from genzoo-dcgan (``--set arch=mlp`` for MLPs).
"""

from __future__ import annotations

from dataclasses import dataclass

from genzoo.plugin import Family, Recipe, adversarial_recipe

from genzoo_adversarial.nets import AdversarialNetsConfig, AdversarialNetsModel


@dataclass
class WGANConfig(AdversarialNetsConfig):
    latent_dim: int = 64
    arch: str = "conv"
    g_width: int = 32
    d_width: int = 32
    d_norm: str = "batch"  # the paper's critic was the DCGAN discriminator, batch norm included
    loss: str = "wasserstein"
    d_steps: int = 5  # n_critic
    clip_value: float = 0.01
    optimizer: str = "rmsprop"
    lr: float = 5e-5
    steps: int = 2000
    ema: float = 0.999
    sample_every: int = 500
    checkpoint_every: int = 500


@dataclass
class WGANGPConfig(AdversarialNetsConfig):
    latent_dim: int = 64
    arch: str = "conv"
    g_width: int = 32
    d_width: int = 32
    d_norm: str = "layer"  # no batch norm in the critic (per-sample penalty)
    loss: str = "wasserstein"
    d_steps: int = 5  # n_critic
    gp_weight: float = 10.0  # lambda
    optimizer: str = "adam"
    lr: float = 1e-4
    betas: tuple[float, float] = (0.0, 0.9)
    steps: int = 1500
    ema: float = 0.999
    sample_every: int = 500
    checkpoint_every: int = 500


class WGANModel(AdversarialNetsModel):
    """generator + critic (``discriminator``); critic scores are unbounded reals."""


class WGANFamily(Family):
    name = "wgan"
    description = "Wasserstein GAN with weight clipping (Arjovsky et al. 2017): RMSprop 5e-5, clip 0.01, n_critic 5"
    config_class = WGANConfig
    model_class = WGANModel

    def recipe(self, model: WGANModel, config: WGANConfig) -> Recipe:  # type: ignore[override]
        return adversarial_recipe(model, config)


class WGANGPFamily(Family):
    name = "wgan-gp"
    description = "Wasserstein GAN with gradient penalty (Gulrajani et al. 2017): lambda 10, Adam 1e-4 (0, 0.9), n_critic 5"
    config_class = WGANGPConfig
    model_class = WGANModel

    def recipe(self, model: WGANModel, config: WGANGPConfig) -> Recipe:  # type: ignore[override]
        return adversarial_recipe(model, config)
