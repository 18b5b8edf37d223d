"""Training batches drawn from one in-memory tensor, with a resumable order."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch import Tensor

from genzoo.data import ImageDataset
from genzoo.errors import GenzooError
from genzoo.family import Batch


class Batches:
    """Random batches by indexing one in-memory tensor; reshuffled each epoch (drop_last).

    With ``world > 1`` every rank draws the same permutation and takes its own slice of
    each global batch, so ranks see disjoint data and together one global batch.
    """

    def __init__(self, data: ImageDataset, batch_size: int, seed: int, device: torch.device,
                 rank: int = 0, world: int = 1):
        n = len(data)
        global_bs = batch_size * world
        if global_bs > n:
            raise GenzooError(
                f"batch size {global_bs} is larger than the dataset ({n} images); use --batch-size {max(1, n // world)} or less"
            )
        self.batch_size, self.rank, self.world, self.n = batch_size, rank, world, n
        self.images = data.images.to(device)
        self.labels = data.labels.to(device) if data.labels is not None else None
        self.extra = {k: v.to(device) for k, v in data.extra.items()}
        self.gen = torch.Generator().manual_seed(seed + 7919)
        self.perm: Tensor | None = None
        self.pos = 0
        self.epoch = 0

    def __iter__(self) -> Iterator[Batch]:
        return self

    def __next__(self) -> Batch:
        g = self.batch_size * self.world
        if self.perm is None or self.pos + g > self.n:
            self.perm = torch.randperm(self.n, generator=self.gen)
            self.pos = 0
            self.epoch += 1
        start = self.pos + self.rank * self.batch_size
        idx = self.perm[start : start + self.batch_size].to(self.images.device)
        self.pos += g
        return Batch(
            self.images[idx],
            self.labels[idx] if self.labels is not None else None,
            {k: v[idx] for k, v in self.extra.items()},
        )

    @property
    def epochs_completed(self) -> int:
        """Passes over the data finished so far (the last batch drawn may have ended one)."""
        if self.perm is not None and self.pos + self.batch_size * self.world > self.n:
            return self.epoch
        return max(0, self.epoch - 1)

    def state(self) -> tuple[dict[str, Tensor], dict[str, Any]]:
        t = {"data.gen": self.gen.get_state()}
        if self.perm is not None:
            t["data.perm"] = self.perm
        return t, {"pos": self.pos, "epoch": self.epoch}

    def load_state(self, tensors: dict[str, Tensor], scalars: dict[str, Any]) -> None:
        perm = tensors.get("data.perm")
        if perm is not None and perm.numel() != self.n:
            raise GenzooError(
                f"the checkpoint's data order covers {perm.numel()} images but the data has {self.n}: the data "
                "changed since the run was saved; resume with the same data, or start a new run with --out"
            )
        if perm is not None and not torch.equal(perm.sort().values, torch.arange(self.n)):
            raise GenzooError("the checkpoint's data order (data.perm) is not an order of the data's images: the "
                              "checkpoint is damaged; start a new run with --out")
        self.gen.set_state(tensors["data.gen"])
        self.perm = perm
        self.pos, self.epoch = int(scalars["pos"]), int(scalars["epoch"])

