"""A plain (deterministic) autoencoder as a genzoo family: ``ae``.

An encoder maps an image x to one code z = f(x) (no distribution, no noise), a decoder maps
it back, and training minimises the reconstruction error alone, per pixel in [0, 1] units::

    L(x) = mean over pixels of (g(f(x)) - x)^2          (l2, the default)
         = mean over pixels of |g(f(x)) - x|            (loss=l1)

Nothing asks the codes to fill any particular region of latent space, which is the point
the lectures make with it: decoding z ~ N(0, I) gives junk, because the encoder's codes
sit wherever training put them (with scales and correlations of their own), not on the
prior. "You can't sample it" until something models where the codes are. Here that is the
same machinery the VAE uses: after training, a Gaussian mixture (genzoo.plugin.LatentGMM)
is fitted to the encoded training set and saved with the weights, and ``sample`` draws
from it by default (the core ``gmm`` sampler); ``sampler="normal"`` shows the failure.
This is the RAE recipe of Ghosh et al. 2020 (arXiv:1903.12436) without its regulariser.

Capabilities: EncodesImages (``encode`` returns the code as the mean and a logvar of
-inf: zero variance), Reconstructs, DecodesLatents, HasLatentMixture, Samples and
ScoresAnomalies (per-image reconstruction error). Sizes: base * 2^k with base 4..7
(16, 28, 32, 64 ...), gray or RGB. Uses only the public plugin API (genzoo.plugin).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from genzoo.plugin import (
    Encoder,
    Family,
    Generator,
    GenzooError,
    ImageDataset,
    LatentGMM,
    LatentModel,
    ModelConfig,
    mean_image,
    Phase,
    Recipe,
    StepContext,
    standard_recipes,
    TrainingContext,
    bounded,
    comparison_rows,
    console,
    to_signed,
    to_unit,
    size_plan,
)

__version__ = "0.1.0"

LOSSES = ("l2", "l1")


def plan(image_size: int) -> tuple[int, int]:
    """image_size -> (base, halvings) with base in 4..7: 32 -> (4, 3), 28 -> (7, 2), 16 -> (4, 2)."""
    return size_plan(image_size, "the autoencoder cannot handle")


def pixel_error(recon01: Tensor, x01: Tensor, loss: str) -> Tensor:
    """Per-image reconstruction error, the mean over pixels of (r - x)^2 (l2) or |r - x| (l1).

    recon01, x01: (N, C, H, W) in [0, 1] -> (N,), in [0, 1] pixel units (squared for l2).
    """
    d = recon01 - x01
    return (d.pow(2) if loss == "l2" else d.abs()).flatten(1).mean(1)


# ------------------------------------------------------------------------------------------
# networks
# ------------------------------------------------------------------------------------------
class ConvEncoder(Encoder):
    """Images (N, C, S, S) in [-1, 1] -> codes (N, latent_dim), unbounded reals.

    Strided 4x4 convolutions halve the map down to base x base (base 4..7), widths doubling
    from ``width``; a linear layer gives the code. No normalisation layers, so a code depends
    on its image alone (not on the batch it came in).
    """

    def __init__(self, channels: int, image_size: int, width: int, latent_dim: int):
        super().__init__()
        self.latent_dim = latent_dim
        base, downs = plan(image_size)
        layers: list[nn.Module] = []
        ch_in, ch = channels, width
        for _ in range(downs):
            layers += [nn.Conv2d(ch_in, ch, 4, 2, 1), nn.LeakyReLU(0.2, True)]
            ch_in, ch = ch, ch * 2
        self.conv = nn.Sequential(*layers)
        self.head = nn.Linear(ch_in * base * base, latent_dim)

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        return self.head(self.conv(x).flatten(1))


class ConvDecoder(Generator):
    """Codes (N, latent_dim) -> images (N, C, S, S) in [-1, 1]: the encoder's mirror image.

    The last layer's output goes through a sigmoid, so the reconstruction is a [0, 1] image
    before it is mapped to [-1, 1] like every genzoo generator's output.
    """

    def __init__(self, latent_dim: int, channels: int, image_size: int, width: int):
        super().__init__()
        self.latent_dim = latent_dim
        base, ups = plan(image_size)
        ch = width * 2 ** (ups - 1)
        self.base, self.ch = base, ch
        self.fc = nn.Linear(latent_dim, ch * base * base)
        layers: list[nn.Module] = [nn.LeakyReLU(0.2, True)]
        for _ in range(ups - 1):
            layers += [nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1), nn.LeakyReLU(0.2, True)]
            ch //= 2
        layers += [nn.ConvTranspose2d(ch, channels, 4, 2, 1)]
        self.net = nn.Sequential(*layers)

    def unit(self, z: Tensor) -> Tensor:
        """Codes (N, latent_dim) -> images (N, C, S, S) in [0, 1] (what the loss compares)."""
        return torch.sigmoid(self.net(self.fc(z).view(-1, self.ch, self.base, self.base)))

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        return to_signed(self.unit(z))


# ------------------------------------------------------------------------------------------
# config and model
# ------------------------------------------------------------------------------------------
@dataclass
class AEConfig(ModelConfig):
    latent_dim: int = bounded(16, min=1)
    width: int = bounded(32, min=1)  # encoder channels after the first convolution (doubling with depth); decoder mirrors it
    loss: str = "l2"  # l2 | l1: mean squared or mean absolute error per pixel, in [0, 1] units
    eval_images: int = bounded(2000, min=0)  # test-split images for the held-out reconstruction error per epoch; 0 = off
    gmm_components: int = bounded(10, min=1)  # Gaussian mixture fitted to the encoded training set (the default sampler)
    gmm_covariance: str = "full"  # full | diag
    gmm_max_images: int = bounded(20000, min=1)  # training images encoded for the fit (a seeded random subset beyond this)
    # optimisation: Adam at 1e-3, 4000 steps of batch 64: ~170 epochs of digits (about a
    # minute on a 2-core CPU) or ~4 of fashion-mnist (a few minutes), as the VAE.
    steps: int = 4000
    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.999)
    sample_every: int = 1000
    checkpoint_every: int = 1000


class AEModel(LatentModel):
    """encoder: ConvEncoder, generator: ConvDecoder (the decoder), latent_gmm: LatentGMM.

    Images at this API are (N, C, H, W) in [0, 1]; the model takes no labels.
    """

    sampling_network = "generator"
    latent_gmm: LatentGMM  # set in __init__; annotated so HasLatentMixture is seen on the class

    def __init__(self, config: AEConfig):
        super().__init__(config)
        for key, allowed in (("loss", LOSSES), ("gmm_covariance", ("full", "diag"))):
            if getattr(config, key) not in allowed:
                raise GenzooError(f"{key} must be one of {', '.join(allowed)}; got '{getattr(config, key)}'")
        if config.latent_dim < 1:
            raise GenzooError(f"latent_dim must be at least 1, got {config.latent_dim}")
        if config.conditional:
            raise GenzooError("the ae family is not conditional (it takes no labels); drop conditional=true")
        self.encoder = ConvEncoder(config.channels, config.image_size, config.width, config.latent_dim)
        self.generator = ConvDecoder(config.latent_dim, config.channels, config.image_size, config.width)
        self.latent_gmm = LatentGMM(config.gmm_components, config.latent_dim)

    @property
    def default_sampler(self) -> str:  # type: ignore[override]
        """``gmm`` once the mixture is fitted (every trained model), else ``normal``: a model
        built but not trained has no mixture to draw from."""
        return "gmm" if self.latent_gmm.is_fitted else "normal"

    # -- helpers ---------------------------------------------------------------------------
    def _inputs(self, images: Tensor, labels: Any) -> Tensor:
        """[0, 1] images -> [0, 1] float32 images on the device, after checking shape and labels."""
        c, s = self.config.channels, self.config.image_size
        if not isinstance(images, Tensor) or images.ndim != 4 or tuple(images.shape[1:]) != (c, s, s):
            got = tuple(images.shape) if isinstance(images, Tensor) else type(images).__name__
            raise GenzooError(f"expected images of shape (N, {c}, {s}, {s}) in [0, 1], got {got}")
        if labels is not None:
            self.check_labels(labels, images.shape[0])  # raises the "not conditional" error
        return images.to(self.device, torch.float32).clamp(0, 1)

    def _codes(self, x01: Tensor, batch_size: int) -> Tensor:
        return torch.cat([self.encoder(to_signed(x01[i : i + batch_size])) for i in range(0, x01.shape[0], batch_size)])

    # -- public API ------------------------------------------------------------------------
    @torch.inference_mode()
    def encode(self, images: Tensor, labels: Any = None, *, batch_size: int = 512) -> tuple[Tensor, Tensor]:
        """Images (N, C, H, W) in [0, 1] -> (code, logvar), each (N, latent_dim) float CPU.

        The code is deterministic; ``logvar`` is all -inf (zero variance), as EncodesImages
        asks of a deterministic encoder, so code-as-mean consumers (the gmm fit) just work.
        """
        with self.evaluating():
            z = self._codes(self._inputs(images, labels), batch_size).float().cpu()
        return z, torch.full_like(z, float("-inf"))

    @torch.inference_mode()
    def reconstruct(self, images: Tensor, labels: Any = None, *, sample: bool = False, seed: int = 0) -> Tensor:
        """Images (N, C, H, W) in [0, 1] -> decode(encode(images)), same shape, in [0, 1].

        ``sample`` and ``seed`` change nothing: a draw from a zero-variance code is the code.
        """
        return self.decode(self.encode(images, labels)[0])

    @torch.inference_mode()
    def reconstruction_error(self, images: Tensor, labels: Any = None, *, loss: str | None = None,
                             batch_size: int = 512) -> Tensor:
        """Per-image error of the reconstruction, (N,) float CPU: the mean over pixels of the
        squared (``l2``) or absolute (``l1``) difference in [0, 1] units; default: the training loss."""
        loss = loss or self.config.loss
        if loss not in LOSSES:
            raise GenzooError(f"loss must be one of {', '.join(LOSSES)}; got '{loss}'")
        x = self._inputs(images, labels)
        out = []
        with self.evaluating():
            for i in range(0, x.shape[0], batch_size):
                xb = x[i : i + batch_size]
                out.append(pixel_error(self.generator.unit(self.encoder(to_signed(xb))), xb, loss).float().cpu())
        return torch.cat(out)

    def anomaly_score(self, images: Tensor, labels: Any = None, **options: Any) -> dict[str, Tensor]:
        """Per-image anomaly scores, higher = less like the training data; each (N,) float CPU.

        ``score`` is the reconstruction error in the training loss's units (``mse`` and ``mae``
        are both given); with a fitted mixture, ``latent_nll`` is -log density of the image's
        code under it (nats), which flags images whose code lies off the training codes.
        """
        mse = self.reconstruction_error(images, labels, loss="l2")
        mae = self.reconstruction_error(images, labels, loss="l1")
        out = {"score": mse if self.config.loss == "l2" else mae, "mse": mse, "mae": mae}
        if self.latent_gmm.is_fitted:
            out["latent_nll"] = -self.latent_gmm.log_prob(self.encode(images)[0].to(self.device)).float().cpu()
        return out

    @torch.inference_mode()
    def fit_gmm(self, images: Tensor, labels: Any = None, *, seed: int = 0) -> dict[str, float]:
        """Fit the sampling mixture to the codes of ``images`` (N, C, H, W) in [0, 1]; it lives
        in the ``latent_gmm`` buffers and is saved with the weights. Returns the fit's facts."""
        c: AEConfig = self.config  # type: ignore[assignment]
        z, _ = self.encode(images, labels)
        facts = self.latent_gmm.fit(z, covariance=c.gmm_covariance, seed=seed)
        self.meta["latent_gmm"] = {"components": c.gmm_components, "covariance": c.gmm_covariance,
                                   "fitted_on": f"{z.shape[0]} training images, deterministic codes",
                                   "avg_log_likelihood": round(facts["gmm_avg_log_likelihood"], 4),
                                   "converged": bool(facts["gmm_converged"])}
        return facts

    def preview(self, data: ImageDataset, n: int, seed: int = 0) -> tuple[Tensor, int]:
        """Grid images written during training: until the mixture is fitted, training images
        beside their reconstructions (what an autoencoder learns); after it (the final
        samples.png), ``n`` samples from the mixture."""
        if self.latent_gmm.is_fitted:
            return self.sample(n, seed=seed), max(1, round(n**0.5))
        k = max(1, min(n // 2, len(data)))
        x = to_unit(data.images[:k].float().cpu())
        return comparison_rows([x, self.reconstruct(x)])


# ------------------------------------------------------------------------------------------
# training recipe: one phase, plus held-out error and the mixture fit as engine hooks
# ------------------------------------------------------------------------------------------
class HeldOut:
    """The test split ([0, 1] images), loaded once on first use; None when it cannot be."""

    def __init__(self) -> None:
        self.x: Tensor | None = None
        self.name = "test"
        self.failed = False

    def get(self, ctx: TrainingContext) -> Tensor | None:
        if self.x is None and not self.failed:
            try:
                d = ctx.held_out("test")
            except GenzooError as e:
                console.print(f"[yellow]note:[/] no held-out error: the test split of '{ctx.config.data}' "
                              f"could not be loaded ({e})")
                self.failed = True
                return None
            train = ctx.data.images
            # folder: data have no separate test split; say so rather than call it held out.
            if d.images.shape == train.shape and torch.equal(d.images[:64], train[:64].cpu()):
                self.name = "train"
            self.x = (d.images.float() + 1) / 2
        return self.x


def ae_recipe(model: AEModel, config: AEConfig) -> Recipe:
    def loss(ctx: StepContext) -> tuple[Tensor, dict[str, Tensor]]:
        m: AEModel = ctx.model  # type: ignore[assignment]
        x01 = (ctx.batch.images + 1) * 0.5
        rec = m.generator.unit(m.encoder(ctx.batch.images))
        err = pixel_error(rec, x01, config.loss).mean()
        logs = {"mse": (rec - x01).detach().pow(2).mean()} if config.loss != "l2" else {}
        return err, logs

    held = HeldOut()

    def held_error(ctx: TrainingContext, limit: int) -> dict[str, float] | None:
        x = held.get(ctx)
        if x is None or limit <= 0:
            return None
        with ctx.inference_weights() as m:
            mse = m.reconstruction_error(x[:limit], loss="l2")  # type: ignore[attr-defined]
        return {f"{held.name}_mse": float(mse.mean())}

    def after_epoch(ctx: TrainingContext, epoch: int) -> dict[str, float] | None:
        return held_error(ctx, config.eval_images)

    def after_training(ctx: TrainingContext) -> None:
        c: AEConfig = ctx.config  # type: ignore[assignment]
        m: AEModel = ctx.model  # type: ignore[assignment]
        # 1. the sampling mixture, on the codes of (a seeded subset of) the training set
        d = ctx.data
        idx = torch.arange(len(d))
        if len(d) > c.gmm_max_images > 0:
            idx = torch.randperm(len(d), generator=torch.Generator().manual_seed(c.seed))[: c.gmm_max_images]
        with ctx.inference_weights() as im:
            im.fit_gmm((d.images[idx].float().cpu() + 1) / 2, seed=c.seed)  # type: ignore[attr-defined]
        # 2. held-out reconstruction error against predicting the mean training image for all
        x = held.get(ctx) if c.eval_images > 0 else None
        if x is None:
            return
        xs = x[: c.eval_images]
        mean = mean_image(d.images)  # the data may be lazy (larger than memory): never all at once
        baseline = float(pixel_error(mean.expand_as(xs), xs, "l2").mean())
        with ctx.inference_weights() as im:
            mse = float(im.reconstruction_error(xs, loss="l2").mean())  # type: ignore[attr-defined]
        entries = [
            {"metric": "recon_mse", "name": f"reconstruction MSE ({held.name} split, [0, 1] pixels)",
             "value": round(mse, 6), "split": held.name,
             "protocol": {"images": len(xs), "mean_image_baseline": round(baseline, 6)}},
        ]
        kept = [e for e in m.meta.get("evaluation", []) or [] if e.get("metric") != "recon_mse"]
        m.meta["evaluation"] = kept + entries
        ctx.log({f"{held.name}_mse": mse, f"{held.name}_mse_mean_image": baseline})
        console.print(f"reconstruction MSE on {len(xs)} {held.name} images: {mse:.5f} "
                      f"(the mean training image: {baseline:.5f})")

    return Recipe(
        phases=[Phase("model", ["encoder", "generator"], loss)],
        after_epoch=[after_epoch] if config.eval_images > 0 else [],
        after_training=[after_training],
    )


class AEFamily(Family):
    card_template = "genzoo.card_templates:ae.md"
    description = "Plain autoencoder: conv encoder/decoder, L2 or L1 reconstruction, sampled from a fitted latent mixture"
    config_class = AEConfig
    model_class = AEModel
    reference_recipes = standard_recipes()
    image_sizes = (16, 28, 32, 64)
    image_size_rule = "any base * 2^k with base 4..7 and k <= 6 (one stride-2 stage per halving)"

    def check_image_size(self, image_size: int) -> None:
        plan(image_size)

    def recipe(self, model: AEModel, config: AEConfig) -> Recipe:  # type: ignore[override]
        return ae_recipe(model, config)
