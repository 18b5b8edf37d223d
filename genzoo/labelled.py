"""Labelled samples from class-conditional models: an image folder per class, for training other models.

    genzoo sample runs/cgan-fashion-mnist --label all -n 10000 --out synth/ --as-folder

writes ``synth/0_T-shirt_top/00000.png ... synth/9_Ankle boot/00999.png``: one subfolder per
class, named ``<index>_<class name>`` so that sorting the names (what ``--data folder:synth`` and
torchvision's ``ImageFolder`` both do) gives the model's class order back, and label ``i`` read
from the folder is the model's label ``i``. Class names come from the data the model was trained
on (``model.meta["data"]["class_names"]``, recorded in the run's config.json). The folder is
written under a temporary name and renamed when complete: a failure leaves no half-written folder.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from genzoo.capabilities import ConditionalOnLabels, require
from genzoo.console import make_progress
from genzoo.errors import GenzooError


def require_conditional(model: Any, what: str = "this") -> None:
    """A GenzooError unless ``model`` generates images of a requested class (ConditionalOnLabels)."""
    require(model, ConditionalOnLabels,
            message=f"{what} needs a class-conditional model ({{families}}); this is a {{family}} model "
                    "that was not trained with labels")


def class_names(model: Any) -> list[str]:
    """The model's class names, index i -> name of label i: from the data it was trained on, else '0', '1', ..."""
    k = int(model.config.num_classes)
    names = [str(v) for v in ((getattr(model, "meta", {}) or {}).get("data", {}) or {}).get("class_names") or []]
    return names if len(names) == k else [str(i) for i in range(k)]


_UNSAFE = re.compile(r"[^\w .+=,()&'-]+")


def folder_names(names: list[str]) -> list[str]:
    """Class names -> subfolder names that sort in class order and are safe on every file system.

    'T-shirt/top' (class 0 of 10) -> '0_T-shirt_top'; with more than 10 classes the index is
    zero-padded ('03_...'). A name that already carries its index prefix (a model trained on such
    a folder) keeps it.
    """
    width = len(str(max(len(names) - 1, 0)))
    out = []
    for i, name in enumerate(names):
        prefix = f"{i:0{width}d}_"
        safe = _UNSAFE.sub("_", name).strip(" ._") or "class"
        out.append(safe if safe.startswith(prefix) else prefix + safe)
    return out


def per_class_labels(model: Any, n: int) -> tuple[Tensor, int]:
    """``n`` images in total over all classes -> (labels int64 (per * K,) grouped by class, per)."""
    k = int(model.config.num_classes)
    per = n // k
    if per < 1:
        raise GenzooError(f"-n {n} is fewer than one image per class ({k} classes); use -n {k} or more")
    return torch.arange(k).repeat_interleave(per), per


def check_folder_out(out: str | Path) -> Path:
    """A new or empty folder to write a labelled folder into (refused before any sampling work)."""
    dest = Path(out).expanduser()
    if dest.suffix.lower() in (".png", ".jpg", ".jpeg", ".webp", ".npz", ".gif"):
        raise GenzooError(f"--out '{out}': --as-folder writes a folder; give a folder name such as synth/")
    if dest.exists():
        if not dest.is_dir():
            raise GenzooError(f"--out '{out}' is a file; --as-folder needs a new or empty folder")
        if any(dest.iterdir()):
            raise GenzooError(f"--out '{out}' already exists and is not empty; choose a new folder "
                              "(a labelled folder is written whole or not at all)")
    return dest


def write_labelled_folder(images: Tensor, labels: Tensor, names: list[str], out: str | Path,
                          *, progress: bool = True) -> Path:
    """Write images (N, C, H, W) in [0, 1] with labels int64 (N,) as ``out/<folder name>/<k>.png``.

    ``names``: one class name per label index (every class gets a subfolder, even an empty one,
    so the folder's class indices are the model's). Written into a temporary sibling folder that
    is renamed to ``out`` when complete. Returns ``out``.
    """
    dest = check_folder_out(out)
    if images.ndim != 4 or labels.shape != (images.shape[0],):
        raise GenzooError(f"need images (N, C, H, W) and labels (N,), got {tuple(images.shape)} and {tuple(labels.shape)}")
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= len(names)):
        raise GenzooError(f"labels must lie in 0..{len(names) - 1} (one class name each)")
    dirs = folder_names(names)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.parent / f".{dest.name}.pid{os.getpid()}.tmp"
    if tmp.exists():
        shutil.rmtree(tmp)
    arr = images.detach().float().clamp(0, 1).mul(255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
    counts = [0] * len(names)
    width = max(5, len(str(len(arr))))
    try:
        for d in dirs:
            (tmp / d).mkdir(parents=True)
        with make_progress() as bar:
            task = bar.add_task("writing PNGs", total=len(arr)) if progress else None
            for img, lab in zip(arr, labels.tolist()):
                pil = Image.fromarray(np.ascontiguousarray(img[..., 0]), mode="L") if img.shape[-1] == 1 \
                    else Image.fromarray(img, mode="RGB")
                pil.save(tmp / dirs[lab] / f"{counts[lab]:0{width}d}.png", format="PNG")
                counts[lab] += 1
                if task is not None:
                    bar.advance(task)
        if dest.exists():  # an empty folder the user made: replaced by the complete one
            dest.rmdir()
        os.replace(tmp, dest)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return dest
