"""Paired tasks: turn any image dataset into (input, target) pairs for image-to-image models.

A task degrades each target image into the model's input, so pix2pix-style models can be
trained on real data with no download::

    genzoo train pix2pix --data fashion-mnist --task superres:4

Tasks live in the ``tasks`` registry (entry-point group ``genzoo.tasks``); a spec is
``name`` or ``name:arg``:

* ``superres[:F]``  input = the image down-sampled by F (2 or 4, default 4; bicubic with
  antialiasing) and up-sampled back with bicubic interpolation, so input and output have
  the same size and the trivial baseline (bicubic up-sampling) *is* the input.
* ``inpaint[:K]``   K (default 1) random rectangular holes, each side S/4..S/2, filled
  with mid-gray; ``extra["mask"]`` (N, 1, S, S) uint8 marks them. Baseline: a smooth
  (harmonic, i.e. blurred) fill of each hole from its border. Results keep the known
  pixels and take the holes from the model (:func:`finish`), as inpainting is scored.
* ``denoise[:SIGMA]`` additive Gaussian noise of std SIGMA in [0, 1] units (default 0.2),
  clipped. Baseline: a Gaussian blur (std 1 px).
* ``deblur[:SIGMA]`` a Gaussian blur of std SIGMA px (default 1.5; reflect padding).
  Baseline: the blurred image.
* ``edges``         a binary Sobel edge map of the luminance, black lines on white
  (1 channel). No baseline.
* ``colorize``      the luminance (1 channel) -> the RGB image; needs RGB data
  (``skimage-patches``, ``folder:PATH``). Baseline: the gray image in all three channels.

Every task but ``edges`` is linear and names its operator A and pseudo-inverse A^+
(:mod:`genzoo.degradations`), which ``genzoo restore`` inverts with a generative prior.

All tensors follow the model convention: float (N, C, H, W) in [-1, 1]. Randomness (holes,
noise) comes from a generator seeded with the run's seed and the split, so the same seed
gives the same pairs, and the test split gets different holes from the train split.

This module also registers the ``skimage-patches`` dataset (RGB patches cut from
scikit-image's bundled photographs) and scores translations with PSNR and SSIM.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from genzoo.data import ImageDataset, RawImages, register_dataset, resize_square
from genzoo.degradations import (
    Identity,
    Keep,
    LinearOperator,
    Luminance,
    bicubic,
    blur_operator,
    gaussian_blur,
    luminance,
    superres_operator,
)
from genzoo.errors import GenzooError
from genzoo.registry import Registry

INPUTS = "inputs"  # the extra key an image-to-image family reads its input from
MASK = "mask"
DIRECTIONS = ("AtoB", "BtoA")
_CHUNK = 2048  # images per chunk when building pairs (bounds peak memory on 60k images)

tasks: Registry[Any] = Registry("task", group="genzoo.tasks")


@dataclass(frozen=True)
class PairedTask:
    """One paired task.

    make(images, arg, gen) -> extras: images (N, C, S, S) in [-1, 1] -> a dict holding at
        least ``"inputs"`` (N, C_in, S, S) in [-1, 1], plus any helpers (e.g. ``"mask"``).
    baseline(extras, arg) -> (N, C, S, S) in [-1, 1]: the trivial non-learned answer a model
        should beat, or None for tasks without one.
    parse(arg, size, channels) -> the validated argument (raises GenzooError).
    finish(outputs, extras) -> outputs: what the task keeps from its input, if anything (inpaint
        keeps the known pixels and takes only the holes from the model); None: outputs as-is.
        Pure selection, so it works on [0, 1] and [-1, 1] values alike.
    operator(arg, size, channels, extras) -> a :class:`~genzoo.degradations.LinearOperator` A
        (with its pseudo-inverse) such that ``inputs`` = A(images) on [-1, 1] values, up to
        the task's clamping and noise; None for tasks that are not linear (edges). Models that
        ``Restores`` invert it (``genzoo restore``).
    """

    name: str
    description: str
    make: Callable[[Tensor, Any, torch.Generator], dict[str, Tensor]]
    parse: Callable[[str | None, int, int], Any]
    baseline: Callable[[dict[str, Tensor], Any], Tensor] | None = None
    baseline_name: str = ""
    finish: Callable[[Tensor, dict[str, Tensor]], Tensor] | None = None
    finish_name: str = ""
    operator: Callable[[Any, int, int, dict[str, Tensor]], LinearOperator] | None = None


def register_task(task: PairedTask) -> PairedTask:
    tasks.register(task.name, task)
    return task


def parse_task(spec: str) -> tuple[PairedTask, str | None]:
    """'superres:2' -> (the superres task, '2')."""
    if not spec or not spec.strip():
        raise GenzooError(f"empty task; use one of {', '.join(tasks.names())}")
    name, sep, arg = spec.strip().partition(":")
    return tasks.get(name.strip()), (arg.strip() if sep else None)


# ------------------------------------------------------------------------------------------
# the tasks
# ------------------------------------------------------------------------------------------
def _int_arg(task: str, arg: str | None, default: int, allowed: str) -> int:
    if arg is None or arg == "":
        return default
    try:
        return int(arg.lower().removeprefix("x"))
    except ValueError:
        raise GenzooError(f"task {task} takes {allowed}, got '{arg}'") from None


def _superres_parse(arg: str | None, size: int, channels: int) -> int:
    f = _int_arg("superres", arg, 4, "a factor 2 or 4 (e.g. superres:2)")
    if f not in (2, 4, 8):
        raise GenzooError(f"superres factor must be 2 or 4 (8 also works at 64 px and up), got {f}")
    if size % f or size // f < 4:
        raise GenzooError(f"superres:{f} needs an image size divisible by {f} with at least 4 px left; images are {size} px")
    return f


def _superres_make(x: Tensor, f: int, gen: torch.Generator) -> dict[str, Tensor]:
    s = x.shape[-1]
    return {INPUTS: bicubic(bicubic(x, s // f), s)}


register_task(PairedTask(
    "superres", "down-sampled (x2 or x4) -> full size; input is the bicubic up-sampling of the small image",
    _superres_make, _superres_parse, baseline=lambda e, a: e[INPUTS], baseline_name="bicubic up-sampling",
    operator=lambda f, size, c, e: superres_operator(size, f),
))


def _inpaint_parse(arg: str | None, size: int, channels: int) -> int:
    k = _int_arg("inpaint", arg, 1, "a number of holes 1..8 (e.g. inpaint:2)")
    if not 1 <= k <= 8:
        raise GenzooError(f"inpaint takes 1..8 holes, got {k}")
    return k


def random_holes(n: int, size: int, holes: int, gen: torch.Generator) -> Tensor:
    """(n, 1, size, size) uint8 mask, 1 inside ``holes`` random rectangles of side size/4..size/2."""
    lo, hi = max(1, size // 4), max(1, size // 2)
    mask = torch.zeros(n, 1, size, size, dtype=torch.bool)
    r = torch.arange(size)
    for _ in range(holes):
        h = torch.randint(lo, hi + 1, (n,), generator=gen)
        w = torch.randint(lo, hi + 1, (n,), generator=gen)
        top = (torch.rand(n, generator=gen) * (size - h + 1)).long()
        left = (torch.rand(n, generator=gen) * (size - w + 1)).long()
        rows = (r[None] >= top[:, None]) & (r[None] < (top + h)[:, None])  # (n, size)
        cols = (r[None] >= left[:, None]) & (r[None] < (left + w)[:, None])
        mask |= (rows[:, :, None] & cols[:, None, :])[:, None]
    return mask.to(torch.uint8)


def _inpaint_make(x: Tensor, k: int, gen: torch.Generator) -> dict[str, Tensor]:
    mask = random_holes(x.shape[0], x.shape[-1], k, gen)
    # Mid-gray (0 in [-1, 1]) marks the hole: a flat patch with hard edges the network can see.
    return {INPUTS: x.masked_fill(mask.bool(), 0.0), MASK: mask}


def smooth_fill(x: Tensor, mask: Tensor, iters: int = 40) -> Tensor:
    """Fill the masked pixels of (N, C, H, W) with a smooth (harmonic) interpolation of their border.

    Coarse-to-fine: the hole is first filled at half resolution (recursively), then relaxed
    with ``iters`` Jacobi steps of 3x3 averaging that keep the known pixels fixed. This is
    the "blurred fill" baseline of the inpaint task.
    """
    hole = mask.bool().expand_as(x)
    if not hole.any():
        return x.clone()
    known = (~hole).float()
    h, w = x.shape[-2:]
    if min(h, w) >= 4:
        k = F.avg_pool2d(known, 2, ceil_mode=True)
        xs = F.avg_pool2d(x * known, 2, ceil_mode=True) / k.clamp_min(1e-6)
        coarse = smooth_fill(xs, k <= 0, iters)
        init = F.interpolate(coarse, size=(h, w), mode="bilinear", align_corners=False)
    else:  # tiny: start from the mean of the known pixels
        init = ((x * known).sum((-2, -1), keepdim=True) / known.sum((-2, -1), keepdim=True).clamp_min(1)).expand_as(x)
    out = torch.where(hole, init, x)
    for _ in range(iters):
        avg = F.avg_pool2d(F.pad(out, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
        out = torch.where(hole, avg, out)
    return out


register_task(PairedTask(
    "inpaint", "random rectangular holes (mid-gray) -> full image; extra 'mask' marks the holes",
    _inpaint_make, _inpaint_parse, baseline=lambda e, a: smooth_fill(e[INPUTS], e[MASK]),
    baseline_name="smooth (blurred) fill of the holes",
    # Inpainting fills holes: the pixels around them are given, so they are kept.
    finish=lambda out, e: torch.where(e[MASK].bool().to(out.device), out, e[INPUTS].to(out)),
    finish_name="known pixels kept, holes from the model",
    operator=lambda k, size, c, e: Keep(e[MASK]),
))


def _denoise_parse(arg: str | None, size: int, channels: int) -> float:
    if arg is None or arg == "":
        return 0.2
    try:
        s = float(arg)
    except ValueError:
        raise GenzooError(f"task denoise takes a noise std in (0, 1], e.g. denoise:0.1; got '{arg}'") from None
    if not 0 < s <= 1:
        raise GenzooError(f"denoise noise std must be in (0, 1] (in units of the [0, 1] pixel range), got {s}")
    return s


def _denoise_make(x: Tensor, sigma: float, gen: torch.Generator) -> dict[str, Tensor]:
    noise = torch.randn(x.shape, generator=gen)
    return {INPUTS: (x + 2 * sigma * noise).clamp(-1, 1)}  # 2 *: sigma is in [0, 1] units


register_task(PairedTask(
    "denoise", "Gaussian noise (std 0.2 of the pixel range; denoise:S to change) -> clean image",
    _denoise_make, _denoise_parse, baseline=lambda e, a: gaussian_blur(e[INPUTS], 1.0),
    baseline_name="Gaussian blur (1 px)",
    operator=lambda sigma, size, c, e: Identity(2 * sigma),  # 2 *: sigma is in [0, 1] units
))


def _deblur_parse(arg: str | None, size: int, channels: int) -> float:
    if arg is None or arg == "":
        return 1.5
    try:
        s = float(arg)
    except ValueError:
        raise GenzooError(f"task deblur takes a blur std in pixels, e.g. deblur:1.5; got '{arg}'") from None
    if not 0.3 <= s <= 4:
        raise GenzooError(f"deblur blur std must be in [0.3, 4] pixels, got {s}")
    if 3 * s >= size:
        raise GenzooError(f"deblur:{s:g} is too wide for {size} px images; use a std below {size / 3:.1f}")
    return s


register_task(PairedTask(
    "deblur", "Gaussian blur of a known std (1.5 px; deblur:S to change) -> sharp image",
    lambda x, sigma, g: {INPUTS: gaussian_blur(x, sigma)}, _deblur_parse,
    baseline=lambda e, a: e[INPUTS], baseline_name="the blurred image",
    operator=lambda sigma, size, c, e: blur_operator(size, sigma),
))


def _no_arg(task: str) -> Callable[[str | None, int, int], None]:
    def parse(arg: str | None, size: int, channels: int) -> None:
        if arg:
            raise GenzooError(f"task {task} takes no argument, got '{task}:{arg}'")

    return parse


def _edges_make(x: Tensor, arg: None, gen: torch.Generator) -> dict[str, Tensor]:
    g = luminance(x)
    sx = torch.tensor([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=x.dtype).view(1, 1, 3, 3)
    gp = F.pad(g, (1, 1, 1, 1), mode="replicate")
    mag = torch.sqrt(F.conv2d(gp, sx) ** 2 + F.conv2d(gp, sx.transpose(-1, -2)) ** 2)
    peak = mag.amax((-2, -1), keepdim=True).clamp_min(1e-6)
    edge = mag / peak > 0.25  # relative threshold: the outline of each image whatever its contrast
    return {INPUTS: torch.where(edge, -1.0, 1.0).to(x.dtype)}  # black lines on white


register_task(PairedTask("edges", "binary Sobel edge map (black on white, 1 channel) -> image",
                         _edges_make, _no_arg("edges")))


def _colorize_parse(arg: str | None, size: int, channels: int) -> None:
    _no_arg("colorize")(arg, size, channels)
    if channels != 3:
        raise GenzooError(
            "task colorize needs RGB images but the data is grayscale; use --data skimage-patches or folder:PATH of colour pictures"
        )


register_task(PairedTask(
    "colorize", "luminance (1 channel) -> RGB image; needs RGB data",
    lambda x, a, g: {INPUTS: luminance(x)}, _colorize_parse,
    baseline=lambda e, a: e[INPUTS].repeat(1, 3, 1, 1), baseline_name="the gray image",
    operator=lambda a, size, c, e: Luminance(),
))


# ------------------------------------------------------------------------------------------
# building paired datasets
# ------------------------------------------------------------------------------------------
def task_seed(seed: int, split: str) -> int:
    # Different holes/noise on the test split than on the training split, for the same seed.
    return int(seed) * 1_000_003 + (0 if split == "train" else 7_919)


def apply_task(data: ImageDataset, spec: str, *, seed: int = 0) -> ImageDataset:
    """Return a copy of ``data`` with ``extra["inputs"]`` (and helpers) built by task ``spec``.

    The targets are ``data.images`` unchanged; the task's argument is validated against
    the data's size and channels.
    """
    task, raw_arg = parse_task(spec)
    if INPUTS in data.extra:
        raise GenzooError(f"data '{data.name}' is already paired; drop --task {spec} (tasks build pairs from plain images)")
    arg = task.parse(raw_arg, data.image_size, data.channels)
    gen = torch.Generator().manual_seed(task_seed(seed, data.split))
    parts: dict[str, list[Tensor]] = {}
    for i in range(0, len(data), _CHUNK):
        for k, v in task.make(data.images[i : i + _CHUNK], arg, gen).items():
            parts.setdefault(k, []).append(v)
    extra = {**data.extra, **{k: torch.cat(v) for k, v in parts.items()}}
    source = f"{data.source}; paired task {spec}" if data.source else f"paired task {spec}"
    return dataclasses.replace(data, extra=extra, source=source)


def swap_direction(data: ImageDataset, direction: str) -> ImageDataset:
    """AtoB: unchanged (inputs A, targets B); BtoA: inputs and targets swapped."""
    if direction not in DIRECTIONS:
        raise GenzooError(f"direction must be AtoB or BtoA, got '{direction}'")
    if direction == "AtoB":
        return data
    if INPUTS not in data.extra:
        raise GenzooError(f"--direction BtoA needs paired data; '{data.name}' has no inputs")
    extra = {**data.extra, INPUTS: data.images}
    return dataclasses.replace(data, images=data.extra[INPUTS], extra=extra)


def resize_dataset(data: ImageDataset, size: int) -> ImageDataset:
    """Resize images and every image-shaped extra (N, C, H, W) to size x size (values stay in [-1, 1])."""
    if data.image_size == size:
        return data

    def rs(t: Tensor) -> Tensor:
        if t.dtype == torch.uint8:  # masks: nearest keeps them binary
            return F.interpolate(t.float(), size=(size, size), mode="nearest").to(torch.uint8)
        out = torch.empty(t.shape[0], t.shape[1], size, size)
        for i in range(0, t.shape[0], _CHUNK):
            out[i : i + _CHUNK] = resize_square(t[i : i + _CHUNK].float(), size).clamp(-1, 1)
        return out

    extra = {k: rs(v) if v.ndim == 4 else v for k, v in data.extra.items()}
    return dataclasses.replace(data, images=rs(data.images), extra=extra)


def make_paired(data: ImageDataset, *, task: str = "", direction: str = "AtoB", seed: int = 0,
                image_size: int | None = None) -> ImageDataset:
    """Everything between a loaded dataset and an image-to-image model.

    Resizes to ``image_size`` (before degrading, so the task acts at the model's size),
    builds pairs with ``task`` if given, then applies ``direction``.
    """
    if image_size:
        data = resize_dataset(data, image_size)
    if task:
        data = apply_task(data, task, seed=seed)
    return swap_direction(data, direction)


def baseline(data: ImageDataset, task_spec: str) -> tuple[Tensor, str] | None:
    """The task's trivial answer for every item, (N, C, S, S) in [-1, 1], and its name; None if it has none."""
    task, raw = parse_task(task_spec)
    if task.baseline is None:
        return None
    arg = task.parse(raw, data.image_size, data.channels)
    out = [task.baseline({k: v[i : i + _CHUNK] for k, v in data.extra.items()}, arg) for i in range(0, len(data), _CHUNK)]
    return torch.cat(out).clamp(-1, 1), task.baseline_name


def finish(outputs: Tensor, extras: dict[str, Tensor], task_spec: str) -> Tensor:
    """Apply the task's ``finish`` (inpaint: keep the known pixels) to model outputs.

    ``outputs`` and ``extras[INPUTS]`` must be in the same value range ([0, 1] or [-1, 1]).
    """
    task, _ = parse_task(task_spec)
    return outputs if task.finish is None else task.finish(outputs, extras)


# ------------------------------------------------------------------------------------------
# scores
# ------------------------------------------------------------------------------------------
def psnr_ssim(pred: Tensor, target: Tensor) -> tuple[float, float]:
    """Mean over images of PSNR (dB, data range 1, capped at 100 for identical images) and SSIM
    (scikit-image's, 7x7 window); both tensors (N, C, H, W) in [0, 1]."""
    try:
        from skimage.metrics import structural_similarity  # here: scikit-image is optional and slow to import
    except ImportError:
        raise GenzooError("PSNR/SSIM scores need scikit-image: pip install scikit-image") from None

    if pred.shape != target.shape:
        raise GenzooError(f"cannot score outputs of shape {tuple(pred.shape)} against targets {tuple(target.shape)}")
    p = pred.detach().float().clamp(0, 1).permute(0, 2, 3, 1).cpu().numpy()
    t = target.detach().float().clamp(0, 1).permute(0, 2, 3, 1).cpu().numpy()
    win = min(7, p.shape[1], p.shape[2])
    win -= 1 - win % 2  # odd
    psnrs, ssims = [], []
    for a, b in zip(p, t):
        mse = float(np.mean((a.astype(np.float64) - b) ** 2))
        psnrs.append(100.0 if mse < 1e-10 else min(100.0, 10 * math.log10(1.0 / mse)))
        ssims.append(structural_similarity(b, a, data_range=1.0, channel_axis=-1, win_size=win))
    return float(sum(psnrs) / len(psnrs)), float(sum(ssims) / len(ssims))


# ------------------------------------------------------------------------------------------
# skimage-patches: RGB patches from scikit-image's bundled photographs (no download)
# ------------------------------------------------------------------------------------------
SKIMAGE_PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field", "immunohistochemistry",
                  "motorcycle_left", "motorcycle_right", "retina")
PATCH = 64


def _photo(name: str) -> Any:
    import skimage.data as sd  # here: optional (see psnr_ssim)

    if name.startswith("motorcycle"):
        left, right, _ = sd.stereo_motorcycle()
        return left if name.endswith("left") else right
    return getattr(sd, name)()


@functools.lru_cache(maxsize=4)
def _patches(patch: int) -> tuple[Tensor, Tensor, list[str]]:
    """All patches (uint8 (N, 3, p, p)), whether each is held out (bool (N,)), photo names.

    Each photo (shrunk to a short side of at most 512 px, and a half-size copy for more
    scale variety) is cut into tiles of 2p x 2p; every fifth tile, in a fixed diagonal
    pattern, is held out for the test split, and patches are cropped with stride p/2 inside
    tiles, so train and test never overlap. Nearly flat crops are dropped.
    """
    out, held = [], []
    used = []
    step = patch // 2
    for name in SKIMAGE_PHOTOS:
        try:
            img = torch.from_numpy(_photo(name).copy())
        except Exception:  # a photo this scikit-image does not bundle: skip it
            continue
        if img.ndim != 3 or img.shape[-1] < 3:
            continue
        used.append(name)
        img = img[..., :3].permute(2, 0, 1).float()
        short = min(img.shape[1:])
        if short > 512:  # keep the big photos (retina, hubble) from outnumbering the rest
            img = F.interpolate(img[None], scale_factor=512 / short, mode="area")[0]
        for scale in (1, 2):
            pic = img if scale == 1 else F.avg_pool2d(img[None], 2)[0]
            tile = 2 * patch
            th, tw = pic.shape[1] // tile, pic.shape[2] // tile
            if not th or not tw:
                continue
            # (3, th, tile, tw, tile) -> (th, tw, 3, tile, tile) -> crops (th, tw, 3, k, k, p, p)
            tiles = pic[:, : th * tile, : tw * tile].reshape(3, th, tile, tw, tile).permute(1, 3, 0, 2, 4)
            crops = tiles.unfold(3, patch, step).unfold(4, patch, step)
            k = crops.shape[3]
            crops = crops.permute(0, 1, 3, 4, 2, 5, 6).reshape(th, tw, k * k, 3, patch, patch)
            i, j = torch.meshgrid(torch.arange(th), torch.arange(tw), indexing="ij")
            test = ((i + 2 * j + scale) % 5 == 0)[:, :, None].expand(th, tw, k * k)
            crops, test = crops.reshape(-1, 3, patch, patch), test.reshape(-1)
            lively = crops.flatten(1).std(1) >= 8  # drop flat crops (black sky, retina border)
            out.append(crops[lively].round().clamp(0, 255).to(torch.uint8))
            held.append(test[lively])
    if not out:
        raise GenzooError("scikit-image's bundled photographs could not be read; pip install scikit-image")
    return torch.cat(out), torch.cat(held), used


def _skimage_patches(arg: str | None, *, split: str, data_dir: str | None = None) -> RawImages:
    """RGB patches (64 px; skimage-patches:N for N px) of scikit-image's bundled photographs; no download."""
    try:  # here: optional (see psnr_ssim)
        import skimage  # noqa: F401
    except ImportError:
        raise GenzooError("skimage-patches needs scikit-image: pip install scikit-image") from None
    patch = PATCH
    if arg:
        try:
            patch = int(arg)
        except ValueError:
            raise GenzooError(f"skimage-patches takes a patch size, e.g. skimage-patches:32; got '{arg}'") from None
        if not 16 <= patch <= 128:
            raise GenzooError(f"skimage-patches patch size must be 16..128, got {patch}")
    images, held, used = _patches(patch)
    keep = held if split == "test" else ~held
    return RawImages(images[keep], None, [], native_size=patch,
                     source=f"scikit-image bundled photographs ({', '.join(used)}), {patch}x{patch} patches")


register_dataset("skimage-patches", _skimage_patches)


# ------------------------------------------------------------------------------------------
# display
# ------------------------------------------------------------------------------------------
def comparison_rows(columns: list[Tensor], groups: int | None = None) -> tuple[Tensor, int]:
    """Side-by-side rows for a grid: item i of every column in one row (e.g. input | output | target).

    Args:
        columns: tensors (N, C, H, W) in [0, 1] of equal N, H, W; gray ones are shown in
            RGB when any column is RGB.
        groups: how many (input | output | ...) groups sit side by side in one grid row
            (None: enough to make the grid about square).

    Returns:
        (images (M, C, H, W), nrow) for :func:`genzoo.images.save_grid`; unused cells are white.
    """
    if not columns:
        raise GenzooError("nothing to show")
    k = columns[0].shape[0]
    c = max(t.shape[1] for t in columns)
    cols = [t.float().cpu().expand(-1, c, -1, -1) if t.shape[1] != c else t.float().cpu() for t in columns]
    groups = groups or max(1, round(math.sqrt(k / len(cols))))
    rows = math.ceil(k / groups)
    blank = torch.ones_like(cols[0][0])
    cells = []
    for r in range(rows):
        for g in range(groups):
            i = r * groups + g
            cells += [col[i] if i < k else blank for col in cols]
    return torch.stack(cells), groups * len(cols)
