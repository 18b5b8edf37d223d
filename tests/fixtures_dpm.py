"""Session fixtures of the dpm++2m sampler's bad-input rows (tests/bad_inputs_dpm.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

# Two steps: the rows only need a diffusion run directory that loads; its quality does not matter.
TINY_DIFFUSION = {"image_size": 8, "width": 8, "num_res_blocks": 1, "batch_size": 8, "steps": 2, "timesteps": 50,
                  "log_every": 1, "checkpoint_every": 2, "sample_every": 2, "num_samples": 4, "dropout": 0.0}


@pytest.fixture(scope="session")
def dpm_diffusion_run(tmp_path_factory) -> Path:
    """A conditional diffusion model trained 2 steps on 8 px digits (shared, read-only)."""
    from genzoo.engine import train

    out = tmp_path_factory.mktemp("runs") / "diffusion-dpm"
    train("diffusion", out=out, data="digits", progress=False, **TINY_DIFFUSION)
    return out
