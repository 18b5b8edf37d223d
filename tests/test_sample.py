"""Sampling: determinism, value ranges, output formats, labels and their errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import genzoo
from genzoo.errors import GenzooError
from genzoo.engine import train
from tests.conftest import TINY_DCGAN


def test_same_seed_same_images_bit_identical_across_calls_and_batching(tiny_run):
    m = genzoo.load(str(tiny_run))
    a = m.sample(20, seed=0)
    b = m.sample(20, seed=0, batch_size=7)  # batching does not change results
    assert a.shape == (20, 1, 16, 16) and a.dtype == torch.float32
    assert torch.equal(a, b)
    assert 0 <= a.min() and a.max() <= 1
    assert not torch.equal(a, m.sample(20, seed=1))
    # the first images do not depend on how many are drawn
    assert torch.equal(m.sample(5, seed=0), a[:5])


def test_sampling_does_not_touch_the_global_rng(tiny_run):
    m = genzoo.load(str(tiny_run))
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    m.sample(4, seed=0)
    assert torch.equal(torch.rand(3), expected)


def test_cli_sample_twice_gives_identical_pngs(cli, tiny_run, tmp_path):
    for name in ("a.png", "b.png"):
        code, _, err = cli("sample", tiny_run, "-n", "64", "--seed", "0", "--out", tmp_path / name)
        assert code == 0, err
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
    cli("sample", tiny_run, "-n", "64", "--seed", "1", "--out", tmp_path / "c.png")
    assert (tmp_path / "a.png").read_bytes() != (tmp_path / "c.png").read_bytes()


def test_cli_output_formats(cli, tiny_run, tmp_path):
    code, _, err = cli("sample", tiny_run, "-n", "5", "--out", f"{tmp_path}/each/")
    assert code == 0, err
    files = sorted((tmp_path / "each").iterdir())
    assert len(files) == 5
    with Image.open(files[0]) as im:
        assert im.size == (16, 16)
    code, _, err = cli("sample", tiny_run, "-n", "6", "--out", tmp_path / "s.npz")
    assert code == 0, err
    z = np.load(tmp_path / "s.npz")
    assert z["images"].shape == (6, 16, 16, 1) and z["images"].dtype == np.uint8
    assert "labels" not in z  # unconditional
    # the npz holds the same pixels as the model's [0,1] output, rounded
    ref = genzoo.load(str(tiny_run)).sample(6, seed=0)
    assert np.array_equal(z["images"][..., 0], (ref[:, 0] * 255).round().to(torch.uint8).numpy())


def test_cli_bad_output_and_source(cli, tiny_run, tmp_path):
    code, _, err = cli("sample", tiny_run, "--out", tmp_path / "x.txt")
    assert code == 1 and "use a .png grid, a folder ending in /, or a .npz file" in err
    code, _, err = cli("sample", "--out", tmp_path / "x.png")
    assert code == 1 and "give a SOURCE" in err
    code, _, err = cli("sample", "nowhere-at-all")
    assert code == 1 and "is not a run directory, an installed family, or a Hub repo id" in err
    assert "Traceback" not in err


def test_labels_on_an_unconditional_model_are_refused(cli, tiny_run):
    code, _, err = cli("sample", tiny_run, "--label", "3")
    assert code == 1
    assert "is not conditional, so it takes no labels" in err and "Traceback" not in err


@pytest.fixture(scope="module")
def conditional_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cond") / "run"
    train("dcgan", out=out, progress=False, **{**TINY_DCGAN, "conditional": True})
    return out


def test_conditional_labels_all_range_and_npz_labels(cli, conditional_run, tmp_path):
    m = genzoo.load(str(conditional_run))
    assert m.is_conditional and m.config.num_classes == 10
    x, y = m.sample(10, seed=0, return_labels=True)
    assert y.tolist() == list(range(10))  # no labels: cycle through the classes
    x3 = m.sample(4, seed=0, labels=3)
    assert x3.shape == (4, 1, 16, 16)
    with pytest.raises(GenzooError, match="label 10 is out of range; this model has classes 0..9"):
        m.sample(2, labels=10)
    with pytest.raises(GenzooError, match="got 3 labels for 2 samples"):
        m.sample(2, labels=[1, 2, 3])
    code, _, err = cli("sample", conditional_run, "-n", "20", "--label", "all", "--out", tmp_path / "all.npz")
    assert code == 0, err
    z = np.load(tmp_path / "all.npz")
    assert z["labels"].tolist() == [c for c in range(10) for _ in range(2)]
    code, _, err = cli("sample", conditional_run, "--label", "12")
    assert code == 1 and "out of range" in err
    code, _, err = cli("sample", conditional_run, "--label", "shoe")
    assert code == 1 and "--label takes a class number" in err


def test_load_family_name_gives_a_fresh_model():
    m = genzoo.load("dcgan")
    assert m.family_name == "dcgan" and m.config.image_size == 32
    assert m.sample(2, seed=0).shape == (2, 1, 32, 32)
    m2 = genzoo.create("dcgan", image_size=16, g_width=4, d_width=4)
    assert m2.sample(1, seed=0).shape == (1, 1, 16, 16)
    assert "dcgan" in genzoo.list_families()


def test_save_pretrained_from_pretrained_round_trip(tmp_path, tiny_run):
    m = genzoo.load(str(tiny_run))
    m.save_pretrained(tmp_path / "copy")
    from genzoo_dcgan import DCGANModel

    m2 = DCGANModel.from_pretrained(tmp_path / "copy")
    assert torch.equal(m.sample(4, seed=3), m2.sample(4, seed=3))
