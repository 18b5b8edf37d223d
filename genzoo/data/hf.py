"""Hub datasets: ``--data hf:NAME[:CONFIG][@REVISION][?image=COL&label=COL]`` through the ``datasets`` library.

``NAME`` is a Hub dataset id (``user/name``) or one of the short names in :data:`ALIASES`.
The image column is the dataset's ``Image`` feature and the label column its ``ClassLabel``
feature (class names come from it); ``?image=``/``?label=`` name them when a dataset has
several or none is typed (``label=none`` ignores labels). genzoo's ``train`` split is the
dataset's ``train`` split, ``test`` its ``test`` split (else ``validation``).

Downloads go through ``datasets`` and its cache (``HF_HOME/datasets`` or ``HF_DATASETS_CACHE``);
``HF_ENDPOINT`` and ``HF_HUB_OFFLINE`` are read when a dataset is loaded (like genzoo.hub does
for models), so a dataset loaded once loads again offline. Nothing downloaded is executed:
script datasets are refused by ``datasets`` itself, and genzoo never passes ``trust_remote_code``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import itertools
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import torch

from genzoo.console import make_progress, progress_enabled
from genzoo.data import RawImages, UnreadableImage, is_gray, square_uint8
from genzoo.data.source import NO_LABEL, ImageSource, TensorSource
from genzoo.errors import GenzooError
from genzoo.hubenv import HubSettings, check_repo_id, check_revision
from genzoo.registry import register_dataset

#: Largest side an image is decoded at by default (as for folder:), so memory stays bounded.
HF_MAX_SIZE = 64
#: Short names -> (Hub dataset id, native size). `fashion-mnist` (with a hyphen) stays the
#: offline Debian copy; `hf:fashion_mnist` is its Hub variant.
ALIASES: dict[str, tuple[str, int]] = {
    "mnist": ("ylecun/mnist", 28),
    "cifar10": ("uoft-cs/cifar10", 32),
    "celeba": ("nielsr/CelebA-faces", 64),
    "fashion_mnist": ("zalando-datasets/fashion_mnist", 28),
}
OPTIONS = ("image", "label", "stream")
OPTION_HELP = "image=COLUMN, label=COLUMN (or none), stream=N"
CONFIG_NAME = re.compile(r"^[\w.+-]{1,100}$")


@dataclass(frozen=True)
class HfSpec:
    """A parsed ``hf:`` argument."""

    repo: str
    config: str | None = None
    revision: str | None = None
    options: dict[str, str] = field(default_factory=dict)


def parse_hf(arg: str | None) -> HfSpec:
    """'user/ds:cfg@v1?image=img' -> HfSpec('user/ds', 'cfg', 'v1', {'image': 'img'})."""
    if not arg or not arg.strip():
        raise GenzooError("hf: needs a dataset, e.g. --data hf:user/name (or an alias: mnist, cifar10, celeba)")
    body, _, query = arg.strip().partition("?")
    options: dict[str, str] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key not in OPTIONS:
            raise GenzooError(f"unknown hf: option {key!r}; use {OPTION_HELP}")
        if not value:
            raise GenzooError(f"hf: option '{key}=' has no value; use {OPTION_HELP}")
        if key == "stream" and not (value.isdigit() and int(value) > 0):
            raise GenzooError(f"hf: option stream={value!r} must be a positive number of images, e.g. stream=10000")
        options[key] = value
    revision = None
    if "@" in body:
        body, _, revision = body.rpartition("@")
        if not revision:
            raise GenzooError(f"'hf:{arg}' ends with '@' but names no revision; use hf:NAME@BRANCH_OR_COMMIT")
        check_revision(revision)
    name, _, config = body.partition(":")
    if config and not CONFIG_NAME.match(config):
        raise GenzooError(f"{config!r} is not a dataset config name; use letters, digits, '_', '.', '-'")
    name = name.strip()
    if name in ALIASES:
        name = ALIASES[name][0]
    elif "/" not in name:
        raise GenzooError(
            f"'{name}' is not a Hub dataset id; use hf:USER/NAME or an alias ({', '.join(sorted(ALIASES))})"
        )
    check_repo_id(name)
    return HfSpec(name, config or None, revision, options)


def _datasets() -> Any:
    try:
        import datasets  # here: an optional, slow-to-import dependency; only hf: data needs it
    except ImportError:
        raise GenzooError("hf: datasets need the `datasets` library: pip install 'genzoo[hf]'") from None
    return datasets


@contextlib.contextmanager
def _hub_settings(ds_mod: Any, s: HubSettings) -> Iterator[None]:
    """Point ``datasets`` (which read its settings when imported) at today's HF_ENDPOINT/HF_HUB_OFFLINE."""
    from huggingface_hub import constants  # here: slow to import; only Hub use needs it

    cfg = ds_mod.config
    endpoint = s.endpoint or cfg.HF_ENDPOINT
    saved = {k: getattr(cfg, k) for k in ("HF_ENDPOINT", "HUB_DATASETS_URL", "HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")}
    # `datasets` builds some file URLs with huggingface_hub's hf_hub_url, which reads these constants.
    # Its downloads of repo files land in huggingface_hub's cache (HF_HUB_CACHE / HF_HOME/hub), read now too.
    hub_saved = {k: getattr(constants, k)
                 for k in ("HF_HUB_OFFLINE", "ENDPOINT", "HUGGINGFACE_CO_URL_TEMPLATE", "HF_HUB_CACHE")}
    cfg.HF_ENDPOINT = endpoint
    cfg.HUB_DATASETS_URL = endpoint + "/datasets/{repo_id}/resolve/{revision}/{path}"
    cfg.HF_HUB_OFFLINE = cfg.HF_DATASETS_OFFLINE = s.offline
    constants.HF_HUB_OFFLINE = s.offline
    if s.cache_dir:
        constants.HF_HUB_CACHE = s.cache_dir
    if s.endpoint:
        constants.ENDPOINT = s.endpoint
        constants.HUGGINGFACE_CO_URL_TEMPLATE = s.endpoint + "/{repo_id}/resolve/{revision}/{filename}"
    try:
        yield
    finally:
        for k, v in saved.items():
            setattr(cfg, k, v)
        for k, v in hub_saved.items():
            setattr(constants, k, v)


def datasets_cache_dir() -> str | None:
    """HF_DATASETS_CACHE, else HF_HOME/datasets, read now; None: the library's default."""
    env = os.environ
    if env.get("HF_DATASETS_CACHE"):
        return os.path.expanduser(env["HF_DATASETS_CACHE"])
    if env.get("HF_HOME"):
        return os.path.join(os.path.expanduser(os.path.expandvars(env["HF_HOME"])), "datasets")
    return None


def _describe(spec: HfSpec) -> str:
    return f"Hub dataset '{spec.repo}'" + (f" (config '{spec.config}')" if spec.config else "") + (
        f" at revision '{spec.revision}'" if spec.revision else "")


def _first_line(e: BaseException) -> str:
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    return lines[0][:300] if lines else type(e).__name__


def load_hf_split(spec: HfSpec, split: str) -> Any:
    """The ``datasets.Dataset`` of ``split`` ('train' or 'test'; 'test' falls back to 'validation').

    With the ``stream=N`` option, a streaming ``IterableDataset``: rows are read from the Hub as they
    are decoded, and nothing is downloaded first (so only the first N images are ever fetched).
    """
    ds_mod = _datasets()
    from huggingface_hub import errors as hf_errors  # here: slow to import; only Hub use needs it

    s = HubSettings.from_env()
    where = _describe(spec)
    streaming = "stream" in spec.options
    if streaming and s.offline:
        raise GenzooError(f"stream= reads {where} from the Hub as it trains, and HF_HUB_OFFLINE is set; "
                          "unset it, or drop stream= to use a downloaded copy")
    try:
        with _hub_settings(ds_mod, s), _quiet():
            dd = ds_mod.load_dataset(spec.repo, spec.config, revision=spec.revision, cache_dir=datasets_cache_dir(),
                                     streaming=streaming)
    except hf_errors.RevisionNotFoundError:
        raise GenzooError(f"revision '{spec.revision}' not found in {where.split(' at ')[0]}; "
                          "check the branch, tag or commit") from None
    except ds_mod.exceptions.DatasetNotFoundError as e:
        # `datasets` reports a missing revision as a missing dataset; its cause says which.
        if spec.revision and isinstance(e.__cause__, hf_errors.RevisionNotFoundError):
            raise GenzooError(f"revision '{spec.revision}' not found in {where.split(' at ')[0]}; "
                              "check the branch, tag or commit") from None
        raise _not_found(spec, s, where, e) from None
    except hf_errors.RepositoryNotFoundError as e:
        raise _not_found(spec, s, where, e) from None
    except ConnectionError as e:
        if s.offline:
            raise GenzooError(f"{where} is not in the local dataset cache and HF_HUB_OFFLINE is set; load it once "
                              "with network access (unset HF_HUB_OFFLINE)") from None
        raise GenzooError(f"cannot reach the Hub at {s.where()} for {where} ({_first_line(e)})") from None
    except (ValueError, FileNotFoundError, OSError) as e:
        raise GenzooError(f"could not load {where}: {_first_line(e)}") from None
    names = list(dd.keys())
    for want in ((split,) if split == "train" else (split, "validation")):
        if want in dd:
            return dd[want]
    raise GenzooError(f"{where} has no '{split}' split (it has: {', '.join(names) or 'none'})")


def _not_found(spec: HfSpec, s: HubSettings, where: str, e: BaseException) -> GenzooError:
    if s.offline:
        return GenzooError(f"{where} is not in the local dataset cache and HF_HUB_OFFLINE is set; load it once "
                           "with network access (unset HF_HUB_OFFLINE)")
    return GenzooError(f"{where} was not found on the Hub at {s.where()} (or it is private: set HF_TOKEN); "
                       "check the name")


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Hide the library's progress bars when genzoo's are off (tests, pipes)."""
    if progress_enabled():
        yield
        return
    # here: `datasets` is slow to import; only hf: data needs it
    from datasets.utils.logging import disable_progress_bar, enable_progress_bar, is_progress_bar_enabled

    was = is_progress_bar_enabled()
    disable_progress_bar()
    try:
        yield
    finally:
        if was:
            enable_progress_bar()


def find_columns(features: dict[str, Any], options: dict[str, str], where: str) -> tuple[str, str | None]:
    """(image column, label column or None) from a dataset's features and the ?image=/?label= options.

    Unnamed, the image column is the only ``Image`` feature (or the one called image/img when there
    are several); the label column is the only ``ClassLabel`` (or the one called label/labels).
    """
    from datasets import ClassLabel, Image as HfImage  # here: optional dependency; see _datasets

    cols = list(features)
    images = [c for c in cols if isinstance(features[c], HfImage)]
    classes = [c for c in cols if isinstance(features[c], ClassLabel)]
    if "image" in options:
        image = options["image"]
        if image not in features:
            raise GenzooError(f"{where} has no column '{image}' (columns: {', '.join(cols)})")
        if not isinstance(features[image], HfImage):
            raise GenzooError(f"column '{image}' of {where} holds {type(features[image]).__name__}, not images")
    elif len(images) == 1:
        image = images[0]
    elif images:
        named = [c for c in images if c.lower() in ("image", "img")]
        if len(named) != 1:
            raise GenzooError(f"{where} has several image columns ({', '.join(images)}); pick one with ?image=COLUMN")
        image = named[0]
    else:
        raise GenzooError(f"{where} has no image column (columns: {', '.join(cols)}); genzoo needs an Image feature")
    label = options.get("label")
    if label is not None:
        if label.lower() == "none":
            return image, None
        if label not in features:
            raise GenzooError(f"{where} has no column '{label}' (columns: {', '.join(cols)})")
        dtype = getattr(features[label], "dtype", "")
        if not isinstance(features[label], ClassLabel) and not str(dtype).startswith(("int", "uint")):
            raise GenzooError(f"column '{label}' of {where} holds {dtype or type(features[label]).__name__}, "
                              "not class labels (ClassLabel or integers)")
        return image, label
    if len(classes) == 1:
        return image, classes[0]
    named = [c for c in classes if c.lower() in ("label", "labels")]
    return image, (named[0] if len(named) == 1 else None)


def class_names_of(feature: Any, labels: torch.Tensor) -> list[str]:
    """ClassLabel names, else '0'..'K-1' for integer labels."""
    names = getattr(feature, "names", None)
    if names:
        return [str(n) for n in names]
    return [str(i) for i in range(int(labels.max()) + 1)] if labels.numel() else []


def to_raw(ds: Any, spec: HfSpec, where: str, max_size: int = HF_MAX_SIZE, limit: int | None = None) -> RawImages:
    """A ``datasets.Dataset`` or streaming ``IterableDataset`` -> RawImages: uint8 (N, C, S, S), decoded one
    image at a time (at most ``limit`` rows are read).

    C is 1 when the first images are grayscale, else 3; S is the smallest side among the first
    images, at most ``max_size``; every image is centre-cropped and resized to S.
    """
    if ds.features is None:
        raise GenzooError(f"{where} does not declare its columns' types (features), so genzoo cannot find the "
                          "image column; load it without stream=, or ask its author to add dataset_info")
    image_col, label_col = find_columns(ds.features, spec.options, where)
    total = len(ds) if hasattr(ds, "__len__") else None
    if limit is not None:
        total = min(total, limit) if total is not None else limit
    rows: Iterator[dict[str, Any]] = iter(ds.select_columns([image_col] + ([label_col] if label_col else [])))
    if limit is not None:
        rows = itertools.islice(rows, limit)
    head = list(itertools.islice(rows, 64))
    pics = [r[image_col] for r in head if r[image_col] is not None]
    if not pics:
        raise GenzooError(f"{where} has no images in this split (column '{image_col}' of its first rows is empty)")
    gray = all(is_gray(p) for p in pics)
    side = min(min(min(p.size) for p in pics), max_size)
    images, labels_list, sizes, skipped = [], [], set(), 0
    with make_progress() as bar:
        task = bar.add_task(f"decoding {spec.repo}", total=total)
        for row in itertools.chain(head, rows):
            bar.advance(task)
            p = row[image_col]
            if p is None:
                skipped += 1
                continue
            sizes.add(p.size)
            images.append(square_uint8(p, side, gray))
            if label_col:
                labels_list.append(row[label_col])
    notes = []
    if skipped:
        notes.append(f"{skipped} rows of {where} had no image and were skipped")
    if len(sizes) > 1:
        notes.append(f"images had {len(sizes)} different sizes; all were centre-cropped and resized to {side}x{side}")
    labels, names = None, []
    if label_col is not None:
        if any(v is None or v < 0 for v in labels_list):
            notes.append(f"column '{label_col}' has missing labels; labels were dropped")
        else:
            labels = torch.tensor(labels_list, dtype=torch.long)
            names = class_names_of(ds.features[label_col], labels)
    source = f"hf:{spec.repo}" + (f":{spec.config}" if spec.config else "") + (
        f"@{spec.revision}" if spec.revision else "") + f" (image column '{image_col}'" + (
        f", label column '{label_col}')" if labels is not None else ")")
    return RawImages(torch.stack(images), labels, names, native_size=side, source=source, notes=notes)


_MEMO: dict[tuple[Any, ...], RawImages] = {}


def load_hf(arg: str | None, split: str) -> RawImages:
    """Load and decode one split (the last one asked for is kept: native_size() then load_dataset() read it once)."""
    spec = parse_hf(arg)
    s = HubSettings.from_env()
    key = (arg, split, s, datasets_cache_dir())
    if key in _MEMO:
        return dataclasses.replace(_MEMO[key])  # a shallow copy: load_dataset(limit=) reassigns fields
    where = _describe(spec)
    limit = int(spec.options["stream"]) if "stream" in spec.options else None
    raw = to_raw(load_hf_split(spec, split), spec, where, limit=limit)
    _MEMO.clear()
    _MEMO[key] = raw
    return dataclasses.replace(raw)


def _hf(arg: str | None, *, split: str, data_dir: str | None = None) -> RawImages:
    """hf:USER/NAME[:CONFIG][@REV] - a Hub dataset (?image=COL&label=COL name columns; pip install 'genzoo[hf]')."""
    return load_hf(arg, split)


class HfSource(ImageSource):
    """A downloaded Hub dataset read row by row (Arrow files, memory-mapped by ``datasets``):
    item ``i`` is row ``i``'s image, centre-cropped and resized to ``image_size``.

    Geometry as for the in-memory load: gray when the first 64 images are, native side the
    smallest side among them (at most HF_MAX_SIZE). Rows without an image are unreadable
    (skipped by the disk cache and counted). Picklable (``datasets`` reopens its files), so
    DataLoader workers can decode. Streaming specs (``stream=N``) cannot be read out of order:
    :func:`open_hf` decodes those once, in order, and the disk cache keeps them.
    """

    def __init__(self, ds: Any, spec: HfSpec, arg: str, split: str, image_size: int | None):
        where = _describe(spec)
        image_col, label_col = find_columns(ds.features, spec.options, where)
        self.ds, self.image_col, self.label_col = ds, image_col, label_col
        self.name, self.split = f"hf:{arg}", split
        head = [p for p in ds.select(range(min(64, len(ds))))[image_col] if p is not None]
        if not head:
            raise GenzooError(f"{where} has no images in this split (column '{image_col}' of its first rows is empty)")
        self.gray = all(is_gray(p) for p in head)
        self.channels = 1 if self.gray else 3
        self.native = min(min(min(p.size) for p in head), HF_MAX_SIZE)
        self.image_size = int(image_size or self.native)
        names = getattr(ds.features[label_col], "names", None) if label_col else None
        if label_col and not names:  # integer labels: 0..max, read from the column (no images decoded)
            col = ds[label_col]
            names = [str(i) for i in range(int(max(col)) + 1)] if len(col) else []
        self.class_names = [str(n) for n in names] if names else []
        self.source = f"hf:{spec.repo}" + (f":{spec.config}" if spec.config else "") + (
            f"@{spec.revision}" if spec.revision else "") + f" (image column '{image_col}'" + (
            f", label column '{label_col}')" if label_col else ")")
        self.notes = []

    def __len__(self) -> int:
        return len(self.ds)

    def read(self, i: int) -> tuple[torch.Tensor, int]:
        row = self.ds[int(i)]
        p = row[self.image_col]
        if p is None:
            raise UnreadableImage(f"{self.name} row {i}", "unreadable", "the row has no image")
        y = row[self.label_col] if self.label_col else NO_LABEL
        if y is None or (self.label_col and y < 0):
            y = NO_LABEL
        return square_uint8(p, self.image_size, self.gray), int(y)

    def all_labels(self) -> torch.Tensor | None:
        """Every row's label (int64 (N,), NO_LABEL where missing) from the label column alone."""
        if not self.label_col:
            return None
        return torch.tensor([NO_LABEL if v is None or v < 0 else int(v) for v in self.ds[self.label_col]], dtype=torch.long)

    def fingerprint(self) -> str:
        fp = getattr(self.ds, "_fingerprint", "") or f"{len(self.ds)}"
        text = f"hf|{self.name}|{self.split}|{fp}|{self.channels}|{self.image_size}"
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def open_hf(arg: str | None, *, split: str = "train", image_size: int | None = None,
            data_dir: str | None = None) -> ImageSource:
    """``hf:`` as an :class:`ImageSource` (see :class:`HfSource`); ``stream=N`` specs are decoded
    once, in order, and read from memory (uint8) or, when larger than memory, the disk cache."""
    spec = parse_hf(arg)
    if "stream" in spec.options:
        raw = load_hf(arg, split)
        return TensorSource(raw, f"hf:{arg}", split, image_size)
    return HfSource(load_hf_split(spec, split), spec, arg or "", split, image_size)


_hf.open_source = open_hf  # type: ignore[attr-defined]
register_dataset("hf", _hf)


def _alias(short: str, repo: str, size: int, what: str) -> None:
    def loader(arg: str | None, *, split: str, data_dir: str | None = None) -> RawImages:
        if arg:
            raise GenzooError(f"'{short}' takes no ':' argument; for options use hf:{repo}?...")
        return load_hf(short, split)

    def opener(arg: str | None, *, split: str = "train", image_size: int | None = None,
               data_dir: str | None = None) -> ImageSource:
        if arg:
            raise GenzooError(f"'{short}' takes no ':' argument; for options use hf:{repo}?...")
        return open_hf(short, split=split, image_size=image_size)

    loader.__doc__ = f"{what}; alias of hf:{repo} (Hub, needs pip install 'genzoo[hf]')."
    loader.native_size = size  # type: ignore[attr-defined]
    loader.open_source = opener  # type: ignore[attr-defined]
    register_dataset(short, loader)


_alias("mnist", "ylecun/mnist", 28, "MNIST handwritten digits, 28x28, 10 classes")
_alias("cifar10", "uoft-cs/cifar10", 32, "CIFAR-10 photos, 32x32 RGB, 10 classes")
_alias("celeba", "nielsr/CelebA-faces", 64, "CelebA aligned celebrity faces, RGB, resized to 64x64, no labels")
