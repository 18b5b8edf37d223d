"""Unpaired data for CycleGAN: two domains A and B of unrelated images.

Three ways to get them, all ending in one :class:`ImageDataset` whose ``extra["domain"]``
(int64 (N,), 0 = A, 1 = B) says which domain each image belongs to:

* ``--data unpaired:DIR_A,DIR_B``: two folders of images (any counts, sizes, gray or RGB;
  sizes are centre-cropped and resized to the smaller folder's side, gray is widened to RGB
  when the other folder is RGB). ``unpaired:DIR`` reads CycleGAN's own layout,
  ``DIR/trainA``, ``DIR/trainB`` (``testA``/``testB`` for the test split).
* ``--task classes:A,B`` on any labelled dataset: images of class A are domain A, images
  of class B domain B (``fashion-mnist --task classes:7,9``: sneakers <-> ankle boots;
  ``digits --task classes:3,8``). Classes are given by index or by name.
* ``--task invert``: a seeded half of the images is domain A as it is, the other half,
  inverted (1 - x), is domain B: gray <-> inverted, with no image in both domains.

How batches are drawn: the engine draws each batch as a random subset of the union of both
domains, reshuffled every epoch; the loss splits it by ``domain``. So A and B images in one
batch are independent draws, and no pairing between them exists anywhere; the numbers of A
and B images in one batch vary (binomially) around half the batch. The smaller domain is
repeated (whole copies plus a seeded random remainder) to the size of the larger, so both
are equally likely in each draw.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from genzoo.plugin import GenzooError, ImageDataset, RawImages, load_dataset

DOMAIN = "domain"  # the extra key holding each image's domain: 0 = A, 1 = B
TASKS = ("classes", "invert")


# ------------------------------------------------------------------------------------------
# unpaired:DIR_A,DIR_B
# ------------------------------------------------------------------------------------------
def parse_unpaired(arg: str | None, split: str) -> tuple[Path, Path]:
    """'DIR_A,DIR_B' -> two folders; 'DIR' -> DIR/trainA, DIR/trainB (testA/testB for split test)."""
    usage = "use --data unpaired:DIR_A,DIR_B (two folders of images) or unpaired:DIR (with trainA/ and trainB/ inside)"
    if not arg or not arg.strip():
        raise GenzooError(f"unpaired: needs two folders; {usage}")
    parts = [p.strip() for p in arg.split(",")]
    if len(parts) == 1:
        root = Path(parts[0]).expanduser()
        if not root.is_dir():
            raise GenzooError(f"folder '{root}' does not exist; {usage}")
        a, b = root / f"{split}A", root / f"{split}B"
        if not (a.is_dir() and b.is_dir()):
            raise GenzooError(f"'{root}' has no {split}A/ and {split}B/ folders; {usage}")
        return a, b
    if len(parts) != 2 or not all(parts):
        raise GenzooError(f"unpaired: takes exactly two folders separated by a comma, got '{arg}'; {usage}")
    a, b = (Path(p).expanduser() for p in parts)
    for p in (a, b):
        if not p.is_dir():
            raise GenzooError(f"folder '{p}' does not exist or is not a folder; {usage}")
    if a.resolve() == b.resolve():
        raise GenzooError(f"unpaired: needs two different folders, got '{a}' twice")
    return a, b


def load_unpaired(arg: str | None, *, split: str = "train", data_dir: str | None = None) -> RawImages:
    """``unpaired:DIR_A,DIR_B``: the images of both folders, domain A first, as one RawImages.

    images: float (N_A + N_B, C, S, S) in [0, 1], S the smaller folder's side (at most 64),
    C 3 if either folder is RGB; ``extra["domain"]`` int64 (N,) 0 for A, 1 for B. Subfolders
    of a domain folder are read too (their names, which ``folder:`` would make labels, are
    ignored). Plain folders have no test split: the same images are returned for both.
    """
    dir_a, dir_b = parse_unpaired(arg, split)
    a = load_dataset(f"folder:{dir_a}")  # (N, C, S, S) in [-1, 1] at the folder's own side
    b = load_dataset(f"folder:{dir_b}")
    size = min(a.image_size, b.image_size)
    channels = max(a.channels, b.channels)

    def fit(x: Tensor) -> Tensor:
        x = (x + 1) / 2
        if x.shape[1] != channels:  # gray beside RGB: gray in all three channels
            x = x.expand(-1, channels, -1, -1)
        if x.shape[-1] != size:
            x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
        return x.clamp(0, 1)

    images = torch.cat([fit(a.images), fit(b.images)])
    domain = torch.cat([torch.zeros(len(a), dtype=torch.long), torch.ones(len(b), dtype=torch.long)])
    notes = [] if len(a) == len(b) else [
        f"unpaired: {len(a)} images in A ({dir_a.name}), {len(b)} in B ({dir_b.name}); "
        "cyclegan repeats the smaller domain so both are drawn equally often"
    ]
    return RawImages(images, None, [dir_a.name, dir_b.name], native_size=size,
                     source=f"{dir_a} | {dir_b}", extra={DOMAIN: domain}, notes=notes)


# ------------------------------------------------------------------------------------------
# tasks: unpaired domains from one labelled (or any) dataset
# ------------------------------------------------------------------------------------------
def parse_task(spec: str) -> tuple[str, str | None]:
    """'classes:7,9' -> ('classes', '7,9'); checks the task's name."""
    name, sep, arg = spec.strip().partition(":")
    name = name.strip()
    if name not in TASKS:
        raise GenzooError(f"unknown cyclegan task '{name}'; use classes:A,B (two classes of a labelled dataset) or invert")
    return name, (arg.strip() if sep else None)


def _class_index(token: str, names: list[str]) -> int:
    if token.lstrip("-").isdigit():
        k = int(token)
        if not 0 <= k < len(names):
            raise GenzooError(f"class {k} is out of range; this dataset has classes 0..{len(names) - 1}")
        return k
    folded = [n.lower() for n in names]
    if token.lower() in folded:
        return folded.index(token.lower())
    raise GenzooError(f"unknown class '{token}'; the classes are {', '.join(f'{i}={n}' for i, n in enumerate(names))}")


def parse_classes(arg: str | None, data: ImageDataset) -> tuple[int, int]:
    """'7,9' (indices or class names) -> (7, 9), checked against ``data``'s classes."""
    if data.labels is None or data.num_classes < 2:
        raise GenzooError(f"task classes: needs a labelled dataset (digits, fashion-mnist ...); '{data.name}' has no labels")
    parts = [p.strip() for p in (arg or "").split(",")]
    if len(parts) != 2 or not all(parts):
        raise GenzooError(f"task classes takes two classes, e.g. classes:7,9, got 'classes:{arg or ''}'")
    a, b = (_class_index(p, data.class_names) for p in parts)
    if a == b:
        raise GenzooError(f"task classes needs two different classes, got {a} twice")
    return a, b


def task_domains(data: ImageDataset, task: str, seed: int = 0) -> tuple[Tensor, Tensor, list[str]]:
    """(images (N, C, S, S) in [-1, 1], domain int64 (N,), [name of A, name of B]) for ``task``."""
    name, arg = parse_task(task)
    if name == "classes":
        a, b = parse_classes(arg, data)
        assert data.labels is not None
        ia, ib = (data.labels == a).nonzero().flatten(), (data.labels == b).nonzero().flatten()
        if len(ia) == 0 or len(ib) == 0:
            raise GenzooError(f"'{data.name}' ({data.split}) has no images of class {a if len(ia) == 0 else b}")
        images = torch.cat([data.images[ia], data.images[ib]])
        domain = torch.cat([torch.zeros(len(ia), dtype=torch.long), torch.ones(len(ib), dtype=torch.long)])
        return images, domain, [data.class_names[a], data.class_names[b]]
    if arg:
        raise GenzooError(f"task invert takes no argument, got 'invert:{arg}'")
    # Two disjoint halves, so no image is in both domains (a hidden pairing would be one).
    perm = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed + 15))
    half = len(data) // 2
    if half < 1:
        raise GenzooError("task invert needs at least two images")
    images = torch.cat([data.images[perm[:half]], -data.images[perm[half : 2 * half]]])  # -x in [-1, 1] is 1 - x in [0, 1]
    domain = torch.cat([torch.zeros(half, dtype=torch.long), torch.ones(half, dtype=torch.long)])
    return images, domain, ["original", "inverted"]


def balance(images: Tensor, domain: Tensor, seed: int = 0) -> tuple[Tensor, Tensor]:
    """Repeat the smaller domain (whole copies, then a seeded random remainder) to the larger's count."""
    ia, ib = (domain == 0).nonzero().flatten(), (domain == 1).nonzero().flatten()
    small, big = (ia, ib) if len(ia) < len(ib) else (ib, ia)
    if len(small) == len(big):
        return images, domain
    gen = torch.Generator().manual_seed(seed + 16)
    reps, rest = divmod(len(big), len(small))
    idx = torch.cat([small.repeat(reps), small[torch.randperm(len(small), generator=gen)[:rest]]])
    keep = torch.cat([big, idx])
    return images[keep], domain[keep]


def fit_size(images: Tensor) -> Tensor:
    """Images whose side is not a multiple of 4 (the generator halves twice) are resized to the
    nearest multiple of 4 (at least 8)."""
    s = images.shape[-1]
    t = max(8, int(round(s / 4)) * 4)
    if t == s:
        return images
    return F.interpolate(images, size=(t, t), mode="bilinear", align_corners=False, antialias=t < s).clamp(-1, 1)


def make_unpaired(data: ImageDataset, task: str = "", seed: int = 0, balanced: bool = True) -> tuple[ImageDataset, list[str]]:
    """Any dataset -> (the unpaired dataset cyclegan trains on, [name of A, name of B]).

    ``data`` that came from ``unpaired:`` already has its domains (then ``task`` must be
    empty); other data need a ``task``. The result holds images (N, C, S, S) in [-1, 1]
    (S a multiple of 4), no labels, ``class_names`` the two domains' names and
    ``extra["domain"]`` (N,); with ``balanced`` both domains have the same count.
    """
    if DOMAIN in data.extra:
        if task:
            raise GenzooError(f"'{data.name}' already has two domains; drop --task (it builds domains from one labelled dataset)")
        images, domain = data.images, data.extra[DOMAIN].long()
        names = list(data.class_names) if len(data.class_names) == 2 else ["A", "B"]
    elif task:
        images, domain, names = task_domains(data, task, seed)
    else:
        raise GenzooError(
            f"cyclegan needs two unpaired domains and '{data.name}' is one set of images: use --data unpaired:DIR_A,DIR_B, "
            "or build domains with --task classes:A,B (e.g. fashion-mnist --task classes:7,9) or --task invert"
        )
    if balanced:
        images, domain = balance(images, domain, seed)
    # no labels; class_names keep the two domains' names for config.json and the card
    out = dataclasses.replace(data, images=fit_size(images), labels=None, class_names=names, extra={DOMAIN: domain})
    return out, names
