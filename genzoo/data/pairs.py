"""``pairs:PATH``: a folder of aligned image pairs, for image-to-image models (pix2pix).

Two layouts, found automatically:

* side by side: each file holds the pair as one image, A on the left half and B on the
  right (the format of the original pix2pix datasets, e.g. facades/train/1.jpg);
* two folders ``A/`` and ``B/`` whose files have matching names (``A/001.png`` pairs with
  ``B/001.png``; extensions may differ).

Either may sit directly in PATH, or in ``PATH/train`` and ``PATH/test`` (``val`` is
accepted for test). Without split folders both splits are the same pairs.

The loader returns B as the images (the targets) and A as ``extra["inputs"]``; translating
B to A instead (``--direction BtoA``) swaps them later (:func:`genzoo.data.tasks.swap_direction`).
Pairs of different sizes are centre-cropped to squares and resized to the smallest side
(at most 256 px), the same way on both sides, so they stay aligned.

Errors name the offending files: names that do not match, different counts, A and B of
one pair with different sizes, odd-width side-by-side files, unreadable images, and images
above PIL's decompression-bomb limit. Images deeper than 8 bits (16-bit PNGs) are scaled to
8 bits by their bit depth, and a note says so.
"""

from __future__ import annotations

from pathlib import Path

import torch
from PIL import Image

from genzoo.data import GRAY_MODES, IMAGE_SUFFIXES, RawImages, UnreadableImage, conversion_note, read_image, register_dataset
from genzoo.data import to_8bit as _to_8bit
from genzoo.data.tasks import INPUTS
from genzoo.errors import GenzooError

PAIRS_MAX_SIZE = 256


def _images_in(folder: Path) -> list[Path]:
    return sorted(f for f in folder.iterdir() if f.is_file() and not f.name.startswith(".") and f.suffix.lower() in IMAGE_SUFFIXES)


def _open(path: Path, converted: dict[str, int]):  # noqa: ANN202 - PIL image
    """The decoded image, at most 8 bits per sample (``converted`` counts what was scaled down)."""
    try:
        im = read_image(path)
    except UnreadableImage as e:
        if e.kind == "too large":
            raise GenzooError(f"'{path}' is too large to read safely ({e.reason}); shrink or remove it") from None
        raise
    im, what = _to_8bit(im)
    if what:
        converted[what] = converted.get(what, 0) + 1
    return im


def _split_dir(root: Path, split: str) -> tuple[Path, list[str]]:
    """The folder holding ``split``'s pairs, and notes for the user."""
    names = ("train",) if split == "train" else ("test", "val")
    for n in names:
        if (root / n).is_dir():
            return root / n, []
    if (root / "train").is_dir():
        raise GenzooError(f"'{root}' has a train/ folder but no {' or '.join(n + '/' for n in names)} folder for the {split} split")
    notes = [f"'{root}' has no test/ folder: the test split is the training pairs"] if split == "test" else []
    return root, notes


def _by_stem(folder: Path) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for f in _images_in(folder):
        if f.stem in out:
            raise GenzooError(f"'{out[f.stem]}' and '{f}' have the same name; pairs are matched by name, keep one")
        out[f.stem] = f
    return out


def _few(paths: list[str], k: int = 3) -> str:
    more = f" and {len(paths) - k} more" if len(paths) > k else ""
    return ", ".join(paths[:k]) + more


def match_folders(a_dir: Path, b_dir: Path) -> list[tuple[Path, Path]]:
    """Pair A/ and B/ files by name (without extension); clear errors when they do not match."""
    a, b = _by_stem(a_dir), _by_stem(b_dir)
    if not a and not b:
        raise GenzooError(f"no images in '{a_dir}' or '{b_dir}'")
    only_a = [str(a[s]) for s in sorted(set(a) - set(b))]
    only_b = [str(b[s]) for s in sorted(set(b) - set(a))]
    if only_a or only_b:
        parts = []
        if only_a:
            parts.append(f"no partner in {b_dir}/ for {_few(only_a)}")
        if only_b:
            parts.append(f"no partner in {a_dir}/ for {_few(only_b)}")
        head = (f"{a_dir}/ has {len(a)} images but {b_dir}/ has {len(b)}" if len(a) != len(b)
                else f"file names in {a_dir}/ and {b_dir}/ do not match")
        raise GenzooError(f"{head}: {'; '.join(parts)}. Every A image needs a B image with the same name")
    return [(a[s], b[s]) for s in sorted(a)]


def _square(im, side: int):  # noqa: ANN001, ANN202 - PIL in, PIL out
    w, h = im.size
    s = min(w, h)
    im = im.crop(((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s))
    if s != side:
        im = im.resize((side, side), Image.BICUBIC if s < side else Image.LANCZOS)
    return im


def _to_tensor(im, gray: bool) -> torch.Tensor:  # noqa: ANN001
    im = im.convert("L" if gray else "RGB")
    c = 1 if gray else 3
    return torch.frombuffer(bytearray(im.tobytes()), dtype=torch.uint8).reshape(im.size[1], im.size[0], c).permute(2, 0, 1)


def read_pairs(folder: Path, max_size: int = PAIRS_MAX_SIZE) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """Read one split folder -> (A uint8 (N, Ca, S, S), B uint8 (N, Cb, S, S), notes)."""
    a_dir, b_dir = folder / "A", folder / "B"
    pairs = []  # (name for errors, A image, B image)
    converted: dict[str, int] = {}
    if a_dir.is_dir() or b_dir.is_dir():
        if not (a_dir.is_dir() and b_dir.is_dir()):
            have, missing = (a_dir, b_dir) if a_dir.is_dir() else (b_dir, a_dir)
            raise GenzooError(f"'{folder}' has {have.name}/ but no {missing.name}/; paired folders need both A/ and B/")
        for fa, fb in match_folders(a_dir, b_dir):
            ia, ib = _open(fa, converted), _open(fb, converted)
            if ia.size != ib.size:
                raise GenzooError(
                    f"pair '{fa.stem}' has different sizes: {fa} is {ia.size[0]}x{ia.size[1]} but {fb} is "
                    f"{ib.size[0]}x{ib.size[1]}; the two images of a pair must be aligned, so the same size"
                )
            pairs.append((str(fa), ia, ib))
    else:
        files = _images_in(folder)
        if not files:
            raise GenzooError(
                f"no image pairs in '{folder}'; expected side-by-side A|B images, or folders A/ and B/ with matching names"
            )
        for f in files:
            im = _open(f, converted)
            w, h = im.size
            if w % 2:
                raise GenzooError(f"'{f}' is {w} px wide; a side-by-side A|B pair needs an even width (two halves of {w // 2}+ px)")
            pairs.append((str(f), im.crop((0, 0, w // 2, h)), im.crop((w // 2, 0, w, h))))
    gray_a = all(p[1].mode in GRAY_MODES for p in pairs)
    gray_b = all(p[2].mode in GRAY_MODES for p in pairs)
    sizes = {p[1].size for p in pairs}
    side = min(min(min(s) for s in sizes), max_size)
    notes = [conversion_note(converted, str(folder))] if converted else []
    if len(sizes) > 1:
        notes.append(f"pairs in '{folder}' have {len(sizes)} different sizes; all were centre-cropped and resized to {side}x{side}")
    elif any(w != h for w, h in sizes) or side != min(next(iter(sizes))):
        notes.append(f"pairs in '{folder}' were centre-cropped to squares of {side}x{side}")
    a = torch.stack([_to_tensor(_square(p[1], side), gray_a) for p in pairs])
    b = torch.stack([_to_tensor(_square(p[2], side), gray_b) for p in pairs])
    return a, b, notes


def _pairs(arg: str | None, *, split: str, data_dir: str | None = None) -> RawImages:
    """pairs:PATH - aligned image pairs: side-by-side A|B files, or A/ and B/ folders with matching names."""
    if not arg:
        raise GenzooError("pairs: needs a path, e.g. --data pairs:~/facades")
    root = Path(arg).expanduser()
    if not root.is_dir():
        raise GenzooError(f"'{root}' is not a folder; pairs: takes a folder of A|B images or of A/ and B/ folders")
    folder, notes = _split_dir(root, split)
    a, b, more = read_pairs(folder)
    return RawImages(images=b, labels=None, class_names=[], native_size=int(b.shape[-1]), source=str(folder),
                     extra={INPUTS: a}, notes=notes + more)


register_dataset("pairs", _pairs)
