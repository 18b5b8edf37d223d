"""``folder:PATH[?OPTIONS]``: a folder of images that users bring, read lazily or whole.

Layout (PATH is the folder given):

* ``PATH/*.png`` - unlabelled images;
* ``PATH/CLASS/**/x.png`` - the **first folder level below PATH is the class** (deeper folders
  belong to their first-level folder, as in torchvision's ImageFolder); ``depth=N`` takes the
  first N levels instead (``animals/cats/siamese/x.png`` with ``depth=2`` is class
  ``cats/siamese``), ``depth=0`` ignores folders (unlabelled, every image below PATH);
* ``PATH/train/...`` and ``PATH/test/...`` (or ``val/``) - the splits, each laid out as above
  (class names come from ``train/``);
* ``?labels=FILE`` - labels from a CSV (header ``file,label``) or JSON (``{"file": label}``)
  file, paths relative to PATH; integer labels are used as they are, text labels become
  classes in sorted order. Every image must be listed and every listed file must exist.

Options (``folder:PATH?fit=pad&background=black``): ``fit=crop`` (centre square, then resize:
the default), ``fit=resize`` (whole image, aspect not kept) or ``fit=pad`` (padded to a square
with the background colour, then resized); ``background=white|black`` (what transparent
pixels are composited on, and the padding colour); ``depth=N``; ``labels=FILE``.

Scanning (:class:`FolderSource`) lists files and reads only their headers (size, mode, EXIF
orientation): nothing is decoded until :meth:`FolderSource.read`. The in-memory loader
decodes every item into one preallocated uint8 tensor. Any image mode is converted (16-bit
and float scaled by bit depth, transparency composited, palette, CMYK and YCbCr to RGB), EXIF
orientation is applied, and what was converted is said in the notes (config.json's data facts).
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import os
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError
from torch import Tensor

from genzoo.console import esc, make_progress
from genzoo.data import RawImages, register_dataset
from genzoo.data.source import NO_LABEL, ImageSource
from genzoo.errors import GenzooError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
#: The largest side a folder is decoded at when the model's size is not given.
FOLDER_MAX_SIZE = 64
FITS = ("crop", "resize", "pad")
BACKGROUNDS = {"white": 255, "black": 0}
OPTIONS = ("labels", "fit", "depth", "background")
OPTION_HELP = "labels=FILE.csv|FILE.json, fit=crop|resize|pad, depth=N, background=white|black"
SPLIT_DIRS = {"train": ("train",), "test": ("test", "val")}
#: Modes with an alpha channel (P with a transparency entry is counted as well).
ALPHA_MODES = ("RGBA", "LA", "PA", "La", "RGBa")
#: Colour models that are converted to RGB with a note (PIL's conversion, no colour profile).
OTHER_COLOUR_MODES = ("CMYK", "YCbCr", "LAB", "HSV")
#: Formats whose EXIF block is read with the header (others: only at decode time).
EXIF_IN_HEADER = ("JPEG", "MPO", "TIFF", "WEBP")
ORIENTATION = 0x0112


# ------------------------------------------------------------------------------------------
# one image: read, convert to 8-bit L or RGB, fit to a square
# ------------------------------------------------------------------------------------------
class UnreadableImage(GenzooError):
    """An image file that cannot be read. ``kind``: "unreadable" (not an image, damaged) or
    "too large" (more pixels than PIL's decompression-bomb limit, Image.MAX_IMAGE_PIXELS)."""

    def __init__(self, path: Path, kind: str, reason: str) -> None:
        self.path, self.kind, self.reason = Path(path), kind, reason
        super().__init__(f"'{path}' is not a readable image ({reason}); fix or remove it")


@contextlib.contextmanager
def _pil_errors(path: Path) -> Iterator[None]:
    """PIL's errors for one file -> UnreadableImage; decompression-bomb warnings are errors."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise UnreadableImage(path, "too large", str(e).rstrip(".")) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError) as e:
        # SyntaxError: what some PIL plugins raise for a damaged header
        raise UnreadableImage(path, "unreadable", str(e) or type(e).__name__) from None


def read_image(path: str | Path) -> Image.Image:
    """Open and decode one image file completely; raises :class:`UnreadableImage`.

    Images above PIL's decompression-bomb limit (``Image.MAX_IMAGE_PIXELS`` pixels: the
    warning band as well as the error band) are refused before they are decoded: a small
    file can claim billions of pixels and exhaust memory.
    """
    path = Path(path)
    with _pil_errors(path), Image.open(path) as im:
        im.load()
        out = im.copy()
        out.format = im.format  # a copy has none; to_8bit reads it
        return out


def _orientation(im: Image.Image) -> int:
    """The EXIF orientation (1..8; 1 = upright) of an opened image, 1 when it has none."""
    try:
        o = int(im.getexif().get(ORIENTATION, 1))
    except Exception:  # noqa: BLE001 - a damaged EXIF block must not make the image unreadable
        return 1
    return o if 1 <= o <= 8 else 1


# PIL modes of images with more than 8 bits per sample, and their bit depth (None: from the values).
_DEEP_MODES = {"I;16": 16, "I;16B": 16, "I;16L": 16, "I;16N": 16, "I;16S": 16, "I": None, "F": None}
GRAY_MODES = ("L", "1", "LA", "P;L", *_DEEP_MODES)


def to_8bit(im: Image.Image) -> tuple[Image.Image, str | None]:
    """A 16-bit (``I;16*``), 32-bit integer (``I``) or float (``F``) grayscale image -> mode L,
    scaled by its bit depth rather than clipped at 255; other images are returned as they are.

    Returns (image, a few words on what was converted, or None). Depth: 16 for ``I;16*`` and
    for ``I`` from a PNG (PNG stores at most 16 bits); otherwise the smallest of 8/16/32 bits
    that holds the image's largest value. Floats in [0, 1] are scaled by 255.
    """
    if im.mode not in _DEEP_MODES:
        return im, None
    a = np.asarray(im).astype(np.float64)
    bits = _DEEP_MODES[im.mode]
    if im.mode == "F" and a.size and np.nanmin(a) >= 0 and np.nanmax(a) <= 1:
        out, what = a * 255, "float images in [0, 1]"
    else:
        if bits is None:
            top = float(np.nanmax(a)) if a.size else 0.0
            bits = 16 if im.format == "PNG" else 8 if top <= 255 else 16 if top <= 65535 else 32
        out, what = a / (2**bits - 1) * 255, f"{bits}-bit images"
    out = np.nan_to_num(out, nan=0.0).clip(0, 255).round().astype(np.uint8)
    return Image.fromarray(out, mode="L"), what


def conversion_note(converted: dict[str, int], where: str) -> str:
    parts = [f"{n} {what}" for what, n in sorted(converted.items())]
    return f"converted {', '.join(parts)} in '{where}' to 8 bits, scaled by bit depth (not clipped)"


def is_gray(p: Image.Image) -> bool:
    return p.mode in GRAY_MODES


def has_alpha(mode: str, info: dict[str, Any]) -> bool:
    return mode in ALPHA_MODES or (mode in ("P", "L", "RGB") and "transparency" in info)


def to_l_or_rgb(im: Image.Image, gray: bool, background: str = "white") -> tuple[Image.Image, str | None]:
    """Any decoded image -> mode L (``gray``) or RGB, upright by its EXIF orientation.

    Deeper than 8 bits: scaled by bit depth (:func:`to_8bit`); transparency (RGBA, LA, PA,
    palette or L/RGB with a transparent colour): composited on ``background``; palette, CMYK,
    YCbCr, LAB, HSV: PIL's conversion. Returns (image, to_8bit's words or None).
    """
    if _orientation(im) > 1:
        fmt = im.format
        im = ImageOps.exif_transpose(im)
        im.format = fmt
    im, deep = to_8bit(im)
    if has_alpha(im.mode, im.info):
        v = BACKGROUNDS[background]
        rgba = im.convert("RGBA")
        im = Image.alpha_composite(Image.new("RGBA", rgba.size, (v, v, v, 255)), rgba)
    target = "L" if gray else "RGB"
    if im.mode != target:
        im = im.convert(target)  # ValueError for a mode PIL cannot convert (decode_file says which file)
    return im, deep


def fit_square(p: Image.Image, side: int, fit: str = "crop", background: str = "white") -> Image.Image:
    """An L or RGB image -> side x side by ``fit``: crop (centre square, then resize), resize
    (the whole image, aspect not kept) or pad (centred on a ``background`` square, then resize).
    Downscaling uses Lanczos, upscaling bicubic."""
    w, h = p.size
    if fit == "resize":
        if (w, h) != (side, side):
            p = p.resize((side, side), Image.BICUBIC if max(w, h) < side else Image.LANCZOS)
        return p
    if fit == "pad":
        s = max(w, h)
        if w != h:
            v = BACKGROUNDS[background]
            canvas = Image.new(p.mode, (s, s), v if p.mode == "L" else (v, v, v))
            canvas.paste(p, ((s - w) // 2, (s - h) // 2))
            p = canvas
    else:
        s = min(w, h)
        p = p.crop(((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s))
    if s != side:
        p = p.resize((side, side), Image.BICUBIC if s < side else Image.LANCZOS)
    return p


def pil_to_uint8(p: Image.Image) -> Tensor:
    """An L or RGB image -> uint8 (C, H, W)."""
    channels = 1 if p.mode == "L" else 3
    t = torch.frombuffer(bytearray(p.tobytes()), dtype=torch.uint8).reshape(p.size[1], p.size[0], channels)
    return t.permute(2, 0, 1)


def square_uint8(p: Image.Image, side: int, gray: bool) -> Tensor:
    """One PIL image -> uint8 (C, side, side), C = 1 if ``gray`` else 3: centre-crop, then resize."""
    return pil_to_uint8(fit_square(p.convert("L" if gray else "RGB"), side, "crop"))


def decode_file(path: Path, gray: bool, side: int, fit: str = "crop",
                background: str = "white") -> tuple[Tensor, str | None]:
    """One image file -> (uint8 (C, side, side) in [0, 255], to_8bit's words or None)."""
    im = read_image(path)
    try:
        im, deep = to_l_or_rgb(im, gray, background)
    except (ValueError, OSError) as e:
        raise UnreadableImage(path, "unreadable", f"mode {im.mode} cannot be converted: {e}") from None
    return pil_to_uint8(fit_square(im, side, fit, background)), deep


def stack_pil(pics: list[Image.Image], max_size: int = FOLDER_MAX_SIZE) -> tuple[Tensor, set[tuple[int, int]]]:
    """PIL images -> uint8 (N, C, S, S) and the set of sizes seen.

    C is 1 when every image is grayscale, else 3; S is the smallest side, at most ``max_size``;
    each image is centre-cropped to a square and resized to S.
    """
    gray = all(is_gray(p) for p in pics)
    sizes = {p.size for p in pics}
    side = min(min(min(s) for s in sizes), max_size)
    return torch.stack([square_uint8(p, side, gray) for p in pics]), sizes


def _skipped_what(kind: str) -> str:
    if kind == "too large":
        return f"images over the decompression-bomb limit of {Image.MAX_IMAGE_PIXELS} pixels (PIL's Image.MAX_IMAGE_PIXELS)"
    return "unreadable or non-image files"


def _few(names: list[str], k: int = 3) -> str:
    more = f" and {len(names) - k} more" if len(names) > k else ""
    return ", ".join(names[:k]) + more


# ------------------------------------------------------------------------------------------
# the spec: folder:PATH?labels=...&fit=...&depth=...&background=...
# ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FolderOptions:
    """What ``?k=v&...`` after the path chose. ``depth`` None: 1 when the folder has subfolders, else 0."""

    labels: str | None = None
    fit: str = "crop"
    depth: int | None = None
    background: str = "white"


def parse_folder(arg: str | None) -> tuple[Path, FolderOptions]:
    """``PATH[?k=v&...]`` -> (the folder, its options); a clear GenzooError for anything wrong."""
    if not arg:
        raise GenzooError("folder: needs a path, e.g. --data folder:~/pictures")
    path, sep, query = arg.partition("?")
    if not path:
        raise GenzooError("folder: needs a path before '?', e.g. --data folder:~/pictures?fit=pad")
    opts: dict[str, str] = {}
    if sep:
        for key, value in parse_qsl(query, keep_blank_values=True):
            if key not in OPTIONS:
                raise GenzooError(f"unknown folder option '{key}'; options are {OPTION_HELP}")
            if key in opts:
                raise GenzooError(f"folder option '{key}' is given twice; give it once")
            opts[key] = value
        if not opts:
            raise GenzooError(f"nothing after '?' in folder:{arg}; options are {OPTION_HELP}")
    fit = opts.get("fit", "crop")
    if fit not in FITS:
        raise GenzooError(f"unknown fit '{fit}' for folder:; use fit=crop (centre square), fit=resize "
                          "(whole image, aspect not kept) or fit=pad (padded to a square)")
    background = opts.get("background", "white")
    if background not in BACKGROUNDS:
        raise GenzooError(f"unknown background '{background}' for folder:; use background=white or background=black")
    depth = None
    if "depth" in opts:
        if not re.fullmatch(r"\d{1,2}", opts["depth"]):
            raise GenzooError(f"folder option depth='{opts['depth']}' is not a whole number; use depth=0 "
                              "(no classes), 1 (the first folder level is the class), 2, ...")
        depth = int(opts["depth"])
    labels = opts.get("labels")
    if labels is not None and not labels:
        raise GenzooError("folder option labels= needs a file name, e.g. labels=labels.csv")
    if labels is not None and depth is not None:
        raise GenzooError("folder options labels= and depth= are two ways to label the images; give one")
    return Path(path).expanduser(), FolderOptions(labels=labels, fit=fit, depth=depth, background=background)


# ------------------------------------------------------------------------------------------
# scanning: files, labels and header geometry, nothing decoded
# ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Probe:
    """What a header says: oriented (width, height), mode, transparency, EXIF orientation."""

    width: int
    height: int
    mode: str
    alpha: bool
    orientation: int


#: The last scan's header reads, by (path, bytes, mtime_ns): native_size() then load_dataset()
#: scan the same folder twice, and the second scan then opens no file.
_PROBES: dict[tuple[str, int, int], _Probe | UnreadableImage] = {}


def _probe(path: Path) -> _Probe:
    """One file's header (PIL's open reads no pixels). The EXIF orientation is read only where
    it sits in the header (JPEG, TIFF, WebP); a PNG's is applied at decode time all the same."""
    with _pil_errors(path), Image.open(path) as im:
        o = _orientation(im) if im.format in EXIF_IN_HEADER else 1
        w, h = im.size
        mode, alpha = im.mode, has_alpha(im.mode, im.info)
    if o >= 5:  # orientations 5..8 swap width and height
        w, h = h, w
    return _Probe(w, h, mode, alpha, o)


def _walk(base: Path, skip: Path | None) -> list[tuple[tuple[str, ...], int, int]]:
    """Every non-hidden file below ``base`` (hidden folders skipped): (parts relative to base,
    bytes, mtime_ns), in path order."""
    out: list[tuple[tuple[str, ...], int, int]] = []
    stack: list[tuple[Path, tuple[str, ...]]] = [(base, ())]
    while stack:
        d, rel = stack.pop()
        try:
            entries = list(os.scandir(d))
        except OSError as e:
            raise GenzooError(f"cannot list '{d}' ({e.strerror or e}); check its permissions") from None
        for e in entries:
            if e.name.startswith("."):
                continue
            if e.is_dir():
                stack.append((Path(e.path), (*rel, e.name)))
            elif e.is_file():
                if skip is not None and Path(e.path) == skip:
                    continue
                st = e.stat()
                out.append(((*rel, e.name), st.st_size, st.st_mtime_ns))
    out.sort(key=lambda t: t[0])
    return out


def _subdirs(d: Path) -> list[str]:
    return sorted(p.name for p in d.iterdir() if p.is_dir() and not p.name.startswith("."))


def _class_dirs(base: Path, depth: int) -> list[tuple[str, ...]]:
    """The non-hidden folders exactly ``depth`` levels below ``base``, in path order."""
    level: list[tuple[str, ...]] = [()]
    for _ in range(depth):
        level = [(*rel, name) for rel in level for name in _subdirs(base.joinpath(*rel))]
    return level


def read_label_table(path: Path, shown: str) -> dict[str, str | int]:
    """A labels file -> {relative path (posix): label (str, or int when the file holds integers)}.

    CSV: a header row ``file,label`` then one row per image. JSON: an object {"file": label}.
    """
    if path.suffix.lower() not in (".csv", ".json"):
        raise GenzooError(f"labels file '{shown}' must end in .csv (columns file,label) or .json ({{\"file\": \"label\"}})")
    if not path.is_file():
        raise GenzooError(f"labels file '{shown}' does not exist; put it next to the images or fix labels=")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise GenzooError(f"cannot read labels file '{shown}' ({e}); save it as UTF-8 text") from None
    table: dict[str, str | int] = {}

    def add(file: str, label: str | int, where: str) -> None:
        key = Path(file.strip()).as_posix() if isinstance(file, str) else file
        if not isinstance(file, str) or not file.strip():
            raise GenzooError(f"{where}: empty or non-text file name; each entry names an image file")
        if isinstance(label, bool) or not isinstance(label, (str, int)) or (isinstance(label, str) and not label.strip()):
            raise GenzooError(f"{where}: label {json.dumps(label)} for '{file}' is empty or not text/an integer")
        label = label.strip() if isinstance(label, str) else label
        if key in table and table[key] != label:
            raise GenzooError(f"{where}: '{file}' is listed twice with different labels; keep one row")
        table[key] = label

    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise GenzooError(f"labels file '{shown}' is not valid JSON ({e.msg} at line {e.lineno}); "
                              'write an object {"file": "label", ...}') from None
        if not isinstance(data, dict) or not data:
            raise GenzooError(f'labels file \'{shown}\' must be a non-empty JSON object {{"file": "label", ...}}')
        for file, label in data.items():
            add(file, label, f"labels file '{shown}'")
    else:
        rows = list(csv.reader(text.splitlines()))
        if not rows or [c.strip().lower() for c in rows[0]] != ["file", "label"]:
            raise GenzooError(f"labels file '{shown}' must start with the header row 'file,label' "
                              f"(found '{','.join(rows[0]) if rows else ''}')")
        for n, row in enumerate(rows[1:], start=2):
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) != 2:
                raise GenzooError(f"labels file '{shown}' line {n}: expected 2 columns file,label, found {len(row)}")
            add(row[0], row[1], f"labels file '{shown}' line {n}")
        if not table:
            raise GenzooError(f"labels file '{shown}' has a header but no rows")
    return table


def labels_from_table(table: dict[str, str | int], shown: str) -> tuple[dict[str, int], list[str]]:
    """{file: label} -> ({file: class index}, class names). All-integer labels (ints, or CSV
    text of digits) are the indices; otherwise the sorted distinct texts are the classes."""
    values = list(table.values())
    if all(isinstance(v, int) or re.fullmatch(r"-?\d+", str(v)) for v in values):
        ints = {k: int(v) for k, v in table.items()}
        bad = [k for k, v in ints.items() if v < 0]
        if bad:
            raise GenzooError(f"labels file '{shown}' gives '{bad[0]}' the negative label {ints[bad[0]]}; "
                              "integer labels are class indices 0, 1, ...")
        return ints, [str(i) for i in range(max(ints.values()) + 1)]
    names = sorted({str(v) for v in values})
    index = {n: i for i, n in enumerate(names)}
    return {k: index[str(v)] for k, v in table.items()}, names


class FolderSource(ImageSource):
    """A folder of images read one at a time (see the module docstring for layouts and options).

    Scanning lists files and reads headers only. Geometry: ``channels`` 1 when every image is
    grayscale, else 3; ``image_size`` the model's size when given, otherwise the smallest
    image's side after fitting (at most ``max_size``). Items are uint8 (C, S, S) in [0, 255].
    Plain paths and options only, so it pickles into DataLoader worker processes.
    """

    def __init__(self, root: str | Path, options: FolderOptions = FolderOptions(), *, split: str = "train",
                 image_size: int | None = None, max_size: int = FOLDER_MAX_SIZE, name: str | None = None) -> None:
        root = Path(root).expanduser()
        if not root.exists():
            raise GenzooError(f"folder '{root}' does not exist")
        if not root.is_dir():
            raise GenzooError(f"'{root}' is not a folder; folder: takes a directory of images")
        self.root, self.options, self.split, self.max_size = root, options, split, max_size
        self._want_size = image_size
        self.name = name or f"folder:{root}"
        self.source = str(root)
        o = options
        base, self._split_notes = self._split_dir()
        label_file = (root / o.labels) if o.labels else None
        listing = _walk(base, label_file)
        rel_base = base.relative_to(root).parts
        self.class_names: list[str] = []
        labels: list[int] = []
        if label_file is not None:
            shown = o.labels or ""
            index, self.class_names = labels_from_table(read_label_table(label_file, shown), shown)
            missing = sorted(f for f in index if not (root / f).is_file())
            if missing:
                raise GenzooError(f"labels file '{shown}' lists {len(missing)} files that are not in '{root}' "
                                  f"({_few(missing)}); remove those rows or add the files")
            keys = ["/".join((*rel_base, *parts)) for parts, _, _ in listing]
            unlisted = [k for k, (parts, _, _) in zip(keys, listing) if k not in index
                        and Path(parts[-1]).suffix.lower() in IMAGE_SUFFIXES]
            if unlisted:
                raise GenzooError(f"{len(unlisted)} images in '{base}' are not in labels file '{shown}' "
                                  f"({_few(unlisted)}); add rows for them or move them out")
            keep = [k in index for k in keys]
            listing = [t for t, k in zip(listing, keep) if k]
            labels = [index[k] for k, k2 in zip(keys, keep) if k2]
            self.depth = 0
        else:
            depth = o.depth if o.depth is not None else (1 if _subdirs(base) else 0)
            self.depth = depth
            if depth:
                # class names from train/ when the splits have folders, so both splits share one order
                class_base = root / "train" if rel_base else base
                dirs = _class_dirs(class_base, depth)
                self.class_names = ["/".join(d) for d in dirs]
                index = {d: i for i, d in enumerate(dirs)}
                shallow = [parts for parts, _, _ in listing
                           if len(parts) <= depth and Path(parts[-1]).suffix.lower() in IMAGE_SUFFIXES]
                if shallow and depth == 1 and o.depth is None:
                    raise GenzooError(
                        f"'{base}' mixes class subfolders with {len(shallow)} loose images (e.g. {shallow[0][-1]}); "
                        "move them into a subfolder or remove the subfolders")
                if shallow:
                    raise GenzooError(
                        f"depth={depth} takes the class from the folders {depth} levels below '{base}', but "
                        f"{len(shallow)} images are not that deep (e.g. {'/'.join(shallow[0])}); move them "
                        "or choose another depth=")
                listing = [t for t in listing if len(t[0]) > depth]
                unknown = sorted({t[0][:depth] for t in listing if t[0][:depth] not in index})
                if unknown:
                    raise GenzooError(f"class folder '{'/'.join(unknown[0])}' of the {split} split has no "
                                      f"folder in '{class_base}'; add it there or remove it")
                labels = [index[t[0][:depth]] for t in listing]
        if not self.class_names:
            labels = [NO_LABEL] * len(listing)
        self._scan(base, listing, labels)

    def _split_dir(self) -> tuple[Path, list[str]]:
        """The folder holding this split: PATH/train, PATH/test (or val) when PATH has train/."""
        root = self.root
        if not (root / "train").is_dir():
            notes = [f"'{root}' has no train/ and test/ folders: the test split is the training images"] \
                if self.split == "test" else []
            return root, notes
        for n in SPLIT_DIRS.get(self.split, (self.split,)):
            if (root / n).is_dir():
                return root / n, []
        raise GenzooError(f"'{root}' has a train/ folder but no {' or '.join(n + '/' for n in SPLIT_DIRS[self.split])} "
                          f"folder for the {self.split} split")

    def _scan(self, base: Path, listing: list[tuple[tuple[str, ...], int, int]], labels: list[int]) -> None:
        global _PROBES
        o = self.options
        seen: dict[tuple[str, int, int], _Probe | UnreadableImage] = {}
        files: list[str] = []
        kept: list[int] = []
        probes: list[_Probe] = []
        skipped: dict[str, list[str]] = {}
        stamp: list[tuple[str, int, int]] = []
        rel_base = base.relative_to(self.root).parts
        with make_progress(transient=True) as bar:
            task = bar.add_task(f"scanning {esc(str(base))}", total=len(listing)) if len(listing) > 1000 else None
            for (parts, size, mtime), label in zip(listing, labels):
                if task is not None:
                    bar.advance(task)
                path = base.joinpath(*parts)
                key = (str(path), size, mtime)
                got = _PROBES.get(key)
                if got is None:
                    try:
                        got = _probe(path)
                    except UnreadableImage as e:
                        got = e
                seen[key] = got
                if isinstance(got, UnreadableImage):
                    skipped.setdefault(got.kind, []).append(parts[-1])
                    continue
                rel = "/".join((*rel_base, *parts))
                files.append(rel)
                kept.append(label)
                probes.append(got)
                stamp.append((rel, size, mtime))
        _PROBES = seen
        if not files:
            what = "".join(f"; {len(n)} {_skipped_what(k)} skipped (e.g. {n[0]})" for k, n in skipped.items())
            raise GenzooError(f"no images found in '{base}'{what}")
        self.files, self.labels, self._stamp = files, kept, stamp
        self.channels = 1 if all(p.mode in GRAY_MODES for p in probes) else 3
        sides = [max(p.width, p.height) if o.fit == "pad" else min(p.width, p.height) for p in probes]
        self.native_size = min(min(sides), self.max_size)
        self.image_size = int(self._want_size) if self._want_size else self.native_size
        self._skipped = skipped
        self._counts = _count_conversions(probes, self.channels)
        self._sizes = {(p.width, p.height) for p in probes}
        self._square = all(p.width == p.height for p in probes)
        self.notes = self.describe_notes()

    def describe_notes(self, deep: dict[str, int] | None = None, more_skipped: dict[str, list[str]] | None = None) -> list[str]:
        """What reading did to the files, for config.json. ``deep``: to_8bit's counts from decoding
        (exact wording); without it, what the headers say. ``more_skipped``: files that failed to decode."""
        where, o, c = str(self.root), self.options, self._counts
        skipped = {k: list(v) for k, v in self._skipped.items()}
        for k, v in (more_skipped or {}).items():
            skipped.setdefault(k, []).extend(v)
        notes = list(self._split_notes)
        notes += [f"skipped {len(n)} {_skipped_what(k)} in '{where}' (e.g. {n[0]})" for k, n in skipped.items()]
        deep = deep if deep is not None else c["deep"]
        if deep:
            notes.append(conversion_note(deep, where))
        side = self.image_size
        if c["alpha"]:
            notes.append(f"{c['alpha']} images with transparency (alpha, or a palette's transparent colour) were "
                         f"composited on {o.background} (background=white|black to choose)")
        for mode in OTHER_COLOUR_MODES:
            if c.get(mode):
                notes.append(f"converted {c[mode]} {mode} images to RGB (PIL's conversion, no colour profile)")
        if c["rotated"]:
            notes.append(f"turned {c['rotated']} images upright by their EXIF orientation")
        if len(self._sizes) > 1:
            how = {"crop": "centre-cropped and resized", "resize": "resized (aspect ratio not kept)",
                   "pad": f"padded to squares with {o.background} and resized"}[o.fit]
            notes.append(f"images had {len(self._sizes)} different sizes; all were {how} to {side}x{side}")
        if o.fit != "crop" or not self._square:
            how = {"crop": "the centre square was kept (fit=crop; fit=resize or fit=pad keep the whole image)",
                   "resize": "each whole image was resized to a square, aspect ratio not kept (fit=resize)",
                   "pad": f"each image was padded to a square with {o.background} (fit=pad)"}[o.fit]
            notes.append(f"fit: {how}")
        return notes

    def __len__(self) -> int:
        return len(self.files)

    def read(self, i: int) -> tuple[Tensor, int]:
        x, _ = decode_file(self.root / self.files[i], self.channels == 1, self.image_size, self.options.fit,
                           self.options.background)
        return x, self.labels[i]

    def fingerprint(self) -> str:
        o = self.options
        h = hashlib.sha256(json.dumps(
            ["folder-v1", str(self.root.resolve()), self.split, self.channels, self.image_size, o.fit, o.background,
             o.depth, o.labels, self.class_names], sort_keys=True).encode())
        for (rel, size, mtime), label in zip(self._stamp, self.labels):
            h.update(f"\n{rel}\t{size}\t{mtime}\t{label}".encode())
        return h.hexdigest()[:16]

    def load(self, progress: bool = True) -> RawImages:
        """Decode every item into one preallocated uint8 (N, C, S, S) tensor (today's in-memory
        folder); files that fail to decode are skipped and noted."""
        n, c, s = len(self), self.channels, self.image_size
        out = torch.empty((n, c, s, s), dtype=torch.uint8)
        labels: list[int] = []
        deep: dict[str, int] = {}
        failed: dict[str, list[str]] = {}
        k = 0
        with make_progress(transient=True) as bar:
            task = bar.add_task(f"decoding {esc(str(self.root))}", total=n) if progress and n > 1000 else None
            for i, rel in enumerate(self.files):
                if task is not None:
                    bar.advance(task)
                try:
                    x, what = decode_file(self.root / rel, c == 1, s, self.options.fit, self.options.background)
                except UnreadableImage as e:
                    failed.setdefault(e.kind, []).append(Path(rel).name)
                    continue
                if what:
                    deep[what] = deep.get(what, 0) + 1
                out[k] = x
                labels.append(self.labels[i])
                k += 1
        if k == 0:
            raise GenzooError(f"no images found in '{self.root}'; {n} files looked like images but none could be decoded")
        notes = self.describe_notes(deep=deep, more_skipped=failed)
        lab = torch.tensor(labels, dtype=torch.long) if self.class_names else None
        return RawImages(out[:k] if k < n else out, lab, list(self.class_names), native_size=self.native_size,
                         source=str(self.root), notes=notes)


def _count_conversions(probes: list[_Probe], channels: int) -> dict[str, Any]:
    c: dict[str, Any] = {"alpha": 0, "rotated": 0, "deep": {}}
    for p in probes:
        c["alpha"] += p.alpha
        c["rotated"] += p.orientation > 1
        if p.mode in OTHER_COLOUR_MODES:
            c[p.mode] = c.get(p.mode, 0) + 1
        if p.mode in _DEEP_MODES:
            what = "16-bit images" if _DEEP_MODES[p.mode] == 16 else "32-bit integer or float images"
            c["deep"][what] = c["deep"].get(what, 0) + 1
    return c


def open_folder(arg: str | None, *, split: str = "train", image_size: int | None = None,
                data_dir: str | None = None, max_size: int = FOLDER_MAX_SIZE) -> FolderSource:
    """``folder:`` argument -> a scanned :class:`FolderSource` decoded at ``image_size`` (None: native)."""
    root, options = parse_folder(arg)
    return FolderSource(root, options, split=split, image_size=image_size, max_size=max_size, name=f"folder:{arg}")


def read_image_folder(root: Path, max_size: int = FOLDER_MAX_SIZE) -> RawImages:
    """Every image under ``root`` in memory (uint8 (N, C, S, S), S at most ``max_size``);
    immediate subfolders become classes. Skipped and converted files are in the notes."""
    return FolderSource(root, max_size=max_size).load()


def _folder(arg: str | None, *, split: str, data_dir: str | None = None, image_size: int | None = None) -> RawImages:
    """folder:PATH - your images (decoded into memory at ``image_size``, or at most 64 px)."""
    return open_folder(arg, split=split, image_size=image_size, data_dir=data_dir).load()


def _folder_native_size(arg: str | None, *, split: str = "train", data_dir: str | None = None) -> int:
    return open_folder(arg, split=split, data_dir=data_dir).native_size


_folder.description = (  # type: ignore[attr-defined]
    "folder:PATH - your images; the first folder level below PATH is the class; train/ and test/ folders are "
    "splits; options: ?labels=FILE.csv|FILE.json, fit=crop|resize|pad, depth=N, background=white|black")
_folder.open_source = open_folder  # type: ignore[attr-defined]
_folder.native_size = _folder_native_size  # type: ignore[attr-defined]
_folder.takes_image_size = True  # type: ignore[attr-defined]
register_dataset("folder", _folder)
