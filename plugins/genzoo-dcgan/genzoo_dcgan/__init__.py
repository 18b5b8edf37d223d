"""DCGAN (Radford, Metz and Chintala, 2016, arXiv:1511.06434) as a genzoo family.

The paper's recipe: no pooling (strided convolutions down, transposed convolutions up),
BatchNorm in both networks except the generator's output and the discriminator's input,
ReLU in the generator with tanh at the output, LeakyReLU(0.2) in the discriminator,
weights from N(0, 0.02), Adam with lr 2e-4 and beta1 0.5.

Sizes: the generator starts from a base x base map (base 4..7) and doubles it until it
reaches ``image_size``, so 16, 28 (7 -> 14 -> 28), 32, 64, 128 and 256 all work (up to 6
doublings); the discriminator mirrors it. Channels double per stage towards the small map, up to
8 x width from 128 px (``max_mult``, the paper's 64 px ratio: 1024 = 8 x 128). Uses only the public plugin API (genzoo.plugin), as a third-party plugin would.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from genzoo.plugin import (
    AdversarialConfig,
    AdversarialModel,
    Discriminator,
    Family,
    Generator,
    GenzooError,
    Recipe,
    adversarial_recipe,
    bounded,
    size_plan,
    spectral_normalise,
    standard_recipes,
)

__version__ = "0.1.0"


def plan(image_size: int) -> tuple[int, int]:
    """image_size -> (base, doublings) with base in 4..7: 32 -> (4, 3), 28 -> (7, 2)."""
    return size_plan(image_size, "DCGAN cannot make", "16, 28, 32, 64, 128, 256")


#: Batch size by image side where the default 64 would make a step too slow or too large.
BATCH_BY_SIZE = {128: 32, 256: 16}
#: From 128 px the channels stop doubling at 8 x width (the paper's 64 px ratio, 1024 = 8 x 128):
#: uncapped, the 4x4 map of a 256 px network has 32 x width channels, 24 M parameters, and in
#: 60-step runs its discriminator's logits on fakes reached -31 (8 x: -10, like 64 px's -5).
LARGE, LARGE_MAX_MULT = 128, 8


def stage_channels(width: int, stages: int, max_mult: int = 0) -> list[int]:
    """Channels from the smallest map to the largest: width x 2^(stages-1) ... width x 1, each
    multiplier capped at ``max_mult`` (0: no cap)."""
    return [width * (min(2**i, max_mult) if max_mult else 2**i) for i in reversed(range(stages))]


def batch_for(image_size: int) -> int | None:
    """The default batch size at ``image_size`` px (None: the config's default, 64)."""
    return next((b for s, b in sorted(BATCH_BY_SIZE.items(), reverse=True) if image_size >= s), None)


def init_weights(m: nn.Module) -> None:
    # The paper: all weights from a zero-centred normal with std 0.02.
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear, nn.Embedding)):
        nn.init.normal_(m.weight, 0.0, 0.02)
        if getattr(m, "bias", None) is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm, nn.LayerNorm)) and m.weight is not None:
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


def norm2d(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "layer":  # per-sample, so it is safe with a gradient penalty
        return nn.GroupNorm(1, channels)
    if kind == "none":
        return nn.Identity()
    raise GenzooError(f"unknown norm '{kind}'; use batch, layer or none")


class DCGANGenerator(Generator):
    """z (N, latent_dim) [+ labels] -> images (N, C, S, S) in [-1, 1]."""

    def __init__(self, latent_dim: int, channels: int, image_size: int, width: int, num_classes: int = 0,
                 max_mult: int = 0):
        super().__init__()
        self.latent_dim = latent_dim
        base, ups = plan(image_size)
        chs = stage_channels(width, ups, max_mult)  # widest at the smallest map, halving on the way up
        # Conditional variant: a label embedding concatenated to z.
        self.embed = nn.Embedding(num_classes, latent_dim) if num_classes else None
        in_dim = latent_dim * (2 if num_classes else 1)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(in_dim, chs[0], base, 1, 0, bias=False), nn.BatchNorm2d(chs[0]), nn.ReLU(True),
        ]
        for a, b in zip(chs, chs[1:]):
            layers += [nn.ConvTranspose2d(a, b, 4, 2, 1, bias=False), nn.BatchNorm2d(b), nn.ReLU(True)]
        layers += [nn.ConvTranspose2d(chs[-1], channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        if self.embed is not None:
            if labels is None:
                raise GenzooError("this DCGAN generator is conditional and needs labels")
            z = torch.cat([z, self.embed(labels)], dim=1)
        return self.net(z[:, :, None, None])


class DCGANDiscriminator(Discriminator):
    """Images (N, C, S, S) in [-1, 1] [+ labels] -> logits (N,)."""

    def __init__(self, channels: int, image_size: int, width: int, norm: str = "batch", num_classes: int = 0,
                 max_mult: int = 0):
        super().__init__()
        base, ups = plan(image_size)
        chs = stage_channels(width, ups, max_mult)[::-1]  # doubling with depth
        in_ch = channels + (1 if num_classes else 0)
        # Conditional variant: the label as an extra constant image plane.
        self.embed = nn.Embedding(num_classes, image_size * image_size) if num_classes else None
        layers: list[nn.Module] = [nn.Conv2d(in_ch, chs[0], 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True)]
        for a, b in zip(chs, chs[1:]):
            layers += [nn.Conv2d(a, b, 4, 2, 1, bias=False), norm2d(norm, b), nn.LeakyReLU(0.2, True)]
        layers += [nn.Conv2d(chs[-1], 1, base, 1, 0, bias=False)]
        self.net = nn.Sequential(*layers)
        self.image_size = image_size

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        if self.embed is not None:
            if labels is None:
                raise GenzooError("this DCGAN discriminator is conditional and needs labels")
            plane = self.embed(labels).view(-1, 1, self.image_size, self.image_size)
            x = torch.cat([x, plane], dim=1)
        return self.net(x).flatten()


@dataclass
class DCGANConfig(AdversarialConfig):
    # Width 32 (the paper used 128 at 64 px) keeps the default digits run (16 px, 5000 steps)
    # near a minute on a 2-core CPU; width 64 gave no visibly better digits there.
    g_width: int = bounded(32, min=1)  # generator channels at the last hidden layer (doubling towards the input)
    d_width: int = bounded(32, min=1)  # discriminator channels at the first layer (doubling with depth)
    d_norm: str = "batch"  # batch | layer | none (use layer or none with a gradient penalty)
    max_mult: int = bounded(0, min=0)  # cap on the channel multiplier at the small maps (x2 per stage); 0: none; training picks 8 from 128 px
    steps: int = 5000
    ema: float = 0.999
    sample_every: int = 1000
    checkpoint_every: int = 500


class DCGANModel(AdversarialModel):
    """generator: DCGANGenerator, discriminator: DCGANDiscriminator."""

    def __init__(self, config: DCGANConfig):
        super().__init__(config)
        k = config.num_classes if config.conditional else 0
        m = config.max_mult
        self.generator = DCGANGenerator(config.latent_dim, config.channels, config.image_size, config.g_width, k, m)
        self.discriminator = DCGANDiscriminator(config.channels, config.image_size, config.d_width, config.d_norm, k, m)
        self.apply(init_weights)
        if config.d_spectral_norm:  # after the init: the parametrisation starts from these weights
            spectral_normalise(self.discriminator)


class DCGANFamily(Family):
    card_template = "genzoo.card_templates:dcgan.md"
    description = "Deep convolutional GAN (Radford et al. 2016); 16-256 px, gray or RGB"
    config_class = DCGANConfig
    model_class = DCGANModel
    supports_labels = True
    # bf16 autocast on the CPU: 1.4x the steps in 10 minutes, FID 2.03 -> 1.80 with recall and
    # coverage up (docs/dcgan.md); `genzoo train` itself stays fp32 (same seed, same images anywhere)
    reference_recipes = standard_recipes(cpu_precision="bf16")
    image_sizes = (16, 28, 32, 64, 128, 256)
    image_size_rule = "any base * 2^k with base 4..7 and k <= 6 (one up/down-sampling stage per doubling)"

    def check_image_size(self, image_size: int) -> None:
        plan(image_size)

    def size_defaults(self, image_size: int, config: DCGANConfig | None = None) -> dict[str, Any]:  # type: ignore[override]
        out: dict[str, Any] = {"max_mult": LARGE_MAX_MULT} if image_size >= LARGE else {}
        batch = batch_for(image_size)
        return out if batch is None else {**out, "batch_size": batch}

    def recipe(self, model: DCGANModel, config: DCGANConfig) -> Recipe:  # type: ignore[override]
        return adversarial_recipe(model, config)
