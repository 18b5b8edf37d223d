"""Session fixtures of the augmentation tests: a tiny class-conditional GAN (shared, read-only)."""

from __future__ import annotations

from pathlib import Path

import pytest

# A cgan small enough to train a few steps in about a second; its samples are noise, but labelled noise.
TINY_CGAN = {"image_size": 16, "g_width": 8, "d_width": 8, "latent_dim": 16, "batch_size": 16,
             "steps": 4, "log_every": 2, "checkpoint_every": 4, "sample_every": 4, "num_samples": 10}


@pytest.fixture(scope="session")
def tiny_cgan_run(tmp_path_factory) -> Path:
    """A tiny cgan trained 4 steps on digits (10 classes named '0'..'9')."""
    from genzoo.engine import train

    out = tmp_path_factory.mktemp("runs") / "cgan-tiny"
    train("cgan", out=out, data="digits", progress=False, **TINY_CGAN)
    return out
