"""Latent samplers: named, registered objects that produce the noise a model decodes.

A sampler says which models it supports (``supports(model)``), which keyword options it
takes (``options``), and draws latents on the CPU from a ``torch.Generator`` so that a seed
fixes the result on any device. Diffusion samplers (whole trajectories) register here too.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from genzoo.capabilities import DecodesLatents, EncodesImages, HasLatentMixture, has_capability
from genzoo.errors import GenzooError
from genzoo.registry import register_sampler

_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


class Sampler:
    """Base class. ``latents`` returns (n, latent_dim) float32 on the CPU."""

    name: str = ""  # set by the registry from the key the sampler is registered under
    description: ClassVar[str] = ""
    options: ClassVar[tuple[str, ...]] = ()
    #: what a model must have to use this sampler, for the error when ``supports`` says no.
    requires: ClassVar[str] = ""
    #: option -> hint added to the error when this sampler refuses it
    refused_hints: ClassVar[dict[str, str]] = {}
    #: option -> float, int, bool or str: text given as ``--opt KEY=VALUE`` is converted to it,
    #: and a value that is not one is refused (options not named here pass unchanged)
    option_types: ClassVar[dict[str, type]] = {}

    def check_options(self, opts: Any, *, flags: bool = False) -> dict[str, Any]:
        """Refuse option names this sampler does not take, naming them as CLI flags (``--steps``)
        when ``flags``, else as options, and listing the ones it does take. Returns the options
        with their values converted to ``option_types``."""
        bad = [k for k in opts if k not in self.options]
        if bad:
            what = f"--{bad[0]}" if flags else f"option '{bad[0]}'"
            hint = f" ({self.refused_hints[bad[0]]})" if bad[0] in self.refused_hints else ""
            raise GenzooError(
                f"sampler '{self.name}' takes no {what}{hint}; its options: {', '.join(self.options) or 'none'}"
            )
        return {k: self._typed(k, v, flags) for k, v in opts.items()}

    def _typed(self, key: str, value: Any, flags: bool) -> Any:
        kind = self.option_types.get(key)
        if kind is None or value is None:
            return value
        if kind is str:
            return str(value)  # the sampler names the text it accepts (an unknown spacing, say)
        if kind is bool:
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in _TRUE + _FALSE:
                return text in _TRUE
        elif not isinstance(value, bool):  # True is not a number of steps
            try:
                number = float(value)
            except (TypeError, ValueError):
                number = math.nan
            if math.isfinite(number) and (kind is float or number.is_integer()):
                return kind(number)
        what = f"--{key}" if flags else f"option '{key}'"
        must = {float: "a finite number", int: "a whole number", bool: "true or false"}[kind]
        raise GenzooError(f"sampler '{self.name}' {what} must be {must}, got '{value}'")

    def supports(self, model: Any) -> bool:
        """Whether this sampler can draw ``model``'s latents: latent samplers need a model that
        decodes latent vectors (DecodesLatents)."""
        return has_capability(model, DecodesLatents)

    def latents(self, model: Any, n: int, gen: torch.Generator, **opts: Any) -> Tensor:
        raise NotImplementedError


@register_sampler("normal")
class NormalSampler(Sampler):
    description = "the prior N(0, I)"

    def latents(self, model: Any, n: int, gen: torch.Generator, **opts: Any) -> Tensor:
        return torch.randn(n, model.latent_dim, generator=gen)


@register_sampler("truncated-normal")
class TruncatedNormalSampler(Sampler):
    """N(0, I) with entries beyond ``truncation`` resampled (default) or clamped.

    Lower thresholds trade variety for fidelity (the "truncation trick").
    """

    description = "N(0, I) truncated at |z| <= truncation (resample or clamp)"
    options = ("truncation", "truncation_mode")
    option_types = {"truncation": float, "truncation_mode": str}

    def latents(self, model: Any, n: int, gen: torch.Generator, *, truncation: float = 1.0,
                truncation_mode: str = "resample", **opts: Any) -> Tensor:
        if truncation <= 0:
            raise GenzooError(f"truncation must be > 0, got {truncation}")
        z = torch.randn(n, model.latent_dim, generator=gen)
        if truncation_mode == "clamp":
            return z.clamp_(-truncation, truncation)
        if truncation_mode != "resample":
            raise GenzooError(f"truncation_mode must be 'resample' or 'clamp', got '{truncation_mode}'")
        for _ in range(1000):  # each round keeps P(|z|<=t) of the rest; terminates fast for t >= 0.1
            bad = z.abs() > truncation
            if not bad.any():
                break
            z[bad] = torch.randn(int(bad.sum()), generator=gen)
        return z.clamp_(-truncation, truncation)


@register_sampler("uniform")
class UniformSampler(Sampler):
    """U(-sqrt(3), sqrt(3)): zero mean, unit variance, bounded."""

    description = "uniform with unit variance, U(-sqrt 3, sqrt 3)"

    def latents(self, model: Any, n: int, gen: torch.Generator, **opts: Any) -> Tensor:
        return (torch.rand(n, model.latent_dim, generator=gen) * 2 - 1) * 3**0.5


# ------------------------------------------------------------------------------------------
# gmm: ex-post density estimation on the aggregate posterior
# ------------------------------------------------------------------------------------------
class LatentGMM(nn.Module):
    """A Gaussian mixture over latents, kept as buffers so it is saved with the model.

    A VAE's prior N(0, I) and its aggregate posterior q(z) = E_x q(z | x) differ after
    training; prior samples then land where the decoder saw no data and decode to blur.
    Fitting a mixture to encoded training images after training and sampling from it
    ("ex-post density estimation", Ghosh et al. 2020, arXiv:1903.12436) avoids that.

    Buffers (fixed shapes, so ``load_state_dict`` is strict): ``weights`` (K,),
    ``means`` (K, D), ``scale_tril`` (K, D, D) lower Cholesky factors of the covariances,
    ``fitted`` () 1 once :meth:`fit` ran.
    """

    def __init__(self, components: int, dim: int):
        super().__init__()
        if components < 1:
            raise GenzooError(f"gmm_components must be at least 1, got {components}")
        self.components, self.dim = components, dim
        self.register_buffer("weights", torch.full((components,), 1.0 / components))
        self.register_buffer("means", torch.zeros(components, dim))
        self.register_buffer("scale_tril", torch.eye(dim).expand(components, dim, dim).clone())
        self.register_buffer("fitted", torch.zeros((), dtype=torch.uint8))

    @property
    def is_fitted(self) -> bool:
        return bool(self.fitted.item())

    @torch.no_grad()
    def fit(self, z: Tensor, *, covariance: str = "full", seed: int = 0, max_iter: int = 200) -> dict[str, float]:
        """Fit to latents ``z`` (N, D) with scikit-learn's EM; returns fit facts.

        ``covariance``: full | diag. Components beyond N are not allowed (each needs data).
        """
        from sklearn.mixture import GaussianMixture  # here: slow to import; only fitting needs it

        if z.ndim != 2 or z.shape[1] != self.dim:
            raise GenzooError(f"gmm: expected latents of shape (N, {self.dim}), got {tuple(z.shape)}")
        if z.shape[0] < self.components * 2:
            raise GenzooError(
                f"gmm: {z.shape[0]} latents are too few for {self.components} components; "
                "fit on more images or set gmm_components lower"
            )
        if covariance not in ("full", "diag"):
            raise GenzooError(f"gmm_covariance must be 'full' or 'diag', got '{covariance}'")
        x = z.detach().double().cpu().numpy()
        gm = GaussianMixture(self.components, covariance_type=covariance, random_state=seed, max_iter=max_iter,
                             reg_covar=1e-5, n_init=1)
        gm.fit(x)
        cov = torch.from_numpy(gm.covariances_)
        if covariance == "diag":
            cov = torch.diag_embed(cov)
        dev = self.means.device
        self.weights.copy_(torch.from_numpy(gm.weights_).float().to(dev))
        self.means.copy_(torch.from_numpy(gm.means_).float().to(dev))
        self.scale_tril.copy_(torch.linalg.cholesky(cov).float().to(dev))
        self.fitted.fill_(1)
        return {"gmm_avg_log_likelihood": float(gm.score(x)), "gmm_converged": float(gm.converged_),
                "gmm_points": float(x.shape[0])}

    def sample(self, n: int, gen: torch.Generator) -> Tensor:
        """``n`` latents (n, D) float32 on the CPU, all randomness from ``gen``."""
        w = self.weights.detach().float().cpu()
        k = torch.multinomial(w, n, replacement=True, generator=gen)
        eps = torch.randn(n, self.dim, 1, generator=gen)
        L = self.scale_tril.detach().float().cpu()[k]
        return self.means.detach().float().cpu()[k] + (L @ eps).squeeze(-1)

    def log_prob(self, z: Tensor) -> Tensor:
        """log density of latents ``z`` (N, D) under the mixture -> (N,)."""
        mix = torch.distributions.Categorical(probs=self.weights.float())
        comp = torch.distributions.MultivariateNormal(self.means.float(), scale_tril=self.scale_tril.float())
        return torch.distributions.MixtureSameFamily(mix, comp).log_prob(z.float())


@register_sampler("gmm")
class GMMSampler(Sampler):
    """Samples from the Gaussian mixture fitted to the model's encoded training set.

    Works with models that encode images and keep a fitted mixture (EncodesImages and
    HasLatentMixture: the VAEs and the plain autoencoder fit it at the end of training), so it lives in core beside the other samplers.
    """

    description = "Gaussian mixture fitted to the encoder's aggregate posterior after training"
    requires = "an encoder and a latent mixture fitted after training (capabilities EncodesImages and HasLatentMixture)"

    def supports(self, model: Any) -> bool:
        return (super().supports(model) and has_capability(model, EncodesImages)
                and has_capability(model, HasLatentMixture) and isinstance(model.latent_gmm, LatentGMM))

    def latents(self, model: Any, n: int, gen: torch.Generator, **opts: Any) -> Tensor:
        gmm: LatentGMM = model.latent_gmm
        if not gmm.is_fitted:
            raise GenzooError(
                f"this {model.family_name or 'model'} has no fitted latent mixture (it is fitted at "
                "the end of training); train it first, or call model.fit_gmm(images)"
            )
        return gmm.sample(n, gen)
