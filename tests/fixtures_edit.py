"""Session fixtures for latent editing (tests/test_edit.py, tests/bad_inputs_edit.py): tiny runs with an encoder."""

from __future__ import annotations

from pathlib import Path

import pytest

# A VAE with a 2-D latent (for the manifold grid) and an autoencoder with a 4-D one (for PCA):
# a few dozen steps on digits are enough for deterministic maps and edits, in seconds.
EDIT_VAE2 = {"width": 8, "latent_dim": 2, "batch_size": 32, "steps": 40, "log_every": 20, "checkpoint_every": 40,
             "sample_every": 40, "num_samples": 16, "eval_images": 64, "gmm_components": 2}
EDIT_AE = {"width": 8, "latent_dim": 4, "batch_size": 32, "steps": 40, "log_every": 20, "checkpoint_every": 40,
           "sample_every": 40, "num_samples": 16, "eval_images": 64, "gmm_components": 2}


@pytest.fixture(scope="session")
def edit_vae2_run(tmp_path_factory) -> Path:
    """A tiny VAE with latent_dim=2 trained 40 steps on digits (shared, read-only)."""
    from genzoo.engine import train

    out = tmp_path_factory.mktemp("runs") / "vae2-tiny"
    train("vae", out=out, data="digits", progress=False, **EDIT_VAE2)
    return out


@pytest.fixture(scope="session")
def edit_ae_run(tmp_path_factory) -> Path:
    """A tiny autoencoder with latent_dim=4 trained 40 steps on digits (shared, read-only)."""
    from genzoo.engine import train

    out = tmp_path_factory.mktemp("runs") / "ae-tiny"
    train("ae", out=out, data="digits", progress=False, **EDIT_AE)
    return out
