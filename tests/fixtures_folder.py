"""Session fixture for folder: data (tests/bad_inputs_folder.py): a small folder of images with label files."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def folder_files(tmp_path_factory) -> Path:
    """Three 8x8 PNGs (a.png, b.png, cats/c.png), a deep tree, and label files good and bad (read-only)."""
    from PIL import Image  # here: fixture modules load with every test session; PIL only when used

    root = tmp_path_factory.mktemp("folder-files")
    for rel in ("imgs/a.png", "imgs/b.png", "imgs/cats/c.png", "deep/x/y/z.png"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.new("L", (8, 8), 100).save(root / rel)
    (root / "imgs" / "missing.csv").write_text("file,label\na.png,x\nb.png,y\ncats/c.png,x\ngone.png,y\n")
    (root / "imgs" / "partial.csv").write_text("file,label\na.png,x\nb.png,y\n")
    (root / "imgs" / "badrow.csv").write_text("file,label\na.png,x,extra\nb.png,y\ncats/c.png,x\n")
    (root / "imgs" / "nohead.csv").write_text("a.png,x\nb.png,y\ncats/c.png,x\n")
    (root / "imgs" / "bad.json").write_text('["a.png", "x"]')
    return root
