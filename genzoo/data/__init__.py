"""Datasets: a registry of loaders and the in-memory tensor dataset the engine trains on.

A dataset spec is ``name`` or ``name:arg`` (``digits``, ``fashion-mnist``, ``folder:~/pics``).
A loader returns :class:`RawImages` (uint8 or float images at native size); :func:`load_dataset`
resizes them to the model's size, checks channels, and normalises to [-1, 1].

Data small enough for memory is held as one tensor and batched by indexing, which is
much faster than per-item DataLoader calls for the image sizes genzoo targets.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import os
import struct
import urllib.request
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, UnidentifiedImageError
from torch import Tensor

from genzoo.console import console, esc
from genzoo.errors import GenzooError
from genzoo.io import atomic_path
from genzoo.registry import datasets, register_dataset

SPLITS = ("train", "test")


@dataclass
class RawImages:
    """What a loader returns.

    images: uint8 (N, C, H, W) in [0, 255], or float (N, C, H, W) in [0, 1].
    labels: int64 (N,) or None. ``native_size`` is the side the model should default to.
    ``extra``: other per-item tensors of the same N (e.g. the input image of a pair).
    """

    images: Tensor
    labels: Tensor | None = None
    class_names: list[str] = field(default_factory=list)
    native_size: int = 32
    source: str = ""
    extra: dict[str, Tensor] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@dataclass
class ImageDataset:
    """Images (N, C, H, W) float32 in [-1, 1] at the model's size, labels int64 (N,) or None."""

    name: str
    split: str
    images: Tensor
    labels: Tensor | None
    class_names: list[str]
    source: str = ""
    extra: dict[str, Tensor] = field(default_factory=dict)
    #: What loading did to the files (skipped, converted from 16 bits, resized ...): recorded in config.json.
    notes: list[str] = field(default_factory=list)
    #: How the run reads it (genzoo.data.pipeline: memory, cache or stream; the budget): in config.json.
    reading: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return self.images.shape[0]

    @property
    def channels(self) -> int:
        return int(self.images.shape[1])

    @property
    def image_size(self) -> int:
        return int(self.images.shape[-1])

    @property
    def num_classes(self) -> int:
        return len(self.class_names) if self.labels is not None else 0

    def describe(self) -> dict[str, Any]:
        """Facts recorded in config.json."""
        return {
            "name": self.name,
            "split": self.split,
            "num_images": len(self),
            "channels": self.channels,
            "image_size": self.image_size,
            "num_classes": self.num_classes,
            "class_names": self.class_names,
            "source": self.source,
            "normalisation": "x / 255 * 2 - 1 (values in [-1, 1])",
            **({"notes": list(self.notes)} if self.notes else {}),
            **({"reading": dict(self.reading)} if self.reading else {}),
        }


def parse_spec(spec: str) -> tuple[str, str | None]:
    """'folder:~/x' -> ('folder', '~/x'); 'digits' -> ('digits', None)."""
    if not spec or not spec.strip():
        raise GenzooError("empty dataset name; try --data digits (see `genzoo list datasets`)")
    name, sep, arg = spec.partition(":")
    return name.strip(), (arg if sep else None)


def native_size(spec: str, data_dir: str | None = None) -> int:
    """The image side a model defaults to for this data (without loading all of it)."""
    name, arg = parse_spec(spec)
    loader = datasets.get(name)
    fixed = getattr(loader, "native_size", None)
    if callable(fixed):  # a loader that finds its size cheaply (folder: reads image headers only)
        return int(fixed(arg, split="train", data_dir=data_dir))
    if fixed:
        return int(fixed)
    opener = getattr(loader, "open_source", None)
    if opener is not None:  # lazy data: its source knows its native side without decoding everything
        return int(opener(arg, split="train", image_size=None, data_dir=data_dir).image_size)
    return load_raw(spec, split="train", data_dir=data_dir).native_size


def load_raw(spec: str, *, split: str = "train", data_dir: str | None = None,
             image_size: int | None = None) -> RawImages:
    """The loader's RawImages. ``image_size`` reaches loaders marked ``takes_image_size``
    (they decode straight at the model's size); others return their native size."""
    if split not in SPLITS:
        raise GenzooError(f"unknown split '{split}'; use one of {', '.join(SPLITS)}")
    name, arg = parse_spec(spec)
    loader = datasets.get(name)
    if image_size and getattr(loader, "takes_image_size", False):
        return loader(arg, split=split, data_dir=data_dir, image_size=image_size)
    return loader(arg, split=split, data_dir=data_dir)


def load_dataset(
    spec: str,
    *,
    split: str = "train",
    image_size: int | None = None,
    channels: int | None = None,
    data_dir: str | None = None,
    limit: int | None = None,
) -> ImageDataset:
    """Load, resize and normalise a dataset.

    Args:
        image_size: side length to resize to (None: the data's native size).
        channels: the model's channel count; a mismatch with the data is an error.
        limit: keep only the first ``limit`` images (quick experiments and tests).
    """
    raw = load_raw(spec, split=split, data_dir=data_dir, image_size=image_size)
    return dataset_from_raw(raw, spec, split=split, image_size=image_size, channels=channels, limit=limit)


def dataset_from_raw(
    raw: RawImages, spec: str, *, split: str = "train", image_size: int | None = None, channels: int | None = None,
    limit: int | None = None, quiet: bool = False,
) -> ImageDataset:
    """What :func:`load_dataset` makes of a loader's :class:`RawImages` (arguments as there)."""
    if raw.notes and not quiet:
        for note in raw.notes:
            console.print(f"[yellow]note:[/] {esc(note)}")
    images = raw.images
    if images.ndim != 4 or images.shape[0] == 0:
        raise GenzooError(f"dataset '{spec}' gave no images")
    if limit is not None:
        images = images[:limit]
        raw.labels = raw.labels[:limit] if raw.labels is not None else None
        raw.extra = {k: v[:limit] for k, v in raw.extra.items()}
    if channels is not None and channels != images.shape[1]:
        kind = {1: "grayscale", 3: "RGB"}
        raise GenzooError(
            f"data '{spec}' is {kind.get(images.shape[1], str(images.shape[1]) + '-channel')} but the model expects "
            f"{kind.get(channels, str(channels) + '-channel')} images; use matching data or a model with "
            f"--set channels={images.shape[1]}"
        )
    size = image_size or raw.native_size
    x = to_model_range(images, size)
    extra = {k: (to_model_range(v, size) if v.ndim == 4 else v) for k, v in raw.extra.items()}
    return ImageDataset(
        name=spec, split=split, images=x, labels=raw.labels, class_names=list(raw.class_names),
        source=raw.source, extra=extra, notes=list(raw.notes),
    )


def to_model_range(images: Tensor, size: int, chunk: int = 4096) -> Tensor:
    """uint8 [0, 255] or float [0, 1] (N, C, H, W) -> float32 [-1, 1] at size x size."""
    out = torch.empty(images.shape[0], images.shape[1], size, size)
    for i in range(0, images.shape[0], chunk):
        x = images[i : i + chunk]
        x = x.float() / 255.0 if x.dtype == torch.uint8 else x.float()
        if x.shape[-2:] != (size, size):
            x = resize_square(x, size)
        out[i : i + chunk] = x.clamp(0, 1) * 2 - 1
    return out


def resize_square(x: Tensor, size: int) -> Tensor:
    """Float (N, C, H, W) -> (N, C, size, size): centre-crop to square, then resize.

    Downscaling uses antialiasing; upscaling is bilinear.
    """
    h, w = x.shape[-2:]
    if h != w:
        s = min(h, w)
        top, left = (h - s) // 2, (w - s) // 2
        x = x[..., top : top + s, left : left + s]
    if x.shape[-1] == size:
        return x
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=x.shape[-1] > size)


# ------------------------------------------------------------------------------------------
# digits: scikit-learn's bundled 8x8 handwritten digits (1,797 images, no download)
# ------------------------------------------------------------------------------------------
DIGITS_TEST = 297  # fixed held-out split: the last 297 of a seeded permutation


def _digits(arg: str | None, *, split: str, data_dir: str | None = None) -> RawImages:
    """scikit-learn's bundled 8x8 handwritten digits, 10 classes; no download."""
    from sklearn.datasets import load_digits  # here: scikit-learn is slow to import; only this dataset needs it

    d = load_digits()
    imgs = torch.from_numpy(d.images).float().div_(16.0).unsqueeze(1)  # (1797, 1, 8, 8) in [0, 1]
    labels = torch.from_numpy(d.target).long()
    perm = torch.randperm(len(labels), generator=torch.Generator().manual_seed(0))
    idx = perm[:-DIGITS_TEST] if split == "train" else perm[-DIGITS_TEST:]
    return RawImages(
        images=imgs[idx], labels=labels[idx], class_names=[str(i) for i in range(10)],
        native_size=16, source="sklearn.datasets.load_digits (UCI optical digits, 8x8)",
    )


# 8x8 sources hold nothing a 16x16 model cannot show, and 16 px trains ~5x faster than 32.
_digits.native_size = 16  # type: ignore[attr-defined]
register_dataset("digits", _digits)


# ------------------------------------------------------------------------------------------
# fashion-mnist: Zalando's 28x28 garments, 60,000 train / 10,000 test, from IDX files
# ------------------------------------------------------------------------------------------
FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
FASHION_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
# (file, MD5 of the official .gz, MD5 of its decompressed content). The .gz sums are the
# official ones (Fashion-MNIST README; torchvision's FashionMNIST.resources); the content
# sums accept re-compressed copies such as Debian's dataset-fashion-mnist package.
FASHION_FILES = {
    ("train", "images"): ("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d", "f4a8712d7a061bf5bd6d2ca38dc4d50a"),
    ("train", "labels"): ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe", "9018921c3c673c538a1fc5bad174d6f9"),
    ("test", "images"): ("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79", "8181f5470baa50b63fa0f6fddb340f0a"),
    ("test", "labels"): ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310", "15d484375f8d13e6eb1aabb0c3f46965"),
}
DEBIAN_FASHION_DIR = "/usr/share/datasets/fashion-mnist"


def cache_dir() -> Path:
    return Path(os.environ.get("GENZOO_CACHE", Path.home() / ".cache" / "genzoo"))


def fashion_search_dirs(data_dir: str | None) -> list[Path]:
    """Where fashion-mnist is looked for, in order."""
    dirs: list[Path] = []
    for base in (data_dir, os.environ.get("GENZOO_DATA")):
        if base:
            b = Path(base).expanduser()
            dirs += [b, b / "fashion-mnist", b / "FashionMNIST" / "raw"]
    dirs += [Path(DEBIAN_FASHION_DIR), cache_dir() / "fashion-mnist"]
    return dirs


def _find(name: str, dirs: list[Path]) -> Path | None:
    for d in dirs:
        for cand in (d / name, d / name.removesuffix(".gz")):
            if cand.is_file():
                return cand
    return None


def read_idx(path: Path) -> Tensor:
    """Read an IDX file (optionally gzipped) into a uint8 tensor of its declared shape."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as e:
        raise GenzooError(f"could not read '{path}' ({e}); the file may be truncated: delete it and retry") from None
    if len(data) < 4 or data[:2] != b"\x00\x00" or data[2] != 0x08:
        raise GenzooError(f"'{path}' is not an IDX file of unsigned bytes")
    ndim = data[3]
    dims = struct.unpack(">" + "I" * ndim, data[4 : 4 + 4 * ndim])
    n = 1
    for d in dims:
        n *= d
    body = data[4 + 4 * ndim :]
    if len(body) != n:
        raise GenzooError(f"'{path}' is truncated: expected {n} bytes of data, found {len(body)}")
    return torch.frombuffer(bytearray(body), dtype=torch.uint8).reshape(dims)


def _md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def download_fashion(dest: Path, url: str | None = None) -> None:
    """Fetch the four IDX files from the canonical location and verify their MD5 sums."""
    if os.environ.get("GENZOO_OFFLINE") or os.environ.get("HF_HUB_OFFLINE") == "1":
        raise GenzooError("fashion-mnist is not on this machine and GENZOO_OFFLINE/HF_HUB_OFFLINE forbid downloading it")
    base = url or os.environ.get("GENZOO_FASHION_MNIST_URL", FASHION_URL)
    dest.mkdir(parents=True, exist_ok=True)
    for fname, gz_md5, _ in FASHION_FILES.values():
        target = dest / fname
        if target.is_file():
            continue
        try:
            with urllib.request.urlopen(base.rstrip("/") + "/" + fname, timeout=60) as r:
                payload = r.read()
        except OSError as e:
            raise GenzooError(
                f"could not download fashion-mnist ({fname}: {e}); install Debian's dataset-fashion-mnist "
                f"package or put the IDX files in --data-dir"
            ) from None
        if _md5(payload) != gz_md5:
            raise GenzooError(f"checksum mismatch for downloaded {fname}: expected MD5 {gz_md5}, got {_md5(payload)}")
        with atomic_path(target) as tmp:
            tmp.write_bytes(payload)


def _fashion_file(split: str, kind: str, data_dir: str | None, verify: bool) -> Path:
    fname, gz_md5, content_md5 = FASHION_FILES[(split, kind)]
    dirs = fashion_search_dirs(data_dir)
    path = _find(fname, dirs)
    if path is None:
        download_fashion(cache_dir() / "fashion-mnist")
        path = cache_dir() / "fashion-mnist" / fname
    if verify:
        raw = path.read_bytes()
        ok = _md5(raw) == gz_md5
        if not ok:
            try:
                ok = _md5(gzip.decompress(raw) if path.suffix == ".gz" else raw) == content_md5
            except (OSError, EOFError):
                ok = False
        if not ok:
            raise GenzooError(f"'{path}' does not match fashion-mnist's checksums; it is corrupted or another dataset")
    return path


def _fashion(arg: str | None, *, split: str, data_dir: str | None = None) -> RawImages:
    """Zalando's Fashion-MNIST, 28x28 garments, 10 classes, offline IDX files (Hub variant: hf:fashion_mnist)."""
    verify = os.environ.get("GENZOO_VERIFY_DATA", "1") != "0"
    ip = _fashion_file(split, "images", data_dir, verify)
    lp = _fashion_file(split, "labels", data_dir, verify)
    images = read_idx(ip).unsqueeze(1)
    labels = read_idx(lp).long()
    if images.shape[0] != labels.shape[0]:
        raise GenzooError(f"fashion-mnist {split}: {images.shape[0]} images but {labels.shape[0]} labels")
    return RawImages(images, labels, list(FASHION_CLASSES), native_size=28, source=str(ip.parent))


_fashion.native_size = 28  # type: ignore[attr-defined]
register_dataset("fashion-mnist", _fashion)


def with_limit(ds: ImageDataset, n: int) -> ImageDataset:
    return dataclasses.replace(
        ds, images=ds.images[:n], labels=None if ds.labels is None else ds.labels[:n],
        extra={k: v[:n] for k, v in ds.extra.items()},
    )


# Folders of images (`folder:PATH`) and the one-image reading every loader shares; re-exported
# here because pairs, hf, images and metrics import them from genzoo.data.
from genzoo.data.folder import (  # noqa: E402
    FOLDER_MAX_SIZE as FOLDER_MAX_SIZE,
    GRAY_MODES as GRAY_MODES,
    IMAGE_SUFFIXES as IMAGE_SUFFIXES,
    UnreadableImage as UnreadableImage,
    conversion_note as conversion_note,
    is_gray as is_gray,
    read_image as read_image,
    read_image_folder as read_image_folder,
    square_uint8 as square_uint8,
    stack_pil as stack_pil,
    to_8bit as to_8bit,
)

# Paired data for image-to-image models: importing registers `pairs:PATH`, `skimage-patches`
# and the paired-task registry (superres, inpaint, denoise, edges, colorize).
from genzoo.data import pairs as pairs  # noqa: E402
from genzoo.data import tasks as tasks  # noqa: E402

# Hub datasets: importing registers `hf:NAME` and its aliases (mnist, cifar10, celeba); the
# `datasets` library itself is imported only when one is loaded.
from genzoo.data import hf as hf  # noqa: E402

# Generated images for benchmarks of the data paths: importing registers `synthetic:N[xS]`.
from genzoo.data import synthetic as synthetic  # noqa: E402
