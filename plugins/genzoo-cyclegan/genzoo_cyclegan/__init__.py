"""CycleGAN (Zhu, Park, Isola and Efros, 2017, arXiv:1703.10593) as a genzoo family.

Unpaired image-to-image translation: two generators, G_AB: A -> B and G_BA: B -> A, and two
discriminators, D_B (real B vs G_AB(a)) and D_A (real A vs G_BA(b)). No pair (a, b) is ever
given; what ties a translation to its input is cycle consistency: G_BA(G_AB(a)) ~ a and
G_AB(G_BA(b)) ~ b. The generators minimise

    L_GAN(G_AB, D_B) + L_GAN(G_BA, D_A) + lambda * L_cyc + identity_weight * lambda * L_idt

with L_cyc = |G_BA(G_AB(a)) - a|_1 + |G_AB(G_BA(b)) - b|_1 and the identity term
L_idt = |G_AB(b) - b|_1 + |G_BA(a) - a|_1 (a generator fed an image already in its target
domain should leave it alone; it keeps colours and tones), lambda = 10, identity weight 0.5.

The paper's recipe, followed here: least-squares adversarial loss; ResNet generators
(c7s1-w, two stride-2 down-convolutions, residual blocks, two up-convolutions, c7s1-C, tanh;
reflection padding; instance norm); 70x70 PatchGAN discriminators (C64-C128-C256-C512,
LeakyReLU 0.2, no norm on the first layer); each discriminator sees generated images from a
history buffer of the last 50 (half of each batch swapped for older ones) so it does not
oscillate with the generator's latest mode; Adam lr 2e-4, beta1 0.5; the learning rate
constant for the first half of training and then decayed linearly to zero; weights from
N(0, 0.02).

Sizes, for CPUs: widths 32 (paper 64) and 3 residual blocks (paper 6 at 128 px, 9 at 256),
any side that is a multiple of 4 (16 to 64 px is what it is meant for). The PatchGAN has 1
stride-2 layer below 24 px (16x16 patches), 2 up to 63 px (34x34), 3 from 64 px (70x70).

Uses only the public plugin API (genzoo.plugin), as a third-party plugin would.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from genzoo.plugin import (
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
    losses,
    to_unit,
)

from genzoo_cyclegan.data import DOMAIN, make_unpaired

__version__ = "0.1.0"

DIRECTIONS = ("AtoB", "BtoA")


def init_weights(m: nn.Module) -> None:
    # The paper: weights from N(0, 0.02).
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(m.weight, 0.0, 0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, (nn.BatchNorm2d, nn.InstanceNorm2d)) and m.weight is not None:
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


def norm2d(kind: str, channels: int) -> nn.Module:
    if kind == "instance":  # the paper's: per-image statistics, no running averages
        return nn.InstanceNorm2d(channels)
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "none":
        return nn.Identity()
    raise GenzooError(f"unknown norm '{kind}'; use instance, batch or none")


def check_size(size: int) -> int:
    if size < 8 or size % 4:
        raise GenzooError(f"cyclegan's generators halve the image twice: the side must be a multiple of 4 (>= 8), not {size}")
    return size


class ResidualBlock(nn.Module):
    """(N, C, H, W) -> same: x + conv-norm-relu-conv-norm(x), reflection padded."""

    def __init__(self, channels: int, norm: str):
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), norm2d(norm, channels), nn.ReLU(True),
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), norm2d(norm, channels),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class ResnetGenerator(nn.Module):
    """Images (N, C, S, S) in [-1, 1] -> images (N, C, S, S) in [-1, 1]; S a multiple of 4.

    c7s1-w, d2w, d4w (stride-2 3x3), ``blocks`` residual blocks at S/4, u2w, uw (stride-2
    transposed 3x3), c7s1-C, tanh: the paper's generator (after Johnson et al.), narrower.
    """

    def __init__(self, channels: int, width: int = 32, blocks: int = 3, norm: str = "instance"):
        super().__init__()
        w = width
        layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(channels, w, 7), norm2d(norm, w), nn.ReLU(True)]
        for m in (1, 2):  # down: w -> 2w -> 4w
            layers += [nn.Conv2d(w * m, w * m * 2, 3, 2, 1), norm2d(norm, w * m * 2), nn.ReLU(True)]
        layers += [ResidualBlock(4 * w, norm) for _ in range(blocks)]
        for m in (4, 2):  # up: 4w -> 2w -> w, exactly doubling the side (output_padding=1)
            layers += [nn.ConvTranspose2d(w * m, w * m // 2, 3, 2, 1, output_padding=1), norm2d(norm, w * m // 2), nn.ReLU(True)]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(w, channels, 7), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


def patch_layers(image_size: int) -> int:
    """Stride-2 layers of the PatchGAN: 1 below 24 px, 2 below 64 px, 3 from 64 px (the paper's 70x70)."""
    return 1 if image_size < 24 else 2 if image_size < 64 else 3


def receptive_field(n_layers: int) -> int:
    """Receptive field in pixels of a PatchGAN with ``n_layers`` stride-2 layers: 16, 34, 70."""
    rf = 4 + 3  # the two stride-1 4x4 convolutions at the end
    for _ in range(n_layers):
        rf = (rf - 1) * 2 + 4
    return rf


class PatchDiscriminator(nn.Module):
    """Images (N, C, S, S) in [-1, 1] -> patch scores (N, 1, P, P), one per overlapping patch.

    Unconditional (unlike pix2pix's): it judges whether each patch looks like its domain.
    """

    def __init__(self, channels: int, image_size: int, width: int = 32, n_layers: int = 0, norm: str = "instance"):
        super().__init__()
        n = n_layers or patch_layers(image_size)
        self.n_layers = n
        layers: list[nn.Module] = [nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.2, True)]  # no norm on pixels
        ch = width
        for i in range(1, n + 1):  # n - 1 more stride-2 layers, then one stride-1 layer
            nxt = width * min(2**i, 8)
            layers += [nn.Conv2d(ch, nxt, 4, 2 if i < n else 1, 1), norm2d(norm, nxt), nn.LeakyReLU(0.2, True)]
            ch = nxt
        layers.append(nn.Conv2d(ch, 1, 4, 1, 1))
        self.net = nn.Sequential(*layers)

    @property
    def receptive_field(self) -> int:
        return receptive_field(self.n_layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class HistoryBuffer(nn.Module):
    """The paper's image pool: the last ``size`` generated images a discriminator trains on.

    :meth:`query` takes a batch of generated images (N, C, S, S) and returns a batch of the
    same shape: while the buffer fills, each image is stored and returned; once full, each
    image is, with probability 1/2, returned as it is, else swapped for a random stored one
    (returned) and stored in its place. Its contents are buffers (``images``, ``count``), so
    they are part of the model's state: saved in checkpoints and restored on resume. The
    coin flips come from ``generator`` (default: torch's global CPU generator, which the
    engine seeds and checkpoints), so the same seed gives the same mix.
    """

    def __init__(self, size: int, channels: int, image_size: int):
        super().__init__()
        self.size = size
        self.register_buffer("images", torch.zeros(size, channels, image_size, image_size))
        self.register_buffer("count", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def query(self, images: Tensor, generator: torch.Generator | None = None) -> Tensor:
        images = images.detach()
        if self.size == 0:
            return images
        out = images.clone()
        n = len(images)
        coins = torch.rand(n, generator=generator)  # on the CPU: one stream whatever the device
        slots = torch.randint(0, self.size, (n,), generator=generator)
        for i in range(n):
            k = int(self.count)
            if k < self.size:  # filling: keep it, hand it on
                self.images[k] = images[i]
                self.count += 1
            elif coins[i] < 0.5:  # hand on an older image, keep the new one in its slot
                j = int(slots[i])
                out[i] = self.images[j]
                self.images[j] = images[i]
        return out


@dataclass
class CycleGANConfig(ModelConfig):
    image_size: int = bounded(0, min=0)  # a multiple of 4; 0: the data's (fashion-mnist 28, digits 16)
    task: str = ""  # unpaired domains from one dataset: classes:A,B (e.g. classes:7,9) | invert; "" for unpaired:DIR_A,DIR_B
    domain_a: str = ""  # what domain A is (taken from the data: a class name, a folder name)
    domain_b: str = ""  # what domain B is
    g_width: int = bounded(16, min=1)  # channels of the generators' first layer (x2, x4 below); paper: 64
    g_blocks: int = bounded(3, min=1)  # residual blocks at 1/4 of the side; paper: 6 at 128 px, 9 at 256 px
    d_width: int = bounded(32, min=1)  # PatchGAN channels at the first layer; paper: 64
    d_layers: int = bounded(0, min=0)  # PatchGAN stride-2 layers; 0: by size (1 below 24 px, 2 below 64, 3 = 70x70 patches)
    norm: str = "instance"  # instance | batch | none
    loss: str = "least-squares"  # adversarial loss from the registry (`genzoo list losses`); the paper's is least-squares
    cycle_weight: float = bounded(10.0, min=0)  # lambda: weight of the cycle-consistency L1 terms
    identity_weight: float = bounded(0.5, min=0)  # identity L1 weight, as a multiple of lambda (paper: 0.5; 0 = off)
    pool_size: int = bounded(50, min=0)  # generated images each discriminator's history buffer keeps (paper: 50; 0 = off)
    eval_shares: int = bounded(1000, min=0)  # classes:A,B on digits / fashion-mnist: after training, score this many test images per class (0 = off)
    decay_after: float = bounded(0.5, min=0, max=1)  # share of the steps at constant lr, then linear decay to 0 (paper: 100 of 200 epochs); 1 = off
    steps: int | None = 3000
    batch_size: int = 16  # drawn from both domains together: about half A, half B
    num_samples: int = 48  # preview: 8 columns x (input / translation / reconstruction) x 2 directions
    sample_every: int = 500
    checkpoint_every: int = 500


class CycleGANModel(GenerativeModel):
    """g_ab, g_ba: ResnetGenerator; d_a, d_b: PatchDiscriminator; pool_a, pool_b: HistoryBuffer.

    Use :meth:`translate` (TranslatesImages) in direction AtoB or BtoA, or :meth:`cycle`.
    """

    sampling_network = None  # two generators and no latent space: nothing to sample from
    lacks_capabilities = (Samples,)  # sample() refuses: CycleGAN translates given images

    def __init__(self, config: CycleGANConfig):
        super().__init__(config)
        c, s = config.channels, check_size(config.image_size)
        if config.pool_size < 0:
            raise GenzooError(f"pool_size must be >= 0, got {config.pool_size}")
        self.g_ab = ResnetGenerator(c, config.g_width, config.g_blocks, config.norm)
        self.g_ba = ResnetGenerator(c, config.g_width, config.g_blocks, config.norm)
        self.d_a = PatchDiscriminator(c, s, config.d_width, config.d_layers, config.norm)
        self.d_b = PatchDiscriminator(c, s, config.d_width, config.d_layers, config.norm)
        self.apply(init_weights)
        # the generated images D_A sees are A images (from G_BA), D_B's are B images
        self.pool_a = HistoryBuffer(config.pool_size, c, s)
        self.pool_b = HistoryBuffer(config.pool_size, c, s)

    @property
    def in_channels(self) -> int:
        return int(self.config.channels)

    @property
    def directions(self) -> tuple[str, ...]:
        """AtoB (G_AB, the default) and BtoA (G_BA) (TranslatesImages)."""
        return DIRECTIONS

    def generator(self, direction: str) -> nn.Module:
        if direction not in DIRECTIONS:
            raise GenzooError(f"unknown direction '{direction}'; a cyclegan model translates AtoB or BtoA")
        return self.g_ab if direction == "AtoB" else self.g_ba

    def sample(self, n: int, **kwargs: Any) -> Tensor:  # type: ignore[override]
        raise GenzooError(
            "cyclegan translates images between two domains instead of drawing them from noise: use "
            "model.translate(images, direction='AtoB') or `genzoo translate RUN IMAGES... --direction AtoB --out DIR`"
        )

    def _check_inputs(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor) or x.ndim != 4:
            raise GenzooError(f"translate takes a tensor (N, C, H, W) with values in [0, 1], got {getattr(x, 'shape', type(x))}")
        c, s = self.in_channels, int(self.config.image_size)
        if x.shape[1] != c:
            kind = {1: "grayscale", 3: "RGB"}
            raise GenzooError(f"this model translates {kind.get(c, c)} images ({c} channels), got {x.shape[1]} channels")
        if tuple(x.shape[-2:]) != (s, s):
            raise GenzooError(f"this model translates {s}x{s} images, got {x.shape[-2]}x{x.shape[-1]}; resize them first "
                              "(genzoo translate resizes files for you)")
        return x

    @torch.inference_mode()
    def translate(self, x: Tensor, *, direction: str = "AtoB", seed: int | None = None, batch_size: int = 64) -> Tensor:
        """Images (N, C, S, S) in [0, 1] of the source domain -> (N, C, S, S) in [0, 1] of the other.

        ``direction`` AtoB runs G_AB, BtoA runs G_BA. Deterministic (no noise; instance norm
        uses each image's own statistics), so ``seed`` is accepted and ignored.
        """
        g = self.generator(direction)
        x = self._check_inputs(x)
        with self.evaluating():
            outs = [g(x[i : i + batch_size].to(self.device).float() * 2 - 1) for i in range(0, len(x), batch_size)]
        return to_unit(torch.cat(outs).float()).cpu() if outs else x.clone()

    def cycle(self, x: Tensor, *, direction: str = "AtoB", batch_size: int = 64) -> tuple[Tensor, Tensor]:
        """x (N, C, S, S) in [0, 1] -> (translation, reconstruction), both (N, C, S, S) in [0, 1]:
        AtoB gives (G_AB(x), G_BA(G_AB(x)))."""
        y = self.translate(x, direction=direction, batch_size=batch_size)
        back = "BtoA" if direction == "AtoB" else "AtoB"
        return y, self.translate(y, direction=back, batch_size=batch_size)

    def preview(self, data: ImageDataset, n: int, seed: int = 0) -> tuple[Tensor, int]:
        """Grid during training and on the model card: rows input / translation / reconstruction
        for the first n // 6 images of A (AtoB), then the same for B (BtoA)."""
        k = max(1, n // 6)
        dom = data.extra[DOMAIN]
        rows = []
        for d, direction in ((0, "AtoB"), (1, "BtoA")):
            x = to_unit(data.images[(dom == d).nonzero().flatten()[:k]].float().clone())
            y, rec = self.cycle(x, direction=direction)
            rows += [x, y, rec]
        k = min(len(r) for r in rows)
        return torch.cat([r[:k] for r in rows]), k


class LinearDecay:
    """The paper's schedule: learning rate constant for the first ``decay_after`` share of the
    steps, then decayed linearly to zero at the last step.

    genzoo's phases give a hook after each optimizer step (``Phase.after_step``) but not the
    optimizer itself, so the decay scales the step instead of the learning rate: the loss
    function remembers the parameters before the step (:meth:`before`), and the after-step
    hook moves them back to ``before + f * (after - before)``. Every optimizer genzoo has
    (Adam, AdamW, RMSprop, SGD) makes an update proportional to its learning rate, and the
    moment estimates do not depend on it, so this is exactly lr * f.
    """

    def __init__(self, steps: int | None, decay_after: float):
        self.steps, self.decay_after = steps, decay_after
        self._saved: list[tuple[nn.Parameter, Tensor]] = []
        self._f = 1.0

    def factor(self, step: int) -> float:
        """lr multiplier at 0-based ``step``: 1, then (steps - step) / (steps - start)."""
        if self.steps is None or self.decay_after >= 1:
            return 1.0
        start = int(self.decay_after * self.steps)
        return 1.0 if step < start else max(0.0, (self.steps - step) / max(1, self.steps - start))

    def before(self, modules: list[nn.Module], step: int) -> float:
        self._f = self.factor(step)
        self._saved = [(p, p.detach().clone()) for m in modules for p in m.parameters()] if self._f < 1 else []
        return self._f

    @torch.no_grad()
    def after(self, model: nn.Module) -> None:
        for p, old in self._saved:
            p.lerp_(old, 1.0 - self._f)  # f * new + (1 - f) * old
        self._saved = []


def check_config(config: CycleGANConfig) -> None:
    for key in ("cycle_weight", "identity_weight"):
        if getattr(config, key) < 0:
            raise GenzooError(f"{key} must be >= 0, got {getattr(config, key)}")
    if not 0 <= config.decay_after <= 1:
        raise GenzooError(f"decay_after must be in [0, 1] (1 = no decay), got {config.decay_after}")


def _recipe(model: CycleGANModel, config: CycleGANConfig) -> Recipe:
    check_config(config)
    adv = losses.get(config.loss)
    if not hasattr(adv, "d") or not hasattr(adv, "g"):
        raise GenzooError(f"loss '{config.loss}' is not an adversarial loss (it needs d and g parts)")
    lam, lam_idt = config.cycle_weight, config.identity_weight * config.cycle_weight
    decay_g, decay_d = LinearDecay(config.steps, config.decay_after), LinearDecay(config.steps, config.decay_after)

    def split(ctx: StepContext) -> tuple[Tensor, Tensor]:
        # A batch is a random draw from both domains together: no image of A is paired with one of B.
        x, dom = ctx.batch.images, ctx.batch.extra[DOMAIN]
        return x[dom == 0], x[dom == 1]

    def g_loss(ctx: StepContext) -> tuple[Tensor, dict[str, Tensor]]:
        m: Any = ctx.model
        f = decay_g.before([model.g_ab, model.g_ba], ctx.step)
        a, b = split(ctx)
        total = torch.zeros((), device=ctx.device, requires_grad=True)
        logs: dict[str, Tensor] = {"lr_factor": torch.tensor(f)}
        if len(a):  # A -> B -> A
            fake_b = m.g_ab(a)
            ctx.state["fake_b"] = fake_b.detach()
            g_adv, cyc = adv.g(m.d_b(fake_b).flatten()), (m.g_ba(fake_b) - a).abs().mean()
            total = total + g_adv + lam * cyc
            logs.update(g_adv_b=g_adv.detach(), cycle_a=cyc.detach())
            if lam_idt > 0:  # G_BA should leave an A image alone
                idt = (m.g_ba(a) - a).abs().mean()
                total = total + lam_idt * idt
                logs["identity_a"] = idt.detach()
        if len(b):  # B -> A -> B
            fake_a = m.g_ba(b)
            ctx.state["fake_a"] = fake_a.detach()
            g_adv, cyc = adv.g(m.d_a(fake_a).flatten()), (m.g_ab(fake_a) - b).abs().mean()
            total = total + g_adv + lam * cyc
            logs.update(g_adv_a=g_adv.detach(), cycle_b=cyc.detach())
            if lam_idt > 0:
                idt = (m.g_ab(b) - b).abs().mean()
                total = total + lam_idt * idt
                logs["identity_b"] = idt.detach()
        return total, logs

    def d_loss(ctx: StepContext) -> tuple[Tensor, dict[str, Tensor]]:
        m: Any = ctx.model
        decay_d.before([model.d_a, model.d_b], ctx.step)
        a, b = split(ctx)
        total = torch.zeros((), device=ctx.device, requires_grad=True)
        logs: dict[str, Tensor] = {}
        # D_A: real A images against generated A images (from B), through the history buffer
        for name, real, key, d, pool in (("a", a, "fake_a", m.d_a, model.pool_a), ("b", b, "fake_b", m.d_b, model.pool_b)):
            fake = ctx.state.get(key)
            if len(real) == 0 or fake is None:  # this batch drew no image of one side
                continue
            fake = pool.query(fake)
            d_real, d_fake = d(real).flatten(), d(fake).flatten()
            loss = adv.d(d_real, d_fake)
            total = total + loss
            logs[f"d_{name}"] = loss.detach()
        return total, logs

    def record_shares(ctx: Any) -> None:
        """After training, on classes:A,B tasks: the class shares of the held-out test images,
        into the model card's evaluation (and log.jsonl)."""
        if config.eval_shares <= 0 or not config.task.strip().startswith("classes") or ":" in config.data:
            return
        # here: it loads the classifier and the test split, which only this hook needs
        from genzoo_cyclegan.shares import card_entries, class_shares

        try:
            with ctx.inference_weights() as m:
                r = class_shares(m, n=config.eval_shares, data_dir=ctx.data_dir)
        except GenzooError as e:  # no shipped classifier, no test split: the run itself is fine
            ctx.log({"class_shares_skipped": str(e)})
            return
        ctx.model.meta["evaluation"] = card_entries(r)
        ctx.log({"class_shares": {d: r[d] for d in ("AtoB", "BtoA")}})

    return Recipe(
        after_training=[record_shares],
        phases=[
            # G first, as the paper's code: D then trains on the images G just made
            Phase("g", ["g_ab", "g_ba"], g_loss, after_step=[decay_g.after]),
            Phase("d", ["d_a", "d_b"], d_loss, after_step=[decay_d.after]),
        ],
        ema_module=None,
    )


class CycleGANFamily(Family):
    card_template = "genzoo.card_templates:cyclegan.md"
    description = "CycleGAN (Zhu et al. 2017): unpaired translation A <-> B, two ResNet generators + PatchGANs; 16-64 px"
    config_class = CycleGANConfig
    model_class = CycleGANModel
    pipeline_tag = "image-to-image"
    needs = (DOMAIN,)
    image_sizes = (16, 28, 32, 64)
    image_size_rule = "any multiple of 4 (the generators halve the side twice)"
    reference_recipes = (
        ReferenceRecipe("fashion-mnist-shoes-boots-10min-cpu", "fashion-mnist",
                        "sneakers <-> ankle boots (unpaired) in 10 CPU-minutes",
                        max_time="10m", overrides={"task": "classes:7,9"}, eval_n=1000),
        ReferenceRecipe("digits-3-8-10min-cpu", "digits", "digits 3 <-> 8 (unpaired) in 10 CPU-minutes",
                        max_time="10m", overrides={"task": "classes:3,8"}, eval_n=60),
    )

    def check_image_size(self, image_size: int) -> None:
        check_size(image_size)

    def size_defaults(self, image_size: int, config: CycleGANConfig | None = None) -> dict[str, Any]:  # type: ignore[override]
        return {"d_layers": patch_layers(image_size)}

    def prepare_data(self, data: ImageDataset, config: CycleGANConfig) -> ImageDataset:  # type: ignore[override]
        """Two domains in one dataset (``extra["domain"]``), from ``unpaired:`` data or ``task``."""
        return make_unpaired(data, task=config.task, seed=config.seed)[0]

    def configure_for_data(self, config: CycleGANConfig, data: ImageDataset) -> CycleGANConfig:  # type: ignore[override]
        if DOMAIN not in data.extra:
            raise GenzooError(f"cyclegan needs two domains and '{data.name}' has none; use --data unpaired:DIR_A,DIR_B or --task")
        config = super().configure_for_data(config, data)  # channels; no labels
        a, b = data.class_names if len(data.class_names) == 2 else ("A", "B")  # make_unpaired names the domains
        return dataclasses.replace(config, domain_a=config.domain_a or a, domain_b=config.domain_b or b)

    def heldout_translations(self, data: ImageDataset, config: CycleGANConfig) -> tuple[Tensor, Tensor, bool]:  # type: ignore[override]
        """Held-out domain-A images (translated AtoB, the default direction) and the held-out
        domain-B images they should look like; unpaired."""
        domain = data.extra[DOMAIN].long()
        return data.images[domain == 0], data.images[domain == 1], False

    def recipe(self, model: CycleGANModel, config: CycleGANConfig) -> Recipe:  # type: ignore[override]
        return _recipe(model, config)


__all__ = [
    "CycleGANConfig", "CycleGANFamily", "CycleGANModel", "HistoryBuffer", "LinearDecay", "PatchDiscriminator",
    "ResnetGenerator", "DIRECTIONS", "receptive_field", "patch_layers",
]
