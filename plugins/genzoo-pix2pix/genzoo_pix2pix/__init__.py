"""pix2pix (Isola, Zhu, Zhou and Efros, 2017, arXiv:1611.07004) as a genzoo family.

Paired image-to-image translation: a U-Net generator maps an input image x to an output
G(x); a PatchGAN discriminator sees (x, y) concatenated along channels and scores every
overlapping patch as real or fake; the generator minimises the adversarial loss plus
lambda * |G(x) - y|_1 (lambda = 100), so L1 gets the low frequencies right and the
discriminator the texture.

The paper's recipe, followed here: encoder blocks Conv(4, stride 2)-Norm-LeakyReLU(0.2),
decoder blocks ReLU-ConvTranspose(4, stride 2)-Norm with skip connections from the mirror
encoder block, no norm on the first encoder block nor the 1x1 bottleneck, tanh output,
dropout 0.5 in the decoder as the only noise (three blocks at 256 px; the paper found
input noise ignored), weights from N(0, 0.02), Adam lr 2e-4 and beta1 0.5, and the discriminator's
loss halved to slow it relative to the generator.

Sizes: the U-Net halves the image down to 1x1, so it has log2(S) levels: 5 at 32 px,
8 at 256 px. The PatchGAN has max(1, log2(S) - 5) stride-2 layers: 3 at 256 px (the
paper's 70x70 receptive field), 2 at 128 (34x34), 1 at 64 and 32 (16x16). Input and
output channels (1 or 3) may differ, e.g. gray -> colour.

Uses only the public plugin API (genzoo.plugin), as a third-party plugin would.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from genzoo.plugin import (
    INPUTS,
    Batch,
    Family,
    GenerativeModel,
    GenzooError,
    ImageDataset,
    ModelConfig,
    Phase,
    Recipe,
    ReferenceRecipe,
    Samples,
    StepContext,
    bounded,
    comparison_rows,
    losses,
    make_paired,
    to_unit,
)

__version__ = "0.1.0"

SIZES = (32, 64, 128, 256)
#: Batch size by image side where the default 32 would make a step too slow or too large.
BATCH_BY_SIZE = {128: 16, 256: 8}


def check_size(size: int) -> int:
    if size not in SIZES:
        raise GenzooError(
            f"pix2pix works on 32, 64, 128 or 256 px images, not {size}; use --set image_size=32 (or 64, 128, 256)"
        )
    return size


def fit_size(size: int) -> int:
    """The supported size a dataset of ``size`` px is resized to: the smallest >= size, at most 256."""
    return next((s for s in SIZES if s >= size), SIZES[-1])


def init_weights(m: nn.Module) -> None:
    # The paper: weights from N(0, 0.02); norm scales from N(1, 0.02).
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(m.weight, 0.0, 0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, (nn.BatchNorm2d, nn.InstanceNorm2d)) and m.weight is not None:
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


def norm2d(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "instance":  # the paper's batch size 1 with batch norm amounts to this
        return nn.InstanceNorm2d(channels, affine=True)
    if kind == "none":
        return nn.Identity()
    raise GenzooError(f"unknown norm '{kind}'; use batch, instance or none")


class UNetGenerator(nn.Module):
    """Inputs (N, in_channels, S, S) in [-1, 1] -> outputs (N, out_channels, S, S) in [-1, 1].

    log2(S) encoder levels down to 1x1; encoder widths width * (1, 2, 4, 8, 8, ...) capped at
    8 * width; the decoder mirrors them and concatenates each encoder level's features.
    ``dropout`` (probability) acts in the ``dropout_layers`` decoder blocks after the
    bottleneck's (0: by size, like the PatchGAN's depth: 1 at 32 and 64 px, 2 at 128, 3 at
    256 as in the paper, where they sit at 4-16 px; at 32 px three would reach 16 px, half
    the image, and cost about 1 dB of PSNR in a short run), in training and, when asked,
    at translation time.
    """

    def __init__(self, in_channels: int, out_channels: int, image_size: int, width: int = 64,
                 norm: str = "batch", dropout: float = 0.5, dropout_layers: int = 0):
        super().__init__()
        depth = int(math.log2(check_size(image_size)))
        dropout_layers = dropout_layers or patch_layers(image_size)
        ch = [min(width * 2**i, width * 8) for i in range(depth)]
        self.depth = depth
        self.down = nn.ModuleList()
        for i in range(depth):
            plain = i in (0, depth - 1) or norm == "none"  # a bias only where no norm follows
            conv = nn.Conv2d(in_channels if i == 0 else ch[i - 1], ch[i], 4, 2, 1, bias=plain)
            if i == 0:
                self.down.append(conv)  # no norm on raw pixels
            elif i == depth - 1:  # 1x1 bottleneck: a norm over one pixel would erase it
                self.down.append(nn.Sequential(nn.LeakyReLU(0.2), conv))
            else:
                self.down.append(nn.Sequential(nn.LeakyReLU(0.2), conv, norm2d(norm, ch[i])))
        # up[i] maps level i+1's features back to level i (up[0] makes the image).
        self.up = nn.ModuleList()
        for i in range(depth):
            cin = ch[i] if i == depth - 1 else 2 * ch[i]  # bottleneck alone; others with skip
            if i == 0:
                self.up.append(nn.Sequential(nn.ReLU(), nn.ConvTranspose2d(cin, out_channels, 4, 2, 1), nn.Tanh()))
                continue
            layers: list[nn.Module] = [nn.ReLU(), nn.ConvTranspose2d(cin, ch[i - 1], 4, 2, 1, bias=norm == "none"), norm2d(norm, ch[i - 1])]
            # the blocks right after the bottleneck's, as in the paper (3 of them at 256 px)
            if dropout > 0 and depth - 1 - dropout_layers <= i < depth - 1:
                layers.append(nn.Dropout(dropout))
            self.up.append(nn.Sequential(*layers))

    def forward(self, x: Tensor) -> Tensor:
        skips = []
        for block in self.down:
            x = block(x)
            skips.append(x)
        h = skips[-1]
        for i in range(self.depth - 1, -1, -1):
            h = self.up[i](h if i == self.depth - 1 else torch.cat([h, skips[i]], dim=1))
        return h


def patch_layers(image_size: int) -> int:
    """Stride-2 layers of the PatchGAN: 3 at 256 px (70x70 receptive field), 1 at 32 and 64."""
    return max(1, int(math.log2(image_size)) - 5)


def receptive_field(n_layers: int) -> int:
    """Receptive field in pixels of a PatchGAN with ``n_layers`` stride-2 layers: 16, 34, 70, ..."""
    rf = 4  # output conv (4x4, stride 1)
    rf += 3  # the stride-1 4x4 conv before it
    for _ in range(n_layers):
        rf = (rf - 1) * 2 + 4
    return rf


class PatchDiscriminator(nn.Module):
    """(inputs (N, Ci, S, S), images (N, Co, S, S)) in [-1, 1] -> patch logits (N, 1, P, P).

    Conditioned by concatenating the input and the (real or generated) output along
    channels, so it judges whether the output fits the input, patch by patch.
    """

    def __init__(self, in_channels: int, out_channels: int, image_size: int, width: int = 64,
                 n_layers: int = 0, norm: str = "batch"):
        super().__init__()
        n = n_layers or patch_layers(image_size)
        self.n_layers = n
        layers: list[nn.Module] = [nn.Conv2d(in_channels + out_channels, width, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        ch = width
        for i in range(1, n + 1):  # n - 1 more stride-2 layers, then one stride-1 layer
            nxt = width * min(2**i, 8)
            stride = 2 if i < n else 1
            layers += [nn.Conv2d(ch, nxt, 4, stride, 1, bias=norm == "none"), norm2d(norm, nxt), nn.LeakyReLU(0.2, True)]
            ch = nxt
        layers.append(nn.Conv2d(ch, 1, 4, 1, 1))
        self.net = nn.Sequential(*layers)

    @property
    def receptive_field(self) -> int:
        return receptive_field(self.n_layers)

    def forward(self, inputs: Tensor, images: Tensor) -> Tensor:
        return self.net(torch.cat([inputs, images], dim=1))


@dataclass
class Pix2PixConfig(ModelConfig):
    image_size: int = bounded(0, min=0)  # 32, 64, 128 or 256; 0: the data's size rounded up to one of them (fashion-mnist 28 -> 32)
    in_channels: int = bounded(0, min=0)  # channels of the input images; taken from the data
    task: str = ""  # paired task built from plain data: superres[:2|4], inpaint[:K], denoise[:S], edges, colorize
    direction: str = "AtoB"  # for pairs: data: AtoB (A is the input) or BtoA
    g_width: int = bounded(32, min=1)  # U-Net channels at the first level (x2 per level, capped at x8); paper: 64
    d_width: int = bounded(32, min=1)  # PatchGAN channels at the first layer; paper: 64
    d_layers: int = bounded(0, min=0)  # PatchGAN stride-2 layers; 0: by size (3 at 256 px = 70x70 patches)
    norm: str = "batch"  # batch | instance | none
    dropout: float = bounded(0.5, min=0, max=1, max_open=True)  # dropout probability in the decoder: the generator's noise
    dropout_layers: int = bounded(0, min=0)  # decoder blocks with dropout after the bottleneck's; 0: by size (1 at 32/64 px, 3 at 256)
    loss: str = "non-saturating"  # adversarial loss from the registry (`genzoo list losses`)
    l1_weight: float = bounded(100.0, min=0)  # lambda: weight of L1(G(x), y) against the adversarial loss
    steps: int = 2000
    batch_size: int = 32
    num_samples: int = 24  # preview: 8 rows of input | output | target
    sample_every: int = 500
    checkpoint_every: int = 500


class Pix2PixModel(GenerativeModel):
    """generator: UNetGenerator; discriminator: PatchDiscriminator. Use :meth:`translate`."""

    sampling_network = "generator"
    lacks_capabilities = (Samples,)  # sample() refuses: pix2pix translates given inputs

    def __init__(self, config: Pix2PixConfig):
        super().__init__(config)
        size = check_size(config.image_size)
        cin = config.in_channels or config.channels
        self.generator = UNetGenerator(cin, config.channels, size, config.g_width, config.norm,
                                       config.dropout, config.dropout_layers)
        self.discriminator = PatchDiscriminator(cin, config.channels, size, config.d_width, config.d_layers, config.norm)
        self.apply(init_weights)

    @property
    def in_channels(self) -> int:
        return int(self.config.in_channels or self.config.channels)  # type: ignore[attr-defined]

    @property
    def directions(self) -> tuple[str, ...]:
        """The one direction this model was trained for (TranslatesImages)."""
        return (str(self.config.direction),)  # type: ignore[attr-defined]

    def sample(self, n: int, **kwargs: Any) -> Tensor:  # type: ignore[override]
        raise GenzooError(
            "pix2pix translates images instead of drawing them from noise: use model.translate(inputs) "
            "or `genzoo translate RUN INPUT... --out DIR`"
        )

    def _check_inputs(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor) or x.ndim != 4:
            raise GenzooError(f"translate takes a tensor (N, C, H, W) with values in [0, 1], got {getattr(x, 'shape', type(x))}")
        c, s = self.in_channels, self.config.image_size
        if x.shape[1] != c:
            kind = {1: "grayscale", 3: "RGB"}
            raise GenzooError(f"this model translates {kind.get(c, c)} inputs ({c} channels), got {x.shape[1]} channels")
        if tuple(x.shape[-2:]) != (s, s):
            raise GenzooError(
                f"this model translates {s}x{s} images, got {x.shape[-2]}x{x.shape[-1]}; resize them first "
                "(genzoo translate resizes files for you)"
            )
        return x

    @torch.inference_mode()
    def translate(self, x: Tensor, *, dropout: bool = False, seed: int | None = None, batch_size: int = 64) -> Tensor:
        """Inputs (N, C_in, S, S) in [0, 1] -> outputs (N, C_out, S, S) in [0, 1].

        Deterministic by default (dropout off, batch-norm running statistics). With
        ``dropout=True`` the decoder's dropout stays on as the paper's noise, seeded by
        ``seed``, giving slightly different outputs per seed.
        """
        x = self._check_inputs(x)
        with self.evaluating():
            for m in self.generator.modules():
                if isinstance(m, nn.Dropout):
                    m.train(dropout)
            with torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else []):
                if dropout:
                    torch.manual_seed(0 if seed is None else int(seed))
                outs = [self.generator(x[i : i + batch_size].to(self.device).float() * 2 - 1) for i in range(0, len(x), batch_size)]
        return to_unit(torch.cat(outs).float()).cpu()

    @torch.inference_mode()
    def discriminate(self, inputs: Tensor, images: Tensor) -> Tensor:
        """(inputs (N, C_in, S, S), images (N, C_out, S, S)) in [0, 1] -> patch logits (N, 1, P, P)."""
        x = self._check_inputs(inputs)
        with self.evaluating():
            return self.discriminator(x.to(self.device) * 2 - 1, images.to(self.device) * 2 - 1).float().cpu()

    def preview(self, data: ImageDataset, n: int, seed: int = 0) -> tuple[Tensor, int]:
        """Grid images during training: input | output | target for the first n // 3 pairs."""
        k = max(1, min(n // 3, len(data)))
        x = to_unit(data.extra[INPUTS][:k].float().clone())
        y = to_unit(data.images[:k].float().clone())
        return comparison_rows([x, self.translate(x), y])


def _recipe(model: Pix2PixModel, config: Pix2PixConfig) -> Recipe:
    loss = losses.get(config.loss)
    if not hasattr(loss, "d") or not hasattr(loss, "g"):
        raise GenzooError(f"loss '{config.loss}' is not an adversarial loss (it needs d and g parts)")
    if config.l1_weight < 0:
        raise GenzooError(f"l1_weight must be >= 0, got {config.l1_weight}")

    def d_loss(ctx: StepContext) -> tuple[Tensor, dict[str, Tensor]]:
        b: Batch = ctx.batch
        x, y = b.extra[INPUTS], b.images
        fake = ctx.model.generator(x)  # type: ignore[attr-defined]
        ctx.state["fake"] = fake  # the generator phase reuses it: G has not changed since
        d_real = ctx.model.discriminator(x, y)  # type: ignore[attr-defined]
        d_fake = ctx.model.discriminator(x, fake.detach())  # type: ignore[attr-defined]
        with torch.no_grad():
            logs = {"d_acc_real": (d_real > 0).float().mean(), "d_acc_fake": (d_fake < 0).float().mean()}
        # halved, as in the paper, so D learns more slowly than G
        return 0.5 * loss.d(d_real.flatten(), d_fake.flatten()), logs

    def g_loss(ctx: StepContext) -> tuple[Tensor, dict[str, Tensor]]:
        x, y = ctx.batch.extra[INPUTS], ctx.batch.images
        fake = ctx.state.get("fake")
        if fake is None:
            fake = ctx.model.generator(x)  # type: ignore[attr-defined]
        adv = loss.g(ctx.model.discriminator(x, fake).flatten())  # type: ignore[attr-defined]
        l1 = (fake - y).abs().mean()
        return adv + config.l1_weight * l1, {"g_adv": adv.detach(), "l1": l1.detach()}

    return Recipe(phases=[Phase("d", ["discriminator"], d_loss), Phase("g", ["generator"], g_loss)], ema_module="generator")


class Pix2PixFamily(Family):
    card_template = "genzoo.card_templates:pix2pix.md"
    description = "pix2pix (Isola et al. 2017): paired image-to-image translation, U-Net + PatchGAN; 32-256 px"
    config_class = Pix2PixConfig
    model_class = Pix2PixModel
    pipeline_tag = "image-to-image"
    needs = (INPUTS,)
    image_sizes = SIZES
    image_size_rule = "none (the U-Net halves the side down to 1 px); data of another size is resized to the next of these"
    # judged on held-out pairs of the test split: translations against their targets (PSNR) and
    # the target images (FID ...); see Family.heldout_translations
    reference_recipes = tuple(
        ReferenceRecipe(f"{d}-superres-10min-cpu", d, f"x4 super-resolution of {d} in 10 CPU-minutes",
                        max_time="10m", overrides={"task": "superres:4"}, eval_n=n)
        for d, n in (("digits", 297), ("fashion-mnist", 2000))
    )

    def check_image_size(self, image_size: int) -> None:
        check_size(image_size)

    def size_defaults(self, image_size: int, config: Pix2PixConfig | None = None) -> dict[str, Any]:  # type: ignore[override]
        out: dict[str, Any] = {"d_layers": patch_layers(image_size), "dropout_layers": patch_layers(image_size)}
        batch = BATCH_BY_SIZE.get(image_size)
        return out if batch is None else {**out, "batch_size": batch}

    def prepare_data(self, data: ImageDataset, config: Pix2PixConfig) -> ImageDataset:  # type: ignore[override]
        """Resize to a supported size, build pairs with ``task``, apply ``direction``."""
        size = check_size(config.image_size) if config.image_size else fit_size(data.image_size)
        return make_paired(data, task=config.task, direction=config.direction, seed=config.seed, image_size=size)

    def configure_for_data(self, config: Pix2PixConfig, data: ImageDataset) -> Pix2PixConfig:  # type: ignore[override]
        if INPUTS not in data.extra:
            raise GenzooError(
                f"pix2pix needs paired data and '{data.name}' is not paired: use --data pairs:PATH, or build pairs "
                "with --task superres, inpaint, denoise, edges or colorize"
            )
        cin = int(data.extra[INPUTS].shape[1])
        if config.in_channels and config.in_channels != cin:
            raise GenzooError(f"the data's inputs have {cin} channels but in_channels={config.in_channels} was asked for; drop --set in_channels")
        config = super().configure_for_data(config, data)  # output channels, no labels
        return dataclasses.replace(config, in_channels=cin)

    def recipe(self, model: Pix2PixModel, config: Pix2PixConfig) -> Recipe:  # type: ignore[override]
        return _recipe(model, config)
