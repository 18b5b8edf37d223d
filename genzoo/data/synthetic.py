"""``synthetic:N[xS][:gray]``: N generated images of side S (default 64), for measuring the data
paths (genzoo bench --data-loading) and memory at any scale without a download.

Item ``i`` is a smooth random colour field (a seeded 4x4 grid of colours, upsampled bilinearly)
with a bright square whose place depends on ``i``; its label is ``i % 10``. Items are made on
demand from their index, so 100,000 images at 128 px cost nothing until they are read.
"""

from __future__ import annotations

import hashlib
import re

import torch
import torch.nn.functional as F
from torch import Tensor

from genzoo.data import RawImages
from genzoo.data.source import ImageSource
from genzoo.errors import GenzooError
from genzoo.registry import register_dataset

CLASSES = [str(i) for i in range(10)]
MAX_ITEMS = 10**8


def parse_synthetic(arg: str | None) -> tuple[int, int, int]:
    """'1000x64' -> (1000, 3, 64); '500:gray' -> (500, 1, 64)."""
    m = re.fullmatch(r"\s*(\d+)(?:x(\d+))?(:gray)?\s*", arg or "")
    if not m:
        raise GenzooError(f"synthetic: takes N[xSIZE][:gray], e.g. --data synthetic:10000x64; got '{arg or ''}'")
    n, s = int(m.group(1)), int(m.group(2) or 64)
    if not 1 <= n <= MAX_ITEMS or not 4 <= s <= 1024:
        raise GenzooError(f"synthetic: needs 1 to {MAX_ITEMS} images of side 4 to 1024; got {n} images of side {s}")
    return n, 1 if m.group(3) else 3, s


def synthetic_item(i: int, channels: int, size: int) -> Tensor:
    """Item ``i``: uint8 (channels, size, size)."""
    g = torch.Generator().manual_seed(1_000_003 * i + 17)
    grid = torch.rand(1, channels, 4, 4, generator=g)
    x = F.interpolate(grid, size=(size, size), mode="bilinear", align_corners=False)[0]
    side = max(1, size // 4)
    top, left = (i * 7) % (size - side + 1), (i * 13) % (size - side + 1)
    x[:, top : top + side, left : left + side] = 1.0
    return (x * 255).round().to(torch.uint8)


class SyntheticSource(ImageSource):
    """``n`` generated items (see the module docstring) at ``image_size`` (their native side
    when None), labelled ``i % 10``."""

    def __init__(self, n: int, channels: int, size: int, image_size: int | None = None, split: str = "train",
                 name: str = "synthetic"):
        self.n, self.native = n, size
        self.name, self.split, self.channels = name, split, channels
        self.image_size = int(image_size or size)
        self.class_names = list(CLASSES)
        self.source, self.notes = "generated (genzoo.data.synthetic)", []
        self.offset = 0 if split == "train" else n  # the test split: the next n items

    def __len__(self) -> int:
        return self.n

    def read(self, i: int) -> tuple[Tensor, int]:
        if not 0 <= i < self.n:
            raise IndexError(i)
        x = synthetic_item(self.offset + i, self.channels, self.native)
        if self.image_size != self.native:
            f = F.interpolate(x[None].float(), size=(self.image_size, self.image_size), mode="bilinear",
                              align_corners=False, antialias=self.image_size < self.native)[0]
            x = f.clamp(0, 255).round().to(torch.uint8)
        return x, (self.offset + i) % 10

    def fingerprint(self) -> str:
        text = f"synthetic|1|{self.n}|{self.channels}|{self.native}|{self.image_size}|{self.split}"
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def _synthetic(arg: str | None, *, split: str, data_dir: str | None = None) -> RawImages:
    """synthetic:N[xS][:gray] - N generated colour fields (default side 64), labels i % 10; for benchmarks."""
    n, c, s = parse_synthetic(arg)
    src = SyntheticSource(n, c, s, split=split, name=f"synthetic:{arg}")
    x, y = src.read_many(range(n))
    return RawImages(x, y, list(CLASSES), native_size=s, source=src.source)


def _open(arg: str | None, *, split: str = "train", image_size: int | None = None,
          data_dir: str | None = None) -> SyntheticSource:
    n, c, s = parse_synthetic(arg)
    return SyntheticSource(n, c, s, image_size, split=split, name=f"synthetic:{arg}")


_synthetic.open_source = _open  # type: ignore[attr-defined]
register_dataset("synthetic", _synthetic)
