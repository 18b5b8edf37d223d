"""Latent tools: lerp/slerp, walks between seeds, latent arithmetic, stored latents, and their CLI."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import genzoo
from genzoo.errors import GenzooError
from genzoo.hub import create
from genzoo.latent import (
    arithmetic,
    lerp,
    load_latents,
    path,
    pick,
    save_latents,
    seed_latents,
    slerp,
    walk,
)

SMALL = {"image_size": 16, "g_width": 8, "d_width": 8, "latent_dim": 16}


@pytest.fixture(scope="module")
def gan_dir(tmp_path_factory) -> Path:
    """An untrained gan saved as a model directory: enough for deterministic latent tools."""
    torch.manual_seed(0)
    d = tmp_path_factory.mktemp("lat") / "gan"
    create("gan", **{**SMALL, "g_width": 16, "d_width": 16}).save_pretrained(d, card=False)
    return d


@pytest.fixture(scope="module")
def cgan_dir(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    d = tmp_path_factory.mktemp("lat") / "cgan"
    create("cgan", num_classes=4, **SMALL).save_pretrained(d, card=False)
    return d


# ------------------------------------------------------------------------------------------
# interpolation maths
# ------------------------------------------------------------------------------------------
def test_lerp_and_slerp_hit_both_ends():
    a, b = torch.randn(32), torch.randn(32)
    t = torch.tensor([0.0, 1.0])
    for fn in (lerp, slerp):
        out = fn(a, b, t)
        assert out.shape == (2, 32)
        assert torch.allclose(out[0], a, atol=1e-5) and torch.allclose(out[1], b, atol=1e-5)
    assert torch.allclose(lerp(a, b, 0.5)[0], (a + b) / 2)


def test_slerp_keeps_the_norm_and_turns_at_a_constant_rate():
    """Orthogonal latents of equal norm: slerp stays on the sphere, at angle t * 90 degrees from a;
    lerp cuts through the inside (norm / sqrt 2 at the midpoint)."""
    a, b = torch.zeros(8), torch.zeros(8)
    a[0], b[1] = 3.0, 3.0
    t = torch.linspace(0, 1, 5)
    s = slerp(a, b, t)
    assert torch.allclose(s.norm(dim=1), torch.full((5,), 3.0), atol=1e-5)
    angles = torch.arccos((s @ a) / 9.0)
    assert torch.allclose(angles, t * math.pi / 2, atol=1e-3)
    assert lerp(a, b, 0.5)[0].norm().item() == pytest.approx(3 / math.sqrt(2), rel=1e-5)


def test_slerp_of_parallel_latents_is_finite():
    a = torch.randn(16)
    out = slerp(a, 2 * a, torch.linspace(0, 1, 4))
    assert torch.isfinite(out).all()
    assert torch.allclose(out, lerp(a, 2 * a, torch.linspace(0, 1, 4)))


def test_path_through_several_latents():
    z = torch.randn(3, 4)
    p = path(z, 5, "lerp")
    assert p.shape == (9, 4)  # two legs of 5 sharing the middle point
    assert torch.allclose(p[0], z[0]) and torch.allclose(p[4], z[1]) and torch.allclose(p[8], z[2])
    with pytest.raises(GenzooError, match="at least two latents"):
        path(z[:1], 5)
    with pytest.raises(GenzooError, match="--steps must be at least 2"):
        path(z, 1)
    with pytest.raises(GenzooError, match="unknown interpolation method 'cubic'"):
        path(z, 4, "cubic")


def test_arithmetic_averages_each_term():
    a = torch.tensor([[1.0, 0.0], [3.0, 0.0]])
    b = torch.tensor([[0.0, 1.0]])
    c = torch.tensor([[0.0, 0.0], [0.0, 4.0], [3.0, 2.0]])
    assert torch.equal(arithmetic(a, b, c), torch.tensor([2.0 - 0.0 + 1.0, 0.0 - 1.0 + 2.0]))


# ------------------------------------------------------------------------------------------
# seeds, walks and stored latents on a model
# ------------------------------------------------------------------------------------------
def test_seed_latent_is_the_one_sample_decodes(gan_dir):
    m = genzoo.load(str(gan_dir))
    z = seed_latents(m, [5, 9])
    assert z.shape == (2, 16)
    assert torch.allclose(m.decode(z[:1]), m.sample(1, seed=5), atol=1e-6)
    assert torch.allclose(m.decode(z[1:]), m.sample(1, seed=9), atol=1e-6)
    imgs = walk(m, z, steps=6)
    assert imgs.shape == (1, 6, 1, 16, 16)
    assert torch.allclose(imgs[0, 0], m.sample(1, seed=5)[0], atol=1e-6)
    assert torch.allclose(imgs[0, -1], m.sample(1, seed=9)[0], atol=1e-6)
    assert not torch.allclose(imgs[0, 2], imgs[0, 3])  # it moves


def test_conditional_walk_has_a_row_per_class(cgan_dir):
    m = genzoo.load(str(cgan_dir))
    z = seed_latents(m, [1, 2])
    imgs = walk(m, z, steps=4)
    assert imgs.shape == (4, 4, 1, 16, 16)
    assert torch.allclose(imgs[2, 0], m.sample(1, seed=1, labels=2)[0], atol=1e-6)
    assert walk(m, z, steps=4, label=3).shape == (1, 4, 1, 16, 16)
    with pytest.raises(GenzooError, match="label 7 is out of range; this model has classes 0..3"):
        walk(m, z, steps=4, label=7)


def test_stored_latents_round_trip_and_errors(tmp_path):
    z = torch.randn(5, 16)
    p = save_latents(tmp_path / "z.npz", z, seed=3)
    assert torch.equal(load_latents(p, 16), z)
    with pytest.raises(GenzooError, match="holds 16-dimensional latents but this model's latent_dim is 8"):
        load_latents(p, 8)
    with pytest.raises(GenzooError, match="not found"):
        load_latents(tmp_path / "missing.npz")
    np.savez(tmp_path / "other.npz", images=np.zeros((2, 3)))
    with pytest.raises(GenzooError, match="has no 'latents' array"):
        load_latents(tmp_path / "other.npz")
    with pytest.raises(GenzooError, match="latent index 5 is out of range; the stored file has rows 0..4"):
        pick(None, [0, 5], stored=z)
    with pytest.raises(GenzooError, match="stored as .npz"):
        save_latents(tmp_path / "z.pt", z)


# ------------------------------------------------------------------------------------------
# CLI
# ------------------------------------------------------------------------------------------
def test_interpolate_gif_and_grid(tiny_run, cli, tmp_path):
    """Works for any latent family: here the shared tiny DCGAN run."""
    code, out, err = cli("interpolate", tiny_run, "--seeds", "1", "2", "--steps", "8", "--out", tmp_path / "walk.gif")
    assert code == 0, err
    with Image.open(tmp_path / "walk.gif") as im:
        assert im.n_frames == 8 and im.is_animated
    code, out, err = cli("interpolate", tiny_run, "--seeds", "1,2,3", "--steps", "4", "--method", "lerp",
                         "--loop", "--out", tmp_path / "walk.png", "--save-latents", tmp_path / "walk.npz")
    assert code == 0, err
    z = load_latents(tmp_path / "walk.npz")
    assert z.shape == (10, 16)  # 1 -> 2 -> 3 -> 1: three legs of 4 sharing ends
    m = genzoo.load(str(tiny_run))
    assert torch.equal(z[0], z[-1]) and torch.equal(z[0], seed_latents(m, [1])[0])
    with Image.open(tmp_path / "walk.png") as im:
        assert im.size[0] > 5 * im.size[1]  # one row of ten


def test_interpolate_truncation_and_errors(tiny_run, cli, tmp_path):
    code, _, err = cli("interpolate", tiny_run, "--seeds", "4", "5", "--truncation", "0.5", "--method", "lerp",
                       "--out", tmp_path / "t.png", "--save-latents", tmp_path / "t.npz")
    assert code == 0, err
    assert load_latents(tmp_path / "t.npz").abs().max().item() <= 0.5
    for args, msg in [
        (("--seeds", "1"), "needs at least two values"),
        (("--seeds", "1", "2", "--steps", "1"), "--steps must be at least 2"),
        (("--seeds", "1", "2", "--out", tmp_path / "w.mp4"), "use .gif or .png"),
        (("--seeds", "1", "x"), "takes whole numbers"),
        (("--seeds", "1", "2", "--label", "3"), "not conditional"),
    ]:
        code, out, err = cli("interpolate", tiny_run, *args)
        assert code == 1 and msg in out + err, (args, out + err)


def test_interpolate_conditional_gif(cgan_dir, cli, tmp_path):
    code, _, err = cli("interpolate", cgan_dir, "--seeds", "1", "2", "--steps", "3", "--label", "all", "--out", tmp_path / "c.gif")
    assert code == 0, err
    with Image.open(tmp_path / "c.gif") as im:
        assert im.n_frames == 3 and im.size[0] > 3 * im.size[1]  # each frame: the four classes side by side


def test_sample_saves_latents_and_arithmetic_reuses_them(gan_dir, cli, tmp_path):
    code, out, err = cli("sample", gan_dir, "-n", "12", "--seed", "7", "--out", tmp_path / "s.npz",
                         "--save-latents", tmp_path / "z.npz")
    assert code == 0, err
    m = genzoo.load(str(gan_dir))
    z = load_latents(tmp_path / "z.npz", m.latent_dim)
    with np.load(tmp_path / "s.npz") as f:
        images = f["images"]
    from genzoo.images import to_uint8

    assert np.array_equal(to_uint8(m.decode(z)), images)  # row i of the file is image i of the sample
    code, out, err = cli("arithmetic", gan_dir, "--from", tmp_path / "z.npz", "--a", "0,3,5", "--b", "1",
                         "--c", "2,4", "--variants", "2", "--out", tmp_path / "math.png",
                         "--save-latents", tmp_path / "math.npz")
    assert code == 0, err
    got = load_latents(tmp_path / "math.npz")
    assert got.shape == (6, 16)  # a, b, c, result, two variants
    want = z[[0, 3, 5]].mean(0) - z[1] + z[[2, 4]].mean(0)
    assert torch.allclose(got[3], want) and torch.allclose(got[0], z[[0, 3, 5]].mean(0))
    assert 0 < (got[4] - got[3]).abs().max().item() <= 0.25
    with Image.open(tmp_path / "math.png") as im:
        assert im.size[0] > 4 * im.size[1]
    # seeds instead of stored rows
    code, _, err = cli("arithmetic", gan_dir, "--a", "1", "--b", "2", "--c", "3", "--variants", "0",
                       "--out", tmp_path / "m2.png", "--save-latents", tmp_path / "m2.npz")
    assert code == 0, err
    s = seed_latents(m, [1, 2, 3])
    assert torch.allclose(load_latents(tmp_path / "m2.npz")[3], s[0] - s[1] + s[2])


def test_arithmetic_errors(gan_dir, cli, tmp_path):
    code, out, err = cli("arithmetic", gan_dir, "--a", "1", "--b", "2", "--c", "3", "--out", tmp_path / "m.gif")
    assert code == 1 and "use .png" in out + err
    code, out, err = cli("arithmetic", gan_dir, "--from", tmp_path / "none.npz", "--a", "1", "--b", "2", "--c", "3")
    assert code == 1 and "not found" in out + err
    code, out, err = cli("sample", gan_dir, "--save-latents", tmp_path / "z.txt", "--out", tmp_path / "x.png")
    assert code == 1 and "stored as a .npz file" in out + err
