"""Anomaly scores: how unlike a model's training data each image is (higher = more anomalous).

Every model with the :class:`~genzoo.capabilities.ScoresAnomalies` capability (an
``anomaly_score`` method) can be scored; the built-in ones score as follows.

* Models with an encoder and a likelihood (vae, cvae) score an image by its negative ELBO
  in nats, an upper bound on -log p(x) (the model's ``anomaly_score`` method). For a
  Bernoulli likelihood on grey pixels the image's own pixel entropy is subtracted first: it is
  part of the cross-entropy, depends on the image alone, and otherwise makes every mostly-dark
  image look typical (on Fashion-MNIST, unseen trousers, sandals and sneakers scored *below*
  the trained classes by the raw value). ``raw=True`` gives the plain negative ELBO.
* GANs have neither, so they follow AnoGAN (``AdversarialModel.anomaly_score`` calls
  :func:`anogan_scores` here: every GAN family shares it, so it stays in core):
  Schlegl et al. 2017, arXiv:1703.05921: search
  the latent space for the z whose image G(z) is closest to x (a few Adam steps from the best
  of several prior draws), then combine the residual R(x) = sum |x - G(z*)| (pixels in [0, 1])
  with the discriminator's verdict D(x) = softplus(-d(x)) = -log sigmoid(d(x)), the
  "this looks fake" loss in nats::

      score = (1 - lam) * R(x) + lam * D(x)        (lam = 0.1, as in the paper)

Caveat for every likelihood-style score: images that are simpler than the training data
(fewer strokes, flatter colours) can score as *less* anomalous than the data itself
(Nalisnick et al. 2019, arXiv:1810.09136). Compare scores within one model and dataset.
"""

from __future__ import annotations

import inspect
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from genzoo.capabilities import ScoresAnomalies, require
from genzoo.errors import GenzooError
from genzoo.family import GenerativeModel


def anomaly_scores(
    model: GenerativeModel,
    images: Tensor,
    labels: Any = None,
    *,
    seed: int = 0,
    steps: int = 100,
    lam: float = 0.1,
    restarts: int = 8,
    lr: float = 0.05,
    samples: int = 4,
    raw: bool = False,
) -> dict[str, Tensor]:
    """Per-image anomaly scores for ``images`` (N, C, H, W) in [0, 1].

    Returns ``{"score": (N,), ...components}``, each a float CPU tensor: for VAEs ``nelbo``
    (= recon + kl = -ELBO, ``samples`` z draws averaged), ``recon``, ``kl`` and, for Bernoulli
    models, ``pixel_entropy`` (score = nelbo - pixel_entropy unless ``raw``); for GANs
    ``residual``, ``discriminator`` and ``latent_steps``. The same seed gives the same scores.
    """
    require(model, ScoresAnomalies, message=(
        "genzoo cannot score images with a {family} model; anomaly scores need a model that scores "
        "anomalies, e.g. a VAE (negative ELBO) or a GAN (latent search + discriminator): {families}"))
    c = model.config
    if images.ndim != 4 or tuple(images.shape[1:]) != (c.channels, c.image_size, c.image_size):
        raise GenzooError(
            f"expected images of shape (N, {c.channels}, {c.image_size}, {c.image_size}) in [0, 1], "
            f"got {tuple(images.shape)}"
        )
    options = {"seed": seed, "steps": steps, "lam": lam, "restarts": restarts, "lr": lr, "samples": samples, "raw": raw}
    # Each family takes its own options (VAEs: samples, raw; GANs: steps, lam ...); callers
    # such as `genzoo score` offer all of them, so pass each model the ones it declares.
    params = inspect.signature(model.anomaly_score).parameters
    if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        options = {k: v for k, v in options.items() if k in params}
    return model.anomaly_score(images, labels, **options)


def anogan_scores(
    model: Any,
    images: Tensor,
    labels: Any = None,
    *,
    seed: int = 0,
    steps: int = 100,
    lam: float = 0.1,
    restarts: int = 8,
    lr: float = 0.05,
    batch_size: int = 256,
) -> dict[str, Tensor]:
    """AnoGAN-style scores for a GAN (see the module docstring); images (N, C, H, W) in [0, 1]."""
    if steps < 0 or restarts < 1:
        raise GenzooError(f"latent search needs steps >= 0 and restarts >= 1, got {steps} and {restarts}")
    if not 0 <= lam <= 1:
        raise GenzooError(f"lam must be in [0, 1], got {lam}")
    n = images.shape[0]
    y = None
    if model.is_conditional:
        if labels is None:
            raise GenzooError("this GAN is conditional: give the images' labels (--label) to score them")
        y = model.check_labels(labels, n)
    elif labels is not None:
        model.check_labels(labels, n)  # raises "not conditional"
    gen = torch.Generator().manual_seed(seed)
    dev = model.device
    was = model.training
    model.eval()
    res, disc = [], []
    try:
        for i in range(0, n, batch_size):
            x = images[i : i + batch_size].to(dev, torch.float32).clamp(0, 1)
            yb = None if y is None else y[i : i + batch_size].to(dev)
            z = _latent_search(model, x, yb, gen, steps=steps, restarts=restarts, lr=lr)
            with torch.no_grad():
                g = (model.generator(z, yb).float() + 1) * 0.5
                res.append((x - g).abs().flatten(1).sum(1).cpu())
                d = model.discriminator(x * 2 - 1, yb).float()
                disc.append(F.softplus(-d).cpu())
    finally:
        model.train(was)
    r, dd = torch.cat(res), torch.cat(disc)
    return {"score": (1 - lam) * r + lam * dd, "residual": r, "discriminator": dd,
            "latent_steps": torch.full((n,), float(steps))}


def _latent_search(model: Any, x: Tensor, y: Tensor | None, gen: torch.Generator, *, steps: int,
                   restarts: int, lr: float) -> Tensor:
    """z (B, latent_dim) minimising sum |x - G(z)|: best of ``restarts`` prior draws, then Adam."""
    b, dim = x.shape[0], model.latent_dim

    def residual(z: Tensor) -> Tensor:
        return ((model.generator(z, y).float() + 1) * 0.5 - x).abs().flatten(1).sum(1)

    with torch.no_grad():
        cands = torch.randn(restarts, b, dim, generator=gen).to(x.device)
        errs = torch.stack([residual(cands[r]) for r in range(restarts)])  # (R, B)
        z = cands[errs.argmin(0), torch.arange(b, device=x.device)].clone()
    z.requires_grad_(True)
    opt = torch.optim.Adam([z], lr=lr)
    with torch.enable_grad():
        for _ in range(steps):
            loss = residual(z).sum()
            # gradients for z only: the networks' .grad stay untouched
            (gz,) = torch.autograd.grad(loss, [z])
            z.grad = gz
            opt.step()
    return z.detach()
