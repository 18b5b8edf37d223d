"""Adversarial families for genzoo: ``gan``, ``wgan``, ``wgan-gp`` and ``cgan``.

Each family is a config (defaults from its paper), networks (``nets.py``) and the shared
adversarial recipe; the genzoo engine trains them all. Losses come from genzoo's loss
registry (``genzoo list losses``), the gradient penalty and weight clipping from its
regularisers. Uses only the public plugin API (genzoo.plugin) plus genzoo-dcgan's networks.
"""

from genzoo_adversarial.cgan import CGANConfig, CGANFamily, CGANModel
from genzoo_adversarial.gan import GANConfig, GANFamily, GANModel
from genzoo_adversarial.nets import (
    AdversarialNetsConfig,
    AdversarialNetsModel,
    ConvProjectionDiscriminator,
    MLPDiscriminator,
    MLPGenerator,
)
from genzoo_adversarial.wgan import WGANConfig, WGANFamily, WGANGPConfig, WGANGPFamily, WGANModel

__version__ = "0.1.0"

__all__ = [
    "AdversarialNetsConfig", "AdversarialNetsModel", "CGANConfig", "CGANFamily", "CGANModel",
    "ConvProjectionDiscriminator", "GANConfig", "GANFamily", "GANModel", "MLPDiscriminator",
    "MLPGenerator", "WGANConfig", "WGANFamily", "WGANGPConfig", "WGANGPFamily", "WGANModel",
]
