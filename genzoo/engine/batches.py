"""Training batches in a seeded, resumable order: from one in-memory tensor, a disk cache, or
DataLoader workers decoding the source (genzoo.data.pipeline)."""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from genzoo.data import ImageDataset
from genzoo.data.pipeline import LazyImages, SourceStorage, default_workers, to_unit_range
from genzoo.errors import GenzooError
from genzoo.family import Batch


class Order:
    """The data order: one seeded permutation per epoch (drop_last); rank ``r`` of ``world``
    takes the ``r``-th slice of ``batch_size`` of each global batch of ``batch_size * world``,
    so the ranks' slices are disjoint and together cover the global batch."""

    def __init__(self, n: int, batch_size: int, seed: int, rank: int = 0, world: int = 1):
        self.n, self.batch_size, self.rank, self.world = n, batch_size, rank, world
        self.gen = torch.Generator().manual_seed(seed + 7919)
        self.perm: Tensor | None = None
        self.pos = 0
        self.epoch = 0

    def next(self) -> Tensor:
        """This rank's indices (int64 (batch_size,)) of the next global batch."""
        g = self.batch_size * self.world
        if self.perm is None or self.pos + g > self.n:
            self.perm = torch.randperm(self.n, generator=self.gen)
            self.pos = 0
            self.epoch += 1
        start = self.pos + self.rank * self.batch_size
        idx = self.perm[start : start + self.batch_size]
        self.pos += g
        return idx

    def copy(self) -> Order:
        twin = copy.copy(self)
        twin.gen = torch.Generator()
        twin.gen.set_state(self.gen.get_state())
        return twin

    @property
    def epochs_completed(self) -> int:
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


class _Items(torch.utils.data.Dataset):
    """A DataLoader dataset whose item is one whole batch of indices (read by one worker)."""

    def __init__(self, storage: SourceStorage):
        self.storage = storage

    def __len__(self) -> int:
        return self.storage.n

    def __getitem__(self, idx: list[int]) -> tuple[Tensor, Tensor, np.ndarray, int]:
        before = self.storage.skipped
        x, y, kept = self.storage.read(np.asarray(idx, dtype=np.int64))
        return x, y, kept, self.storage.skipped - before


def _first(items: list[Any]) -> Any:
    return items[0]  # each DataLoader "batch" is one item that is already a whole batch


def _one_thread(_: int) -> None:
    torch.set_num_threads(1)  # workers decode; the training step keeps the cores' threads


class Batches:
    """Random batches in the :class:`Order`; reshuffled each epoch (drop_last).

    In-memory data is indexed on the device. Lazy data (:class:`LazyImages`) is read per batch:
    from the disk cache in this process, or from the source by ``workers`` DataLoader worker
    processes (each decodes whole batches of this rank's indices, in order); uint8 is converted
    to float32 [-1, 1] per batch. ``state()`` counts the batches handed out, not those
    prefetched, so ``--resume`` continues exactly.
    """

    def __init__(self, data: ImageDataset, batch_size: int, seed: int, device: torch.device,
                 rank: int = 0, world: int = 1, workers: int | None = None, hflip: bool = False, random_crop: int = 0):
        n = len(data)
        global_bs = batch_size * world
        if global_bs > n:
            raise GenzooError(
                f"batch size {global_bs} is larger than the dataset ({n} images); use --batch-size {max(1, n // world)} or less"
            )
        self.batch_size, self.rank, self.world, self.n = batch_size, rank, world, n
        self.order = Order(n, batch_size, seed, rank, world)
        self.seed, self.hflip, self.random_crop = seed, hflip, random_crop
        self.device = device
        self.lazy: LazyImages | None = data.images if isinstance(data.images, LazyImages) else None
        self.skipped = 0
        if self.lazy is not None:
            if data.extra:
                raise GenzooError("paired data is read in memory only and this data does not fit the memory budget; "
                                  "raise --memory-limit or use --data-path memory")
            self.labelled = data.labels is not None
            self.workers = (default_workers(world) if workers is None else workers) if isinstance(
                self.lazy.storage, SourceStorage) else 0
            self._stream: Iterator[Any] | None = None
            return
        self.images = data.images.to(device)
        self.labels = data.labels.to(device) if data.labels is not None else None
        self.extra = {k: v.to(device) for k, v in data.extra.items()}

    def __iter__(self) -> Iterator[Batch]:
        return self

    def __next__(self) -> Batch:
        if self.lazy is None:
            idx = self.order.next().to(self.images.device)
            return self._augment(Batch(
                self.images[idx],
                self.labels[idx] if self.labels is not None else None,
                {k: v[idx] for k, v in self.extra.items()},
            ))
        if self.workers > 0:
            if self._stream is None:  # the planner starts where the order is and runs ahead of it
                self._stream = self._start_stream(self.order.copy())
            idx = self.order.next()
            x, y, kept, skipped = next(self._stream)
            want = idx.numpy()
            if not np.array_equal(kept, want[np.isin(want, kept)]):
                raise RuntimeError("streamed batches came out of order")  # a bug, not a user error
            self.skipped += skipped
        else:
            idx = self.order.next()
            before = getattr(self.lazy.storage, "skipped", 0)
            x, y, kept = self.lazy.storage.read(idx.numpy())
            self.skipped += getattr(self.lazy.storage, "skipped", 0) - before
        x = to_unit_range(x.to(self.device, non_blocking=True))
        return self._augment(Batch(x, y.to(self.device) if self.labelled else None, {}))

    def _augment(self, batch: Batch) -> Batch:
        """Seeded flips and crops (config hflip, random_crop); the same for an image and its
        pair in ``extra``. The randomness is a function of (seed, epoch, position, rank), so a
        resumed run draws the same and nothing needs saving."""
        if not self.hflip and not self.random_crop:
            return batch
        key = f"{self.seed}|{self.order.epoch}|{self.order.pos}|{self.rank}".encode()
        gen = torch.Generator().manual_seed(int.from_bytes(hashlib.sha256(key).digest()[:8], "little") >> 1)
        x = batch.images
        b, s = x.shape[0], x.shape[-1]
        flip = torch.rand(b, generator=gen) < 0.5 if self.hflip else None
        p = self.random_crop
        shift = torch.randint(0, 2 * p + 1, (b, 2), generator=gen) if p else None

        def apply(t: Tensor) -> Tensor:
            if t.ndim != 4 or t.shape[-1] != s or t.shape[0] != b:
                return t
            if flip is not None:
                t = torch.where(flip.to(t.device)[:, None, None, None], t.flip(-1), t)
            if shift is not None:
                padded = F.pad(t, (p, p, p, p), mode="reflect" if p < s else "replicate")
                t = torch.stack([padded[i, :, dy : dy + s, dx : dx + s] for i, (dy, dx) in enumerate(shift.tolist())])
            return t

        return Batch(apply(x), batch.labels, {k: apply(v) for k, v in batch.extra.items()})

    def _start_stream(self, planner: Order) -> Iterator[Any]:
        def plan() -> Iterator[list[list[int]]]:
            while True:
                yield [planner.next().tolist()]

        assert self.lazy is not None
        loader = torch.utils.data.DataLoader(
            _Items(self.lazy.storage), batch_sampler=plan(), num_workers=self.workers,  # type: ignore[arg-type]
            collate_fn=_first, worker_init_fn=_one_thread, prefetch_factor=2,
            # its own generator: starting workers must not draw from the global RNG (the training
            # step's), or a resumed run would diverge from one that ran through
            generator=torch.Generator().manual_seed(0),
        )
        return iter(loader)

    def close(self) -> None:
        """Stop the streaming workers now (they would also stop with this process)."""
        stream, self._stream = getattr(self, "_stream", None), None
        shutdown = getattr(stream, "_shutdown_workers", None)  # DataLoader's iterator: joins its workers
        if shutdown is not None:
            shutdown()

    @property
    def epochs_completed(self) -> int:
        """Passes over the data finished so far (the last batch drawn may have ended one)."""
        return self.order.epochs_completed

    # the order's fields, as before the Order class existed (tests and callers read them)
    @property
    def perm(self) -> Tensor | None:
        return self.order.perm

    @property
    def pos(self) -> int:
        return self.order.pos

    @property
    def epoch(self) -> int:
        return self.order.epoch

    @property
    def gen(self) -> torch.Generator:
        return self.order.gen

    def state(self) -> tuple[dict[str, Tensor], dict[str, Any]]:
        return self.order.state()

    def load_state(self, tensors: dict[str, Tensor], scalars: dict[str, Any]) -> None:
        self.order.load_state(tensors, scalars)
        if self.lazy is not None:
            self.close()  # prefetched batches belong to the old order
