"""Latent-space tools for every family that decodes latent vectors (GANs, VAEs).

* :func:`lerp` and :func:`slerp`: linear and spherical interpolation between latents;
  :func:`walk` decodes a path through the latents of several seeds.
* :func:`arithmetic`: ``a - b + c`` on averaged latents, as in the DCGAN paper's face
  arithmetic (Radford et al. 2016, section 6.3: "smiling woman - neutral woman + neutral man").
* Stored latents: :func:`save_latents` / :func:`load_latents` read and write ``.npz`` files
  with a ``latents`` array (N, latent_dim); ``genzoo sample --save-latents`` writes one for
  the images it draws, so a picture picked from a grid can be reused here by its index.

Which latent is "seed s": the one ``model.sample(1, seed=s)`` decodes (same sampler and
options), so a seed names the same image in ``genzoo sample``, ``interpolate`` and ``arithmetic``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from genzoo.capabilities import DecodesLatents, require
from genzoo.errors import GenzooError
from genzoo.io import atomic_path

METHODS = ("slerp", "lerp")


# ------------------------------------------------------------------------------------------
# interpolation
# ------------------------------------------------------------------------------------------
def _weights(t: float | Sequence[float] | Tensor, like: Tensor) -> Tensor:
    """t -> (T, 1) float tensor on like's device."""
    w = torch.as_tensor(t, dtype=like.dtype, device=like.device).flatten()
    return w[:, None]


def lerp(a: Tensor, b: Tensor, t: float | Sequence[float] | Tensor) -> Tensor:
    """Linear interpolation: latents a, b (d,) and weights t (T,) -> (T, d); t=0 gives a, t=1 gives b."""
    w = _weights(t, a)
    return (1 - w) * a[None] + w * b[None]


def slerp(a: Tensor, b: Tensor, t: float | Sequence[float] | Tensor, eps: float = 1e-6) -> Tensor:
    """Spherical interpolation along the great circle from a to b: (d,), (d,), (T,) -> (T, d).

    Gaussian latents concentrate near a sphere of radius sqrt(d); a straight line between two
    of them passes through the low-density interior (its midpoint has norm ~ sqrt(d / 2)),
    a great circle does not (White 2016, arXiv:1609.04468). Nearly parallel latents fall
    back to lerp, where the two agree.
    """
    w = _weights(t, a)
    cos = torch.dot(a / a.norm().clamp_min(1e-12), b / b.norm().clamp_min(1e-12)).clamp(-1, 1)
    omega = torch.arccos(cos)
    so = torch.sin(omega)
    if so.abs() < eps:
        return lerp(a, b, t)
    return (torch.sin((1 - w) * omega) / so) * a[None] + (torch.sin(w * omega) / so) * b[None]


def path(latents: Tensor, steps: int, method: str = "slerp") -> Tensor:
    """Latents (K, d), K >= 2 -> a path (M, d) through them in order, M = (K - 1) * (steps - 1) + 1.

    Each leg has ``steps`` points including both ends; shared ends appear once.
    """
    if method not in METHODS:
        raise GenzooError(f"unknown interpolation method '{method}'; use slerp or lerp")
    if latents.shape[0] < 2:
        raise GenzooError("interpolation needs at least two latents (e.g. --seeds 1 2)")
    if steps < 2:
        raise GenzooError(f"--steps must be at least 2 (the two ends), got {steps}")
    fn = slerp if method == "slerp" else lerp
    t = torch.linspace(0, 1, steps)
    legs = [fn(latents[i], latents[i + 1], t) for i in range(latents.shape[0] - 1)]
    return torch.cat([legs[0]] + [leg[1:] for leg in legs[1:]])


# ------------------------------------------------------------------------------------------
# latents of seeds and stored latents
# ------------------------------------------------------------------------------------------
def require_latent_model(model: Any) -> None:
    """Raise unless ``model`` decodes latent vectors (DecodesLatents), naming the families that do."""
    require(model, DecodesLatents, message=(
        "a {family} model does not decode latent vectors, so it has no latent space to walk; "
        "use a family that does: {families}"))


def sample_latents(model: Any, n: int, seed: int, *, sampler: str | None = None, **opts: Any) -> Tensor:
    """The latents (n, latent_dim) behind ``model.sample(n, seed=seed, sampler=sampler, **opts)``."""
    require_latent_model(model)
    gen = torch.Generator(device="cpu").manual_seed(int(seed))
    return model.draw_noise(n, gen, sampler=sampler, **opts)


def seed_latents(model: Any, seeds: Sequence[int], *, sampler: str | None = None, **opts: Any) -> Tensor:
    """One latent per seed: row i is the latent of ``model.sample(1, seed=seeds[i])``. -> (len(seeds), d)."""
    return torch.cat([sample_latents(model, 1, s, sampler=sampler, **opts) for s in seeds])


def save_latents(path: str | Path, latents: Tensor, **arrays: Any) -> Path:
    """Write latents (N, d) as float32 under key 'latents' in an .npz (plus any extra arrays), atomically."""
    path = Path(path)
    if path.suffix.lower() != ".npz":
        raise GenzooError(f"latents are stored as .npz; got '{path}'")
    data = {"latents": latents.detach().float().cpu().numpy()}
    data.update({k: np.asarray(v.cpu() if isinstance(v, Tensor) else v) for k, v in arrays.items() if v is not None})
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **data)
    return path


def load_latents(path: str | Path, latent_dim: int | None = None) -> Tensor:
    """Read the 'latents' array (N, d) of an .npz written by :func:`save_latents` -> float32 tensor."""
    path = Path(path)
    if not path.is_file():
        raise GenzooError(f"latents file '{path}' not found (write one with genzoo sample --save-latents FILE.npz)")
    try:
        with np.load(path, allow_pickle=False) as f:
            if "latents" not in f.files:
                raise GenzooError(f"'{path}' has no 'latents' array (it has: {', '.join(f.files) or 'nothing'})")
            z = torch.from_numpy(np.array(f["latents"], dtype=np.float32))
    except (OSError, ValueError) as e:
        raise GenzooError(f"'{path}' is not a readable .npz file ({e})") from None
    if z.ndim != 2:
        raise GenzooError(f"'{path}': latents must be a 2-D array (N, latent_dim), got shape {tuple(z.shape)}")
    if latent_dim is not None and z.shape[1] != latent_dim:
        raise GenzooError(
            f"'{path}' holds {z.shape[1]}-dimensional latents but this model's latent_dim is {latent_dim}; "
            "were they saved from another model?"
        )
    return z


def pick(model: Any, refs: Sequence[int], *, stored: Tensor | None = None, sampler: str | None = None,
         **opts: Any) -> Tensor:
    """Latents for refs: seeds, or row indices of ``stored`` (N, d) when given. -> (len(refs), d)."""
    if stored is None:
        return seed_latents(model, refs, sampler=sampler, **opts)
    bad = [r for r in refs if not 0 <= r < stored.shape[0]]
    if bad:
        raise GenzooError(f"latent index {bad[0]} is out of range; the stored file has rows 0..{stored.shape[0] - 1}")
    return stored[list(refs)]


def arithmetic(a: Tensor, b: Tensor, c: Tensor) -> Tensor:
    """mean(a) - mean(b) + mean(c) for latents a, b, c each (k_i, d) -> (d,).

    Averaging a few exemplars per concept, as the DCGAN paper did (three each), makes the
    result far more stable than single latents.
    """
    return a.mean(0) - b.mean(0) + c.mean(0)


# ------------------------------------------------------------------------------------------
# decoding
# ------------------------------------------------------------------------------------------
def label_rows(model: Any, label: Any) -> list[int | None]:
    """Which class each output row uses: [None] for unconditional models; every class for
    'all' or no label on a conditional model; else the given labels (validated)."""
    if not model.is_conditional:
        if label is not None:
            model.check_labels(label, 1)  # raises the "not conditional" error
        return [None]
    k = int(model.config.num_classes)
    if label is None or label == "all":
        return list(range(k))
    labels = [label] if isinstance(label, int) else list(label)
    model.check_labels(labels, len(labels))  # raises for out-of-range labels
    return [int(v) for v in labels]


def decode_rows(model: Any, z: Tensor, rows: list[int | None], batch_size: int = 256) -> Tensor:
    """Decode latents z (M, d) once per row label -> images (R, M, C, H, W) in [0, 1]."""
    out = []
    for y in rows:
        imgs = [
            model.decode(z[i : i + batch_size], None if y is None else torch.full((len(z[i : i + batch_size]),), y))
            for i in range(0, z.shape[0], batch_size)
        ]
        out.append(torch.cat(imgs))
    return torch.stack(out)


def walk(model: Any, latents: Tensor, steps: int = 8, *, method: str = "slerp", label: Any = None) -> Tensor:
    """Decode a path through latents (K, d) -> images (R, M, C, H, W) in [0, 1].

    R: one row per class for conditional models (or the requested labels), else 1.
    M = (K - 1) * (steps - 1) + 1 images along the path.
    """
    require_latent_model(model)
    return decode_rows(model, path(latents, steps, method), label_rows(model, label))
