"""Datasets: shapes, ranges, splits, real Fashion-MNIST, checksums, folders and their errors."""

from __future__ import annotations

import gzip
import http.server
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import genzoo.data as gd
from genzoo.data import load_dataset, read_idx
from genzoo.errors import GenzooError
from tests.conftest import FASHION_DIR, needs_fashion


def test_digits_shapes_range_labels_and_disjoint_splits():
    tr = load_dataset("digits", image_size=16)
    te = load_dataset("digits", split="test", image_size=16)
    assert tr.images.shape == (1500, 1, 16, 16) and te.images.shape == (297, 1, 16, 16)
    assert tr.images.dtype == torch.float32
    assert tr.images.min() >= -1 and tr.images.max() <= 1
    assert tr.images.min() == -1 and tr.images.max() > 0.9  # black background, bright strokes
    assert tr.num_classes == 10 and set(tr.labels.tolist()) == set(range(10))
    # no test image is also a training image
    a = {bytes(x.numpy().tobytes()) for x in tr.images}
    overlap = sum(bytes(x.numpy().tobytes()) in a for x in te.images)
    assert overlap < 3  # the UCI set itself has a couple of exact duplicates
    assert tr.describe()["num_images"] == 1500


def test_resizing_to_model_size():
    d = load_dataset("digits", image_size=32, limit=10)
    assert d.images.shape == (10, 1, 32, 32)
    assert d.labels.shape == (10,)


@needs_fashion
def test_real_fashion_mnist_loads_from_the_debian_package():
    d = load_dataset("fashion-mnist", split="test")
    assert d.images.shape == (10000, 1, 28, 28)
    assert d.class_names[9] == "Ankle boot"
    assert torch.bincount(d.labels).tolist() == [1000] * 10
    # The first test image of Fashion-MNIST is an ankle boot (label 9).
    assert int(d.labels[0]) == 9
    assert d.source == str(FASHION_DIR)


@needs_fashion
def test_fashion_mnist_from_data_dir_and_checksum_failure(tmp_path, monkeypatch):
    for f in FASHION_DIR.iterdir():
        shutil.copy(f, tmp_path / f.name)
    d = load_dataset("fashion-mnist", split="test", data_dir=str(tmp_path), limit=5)
    assert d.source == str(tmp_path)
    # corrupt the labels: same size, other content -> checksum error, no silent use
    lab = tmp_path / "t10k-labels-idx1-ubyte.gz"
    raw = bytearray(gzip.decompress(lab.read_bytes()))
    raw[100] = (raw[100] + 1) % 10
    lab.write_bytes(gzip.compress(bytes(raw)))
    with pytest.raises(GenzooError, match="does not match fashion-mnist's checksums"):
        load_dataset("fashion-mnist", split="test", data_dir=str(tmp_path))


def test_truncated_idx_file_is_a_clear_error(tmp_path):
    p = tmp_path / "x-idx3-ubyte"
    p.write_bytes(b"\x00\x00\x08\x03" + (10).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2 + b"\x00" * 100)
    with pytest.raises(GenzooError, match="truncated: expected 7840 bytes"):
        read_idx(p)
    q = tmp_path / "not-idx"
    q.write_bytes(b"hello world")
    with pytest.raises(GenzooError, match="not an IDX file"):
        read_idx(q)


@needs_fashion
def test_download_verifies_checksums_against_a_local_server(tmp_path, monkeypatch):
    """The real download path, pointed at a loopback server holding Debian's copies."""
    served = tmp_path / "served"
    shutil.copytree(FASHION_DIR, served)
    handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=str(served), **k)  # noqa: E731
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.RequestHandlerClass.log_message = lambda *a: None
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/"
        # Debian's files are re-compressed, so their .gz MD5 differs from the official one:
        with pytest.raises(GenzooError, match="checksum mismatch for downloaded"):
            gd.download_fashion(tmp_path / "dl1", url=url)
        assert not any((tmp_path / "dl1").glob("*.gz"))  # nothing unverified is kept
        # with the served files' own sums the same code path succeeds
        import hashlib

        sums = {k: (f, hashlib.md5((served / f).read_bytes()).hexdigest(), c) for k, (f, _, c) in gd.FASHION_FILES.items()}
        monkeypatch.setattr(gd, "FASHION_FILES", sums)
        gd.download_fashion(tmp_path / "dl2", url=url)
        assert sorted(p.name for p in (tmp_path / "dl2").iterdir()) == sorted(v[0] for v in sums.values())
    finally:
        httpd.shutdown()


def test_offline_download_refused(monkeypatch, tmp_path):
    monkeypatch.setenv("GENZOO_OFFLINE", "1")
    with pytest.raises(GenzooError, match="forbid downloading"):
        gd.download_fashion(tmp_path)


def _png(path: Path, size=(20, 20), mode="L", value=128):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, value if mode == "L" else (value, 0, 0)).save(path)


def test_folder_with_class_subfolders(tmp_path):
    for i in range(3):
        _png(tmp_path / "cats" / f"{i}.png", value=200)
        _png(tmp_path / "dogs" / f"{i}.png", value=50)
    d = load_dataset(f"folder:{tmp_path}")
    assert d.images.shape == (6, 1, 20, 20)
    assert d.class_names == ["cats", "dogs"]
    assert d.labels.tolist() == [0, 0, 0, 1, 1, 1]
    assert torch.allclose(d.images[0], torch.full((1, 20, 20), 200 / 255 * 2 - 1))


def test_folder_mixed_sizes_rgb_and_junk(tmp_path, capsys):
    _png(tmp_path / "a.png", (40, 30), "RGB")
    _png(tmp_path / "b.png", (24, 24), "RGB")
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG garbage")
    d = load_dataset(f"folder:{tmp_path}")
    assert d.images.shape == (2, 3, 24, 24)  # smallest side, centre-cropped square
    assert d.labels is None and d.num_classes == 0
    err = capsys.readouterr().err
    assert "skipped 2 unreadable or non-image files" in err
    assert "2 different sizes" in err


@pytest.mark.parametrize("setup,msg", [
    (lambda p: None, "does not exist"),
    (lambda p: p.mkdir(), "no images found in"),
    (lambda p: (p.mkdir(), (p / "x.txt").write_text("hi")), "1 unreadable or non-image files skipped"),
    (lambda p: p.write_text("file"), "is not a folder"),
])
def test_folder_errors(tmp_path, setup, msg):
    p = tmp_path / "data"
    setup(p)
    with pytest.raises(GenzooError, match=msg):
        load_dataset(f"folder:{p}")


def test_folder_mixing_classes_and_loose_images(tmp_path):
    _png(tmp_path / "cls" / "a.png")
    _png(tmp_path / "loose.png")
    with pytest.raises(GenzooError, match="mixes class subfolders with 1 loose images"):
        load_dataset(f"folder:{tmp_path}")


def test_channel_mismatch_with_the_model(tmp_path):
    _png(tmp_path / "a.png", mode="RGB")
    with pytest.raises(GenzooError, match="is RGB but the model expects grayscale"):
        load_dataset(f"folder:{tmp_path}", channels=1)
    with pytest.raises(GenzooError, match="is grayscale but the model expects RGB"):
        load_dataset("digits", channels=3)


def test_unknown_dataset_and_split():
    with pytest.raises(GenzooError, match="unknown dataset 'digts'; did you mean 'digits'"):
        load_dataset("digts")
    with pytest.raises(GenzooError, match="unknown split 'val'"):
        load_dataset("digits", split="val")


def test_rgb_photo_values_survive(tmp_path):
    arr = np.zeros((8, 8, 3), np.uint8)
    arr[..., 0] = 255
    Image.fromarray(arr).save(tmp_path / "red.png")
    d = load_dataset(f"folder:{tmp_path}")
    assert d.images.shape == (1, 3, 8, 8)
    assert torch.all(d.images[0, 0] == 1) and torch.all(d.images[0, 1:] == -1)


def test_explicit_channels_that_do_not_match_the_data(tmp_path):
    from genzoo.engine import train

    with pytest.raises(GenzooError, match="data 'digits' is grayscale but channels=3 was asked for"):
        train("dcgan", out=tmp_path / "r", progress=False, channels=3, steps=1)
    assert not (tmp_path / "r" / "model.safetensors").exists()
