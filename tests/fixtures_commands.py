"""Session fixtures for the bad-input rows of tests/bad_inputs_commands.py: a folder of bad files,
and tiny runs of the families whose commands those rows exercise (a few steps, small sizes:
each builds in seconds). Read-only for tests."""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

# Families and their tiny configs: (family, data, config fields). Two steps each.
_TWO = {"steps": 2, "log_every": 1, "checkpoint_every": 2, "sample_every": 2}
TINY_RUNS: dict[str, tuple[str, str, dict]] = {
    "cmd_pix2pix_run": ("pix2pix", "digits", {"task": "superres:2", "g_width": 4, "d_width": 4, "batch_size": 8,
                                                  "num_samples": 4, **_TWO}),
    "cmd_diffusion_run": ("diffusion", "digits", {"image_size": 8, "width": 16, "num_res_blocks": 1, "batch_size": 8,
                                                      "num_samples": 4, "dropout": 0.0, **_TWO}),
    "cmd_flow_run": ("flow", "digits", {"image_size": 16, "depth": 1, "hidden": 8, "batch_size": 16, "num_samples": 4,
                                            "eval_images": 32, **_TWO}),
    "cmd_cyclegan_run": ("cyclegan", "digits", {"task": "classes:3,8", "g_width": 4, "g_blocks": 1, "d_width": 4,
                                                    "pool_size": 4, "batch_size": 8, "num_samples": 4, "decay_after": 0,
                                                    **_TWO}),
    "cmd_ae_run": ("ae", "digits", {"image_size": 16, "width": 8, "latent_dim": 4, "batch_size": 32, "num_samples": 4,
                                        "eval_images": 64, "gmm_components": 3, **_TWO}),
}


def train_tiny(name: str, root: Path) -> Path:
    """Train the tiny run ``name`` of TINY_RUNS into ``root / name``."""
    from genzoo.engine import train

    family, data, cfg = TINY_RUNS[name]
    out = root / name
    train(family, out=out, data=data, progress=False, **cfg)
    return out


def _png(path: Path, arr: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)
    return path


def sparse_png(path: Path, width: int, height: int) -> Path:
    """A valid PNG header claiming width x height 1-bit pixels with almost no data (a decompression bomb's size)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + chunk(b"IEND", b""))
    return path


def make_bad_files(root: Path) -> Path:
    """Files and folders a hostile or careless user hands genzoo (names used by the rows)."""
    root.mkdir(parents=True, exist_ok=True)
    gray = np.tile(np.linspace(0, 255, 16, dtype=np.uint8), (16, 1))
    _png(root / "gray.png", gray)
    _png(root / "black.png", np.zeros((16, 16), np.uint8))  # a mask with nothing to fill
    _png(root / "rgb.png", np.zeros((16, 16, 3), np.uint8))
    (root / "empty.png").write_bytes(b"")
    (root / "text.png").write_text("not an image\n")
    _png(root / "noise.png", np.random.default_rng(0).integers(0, 256, (32, 32), dtype=np.uint8))
    (root / "truncated.png").write_bytes((root / "noise.png").read_bytes()[:200])  # cut inside the pixel data
    sparse_png(root / "bomb.png", 30000, 30000)  # 900 M pixels: a decompression bomb
    (root / "empty_dir").mkdir(exist_ok=True)
    (root / "junk_dir").mkdir(exist_ok=True)
    (root / "junk_dir" / "a.txt").write_text("text")
    (root / "junk_dir" / "b.png").write_bytes(b"")
    sparse_png(root / "bomb_dir" / "bomb.png", 30000, 30000)
    _png(root / "mixed" / "cls" / "a.png", gray)
    _png(root / "mixed" / "loose.png", gray)
    _png(root / "pairs_mismatch" / "A" / "x.png", gray)
    _png(root / "pairs_mismatch" / "B" / "y.png", gray)
    _png(root / "pairs_only_a" / "A" / "x.png", gray)
    _png(root / "pairs_odd" / "x.png", np.zeros((16, 33), np.uint8))
    _png(root / "pairs_sizes" / "A" / "x.png", gray)
    _png(root / "pairs_sizes" / "B" / "x.png", np.zeros((8, 8), np.uint8))
    sparse_png(root / "pairs_bomb" / "A" / "x.png", 30000, 30000)
    _png(root / "pairs_bomb" / "B" / "x.png", gray)
    (root / "not_json.json").write_text("{ lr: 1 ")
    (root / "list.json").write_text(json.dumps([1, 2]))
    (root / "unknown_key.json").write_text(json.dumps({"no_such_field": 1}))
    (root / "z_text.npz").write_text("not an npz")
    np.savez(root / "z_wrong.npz", other=np.zeros(3))
    (root / "a_file").write_text("a file, not a folder")
    return root


@pytest.fixture(scope="session")
def cmd_files(tmp_path_factory) -> Path:
    """The folder of bad files of :func:`make_bad_files`."""
    return make_bad_files(tmp_path_factory.mktemp("cmd") / "files")


def _run_fixture(name: str):  # noqa: ANN202 - a pytest fixture
    def fixture(tmp_path_factory) -> Path:
        return train_tiny(name, tmp_path_factory.mktemp("runs"))

    fixture.__name__ = name
    fixture.__doc__ = f"A tiny {TINY_RUNS[name][0]} run (two steps on digits), shared and read-only."
    return pytest.fixture(scope="session", name=name)(fixture)


cmd_pix2pix_run = _run_fixture("cmd_pix2pix_run")
cmd_diffusion_run = _run_fixture("cmd_diffusion_run")
cmd_flow_run = _run_fixture("cmd_flow_run")
cmd_cyclegan_run = _run_fixture("cmd_cyclegan_run")
cmd_ae_run = _run_fixture("cmd_ae_run")
