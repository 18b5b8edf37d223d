"""Sample grids written during training: samples/step-N.png and samples.png."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from genzoo.config import ModelConfig
from genzoo.data import ImageDataset
from genzoo.family import GenerativeModel
from genzoo.images import save_grid


def preview_images(model: GenerativeModel, data: ImageDataset, config: ModelConfig) -> tuple[Tensor, int | None]:
    """(images (N, C, H, W) in [0, 1], images per row or None) showing what ``model`` makes now,
    always from ``config.seed``, so grids of successive steps are comparable."""
    n, k = config.num_samples, config.num_classes
    preview = getattr(model, "preview", None)
    if callable(preview):  # models that need data to show anything (pix2pix: input | output | target)
        return preview(data, n, seed=config.seed)
    if model.is_conditional:  # one row per class
        per = max(1, n // k)
        return model.sample(per * k, seed=config.seed, labels=torch.arange(k).repeat_interleave(per)), per
    return model.sample(n, seed=config.seed), None  # type: ignore[return-value]


def write_preview(run_dir: Path, step: int, images: Tensor, nrow: int | None, *, final: bool = False) -> None:
    """samples.png, and (unless ``final``) samples/step-N.png beside it."""
    if not final:
        save_grid(images, run_dir / "samples" / f"step-{step:08d}.png", nrow=nrow)
    save_grid(images, run_dir / "samples.png", nrow=nrow)
