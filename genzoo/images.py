"""Writing images: grids, per-image PNGs, NPZ arrays, GIFs. All writes are atomic."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from genzoo.data import read_image, resize_square, to_8bit
from genzoo.errors import GenzooError
from genzoo.io import atomic_path


def to_uint8(images: Tensor) -> np.ndarray:
    """Float (N, C, H, W) in [0, 1] -> uint8 array (N, H, W, C)."""
    x = images.detach().float().clamp(0, 1).mul(255).round().to(torch.uint8)
    return x.permute(0, 2, 3, 1).cpu().numpy()


def make_grid(images: Tensor, nrow: int | None = None, padding: int = 2, pad_value: float = 1.0) -> Tensor:
    """Images (N, C, H, W) in [0, 1] -> one grid image (C, H', W'); ``nrow`` images per row."""
    n, c, h, w = images.shape
    ncol = nrow or max(1, math.ceil(math.sqrt(n)))
    nrows = math.ceil(n / ncol)
    grid = torch.full((c, nrows * (h + padding) + padding, ncol * (w + padding) + padding), pad_value)
    for i in range(n):
        r, k = divmod(i, ncol)
        top, left = padding + r * (h + padding), padding + k * (w + padding)
        grid[:, top : top + h, left : left + w] = images[i].float().clamp(0, 1)
    return grid


def _pil(img: Tensor, min_side: int = 0):
    """(C, H, W) in [0, 1] -> PIL image, upscaled (nearest) so the short side is >= min_side."""
    arr = to_uint8(img.unsqueeze(0))[0]
    pil = Image.fromarray(arr[..., 0], mode="L") if arr.shape[-1] == 1 else Image.fromarray(arr, mode="RGB")
    if min_side and min(pil.size) < min_side:
        k = math.ceil(min_side / min(pil.size))
        pil = pil.resize((pil.width * k, pil.height * k), Image.NEAREST)
    return pil


def save_image(img: Tensor, path: str | Path, min_side: int = 0) -> Path:
    """Save one (C, H, W) image in [0, 1] as PNG (atomically)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        _pil(img, min_side).save(tmp, format="PNG")
    return path


def save_grid(images: Tensor, path: str | Path, nrow: int | None = None, min_side: int = 256) -> Path:
    """Save (N, C, H, W) in [0, 1] as a PNG grid, upscaled so small images stay visible."""
    return save_image(make_grid(images, nrow=nrow), path, min_side=min_side)


def save_individual(images: Tensor, directory: str | Path, prefix: str = "sample") -> list[Path]:
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    width = max(5, len(str(len(images))))
    return [save_image(img, d / f"{prefix}_{i:0{width}d}.png") for i, img in enumerate(images)]


def save_npz(images: Tensor, path: str | Path, labels: Tensor | None = None) -> Path:
    """uint8 (N, H, W, C) under key 'images' (+ int64 'labels' for conditional models)."""
    path = Path(path)
    arrays = {"images": to_uint8(images)}
    if labels is not None:
        arrays["labels"] = labels.cpu().numpy().astype(np.int64)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **arrays)
    return path


def save_gif(frames: list[Tensor], path: str | Path, duration_ms: int = 120, min_side: int = 128) -> Path:
    """Frames, each (C, H, W) in [0, 1], as a looping animated GIF."""
    if not frames:
        raise GenzooError("no frames to write")
    path = Path(path)
    pils = [_pil(f, min_side).convert("P") if f.shape[0] == 3 else _pil(f, min_side) for f in frames]
    with atomic_path(path) as tmp:
        pils[0].save(tmp, format="GIF", save_all=True, append_images=pils[1:], duration=duration_ms, loop=0)
    return path


def load_images(paths: list[str | Path], size: int, channels: int) -> Tensor:
    """Read image files -> (N, channels, size, size) float in [0, 1] (centre-cropped, resized)."""
    out = []
    for p in paths:
        p = Path(p)
        if not p.is_file():
            raise GenzooError(f"image '{p}' not found")
        im, _ = to_8bit(read_image(p))  # 16-bit scaled, not clipped; decompression bombs refused
        arr = np.asarray(im.convert("L" if channels == 1 else "RGB"), dtype=np.uint8)
        t = torch.from_numpy(arr.copy()).float().div(255)
        t = t.unsqueeze(0) if t.ndim == 2 else t.permute(2, 0, 1)
        out.append(resize_square(t.unsqueeze(0), size)[0])
    return torch.stack(out).clamp(0, 1)
