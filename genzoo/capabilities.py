"""Capabilities: what a model can do beyond training, as typed, runtime-checkable protocols.

Core commands and API functions do not guess what a model can do; they check a capability
and, when the model lacks it, name the installed families that have it::

    from genzoo.plugin import Inpaints, require

    require(model, Inpaints)          # GenzooError: "a dcgan model cannot inpaint; ... diffusion"
    model.inpaint(images, mask)

How a model has a capability (the rule, also in docs/plugins.md):

1. **Structurally**: its class has every member of the protocol (methods, properties or
   class attributes with the protocol's names) or annotates the data members it sets in
   ``__init__`` (``latent_gmm: LatentGMM``), so :func:`families_with` can answer from the
   class without building a model.
2. **By declaration**: ``capabilities = (MyCapability,)`` on the model class adds
   capabilities that cannot be seen structurally; ``lacks_capabilities = (Samples,)``
   withdraws one the class seems to have but refuses (pix2pix's ``sample`` raises).
3. **Config-dependent** ones (:class:`ConditionalOnLabels`) also ask the model itself:
   a model has it only when ``model.is_conditional``; a family may have it when its
   ``supports_labels`` is true.

Image convention at this API: images are float tensors (N, C, H, W) with values in [0, 1],
labels int64 (N,) in [0, num_classes). A plugin may define its own protocols (decorate
with ``@runtime_checkable``) and check them with :func:`require` just like these.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from genzoo.errors import GenzooError, unknown_name
from genzoo.registry import families

if TYPE_CHECKING:  # torch stays unimported until a model is (keeps `genzoo --help` fast)
    from torch import Tensor


@dataclass(frozen=True)
class Likelihood:
    """Per-image log-likelihoods from :class:`HasLikelihood`.

    nats: log p(x) (or a lower bound on it) per image, (N,) float CPU tensor, in nats.
    bits_per_dim: -log p(x) / (D ln 2) per image, (N,), D = C * H * W (lower is better).
    exact: True for an exact log-likelihood (a normalizing flow), False for a bound (an ELBO).
    """

    nats: Tensor
    bits_per_dim: Tensor
    exact: bool

    @classmethod
    def from_nats(cls, nats: Tensor, dims: int, *, exact: bool) -> Likelihood:
        """Build from log p(x) in nats (N,) and the number of dimensions D of one image."""
        return cls(nats=nats, bits_per_dim=-nats / (dims * math.log(2)), exact=exact)


# ------------------------------------------------------------------------------------------
# The built-in capabilities
# ------------------------------------------------------------------------------------------
@runtime_checkable
class Samples(Protocol):
    """Draws new images from noise.

    ``sample(n, *, seed, labels, sampler, ...)`` -> images (n, C, H, W) in [0, 1]; the same
    seed gives the same images.
    """

    def sample(self, n: int, *, seed: int | None = None, labels: Any = None, **kwargs: Any) -> Any: ...


@runtime_checkable
class ConditionalOnLabels(Protocol):
    """Generates images of a requested class.

    ``labels`` are int64 (N,) in [0, num_classes). Config-dependent: a model has it when ``is_conditional`` is true (trained with labels).
    ``check_labels(labels, n)`` validates ints, lists or tensors and returns int64 (n,).
    """

    @property
    def is_conditional(self) -> bool: ...

    def check_labels(self, labels: Any, n: int) -> Any: ...


@runtime_checkable
class EncodesImages(Protocol):
    """Maps images to latents.

    ``encode(images (N, C, H, W) in [0, 1], labels=None)`` -> (mean, logvar), each
    (N, latent_dim) float CPU: a Gaussian q(z | x); a deterministic encoder returns its code
    as ``mean`` and ``logvar`` filled with -inf (zero variance).
    """

    def encode(self, images: Tensor, labels: Any = None) -> tuple[Tensor, Tensor]: ...


@runtime_checkable
class Reconstructs(Protocol):
    """Encodes and decodes images again.

    ``reconstruct(images (N, C, H, W) in [0, 1], labels=None, *, sample=False, seed=0)`` ->
    reconstructions, same shape, in [0, 1]; ``sample`` decodes a draw instead of the mean.
    """

    def reconstruct(self, images: Tensor, labels: Any = None, *, sample: bool = False, seed: int = 0) -> Tensor: ...


@runtime_checkable
class DecodesLatents(Protocol):
    """Decodes latent vectors into images: a latent space to walk.

    ``decode(z (N, latent_dim), labels=None)`` -> images (N, C, H, W) in [0, 1]. The latent behind ``sample(1, seed=s)`` is ``draw_noise`` from the sampler registry
    (genzoo.latent); ``latent_dim`` is its size.
    """

    @property
    def latent_dim(self) -> int: ...

    def decode(self, z: Tensor, labels: Any = None) -> Tensor: ...


@runtime_checkable
class TranslatesImages(Protocol):
    """Translates images into images, in one direction or several (CycleGAN: AtoB, BtoA).

    ``translate(x (N, in_channels, S, S) in [0, 1], *, seed=None, batch_size=64, ...)`` ->
    (N, C, S, S) in [0, 1]. ``directions`` names the directions the model can run, the
    first being the default; a model with more than one takes ``direction=`` (one of them).
    """

    @property
    def in_channels(self) -> int: ...

    @property
    def directions(self) -> tuple[str, ...]: ...

    def translate(self, x: Tensor, **options: Any) -> Tensor: ...


@runtime_checkable
class Inpaints(Protocol):
    """Fills a masked region consistently with the rest.

    ``inpaint(images (N, C, S, S) in [0, 1], mask (N|1, 1, S, S): 1 = fill, 0 = keep, *, seed=0,
    labels=None, ...)`` -> (N, C, S, S) in [0, 1], equal to ``images`` where the mask is 0.
    """

    def inpaint(self, images: Tensor, mask: Tensor, **options: Any) -> Tensor: ...


@runtime_checkable
class Restores(Protocol):
    """Solves linear inverse problems y = A x with its prior, without training on them.

    ``restore(y (N, C', S, S) in [0, 1]: the degraded images, operator: a
    :class:`genzoo.degradations.LinearOperator` A (acting on [-1, 1] images (N, C, S, S) ->
    (N, C', S, S), with its pseudo-inverse), *, seed=0, labels=None, steps=None, progress=False)``
    -> (N, C, S, S) in [0, 1], consistent with the measurement: A(restored) is close to y
    (up to its noise, ``operator.noise_std``). Here y in [0, 1] means A(x) of the image in
    [-1, 1], mapped back to [0, 1] as images are (y01 = (y + 1) / 2).
    """

    def restore(self, y: Tensor, operator: Any, **options: Any) -> Tensor: ...


@runtime_checkable
class ScoresAnomalies(Protocol):
    """Says how unlike its training data each image is.

    ``anomaly_score(images (N, C, H, W) in [0, 1], labels=None, *, seed=0, ...)`` ->
    ``{"score": (N,), ...components (N,)}`` float CPU tensors, higher = more anomalous.
    """

    def anomaly_score(self, images: Tensor, labels: Any = None, **options: Any) -> dict[str, Tensor]: ...


@runtime_checkable
class HasLikelihood(Protocol):
    """A log-likelihood of images, exact or a lower bound.

    ``log_likelihood(images (N, C, H, W) in [0, 1], labels=None, *, seed=0)`` -> a
    :class:`Likelihood` (nats and bits per dimension per image, and whether it is exact).
    """

    def log_likelihood(self, images: Tensor, labels: Any = None, **options: Any) -> Likelihood: ...


@runtime_checkable
class ShowsTrajectory(Protocol):
    """Shows its sampling path from noise to image.

    ``sample_trajectory(n, *, seed, labels, sampler, frames=10, ...)`` -> (images (n, C, H, W),
    trajectory (n, F, C, H, W)), both in [0, 1]; the images equal ``sample(n, seed=seed)``'s.
    """

    def sample_trajectory(self, n: int, **options: Any) -> tuple[Tensor, Tensor]: ...


@runtime_checkable
class HasLatentMixture(Protocol):
    """Keeps a latent mixture fitted after training (for the gmm sampler).

    The mixture is a Gaussian mixture over the encoded training set.
    ``latent_gmm``: a :class:`~genzoo.samplers.LatentGMM` over (latent_dim,) latents;
    ``fit_gmm(images (N, C, H, W) in [0, 1], labels=None, *, seed=0)`` fits it.
    """

    latent_gmm: Any

    def fit_gmm(self, images: Tensor, labels: Any = None, *, seed: int = 0) -> dict[str, float]: ...


CAPABILITIES: tuple[type, ...] = (
    Samples, ConditionalOnLabels, EncodesImages, Reconstructs, DecodesLatents, TranslatesImages, Inpaints,
    ScoresAnomalies, HasLikelihood, ShowsTrajectory, HasLatentMixture, Restores,
)

# What a model without the capability cannot do, for require()'s default message.
_ACTIONS = {
    Samples: "sample images", ConditionalOnLabels: "generate for given labels", EncodesImages: "encode images",
    Reconstructs: "reconstruct images", DecodesLatents: "decode latent vectors", TranslatesImages: "translate images",
    Inpaints: "inpaint", Restores: "restore degraded images", ScoresAnomalies: "score images for anomalies", HasLikelihood: "give a log-likelihood",
    ShowsTrajectory: "show its sampling trajectory", HasLatentMixture: "sample from a fitted latent mixture",
}


class MissingCapabilityError(GenzooError):
    """A model lacks a capability; ``families`` are the installed families that have it."""

    def __init__(self, message: str, capability: type, family: str, families: list[str]):
        super().__init__(message)
        self.capability, self.family, self.families = capability, family, families


# ------------------------------------------------------------------------------------------
# Checking
# ------------------------------------------------------------------------------------------
def _check_capability(capability: Any) -> type:
    if isinstance(capability, str):
        return get_capability(capability)
    if not (isinstance(capability, type) and getattr(capability, "_is_runtime_protocol", False)):
        raise GenzooError(
            f"{capability!r} is not a capability: use a @runtime_checkable Protocol such as genzoo.plugin.Inpaints"
        )
    return capability


def get_capability(name: str) -> type:
    """A built-in capability by name, case-insensitive (``"inpaints"`` -> :class:`Inpaints`)."""
    for cap in CAPABILITIES:
        if cap.__name__.lower() == name.lower():
            return cap
    raise unknown_name("capability", name, [c.__name__ for c in CAPABILITIES])


def members(capability: type) -> list[str]:
    """The names a class must have to provide ``capability`` structurally."""
    names: set[str] = set()
    for base in _check_capability(capability).__mro__:
        if base in (object, Protocol) or not getattr(base, "_is_protocol", False):
            continue
        names.update(n for n in vars(base) if not n.startswith("_"))
        names.update(n for n in vars(base).get("__annotations__", {}) if not n.startswith("_"))
    return sorted(names)


def _declared(cls: type, attr: str) -> tuple[type, ...]:
    # the documented declarations (module docstring, point 2); absent means none
    return tuple(getattr(cls, attr, ()) or ())


def _names_in(decl: Iterable[type], capability: type) -> bool:
    # a declared protocol that extends `capability` provides it too
    return any(capability in d.__mro__ for d in decl)


def _annotated(cls: type, name: str) -> bool:
    return any(name in vars(k).get("__annotations__", {}) for k in cls.__mro__)


def _class_has(cls: type, capability: type) -> bool:
    if _names_in(_declared(cls, "lacks_capabilities"), capability):
        return False
    if _names_in(_declared(cls, "capabilities"), capability):
        return True
    return all(hasattr(cls, m) or _annotated(cls, m) for m in members(capability))


def has_capability(obj: Any, capability: Any) -> bool:
    """Whether a model (instance), a model class or a Family provides ``capability``.

    For a model, config-dependent capabilities ask the model (a cvae trained without labels is
    not :class:`ConditionalOnLabels`); for a class or family they mean "may have".
    """
    cap = _check_capability(capability)
    family = _as_family(obj)
    if family is not None:
        cls = family.model_class
        if cap is ConditionalOnLabels and not _names_in(_declared(cls, "capabilities"), cap):
            return bool(family.supports_labels) and _class_has(cls, cap)
        return _class_has(cls, cap)
    if isinstance(obj, type):
        if cap is ConditionalOnLabels:  # a bare class cannot know its config: only a declaration counts
            return _names_in(_declared(obj, "capabilities"), cap) and not _names_in(
                _declared(obj, "lacks_capabilities"), cap)
        return _class_has(obj, cap)
    if _names_in(_declared(type(obj), "lacks_capabilities"), cap):
        return False
    found = _names_in(_declared(type(obj), "capabilities"), cap) or _class_has(type(obj), cap) or isinstance(obj, cap)
    if found and cap is ConditionalOnLabels:
        return bool(obj.is_conditional)
    return found


def _as_family(obj: Any) -> Any:
    # Imported here: genzoo.family imports torch, which `genzoo --help` must not pay for.
    from genzoo.family import Family

    if isinstance(obj, Family) or (isinstance(obj, type) and issubclass(obj, Family)):
        return obj
    return None


def capabilities_of(obj: Any) -> list[type]:
    """The capabilities a model, model class or Family has: the built-in ones it passes and
    every capability its model class declares (a plugin's own included)."""
    family = _as_family(obj)
    cls = family.model_class if family is not None else (obj if isinstance(obj, type) else type(obj))
    found = [c for c in CAPABILITIES if has_capability(obj, c)]
    found += [c for c in _declared(cls, "capabilities") if c not in found]
    return found


def families_with(capability: Any) -> list[str]:
    """Installed families whose model class has ``capability`` (checked on the class: no model is built).

    Families whose plugin fails to load are left out (``genzoo plugins`` reports them).
    """
    cap = _check_capability(capability)
    out = []
    for name in families.names():
        try:
            fam = families.get(name)
        except GenzooError:
            continue
        if has_capability(fam, cap):
            out.append(name)
    return out


def _family_name(model: Any) -> str:
    return str(getattr(model, "family_name", "") or type(model).__name__)


def require(model: Any, capability: Any, *, message: str | None = None) -> None:
    """Raise a one-line :class:`MissingCapabilityError` unless ``model`` has ``capability``.

    The default message says what the model cannot do and names the installed families that
    can. ``message`` replaces it; it may use ``{family}`` (the model's family) and
    ``{families}`` ("vae or cvae", the families that have the capability).
    """
    cap = _check_capability(capability)
    if has_capability(model, cap):
        return
    fam = _family_name(model)
    have = [f for f in families_with(cap) if f != fam]
    names = " or ".join(have) if have else f"(no installed family has {cap.__name__})"
    if message is None:
        if cap in _ACTIONS:
            message = "a {family} model cannot " + _ACTIONS[cap] + "; "
        else:  # a plugin's own capability: name it
            message = "a {family} model lacks the " + cap.__name__ + " capability; "
        message += ("families that have it: {families}" if have else "no installed family has " + cap.__name__)
    # replace, not str.format: the message may quote user input with braces in it (a path)
    text = message.replace("{family}", fam).replace("{families}", names)
    raise MissingCapabilityError(text, cap, fam, have)


def capability_table(pattern: str = "*") -> list[tuple[type, list[str]]]:
    """(capability, families having it) for the built-in capabilities and those installed
    families declare, matching a wildcard on the name; for `genzoo list capabilities`."""
    fams = {}
    for name in families.names():
        try:
            fams[name] = families.get(name)
        except GenzooError:
            continue
    caps = list(CAPABILITIES)
    for fam in fams.values():
        caps += [c for c in _declared(fam.model_class, "capabilities") if c not in caps]
    return [(c, [n for n, f in fams.items() if has_capability(f, c)])
            for c in caps if fnmatch.fnmatchcase(c.__name__.lower(), pattern.lower())]


def describe(capability: type) -> str:
    """The first line of a capability's docstring."""
    doc = (capability.__doc__ or "").strip()
    return doc.splitlines()[0] if doc else ""


__all__ = [
    "Samples", "ConditionalOnLabels", "EncodesImages", "Reconstructs", "DecodesLatents", "TranslatesImages",
    "Inpaints", "Restores", "ScoresAnomalies", "HasLikelihood", "ShowsTrajectory", "HasLatentMixture", "Likelihood",
    "CAPABILITIES", "MissingCapabilityError", "require", "has_capability", "capabilities_of", "families_with",
    "get_capability", "members", "capability_table", "describe",
]
