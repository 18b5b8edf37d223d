"""A normalizing flow (Glow / RealNVP, see :mod:`genzoo_flow.glow`) as the genzoo family ``flow``.

Training minimises the exact negative log-likelihood of uniformly dequantized 8-bit images,
in bits per dimension (Theis, van den Oord and Bethge 2016; RealNVP; Glow)::

    x in {0, ..., 255}^D,  y = (x + u) / 256,  u ~ U[0, 1)^D
    bits/dim = (-log p(y) / D + log 256) / log 2          (8 for the uniform model)

-log p(y) + D log 256 is the negative log-density of x + u on [0, 256)^D, the number every
published bits/dim (RealNVP 3.49, Glow 3.35 on CIFAR-10) reports; averaged over u it bounds
-log P(x) of the discrete image from above. Images that are not 8-bit (digits are 8x8
images with 17 grey levels, upscaled to 16 px) are rounded to 8 bits first.

The model's latent is the flow's standard-normal eps, as large as the image (D = C * S * S):
``sample`` draws eps ~ N(0, T^2 I) (``temperature`` T, as Glow's section 5) and inverts the
flow; ``encode``/``decode`` are the two directions of the bijection, so ``genzoo interpolate``
and ``arithmetic`` work, and ``log_likelihood`` / ``anomaly_score`` give bits/dim.

Sizes: 16 to 64 px with a side divisible by 4 (two squeezes), gray or RGB. Uses only the
public plugin API (genzoo.plugin).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from genzoo.plugin import (
    Family,
    GenzooError,
    LatentModel,
    Likelihood,
    ModelConfig,
    Phase,
    Recipe,
    StepContext,
    standard_recipes,
    TrainingContext,
    bounded,
    console,
    to_signed,
)
from genzoo_flow.glow import Glow

__version__ = "0.1.0"
__all__ = ["FlowConfig", "FlowModel", "FlowFamily", "Glow", "auto_levels", "bits_per_dim"]

MIN_SIZE, MAX_SIZE, MAX_AUTO_LEVELS = 16, 64, 3
BINS = 256  # 8-bit data


def auto_levels(image_size: int) -> int:
    """Scales for ``levels=0``: halve the side while it stays even and at least 4, at most 3 times.

    16 -> 2 (8, 4), 28 -> 2 (14, 7), 32 -> 3 (16, 8, 4), 64 -> 3 (32, 16, 8).
    """
    levels, s = 0, image_size
    while levels < MAX_AUTO_LEVELS and s % 2 == 0 and s // 2 >= 4:
        levels, s = levels + 1, s // 2
    return levels


def check_size(image_size: int, levels: int) -> int:
    """The number of levels to build for ``image_size``, or a one-line GenzooError."""
    if not MIN_SIZE <= image_size <= MAX_SIZE or image_size % 4:
        raise GenzooError(
            f"the flow handles {MIN_SIZE} to {MAX_SIZE} px images with a side divisible by 4 (16, 28, 32, 64 ...), "
            f"got {image_size}x{image_size}; resize with --set image_size=32"
        )
    n = levels or auto_levels(image_size)
    if n < 1 or image_size % (2**n):
        raise GenzooError(f"levels={levels}: a {image_size} px side cannot be squeezed (halved) {levels} times; "
                          f"use levels <= {auto_levels(image_size)}, or 0 for automatic")
    return n


def bits_per_dim(log_density: Tensor, dims: int) -> Tensor:
    """log p(y) (N,) of dequantized images y in [0, 1]^dims -> bits/dim of the 8-bit images (N,)."""
    return (-log_density / dims + math.log(BINS)) / math.log(2)


@dataclass
class FlowConfig(ModelConfig):
    levels: int = bounded(0, min=0)  # scales (squeeze + depth steps [+ split]); 0 = automatic (2 at 16 and 28 px, 3 at 32 and 64)
    depth: int = bounded(8, min=1)  # Glow steps (actnorm, 1x1 conv, coupling) per level
    hidden: int = bounded(64, min=1)  # channels of each coupling's conv net
    preprocess: str = "logit"  # logit (RealNVP: logit(alpha + (1 - 2 alpha) y)) | affine (Glow: y - 0.5)
    logit_alpha: float = bounded(0.05, min=0, max=0.5, min_open=True, max_open=True)  # logit only: keeps pixel values 0 and 1 at finite h
    scale_clamp: float = bounded(2.0, min=0, min_open=True)  # coupling log-scales are soft-clamped to +-scale_clamp (a stable inverse)
    temperature: float = bounded(1.0, min=0)  # default sampling temperature (std of eps); --opt temperature=0.7 overrides
    eval_images: int = bounded(2000, min=0)  # test-split images for the held-out bits/dim each epoch and at the end; 0 = off
    # optimisation: Adam 1e-3 (Glow's rate), clipped gradients; 1500 steps of 64 are ~64 epochs
    # of digits (about 6 minutes on one busy CPU core) or ~1.6 of fashion-mnist.
    steps: int = 1500
    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.999)
    grad_clip: float = 50.0
    sample_every: int = 500
    checkpoint_every: int = 500


class FlowModel(LatentModel):
    """flow: :class:`~genzoo_flow.glow.Glow`. Images at this API are (N, C, S, S) in [0, 1].

    Its latent (``latent_dim`` = C * S * S) is the flow's standard-normal eps; every latent
    sampler (normal, truncated-normal, uniform) draws it, scaled by the temperature.
    """

    sampling_network = "flow"

    def __init__(self, config: FlowConfig):
        super().__init__(config)
        if config.preprocess not in ("logit", "affine"):
            raise GenzooError(f"preprocess must be logit or affine, got '{config.preprocess}'")
        if not 0 < config.logit_alpha < 0.5:
            raise GenzooError(f"logit_alpha must be in (0, 0.5), got {config.logit_alpha}")
        for key in ("depth", "hidden"):
            if getattr(config, key) < 1:
                raise GenzooError(f"{key} must be at least 1, got {getattr(config, key)}")
        if config.scale_clamp <= 0 or config.temperature < 0:
            raise GenzooError("scale_clamp must be > 0 and temperature >= 0")
        if config.conditional:
            raise GenzooError("the flow is unconditional: drop --set conditional=true")
        self.num_levels = check_size(config.image_size, config.levels)
        self.flow = Glow(config.channels, config.image_size, levels=self.num_levels, depth=config.depth,
                         hidden=config.hidden, preprocess=config.preprocess, alpha=config.logit_alpha,
                         clamp=config.scale_clamp)

    # -- the latent ------------------------------------------------------------------------
    @property
    def latent_dim(self) -> int:
        c = self.config
        return int(c.channels * c.image_size * c.image_size)

    def draw_noise(self, n: int, gen: torch.Generator, *, sampler: str | None = None,
                   temperature: float | None = None, **kwargs: Any) -> Tensor:
        """eps (n, latent_dim) on the CPU: the sampler's N(0, I) draw times the temperature
        (``temperature`` option, else the config's; 0 gives the prior's mode, eps = 0)."""
        t = float(self.config.temperature if temperature is None else temperature)  # type: ignore[attr-defined]
        if not (t >= 0 and math.isfinite(t)):
            raise GenzooError(f"temperature must be a number >= 0, got {temperature}")
        return super().draw_noise(n, gen, sampler=sampler, **kwargs) * t

    def _sample_batch(self, noise: Tensor, labels: Tensor | None, **kwargs: Any) -> Tensor:
        return to_signed(self._to_image(self.flow.inverse(noise)))

    # -- [0, 1] images <-> the flow's y ----------------------------------------------------
    def _check(self, images: Tensor, labels: Any) -> Tensor:
        c = self.config
        if not isinstance(images, Tensor) or images.ndim != 4 or tuple(images.shape[1:]) != (
                c.channels, c.image_size, c.image_size):
            got = tuple(images.shape) if isinstance(images, Tensor) else type(images).__name__
            raise GenzooError(f"expected images of shape (N, {c.channels}, {c.image_size}, {c.image_size}) "
                              f"in [0, 1], got {got}")
        if labels is not None:
            self.check_labels(labels, images.shape[0])  # raises the "not conditional" error
        return images.to(self.device, torch.float32).clamp(0, 1)

    @staticmethod
    def _bin_centres(x01: Tensor) -> Tensor:
        """[0, 1] images -> the centres of their 8-bit bins in y: (round(255 x) + 0.5) / 256."""
        return (torch.round(x01 * (BINS - 1)) + 0.5) / BINS

    @staticmethod
    def _to_image(y: Tensor) -> Tensor:
        """y -> [0, 1] images, the inverse of the bin-centre map (so decode(encode(x)) == x)."""
        return ((y * BINS - 0.5) / (BINS - 1)).clamp(0, 1)

    # -- public API ------------------------------------------------------------------------
    @torch.inference_mode()
    def encode(self, images: Tensor, labels: Any = None, *, batch_size: int = 256) -> tuple[Tensor, Tensor]:
        """EncodesImages: images (N, C, S, S) in [0, 1] -> (eps, logvar), each (N, latent_dim), CPU.

        eps is the flow's latent of each image's 8-bit bin centre (deterministic: logvar is
        -inf); ``decode(eps)`` gives the image back.
        """
        x = self._check(images, labels)
        with self.evaluating():
            eps = torch.cat([self.flow(self._bin_centres(x[i : i + batch_size]))[0]
                             for i in range(0, x.shape[0], batch_size)]).float().cpu()
        return eps, torch.full_like(eps, -math.inf)

    @torch.inference_mode()
    def decode(self, z: Tensor, labels: Any = None, *, batch_size: int = 256) -> Tensor:
        """DecodesLatents: eps (N, latent_dim) -> images (N, C, S, S) in [0, 1] (the inverse flow)."""
        self.check_labels(labels, z.shape[0])
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise GenzooError(f"expected latents of shape (N, {self.latent_dim}), got {tuple(z.shape)}")
        with self.evaluating():
            out = [self._to_image(self.flow.inverse(z[i : i + batch_size].to(self.device, torch.float32)))
                   for i in range(0, z.shape[0], batch_size)]
        return torch.cat(out).float().cpu()

    def reconstruct(self, images: Tensor, labels: Any = None, *, sample: bool = False, seed: int = 0) -> Tensor:
        """Reconstructs: decode(encode(images)): the images rounded to 8 bits (a flow is a bijection)."""
        return self.decode(self.encode(images, labels)[0])

    @torch.inference_mode()
    def log_density(self, images: Tensor, labels: Any = None, *, seed: int = 0, samples: int = 1,
                    batch_size: int = 256) -> Tensor:
        """log p(y) in nats (N,) of each image's dequantized form y = (round(255 x) + u) / 256,
        averaged over ``samples`` seeded draws of u ~ U[0, 1)^D; images (N, C, S, S) in [0, 1]."""
        if samples < 1:
            raise GenzooError(f"samples must be at least 1, got {samples}")
        x = self._check(images, labels)
        gen = torch.Generator().manual_seed(int(seed))
        out = []
        with self.evaluating():
            for i in range(0, x.shape[0], batch_size):
                xi = torch.round(x[i : i + batch_size] * (BINS - 1))
                total = torch.zeros(xi.shape[0], device=xi.device)
                for _ in range(samples):
                    u = torch.rand(xi.shape, generator=gen).to(xi)
                    total += self.flow((xi + u) / BINS)[1] / samples
                out.append(total.float().cpu())
        return torch.cat(out)

    def log_likelihood(self, images: Tensor, labels: Any = None, *, seed: int = 0, samples: int = 1) -> Likelihood:
        """HasLikelihood: log p of each 8-bit image, exact up to the dequantization, -> Likelihood.

        ``nats`` = log p(y) - D log 256 (the log-density of x + u on [0, 256)^D), bits_per_dim
        the standard unit; exact=True: the flow's density is computed exactly (no bound on the
        model), and averaged over u it is the usual dequantization lower bound on log P(x).
        """
        d = self.latent_dim
        nats = self.log_density(images, labels, seed=seed, samples=samples) - d * math.log(BINS)
        return Likelihood.from_nats(nats, d, exact=True)

    def anomaly_score(self, images: Tensor, labels: Any = None, *, seed: int = 0, samples: int = 1) -> dict[str, Tensor]:
        """ScoresAnomalies: ``score`` = bits/dim (N,) (higher = less likely under the model), and
        ``nll_nats`` = -log p in nats; see the caveat on likelihood scores in genzoo.anomaly."""
        ll = self.log_likelihood(images, labels, seed=seed, samples=samples)
        return {"score": ll.bits_per_dim, "nll_nats": -ll.nats}


# ------------------------------------------------------------------------------------------
# training recipe: one phase, held-out bits/dim as engine hooks
# ------------------------------------------------------------------------------------------
class HeldOut:
    """The test split (loaded once, first ``limit`` images) and its bits/dim under the shipped weights."""

    def __init__(self, limit: int):
        self.limit, self.data, self.failed, self.name = limit, None, False, "test"

    def bits_per_dim(self, ctx: TrainingContext) -> float | None:
        if self.limit <= 0 or self.failed:
            return None
        if self.data is None:
            try:
                d = ctx.held_out("test")
            except GenzooError as e:
                console.print(f"[yellow]note:[/] no held-out bits/dim: the test split of '{ctx.config.data}' "
                              f"could not be loaded ({e})")
                self.failed = True
                return None
            train = ctx.data.images
            if d.images.shape == train.shape and torch.equal(d.images[:64], train[:64].cpu()):
                self.name = "train"  # folder: data has no separate test split; say so
            self.data = (d.images[: self.limit] + 1) / 2
        with ctx.inference_weights() as m:
            return float(m.log_likelihood(self.data, seed=0).bits_per_dim.mean())


def flow_recipe(model: FlowModel, config: FlowConfig) -> Recipe:
    dims = model.latent_dim

    def loss(ctx: StepContext) -> tuple[Tensor, dict[str, Tensor]]:
        x = torch.round((ctx.batch.images + 1) * 0.5 * (BINS - 1))  # 8-bit values 0..255
        y = (x + torch.rand_like(x)) / BINS  # uniform dequantization
        _, log_density = ctx.model.flow(y)  # type: ignore[union-attr]
        bpd = bits_per_dim(log_density, dims).mean()
        return bpd, {"bits_per_dim": bpd.detach()}

    held = HeldOut(config.eval_images)

    def after_epoch(ctx: TrainingContext, epoch: int) -> dict[str, float] | None:
        v = held.bits_per_dim(ctx)
        return None if v is None else {f"{held.name}_bits_per_dim": v}

    def after_training(ctx: TrainingContext) -> None:
        v = held.bits_per_dim(ctx)
        if v is None:
            return
        n = int(held.data.shape[0])
        entry = {"metric": "bits_per_dim", "name": f"bits/dim ({held.name} split, 8-bit, uniform dequantization)",
                 "value": round(v, 4), "split": held.name,
                 "protocol": {"images": n, "dequantization_samples": 1, "seed": 0}}
        m = ctx.model
        kept = [e for e in m.meta.get("evaluation", []) or [] if e.get("metric") != "bits_per_dim"]
        m.meta["evaluation"] = kept + [entry]
        ctx.log({"step": ctx.step, f"{held.name}_bits_per_dim": v})
        console.print(f"held-out bits/dim: {v:.3f} on {n} {held.name}-split images")

    return Recipe(
        phases=[Phase("model", ["flow"], loss)],
        after_epoch=[after_epoch] if config.eval_images > 0 else [],
        after_training=[after_training],
    )


class FlowFamily(Family):
    card_template = "genzoo.card_templates:flow.md"
    description = "Normalizing flow (Glow/RealNVP): multi-scale, exact log-likelihood in bits/dim, temperature sampling"
    config_class = FlowConfig
    model_class = FlowModel
    reference_recipes = standard_recipes()
    image_sizes = (16, 28, 32, 64)
    image_size_rule = f"{MIN_SIZE} to {MAX_SIZE} px with a side divisible by 4"

    def check_image_size(self, image_size: int) -> None:
        check_size(image_size, 0)

    def size_defaults(self, image_size: int, config: FlowConfig | None = None) -> dict[str, Any]:  # type: ignore[override]
        return {"levels": auto_levels(image_size)}

    def recipe(self, model: FlowModel, config: FlowConfig) -> Recipe:  # type: ignore[override]
        if not isinstance(model, FlowModel):
            raise GenzooError(f"flow_recipe needs a FlowModel, got {type(model).__name__}")
        return flow_recipe(model, config)
