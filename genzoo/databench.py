"""`genzoo bench --data-loading`: images/s each data path delivers to the training step.

For each image size, the in-memory tensor, the uint8 disk cache and the streamed DataLoader
(genzoo.data.pipeline) are read through the engine's own batcher (genzoo.engine.batches.Batches)
for a fixed time, and the training step of a family (dcgan by default) is timed on the same
size with the bench's bare loop, so a user sees whether data or compute limits training.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable, Iterator
from typing import Any

import torch
from rich.table import Table

from genzoo.bench import BareLoop, BenchSettings, machine_info
from genzoo.console import console
from genzoo.data import ImageDataset
from genzoo.data.pipeline import DATA_PATHS, check_data_path, default_workers, human_bytes, load_training_data, memory_budget
from genzoo.engine.batches import Batches
from genzoo.engine.devices import resolve_device
from genzoo.errors import GenzooError
from genzoo.registry import families

#: Images used to time the training step (its speed does not depend on how many there are).
STEP_IMAGES = 256


@dataclasses.dataclass
class DataBenchSettings:
    data: str = "digits"
    sizes: tuple[int, ...] = (28, 64, 128)
    paths: tuple[str, ...] = ("memory", "cache", "stream")
    family: str = "dcgan"
    batch_size: int = 64
    seconds: float = 3.0  # timed reading per path and size (after a warm-up)
    workers: int | None = None  # streamed path (None: genzoo's default)
    memory_limit: str | None = None
    device: str = "cpu"
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["sizes"], d["paths"] = list(self.sizes), list(self.paths)
        return d


def parse_sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise GenzooError(f"--sizes takes comma-separated image sides like 28,64,128; got '{text}'") from None
    if not sizes or min(sizes) < 4 or max(sizes) > 1024:
        raise GenzooError(f"--sizes needs image sides from 4 to 1024 like 28,64,128; got '{text}'")
    return sizes


def parse_paths(text: str) -> tuple[str, ...]:
    paths = tuple(check_data_path(x) for x in text.split(",") if x.strip())
    if not paths or "auto" in paths:
        raise GenzooError(f"--data-paths takes some of memory, cache, stream (comma-separated); got '{text}'")
    return paths


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    was, console.quiet = console.quiet, True
    try:
        yield
    finally:
        console.quiet = was


def time_batches(batches: Batches, seconds: float, warmup: int = 2, min_batches: int = 3) -> dict[str, Any]:
    """Draw batches for ``seconds`` (at least ``min_batches``) after ``warmup``: images/s delivered."""
    for _ in range(warmup):
        next(batches)
    n, t0 = 0, time.perf_counter()
    while n < min_batches or time.perf_counter() - t0 < seconds:
        n += next(batches).images.shape[0]
        if n >= min_batches * batches.batch_size and time.perf_counter() - t0 >= seconds:
            break
    dt = time.perf_counter() - t0
    return {"images_per_s": n / dt, "images": n, "seconds": round(dt, 3)}


def time_step(family: str, data: ImageDataset, settings: DataBenchSettings, device: torch.device) -> dict[str, Any]:
    """The family's bare training step on ``data`` (in memory): images/s, compute only."""
    fam = families.get(family)
    cfg = fam.default_config().update({"data": settings.data, "image_size": data.image_size,
                                       "batch_size": settings.batch_size, "seed": settings.seed}, source="bench")
    data = fam.prepare_data(data, cfg)
    cfg = dataclasses.replace(fam.configure_for_data(cfg, data), image_size=data.image_size)
    loop = BareLoop(fam, cfg, data, device, BenchSettings(device=str(device), seed=settings.seed))
    loop.run(2)  # warm-up: kernels, allocator
    steps, t0 = 0, time.perf_counter()
    while steps < 3 or time.perf_counter() - t0 < settings.seconds:
        loop.run(1, start=2 + steps)
        steps += 1
    dt = time.perf_counter() - t0
    return {"images_per_s": steps * cfg.batch_size / dt, "steps": steps, "seconds": round(dt, 3),
            "batch_size": cfg.batch_size}


def bench_size(size: int, settings: DataBenchSettings, device: torch.device) -> dict[str, Any]:
    budget = memory_budget(settings.memory_limit)
    row: dict[str, Any] = {"image_size": size, "paths": {}}
    small: ImageDataset | None = None
    for path in settings.paths:
        t0 = time.perf_counter()
        with _quiet():
            if path == "memory":
                probe = load_training_data(settings.data, image_size=size, path="stream", quiet=True)
                need = probe.images.shape.numel() * 4
                if need > budget.limit:
                    row["paths"][path] = {"skipped": f"{human_bytes(need)} as float32 is over the memory limit "
                                                     f"{human_bytes(budget.limit)}"}
                    continue
            data = load_training_data(settings.data, image_size=size, path=path, memory_limit=settings.memory_limit,
                                      quiet=True)
        opened = time.perf_counter() - t0
        row.setdefault("num_images", len(data))
        row.setdefault("channels", data.channels)
        if small is None:
            k = min(len(data), STEP_IMAGES)
            small = ImageDataset(data.name, data.split, data.images[:k].clone(),
                                 None if data.labels is None else torch.as_tensor(data.labels[:k]).clone(),
                                 list(data.class_names))
        batches = Batches(data, min(settings.batch_size, len(data)), settings.seed, device, workers=settings.workers)
        try:
            r = time_batches(batches, settings.seconds)
        finally:
            batches.close()
        r["open_s"] = round(opened, 3)
        if path == "stream":
            r["workers"] = batches.workers
        if data.reading.get("cache"):
            r["cache"] = data.reading["cache"]
        row["paths"][path] = r
    if small is not None and settings.family:
        step = time_step(settings.family, small, dataclasses.replace(settings, batch_size=min(settings.batch_size, len(small))),
                         device)
        row["train_step"] = {"family": settings.family, **step}
        for r in row["paths"].values():
            if "images_per_s" in r:
                r["limits_training"] = r["images_per_s"] < step["images_per_s"]
    return row


def run_data_bench(settings: DataBenchSettings, on_size: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """The data-loading report (JSON-ready): machine, settings, one row per size."""
    for p in settings.paths:
        if p not in DATA_PATHS or p == "auto":
            raise GenzooError(f"unknown data path '{p}'; use memory, cache or stream")
    if settings.family:
        families.get(settings.family)
    device = resolve_device(settings.device)
    t0 = time.perf_counter()
    rows = []
    for size in settings.sizes:
        row = bench_size(size, settings, device)
        rows.append(row)
        if on_size is not None:
            on_size(row)
    return {
        "genzoo_bench": 1,
        "kind": "data-loading",
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine_info(device),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "device": str(device),
        "default_workers": default_workers(),
        "settings": settings.to_dict(),
        "wall_time_s": round(time.perf_counter() - t0, 1),
        "sizes": rows,
    }


def data_table(report: dict[str, Any]) -> Table:
    s = report["settings"]
    t = Table(title=f"data loading: {s['data']}, batch {s['batch_size']}, images/s delivered to the training step",
              title_justify="left", show_edge=False)
    t.add_column("size", justify="right")
    for p in s["paths"]:
        t.add_column(p, justify="right")
    t.add_column(f"{s['family']} step" if s["family"] else "step", justify="right")
    t.add_column("limited by")
    for row in report["sizes"]:
        cells = [f"{row['image_size']}px"]
        for p in s["paths"]:
            r = row["paths"].get(p, {})
            cells.append(f"{r['images_per_s']:.0f}" if "images_per_s" in r else "[dim]over limit[/]")
        step = row.get("train_step")
        cells.append(f"{step['images_per_s']:.0f}" if step else "-")
        slow = [p for p in s["paths"] if row["paths"].get(p, {}).get("limits_training")]
        cells.append(("data: " + ", ".join(slow)) if slow else "compute")
        t.add_row(*cells)
    return t


__all__ = ["DataBenchSettings", "data_table", "parse_paths", "parse_sizes", "run_data_bench", "time_batches"]
