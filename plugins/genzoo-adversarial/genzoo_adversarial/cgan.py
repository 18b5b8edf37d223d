"""``cgan``: class-conditional GAN, p(x | y) (Mirza and Osindero 2014, arXiv:1411.1784).

Generator and discriminator both see the label y. The generator concatenates a learned
label embedding to z. The discriminator either concatenates the label too (``concat``,
the paper's way; an extra image plane for the conv net) or uses a projection head
(``--set d_conditioning=projection``; Miyato and Koyama 2018, arXiv:1802.05637), which
scores the inner product of a class embedding with the image features.

Labels come from the dataset (digits, fashion-mnist, folder: with class subfolders). Sample
with ``genzoo sample RUN --label 3`` or ``--label all`` (a row per class), or
``model.sample(n, labels=...)``. Networks default to the DCGAN conv nets of genzoo-dcgan
(``--set arch=mlp`` for the paper's MLPs).
"""

from __future__ import annotations

from dataclasses import dataclass

from genzoo.plugin import Family, Recipe, adversarial_recipe

from genzoo_adversarial.nets import AdversarialNetsConfig, AdversarialNetsModel


@dataclass
class CGANConfig(AdversarialNetsConfig):
    conditional: bool = True
    latent_dim: int = 64
    arch: str = "conv"
    g_width: int = 32
    d_width: int = 32
    d_norm: str = "batch"
    d_conditioning: str = "concat"
    loss: str = "non-saturating"
    steps: int = 4000
    ema: float = 0.999
    sample_every: int = 1000
    checkpoint_every: int = 1000


class CGANModel(AdversarialNetsModel):
    """Conditional generator + discriminator; ``sample(n, labels=...)`` picks the classes."""


class CGANFamily(Family):
    name = "cgan"
    description = "Conditional GAN (Mirza and Osindero 2014): label embedding concatenation or a projection discriminator"
    config_class = CGANConfig
    model_class = CGANModel
    supports_labels = True

    def recipe(self, model: CGANModel, config: CGANConfig) -> Recipe:  # type: ignore[override]
        return adversarial_recipe(model, config)
