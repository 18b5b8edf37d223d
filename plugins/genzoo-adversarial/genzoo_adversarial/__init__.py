"""Adversarial families for genzoo: ``gan``, ``wgan``, ``wgan-gp`` and ``cgan``.

One family definition (:class:`AdversarialFamily`: one config class, one model class, the
shared adversarial recipe) and four variants of it, each a preset of paper defaults
(``variants.py``); the networks are in ``nets.py``. The genzoo engine trains them all. Losses
come from genzoo's loss registry (``genzoo list losses``), the gradient penalty and weight
clipping from its regularisers. Uses only the public plugin API (genzoo.plugin) plus
genzoo-dcgan's networks.
"""

from genzoo_adversarial.nets import (
    AdversarialNetsConfig,
    AdversarialNetsModel,
    ConvProjectionDiscriminator,
    MLPDiscriminator,
    MLPGenerator,
)
from genzoo_adversarial.variants import AdversarialFamily, cgan, gan, wgan, wgan_gp

__version__ = "0.1.0"

__all__ = [
    "AdversarialFamily", "AdversarialNetsConfig", "AdversarialNetsModel", "ConvProjectionDiscriminator",
    "MLPDiscriminator", "MLPGenerator", "cgan", "gan", "wgan", "wgan_gp",
]
