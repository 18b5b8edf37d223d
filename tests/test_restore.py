"""Restoration of linear degradations (genzoo.degradations, genzoo restore, genzoo_diffusion.restore: DDNM)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from genzoo.capabilities import Restores, families_with, has_capability
from genzoo.data.tasks import INPUTS, MASK, parse_task, random_holes
from genzoo.degradations import LinearOperator

SIZE = 16
LINEAR = ["superres:2", "superres:4", "deblur", "deblur:0.7", "colorize", "inpaint", "denoise"]


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models: one intra-op thread is faster than two on a busy machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _operator(spec: str, n: int = 3, size: int = SIZE) -> tuple[LinearOperator, int, dict]:
    task, raw = parse_task(spec)
    channels = 3 if task.name == "colorize" else 1
    arg = task.parse(raw, size, channels)
    extras = {MASK: random_holes(n, size, 2, torch.Generator().manual_seed(1))}
    return task.operator(arg, size, channels, extras), channels, extras


# ------------------------------------------------------------------------------------------
# the operators
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("spec", LINEAR)
def test_pseudo_inverse_conditions(spec):
    """A A^+ A = A and A^+ A A^+ = A^+ (Moore-Penrose), on random images."""
    op, c, _ = _operator(spec)
    x = torch.rand(3, c, SIZE, SIZE, generator=torch.Generator().manual_seed(0)) * 2 - 1
    ax = op.A(x)
    tol = 2e-2 if spec.startswith("deblur") else 1e-4  # the blur's inverse drops singular values < 1e-2 of the largest
    assert (op.A(op.pinv(ax)) - ax).abs().max() < tol
    p = op.pinv(ax)
    assert torch.allclose(op.pinv(op.A(p)), p, atol=tol)
    assert p.shape == x.shape


@pytest.mark.parametrize("spec", ["superres:2", "superres:4", "deblur", "deblur:0.7", "colorize", "inpaint"])
def test_operator_is_the_task_degradation(spec):
    """A(x) equals the paired task's own input (images inside the range, where its clamps do nothing)."""
    task, raw = parse_task(spec)
    op, c, extras = _operator(spec)
    x = torch.rand(3, c, SIZE, SIZE, generator=torch.Generator().manual_seed(2)) * 0.6 - 0.3
    made = task.make(x, task.parse(raw, SIZE, c), torch.Generator().manual_seed(1))
    if MASK in made:  # the operator of these holes
        op = task.operator(None, SIZE, c, made)
    assert torch.allclose(op.A(x), made[INPUTS], atol=1e-5)


def test_edges_has_no_operator():
    assert parse_task("edges")[0].operator is None


def test_deblur_task_for_pix2pix():
    """deblur is a paired task like the others: blurred input, the blurred image as baseline."""
    from genzoo.data import ImageDataset
    from genzoo.data.tasks import apply_task, baseline
    from genzoo.errors import GenzooError

    x = torch.rand(4, 1, SIZE, SIZE) * 2 - 1
    data = apply_task(ImageDataset(name="t", split="test", images=x, labels=None, class_names=[]), "deblur:1")
    assert data.extra[INPUTS].shape == x.shape
    assert data.extra[INPUTS].std() < x.std()  # blurred
    b, name = baseline(data, "deblur:1")
    assert torch.equal(b, data.extra[INPUTS].clamp(-1, 1)) and name == "the blurred image"
    with pytest.raises(GenzooError, match="too wide"):
        parse_task("deblur:4")[0].parse("4", 8, 1)


# ------------------------------------------------------------------------------------------
# DDNM: the null-space projection keeps the measurement whatever the prior predicts
# ------------------------------------------------------------------------------------------
class _RandomPrior:
    """Stands in for a diffusion model: the noise schedule, and x0 predictions that are pure noise."""

    def __init__(self, channels: int):
        from genzoo_diffusion import NoiseSchedule

        self.schedule = NoiseSchedule("linear", 100, 1e-4, 0.02)
        self.gen = torch.Generator().manual_seed(3)
        self.channels = channels

    def predict_x0_eps(self, x, t, labels, guidance=1.0, clip=True):
        x0 = torch.rand(x.shape, generator=self.gen) * 2 - 1
        ab = self.schedule.abar(t)
        return x0, (x - math.sqrt(ab) * x0) / math.sqrt(1 - ab)


@pytest.mark.parametrize("spec", ["superres:2", "superres:4", "deblur", "colorize", "inpaint"])
def test_ddnm_final_image_is_measurement_consistent(spec):
    """With any x0 prediction, the DDNM hook makes A(x_0) = A A^+ y exactly (the sampler's raw output)."""
    from genzoo_diffusion.restore import ddnm_hook
    from genzoo_diffusion.samplers import DDIMSampler

    op, c, _ = _operator(spec)
    prior = _RandomPrior(c)
    x = torch.rand(3, c, SIZE, SIZE, generator=torch.Generator().manual_seed(4)) * 2 - 1
    y = op.A(x)
    gen = torch.Generator().manual_seed(5)
    x_T = torch.randn(3, c, SIZE, SIZE, generator=gen)
    out = DDIMSampler().run(prior, x_T, None, lambda: torch.randn(x_T.shape, generator=gen), timesteps=[99, 60, 30, 10],
                            estimate_hooks=[ddnm_hook(prior, op, y, eta=0.85)], eta=0.85)
    # the blur's truncated inverse leaves out components the blur shrinks below 1e-2: there the
    # result follows the prior, so A(x_0) matches y only up to those
    tol = 2e-2 if spec == "deblur" else 1e-4
    assert (op.A(out) - y).abs().max() < tol


def test_ddnm_plus_trusts_a_noisy_measurement_less_at_the_end():
    """DDNM+ (denoise): the result is not the noisy input; the eps term shrinks while y's noise is taken in."""
    from genzoo_diffusion.restore import ddnm_hook

    op, _, _ = _operator("denoise:0.2")
    prior = _RandomPrior(1)
    y = torch.zeros(2, 1, SIZE, SIZE)
    fix = ddnm_hook(prior, op, y, eta=0.0)
    x0 = torch.ones(2, 1, SIZE, SIZE)
    eps = torch.ones(2, 1, SIZE, SIZE)
    early, e_early = fix(99, 60, x0, x0, eps)  # very noisy step: the measurement is taken whole
    assert torch.allclose(early, y) and 0 < float(e_early.mean()) < 1
    late, e_late = fix(3, 1, x0, x0, eps)  # nearly clean: y's noise does not fit, the correction shrinks
    assert 0.1 < float(late.mean()) < 1 and float(e_late.abs().max()) == 0.0
    last, _ = fix(1, -1, x0, x0, eps)  # the last step keeps the model's estimate
    assert torch.equal(last, x0)


# ------------------------------------------------------------------------------------------
# the capability and the model
# ------------------------------------------------------------------------------------------
def test_diffusion_restores_and_dcgan_does_not():
    from genzoo.registry import families

    assert has_capability(families.get("diffusion"), Restores)
    assert not has_capability(families.get("dcgan"), Restores)
    assert "diffusion" in families_with(Restores)


@pytest.fixture(scope="module")
def tiny(restore_run):
    from genzoo.hub import load

    return load(restore_run)


def test_model_restore_shapes_range_determinism(tiny):
    op, _, extras = _operator("superres:4", n=3)
    x = torch.rand(3, 1, SIZE, SIZE, generator=torch.Generator().manual_seed(6))
    y = (op.A(x * 2 - 1) + 1) / 2
    a = tiny.restore(y, op, seed=1, steps=4)
    b = tiny.restore(y, op, seed=1, steps=4, batch_size=2)  # batch size does not change images
    c = tiny.restore(y, op, seed=2, steps=4)
    assert a.shape == (3, 1, SIZE, SIZE) and float(a.min()) >= 0 and float(a.max()) <= 1
    assert torch.allclose(a, b, atol=1e-5)
    assert not torch.allclose(a, c)


def test_model_restore_inpaint_keeps_measured_pixels(tiny):
    op, _, extras = _operator("inpaint", n=3)
    x = torch.rand(3, 1, SIZE, SIZE, generator=torch.Generator().manual_seed(7))
    y = (op.A(x * 2 - 1) + 1) / 2
    out = tiny.restore(y, op, seed=0, steps=4)
    keep = extras[MASK] == 0
    assert torch.allclose(out[keep], x[keep], atol=1e-5)


def test_model_restore_refuses_wrong_measurement_shape(tiny):
    from genzoo.errors import GenzooError

    op, _, _ = _operator("colorize")  # luminance of an RGB image; the tiny model is gray
    with pytest.raises(GenzooError, match="check the task and the model"):
        tiny.restore(torch.rand(2, 1, SIZE, SIZE), op, steps=2)


# ------------------------------------------------------------------------------------------
# the command
# ------------------------------------------------------------------------------------------
def test_cli_restore_data_grid_and_metrics(cli, restore_run, tmp_path):
    out, js = tmp_path / "grid.png", tmp_path / "m.json"
    code, stdout, err = cli("restore", restore_run, "--data", "digits", "-n", "4", "--task", "deblur", "--steps", "3",
                            "--out", out, "--metrics-json", js)
    assert code == 0, err
    assert out.is_file()
    m = json.loads(js.read_text())
    assert m["task"] == "deblur" and m["num_images"] == 4 and m["method"] == "DDNM"
    assert {"psnr", "ssim"} <= set(m["model"]) and m["baseline"]["name"] == "the blurred image" and "pinv" in m
    assert "baseline: the blurred image" in stdout


def test_cli_restore_file_superres_and_inpaint(cli, restore_run, tmp_path):
    from PIL import Image

    small = tmp_path / "small.png"
    Image.fromarray((torch.rand(4, 4) * 255).byte().numpy(), "L").save(small)
    code, _, err = cli("restore", restore_run, small, "--task", "superres:4", "--steps", "2", "--out", tmp_path / "big.png")
    assert code == 0, err
    assert Image.open(tmp_path / "big.png").size == (SIZE, SIZE)

    img, mask = tmp_path / "img.png", tmp_path / "mask.png"
    Image.fromarray((torch.rand(SIZE, SIZE) * 255).byte().numpy(), "L").save(img)
    m = torch.zeros(SIZE, SIZE, dtype=torch.uint8)
    m[4:9, 4:9] = 255
    Image.fromarray(m.numpy(), "L").save(mask)
    code, _, err = cli("restore", restore_run, img, "--task", "inpaint", "--mask", mask, "--steps", "2",
                       "--out", tmp_path / "filled.png")
    assert code == 0, err
    before = torch.from_numpy(np.asarray(Image.open(img), dtype=np.int16))
    after = torch.from_numpy(np.asarray(Image.open(tmp_path / "filled.png"), dtype=np.int16))
    known = m == 0
    assert (before[known] - after[known]).abs().max() <= 1  # the measured pixels are kept (8-bit rounding)


# ------------------------------------------------------------------------------------------
# quality (slow): a small trained model beats the trivial baselines
# ------------------------------------------------------------------------------------------
SMALL = {"image_size": 16, "width": 16, "num_res_blocks": 1, "conditional": False, "batch_size": 32, "steps": 600,
         "lr": 1e-3, "log_every": 100, "checkpoint_every": 600, "sample_every": 600, "num_samples": 16, "dropout": 0.0}


@pytest.mark.slow
@pytest.mark.parametrize("spec", ["superres:4", "deblur", "inpaint", "denoise"])
def test_small_model_beats_baseline(spec, small_digits_restore):
    from genzoo.data import load_dataset
    from genzoo.data.tasks import baseline, make_paired, psnr_ssim

    task, raw = parse_task(spec)
    data = make_paired(load_dataset("digits", split="test", limit=64), task=spec, image_size=16)
    op = task.operator(task.parse(raw, 16, 1), 16, 1, data.extra)
    y = (data.extra[INPUTS] + 1) / 2
    out = small_digits_restore.restore(y, op, seed=0, steps=50)
    target = (data.images + 1) / 2
    p, _ = psnr_ssim(out, target)
    bp, _ = psnr_ssim((baseline(data, spec)[0] + 1) / 2, target)
    assert p > bp, (p, bp)
    if op.noise_std == 0:  # exact measurements are kept (to within the task's own clamping)
        err = float((op.A(out * 2 - 1) - data.extra[INPUTS]).abs().mean() / 2)
        assert err < 0.01, err


@pytest.fixture(scope="module")
def small_digits_restore(tmp_path_factory):
    from genzoo.engine import train
    from genzoo.hub import load

    out = tmp_path_factory.mktemp("runs") / "diffusion-restore-small"
    train("diffusion", out=out, data="digits", progress=False, **SMALL)
    return load(out)
