"""Latent editing: attribute directions from labels (`genzoo edit`), maps of a latent space
(`genzoo latent-map`: the 2-D manifold grid and the scatter of encoded data), and real images
as the latents of `genzoo interpolate` and `genzoo arithmetic` (--from-images)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import genzoo
from genzoo.data import load_dataset
from genzoo.errors import GenzooError
from genzoo.hub import create
from genzoo.images import save_image, to_uint8
from genzoo.latent import (
    PALETTE,
    attribute_direction,
    axis_values,
    class_index,
    decode_edits,
    edit_latents,
    encode_latents,
    grid_quantiles,
    labelled_grid,
    load_latents,
    manifold,
    manifold_latents,
    parse_direction,
    project_2d,
)
from tests.conftest import needs_fashion

CELL, GAP, HEAD, SEP = 64, 2, 22, 8  # labelled_grid's layout


def _digits(n: int = 40, size: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    ds = load_dataset("digits", split="test", image_size=size, limit=n)
    return (ds.images + 1) / 2, ds.labels


def _cell(picture: np.ndarray, row: int, col: int, size: int, separated: bool) -> np.ndarray:
    """The (size, size) image in a labelled_grid picture, undoing the nearest upscale."""
    x = GAP + col * (CELL + GAP) + (SEP if separated and col > 0 else 0)
    y = HEAD + GAP + row * (CELL + GAP)
    k = CELL // size
    return picture[y : y + CELL : k, x : x + CELL : k]


@pytest.fixture(scope="module")
def image_files(tmp_path_factory) -> list[Path]:
    """Three digits test images as PNG files (16 x 16, gray)."""
    x, _ = _digits(3)
    d = tmp_path_factory.mktemp("edit-images")
    return [save_image(x[i], d / f"digit[{i}].png") for i in range(3)]


@pytest.fixture(scope="module")
def cvae_dir(tmp_path_factory) -> Path:
    """An untrained conditional VAE (no recorded data: commands take --data digits)."""
    torch.manual_seed(0)
    d = tmp_path_factory.mktemp("edit") / "cvae"
    create("cvae", image_size=16, channels=1, width=8, latent_dim=3, num_classes=10).save_pretrained(d, card=False)
    return d


# ------------------------------------------------------------------------------------------
# directions and edits
# ------------------------------------------------------------------------------------------
def test_edit_latents_adds_strength_times_direction():
    z, d = torch.randn(3, 5), torch.randn(5)
    moved = edit_latents(z, d, [-1.0, 0.0, 2.5])
    assert moved.shape == (3, 3, 5)
    assert torch.equal(moved[:, 1], z)
    assert torch.allclose(moved[:, 2] - moved[:, 1], 2.5 * d.expand(3, 5))
    assert torch.allclose(moved[:, 0], z - d)


@pytest.mark.parametrize("run", ["edit_vae2_run", "edit_ae_run"])
def test_strength_zero_is_the_reconstruction(run, request):
    model = genzoo.load(request.getfixturevalue(run))
    x, _ = _digits(12)
    z = encode_latents(model, x)
    out = decode_edits(model, z, torch.randn(model.latent_dim), [0.0, 1.0])
    assert out.shape == (12, 2, 1, 16, 16)
    assert torch.equal(out[:, 0], model.reconstruct(x))
    assert not torch.equal(out[:, 1], out[:, 0])


def test_conditional_strength_zero_is_the_reconstruction(cvae_dir):
    model = genzoo.load(cvae_dir)
    x, y = _digits(6)
    z = encode_latents(model, x, torch.full((6,), 3))
    out = decode_edits(model, z, torch.ones(3), [0.0], label=3)
    assert torch.equal(out[:, 0], model.reconstruct(x, 3))


def test_direction_is_the_difference_of_class_means(edit_ae_run):
    model = genzoo.load(edit_ae_run)
    x, y = _digits(60)
    d = attribute_direction(model, x, y, 1, 7)
    z = encode_latents(model, x)
    assert torch.allclose(d, z[y == 7].mean(0) - z[y == 1].mean(0), atol=1e-5)
    first = attribute_direction(model, x, y, 1, 7, per_class=2)
    assert torch.allclose(first, z[y == 7][:2].mean(0) - z[y == 1][:2].mean(0), atol=1e-5)
    with pytest.raises(GenzooError, match="no images of class 3"):
        attribute_direction(model, x[y != 3], y[y != 3], 3, 7)


def test_class_names_and_directions():
    names = ["T-shirt/top", "Sneaker", "Ankle boot"]
    assert class_index("ankle BOOT", names) == 2 and class_index("1", names) == 1
    assert parse_direction("Sneaker->Ankle boot", names) == (1, 2)
    assert parse_direction(" 0 -> ankle boot ", names) == (0, 2)
    with pytest.raises(GenzooError, match="unknown class 'Boot'.*'Ankle boot'"):
        parse_direction("Sneaker->Boot", names)
    with pytest.raises(GenzooError, match="takes 'FROM->TO'"):
        parse_direction("Sneaker-Ankle boot", names)
    with pytest.raises(GenzooError, match="from a class to itself"):
        parse_direction("Sneaker->sneaker", names)


def test_edit_cli_real_images_strength_zero_is_the_reconstruction(edit_vae2_run, image_files, cli, tmp_path):
    out = tmp_path / "edit.png"
    code, _, err = cli("edit", edit_vae2_run, *image_files, "--direction", "1->7", "--strengths", "-1,0,1",
                       "--out", out)
    assert code == 0, err
    assert "along '1' -> '7'" in err
    pic = np.asarray(Image.open(out).convert("L"))
    assert pic.shape == (HEAD + 3 * (CELL + GAP) + GAP, 4 * (CELL + GAP) + GAP + SEP)
    model = genzoo.load(edit_vae2_run)
    from genzoo.images import load_images  # the same reading the command does

    x = load_images(image_files, 16, 1)
    rec = to_uint8(model.reconstruct(x))[..., 0]
    inputs = to_uint8(x)[..., 0]
    for i in range(3):
        assert np.array_equal(_cell(pic, i, 0, 16, True), inputs[i])  # the input column
        assert np.array_equal(_cell(pic, i, 2, 16, True), rec[i])  # strength 0
        assert not np.array_equal(_cell(pic, i, 3, 16, True), rec[i])


def test_edit_cli_sampled_latents_are_seeded(edit_ae_run, cli, tmp_path):
    a, b, c = tmp_path / "a.png", tmp_path / "b.png", tmp_path / "c.png"
    args = ["edit", edit_ae_run, "--direction", "0->1", "-n", "3", "--strengths", "0,1"]
    assert cli(*args, "--seed", "5", "--out", a)[0] == 0
    assert cli(*args, "--seed", "5", "--out", b)[0] == 0
    assert cli(*args, "--seed", "6", "--out", c)[0] == 0
    assert a.read_bytes() == b.read_bytes() and a.read_bytes() != c.read_bytes()
    pic = np.asarray(Image.open(a).convert("L"))
    assert pic.shape == (HEAD + 3 * (CELL + GAP) + GAP, 2 * (CELL + GAP) + GAP)  # no input column
    model = genzoo.load(edit_ae_run)
    z = genzoo.latent.sample_latents(model, 3, 5)
    plain = to_uint8(model.decode(z))[..., 0]
    assert all(np.array_equal(_cell(pic, i, 0, 16, False), plain[i]) for i in range(3))


def test_edit_cli_conditional_uses_the_from_class(cvae_dir, image_files, cli, tmp_path):
    out = tmp_path / "e.png"
    code, _, err = cli("edit", cvae_dir, image_files[0], "--direction", "2->5", "--data", "digits",
                       "--per-class", "5", "--strengths", "0", "--out", out)
    assert code == 0, err
    model = genzoo.load(cvae_dir)
    x = genzoo.images.load_images(image_files[:1], 16, 1)
    pic = np.asarray(Image.open(out).convert("L"))
    assert np.array_equal(_cell(pic, 0, 1, 16, True), to_uint8(model.reconstruct(x, 2))[0, ..., 0])


def test_labelled_grid_titles_each_column():
    img = labelled_grid(torch.zeros(2, 3, 1, 8, 8), ["a", "b", "c"])
    assert img.size == (3 * (CELL + GAP) + GAP, HEAD + 2 * (CELL + GAP) + GAP)
    head = np.asarray(img.convert("L"))[:HEAD]
    assert (head < 128).any()  # the titles are drawn


# ------------------------------------------------------------------------------------------
# latent maps
# ------------------------------------------------------------------------------------------
def test_manifold_grid_spans_the_prior_quantiles(edit_vae2_run):
    model = genzoo.load(edit_vae2_run)
    assert model.default_sampler == "gmm"  # a trained VAE's default; the prior is asked for by name
    z = manifold_latents(model, 5, margin=0.1, sampler="normal")
    assert z.shape == (5, 5, 2)
    q = torch.distributions.Normal(0.0, 1.0).icdf(torch.tensor([0.1, 0.9]))
    assert torch.allclose(z[0, 0], torch.stack([q[0], q[1]]))  # top left: low z1, high z2
    assert torch.allclose(z[-1, -1], torch.stack([q[1], q[0]]))
    assert (z[0, 1:, 0] > z[0, :-1, 0]).all() and (z[1:, 0, 1] < z[:-1, 0, 1]).all()
    assert torch.allclose(z[2, 2], torch.zeros(2), atol=1e-6)  # the median
    images = manifold(model, 5, margin=0.1, sampler="normal")
    assert images.shape == (5, 5, 1, 16, 16) and 0 <= images.min() and images.max() <= 1
    assert torch.equal(images[1, 3], model.decode(z[1, 3][None])[0])
    # without a sampler the grid follows the default (the fitted mixture's quantiles)
    assert torch.equal(manifold_latents(model, 5, margin=0.1), manifold_latents(model, 5, margin=0.1, sampler="gmm"))


def test_quantiles_of_a_sampler_without_closed_form(edit_vae2_run):
    model = genzoo.load(edit_vae2_run)
    p = grid_quantiles(4, 0.05)
    v = axis_values(model, p, sampler="gmm")
    assert v.shape == (4, 2) and (v[1:] > v[:-1]).all()
    assert torch.equal(v, axis_values(model, p, sampler="gmm"))  # seeded draws
    u = axis_values(model, torch.tensor([0.0, 1.0]), sampler="uniform")
    assert torch.allclose(u, torch.tensor([[-3**0.5] * 2, [3**0.5] * 2]), atol=0.01)


def test_manifold_refuses_other_latent_sizes(edit_ae_run):
    with pytest.raises(GenzooError, match="needs a 2-D latent space.*has 4 dimensions"):
        manifold_latents(genzoo.load(edit_ae_run), 4)
    with pytest.raises(GenzooError, match="at least 2 points"):
        grid_quantiles(1)


def test_project_2d_is_pca_above_two_dimensions():
    gen = torch.Generator().manual_seed(0)
    z = torch.randn(4000, 5, generator=gen) * torch.tensor([0.1, 3.0, 0.1, 2.0, 0.1])
    pts, share = project_2d(z)
    assert pts.shape == (4000, 2)
    total = 0.01 * 3 + 9 + 4
    assert share[0] == pytest.approx(9 / total, abs=0.02) and share[1] == pytest.approx(4 / total, abs=0.02)
    assert torch.corrcoef(torch.stack([pts[:, 0], z[:, 1]]))[0, 1].abs() > 0.99
    assert torch.equal(project_2d(z)[0], pts)  # signs are fixed: the same picture every time
    flat = torch.randn(10, 2, generator=gen)
    assert torch.equal(project_2d(flat)[0], flat)  # a 2-D latent is kept as it is


def _colours(path: Path) -> set[tuple[int, int, int]]:
    return {tuple(int(v) for v in c) for c in np.unique(np.asarray(Image.open(path).convert("RGB")).reshape(-1, 3), axis=0)}


def test_latent_map_cli_auto_scatter_and_manifold(edit_ae_run, edit_vae2_run, cli, tmp_path):
    scatter = tmp_path / "scatter.png"
    code, _, err = cli("latent-map", edit_ae_run, "--out", scatter, "-n", "200")
    assert code == 0, err
    assert "projected on 2 principal components" in err
    colours = _colours(scatter)
    assert all(c in colours for c in PALETTE)  # a legend entry (and points) for each of the 10 digits
    grid = tmp_path / "grid.png"
    code, _, err = cli("latent-map", edit_vae2_run, "--out", grid, "--size", "4")
    assert code == 0, err
    assert "4 x 4 grid" in err
    assert Image.open(grid).size == Image.open(grid).size[::-1]
    code, _, err = cli("latent-map", edit_vae2_run, "--kind", "scatter", "--out", tmp_path / "s2.png", "-n", "100")
    assert code == 0 and "coloured by class" in err and "principal" not in err


# ------------------------------------------------------------------------------------------
# --from-images for interpolate and arithmetic
# ------------------------------------------------------------------------------------------
def test_interpolate_from_images_walks_between_their_codes(edit_ae_run, image_files, cli, tmp_path):
    z_file = tmp_path / "walk.npz"
    code, _, err = cli("interpolate", edit_ae_run, "--from-images", image_files[0], image_files[1], "--steps", "4",
                       "--method", "lerp", "--out", tmp_path / "walk.png", "--save-latents", z_file)
    assert code == 0, err
    assert "images digit[0].png, digit[1].png" in err
    model = genzoo.load(edit_ae_run)
    x = genzoo.images.load_images(image_files[:2], 16, 1)
    codes = encode_latents(model, x)
    walk = load_latents(z_file)
    assert walk.shape == (4, 4)
    assert torch.allclose(walk[0], codes[0], atol=1e-6) and torch.allclose(walk[-1], codes[1], atol=1e-6)
    assert torch.allclose(walk[1], codes[0] + (codes[1] - codes[0]) / 3, atol=1e-5)


def test_interpolate_from_a_folder_of_images(edit_vae2_run, image_files, cli, tmp_path):
    code, _, err = cli("interpolate", edit_vae2_run, "--from-images", image_files[0].parent, "--steps", "3",
                       "--out", tmp_path / "w.gif")
    assert code == 0, err
    assert Image.open(tmp_path / "w.gif").n_frames == 5  # three images, two legs of three, shared middle


def test_arithmetic_from_images(edit_ae_run, image_files, cli, tmp_path):
    z_file = tmp_path / "z.npz"
    code, _, err = cli("arithmetic", edit_ae_run, "--from-images", *image_files, "--variants", "0",
                       "--out", tmp_path / "a.png", "--save-latents", z_file)
    assert code == 0, err
    codes = encode_latents(genzoo.load(edit_ae_run), genzoo.images.load_images(image_files, 16, 1))
    z = load_latents(z_file)
    assert torch.allclose(z[:3], codes, atol=1e-6)
    assert torch.allclose(z[3], codes[0] - codes[1] + codes[2], atol=1e-5)
    # positions pick and average images, as seeds do
    code, _, err = cli("arithmetic", edit_ae_run, "--from-images", *image_files, "--a", "0,2", "--b", "1", "--c", "1",
                       "--variants", "0", "--out", tmp_path / "b.png", "--save-latents", z_file)
    assert code == 0, err
    assert torch.allclose(load_latents(z_file)[3], (codes[0] + codes[2]) / 2, atol=1e-5)


def test_from_images_conditional_needs_one_class(cvae_dir, image_files, cli, tmp_path):
    code, _, err = cli("interpolate", cvae_dir, "--from-images", *image_files[:2], "--out", tmp_path / "w.png")
    assert code == 1 and "name one class with --label" in err
    code, _, err = cli("interpolate", cvae_dir, "--from-images", *image_files[:2], "--label", "4",
                       "--out", tmp_path / "w.png")
    assert code == 0, err


# ------------------------------------------------------------------------------------------
# does the edit do what it says? (slow: trains a small VAE on Fashion-MNIST)
# ------------------------------------------------------------------------------------------
@pytest.mark.slow
@needs_fashion
def test_sneaker_to_ankle_boot_turns_sneakers_into_boots(tmp_path):
    """The shipped Fashion-MNIST classifier calls edited test sneakers ankle boots."""
    from genzoo.engine import train
    from genzoo.latent import labelled_data
    from genzoo.metrics.classifier import load_classifier, shipped

    run = tmp_path / "vae"
    train("vae", out=run, data="fashion-mnist", progress=False, width=16, latent_dim=8, steps=300,
          eval_images=200, sample_every=300, checkpoint_every=300, num_samples=16)
    model = genzoo.load(run)
    x, y, names, _ = labelled_data(model, split="train", limit=20000)
    xt, yt, _, _ = labelled_data(model, split="test")
    a, b = parse_direction("Sneaker->Ankle boot", names)
    d = attribute_direction(model, x, y, a, b, per_class=500)
    sneakers = xt[yt == a][:300]
    out = decode_edits(model, encode_latents(model, sneakers), d, [0.0, 1.5])
    clf, _ = load_classifier(shipped("fashion-mnist"))
    with torch.inference_mode():
        pred = clf(out.flatten(0, 1)).argmax(1).view(-1, 2)
    boots = (pred == b).float().mean(0)
    assert boots[1] > 0.8, f"only {boots[1]:.0%} of the edited sneakers look like ankle boots"
    assert boots[1] > boots[0] + 0.4, f"reconstructions {boots[0]:.0%}, edits {boots[1]:.0%}"
