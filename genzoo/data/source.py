"""Images read one at a time: the lazy side of genzoo's data.

Data that fits the memory budget is loaded whole (:class:`genzoo.data.ImageDataset`, one
float32 tensor), the fastest path at the sizes genzoo targets. Data that does not is an
:class:`ImageSource`: ``N`` items, each decoded on demand at one fixed geometry (channels,
side), which a disk cache or a DataLoader can read without holding the whole set.

A dataset loader registered with :func:`genzoo.registry.register_dataset` may carry an
``open_source(arg, *, split, image_size, data_dir) -> ImageSource`` attribute; loaders that
do not are wrapped around their in-memory :class:`~genzoo.data.RawImages` by
:class:`TensorSource`.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Sequence

import torch
from torch import Tensor

from genzoo.data import RawImages, load_raw, parse_spec, resize_square
from genzoo.errors import GenzooError
from genzoo.registry import datasets

#: The label :meth:`ImageSource.read` gives an item of unlabelled data.
NO_LABEL = -1


class ImageSource(ABC):
    """``len(self)`` images readable one by one as uint8 (channels, image_size, image_size).

    Attributes: ``name`` (the --data spec), ``split``, ``channels`` (1 or 3), ``image_size``
    (the side every item is decoded at), ``class_names`` (empty when unlabelled), ``source``
    (where the files are, for config.json) and ``notes`` (what opening it found: skipped or
    converted files), as on :class:`~genzoo.data.ImageDataset`.
    """

    name: str
    split: str
    channels: int
    image_size: int
    class_names: list[str]
    source: str = ""
    notes: list[str]

    @abstractmethod
    def __len__(self) -> int: ...

    @abstractmethod
    def read(self, i: int) -> tuple[Tensor, int]:
        """Item ``i`` -> (uint8 (channels, image_size, image_size) in [0, 255], label or NO_LABEL).

        Raises :class:`genzoo.data.UnreadableImage` for an item that cannot be decoded.
        """

    @abstractmethod
    def fingerprint(self) -> str:
        """A short hex string that changes whenever the items, their order, labels or geometry
        would (a disk cache's key). Cheap: from names, sizes and times, never from pixels."""

    @property
    def labelled(self) -> bool:
        return bool(self.class_names)

    def read_many(self, indices: Sequence[int]) -> tuple[Tensor, Tensor]:
        """Items -> (uint8 (B, C, S, S), int64 (B,) labels, NO_LABEL where unlabelled)."""
        pairs = [self.read(int(i)) for i in indices]
        return torch.stack([p[0] for p in pairs]), torch.tensor([p[1] for p in pairs], dtype=torch.long)

    def float32_bytes(self) -> int:
        """What holding every item in memory as float32 would take."""
        return len(self) * self.channels * self.image_size * self.image_size * 4


class TensorSource(ImageSource):
    """An in-memory :class:`RawImages` read item by item at ``image_size`` (centre crop, resize)."""

    def __init__(self, raw: RawImages, name: str, split: str, image_size: int | None = None):
        if raw.images.ndim != 4 or raw.images.shape[0] == 0:
            raise GenzooError(f"dataset '{name}' gave no images")
        self.raw, self.name, self.split = raw, name, split
        self.channels = int(raw.images.shape[1])
        self.image_size = int(image_size or raw.native_size)
        self.class_names = list(raw.class_names) if raw.labels is not None else []
        self.source, self.notes = raw.source, list(raw.notes)

    def __len__(self) -> int:
        return int(self.raw.images.shape[0])

    def read(self, i: int) -> tuple[Tensor, int]:
        x = self.raw.images[i]
        if tuple(x.shape[-2:]) != (self.image_size, self.image_size):
            f = x.float() / 255.0 if x.dtype == torch.uint8 else x.float()
            x = resize_square(f[None], self.image_size)[0]
            x = (x.clamp(0, 1) * 255).round().to(torch.uint8)
        elif x.dtype != torch.uint8:
            x = (x.float().clamp(0, 1) * 255).round().to(torch.uint8)
        label = int(self.raw.labels[i]) if self.raw.labels is not None else NO_LABEL
        return x, label

    def fingerprint(self) -> str:
        h = hashlib.sha256(f"{self.name}|{self.split}|{len(self)}|{self.channels}|{self.image_size}".encode())
        return h.hexdigest()[:16]


def open_source(spec: str, *, split: str = "train", image_size: int | None = None,
                data_dir: str | None = None) -> ImageSource:
    """The dataset ``spec`` as an :class:`ImageSource` decoded at ``image_size`` (None: native).

    Uses the loader's own ``open_source`` when it has one (data too large to load whole);
    otherwise loads it into memory and reads it item by item.
    """
    name, arg = parse_spec(spec)
    loader = datasets.get(name)
    opener = getattr(loader, "open_source", None)
    if opener is not None:
        return opener(arg, split=split, image_size=image_size, data_dir=data_dir)
    return TensorSource(load_raw(spec, split=split, data_dir=data_dir), spec, split, image_size)


__all__ = ["NO_LABEL", "ImageSource", "TensorSource", "open_source"]
