"""genzoo: a plugin-based zoo of image generative models.

    import genzoo
    genzoo.list_families()                 # ['dcgan', ...]
    model = genzoo.load("runs/dcgan-digits")  # or "user/model" on the Hub, or "dcgan"
    images = model.sample(16, seed=0)      # (16, C, H, W) floats in [0, 1]

Importing genzoo is cheap: torch and the plugins load on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:  # pragma: no cover
    from genzoo.engine.trainer import TrainResult
    from genzoo.family import GenerativeModel


def load(source: str, *, revision: str | None = None, device: str | None = None) -> GenerativeModel:
    """A run directory, a Hub repo id (``user/model[@rev]``) or a family name -> model."""
    from genzoo.hub import load as _load  # on first use: `import genzoo` must not import torch

    return _load(source, revision=revision, device=device)


def create(family: str, **overrides: Any) -> GenerativeModel:
    """A fresh, untrained model of ``family`` (defaults plus ``overrides``)."""
    from genzoo.hub import create as _create  # on first use: `import genzoo` must not import torch

    return _create(family, **overrides)


def list_families(pattern: str = "*") -> list[str]:
    """Installed family names matching a shell wildcard."""
    from genzoo.registry import families  # on first use: keeps `import genzoo` minimal

    return families.names(pattern)


def train(family: str, **kwargs: Any) -> TrainResult:
    """Train ``family`` exactly as ``genzoo train`` does: ``genzoo.train("dcgan", steps=500)``.

    Keyword arguments are config fields (``data``, ``steps``, ``batch_size``, ``lr`` ...) or
    Trainer options (``out``, ``epochs``, ``max_time`` such as "10m", ``resume`` (the latest
    run when ``out`` is None), ``device``, ``precision``, ``callbacks`` ...); see
    :class:`genzoo.engine.Trainer`. ``max_time`` without ``steps`` trains until the budget.
    """
    from genzoo.engine import train as _train  # here, not at the top: `import genzoo` must not import torch

    return _train(family, **kwargs)


def evaluate(model_or_images: Any, *, data: str | None = None, metrics: Any = None, **kwargs: Any) -> Any:
    """Score a model, images (N, C, H, W) in [0, 1], a run dir, Hub repo or image folder against
    ``data``: ``genzoo.evaluate(model, data="fashion-mnist", metrics=["fid", "kid"])["fid"]``.
    See genzoo.metrics.evaluate for the options (n, extractor, split, out_dir ...)."""
    from genzoo.metrics import evaluate as _evaluate  # on first use: `import genzoo` must not import torch

    return _evaluate(model_or_images, data=data, metrics=metrics, **kwargs)


def __getattr__(name: str) -> Any:
    # Lazy access to the heavier submodules' public names.
    lazy = {
        "GenzooError": "genzoo.errors",
        "Trainer": "genzoo.engine",
        "load_dataset": "genzoo.data",
    }
    if name in lazy:
        return getattr(importlib.import_module(lazy[name]), name)
    raise AttributeError(f"module 'genzoo' has no attribute '{name}'")


__all__ = ["__version__", "load", "create", "list_families", "train", "evaluate"]
