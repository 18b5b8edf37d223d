"""Variational autoencoders (Kingma and Welling, 2014, arXiv:1312.6114) as genzoo families.

``vae``: an encoder q(z | x) = N(mean(x), diag(exp(logvar(x)))) and a decoder p(x | z),
trained by minimising the negative evidence lower bound (ELBO), per image::

    -ELBO(x) = -E_q[log p(x | z)] + KL(q(z | x) || N(0, I))        (nats)

with one reparameterised sample z = mean + exp(logvar / 2) * eps per image. The
reconstruction term is Bernoulli (binary cross-entropy on pixel values in [0, 1]) or
Gaussian with a fixed or learned per-channel standard deviation; ``beta`` weights the KL
term (beta-VAE, Higgins et al. 2017) and ``kl_warmup`` ramps its weight up from 0.

``cvae``: the same code with ``conditional=True``: the label enters the encoder as one-hot
image planes and the decoder as a one-hot vector beside z (Sohn et al. 2015).

After training, a Gaussian mixture is fitted to the encoded training set and stored with
the weights, so ``sample(n, sampler="gmm")`` draws from the aggregate posterior instead of
the prior (see :class:`genzoo.samplers.LatentGMM`). Every epoch the ELBO on the test split
is logged (``test_elbo``, nats per image); ``iwae_k > 0`` adds the importance-weighted bound
on log p(x) (Burda et al. 2016, arXiv:1509.00519) at the end of training.

Sizes: base * 2^k with base 4..7 (8, 16, 28, 32, 64 ...), gray or RGB. Uses only the
public plugin API (genzoo.plugin).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genzoo.plugin import (
    Encoder,
    Family,
    Generator,
    GenzooError,
    LatentGMM,
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
    size_plan,
)

__version__ = "0.1.0"

LOG_2PI = math.log(2 * math.pi)
LIKELIHOODS = ("bernoulli", "gaussian")


def plan(image_size: int) -> tuple[int, int]:
    """image_size -> (base, halvings) with base in 4..7: 32 -> (4, 3), 28 -> (7, 2)."""
    return size_plan(image_size, "the VAE cannot handle")


def kl_to_standard_normal(mean: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(mean, diag(exp(logvar))) || N(0, I)) in closed form, summed over latents -> (N,)."""
    return 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar).sum(dim=1)


def bernoulli_entropy(x: Tensor) -> Tensor:
    """Binary entropy of pixel values x in [0, 1], summed per image: (N, C, H, W) -> (N,) nats."""
    return -(torch.special.xlogy(x, x) + torch.special.xlogy(1 - x, 1 - x)).flatten(1).sum(1)


def log_normal(z: Tensor, mean: Tensor, logvar: Tensor) -> Tensor:
    """log N(z; mean, diag(exp(logvar))) summed over the last dim -> (...,)."""
    return -0.5 * (LOG_2PI + logvar + (z - mean).pow(2) * torch.exp(-logvar)).sum(dim=-1)


# ------------------------------------------------------------------------------------------
# networks
# ------------------------------------------------------------------------------------------
class ConvEncoder(Encoder):
    """Images (N, C, S, S) in [-1, 1] [+ labels (N,)] -> (mean, logvar), each (N, latent_dim).

    Strided 4x4 convolutions halve the map down to base x base (4..7), widths doubling from
    ``width``; a linear layer gives mean and log-variance. A conditional encoder reads the
    label as ``num_classes`` one-hot planes stacked on the image.
    """

    def __init__(self, channels: int, image_size: int, width: int, latent_dim: int, num_classes: int = 0):
        super().__init__()
        self.latent_dim, self.num_classes = latent_dim, num_classes
        base, downs = plan(image_size)
        layers: list[nn.Module] = []
        ch_in, ch = channels + num_classes, width
        for _ in range(downs):
            layers += [nn.Conv2d(ch_in, ch, 4, 2, 1), nn.LeakyReLU(0.2, True)]
            ch_in, ch = ch, ch * 2
        self.conv = nn.Sequential(*layers)
        self.head = nn.Linear(ch_in * base * base, 2 * latent_dim)

    def forward(self, x: Tensor, labels: Tensor | None = None) -> tuple[Tensor, Tensor]:
        if self.num_classes:
            if labels is None:
                raise GenzooError("this encoder is conditional (cvae) and needs the images' labels")
            planes = F.one_hot(labels, self.num_classes).to(x.dtype)[:, :, None, None]
            x = torch.cat([x, planes.expand(-1, -1, *x.shape[-2:])], dim=1)
        mean, logvar = self.head(self.conv(x).flatten(1)).chunk(2, dim=1)
        # exp(logvar) must neither underflow to 0 (log q = inf) nor overflow.
        return mean, logvar.clamp(-14.0, 8.0)


class ConvDecoder(Generator):
    """z (N, latent_dim) [+ labels (N,)] -> images (N, C, S, S) in [-1, 1].

    :meth:`logits` gives the pre-sigmoid output the likelihood uses; ``forward`` maps
    sigmoid(logits) (the Bernoulli probabilities or Gaussian means, in [0, 1]) to [-1, 1].
    """

    def __init__(self, latent_dim: int, channels: int, image_size: int, width: int, num_classes: int = 0):
        super().__init__()
        self.latent_dim, self.num_classes = latent_dim, num_classes
        base, ups = plan(image_size)
        ch = width * 2 ** (ups - 1)
        self.base, self.ch = base, ch
        self.fc = nn.Linear(latent_dim + num_classes, ch * base * base)
        layers: list[nn.Module] = [nn.LeakyReLU(0.2, True)]
        for _ in range(ups - 1):
            layers += [nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1), nn.LeakyReLU(0.2, True)]
            ch //= 2
        layers += [nn.ConvTranspose2d(ch, channels, 4, 2, 1)]
        self.net = nn.Sequential(*layers)

    def logits(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """z (N, latent_dim) [+ labels] -> pre-sigmoid outputs (N, C, S, S)."""
        if self.num_classes:
            if labels is None:
                raise GenzooError("this decoder is conditional (cvae) and needs labels")
            z = torch.cat([z, F.one_hot(labels, self.num_classes).to(z.dtype)], dim=1)
        return self.net(self.fc(z).view(-1, self.ch, self.base, self.base))

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        return to_signed(torch.sigmoid(self.logits(z, labels)))


class PixelLikelihood(nn.Module):
    """log p(x | z) from decoder logits, summed over pixels -> (N,) nats.

    bernoulli: sum of x log p + (1 - x) log(1 - p), p = sigmoid(logits), x in [0, 1].
    gaussian: N(x; sigmoid(logits), sigma^2) per pixel with x in [0, 1]; sigma per channel,
    fixed (``sigma > 0``) or learned (``sigma = 0``, a parameter ``log_sigma``).
    """

    def __init__(self, kind: str, channels: int, sigma: float = 0.0):
        super().__init__()
        if kind not in LIKELIHOODS:
            raise GenzooError(f"unknown likelihood '{kind}'; use {' or '.join(LIKELIHOODS)}")
        if sigma < 0:
            raise GenzooError(f"sigma must be >= 0 (0 = learned), got {sigma}")
        self.kind = kind
        self.learned = kind == "gaussian" and sigma == 0
        if kind == "gaussian":
            # 0.1 in [0, 1] pixel units is near what a trained model reaches; starting at 1
            # would make the reconstruction term too weak early and invite posterior collapse.
            init = torch.full((channels,), math.log(sigma if sigma > 0 else 0.1))
            if self.learned:
                self.log_sigma = nn.Parameter(init)
            else:
                self.register_buffer("log_sigma", init)

    def log_prob(self, logits: Tensor, x: Tensor) -> Tensor:
        """Decoder logits and targets x, both (N, C, H, W), x in [0, 1] -> (N,)."""
        if self.kind == "bernoulli":
            return -F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)
        log_sigma = self.log_sigma.clamp(min=-7.0).view(1, -1, 1, 1)
        d = (x - torch.sigmoid(logits)) * torch.exp(-log_sigma)
        return (-0.5 * d.pow(2) - log_sigma - 0.5 * LOG_2PI).flatten(1).sum(1)


# ------------------------------------------------------------------------------------------
# config and model
# ------------------------------------------------------------------------------------------
@dataclass
class VAEConfig(ModelConfig):
    latent_dim: int = bounded(16, min=1)
    width: int = bounded(32, min=1)  # encoder channels after the first convolution (doubling with depth); decoder mirrors it
    likelihood: str = "bernoulli"  # bernoulli | gaussian: the reconstruction term p(x | z)
    sigma: float = bounded(0.0, min=0)  # gaussian only: fixed std of p(x | z) in [0, 1] pixel units; 0 = learned per channel
    beta: float = bounded(1.0, min=0)  # weight of the KL term (1 = the ELBO; > 1: beta-VAE)
    kl_warmup: int = bounded(0, min=0)  # steps over which the KL weight rises linearly from 0 to beta; 0 = off
    binarize: bool = False  # dynamic binarisation: train on x ~ Bernoulli(pixel), as in published MNIST NLLs
    eval_images: int = bounded(10000, min=0)  # test-split images for the per-epoch held-out ELBO; 0 = off
    iwae_k: int = bounded(0, min=0)  # importance samples for the IWAE bound on log p(x) after training; 0 = off
    iwae_images: int = bounded(1000, min=1)  # test-split images the IWAE bound uses
    # 30 components: on Fashion-MNIST (10-minute run) FID 4.57 against 5.36 with 10 and 4.53 with 100 (docs/vae.md)
    gmm_components: int = bounded(30, min=1)  # Gaussian mixture fitted to the encoded training set (the default sampler)
    gmm_covariance: str = "full"  # full | diag
    gmm_fit_on: str = "mean"  # mean | sample: posterior means, or one draw from q(z | x) per image
    gmm_max_images: int = bounded(20000, min=1)  # training images encoded for the fit (a seeded random subset beyond this)
    # optimisation: Adam at 1e-3 is the usual VAE setting; 4000 steps of batch 64 is ~170
    # epochs of digits (about a minute on a 2-core CPU) or ~4 of fashion-mnist.
    steps: int = 4000
    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.999)
    sample_every: int = 1000
    checkpoint_every: int = 1000


class VAEModel(LatentModel):
    """encoder: ConvEncoder, generator: ConvDecoder, likelihood: PixelLikelihood, latent_gmm: LatentGMM.

    Images at this API are (N, C, H, W) in [0, 1]; labels (N,) int for the cvae.
    """

    sampling_network = "generator"
    latent_gmm: LatentGMM  # set in __init__; annotated so HasLatentMixture is seen on the class

    def __init__(self, config: VAEConfig):
        super().__init__(config)
        for key, allowed in (("likelihood", LIKELIHOODS), ("gmm_covariance", ("full", "diag")),
                             ("gmm_fit_on", ("mean", "sample"))):
            if getattr(config, key) not in allowed:
                raise GenzooError(f"{key} must be one of {', '.join(allowed)}; got '{getattr(config, key)}'")
        if config.binarize and config.likelihood != "bernoulli":
            raise GenzooError("binarize=true needs likelihood=bernoulli (binary data has no Gaussian density)")
        k = config.num_classes if config.conditional else 0
        self.encoder = ConvEncoder(config.channels, config.image_size, config.width, config.latent_dim, k)
        self.generator = ConvDecoder(config.latent_dim, config.channels, config.image_size, config.width, k)
        self.likelihood = PixelLikelihood(config.likelihood, config.channels, config.sigma)
        self.latent_gmm = LatentGMM(config.gmm_components, config.latent_dim)

    @property
    def default_sampler(self) -> str:  # type: ignore[override]
        """The VAE: ``gmm`` once the mixture is fitted (every trained model: it roughly matches
        the aggregate posterior, where the decoder has seen data), else the prior ``normal``.
        The CVAE: ``normal``. Its decoder gets the class, so prior draws stay on the class's
        images, and one mixture fitted over every class's codes was worse (FID 5.83 against
        4.91 on Fashion-MNIST, docs/vae.md)."""
        return "gmm" if self.latent_gmm.is_fitted and not self.is_conditional else "normal"

    # -- helpers ---------------------------------------------------------------------------
    def _inputs(self, images: Tensor, labels: Any) -> tuple[Tensor, Tensor | None]:
        """[0, 1] images (+ labels) -> ([0, 1] images on the device, labels on the device or None)."""
        if images.ndim != 4 or tuple(images.shape[1:]) != (self.config.channels, self.config.image_size,
                                                            self.config.image_size):
            c, s = self.config.channels, self.config.image_size
            raise GenzooError(f"expected images of shape (N, {c}, {s}, {s}) in [0, 1], got {tuple(images.shape)}")
        y = None
        if self.is_conditional:
            if labels is None:
                raise GenzooError(
                    f"this {self.family_name or 'cvae'} model is conditional: pass the images' labels (labels=..., or --label)"
                )
            y = self.check_labels(labels, images.shape[0]).to(self.device)
        elif labels is not None:
            self.check_labels(labels, images.shape[0])  # raises the "not conditional" error
        return images.to(self.device, torch.float32).clamp(0, 1), y

    def terms(self, x01: Tensor, labels: Tensor | None, noise: Tensor | None = None) -> dict[str, Tensor]:
        """Per-image ELBO terms for [0, 1] images (N, C, H, W) on the device, with gradients.

        Returns ``recon`` = -log p(x | z) and ``kl`` = KL(q(z | x) || N(0, I)), each (N,) in
        nats, from one reparameterised z (``noise``: the standard-normal eps, else drawn), and
        ``mean``, ``logvar``, ``z``.
        """
        mean, logvar = self.encoder(to_signed(x01), labels)
        eps = torch.randn_like(mean) if noise is None else noise.to(mean)
        z = mean + torch.exp(0.5 * logvar) * eps
        recon = -self.likelihood.log_prob(self.generator.logits(z, labels), x01)
        return {"recon": recon, "kl": kl_to_standard_normal(mean, logvar), "mean": mean, "logvar": logvar, "z": z}

    # -- public API ------------------------------------------------------------------------
    @torch.inference_mode()
    def encode(self, images: Tensor, labels: Any = None, *, batch_size: int = 512) -> tuple[Tensor, Tensor]:
        """Images (N, C, H, W) in [0, 1] [+ labels] -> (mean, logvar) of q(z | x), each (N, latent_dim), CPU."""
        with self.evaluating():
            x, y = self._inputs(images, labels)
            outs = [self.encoder(to_signed(x[i : i + batch_size]), None if y is None else y[i : i + batch_size])
                    for i in range(0, x.shape[0], batch_size)]
        return torch.cat([o[0] for o in outs]).float().cpu(), torch.cat([o[1] for o in outs]).float().cpu()

    @torch.inference_mode()
    def reconstruct(self, images: Tensor, labels: Any = None, *, sample: bool = False, seed: int = 0) -> Tensor:
        """Images (N, C, H, W) in [0, 1] -> reconstructions (same shape) in [0, 1].

        Decodes the posterior mean (or, with ``sample=True``, one draw from q(z | x)).
        """
        mean, logvar = self.encode(images, labels)
        z = mean
        if sample:
            gen = torch.Generator().manual_seed(seed)
            z = mean + torch.exp(0.5 * logvar) * torch.randn(mean.shape, generator=gen)
        return self.decode(z, None if not self.is_conditional else labels)

    @torch.inference_mode()
    def elbo(self, images: Tensor, labels: Any = None, *, samples: int = 1, seed: int = 0,
             batch_size: int = 500) -> dict[str, Tensor]:
        """Per-image ELBO (a lower bound on log p(x)) in nats: dict of (N,) CPU tensors.

        Keys ``elbo``, ``recon`` (-E_q log p(x | z)) and ``kl``; ``samples`` draws of z per image
        are averaged; ``seed`` fixes them. A conditional model given no labels reports the
        bound on log p(x) = log sum_y p(x | y) / K with a uniform class prior.
        """
        if self.is_conditional and labels is None:
            # log p(x) >= log (1/K) sum_y exp ELBO(x, y); recon and kl are those of the best class.
            k = self.config.num_classes
            per = [self.elbo(images, torch.full((images.shape[0],), c), samples=samples, seed=seed,
                             batch_size=batch_size) for c in range(k)]
            best = torch.stack([p["elbo"] for p in per]).argmax(0)[None]
            out_k = {key: torch.stack([p[key] for p in per]) for key in ("elbo", "recon", "kl")}
            return {"elbo": torch.logsumexp(out_k["elbo"], 0) - math.log(k),
                    "recon": out_k["recon"].gather(0, best)[0], "kl": out_k["kl"].gather(0, best)[0]}
        x, y = self._inputs(images, labels)
        gen = torch.Generator().manual_seed(seed)
        out: dict[str, list[Tensor]] = {"elbo": [], "recon": [], "kl": []}
        with self.evaluating():
            for i in range(0, x.shape[0], batch_size):
                xb, yb = x[i : i + batch_size], None if y is None else y[i : i + batch_size]
                rec = torch.zeros(xb.shape[0], device=xb.device)
                kl = torch.zeros(xb.shape[0], device=xb.device)
                for _ in range(samples):
                    eps = torch.randn(xb.shape[0], self.latent_dim, generator=gen)
                    t = self.terms(xb, yb, eps)
                    rec += t["recon"] / samples
                    kl = t["kl"]  # closed form: the same for every draw
                out["recon"].append(rec.float().cpu())
                out["kl"].append(kl.float().cpu())
                out["elbo"].append(-(rec + kl).float().cpu())
        return {k: torch.cat(v) for k, v in out.items()}

    @torch.inference_mode()
    def iwae(self, images: Tensor, labels: Any = None, *, k: int = 64, seed: int = 0,
             batch_size: int = 0) -> Tensor:
        """Importance-weighted lower bound on log p(x) with ``k`` samples (Burda et al. 2016) -> (N,) nats.

        log (1/k) sum_i p(x | z_i) p(z_i) / q(z_i | x), z_i ~ q(z | x); k = 1 is the ELBO and the
        bound tightens towards log p(x) as k grows.
        """
        if k < 1:
            raise GenzooError(f"iwae needs k >= 1 samples, got {k}")
        x, y = self._inputs(images, labels)
        bs = batch_size or max(1, 4096 // k)
        gen = torch.Generator().manual_seed(seed)
        out = []
        with self.evaluating():
            for i in range(0, x.shape[0], bs):
                xb, yb = x[i : i + bs], None if y is None else y[i : i + bs]
                n = xb.shape[0]
                mean, logvar = self.encoder(to_signed(xb), yb)
                eps = torch.randn(k, n, self.latent_dim, generator=gen).to(mean)
                z = mean + torch.exp(0.5 * logvar) * eps  # (k, n, D)
                yk = None if yb is None else yb.repeat(k)
                logits = self.generator.logits(z.reshape(k * n, -1), yk)
                log_px = self.likelihood.log_prob(logits, xb.repeat(k, 1, 1, 1)).view(k, n)
                log_pz = -0.5 * (LOG_2PI + z.pow(2)).sum(-1)
                log_qz = log_normal(z, mean, logvar)
                out.append((torch.logsumexp(log_px + log_pz - log_qz, dim=0) - math.log(k)).float().cpu())
        return torch.cat(out)

    def log_likelihood(self, images: Tensor, labels: Any = None, *, seed: int = 0, samples: int = 1) -> Likelihood:
        """HasLikelihood: the ELBO, a lower bound on log p(x), per image (see :meth:`elbo`)."""
        c = self.config
        return Likelihood.from_nats(self.elbo(images, labels, samples=samples, seed=seed)["elbo"],
                                    c.channels * c.image_size * c.image_size, exact=False)

    def anomaly_score(self, images: Tensor, labels: Any = None, *, seed: int = 0, samples: int = 4,
                      raw: bool = False) -> dict[str, Tensor]:
        """Per-image anomaly scores, higher = less like the training data; each (N,) nats, CPU.

        ``nelbo`` is the negative ELBO (``recon`` + ``kl``). With a Bernoulli likelihood and grey
        pixels, ``recon`` contains the pixels' own binary entropy H(x) (the cross-entropy is
        H(x) + KL(Bern(x) || Bern(p))): a property of the image that no model can lower, large for
        images with many mid-grey pixels, small for mostly-black ones. ``score`` is therefore
        ``nelbo - pixel_entropy`` for Bernoulli models (0 for binary images), and ``nelbo``
        itself for Gaussian ones or with ``raw=True``.
        """
        e = self.elbo(images, labels, samples=samples, seed=seed)
        out = {"score": -e["elbo"], "nelbo": -e["elbo"], "recon": e["recon"], "kl": e["kl"]}
        if self.config.likelihood == "bernoulli":
            out["pixel_entropy"] = bernoulli_entropy(images.float().clamp(0, 1).cpu())
            if not raw:
                out["score"] = out["nelbo"] - out["pixel_entropy"]
        return out

    @torch.inference_mode()
    def fit_gmm(self, images: Tensor, labels: Any = None, *, seed: int = 0) -> dict[str, float]:
        """Fit the ``gmm`` sampler's mixture to the encodings of ``images`` (N, C, H, W) in [0, 1].

        Uses the posterior means, or one draw of q(z | x) per image (``gmm_fit_on``); the
        result lives in the ``latent_gmm`` buffers and is saved with the weights.
        """
        c: VAEConfig = self.config  # type: ignore[assignment]
        mean, logvar = self.encode(images, labels)
        z = mean
        if c.gmm_fit_on == "sample":
            gen = torch.Generator().manual_seed(seed)
            z = mean + torch.exp(0.5 * logvar) * torch.randn(mean.shape, generator=gen)
        facts = self.latent_gmm.fit(z, covariance=c.gmm_covariance, seed=seed)
        self.meta["latent_gmm"] = {"components": c.gmm_components, "covariance": c.gmm_covariance,
                                   "fitted_on": f"{z.shape[0]} training images, posterior {c.gmm_fit_on}s",
                                   "avg_log_likelihood": round(facts["gmm_avg_log_likelihood"], 4),
                                   "converged": bool(facts["gmm_converged"])}
        return facts


# ------------------------------------------------------------------------------------------
# training recipe: one phase, plus held-out evaluation and the mixture fit as engine hooks
# ------------------------------------------------------------------------------------------
def _binarize(x01: Tensor, gen: torch.Generator | None = None) -> Tensor:
    if gen is None:
        return torch.bernoulli(x01)
    return (torch.rand(x01.shape, generator=gen) < x01.cpu()).to(x01)


class HeldOut:
    """The test split, loaded once on first use, and the hooks that evaluate on it."""

    def __init__(self, config: VAEConfig):
        self.config = config
        self.data: Any = None
        self.name = "test"
        self.failed = False

    def get(self, ctx: TrainingContext) -> Any:
        if self.data is None and not self.failed:
            c = ctx.config
            try:
                d = ctx.held_out("test")
            except GenzooError as e:
                console.print(f"[yellow]note:[/] no held-out ELBO: the test split of '{c.data}' could not be loaded ({e})")
                self.failed = True
                return None
            train = ctx.data.images
            # folder: data has no separate test split; say so rather than call it held out.
            if d.images.shape == train.shape and torch.equal(d.images[:64], train[:64].cpu()):
                self.name = "train"
            x = (d.images + 1) / 2
            if c.binarize:  # a fixed binarisation, so epochs are compared on the same data
                x = _binarize(x, torch.Generator().manual_seed(1234))
            self.data = (x, d.labels)
        return self.data

    def elbo(self, ctx: TrainingContext, limit: int) -> dict[str, float] | None:
        data = self.get(ctx)
        if data is None or limit <= 0:
            return None
        x, y = data[0][:limit], (None if data[1] is None else data[1][:limit])
        with ctx.inference_weights() as m:
            e = m.elbo(x, y if m.is_conditional else None, seed=0)
        return {f"{self.name}_elbo": float(e["elbo"].mean()), f"{self.name}_recon": float(e["recon"].mean()),
                f"{self.name}_kl": float(e["kl"].mean())}


def _set_evaluation(model: VAEModel, entries: list[dict[str, Any]]) -> None:
    names = {e["metric"] for e in entries}
    kept = [e for e in model.meta.get("evaluation", []) or [] if e.get("metric") not in names]
    model.meta["evaluation"] = kept + entries


def vae_recipe(model: VAEModel, config: VAEConfig) -> Recipe:
    if config.beta < 0:
        raise GenzooError(f"beta must be >= 0, got {config.beta}")

    def loss(ctx: StepContext) -> tuple[Tensor, dict[str, Tensor]]:
        m: VAEModel = ctx.model  # type: ignore[assignment]
        x01 = (ctx.batch.images + 1) * 0.5
        if config.binarize:
            x01 = _binarize(x01)
        t = m.terms(x01, ctx.batch.labels if m.is_conditional else None)
        w = config.beta * min(1.0, (ctx.step + 1) / config.kl_warmup) if config.kl_warmup > 0 else config.beta
        recon, kl = t["recon"].mean(), t["kl"].mean()
        logs = {"recon": recon.detach(), "kl": kl.detach(), "elbo": -(recon + kl).detach()}
        if config.kl_warmup > 0:
            logs["kl_weight"] = torch.tensor(w)
        return recon + w * kl, logs

    held = HeldOut(config)

    def after_epoch(ctx: TrainingContext, epoch: int) -> dict[str, float] | None:
        return held.elbo(ctx, config.eval_images)

    def after_training(ctx: TrainingContext) -> None:
        c: VAEConfig = ctx.config  # type: ignore[assignment]
        m: VAEModel = ctx.model  # type: ignore[assignment]
        # 1. the mixture for the gmm sampler, on (a seeded subset of) the training set
        d = ctx.data
        idx = torch.arange(len(d))
        if len(d) > c.gmm_max_images > 0:
            idx = torch.randperm(len(d), generator=torch.Generator().manual_seed(c.seed))[: c.gmm_max_images]
        x = (d.images[idx].cpu() + 1) / 2
        y = d.labels[idx] if (m.is_conditional and d.labels is not None) else None
        with ctx.inference_weights() as im:
            im.fit_gmm(x, y, seed=c.seed)
        # 2. held-out ELBO (and IWAE bound) of the final weights, for config.json and the card
        entries = []
        final = held.elbo(ctx, c.eval_images)
        data = held.get(ctx) if (final or c.iwae_k > 0) else None
        if final:
            n = min(c.eval_images, len(data[0]))
            entries.append({"metric": "elbo", "name": f"ELBO, nats per image ({held.name} split)",
                            "value": round(final[f"{held.name}_elbo"], 4), "split": held.name,
                            "protocol": {"images": n, "z_samples": 1, "binarized": c.binarize,
                                         "likelihood": c.likelihood}})
        if c.iwae_k > 0 and data is not None:
            n = min(c.iwae_images, len(data[0]))
            xs, ys = data[0][:n], (None if data[1] is None else data[1][:n])
            with ctx.inference_weights() as im:
                yy = ys if im.is_conditional else None
                lb = float(im.iwae(xs, yy, k=c.iwae_k, seed=0).mean())
                same = float(im.elbo(xs, yy, seed=0)["elbo"].mean())  # the ELBO on the same images, to compare
            entries.append({"metric": "iwae", "name": f"IWAE bound on log p(x), k={c.iwae_k}, nats per image",
                            "value": round(lb, 4), "split": held.name,
                            "protocol": {"images": n, "k": c.iwae_k, "elbo_same_images": round(same, 4),
                                         "binarized": c.binarize, "likelihood": c.likelihood}})
            ctx.log({"step": ctx.step, f"{held.name}_iwae_k{c.iwae_k}": lb})
        if entries:
            _set_evaluation(m, entries)
            for e in entries:
                same = e["protocol"].get("elbo_same_images")
                console.print(f"{e['name']}: {e['value']:.2f} on {e['protocol']['images']} images"
                              + (f" (their ELBO: {same:.2f})" if same is not None else ""))

    return Recipe(
        phases=[Phase("model", ["encoder", "generator", "likelihood"], loss)],
        after_epoch=[after_epoch] if config.eval_images > 0 else [],
        after_training=[after_training],
    )


class VAEFamily(Family):
    card_template = "genzoo.card_templates:vae.md"
    description = "Variational autoencoder (Kingma & Welling 2014): conv encoder/decoder, ELBO, gmm sampler"
    config_class = VAEConfig
    model_class = VAEModel
    supports_labels = True  # --set conditional=true gives the cvae
    reference_recipes = standard_recipes()
    image_sizes = (16, 28, 32, 64)
    image_size_rule = "any base * 2^k with base 4..7 and k <= 6 (one stride-2 stage per halving)"

    def check_image_size(self, image_size: int) -> None:
        plan(image_size)

    def recipe(self, model: VAEModel, config: VAEConfig) -> Recipe:  # type: ignore[override]
        return vae_recipe(model, config)


@dataclass
class CVAEConfig(VAEConfig):
    conditional: bool = True


class CVAEFamily(VAEFamily):
    card_template = "genzoo.card_templates:cvae.md"
    description = "Class-conditional VAE (Sohn et al. 2015): the vae with labels into encoder and decoder"
    config_class = CVAEConfig
    # class-conditional: the GPU recipe needs labelled data (CIFAR-10's class folders), not CelebA
    reference_recipes = standard_recipes(gpu=("cifar10",))
