"""``gan``: the original generative adversarial network (Goodfellow et al. 2014, arXiv:1406.2661).

A multilayer-perceptron generator and discriminator play the minimax game
min_G max_D E[log D(x)] + E[log(1 - D(G(z)))]. Two generator losses from the loss registry:

* ``non-saturating`` (default): G maximises log D(G(z)); the paper's suggestion, because
  log(1 - D(G(z))) saturates early in training when D rejects every fake confidently;
* ``minimax``: G minimises log(1 - D(G(z))), the game exactly as written (``--set loss=minimax``).

The paper's k discriminator steps per generator step are ``--set d_steps=k`` (default 1, as
in its experiments). Differences from the paper, for a quick CPU run: ReLU + BatchNorm in G
(the paper mixed ReLU and sigmoid units), LeakyReLU instead of maxout in D (dropout kept),
Adam instead of SGD with momentum.
"""

from __future__ import annotations

from dataclasses import dataclass

from genzoo.plugin import Family, Recipe, adversarial_recipe

from genzoo_adversarial.nets import AdversarialNetsConfig, AdversarialNetsModel


@dataclass
class GANConfig(AdversarialNetsConfig):
    latent_dim: int = 64
    arch: str = "mlp"
    g_width: int = 256  # G: 64 -> 256 -> 512 -> pixels
    d_width: int = 256  # D: pixels -> 512 -> 256 -> 1
    mlp_layers: int = 2
    d_dropout: float = 0.3  # the paper trained D with dropout
    loss: str = "non-saturating"
    d_steps: int = 1
    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    steps: int = 6000
    ema: float = 0.999
    sample_every: int = 1000
    checkpoint_every: int = 1000


class GANModel(AdversarialNetsModel):
    """generator: MLPGenerator, discriminator: MLPDiscriminator (by default)."""


class GANFamily(Family):
    name = "gan"
    description = "Original GAN (Goodfellow et al. 2014): MLP generator and discriminator, minimax or non-saturating loss"
    config_class = GANConfig
    model_class = GANModel

    def recipe(self, model: GANModel, config: GANConfig) -> Recipe:  # type: ignore[override]
        return adversarial_recipe(model, config)
