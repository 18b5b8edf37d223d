"""Paired data: the pairs: loader and its errors, paired tasks, skimage-patches, scores, grids."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from genzoo.data import ImageDataset, load_dataset
from genzoo.data.tasks import (
    INPUTS,
    MASK,
    apply_task,
    baseline,
    comparison_rows,
    make_paired,
    psnr_ssim,
    random_holes,
    smooth_fill,
    swap_direction,
    tasks,
)
from genzoo.errors import GenzooError


def _img(path: Path, arr: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr.astype(np.uint8)).save(path)
    return path


def _ramp(h: int, w: int, k: int) -> np.ndarray:
    return (np.add.outer(np.arange(h), np.arange(w)) * (k + 1) * 7 % 256).astype(np.uint8)


def _ab_folders(root: Path, names_a: list[str], names_b: list[str], size=(16, 16), size_b=None) -> Path:
    for i, n in enumerate(names_a):
        _img(root / "A" / n, _ramp(size[1], size[0], i))
    for i, n in enumerate(names_b):
        sb = size_b or size
        _img(root / "B" / n, np.stack([_ramp(sb[1], sb[0], i + 5)] * 3, -1))
    return root


# ------------------------------------------------------------------------------------------
# pairs: loader
# ------------------------------------------------------------------------------------------
def test_side_by_side_pairs_split_into_a_and_b(tmp_path):
    for i in range(3):
        a = np.full((16, 16), 10 * i, np.uint8)
        b = np.full((16, 16), 200 - 10 * i, np.uint8)
        _img(tmp_path / f"{i}.png", np.concatenate([a, b], axis=1))  # A | B, 32 wide
    ds = load_dataset(f"pairs:{tmp_path}")
    assert ds.images.shape == (3, 1, 16, 16) and ds.extra[INPUTS].shape == (3, 1, 16, 16)
    # images are B (targets), inputs are A; values mapped to [-1, 1]
    assert torch.allclose(ds.images[1], torch.full((1, 16, 16), 190 / 255 * 2 - 1), atol=1e-5)
    assert torch.allclose(ds.extra[INPUTS][1], torch.full((1, 16, 16), 10 / 255 * 2 - 1), atol=1e-5)
    back = swap_direction(ds, "BtoA")
    assert torch.equal(back.images, ds.extra[INPUTS]) and torch.equal(back.extra[INPUTS], ds.images)
    assert swap_direction(ds, "AtoB") is ds
    with pytest.raises(GenzooError, match="AtoB or BtoA"):
        swap_direction(ds, "AB")


def test_ab_folders_match_by_name_and_may_differ_in_channels(tmp_path):
    _ab_folders(tmp_path, ["x.png", "y.png"], ["x.png", "y.jpg"])  # extensions may differ
    ds = load_dataset(f"pairs:{tmp_path}")
    assert ds.channels == 3 and ds.extra[INPUTS].shape[1] == 1  # gray A -> RGB B
    assert len(ds) == 2


def test_split_folders(tmp_path):
    _ab_folders(tmp_path / "train", ["a.png", "b.png", "c.png"], ["a.png", "b.png", "c.png"])
    _ab_folders(tmp_path / "val", ["d.png"], ["d.png"])
    assert len(load_dataset(f"pairs:{tmp_path}")) == 3
    assert len(load_dataset(f"pairs:{tmp_path}", split="test")) == 1  # val/ serves as test


def test_mismatched_names_are_named(tmp_path):
    _ab_folders(tmp_path, ["cat.png", "dog.png"], ["cat.png", "dgo.png"])
    with pytest.raises(GenzooError) as e:
        load_dataset(f"pairs:{tmp_path}")
    msg = str(e.value)
    assert "do not match" in msg and "dog.png" in msg and "dgo.png" in msg


def test_different_counts_are_reported_with_the_extra_file(tmp_path):
    _ab_folders(tmp_path, ["1.png", "2.png", "3.png"], ["1.png", "2.png"])
    with pytest.raises(GenzooError) as e:
        load_dataset(f"pairs:{tmp_path}")
    msg = str(e.value)
    assert "has 3 images" in msg and "has 2" in msg and "3.png" in msg


def test_pair_of_different_sizes_names_both_files(tmp_path):
    _ab_folders(tmp_path, ["p.png"], ["p.png"], size=(16, 16), size_b=(20, 16))
    with pytest.raises(GenzooError) as e:
        load_dataset(f"pairs:{tmp_path}")
    msg = str(e.value)
    assert "different sizes" in msg and str(tmp_path / "A" / "p.png") in msg and str(tmp_path / "B" / "p.png") in msg
    assert "16x16" in msg and "20x16" in msg


def test_other_pair_errors(tmp_path):
    odd = tmp_path / "odd"
    _img(odd / "w.png", np.zeros((8, 17), np.uint8))
    with pytest.raises(GenzooError, match=r"w.png' is 17 px wide.*even width"):
        load_dataset(f"pairs:{odd}")
    only_a = tmp_path / "only_a"
    _img(only_a / "A" / "1.png", np.zeros((8, 8), np.uint8))
    with pytest.raises(GenzooError, match="has A/ but no B/"):
        load_dataset(f"pairs:{only_a}")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(GenzooError, match="no image pairs"):
        load_dataset(f"pairs:{empty}")
    broken = tmp_path / "broken"
    _ab_folders(broken, ["1.png"], ["1.png"])
    (broken / "B" / "1.png").write_bytes(b"not a png")
    with pytest.raises(GenzooError, match=r"1.png' is not a readable image"):
        load_dataset(f"pairs:{broken}")
    dup = tmp_path / "dup"
    _ab_folders(dup, ["1.png", "2.png"], ["1.png", "2.png"])
    _img(dup / "A" / "1.jpg", np.zeros((16, 16), np.uint8))
    with pytest.raises(GenzooError, match="same name"):
        load_dataset(f"pairs:{dup}")
    split = tmp_path / "split"
    _ab_folders(split / "train", ["1.png"], ["1.png"])
    with pytest.raises(GenzooError, match="no test/ or val/"):
        load_dataset(f"pairs:{split}", split="test")
    with pytest.raises(GenzooError, match="not a folder"):
        load_dataset(f"pairs:{tmp_path / 'nope'}")


def test_pairs_of_different_sizes_across_files_stay_aligned(tmp_path):
    # two side-by-side pairs at different sizes, A == B: after crop/resize they must still match
    for i, s in enumerate((16, 24)):
        half = np.stack([_ramp(s, s, i)] * 3, -1)
        _img(tmp_path / f"{i}.png", np.concatenate([half, half], axis=1))
    ds = load_dataset(f"pairs:{tmp_path}")
    assert ds.images.shape == (2, 3, 16, 16)
    assert torch.equal(ds.images, ds.extra[INPUTS])


# ------------------------------------------------------------------------------------------
# paired tasks
# ------------------------------------------------------------------------------------------
def _plain(n: int = 6, c: int = 1, s: int = 32, split: str = "train") -> ImageDataset:
    g = torch.Generator().manual_seed(1)
    x = torch.rand(n, c, s, s, generator=g) * 2 - 1
    return ImageDataset(name="rand", split=split, images=x, labels=None, class_names=[])


def test_task_registry_lists_the_five_tasks():
    assert {"superres", "inpaint", "denoise", "edges", "colorize"} <= set(tasks.names())


def test_superres_input_is_bicubic_of_the_small_image_and_is_the_baseline():
    ds = _plain(4)
    for f in (2, 4):
        p = apply_task(ds, f"superres:{f}")
        x = p.extra[INPUTS]
        assert x.shape == ds.images.shape and torch.equal(p.images, ds.images)
        # fine detail is gone (much less total variation than the noise target), the coarse content stays
        tv = lambda t: (t[..., 1:, :] - t[..., :-1, :]).abs().mean() + (t[..., :, 1:] - t[..., :, :-1]).abs().mean()  # noqa: E731
        assert tv(x) < 0.5 * tv(ds.images)
        assert (x.mean((1, 2, 3)) - ds.images.mean((1, 2, 3))).abs().max() < 0.02
        b, name = baseline(p, f"superres:{f}")
        assert torch.equal(b, x) and "bicubic" in name
    assert apply_task(ds, "superres").source.endswith("superres")
    with pytest.raises(GenzooError, match="2 or 4"):
        apply_task(ds, "superres:3")
    with pytest.raises(GenzooError, match="factor 2 or 4"):
        apply_task(ds, "superres:big")


def test_inpaint_holes_are_gray_inside_and_exact_outside():
    ds = _plain(50)
    p = apply_task(ds, "inpaint", seed=3)
    m = p.extra[MASK].bool()
    x = p.extra[INPUTS]
    assert m.shape == (50, 1, 32, 32) and p.extra[MASK].dtype == torch.uint8
    assert torch.all(x[m] == 0) and torch.equal(x[~m], ds.images[~m])
    area = m.float().mean((1, 2, 3))
    assert area.min() >= (8 * 8) / 1024 - 1e-6 and area.max() <= (16 * 16) / 1024 + 1e-6  # one hole, side S/4..S/2
    assert (area > area.min()).any()  # sizes vary
    # same seed, same holes; another split, other holes
    assert torch.equal(apply_task(ds, "inpaint", seed=3).extra[MASK], p.extra[MASK])
    assert not torch.equal(apply_task(_plain(50, split="test"), "inpaint", seed=3).extra[MASK], p.extra[MASK])
    more = apply_task(ds, "inpaint:3", seed=3).extra[MASK].float().mean()
    assert more > m.float().mean()
    with pytest.raises(GenzooError, match="1..8 holes"):
        apply_task(ds, "inpaint:0")


def test_smooth_fill_keeps_known_pixels_and_fills_smoothly():
    x = torch.linspace(-1, 1, 32).view(1, 1, 1, 32).expand(2, 1, 32, 32).clone()  # a horizontal ramp
    mask = random_holes(2, 32, 1, torch.Generator().manual_seed(0))
    holed = x.masked_fill(mask.bool(), 0.0)
    out = smooth_fill(holed, mask)
    assert torch.equal(out[~mask.bool()], x[~mask.bool()])
    # a ramp is harmonic: the fill recovers it closely (the gray hole itself is far off)
    assert (out - x).abs().max() < 0.05 < (holed - x).abs().max()


def test_denoise_edges_colorize():
    ds = _plain(4)
    d = apply_task(ds, "denoise:0.1", seed=0)
    noise = (d.extra[INPUTS] - ds.images)
    assert 0.15 < noise.std() < 0.21  # 2 * 0.1 in [-1, 1] units, a little less after clipping
    assert torch.equal(apply_task(ds, "denoise:0.1", seed=0).extra[INPUTS], d.extra[INPUTS])
    with pytest.raises(GenzooError, match=r"\(0, 1\]"):
        apply_task(ds, "denoise:2")
    e = apply_task(_plain(3, c=3), "edges")
    assert e.extra[INPUTS].shape == (3, 1, 32, 32) and set(e.extra[INPUTS].unique().tolist()) <= {-1.0, 1.0}
    c = apply_task(_plain(3, c=3), "colorize")
    assert c.extra[INPUTS].shape == (3, 1, 32, 32) and c.images.shape[1] == 3
    assert baseline(c, "colorize")[0].shape == (3, 3, 32, 32)
    with pytest.raises(GenzooError, match="needs RGB"):
        apply_task(ds, "colorize")
    with pytest.raises(GenzooError, match="takes no argument"):
        apply_task(ds, "edges:5")
    assert baseline(e, "edges") is None


def test_task_errors():
    ds = _plain(2)
    with pytest.raises(GenzooError, match="unknown task 'superess'.*superres"):
        apply_task(ds, "superess")
    paired = apply_task(ds, "denoise")
    with pytest.raises(GenzooError, match="already paired"):
        apply_task(paired, "denoise")
    with pytest.raises(GenzooError, match="needs paired data"):
        swap_direction(ds, "BtoA")


def test_make_paired_resizes_before_degrading():
    ds = _plain(2, s=28)
    p = make_paired(ds, task="superres:4", image_size=32, direction="AtoB")
    assert p.images.shape == (2, 1, 32, 32) and p.extra[INPUTS].shape == (2, 1, 32, 32)
    swapped = make_paired(ds, task="superres:4", image_size=32, direction="BtoA")
    assert torch.equal(swapped.images, p.extra[INPUTS])


# ------------------------------------------------------------------------------------------
# skimage-patches, scores, grids
# ------------------------------------------------------------------------------------------
def test_skimage_patches_are_rgb_and_train_test_disjoint():
    tr = load_dataset("skimage-patches")
    te = load_dataset("skimage-patches", split="test")
    assert tr.channels == 3 and tr.image_size == 64 and len(tr) > 500 and len(te) > 100
    flat_tr = {hash(t.numpy().tobytes()) for t in ((tr.images + 1) * 127.5).round().to(torch.uint8)}
    flat_te = {hash(t.numpy().tobytes()) for t in ((te.images + 1) * 127.5).round().to(torch.uint8)}
    assert not flat_tr & flat_te
    assert load_dataset("skimage-patches:32", split="test").image_size == 32
    with pytest.raises(GenzooError, match="16..128"):
        load_dataset("skimage-patches:4")


def test_psnr_ssim():
    x = torch.rand(3, 1, 32, 32)
    assert psnr_ssim(x, x) == (100.0, 1.0)
    noisy = (x + 0.1 * torch.randn_like(x)).clamp(0, 1)
    p, s = psnr_ssim(noisy, x)
    assert 15 < p < 25 and s < 0.95
    worse_p, worse_s = psnr_ssim((x + 0.3 * torch.randn_like(x)).clamp(0, 1), x)
    assert worse_p < p and worse_s < s
    with pytest.raises(GenzooError, match="cannot score"):
        psnr_ssim(x, x[:2])


def test_comparison_rows_put_each_item_in_one_row():
    a, b = torch.zeros(4, 1, 8, 8), torch.ones(4, 3, 8, 8) * 0.5
    imgs, nrow = comparison_rows([a, b], groups=1)
    assert nrow == 2 and imgs.shape == (8, 3, 8, 8)  # gray shown in RGB next to RGB
    assert torch.all(imgs[0::2] == 0) and torch.all(imgs[1::2] == 0.5)
    imgs, nrow = comparison_rows([a, b, a], groups=3)  # 4 items, 3 per row: 2 rows, one blank group
    assert nrow == 9 and imgs.shape[0] == 18 and torch.all(imgs[-3:] == 1)
