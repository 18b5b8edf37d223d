"""Networks of the adversarial family (gan, wgan, wgan-gp, cgan), its config and the model that holds them.

Two architectures, chosen by the config's ``arch``:

* ``mlp``: fully connected networks, as in the original GAN paper (Goodfellow et al. 2014)
  and the conditional GAN paper (Mirza and Osindero 2014). Any image size.
* ``conv``: the DCGAN networks from the genzoo-dcgan plugin (strided convolutions, sizes
  16, 28, 32, 64 ...), reused rather than copied.

Class conditioning (``num_classes > 0``) comes in two kinds for the discriminator:

* ``concat`` (default): the label's embedding is concatenated to the input (a vector for
  the MLP, an extra image plane for the conv net, as genzoo-dcgan does);
* ``projection`` (Miyato and Koyama 2018, arXiv:1802.05637): D(x, y) = psi(phi(x)) +
  <embed(y), phi(x)>, the inner product of a class embedding with the image features.

``d_spectral_norm`` divides every weight of the discriminator (its linear and convolutional
layers and the projection embedding) by an estimate of its largest singular value, one power
iteration per training forward (Miyato et al. 2018, arXiv:1802.05957), so each layer is
1-Lipschitz. The projection paper trains its discriminator this way (with the hinge loss);
without it the projection head can push the generator to one garment per class.

The generator always concatenates a label embedding to z.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from genzoo.plugin import (
    AdversarialConfig,
    AdversarialModel,
    Discriminator,
    Generator,
    GenzooError,
    bounded,
    spectral_normalise,
)
from genzoo_dcgan import DCGANDiscriminator, DCGANGenerator, init_weights, norm2d, plan

ARCHS = ("mlp", "conv")
CONDITIONINGS = ("concat", "projection")
LABEL_EMBED_STD = 0.3  # init scale of concatenated label embeddings (see AdversarialNetsModel)


@dataclass
class AdversarialNetsConfig(AdversarialConfig):
    """The config of every adversarial variant; each one presets its own defaults (variants.py)."""

    arch: str = "mlp"  # mlp | conv
    g_width: int = bounded(256, min=1)  # mlp: G's first hidden width (doubling per layer); conv: as in dcgan
    d_width: int = bounded(256, min=1)  # mlp: D's last hidden width (doubling towards the input); conv: as in dcgan
    mlp_layers: int = bounded(2, min=1)  # hidden layers of each MLP
    d_norm: str = "none"  # batch | layer | none: normalisation in D's hidden layers
    d_dropout: float = bounded(0.0, min=0, max=1, max_open=True)  # dropout after each hidden layer of the MLP discriminator
    d_conditioning: str = "concat"  # concat | projection (conditional models only)


def _mlp_norm(kind: str, width: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm1d(width)
    if kind == "layer":  # per-sample, so safe with a gradient penalty
        return nn.LayerNorm(width)
    if kind == "none":
        return nn.Identity()
    raise GenzooError(f"unknown d_norm '{kind}'; use batch, layer or none")


class MLPGenerator(Generator):
    """z (N, latent_dim) [+ labels (N,)] -> images (N, C, S, S) in [-1, 1].

    Hidden layers Linear -> BatchNorm -> ReLU, widths width, 2 width, 4 width ...; tanh output.
    """

    def __init__(self, latent_dim: int, channels: int, image_size: int, width: int, layers: int,
                 num_classes: int = 0):
        super().__init__()
        self.latent_dim = latent_dim
        self.shape = (channels, image_size, image_size)
        self.embed = nn.Embedding(num_classes, latent_dim) if num_classes else None
        dim = latent_dim * (2 if num_classes else 1)
        body: list[nn.Module] = []
        for i in range(layers):
            w = width * 2**i
            body += [nn.Linear(dim, w), nn.BatchNorm1d(w), nn.ReLU(True)]
            dim = w
        body += [nn.Linear(dim, channels * image_size * image_size), nn.Tanh()]
        self.net = nn.Sequential(*body)

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        if self.embed is not None:
            if labels is None:
                raise GenzooError("this generator is conditional and needs labels")
            z = torch.cat([z, self.embed(labels)], dim=1)
        return self.net(z).view(-1, *self.shape)


class MLPDiscriminator(Discriminator):
    """Images (N, C, S, S) in [-1, 1] [+ labels (N,)] -> scores (N,).

    Hidden layers Linear -> norm -> LeakyReLU(0.2) -> dropout, widths ... 4 width, 2 width, width.
    Conditional: ``concat`` appends a label embedding to the flattened image; ``projection``
    adds <embed(y), features> to the score.
    """

    def __init__(self, channels: int, image_size: int, width: int, layers: int, norm: str = "none",
                 dropout: float = 0.0, num_classes: int = 0, conditioning: str = "concat"):
        super().__init__()
        self.conditioning = conditioning if num_classes else None
        dim = channels * image_size * image_size
        self.embed: nn.Embedding | None = None
        if self.conditioning == "concat":
            self.embed = nn.Embedding(num_classes, min(dim, 64))
            dim += self.embed.embedding_dim
        body: list[nn.Module] = []
        for i in reversed(range(layers)):
            w = width * 2**i
            body += [nn.Linear(dim, w), _mlp_norm(norm, w), nn.LeakyReLU(0.2, True)]
            if dropout > 0:
                body.append(nn.Dropout(dropout))
            dim = w
        self.features = nn.Sequential(*body)
        self.head = nn.Linear(dim, 1)
        if self.conditioning == "projection":
            self.embed = nn.Embedding(num_classes, dim)

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        h = x.flatten(1)
        if self.conditioning is not None and labels is None:
            raise GenzooError("this discriminator is conditional and needs labels")
        if self.conditioning == "concat":
            h = torch.cat([h, self.embed(labels)], dim=1)  # type: ignore[misc]
        h = self.features(h)
        out = self.head(h).flatten()
        if self.conditioning == "projection":
            out = out + (self.embed(labels) * h).sum(dim=1)  # type: ignore[misc]
        return out


class ConvProjectionDiscriminator(Discriminator):
    """DCGAN-style conv features phi(x) (summed over space) with a projection head.

    Images (N, C, S, S) in [-1, 1] + labels (N,) -> scores (N,) = psi(phi(x)) + <embed(y), phi(x)>.
    """

    def __init__(self, channels: int, image_size: int, width: int, norm: str, num_classes: int):
        super().__init__()
        _, ups = plan(image_size)
        layers: list[nn.Module] = [nn.Conv2d(channels, width, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True)]
        ch = width
        for _ in range(ups - 1):
            layers += [nn.Conv2d(ch, ch * 2, 4, 2, 1, bias=False), norm2d(norm, ch * 2), nn.LeakyReLU(0.2, True)]
            ch *= 2
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(ch, 1)
        self.embed = nn.Embedding(num_classes, ch)

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        if labels is None:
            raise GenzooError("this discriminator is conditional and needs labels")
        h = self.features(x).sum(dim=(2, 3))  # global sum pooling, as in the projection paper
        return self.head(h).flatten() + (self.embed(labels) * h).sum(dim=1)


def check_config(config: AdversarialNetsConfig) -> None:
    """Clear errors for settings the networks cannot honour."""
    if config.arch not in ARCHS:
        raise GenzooError(f"unknown arch '{config.arch}'; use {' or '.join(ARCHS)}")
    if config.d_conditioning not in CONDITIONINGS:
        raise GenzooError(f"unknown d_conditioning '{config.d_conditioning}'; use {' or '.join(CONDITIONINGS)}")
    if config.d_steps < 1:
        raise GenzooError(f"d_steps must be at least 1, got {config.d_steps}")
    if config.mlp_layers < 1:
        raise GenzooError(f"mlp_layers must be at least 1, got {config.mlp_layers}")
    if not 0 <= config.d_dropout < 1:
        raise GenzooError(f"d_dropout must be in [0, 1), got {config.d_dropout}")
    if config.gp_weight > 0 and config.d_norm == "batch":
        # BatchNorm mixes the samples of a batch, so the gradient of one score with respect
        # to one input no longer describes the critic alone (Gulrajani et al., section 4).
        raise GenzooError(
            "a gradient penalty needs a critic without batch norm; use --set d_norm=layer (or none)"
        )


class AdversarialNetsModel(AdversarialModel):
    """The model of every adversarial variant: generator + discriminator built from its config."""

    def __init__(self, config: AdversarialNetsConfig):
        super().__init__(config)
        check_config(config)
        c = config
        k = c.num_classes if c.conditional else 0
        if c.arch == "mlp":
            self.generator: Generator = MLPGenerator(c.latent_dim, c.channels, c.image_size, c.g_width, c.mlp_layers, k)
            self.discriminator: Discriminator = MLPDiscriminator(
                c.channels, c.image_size, c.d_width, c.mlp_layers, c.d_norm, c.d_dropout, k, c.d_conditioning
            )
        else:
            self.generator = DCGANGenerator(c.latent_dim, c.channels, c.image_size, c.g_width, k)
            if k and c.d_conditioning == "projection":
                self.discriminator = ConvProjectionDiscriminator(c.channels, c.image_size, c.d_width, c.d_norm, k)
            else:
                self.discriminator = DCGANDiscriminator(c.channels, c.image_size, c.d_width, c.d_norm, k)
        # N(0, 0.02) for every family here: the DCGAN paper's init, which also suits the MLPs.
        self.apply(init_weights)
        # ... except label embeddings concatenated to an input: at 0.02 the label is 50x weaker
        # than z ~ N(0, 1) (or pixels in [-1, 1]) and the networks take hundreds of steps to
        # start using it; at 1.0 the generator leans on the label and ignores much of z (cgan,
        # Fashion-MNIST 28 px, 4000 steps: within-class pixel std 0.56 of the data's, against
        # 0.93 at 0.02). 0.3 kept 0.89 of it and learned the labels as fast as 1.0 in short runs.
        concat_embeds = [getattr(self.generator, "embed", None)]
        if not isinstance(self.discriminator, ConvProjectionDiscriminator) and c.d_conditioning == "concat":
            concat_embeds.append(getattr(self.discriminator, "embed", None))
        for e in concat_embeds:
            if isinstance(e, nn.Embedding):
                nn.init.normal_(e.weight, 0.0, LABEL_EMBED_STD)
        if c.d_spectral_norm:  # after the init: the parametrisation starts from these weights
            spectral_normalise(self.discriminator)
