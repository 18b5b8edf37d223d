"""Small per-dataset classifiers: the feature space genzoo's evaluation uses offline.

Inception-v3 features are the FID standard, but they need downloaded weights and are
slow on a CPU for 28x28 grayscale images. For the bundled datasets genzoo ships its own
classifiers instead, trained by genzoo with a fixed seed::

    genzoo train classifier --data fashion-mnist --out genzoo/metrics/weights
    genzoo train classifier --data digits --out genzoo/metrics/weights

Each writes ``<data>.safetensors`` (weights in float16, architecture in the file's
metadata) and ``<data>.json`` (test accuracy, command, seed, versions) beside it.
Numbers computed in these feature spaces are named after them ("FID (fashion-mnist
classifier features)") and are not comparable with Inception FID.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from safetensors import safe_open
from torch import Tensor, nn

from genzoo import __version__
from genzoo.console import console
from genzoo.data import load_dataset
from genzoo.errors import GenzooError
from genzoo.hub import load_state_strict
from genzoo.io import load_tensors, save_tensors, write_json

ARCH = "genzoo-small-cnn-v1"


@dataclass
class ClassifierSpec:
    """Architecture facts stored in the weights file's metadata."""

    channels: int = 1
    image_size: int = 28
    num_classes: int = 10
    widths: tuple[int, int, int] = (32, 64, 128)

    def to_metadata(self) -> dict[str, str]:
        return {
            "arch": ARCH, "channels": str(self.channels), "image_size": str(self.image_size),
            "num_classes": str(self.num_classes), "widths": ",".join(map(str, self.widths)),
        }

    @classmethod
    def from_metadata(cls, meta: dict[str, str], where: str) -> ClassifierSpec:
        if meta.get("arch") != ARCH:
            raise GenzooError(f"'{where}' is not a genzoo classifier (arch '{meta.get('arch')}', expected {ARCH})")
        w = tuple(int(v) for v in meta["widths"].split(","))
        return cls(int(meta["channels"]), int(meta["image_size"]), int(meta["num_classes"]), w)  # type: ignore[arg-type]


def _block(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


class SmallClassifier(nn.Module):
    """A five-convolution CNN: images (N, C, S, S) in [0, 1] -> logits (N, K).

    ``features`` gives the globally average-pooled last convolution, (N, widths[2]),
    non-negative (after ReLU), like Inception's pool3 features used for FID.
    Inputs of another size are resized to ``spec.image_size`` first.
    """

    def __init__(self, spec: ClassifierSpec):
        super().__init__()
        self.spec = spec
        a, b, c = spec.widths
        self.body = nn.Sequential(
            *_block(spec.channels, a), *_block(a, a), nn.MaxPool2d(2),
            *_block(a, b), *_block(b, b), nn.MaxPool2d(2),
            *_block(b, c),
        )
        self.head = nn.Linear(c, spec.num_classes)

    @property
    def num_features(self) -> int:
        return self.spec.widths[2]

    def prepare(self, x: Tensor) -> Tensor:
        """[0, 1] images at any size -> the network's input: its size, centred to [-1, 1]."""
        s = self.spec.image_size
        if x.shape[1] != self.spec.channels:
            if x.shape[1] == 3 and self.spec.channels == 1:  # luminance (ITU-R BT.601 weights)
                x = (x * torch.tensor([0.299, 0.587, 0.114], device=x.device).view(1, 3, 1, 1)).sum(1, keepdim=True)
            elif x.shape[1] == 1:
                x = x.expand(-1, self.spec.channels, -1, -1)
            else:
                raise GenzooError(f"classifier takes {self.spec.channels}-channel images, got {x.shape[1]} channels")
        if x.shape[-2:] != (s, s):
            x = F.interpolate(x, size=(s, s), mode="bilinear", align_corners=False, antialias=x.shape[-1] > s)
        return x * 2 - 1

    def features_and_logits(self, x: Tensor) -> tuple[Tensor, Tensor]:
        f = self.body(self.prepare(x)).mean(dim=(2, 3))
        return f, self.head(f)

    def forward(self, x: Tensor) -> Tensor:
        return self.features_and_logits(x)[1]


# ------------------------------------------------------------------------------------------
# shipped weights
# ------------------------------------------------------------------------------------------
def weights_dir() -> Path:
    return Path(__file__).resolve().parent / "weights"


def slug(data: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", data).strip("-")


def shipped(data: str) -> Path | None:
    p = weights_dir() / f"{slug(data)}.safetensors"
    return p if p.is_file() else None


def load_classifier(path: str | Path) -> tuple[SmallClassifier, dict[str, Any]]:
    """A classifier weights file -> (model in eval mode on the CPU, facts from its .json)."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise GenzooError(f"classifier weights '{p}' not found; train one with `genzoo train classifier --data DATA`")
    with safe_open(str(p), framework="pt") as f:
        meta = f.metadata() or {}
    spec = ClassifierSpec.from_metadata(meta, str(p))
    model = SmallClassifier(spec)
    state = {k: v.float() if v.is_floating_point() else v for k, v in load_tensors(p, "classifier weights").items()}
    load_state_strict(model, state, where=str(p))
    info_path = p.with_suffix(".json")
    info = json.loads(info_path.read_text()) if info_path.is_file() else {}
    info.setdefault("sha256", file_sha256(p))
    return model.eval(), info


def file_sha256(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


# ------------------------------------------------------------------------------------------
# training (`genzoo train classifier`)
# ------------------------------------------------------------------------------------------
def _shift(x: Tensor, gen: torch.Generator, pad: int = 2) -> Tensor:
    """Random translations by up to ``pad`` pixels (the only augmentation)."""
    n, _, h, w = x.shape
    xp = F.pad(x, (pad, pad, pad, pad), value=-1.0)
    dy = torch.randint(0, 2 * pad + 1, (n,), generator=gen)
    dx = torch.randint(0, 2 * pad + 1, (n,), generator=gen)
    rows = (dy[:, None] + torch.arange(h)[None]).view(n, 1, h, 1).expand(n, x.shape[1], h, w)
    cols = (dx[:, None] + torch.arange(w)[None]).view(n, 1, 1, w).expand(n, x.shape[1], h, w)
    idx = rows * xp.shape[-1] + cols
    return xp.flatten(2).gather(2, idx.reshape(n, x.shape[1], -1)).view_as(x)


@torch.inference_mode()
def accuracy(model: SmallClassifier, images: Tensor, labels: Tensor, batch_size: int = 500) -> float:
    """Top-1 accuracy on images (N, C, H, W) in [0, 1]."""
    model.eval()
    right = 0
    for i in range(0, len(images), batch_size):
        right += int((model(images[i : i + batch_size]).argmax(1) == labels[i : i + batch_size]).sum())
    return right / len(images)


def fit_classifier(
    model: SmallClassifier, x_all: Tensor, y_all: Tensor, *, steps: int, batch_size: int = 128, lr: float = 2e-3,
    seed: int = 0, max_time: float | None = None, log: Any = None, progress: Any = None,
) -> int:
    """Train ``model`` in place on images ``x_all`` (N, C, H, W) in [-1, 1] with labels ``y_all``
    int64 (N,): AdamW, one-cycle cosine learning rate, random shifts, label smoothing 0.05.

    All randomness (batches, shifts) comes from a generator seeded with ``seed + 1``; the
    weights' initialisation is the caller's (seed torch first). ``log(msg)`` gets a line every
    100 steps; ``progress()`` is called after every step (a progress bar's advance). Returns the
    number of steps done (fewer than ``steps`` when ``max_time`` seconds ran out).
    """
    n = int(x_all.shape[0])
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.15)
    gen = torch.Generator().manual_seed(seed + 1)
    perm, pos = torch.randperm(n, generator=gen), 0
    t0, done, run_loss = time.perf_counter(), 0, 0.0
    model.train()
    for step in range(steps):
        if max_time is not None and time.perf_counter() - t0 > max_time:
            if log is not None:
                log(f"time budget reached at step {step}")
            break
        if pos + batch_size > n:
            perm, pos = torch.randperm(n, generator=gen), 0
        idx = perm[pos : pos + batch_size]
        pos += batch_size
        x = _shift(x_all[idx], gen)
        # the network takes [0, 1] images (its own prepare() centres them)
        loss = F.cross_entropy(model((x + 1) / 2), y_all[idx], label_smoothing=0.05)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        done = step + 1
        if progress is not None:
            progress()
        if log is not None:
            run_loss += loss.item()
            if done % 100 == 0 or done == steps:
                log(f"step {done}/{steps} loss {run_loss / (100 if done % 100 == 0 else done % 100):.4f} "
                    f"({time.perf_counter() - t0:.0f}s)")
                run_loss = 0.0
    model.eval()
    return done


def train_classifier(
    data: str = "fashion-mnist", *, out: str | Path | None = None, steps: int | None = None,
    epochs: float | None = None, batch_size: int = 128, lr: float = 2e-3, seed: int = 0,
    widths: tuple[int, int, int] = (32, 64, 128), max_time: float | None = None,
    data_dir: str | None = None, command: str = "", log: Any = print,
) -> Path:
    """Train a :class:`SmallClassifier` on ``data``'s train split; write weights and facts.

    Deterministic for a given seed on a given machine (all randomness from seeded
    generators). Schedule: AdamW, one-cycle cosine learning rate, random shifts.
    Returns the path of the ``.safetensors`` file written in ``out``.
    """
    train = load_dataset(data, split="train", data_dir=data_dir)
    test = load_dataset(data, split="test", data_dir=data_dir)
    if train.labels is None or train.num_classes < 2:
        raise GenzooError(f"data '{data}' has no class labels; a classifier needs a labelled dataset")
    n = len(train)
    if steps is not None and epochs is not None:
        raise GenzooError("give --steps or --epochs, not both")
    if epochs is not None:
        steps = max(1, math.ceil(epochs * n / batch_size))
    if steps is None:  # two passes over big data (89.9% on fashion-mnist); at least 500 steps on small data
        steps = max(500, math.ceil(2 * n / batch_size))
    torch.manual_seed(seed)
    spec = ClassifierSpec(train.channels, train.image_size, train.num_classes, widths)
    model = SmallClassifier(spec)
    x_all, y_all = train.images, train.labels
    t0 = time.perf_counter()
    log(f"training a {ARCH} classifier on {data} ({n} images, {spec.channels}x{spec.image_size}x{spec.image_size}, "
        f"{spec.num_classes} classes) for {steps} steps")
    done = fit_classifier(model, x_all, y_all, steps=steps, batch_size=batch_size, lr=lr, seed=seed,
                          max_time=max_time, log=log)
    # Ship float16 weights; the accuracy below is measured with exactly those weights.
    state = {k: (v.half() if v.is_floating_point() else v) for k, v in model.state_dict().items()}
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
    test_acc = accuracy(model, (test.images + 1) / 2, test.labels)
    train_acc = accuracy(model, (x_all[:10000] + 1) / 2, y_all[:10000])
    dest = Path(out) if out else Path("runs") / f"classifier-{slug(data)}"
    dest.mkdir(parents=True, exist_ok=True)
    wpath = dest / f"{slug(data)}.safetensors"
    save_tensors(wpath, state, metadata=spec.to_metadata())
    facts = {
        "data": data,
        "arch": ARCH,
        "test_accuracy": round(test_acc, 4),
        "test_images": len(test),
        "train_accuracy_first_10000": round(train_acc, 4),
        "feature_dim": spec.widths[2],
        "image_size": spec.image_size,
        "channels": spec.channels,
        "num_classes": spec.num_classes,
        "class_names": train.class_names,
        "parameters": sum(p.numel() for p in model.parameters()),
        "steps": done,
        "batch_size": batch_size,
        "lr": lr,
        "seed": seed,
        "wall_time_s": round(time.perf_counter() - t0, 1),
        "command": command or f"genzoo train classifier --data {data} --seed {seed}",
        "genzoo_version": __version__,
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "sha256": file_sha256(wpath),
    }
    write_json(wpath.with_suffix(".json"), facts)
    log(f"test accuracy {test_acc:.4f} ({len(test)} images); wrote {wpath} and {wpath.with_suffix('.json').name}")
    return wpath


def train_from_cli(data: str | None, steps: int | None, epochs: float | None, batch_size: int | None,
                   out: str | None, seed: int | None, max_time: float | None, data_dir: str | None,
                   sets: dict[str, str]) -> None:
    """`genzoo train classifier ...`: the options `genzoo train` accepts that make sense here."""
    allowed = {"lr": float}
    extra: dict[str, Any] = {}
    for k, v in sets.items():
        if k not in allowed:
            raise GenzooError(f"unknown --set key '{k}' for the classifier (valid: {', '.join(allowed)})")
        extra[k] = allowed[k](v)
    data = data or "fashion-mnist"
    cmd = f"genzoo train classifier --data {data}" + (f" --seed {seed}" if seed is not None else "")
    train_classifier(
        data, out=out, steps=steps, epochs=epochs, batch_size=batch_size or 128, seed=0 if seed is None else seed,
        max_time=max_time, data_dir=data_dir, command=cmd, log=lambda m: console.print(m, highlight=False, markup=False), **extra,
    )
