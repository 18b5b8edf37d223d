"""Reference statistics of real data, cached on disk.

A reference is a fixed subset of a dataset split pushed through a feature extractor:
its features (N, D), logits (N, K) if the extractor has them, and the Gaussian fit
(mean, covariance) FID needs. Computing it is the slow part of an evaluation (the real
images are the same every time), so it is cached under
``$GENZOO_CACHE/eval/`` (default ``~/.cache/genzoo/eval/``), one safetensors file per
(dataset, split, extractor weights, image count, resolution, channels). The file also
records a digest of the exact images used, so a changed dataset (a ``folder:`` that gained
files) is recomputed rather than trusted.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import safe_open
from torch import Tensor

from genzoo.data import ImageDataset, cache_dir, load_dataset
from genzoo.errors import GenzooError
from genzoo.io import save_tensors
from genzoo.metrics.extractors import FeatureExtractor
from genzoo.metrics.stats import gaussian_stats

REF_SEED = 0  # the subset of the split every evaluation compares against


@dataclass
class Reference:
    """Real images' features. ``indices`` are positions in the split (seeded subset)."""

    data: str
    split: str
    features: Tensor
    logits: Tensor | None
    mu: Tensor
    sigma: Tensor
    indices: Tensor
    image_size: int
    channels: int
    path: Path | None = None
    cached: bool = False

    def __len__(self) -> int:
        return int(self.features.shape[0])


def subset_indices(total: int, n: int, seed: int = REF_SEED) -> Tensor:
    """The first n of a seeded permutation of range(total) (all of it when n >= total)."""
    perm = torch.randperm(total, generator=torch.Generator().manual_seed(seed))
    return perm[: min(n, total)].sort().values


def images_digest(x: Tensor) -> str:
    """Digest of images quantised to 8 bits (robust to float noise, exact for real data)."""
    q = ((x.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).contiguous()
    return hashlib.sha256(q.numpy().tobytes()).hexdigest()[:16]


def cache_path(data: str, split: str, extractor: FeatureExtractor, n: int, size: int, channels: int) -> Path:
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", data).strip("-")[:80]
    key = f"{slug}_{split}_{extractor.key}_n{n}_{size}px_{channels}ch"
    return cache_dir() / "eval" / f"{key}.safetensors"


def load_split(data: str, split: str, image_size: int, data_dir: str | None = None) -> ImageDataset:
    return load_dataset(data, split=split, image_size=image_size, data_dir=data_dir)


def get_reference(
    data: str, extractor: FeatureExtractor, *, n: int, image_size: int, channels: int, split: str = "train",
    data_dir: str | None = None, dataset: ImageDataset | None = None, batch_size: int = 250, use_cache: bool = True,
) -> Reference:
    """Features of ``n`` real images of ``data``'s ``split`` at ``image_size``, from the cache when valid.

    Args:
        dataset: the split already loaded at this size (saves loading it again).
    """
    ds = dataset if dataset is not None else load_split(data, split, image_size, data_dir)
    if ds.channels != channels:
        raise GenzooError(f"'{data}' has {ds.channels}-channel images, not {channels}")
    idx = subset_indices(len(ds), n)
    images = ds.images[idx]
    digest = images_digest(images)
    path = cache_path(data, split, extractor, len(idx), image_size, channels)
    if use_cache and path.is_file():
        try:
            with safe_open(str(path), framework="pt") as f:
                meta = f.metadata() or {}
                if meta.get("images_digest") == digest:
                    t = {k: f.get_tensor(k) for k in f.keys()}
                    return Reference(data, split, t["features"], t.get("logits"), t["mu"], t["sigma"], idx,
                                     image_size, channels, path, cached=True)
        except Exception:  # unreadable cache file: recompute and overwrite it
            pass
    feats, logits = extractor.extract((images + 1) / 2, batch_size=batch_size)
    mu, sigma = gaussian_stats(feats)
    ref = Reference(data, split, feats, logits, mu, sigma, idx, image_size, channels, path, cached=False)
    if use_cache:
        tensors = {"features": feats, "mu": mu, "sigma": sigma}
        if logits is not None:
            tensors["logits"] = logits
        save_tensors(path, tensors, metadata={
            "data": data, "split": split, "extractor": extractor.spec, "extractor_key": extractor.key,
            "num_images": str(len(idx)), "image_size": str(image_size), "channels": str(channels),
            "subset_seed": str(REF_SEED), "images_digest": digest,
        })
    return ref
