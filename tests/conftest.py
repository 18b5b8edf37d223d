"""Shared fixtures: a CLI runner, tiny configs, and one tiny trained run reused across tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Session fixtures of one area each live in tests/fixtures_*.py, so that parallel work on different
# commands adds fixtures without editing this file.
pytest_plugins = sorted(f"tests.{p.stem}" for p in Path(__file__).parent.glob("fixtures_*.py"))

os.environ.setdefault("GENZOO_PROGRESS", "0")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
needs_fashion = pytest.mark.skipif(
    not (FASHION_DIR / "train-images-idx3-ubyte.gz").is_file(),
    reason="real Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)",
)

# A DCGAN small enough to train a few steps in well under a second.
TINY_DCGAN = {"image_size": 16, "g_width": 8, "d_width": 8, "latent_dim": 16, "batch_size": 16,
              "steps": 6, "log_every": 2, "checkpoint_every": 3, "sample_every": 3, "num_samples": 16}


@pytest.fixture
def cli(capsys):
    """Run the genzoo CLI in-process: cli("train", "dcgan", ...) -> (exit_code, stdout, stderr)."""
    from genzoo.cli import main

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        try:
            main([str(a) for a in args])
            code = 0
        except SystemExit as e:
            code = int(e.code or 0)
        out, err = capsys.readouterr()
        return code, out, err

    return run


def sets(d: dict) -> list[str]:
    """{'a': 1} -> ['--set', 'a=1']"""
    out: list[str] = []
    for k, v in d.items():
        out += ["--set", f"{k}={v}"]
    return out


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """A tiny DCGAN trained 6 steps on digits (shared, read-only for tests)."""
    from genzoo.engine import train

    out = tmp_path_factory.mktemp("runs") / "dcgan-tiny"
    train("dcgan", out=out, data="digits", progress=False, **TINY_DCGAN)
    return out


# A small VAE: 400 steps on digits is ~10 s on one core and already gives gmm samples a clear
# Frechet-distance lead over prior samples (tests/test_samplers.py).
SMALL_VAE = {"width": 16, "latent_dim": 8, "steps": 400, "log_every": 50, "checkpoint_every": 400,
             "sample_every": 400, "num_samples": 16, "iwae_k": 8, "iwae_images": 64}


@pytest.fixture(scope="session")
def vae_run(tmp_path_factory) -> Path:
    """A small VAE trained 400 steps on digits, gmm fitted (shared, read-only for tests)."""
    from genzoo.engine import train

    out = tmp_path_factory.mktemp("runs") / "vae-small"
    train("vae", out=out, data="digits", progress=False, **SMALL_VAE)
    return out
