"""pix2pix: U-Net shapes, the conditioned PatchGAN, translate, training and `genzoo translate`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from genzoo.errors import GenzooError
from tests.conftest import needs_fashion, sets

p2p = pytest.importorskip("genzoo_pix2pix")

TINY = {"g_width": 4, "d_width": 4, "batch_size": 8, "steps": 4, "log_every": 2, "checkpoint_every": 2,
        "sample_every": 2, "num_samples": 6}


def model(**over):
    from genzoo.hub import create

    return create("pix2pix", **{"image_size": 32, "g_width": 4, "d_width": 4, **over})


# ------------------------------------------------------------------------------------------
# networks
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("size", [32, 64, 128, 256])
def test_unet_shapes_at_each_supported_size(size):
    torch.manual_seed(0)
    for cin, cout in ((1, 1), (1, 3), (3, 3), (3, 1)):
        g = p2p.UNetGenerator(cin, cout, size, width=2)
        assert g.depth == int(np.log2(size))  # down to 1x1
        x = torch.randn(2, cin, size, size)
        y = g(x)
        assert y.shape == (2, cout, size, size)
        assert y.abs().max() <= 1  # tanh output
    # the skips are used: the output depends on the input at full resolution, pixel by pixel
    g = p2p.UNetGenerator(1, 1, size, width=2).eval()
    x = torch.zeros(1, 1, size, size, requires_grad=True)
    g(x)[0, 0, size // 2, size // 2].backward()
    assert x.grad[0, 0, size // 2, size // 2] != 0


def test_unsupported_sizes_are_refused_clearly():
    with pytest.raises(GenzooError, match="32, 64, 128 or 256"):
        p2p.UNetGenerator(1, 1, 48)
    with pytest.raises(GenzooError, match="32, 64, 128 or 256"):
        model(image_size=28)
    assert [p2p.fit_size(s) for s in (8, 28, 32, 33, 64, 100, 256, 600)] == [32, 32, 32, 64, 64, 128, 256, 256]


def test_dropout_is_the_noise():
    def drops(g):
        return [m for m in g.modules() if isinstance(m, torch.nn.Dropout)]

    # by size, like the paper's three blocks at 256 px
    assert [len(drops(p2p.UNetGenerator(1, 1, s, width=2))) for s in (32, 64, 128, 256)] == [1, 1, 2, 3]
    g = p2p.UNetGenerator(1, 1, 32, width=4, dropout_layers=3)
    assert len(drops(g)) == 3 and all(d.p == 0.5 for d in drops(g))
    x = torch.randn(4, 1, 32, 32)
    g.train()
    assert not torch.equal(g(x), g(x))
    g.eval()
    assert torch.equal(g(x), g(x))


@pytest.mark.parametrize("size,layers,rf,out", [(32, 1, 16, 14), (64, 1, 16, 30), (128, 2, 34, 30), (256, 3, 70, 30)])
def test_patchgan_depth_scales_with_size_and_has_the_papers_70px_field_at_256(size, layers, rf, out):
    d = p2p.PatchDiscriminator(1, 3, size, width=2)
    assert d.n_layers == layers and d.receptive_field == rf
    d.eval()
    x = torch.zeros(1, 1, size, size, requires_grad=True)
    y = torch.zeros(1, 3, size, size, requires_grad=True)
    scores = d(x, y)
    assert scores.shape == (1, 1, out, out)
    # measure the receptive field: which input pixels move one central patch score
    c = out // 2
    scores[0, 0, c, c].backward()
    touched = (y.grad.abs().sum((0, 1)) > 0).nonzero()
    extent = int(touched[:, 0].max() - touched[:, 0].min() + 1)
    assert extent == rf
    assert (x.grad.abs().sum() > 0)  # the input is seen too


def test_discriminator_is_conditioned_on_the_input():
    torch.manual_seed(0)
    m = model()
    first = m.discriminator.net[0]
    assert first.in_channels == 1 + 1  # input and image concatenated
    x1, x2 = torch.rand(3, 1, 32, 32), torch.rand(3, 1, 32, 32)
    y = torch.rand(3, 1, 32, 32)
    s1, s2 = m.discriminate(x1, y), m.discriminate(x2, y)
    assert s1.shape == (3, 1, 14, 14)
    assert not torch.allclose(s1, s2)  # same image, other input: other scores
    # per pair: changing only the first input changes only the first pair's scores (eval mode)
    x3 = x1.clone()
    x3[0] = x2[0]
    s3 = m.discriminate(x3, y)
    assert not torch.allclose(s3[0], s1[0]) and torch.equal(s3[1:], s1[1:])
    rgb = model(in_channels=1, channels=3)
    assert rgb.discriminator.net[0].in_channels == 4


# ------------------------------------------------------------------------------------------
# the model API
# ------------------------------------------------------------------------------------------
def test_translate_is_deterministic_and_checks_its_inputs():
    torch.manual_seed(0)
    m = model(in_channels=1, channels=3, image_size=64)
    x = torch.rand(5, 1, 64, 64)
    y = m.translate(x)
    assert y.shape == (5, 3, 64, 64) and 0 <= y.min() and y.max() <= 1
    assert torch.equal(m.translate(x), y)
    assert torch.allclose(m.translate(x, batch_size=2), y, atol=1e-5)  # batching changes only rounding
    a, b = m.translate(x, dropout=True, seed=1), m.translate(x, dropout=True, seed=1)
    assert torch.equal(a, b) and not torch.equal(a, m.translate(x, dropout=True, seed=2))
    assert m.training  # create() gives a model in training mode; translate restores it
    m.eval()
    m.translate(x, dropout=True)
    assert not any(mod.training for mod in m.modules())
    with pytest.raises(GenzooError, match="1 channels"):
        m.translate(torch.rand(2, 3, 64, 64))
    with pytest.raises(GenzooError, match="64x64 images, got 32x32"):
        m.translate(torch.rand(2, 1, 32, 32))
    with pytest.raises(GenzooError, match="translates images instead"):
        m.sample(4)


def test_family_metadata():
    from genzoo.registry import families

    fam = families.get("pix2pix")
    assert fam.pipeline_tag == "image-to-image" and fam.needs == ("inputs",)
    cfg = fam.default_config()
    assert cfg.l1_weight == 100.0 and cfg.loss == "non-saturating" and cfg.dropout == 0.5


# ------------------------------------------------------------------------------------------
# training and the CLI
# ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sr_run(tmp_path_factory) -> Path:
    """A tiny pix2pix trained 4 steps on digits with superres:2."""
    from genzoo.cli import main

    out = tmp_path_factory.mktemp("p2p") / "sr"
    args = ["train", "pix2pix", "--data", "digits", "--task", "superres:2", "--out", str(out), "--no-progress", *sets(TINY)]
    try:
        main(args)
    except SystemExit as e:
        assert not e.code
    return out


def test_train_with_a_task_writes_a_run(sr_run):
    cfg = json.loads((sr_run / "config.json").read_text())
    assert cfg["family"] == "pix2pix" and cfg["config"]["task"] == "superres:2"
    assert cfg["config"]["in_channels"] == 1 and cfg["config"]["image_size"] == 32
    log = [json.loads(line) for line in (sr_run / "log.jsonl").read_text().splitlines()]
    assert log[-1]["step"] == 4 and {"loss_d", "loss_g", "l1", "g_adv"} <= set(log[-1])
    # the preview grid: 2 pairs x (input | output | target), 32 px cells upscaled
    with Image.open(sr_run / "samples.png") as im:
        assert im.width > im.height
    card = (sr_run / "README.md").read_text()
    assert "pipeline_tag: image-to-image" in card and "superres:2" in card


def test_translate_cli_on_files_dataset_and_metrics(sr_run, tmp_path, cli):
    files = []
    for i in range(3):
        f = tmp_path / "in" / f"im{i}.png"
        f.parent.mkdir(exist_ok=True)
        Image.fromarray(np.full((20, 20), 40 * i, np.uint8)).save(f)
        files.append(f)
    code, out, err = cli("translate", sr_run, str(tmp_path / "in"), files[0], "--out", tmp_path / "out", "--grid", tmp_path / "g.png")
    assert code == 0, err
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == ["im0.png", "im0_1.png", "im1.png", "im2.png"]
    with Image.open(tmp_path / "out" / "im1.png") as im:
        assert im.size == (32, 32)
    code, out, err = cli("translate", sr_run, "--data", "digits", "-n", "5", "--metrics", "--metrics-json",
                         tmp_path / "m.json", "--grid", tmp_path / "g2.png")
    assert code == 0, err
    assert "baseline: bicubic up-sampling" in out and "PSNR" in out
    m = json.loads((tmp_path / "m.json").read_text())
    assert m["num_images"] == 5 and m["task"] == "superres:2" and m["baseline"]["psnr"] > 10
    code, out, err = cli("translate", sr_run, files[1], "--from-targets", "--task", "inpaint", "--metrics")
    assert code == 0, err
    assert "smooth (blurred) fill" in out and "model, raw output" in out and "known pixels kept" in out
    # inpainting keeps the known pixels (the mask is part of the task); --raw shows the raw output
    code, out, err = cli("translate", sr_run, "--data", "digits", "-n", "4", "--task", "inpaint", "--metrics",
                         "--out", tmp_path / "ip", "--metrics-json", tmp_path / "ip.json")
    assert code == 0, err
    ip = json.loads((tmp_path / "ip.json").read_text())
    assert "model_raw" in ip and ip["model"]["psnr"] != ip["model_raw"]["psnr"]
    code, out, err = cli("translate", sr_run, "--data", "digits", "-n", "4", "--task", "inpaint", "--raw", "--metrics")
    assert code == 0 and "raw output" not in out


def test_translate_cli_errors(sr_run, tiny_run, tmp_path, cli):
    code, _, err = cli("translate", sr_run, "--data", "digits")
    assert code == 1 and "nothing to write" in err
    code, _, err = cli("translate", sr_run, "--grid", tmp_path / "x.png")
    assert code == 1 and "exactly one" in err
    code, _, err = cli("translate", sr_run, tmp_path / "missing.png", "--out", tmp_path / "o")
    assert code == 1 and "does not exist" in err
    code, _, err = cli("translate", tiny_run, "--data", "digits", "--grid", tmp_path / "x.png")
    assert code == 1 and "genzoo sample" in err
    code, _, err = cli("sample", sr_run, "--out", tmp_path / "s.png")
    assert code == 1 and "genzoo translate" in err


def test_train_refuses_unpaired_data_and_task_on_other_families(cli, tmp_path):
    code, _, err = cli("train", "pix2pix", "--data", "digits", "--out", tmp_path / "a", *sets(TINY))
    assert code == 1 and "needs paired data" in err and "--task" in err
    code, _, err = cli("train", "dcgan", "--data", "digits", "--task", "superres", "--out", tmp_path / "b")
    assert code == 1 and "image-to-image families" in err
    code, _, err = cli("train", "pix2pix", "--data", "digits", "--task", "superres:3", "--out", tmp_path / "c", *sets(TINY))
    assert code == 1 and "2 or 4" in err


def test_train_on_pairs_folder_btoa_with_different_channels(tmp_path):
    from genzoo.engine import train
    from genzoo.hub import load

    (tmp_path / "A").mkdir()
    (tmp_path / "B").mkdir()
    for i in range(8):
        a = np.full((16, 16), 20 * i, np.uint8)
        Image.fromarray(a).save(tmp_path / "A" / f"{i}.png")
        Image.fromarray(np.stack([a, 255 - a, a], -1)).save(tmp_path / "B" / f"{i}.png")
    run = tmp_path / "run"
    train("pix2pix", out=run, data=f"pairs:{tmp_path}", direction="BtoA", progress=False, **TINY)
    m = load(run)
    # B (RGB) -> A (gray); 16 px pairs were resized up to 32
    assert m.in_channels == 3 and m.config.channels == 1 and m.config.image_size == 32
    assert m.translate(torch.rand(2, 3, 32, 32)).shape == (2, 1, 32, 32)


def test_resume_continues_a_task_run(sr_run, tmp_path):
    import shutil

    from genzoo.engine import Trainer
    from genzoo.registry import families

    run = tmp_path / "copy"
    shutil.copytree(sr_run, run)
    res = Trainer(families.get("pix2pix"), overrides={"steps": 6}, out=run, resume=True, progress=False).fit()
    assert res.steps == 6
    assert json.loads((run / "config.json").read_text())["config"]["task"] == "superres:2"


# ------------------------------------------------------------------------------------------
# quality: the done-when of issue 7 (minutes on a CPU)
# ------------------------------------------------------------------------------------------
@pytest.mark.slow
@needs_fashion
@pytest.mark.parametrize("task,steps", [("superres:4", 2000), ("inpaint", 3000)])
def test_short_cpu_run_beats_the_trivial_baseline(task, steps, tmp_path):
    """docs/pix2pix.md's numbers: default config on all 60,000 training images, 2,000 held-out test images."""
    from genzoo.data import load_dataset
    from genzoo.data.tasks import INPUTS, baseline, finish, make_paired, psnr_ssim
    from genzoo.engine import train
    from genzoo.hub import load
    from genzoo.interfaces import to_unit

    run = tmp_path / "run"
    train("pix2pix", out=run, data="fashion-mnist", task=task, steps=steps, progress=False)
    m = load(run)
    test = make_paired(load_dataset("fashion-mnist", split="test", limit=2000), task=task, seed=0, image_size=32)
    x, y = to_unit(test.extra[INPUTS].clone()), to_unit(test.images.clone())
    out = m.translate(x)
    bp, bs = psnr_ssim(to_unit(baseline(test, task)[0]), y)
    p, s = psnr_ssim(out, y)  # the raw generator output
    assert p > bp and s > bs, (task, p, s, bp, bs)
    fp, fs = psnr_ssim(finish(out, {**test.extra, INPUTS: x}, task), y)  # inpaint: known pixels kept
    assert fp >= p - 1e-6 and fs >= s - 1e-6
