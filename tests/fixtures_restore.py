"""Session fixtures of `genzoo restore`: a tiny diffusion model at 16 px (room for superres:4)."""

from __future__ import annotations

from pathlib import Path

import pytest

# Untrained in effect (a few steps): restoration's measurement consistency does not depend on
# the prior being good, and this trains in about a second.
TINY_RESTORE = {"image_size": 16, "width": 8, "num_res_blocks": 1, "channel_mult": (1, 2), "attention_resolutions": (8,),
                "conditional": False, "batch_size": 16, "steps": 4, "log_every": 2, "checkpoint_every": 4,
                "sample_every": 4, "num_samples": 4, "dropout": 0.0}


@pytest.fixture(scope="session")
def restore_run(tmp_path_factory) -> Path:
    """A tiny unconditional diffusion model on 16 px digits (shared, read-only for tests)."""
    from genzoo.engine import train

    out = tmp_path_factory.mktemp("runs") / "diffusion-restore-tiny"
    train("diffusion", out=out, data="digits", progress=False, **TINY_RESTORE)
    return out
