"""What metrics see and return: :class:`EvalContext`, :class:`Metric`, :class:`Result`, :class:`EvalReport`.

A metric is registered by name (``@register_metric("fid")`` or the ``genzoo.metrics``
entry-point group) and computes :class:`Result` objects from an :class:`EvalContext`,
which extracts features of the generated images and fetches the real reference once,
on first use, and shares them between all metrics of one evaluation.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import Tensor

from genzoo.data import ImageDataset
from genzoo.errors import GenzooError
from genzoo.metrics.extractors import FeatureExtractor
from genzoo.metrics.reference import Reference, get_reference, load_split, subset_indices


class MetricUnavailable(Exception):
    """A metric cannot be computed in this setting (e.g. IS without class logits); the reason is reported."""


@dataclass
class Result:
    """One number.

    Attributes:
        metric: short key ("fid", "kid", "precision" ...), the model-index ``type``.
        value: the number (KID, IS: the mean over subsets/splits).
        name: honest display name, naming the feature space ("FID (fashion-mnist classifier features)").
        protocol: how it was measured (sample counts, split, resolution, extractor).
        std: spread over subsets/splits, where the metric has one.
        higher_is_better: direction, for "best during training".
        baseline: what held-out real images score under the same protocol, where computed.
        files: images written for inspection (grids of neighbours, closest pairs).
        note: what a reader should know about this number (e.g. why it has no std), printed below the table.
    """

    metric: str
    value: float
    name: str
    protocol: str = ""
    std: float | None = None
    higher_is_better: bool = False
    baseline: float | None = None
    files: list[str] = field(default_factory=list)
    note: str = ""

    def card_entry(self) -> dict[str, Any]:
        """The shape model cards turn into model-index results (genzoo.cards)."""
        return {"metric": self.metric, "value": float(self.value), "name": self.name, "protocol": self.protocol}

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("value", "std", "baseline"):  # JSON has no inf/nan
            v = d[k]
            if isinstance(v, float) and not math.isfinite(v):
                d[k] = None if math.isnan(v) else ("inf" if v > 0 else "-inf")
        return d


class Metric:
    """Base class of registered metrics: ``compute(ctx) -> [Result, ...]``.

    ``name`` is the key it is registered under (``@register_metric("fid")`` or its
    ``genzoo.metrics`` entry-point key): the registry sets it on the instance it stores.
    """

    name: str = ""
    description: ClassVar[str] = ""
    #: False for a metric too costly to run unasked: it is left out of 'all' and runs when named.
    in_all: ClassVar[bool] = True

    def compute(self, ctx: EvalContext) -> list[Result]:
        raise NotImplementedError


@dataclass
class EvalContext:
    """Generated images and lazily computed, shared features and references.

    images: generated images (M, C, H, W) in [0, 1] on the CPU.
    labels: their classes, int64 (M,), where known (a conditional model, a folder of class subfolders), else None.
    """

    images: Tensor
    data: str
    extractor: FeatureExtractor
    n_ref: int
    split: str = "train"
    seed: int = 0
    batch_size: int = 250
    data_dir: str | None = None
    out_dir: Path | None = None
    use_cache: bool = True
    labels: Tensor | None = None
    _memo: dict[str, Any] = field(default_factory=dict, repr=False)

    # -- shapes ---------------------------------------------------------------------------
    @property
    def num_images(self) -> int:
        return int(self.images.shape[0])

    @property
    def image_size(self) -> int:
        return int(self.images.shape[-1])

    @property
    def channels(self) -> int:
        return int(self.images.shape[1])

    # -- lazily computed, shared ----------------------------------------------------------
    def _get(self, key: str, make: Any) -> Any:
        if key not in self._memo:
            self._memo[key] = make()
        return self._memo[key]

    def _fake(self) -> tuple[Tensor, Tensor | None]:
        return self._get("fake", lambda: self.extractor.extract(self.images, batch_size=self.batch_size))

    @property
    def fake_features(self) -> Tensor:
        """(M, D) float32."""
        return self._fake()[0]

    @property
    def fake_logits(self) -> Tensor | None:
        """(M, K) float32, or None if the extractor has no classifier."""
        return self._fake()[1]

    def split_data(self, split: str) -> ImageDataset:
        """A whole split at the generated images' size, images in [-1, 1] (treat as read-only)."""
        return self._get(f"split:{split}", lambda: _cached_split(self.data, split, self.image_size, self.data_dir))

    @property
    def reference(self) -> Reference:
        return self._get("reference", lambda: get_reference(
            self.data, self.extractor, n=self.n_ref, image_size=self.image_size, channels=self.channels,
            split=self.split, data_dir=self.data_dir, dataset=self.split_data(self.split),
            batch_size=self.batch_size, use_cache=self.use_cache,
        ))

    def heldout(self, n: int) -> Tensor | None:
        """Up to n real images in [0, 1] from the other split (test when the reference is train),
        or None when the dataset has no distinct held-out split (e.g. folder:)."""
        other = "test" if self.split == "train" else "train"

        def make() -> Tensor | None:
            a, b = self.split_data(self.split), self.split_data(other)
            if a.images.shape == b.images.shape and torch.equal(a.images, b.images):
                return None
            return (b.images[subset_indices(len(b), n, seed=1)] + 1) / 2

        return self._get(f"heldout:{n}", make)

    # -- naming ---------------------------------------------------------------------------
    def named(self, title: str) -> str:
        return f"{title} ({self.extractor.label})"

    def protocol(self, extra: str = "") -> str:
        ex = self.extractor
        acc = ex.info.get("test_accuracy")
        facts = f"{ex.short}" + (f", test accuracy {acc:.3f}" if isinstance(acc, (int, float)) else "")
        s = (f"{self.num_images} generated vs {self.n_ref_actual} real {self.data} {self.split} images "
             f"at {self.image_size}x{self.image_size}; features: {facts}")
        return f"{s}; {extra}" if extra else s

    @property
    def n_ref_actual(self) -> int:
        if "reference" in self._memo:
            return len(self._memo["reference"])
        return min(self.n_ref, len(self.split_data(self.split)))

    def out_file(self, name: str) -> Path | None:
        return None if self.out_dir is None else Path(self.out_dir) / name


_SPLITS: OrderedDict[tuple[str, str, int, str | None], ImageDataset] = OrderedDict()


def _cached_split(data: str, split: str, size: int, data_dir: str | None) -> ImageDataset:
    """Named datasets stay in memory between evaluations (two splits at most), so evaluating
    every N training steps does not reload them; ``folder:`` data is re-read every time."""
    if ":" in data:
        return load_split(data, split, size, data_dir)
    key = (data, split, size, data_dir)
    if key in _SPLITS:
        _SPLITS.move_to_end(key)
        return _SPLITS[key]
    ds = load_split(data, split, size, data_dir)
    _SPLITS[key] = ds
    while len(_SPLITS) > 2:
        _SPLITS.popitem(last=False)
    return ds


@dataclass
class EvalReport:
    """Results of one evaluation. ``report["fid"]`` is the FID value."""

    results: list[Result]
    info: dict[str, Any]
    notes: list[str] = field(default_factory=list)

    def __getitem__(self, key: str) -> float:
        for r in self.results:
            if r.metric == key:
                return r.value
        raise KeyError(f"no result '{key}' (have: {', '.join(r.metric for r in self.results)})")

    def __contains__(self, key: object) -> bool:
        return any(r.metric == key for r in self.results)

    def get(self, key: str) -> Result | None:
        return next((r for r in self.results if r.metric == key), None)

    def card_entries(self) -> list[dict[str, Any]]:
        """Entries for ``model.meta['evaluation']`` (finite values only), with the real data's name and split."""
        where = {"dataset": self.info.get("data"), "split": self.info.get("split")}
        return [{**r.card_entry(), **where} for r in self.results if math.isfinite(r.value)]

    def to_dict(self) -> dict[str, Any]:
        return {**self.info, "results": [r.to_dict() for r in self.results], "notes": list(self.notes)}


def check_images(x: Tensor, what: str = "images") -> Tensor:
    """Validate (N, C, H, W) float images in [0, 1]; returns them float32 on the CPU."""
    if not isinstance(x, Tensor) or x.ndim != 4:
        raise GenzooError(f"{what} must be a tensor (N, C, H, W), got {getattr(x, 'shape', type(x).__name__)}")
    if x.shape[1] not in (1, 3):
        raise GenzooError(f"{what} must have 1 or 3 channels, got {x.shape[1]} (expected (N, C, H, W))")
    x = x.detach().float().cpu()
    lo, hi = float(x.min()), float(x.max())
    if lo < -1e-3 or hi > 1 + 1e-3:
        raise GenzooError(f"{what} must have values in [0, 1], got [{lo:.3g}, {hi:.3g}] (from [-1, 1]? use (x + 1) / 2)")
    return x.clamp(0, 1)
