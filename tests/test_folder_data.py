"""folder: data users bring: lazy FolderSource, nested classes, label files, image modes, EXIF, fit."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageFile

import genzoo.data.folder as gf
from genzoo.data import load_dataset, load_raw, native_size
from genzoo.data.folder import FolderSource, UnreadableImage, open_folder, parse_folder, to_l_or_rgb
from genzoo.data.source import NO_LABEL, open_source
from genzoo.errors import GenzooError


def _save(path: Path, arr: np.ndarray, mode: str | None = None, **kw) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr, mode).save(path, **kw)
    return path


def _noise(shape, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def _to_255(x: torch.Tensor) -> torch.Tensor:
    return ((x + 1) / 2 * 255).round()


# ------------------------------------------------------------------------------------------
# lazy source == in-memory loader
# ------------------------------------------------------------------------------------------
def test_lazy_reads_equal_the_in_memory_result_and_pickle(tmp_path):
    for i, (h, w) in enumerate([(30, 40), (24, 24), (50, 33)]):
        _save(tmp_path / "cats" / f"{i}.png", _noise((h, w, 3), i))
        _save(tmp_path / "dogs" / "deeper" / f"{i}.png", _noise((h, w), 10 + i))
    raw = load_raw(f"folder:{tmp_path}")
    src = open_source(f"folder:{tmp_path}")
    assert isinstance(src, FolderSource) and len(src) == 6 and src.channels == 3 and src.image_size == 24
    assert src.class_names == ["cats", "dogs"] == raw.class_names
    x, y = src.read_many(range(len(src)))
    assert x.dtype == torch.uint8 and x.shape == (6, 3, 24, 24)
    assert torch.equal(x, raw.images) and torch.equal(y, raw.labels)
    assert y.tolist() == [0, 0, 0, 1, 1, 1]  # dogs/deeper/* belong to the first-level folder 'dogs'
    again = pickle.loads(pickle.dumps(src))  # plain paths: DataLoader workers can hold it
    assert torch.equal(again.read(4)[0], x[4])
    assert native_size(f"folder:{tmp_path}") == 24


def test_scanning_reads_headers_only(tmp_path, monkeypatch):
    for i in range(3):
        _save(tmp_path / f"{i}.png", _noise((20, 28, 3), i))
    exif = Image.Exif()
    exif[0x0112] = 8
    Image.fromarray(_noise((28, 20, 3), 9)).save(tmp_path / "4.jpg", exif=exif)  # upright: 20 tall, 28 wide
    good = (tmp_path / "0.png").read_bytes()
    (tmp_path / "3.png").write_bytes(good[: len(good) // 2])  # a valid header, damaged pixels
    monkeypatch.setattr(gf, "_PROBES", {})
    for cls in (Image.Image, ImageFile.ImageFile):
        monkeypatch.setattr(cls, "load", lambda self: pytest.fail("scanning decoded pixels"))
    src = open_folder(str(tmp_path))
    assert len(src) == 5 and src.image_size == 20 and src.labels == [NO_LABEL] * 5 and src._sizes == {(28, 20)}
    monkeypatch.undo()
    with pytest.raises(UnreadableImage, match="3.png"):
        src.read(3)
    raw = src.load()  # the in-memory loader skips it and says so
    assert raw.images.shape == (4, 3, 20, 20)
    assert any("skipped 1 unreadable or non-image files" in n and "3.png" in n for n in raw.notes)


def test_decodes_at_the_model_size_without_the_64px_cap(tmp_path):
    _save(tmp_path / "a.png", _noise((100, 120, 3), 0))
    assert load_raw(f"folder:{tmp_path}").images.shape[-1] == 64  # native: capped as before
    d = load_dataset(f"folder:{tmp_path}", image_size=96)
    assert d.images.shape == (1, 3, 96, 96)
    src = open_source(f"folder:{tmp_path}", image_size=96)
    assert src.image_size == 96 and torch.equal(_to_255(d.images[0]).to(torch.uint8), src.read(0)[0])


def test_fingerprint_changes_with_files_labels_and_policy(tmp_path):
    for i in range(2):
        _save(tmp_path / "a" / f"{i}.png", _noise((8, 8), i))
    fp = open_folder(str(tmp_path)).fingerprint()
    assert fp == open_folder(str(tmp_path)).fingerprint()
    assert fp != open_folder(f"{tmp_path}?fit=pad").fingerprint()
    assert fp != open_folder(str(tmp_path), image_size=16).fingerprint()
    f = tmp_path / "a" / "1.png"
    st = f.stat()
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # same bytes, newer time
    fp2 = open_folder(str(tmp_path)).fingerprint()
    assert fp2 != fp
    _save(tmp_path / "b" / "1.png", _noise((8, 8), 5))  # a new class folder and file
    assert open_folder(str(tmp_path)).fingerprint() not in (fp, fp2)


# ------------------------------------------------------------------------------------------
# nested class folders, splits
# ------------------------------------------------------------------------------------------
def _tree(root: Path, rel_paths: list[str]) -> None:
    for i, rel in enumerate(rel_paths):
        _save(root / rel, np.full((8, 8), 10 * i, np.uint8))


def test_depth_chooses_the_class_level(tmp_path):
    _tree(tmp_path, ["cats/siamese/a.png", "cats/tabby/b.png", "cats/tabby/c.png", "dogs/pug/d.png"])
    d1 = load_dataset(f"folder:{tmp_path}")
    assert d1.class_names == ["cats", "dogs"] and d1.labels.tolist() == [0, 0, 0, 1]
    d2 = load_dataset(f"folder:{tmp_path}?depth=2")
    assert d2.class_names == ["cats/siamese", "cats/tabby", "dogs/pug"] and d2.labels.tolist() == [0, 1, 1, 2]
    d0 = load_dataset(f"folder:{tmp_path}?depth=0")
    assert d0.labels is None and len(d0) == 4
    assert torch.equal(d0.images, d2.images)  # the same files in the same order
    with pytest.raises(GenzooError, match=r"depth=3 takes the class from the folders 3 levels below .* 4 images"):
        load_dataset(f"folder:{tmp_path}?depth=3")


def test_train_and_test_folders_are_the_splits(tmp_path):
    _tree(tmp_path, ["train/cat/a.png", "train/cat/b.png", "train/dog/c.png", "test/dog/d.png"])
    tr = load_dataset(f"folder:{tmp_path}")
    te = load_dataset(f"folder:{tmp_path}", split="test")
    assert tr.class_names == te.class_names == ["cat", "dog"]
    assert tr.labels.tolist() == [0, 0, 1] and te.labels.tolist() == [1]
    assert _to_255(te.images).max() == 30  # test/dog/d.png, the 4th file written
    _tree(tmp_path, ["test/bird/e.png"])
    with pytest.raises(GenzooError, match="class folder 'bird' of the test split has no folder in"):
        load_dataset(f"folder:{tmp_path}", split="test")


def test_without_split_folders_the_test_split_is_the_training_images(tmp_path):
    _tree(tmp_path, ["a.png"])
    te = load_dataset(f"folder:{tmp_path}", split="test")
    assert len(te) == 1 and any("the test split is the training images" in n for n in te.notes)


# ------------------------------------------------------------------------------------------
# labels from CSV or JSON
# ------------------------------------------------------------------------------------------
def test_labels_from_csv_text_classes_sorted(tmp_path):
    _tree(tmp_path, ["x/1.png", "2.png", "3.png"])
    (tmp_path / "labels.csv").write_text("file,label\nx/1.png,zebra\n2.png,ant\n3.png,zebra\n")
    d = load_dataset(f"folder:{tmp_path}?labels=labels.csv")
    assert d.class_names == ["ant", "zebra"]
    # files in path order: 2.png, 3.png, x/1.png
    assert d.labels.tolist() == [0, 1, 1] and _to_255(d.images[:, 0, 0, 0]).tolist() == [10, 20, 0]


def test_labels_from_json_integers(tmp_path):
    _tree(tmp_path, ["a.png", "b.png", "c.png"])
    (tmp_path / "y.json").write_text(json.dumps({"a.png": 2, "b.png": 0, "c.png": 2}))
    d = load_dataset(f"folder:{tmp_path}?labels=y.json")
    assert d.class_names == ["0", "1", "2"] and d.labels.tolist() == [2, 0, 2]
    src = open_source(f"folder:{tmp_path}?labels=y.json")
    assert [src.read(i)[1] for i in range(3)] == [2, 0, 2]
    (tmp_path / "y.json").write_text(json.dumps({"a.png": 2, "b.png": 1, "c.png": 2}))
    assert src.fingerprint() != open_source(f"folder:{tmp_path}?labels=y.json").fingerprint()


@pytest.mark.parametrize("content,msg", [
    ("file,label\na.png,cat\nb.png,dog\nc.png,cat\ngone.png,dog\n",
     "labels file 'l.csv' lists 1 files that are not in"),
    ("file,label\na.png,cat\nb.png,dog\n", "1 images in '{root}' are not in labels file 'l.csv' (c.png)"),
    ("file,label\na.png,cat\nb.png\nc.png,cat\n", "labels file 'l.csv' line 3: expected 2 columns file,label, found 1"),
    ("a.png,cat\nb.png,dog\nc.png,cat\n", "labels file 'l.csv' must start with the header row 'file,label'"),
    ("file,label\na.png,cat\na.png,dog\n", "line 3: 'a.png' is listed twice with different labels"),
    ("file,label\na.png,-1\nb.png,0\nc.png,1\n", "gives 'a.png' the negative label -1"),
    ("file,label\na.png,\nb.png,0\nc.png,1\n", "line 2: label \"\" for 'a.png' is empty"),
])
def test_bad_label_files(tmp_path, content, msg):
    _tree(tmp_path, ["a.png", "b.png", "c.png"])
    (tmp_path / "l.csv").write_text(content)
    with pytest.raises(GenzooError) as e:
        load_dataset(f"folder:{tmp_path}?labels=l.csv")
    assert msg.format(root=tmp_path) in str(e.value) and "\n" not in str(e.value)


# ------------------------------------------------------------------------------------------
# image modes, EXIF orientation
# ------------------------------------------------------------------------------------------
def test_rgba_is_composited_on_the_chosen_background(tmp_path):
    arr = np.zeros((8, 8, 4), np.uint8)
    arr[..., 0] = 200
    arr[:, :4, 3] = 255  # left half opaque red, right half fully transparent
    _save(tmp_path / "a.png", arr, "RGBA")
    _save(tmp_path / "b.png", _noise((8, 8, 3), 0))
    white = load_dataset(f"folder:{tmp_path}")
    black = load_dataset(f"folder:{tmp_path}?background=black")
    w, b = _to_255(white.images[0]), _to_255(black.images[0])
    assert w[:, :, :4].tolist() == b[:, :, :4].tolist() and w[0, 0, 0] == 200 and w[1, 0, 0] == 0
    assert (w[:, :, 4:] == 255).all() and (b[:, :, 4:] == 0).all()
    assert any("1 images with transparency" in n and "composited on white" in n for n in white.notes)
    assert any("composited on black" in n for n in black.notes)


def test_la_palette_cmyk_and_deep_modes(tmp_path):
    la = np.zeros((8, 8, 2), np.uint8)
    la[..., 0], la[..., 1] = 100, 255
    la[0, 0, 1] = 0
    _save(tmp_path / "la.png", la, "LA")
    p = Image.new("P", (8, 8), 1)
    p.putpalette([0, 0, 0, 50, 50, 50] + [0] * 762)
    p.info["transparency"] = 0
    p.putpixel((0, 0), 0)
    p.save(tmp_path / "p.png", transparency=0)
    Image.fromarray(np.full((8, 8), 3000, np.int32), "I").save(tmp_path / "i.tif")
    d = load_dataset(f"folder:{tmp_path}")
    # P is not a grayscale mode: the folder is RGB; files in name order: i.tif, la.png, p.png
    assert d.channels == 3
    x = _to_255(d.images)
    assert x[0].unique().tolist() == [round(3000 / 65535 * 255)]  # 16-bit range (fits 16 bits)
    assert x[1, :, 0, 0].tolist() == [255] * 3 and x[1, :, 1, 1].tolist() == [100] * 3  # LA: transparent -> white
    assert x[2, :, 0, 0].tolist() == [255] * 3 and x[2, :, 1, 1].tolist() == [50] * 3  # palette transparency
    notes = " | ".join(d.notes)
    assert "2 images with transparency" in notes and "converted 1 16-bit images" in notes
    Image.new("CMYK", (8, 8), (0, 255, 255, 0)).save(tmp_path / "c.jpg")
    (tmp_path / "i.tif").unlink()
    d = load_dataset(f"folder:{tmp_path}")
    c = _to_255(d.images[0])  # c.jpg: CMYK red
    assert c[0].min() > 230 and c[1:].max() < 25
    assert any("converted 1 CMYK images to RGB" in n for n in d.notes)


def test_ycbcr_and_one_bit_convert():
    im = Image.new("RGB", (4, 4), (10, 200, 30)).convert("YCbCr")
    out, deep = to_l_or_rgb(im, gray=False)
    assert out.mode == "RGB" and deep is None and max(abs(a - b) for a, b in zip(out.getpixel((0, 0)), (10, 200, 30))) <= 3
    out, _ = to_l_or_rgb(Image.new("1", (4, 4), 1), gray=True)
    assert out.mode == "L" and out.getpixel((0, 0)) == 255


def test_exif_orientation_is_respected(tmp_path):
    # stored 32 wide x 16 tall, left half black; orientation 6 = shown turned 90 degrees clockwise,
    # so upright it is 16 wide x 32 tall with the black half on top
    arr = np.full((16, 32, 3), 255, np.uint8)
    arr[:, :16] = 0
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(arr).save(tmp_path / "r.jpg", exif=exif, quality=95)
    with Image.open(tmp_path / "r.jpg") as im:
        assert im.getexif()[0x0112] == 6 and im.size == (32, 16)
    src = open_source(f"folder:{tmp_path}?fit=resize", image_size=16)
    x = src.read(0)[0].float()
    assert x[:, :7].mean() < 20 and x[:, 9:].mean() > 235  # black on top, white below
    assert src._sizes == {(16, 32)}  # the header's size, turned upright
    d = load_dataset(f"folder:{tmp_path}?fit=resize", image_size=16)
    assert torch.equal(_to_255(d.images[0]), x) and any("turned 1 images upright by their EXIF orientation" in n
                                                        for n in d.notes)


# ------------------------------------------------------------------------------------------
# fit: crop, resize, pad
# ------------------------------------------------------------------------------------------
def test_fit_policies(tmp_path):
    arr = np.zeros((10, 20), np.uint8)  # 20 wide, 10 tall, black with a grey left quarter
    arr[:, :5] = 128
    _save(tmp_path / "a.png", arr)
    crop = load_dataset(f"folder:{tmp_path}")
    assert crop.images.shape == (1, 1, 10, 10) and _to_255(crop.images).max() == 0  # centre square only
    assert any("fit: the centre square was kept (fit=crop" in n for n in crop.notes)
    resize = load_dataset(f"folder:{tmp_path}?fit=resize")
    r = _to_255(resize.images[0, 0])
    assert r.shape == (10, 10) and (r[:, 0] > 100).all() and (r[:, -1] == 0).all()  # the grey quarter is kept
    assert any("fit=resize" in n for n in resize.notes)
    pad = load_dataset(f"folder:{tmp_path}?fit=pad")
    p = _to_255(pad.images[0, 0])
    assert p.shape == (20, 20)  # native side: the longer side
    assert (p[:5] == 255).all() and (p[15:] == 255).all() and (p[5:15, 5:] == 0).all() and (p[5:15, :5] == 128).all()
    assert any("padded to a square with white (fit=pad)" in n for n in pad.notes)
    assert any("with black" in n for n in load_dataset(f"folder:{tmp_path}?fit=pad&background=black").notes)


def test_square_images_with_the_default_fit_have_no_notes(tmp_path):
    _save(tmp_path / "a.png", np.full((8, 8), 7, np.uint8))
    assert "notes" not in load_dataset(f"folder:{tmp_path}").describe()


@pytest.mark.parametrize("arg,msg", [
    ("{p}?fit=stretch", "unknown fit 'stretch'"),
    ("{p}?colour=red", "unknown folder option 'colour'"),
    ("{p}?depth=x", "depth='x' is not a whole number"),
    ("{p}?background=grey", "unknown background 'grey'"),
    ("{p}?labels=", "labels= needs a file name"),
    ("{p}?labels=l.csv&depth=1", "labels= and depth= are two ways"),
    ("{p}?fit=crop&fit=pad", "'fit' is given twice"),
    ("{p}?labels=nope.csv", "labels file 'nope.csv' does not exist"),
    ("{p}?labels=a.png", "must end in .csv"),
])
def test_bad_options(tmp_path, arg, msg):
    _tree(tmp_path, ["a.png"])
    with pytest.raises(GenzooError, match=msg.replace("(", r"\(").replace("?", r"\?")):
        parse_folder(arg.format(p=tmp_path)) and open_folder(arg.format(p=tmp_path))
