"""How a run reads its data: in memory, from a uint8 disk cache, or streamed from the source.

Data whose float32 tensor fits the memory budget (``--memory-limit``, env ``GENZOO_MEMORY_LIMIT``,
default half the machine's RAM) is loaded whole, as always. Larger data is either decoded once
into a uint8 (N, C, S, S) file under genzoo's cache dir and read back through a memory map
(``cache``), or decoded item by item by DataLoader workers for the batches a rank needs
(``stream``). Either way the dataset's ``images`` is a :class:`LazyImages`: a read-only,
float32 [-1, 1] view that supports ``len``, ``shape`` and indexing, so code written for the
in-memory tensor keeps working on data larger than memory.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import mmap
import os
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from genzoo.console import console, esc, make_progress
from genzoo.data import ImageDataset, UnreadableImage, cache_dir, dataset_from_raw, load_raw, parse_spec
from genzoo.data.source import NO_LABEL, ImageSource, TensorSource
from genzoo.errors import GenzooError
from genzoo.registry import datasets

DATA_PATHS = ("auto", "memory", "cache", "stream")
MEMORY_ENV = "GENZOO_MEMORY_LIMIT"
WORKERS_ENV = "GENZOO_DATA_WORKERS"
CACHE_FORMAT = 1
#: Give the mapping's pages back to the kernel after this many bytes were read through it.
RELEASE_EVERY = 64 * 2**20

_UNITS = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "m": 10**6, "mb": 10**6, "g": 10**9, "gb": 10**9,
          "t": 10**12, "tb": 10**12, "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


def parse_bytes(text: str | int, what: str = "--memory-limit") -> int:
    """'8GB', '500 MB', '1.5GiB', '1000000' -> bytes (decimal units; KiB/MiB/GiB binary)."""
    if isinstance(text, int) and not isinstance(text, bool):
        value, unit = float(text), ""
    else:
        m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([a-zA-Z]*)\s*", str(text))
        if not m or m.group(2).lower() not in _UNITS:
            raise GenzooError(f"{what} '{text}' is not a size; give a positive size such as 8GB, 500MB or 2GiB")
        value, unit = float(m.group(1)), m.group(2).lower()
    n = int(value * _UNITS[unit])
    if n <= 0:
        raise GenzooError(f"{what} '{text}' must be larger than zero; give a size such as 8GB")
    return n


def human_bytes(n: float) -> str:
    """Bytes in decimal units, 3 significant figures: 188 MB, 11.7 GB."""
    for unit, k in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= k:
            v = n / k
            return f"{v:.3g} {unit}" if v < 100 else f"{v:.0f} {unit}"
    return f"{int(n)} B"


def machine_ram() -> int:
    """Physical memory of this machine in bytes."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # not POSIX: assume a modest machine
        return 8 * 10**9


@dataclass(frozen=True)
class MemoryBudget:
    """How many bytes of float32 data a run may hold in memory, and where that figure came from."""

    limit: int
    how: str  # "half of 23.5 GB", "--memory-limit", "GENZOO_MEMORY_LIMIT"


def memory_budget(option: str | int | None = None) -> MemoryBudget:
    """The option, else ``GENZOO_MEMORY_LIMIT``, else half of this machine's RAM."""
    if option is not None:
        return MemoryBudget(parse_bytes(option), "--memory-limit")
    env = os.environ.get(MEMORY_ENV)
    if env:
        return MemoryBudget(parse_bytes(env, MEMORY_ENV), MEMORY_ENV)
    ram = machine_ram()
    return MemoryBudget(ram // 2, f"half of {human_bytes(ram)}")


def check_data_path(path: str | None) -> str:
    path = (path or "auto").strip().lower()
    if path not in DATA_PATHS:
        raise GenzooError(f"unknown --data-path '{path}'; use one of {', '.join(DATA_PATHS)}")
    return path


def default_workers(world: int = 1) -> int:
    """DataLoader workers per process for the streamed path: ``GENZOO_DATA_WORKERS``, else one
    per spare CPU of this process's share (``world`` processes on the machine), 1 to 4."""
    env = os.environ.get(WORKERS_ENV)
    if env is not None:
        try:
            n = int(env)
        except ValueError:
            n = -1
        if n < 0:
            raise GenzooError(f"{WORKERS_ENV} '{env}' must be a whole number 0 or more")
        return n
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    return max(1, min(4, cpus // max(1, world) - 1))


def to_unit_range(x: Tensor) -> Tensor:
    """uint8 [0, 255] -> float32 [-1, 1], the same arithmetic as the in-memory path."""
    return x.float() / 255.0 * 2 - 1


# ------------------------------------------------------------------------------------------
# storage: where the uint8 items come from
# ------------------------------------------------------------------------------------------
class Storage:
    """uint8 items by index: ``read(idx) -> (uint8 (B, C, S, S), int64 (B,) labels, kept idx)``."""

    n: int
    channels: int
    image_size: int
    kind: str

    def read(self, idx: np.ndarray) -> tuple[Tensor, Tensor, np.ndarray]:
        raise NotImplementedError

    def label_array(self) -> Tensor | None:
        """Every item's label (int64 (N,)) when known without decoding, else None."""
        return None


class CacheStorage(Storage):
    """A cache file's uint8 (N, C, S, S) array: ``array`` maps it read-only (numpy view, shared
    page cache); batches are read with ``os.preadv`` of their rows.

    Why pread and not the map for batches: measured on this machine, random rows gathered from
    the map grow the process's resident file pages (RssFile) towards the whole file, because a
    page fault maps the whole cached folio around the row (large folios; madvise(MADV_DONTNEED)
    every 64 MB only trims it: 20,000 images at 64 px, RssFile +210 MB either way), while pread
    copies just the rows into the batch and RssFile stays flat. Both read the same page cache,
    which the OS shares between processes (ranks) and keeps for the next run.
    """

    kind = "cache"
    #: False: gather batches from the map instead (with periodic madvise), for measurements.
    use_pread = True

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        meta = json.loads((self.folder / "meta.json").read_text())
        self.meta = meta
        self.n, self.channels, self.image_size = int(meta["n"]), int(meta["channels"]), int(meta["image_size"])
        self.labels = torch.from_numpy(np.load(self.folder / "labels.npy")).long()
        self._open()

    def _open(self) -> None:
        path = self.folder / "images.npy"
        self._fd = os.open(path, os.O_RDONLY)
        with open(path, "rb") as f:
            self._offset, shape = npy_header(f)
            self._mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        self.row = int(np.prod(shape[1:]))
        self.array = np.frombuffer(self._mm, dtype=np.uint8, count=int(np.prod(shape)), offset=self._offset).reshape(shape)
        self._since_release = 0

    def __getstate__(self) -> dict[str, Any]:  # a mapping does not pickle: workers map the file again
        return {"folder": self.folder, "meta": self.meta, "n": self.n, "channels": self.channels,
                "image_size": self.image_size, "labels": self.labels}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._open()

    def __del__(self, _close: Any = os.close) -> None:  # os may be gone at interpreter exit
        fd = getattr(self, "_fd", None)
        if fd is not None:
            self._fd = None
            _close(fd)

    def read(self, idx: np.ndarray) -> tuple[Tensor, Tensor, np.ndarray]:
        if self.use_pread:
            out = np.empty((len(idx), *self.array.shape[1:]), dtype=np.uint8)
            flat = out.reshape(len(idx), self.row)
            for j, i in enumerate(idx.tolist()):
                got = os.preadv(self._fd, [flat[j]], self._offset + int(i) * self.row)
                if got != self.row:
                    raise GenzooError(f"the disk cache {self.folder} is truncated (row {i}); delete it and run again")
            x = torch.from_numpy(out)
        else:
            x = torch.from_numpy(self.array[idx])  # fancy indexing copies: the batch owns its memory
            self._since_release += x.numel()
            if self._since_release >= RELEASE_EVERY:
                self.release()
        return x, self.labels[torch.from_numpy(idx)], idx

    def release(self) -> None:
        """Drop this process's mapped pages (they stay in the page cache)."""
        self._since_release = 0
        if hasattr(mmap, "MADV_DONTNEED"):
            self._mm.madvise(mmap.MADV_DONTNEED)

    def label_array(self) -> Tensor | None:
        return self.labels


class SourceStorage(Storage):
    """Items decoded from an :class:`ImageSource` on demand; unreadable ones are left out."""

    kind = "stream"

    def __init__(self, source: ImageSource):
        self.source = source
        self.n, self.channels, self.image_size = len(source), source.channels, source.image_size
        self.skipped = 0

    def read(self, idx: np.ndarray) -> tuple[Tensor, Tensor, np.ndarray]:
        xs, ys, kept = [], [], []
        for i in idx.tolist():
            try:
                x, y = self.source.read(int(i))
            except UnreadableImage:
                self.skipped += 1
                continue
            xs.append(x)
            ys.append(y)
            kept.append(i)
        if not xs:
            empty = torch.empty(0, self.channels, self.image_size, self.image_size, dtype=torch.uint8)
            return empty, torch.empty(0, dtype=torch.long), np.asarray(kept, dtype=np.int64)
        return torch.stack(xs), torch.tensor(ys, dtype=torch.long), np.asarray(kept, dtype=np.int64)

    def label_array(self) -> Tensor | None:
        if isinstance(self.source, TensorSource):
            return self.source.raw.labels
        cheap = getattr(self.source, "all_labels", None)  # a source that lists its labels without decoding
        return cheap() if callable(cheap) else None


def npy_header(f: Any) -> tuple[int, tuple[int, ...]]:
    """(data offset, shape) of an open .npy file of uint8; raises ValueError if it is not one."""
    version = np.lib.format.read_magic(f)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
    else:
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
    if fortran or dtype != np.uint8 or len(shape) != 4:
        raise ValueError(f"not a C-order uint8 (N, C, S, S) array (shape {shape}, dtype {dtype})")
    return f.tell(), tuple(int(s) for s in shape)


# ------------------------------------------------------------------------------------------
# the lazy view the dataset exposes as .images
# ------------------------------------------------------------------------------------------
class LazyImages:
    """A read-only float32 [-1, 1] (N, C, S, S) view of uint8 storage, read on demand.

    Supports ``len``, ``shape``, ``ndim``, ``dtype`` and indexing by an int, a slice, a list,
    an int64 tensor or array, or a bool mask: each returns a float32 tensor (a copy), as the
    in-memory tensor would. Unreadable items of streamed data come back as zeros (grey).
    """

    dtype = torch.float32
    ndim = 4
    device = torch.device("cpu")

    def __init__(self, storage: Storage):
        self.storage = storage
        self.shape = torch.Size((storage.n, storage.channels, storage.image_size, storage.image_size))

    def __len__(self) -> int:
        return self.storage.n

    def size(self, dim: int | None = None) -> Any:
        return self.shape if dim is None else self.shape[dim]

    def uint8(self, idx: Sequence[int] | np.ndarray | Tensor) -> Tensor:
        """Items ``idx`` as uint8 (B, C, S, S); unreadable ones zero."""
        idx = np.asarray(idx.cpu() if isinstance(idx, Tensor) else idx, dtype=np.int64).reshape(-1)
        if idx.size and (idx.min() < -self.storage.n or idx.max() >= self.storage.n):
            raise IndexError(f"index out of range for {self.storage.n} images")
        idx = np.where(idx < 0, idx + self.storage.n, idx)
        x, _, kept = self.storage.read(idx)
        if len(kept) == len(idx):
            return x
        out = torch.full((len(idx), *self.shape[1:]), 127, dtype=torch.uint8)  # 127 -> about 0 in [-1, 1]
        pos = {int(i): p for p, i in enumerate(kept.tolist())}
        for j, i in enumerate(idx.tolist()):
            if int(i) in pos:
                out[j] = x[pos[int(i)]]
        return out

    def __getitem__(self, key: Any) -> Tensor:
        rest: tuple[Any, ...] = ()
        if isinstance(key, tuple):
            key, rest = key[0], key[1:]
        if isinstance(key, (int, np.integer)) or (isinstance(key, Tensor) and key.ndim == 0):
            out = to_unit_range(self.uint8([int(key)]))[0]
        else:
            if isinstance(key, slice):
                idx = np.arange(self.storage.n)[key]
            elif isinstance(key, Tensor) and key.dtype == torch.bool:
                idx = key.cpu().nonzero().flatten().numpy()
            elif isinstance(key, np.ndarray) and key.dtype == bool:
                idx = key.nonzero()[0]
            else:
                idx = key
            out = to_unit_range(self.uint8(idx))
        return out[(slice(None), *rest)] if rest and out.ndim == 4 else (out[rest] if rest else out)

    def to(self, *args: Any, **kwargs: Any) -> LazyImages:
        """Stays lazy (read batches are moved to the device by the batcher)."""
        return self

    def cpu(self) -> LazyImages:
        return self

    def __repr__(self) -> str:
        return f"LazyImages({self.storage.kind}, shape={tuple(self.shape)})"


class LazyLabels:
    """Labels of streamed data whose source cannot list them without decoding: int64 by index."""

    dtype = torch.long
    ndim = 1

    def __init__(self, storage: SourceStorage):
        self.storage = storage
        self.shape = torch.Size((storage.n,))

    def __len__(self) -> int:
        return self.storage.n

    def __getitem__(self, key: Any) -> Tensor:
        idx = np.arange(self.storage.n)[key] if isinstance(key, slice) else np.asarray(key, dtype=np.int64).reshape(-1)
        labels = [NO_LABEL if i < 0 else self.storage.source.read(int(i))[1] for i in idx.tolist()]
        t = torch.tensor(labels, dtype=torch.long)
        return t[0] if isinstance(key, int) else t

    def to(self, *args: Any, **kwargs: Any) -> LazyLabels:
        return self


def is_lazy(data: ImageDataset) -> bool:
    return isinstance(data.images, LazyImages)


def mean_image(images: Tensor | LazyImages, chunk: int = 4096) -> Tensor:
    """The mean image of a dataset's ``images`` (float (N, C, S, S) in [-1, 1], in memory or
    lazy) -> float32 (1, C, S, S) in [0, 1] on the CPU. In-memory tensors are averaged in one
    go, as before; lazy data chunk by chunk (float64 sums), never all at once."""
    if not isinstance(images, LazyImages):
        return ((images.float().cpu() + 1) / 2).mean(0, keepdim=True)
    total = torch.zeros(1, *images.shape[1:], dtype=torch.float64)
    for i in range(0, len(images), chunk):
        total += ((images[i : i + chunk].double() + 1) / 2).sum(0, keepdim=True)
    return (total / len(images)).float()


# ------------------------------------------------------------------------------------------
# the disk cache
# ------------------------------------------------------------------------------------------
def content_fingerprint(source: ImageSource) -> str:
    """The source's fingerprint; for data already in memory (:class:`TensorSource`, whose
    fingerprint names only the dataset and its geometry) also a digest of its pixels and labels,
    so a dataset that changed under the same name never reuses a stale cache."""
    fp = source.fingerprint()
    if isinstance(source, TensorSource):
        h = hashlib.sha256(fp.encode())
        h.update(source.raw.images.contiguous().numpy().tobytes())  # once per run: cheap next to decoding
        if source.raw.labels is not None:
            h.update(source.raw.labels.contiguous().numpy().tobytes())
        fp = h.hexdigest()[:16]
    return fp


def cache_key(source: ImageSource, fingerprint: str | None = None) -> str:
    text = f"{CACHE_FORMAT}|{fingerprint or content_fingerprint(source)}|{source.channels}|{source.image_size}|{len(source)}"
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def image_cache_dir() -> Path:
    return cache_dir() / "images"


def check_cache(folder: Path, source: ImageSource, fingerprint: str | None = None) -> str | None:
    """None if ``folder`` holds a complete cache of ``source``, else what is wrong with it."""
    fingerprint = fingerprint or content_fingerprint(source)
    try:
        meta = json.loads((folder / "meta.json").read_text())
        n, c, s = int(meta["n"]), int(meta["channels"]), int(meta["image_size"])
        if meta.get("format") != CACHE_FORMAT or meta.get("fingerprint") != fingerprint:
            return "it was made from other data"
        if (c, s) != (source.channels, source.image_size):
            return "it has another geometry"
        with open(folder / "images.npy", "rb") as f:
            offset, shape = npy_header(f)
        if shape != (n, c, s, s):
            return f"its images have shape {shape}, not {(n, c, s, s)}"
        if (folder / "images.npy").stat().st_size != offset + n * c * s * s:
            return "its image file is truncated or padded"
        labels = np.load(folder / "labels.npy")
        if labels.shape != (n,):
            return "its labels do not match its images"
    except FileNotFoundError as e:
        return f"{Path(e.filename).name if e.filename else 'a file'} is missing"
    except (OSError, ValueError, KeyError, TypeError, json.JSONDecodeError) as e:
        return f"it cannot be read ({type(e).__name__}: {e})"
    return None


def build_cache(source: ImageSource, folder: Path, *, quiet: bool = False, fingerprint: str | None = None) -> None:
    """Decode every item of ``source`` into ``folder`` (images.npy, labels.npy, meta.json).

    Written in a temporary sibling folder and renamed into place at the end, so a killed build
    leaves nothing that looks finished. Unreadable items are left out and counted in meta notes.
    """
    n, c, s = len(source), source.channels, source.image_size
    need = n * c * s * s
    parent = folder.parent
    parent.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(parent).free
    if free < need * 1.05:
        raise GenzooError(f"the disk cache needs {human_bytes(need)} but {parent} has {human_bytes(free)} free; "
                          "free space, set GENZOO_CACHE to another disk, or use --data-path stream")
    tmp = parent / f".{folder.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        labels = np.full(n, NO_LABEL, dtype=np.int64)
        kept, skipped, example = 0, 0, ""
        # written sequentially through a file, not a writable map: dirty mapped pages would count
        # in this process's resident memory, up to the whole file
        with open(tmp / "images.npy", "wb") as f, make_progress(transient=True) as progress:
            np.lib.format.write_array_header_1_0(f, {"descr": "|u1", "fortran_order": False, "shape": (n, c, s, s)})
            task = progress.add_task(f"caching {esc(source.name)} at {s}px", total=n) if not quiet else None
            rows: list[bytes] = []
            for i in range(n):
                try:
                    x, y = source.read(i)
                except UnreadableImage as e:
                    skipped += 1
                    example = example or e.path.name
                else:
                    rows.append(x.contiguous().numpy().tobytes())
                    labels[kept] = y
                    kept += 1
                if len(rows) >= 256 or i == n - 1:
                    f.write(b"".join(rows))
                    rows = []
                if task is not None and (i % 256 == 255 or i == n - 1):
                    progress.update(task, completed=i + 1)
        if kept == 0:
            raise GenzooError(f"no readable images in '{source.name}' ({skipped} unreadable)")
        if kept < n:  # the header said n: rewrite it for the readable items
            _shrink(tmp / "images.npy", n, kept, (c, s, s))
        np.save(tmp / "labels.npy", labels[:kept])
        notes = list(source.notes)
        if skipped:
            notes.append(f"skipped {skipped} unreadable item(s) of '{source.name}' while caching (e.g. {example})")
        meta = {"format": CACHE_FORMAT, "fingerprint": fingerprint or content_fingerprint(source), "name": source.name,
                "split": source.split, "n": kept, "n_source": n, "channels": c, "image_size": s,
                "class_names": list(source.class_names), "source": source.source, "notes": notes}
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1))
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _shrink(path: Path, n: int, kept: int, item: tuple[int, ...]) -> None:
    with open(path, "r+b") as f:
        offset, _ = npy_header(f)
        header = _npy_header_bytes((kept, *item), offset)
        f.seek(0)
        f.write(header)
        f.truncate(offset + kept * int(np.prod(item)))


def _npy_header_bytes(shape: tuple[int, ...], size: int) -> bytes:
    """A version-1.0 .npy header for uint8 ``shape`` padded to exactly ``size`` bytes."""
    d = repr({"descr": "|u1", "fortran_order": False, "shape": tuple(shape)})
    body = d.encode("latin1")
    pad = size - 10 - len(body) - 1
    if pad < 0:
        raise ValueError("header does not fit")
    return b"\x93NUMPY\x01\x00" + (size - 10).to_bytes(2, "little") + body + b" " * pad + b"\n"


def open_cache(source: ImageSource, *, quiet: bool = False) -> tuple[CacheStorage, list[str]]:
    """The cache of ``source`` (built now if missing or damaged) and notes on what happened."""
    root = image_cache_dir()
    fp = content_fingerprint(source)
    folder = root / cache_key(source, fp)
    notes: list[str] = []
    try:
        root.mkdir(parents=True, exist_ok=True)
        lock = open(root / f".{folder.name}.lock", "w")
    except OSError as e:
        raise GenzooError(f"cannot use the cache folder {root} ({e.strerror}); set GENZOO_CACHE to a writable folder") from None
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # several ranks: one builds, the others wait and then map it
        if folder.exists():
            wrong = check_cache(folder, source, fp)
            if wrong is not None:
                notes.append(f"the disk cache {folder} was unusable ({wrong}); rebuilt it")
                shutil.rmtree(folder, ignore_errors=True)
        if not folder.exists():
            build_cache(source, folder, quiet=quiet, fingerprint=fp)
        storage = CacheStorage(folder)
    notes.extend(storage.meta.get("notes", []))
    return storage, notes


# ------------------------------------------------------------------------------------------
# choosing the path and making the dataset
# ------------------------------------------------------------------------------------------
def choose_path(requested: str, float32_bytes: int, budget: MemoryBudget) -> tuple[str, str]:
    """(path, why): ``auto`` keeps the in-memory tensor whenever the data fits the budget, else
    the disk cache (measured faster than streaming: see docs/engine.md)."""
    requested = check_data_path(requested)
    if requested != "auto":
        return requested, "chosen with --data-path"
    if float32_bytes <= budget.limit:
        return "memory", "fits"
    return "cache", "does not fit"


def load_training_data(
    spec: str, *, split: str = "train", image_size: int | None = None, data_dir: str | None = None,
    path: str | None = "auto", memory_limit: str | int | None = None, quiet: bool = False,
    workers: int | None = None,
) -> ImageDataset:
    """The dataset a run trains on, read the way the memory budget allows.

    In memory (the float32 tensor of :func:`genzoo.data.load_dataset`, unchanged) whenever it
    fits or ``path='memory'``; else a dataset whose ``images`` is a :class:`LazyImages` over the
    disk cache or the source. Prints one line saying which and why; ``reading`` in the
    dataset's facts (config.json) records it. ``workers``: the streamed path's worker count
    (None: :func:`default_workers`), for that record.
    """
    path = check_data_path(path)
    budget = memory_budget(memory_limit)
    name, arg = parse_spec(spec)
    loader = datasets.get(name)
    opener = getattr(loader, "open_source", None)
    raw = None
    if opener is not None:
        source: ImageSource | None = opener(arg, split=split, image_size=image_size, data_dir=data_dir)
        n, c, s = len(source), source.channels, source.image_size
    else:
        raw = load_raw(spec, split=split, data_dir=data_dir, image_size=image_size)
        if raw.images.ndim != 4 or raw.images.shape[0] == 0:
            raise GenzooError(f"dataset '{spec}' gave no images")
        source = None
        n, c, s = int(raw.images.shape[0]), int(raw.images.shape[1]), int(image_size or raw.native_size)
    fbytes = n * c * s * s * 4
    chosen, why = choose_path(path, fbytes, budget)
    if chosen != "memory" and raw is not None and raw.extra:
        raise GenzooError(f"'{spec}' is paired data, which is read in memory only ({human_bytes(fbytes)} as float32); "
                          "raise --memory-limit or use --data-path memory")
    reading: dict[str, Any] = {"path": chosen, "float32_bytes": fbytes, "memory_limit": budget.limit,
                               "memory_limit_from": budget.how}
    line = (f"{n:,} images {c}x{s}x{s} = {human_bytes(fbytes)} as float32; limit {human_bytes(budget.limit)} "
            f"({budget.how}): ")
    if chosen == "memory":
        if raw is None:
            raw = load_raw(spec, split=split, data_dir=data_dir, image_size=image_size)
        if not quiet:
            over = " (over the limit: forced by --data-path memory)" if fbytes > budget.limit else ""
            console.print(esc(line) + "in memory" + over)
        ds = dataset_from_raw(raw, spec, split=split, image_size=s, quiet=quiet)
        ds.reading = reading
        return ds
    if source is None:
        source = TensorSource(raw, spec, split, s)
    notes = list(source.notes)
    if chosen == "cache":
        storage, cache_notes = open_cache(source, quiet=quiet)
        notes = cache_notes
        reading["cache"] = str(storage.folder)
        labels = storage.label_array() if source.labelled else None
        lazy_labels: Any = labels
        where = f"disk cache {storage.folder} (uint8, memory-mapped)"
    else:
        storage = SourceStorage(source)
        labels = storage.label_array() if source.labelled else None
        lazy_labels = labels if labels is not None or not source.labelled else LazyLabels(storage)
        reading["workers"] = default_workers() if workers is None else workers
        where = f"streamed from the source by {reading['workers']} worker process(es)"
    if not quiet:
        console.print(esc(line) + f"{chosen} ({why}): {esc(where)}")
        for note in notes:
            console.print(f"[yellow]note:[/] {esc(note)}")
    ds = ImageDataset(name=spec, split=split, images=LazyImages(storage), labels=lazy_labels,  # type: ignore[arg-type]
                      class_names=list(source.class_names), source=source.source, notes=notes)
    ds.reading = reading
    return ds


__all__ = [
    "DATA_PATHS", "CacheStorage", "LazyImages", "LazyLabels", "MemoryBudget", "SourceStorage", "Storage",
    "build_cache", "cache_key", "check_cache", "check_data_path", "choose_path", "default_workers", "human_bytes",
    "is_lazy", "load_training_data", "mean_image", "machine_ram", "memory_budget", "open_cache", "parse_bytes", "to_unit_range",
]
