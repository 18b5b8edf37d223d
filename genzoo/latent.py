"""Latent-space tools for every family that decodes latent vectors (GANs, VAEs).

* :func:`lerp` and :func:`slerp`: linear and spherical interpolation between latents;
  :func:`walk` decodes a path through the latents of several seeds.
* :func:`arithmetic`: ``a - b + c`` on averaged latents, as in the DCGAN paper's face
  arithmetic (Radford et al. 2016, section 6.3: "smiling woman - neutral woman + neutral man").
* Stored latents: :func:`save_latents` / :func:`load_latents` read and write ``.npz`` files
  with a ``latents`` array (N, latent_dim); ``genzoo sample --save-latents`` writes one for
  the images it draws, so a picture picked from a grid can be reused here by its index.

* Real images (models with an encoder: EncodesImages and DecodesLatents): :func:`encode_latents`
  and :func:`image_latents` give their latents (the encoder's mean), :func:`attribute_direction`
  the difference of two classes' mean latents, :func:`decode_edits` images moved along it
  (strength 0 = the reconstruction). GANs have no encoder and there is no latent inversion
  here, so these refuse them.
* Maps: :func:`manifold` decodes a grid over a 2-D latent space at a sampler's quantiles;
  :func:`project_2d` (PCA) and :func:`draw_scatter` draw encoded data coloured by class.
  docs/latent.md shows both.

Which latent is "seed s": the one ``model.sample(1, seed=s)`` decodes (same sampler and
options), so a seed names the same image in ``genzoo sample``, ``interpolate`` and ``arithmetic``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont
from torch import Tensor

from genzoo.capabilities import DecodesLatents, EncodesImages, require
from genzoo.data import load_dataset
from genzoo.errors import GenzooError
from genzoo.images import load_images, to_uint8
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


# ------------------------------------------------------------------------------------------
# encoding real images
# ------------------------------------------------------------------------------------------
def require_encoder(model: Any, what: str = "this") -> None:
    """Raise unless ``model`` both encodes images and decodes latents (EncodesImages and
    DecodesLatents): the latent of a real image is only useful if it can be decoded again.

    ``what`` names the feature in the message ("--from-images", "an attribute direction").
    """
    require(model, EncodesImages, message=(
        what + " needs a model with an encoder, and a {family} model has none (genzoo has no latent "
        "inversion for it); use a run of {families}"))
    require_latent_model(model)


def encode_latents(model: Any, images: Tensor, labels: Any = None, *, batch_size: int = 256,
                   progress: Any = None) -> Tensor:
    """Images (N, C, H, W) in [0, 1] [+ labels (N,)] -> latents (N, latent_dim) float32 CPU.

    The latent of an image is its encoder's mean (the code of a deterministic encoder), so
    ``decode(encode_latents(x))`` is the model's reconstruction of x. ``progress``: a callable
    advanced by the number of images after each batch.
    """
    require(model, EncodesImages)
    out = []
    for i in range(0, images.shape[0], batch_size):
        y = None if labels is None else labels[i : i + batch_size]
        out.append(model.encode(images[i : i + batch_size], y)[0].float().cpu())
        if progress is not None:
            progress(out[-1].shape[0])
    if not out:
        raise GenzooError("no images to encode")
    return torch.cat(out)


def conditional_label(model: Any, label: Any, what: str) -> int | None:
    """The one class a conditional model encodes and decodes ``what`` with (``label``: an int,
    a one-element list or None); None for unconditional models."""
    if not model.is_conditional:
        if label is not None:
            model.check_labels(label, 1)  # raises the "not conditional" error
        return None
    if isinstance(label, list) and len(label) == 1:
        label = label[0]
    if not isinstance(label, int):
        raise GenzooError(
            f"this {model.family_name or 'model'} model is conditional: it encodes {what} given their class; "
            "name one class with --label (a number or a class name)")
    model.check_labels(label, 1)  # raises for an out-of-range class
    return int(label)


def image_latents(model: Any, paths: Sequence[str | Path], *, label: int | None = None) -> tuple[Tensor, Tensor]:
    """Read image files and encode them: -> (images (N, C, H, W) in [0, 1], latents (N, d)).

    Images are centre-cropped and resized to the model's size; ``label`` is the class a
    conditional model encodes them with (see :func:`conditional_label`).
    """
    require_encoder(model, "--from-images")
    x = load_images(list(paths), model.config.image_size, model.config.channels)
    y = None if label is None else torch.full((x.shape[0],), int(label), dtype=torch.long)
    return x, encode_latents(model, x, y)


# ------------------------------------------------------------------------------------------
# attribute directions from labels
# ------------------------------------------------------------------------------------------
def class_index(name: str, class_names: Sequence[str]) -> int:
    """A class by name (exact, then case-insensitive) or by number -> its index."""
    name = name.strip()
    if name in class_names:
        return list(class_names).index(name)
    folded = [c.casefold() for c in class_names]
    if name.casefold() in folded:
        return folded.index(name.casefold())
    if name.isdigit() and int(name) < len(class_names):
        return int(name)
    known = ", ".join(f"'{c}'" for c in class_names) if class_names else "none (the data has no labels)"
    raise GenzooError(f"unknown class '{name}'; the model's data has these classes: {known}")


def parse_direction(text: str, class_names: Sequence[str]) -> tuple[int, int]:
    """'Sneaker->Ankle boot' -> (index of Sneaker, index of Ankle boot)."""
    src, sep, dst = text.partition("->")
    if not sep or not src.strip() or not dst.strip():
        raise GenzooError(f"--direction takes 'FROM->TO' with two class names, e.g. 'Sneaker->Ankle boot'; got '{text}'")
    a, b = class_index(src, class_names), class_index(dst, class_names)
    if a == b:
        raise GenzooError(f"--direction '{text}' goes from a class to itself; name two different classes")
    return a, b


def class_means(model: Any, images: Tensor, labels: Tensor, classes: Sequence[int], *, per_class: int | None = None,
                progress: Any = None) -> Tensor:
    """The mean latent of each class in ``classes``: images (N, C, H, W) in [0, 1], labels (N,)
    -> (len(classes), latent_dim). ``per_class`` keeps the first so many images of each class
    (dataset order, so the result is deterministic). Conditional models encode with the labels."""
    means = []
    for c in classes:
        idx = (labels == c).nonzero().flatten()
        if per_class is not None:
            idx = idx[:per_class]
        if idx.numel() == 0:
            raise GenzooError(f"the data has no images of class {c}, so its mean latent is undefined")
        y = labels[idx] if model.is_conditional else None
        means.append(encode_latents(model, images[idx], y, progress=progress).mean(0))
    return torch.stack(means)


def attribute_direction(model: Any, images: Tensor, labels: Tensor, source: int, target: int, *,
                        per_class: int | None = None, progress: Any = None) -> Tensor:
    """mean latent of class ``target`` minus that of class ``source``: (latent_dim,).

    Adding it to the latent of a ``source`` image moves it, on average, to a ``target`` one
    (strength 1 covers the whole distance between the two class means). The class-mean
    difference is the simplest attribute vector (the DCGAN paper's "smiling" vectors were
    means of a few exemplars); it ignores how classes spread, which a linear probe would not.
    """
    m = class_means(model, images, labels, [source, target], per_class=per_class, progress=progress)
    return m[1] - m[0]


def edit_latents(z: Tensor, direction: Tensor, strengths: Sequence[float]) -> Tensor:
    """Latents (N, d), a direction (d,), strengths (S,) -> (N, S, d): z + s * direction.

    Strength 0 is the latent itself, so it decodes to the plain reconstruction."""
    s = torch.as_tensor(list(strengths), dtype=z.dtype)
    return z[:, None, :] + s[None, :, None] * direction.to(z)[None, None, :]


def decode_edits(model: Any, z: Tensor, direction: Tensor, strengths: Sequence[float], label: int | None = None,
                 batch_size: int = 256) -> Tensor:
    """Decode every latent (N, d) moved by every strength -> images (N, S, C, H, W) in [0, 1].

    ``label``: the class a conditional model decodes with (None for unconditional models)."""
    require_latent_model(model)
    moved = edit_latents(z, direction, strengths)
    n, k = moved.shape[:2]
    images = decode_rows(model, moved.flatten(0, 1), [label], batch_size=batch_size)[0]
    return images.view(n, k, *images.shape[1:])


# ------------------------------------------------------------------------------------------
# maps of the latent space: the 2-D manifold grid and the scatter of encoded data
# ------------------------------------------------------------------------------------------
#: draws used to estimate quantiles of a sampler with no closed form (gmm, uniform ...)
QUANTILE_DRAWS = 20000


def grid_quantiles(size: int, margin: float = 0.05) -> Tensor:
    """``size`` evenly spaced probabilities from ``margin`` to 1 - margin: (size,)."""
    if size < 2:
        raise GenzooError(f"the grid needs at least 2 points a side, got {size}")
    if not 0 < margin < 0.5:
        raise GenzooError(f"the grid margin must be between 0 and 0.5 (a probability), got {margin}")
    return torch.linspace(margin, 1 - margin, size)


def axis_values(model: Any, probs: Tensor, *, sampler: str | None = None, seed: int = 0, **opts: Any) -> Tensor:
    """The latent coordinates at probabilities ``probs`` (P,) of each axis's marginal under the
    model's sampler: (P, latent_dim).

    The ``normal`` prior has a closed form (the inverse Gaussian CDF, as in Kingma and
    Welling's 2-D manifold figures); any other sampler (a fitted gmm, uniform, truncated) is
    measured on QUANTILE_DRAWS seeded draws.
    """
    name = sampler or model.default_sampler
    if name == "normal" and not opts:
        return torch.distributions.Normal(0.0, 1.0).icdf(probs)[:, None].expand(-1, model.latent_dim).clone()
    z = sample_latents(model, QUANTILE_DRAWS, seed, sampler=name, **opts)
    return torch.quantile(z.float(), probs.float(), dim=0)


def manifold_latents(model: Any, size: int = 15, *, margin: float = 0.05, sampler: str | None = None,
                     **opts: Any) -> Tensor:
    """The latents of a size x size grid over a 2-D latent space: (size, size, 2).

    Row r, column c holds (z1, z2) = (quantile of column c, quantile of row r); rows run from
    high z2 at the top to low z2 at the bottom, as on a plot.
    """
    require_latent_model(model)
    if model.latent_dim != 2:
        raise GenzooError(
            f"the manifold grid needs a 2-D latent space and this model's has {model.latent_dim} dimensions; "
            "train one with --set latent_dim=2, or draw the scatter (--kind scatter), which projects any latent to 2-D")
    values = axis_values(model, grid_quantiles(size, margin), sampler=sampler, **opts)  # (size, 2)
    z1 = values[:, 0][None, :].expand(size, size)
    z2 = values.flip(0)[:, 1][:, None].expand(size, size)
    return torch.stack([z1, z2], dim=-1)


def manifold(model: Any, size: int = 15, *, margin: float = 0.05, label: int | None = None,
             sampler: str | None = None, **opts: Any) -> Tensor:
    """Decode the grid of :func:`manifold_latents` -> images (size, size, C, H, W) in [0, 1]."""
    z = manifold_latents(model, size, margin=margin, sampler=sampler, **opts)
    images = decode_rows(model, z.flatten(0, 1), [label])[0]
    return images.view(size, size, *images.shape[1:])


def project_2d(z: Tensor) -> tuple[Tensor, list[float]]:
    """Latents (N, d) -> (points (N, 2), share of the variance on each axis).

    2-D latents are kept as they are; larger ones are projected on their first two principal
    components (PCA: the centred latents' top right-singular vectors, signs fixed so each
    axis's largest loading is positive, so the same latents always give the same picture).
    """
    z = z.double()
    if z.ndim != 2 or z.shape[0] < 2:
        raise GenzooError("a latent map needs at least two encoded images")
    total = z.var(0).sum().clamp_min(1e-300)
    if z.shape[1] <= 2:
        pts = z if z.shape[1] == 2 else torch.cat([z, torch.zeros_like(z)], dim=1)
        return pts.float(), [float(v) for v in (pts.var(0) / total)]
    zc = z - z.mean(0)
    _, s, vt = torch.linalg.svd(zc, full_matrices=False)
    v = vt[:2]
    sign = torch.sign(v.gather(1, v.abs().argmax(1, keepdim=True)))
    v = v * sign
    pts = zc @ v.T
    return pts.float(), [float(x) for x in (s[:2] ** 2 / (z.shape[0] - 1) / total)]


# A palette that stays distinguishable on white (Tableau 10, the usual categorical set) and
# repeats for more than ten classes.
PALETTE = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75),
           (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207)]


def _font(size: int) -> Any:
    try:
        return ImageFont.load_default(size=size)  # Pillow >= 10.1 with FreeType: a scalable font
    except (TypeError, OSError, ImportError):
        return ImageFont.load_default()


def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """About n round tick values in [lo, hi]."""
    span = hi - lo
    if span <= 0:
        return [lo]
    raw = span / max(1, n - 1)
    mag = 10 ** np.floor(np.log10(raw))
    step = min((m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw), default=10 * mag)
    first = np.ceil(lo / step) * step
    return [float(v) for v in np.arange(first, hi + step * 1e-9, step)]


def draw_scatter(points: Tensor, labels: Tensor | None, class_names: Sequence[str], *, title: str = "",
                 axis_names: tuple[str, str] = ("z1", "z2"), side: int = 560, seed: int = 0) -> Any:
    """A scatter plot of points (N, 2) coloured by labels (N,) with a legend of class names,
    as a PIL RGB image. Points are drawn in a seeded random order so no class hides another."""
    pts = points.double().cpu().numpy()
    n = pts.shape[0]
    lab = np.zeros(n, dtype=np.int64) if labels is None else labels.cpu().numpy().astype(np.int64)
    names = list(class_names) if labels is not None else []
    font, small = _font(15), _font(12)
    left, top, bottom = 64, 40 if title else 16, 48
    legend_w = 24 + max([int(font.getlength(str(c))) for c in names] or [0]) + 16 if names else 0
    width, height = left + side + 16 + legend_w, top + side + bottom
    img = Image.new("RGB", (width, height), "white")
    d = ImageDraw.Draw(img)
    lo, hi = pts.min(0), pts.max(0)
    pad = np.where(hi > lo, (hi - lo) * 0.04, 1.0)
    lo, hi = lo - pad, hi + pad

    def xy(p: np.ndarray) -> tuple[float, float]:
        return left + (p[0] - lo[0]) / (hi[0] - lo[0]) * side, top + side - (p[1] - lo[1]) / (hi[1] - lo[1]) * side

    d.rectangle([left, top, left + side, top + side], outline=(0, 0, 0))
    for v in _ticks(lo[0], hi[0]):
        x = xy(np.array([v, lo[1]]))[0]
        d.line([x, top + side, x, top + side + 5], fill=(0, 0, 0))
        d.text((x, top + side + 7), f"{v:g}", fill=(0, 0, 0), font=small, anchor="ma")
    for v in _ticks(lo[1], hi[1]):
        y = xy(np.array([lo[0], v]))[1]
        d.line([left - 5, y, left, y], fill=(0, 0, 0))
        d.text((left - 7, y), f"{v:g}", fill=(0, 0, 0), font=small, anchor="rm")
    d.text((left + side / 2, top + side + 26), axis_names[0], fill=(0, 0, 0), font=font, anchor="ma")
    label_img = Image.new("RGBA", (side, 20), (255, 255, 255, 0))
    ImageDraw.Draw(label_img).text((side / 2, 10), axis_names[1], fill=(0, 0, 0), font=font, anchor="mm")
    img.paste(label_img.rotate(90, expand=True), (4, top), label_img.rotate(90, expand=True))
    if title:
        d.text((left + side / 2, 12), title, fill=(0, 0, 0), font=font, anchor="ma")
    r = 2.5 if n <= 3000 else 1.8
    order = np.random.default_rng(seed).permutation(n)
    for i in order:
        x, y = xy(pts[i])
        d.ellipse([x - r, y - r, x + r, y + r], fill=PALETTE[lab[i] % len(PALETTE)])
    for k, name in enumerate(names):
        y = top + 8 + k * 22
        x = left + side + 20
        d.rectangle([x, y, x + 12, y + 12], fill=PALETTE[k % len(PALETTE)])
        d.text((x + 18, y + 6), str(name), fill=(0, 0, 0), font=font, anchor="lm")
    return img


def save_png(img: Any, path: str | Path) -> Path:
    """Write a PIL image as PNG, atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        img.save(tmp, format="PNG")
    return path


def labelled_grid(images: Tensor, column_titles: Sequence[str], *, cell: int = 64, gap: int = 2,
                  separator_after: int | None = None) -> Any:
    """Images (R, K, C, H, W) in [0, 1] -> a PIL image: a grid with a title above each column.

    Cells are upscaled (nearest) to ``cell`` pixels so small images stay visible;
    ``separator_after``: a wider gap after that column (the input before its edits)."""
    r, k = images.shape[:2]
    font = _font(13)
    head = 22
    extra = 8 if separator_after is not None else 0
    width = k * (cell + gap) + gap + extra
    height = head + r * (cell + gap) + gap
    canvas = Image.new("RGB", (width, height), "white")
    d = ImageDraw.Draw(canvas)
    arr = to_uint8(images.flatten(0, 1))
    for j, t in enumerate(column_titles):
        x = gap + j * (cell + gap) + (extra if separator_after is not None and j > separator_after else 0)
        d.text((x + cell / 2, head / 2), str(t), fill=(0, 0, 0), font=font, anchor="mm")
        for i in range(r):
            a = arr[i * k + j]
            tile = Image.fromarray(a[..., 0], mode="L") if a.shape[-1] == 1 else Image.fromarray(a, mode="RGB")
            canvas.paste(tile.convert("RGB").resize((cell, cell), Image.NEAREST), (int(x), head + gap + i * (cell + gap)))
    return canvas


def labelled_data(model: Any, data: str | None = None, *, split: str = "train", data_dir: str | None = None,
                  limit: int | None = None) -> tuple[Tensor, Tensor | None, list[str], str]:
    """Real images to encode, at the model's size: (images (N, C, H, W) in [0, 1], labels (N,)
    or None, class names, the data spec). ``data`` defaults to the model's training data."""
    spec = data or (model.meta.get("data") or {}).get("name") or ""
    if not spec:
        raise GenzooError("this model records no training data; name the data to encode with --data, e.g. --data fashion-mnist")
    ds = load_dataset(spec, split=split, image_size=model.config.image_size, channels=model.config.channels,
                      data_dir=data_dir, limit=limit)
    return (ds.images + 1) / 2, ds.labels, list(ds.class_names), spec
