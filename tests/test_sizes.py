"""Image sizes (#17 part 4): each family states the sizes it supports and the defaults that follow
the size; networks have the right shapes at each size; the trainer applies size defaults the user
did not set; the defaults up to 32 px are what they were (tests/test_golden.py holds the outputs)."""

from __future__ import annotations

import json

import pytest
import torch

import genzoo
from genzoo.cli.inspect import size_lines
from genzoo.data import ImageDataset
from genzoo.engine.trainer import Trainer
from genzoo.errors import GenzooError
from genzoo.interfaces import size_plan
from genzoo.registry import families

# tiny widths per family, so a network at 256 px builds and runs in well under a second
TINY = {
    "dcgan": {"g_width": 2, "d_width": 2, "latent_dim": 4},
    "gan": {"g_width": 4, "d_width": 4, "latent_dim": 4},
    "cgan": {"g_width": 2, "d_width": 2, "latent_dim": 4},
    "wgan": {"g_width": 2, "d_width": 2, "latent_dim": 4},
    "wgan-gp": {"g_width": 2, "d_width": 2, "latent_dim": 4},
    "vae": {"width": 2, "latent_dim": 4},
    "cvae": {"width": 2, "latent_dim": 4},
    "ae": {"width": 2, "latent_dim": 4},
    "diffusion": {"width": 4, "num_res_blocks": 1, "attention_heads": 1, "norm_groups": 1},
    "flow": {"hidden": 4, "depth": 1},
    "pix2pix": {"g_width": 2, "d_width": 2},
    "cyclegan": {"g_width": 2, "d_width": 2, "g_blocks": 1},
}
ALL = sorted(TINY)
CASES = [(f, s) for f in ALL for s in families.get(f).image_sizes]


def test_every_image_family_states_its_sizes_and_makes_64_px():
    assert set(families.names()) == set(ALL)
    for name in ALL:
        fam = families.get(name)
        assert fam.image_sizes == tuple(sorted(fam.image_sizes)) and fam.image_size_rule
        assert 64 in fam.image_sizes, name
    for name in ("dcgan", "diffusion", "pix2pix"):
        assert {64, 128, 256} <= set(families.get(name).image_sizes)


@pytest.mark.parametrize("family,size", CASES)
def test_shapes_at_each_supported_size(family, size):
    fam = families.get(family)
    cond = {"conditional": True, "num_classes": 3} if family in ("cgan", "cvae") else {}
    model = genzoo.create(family, image_size=size, channels=3, **TINY[family], **cond).eval()
    x = torch.rand(2, 3, size, size) * 2 - 1
    y = torch.tensor([0, 2]) if cond else None
    with torch.no_grad():
        if family == "diffusion":
            assert model.denoiser(x, torch.tensor([0, 5]), None).shape == x.shape
        elif family == "pix2pix":
            assert model.generator(x).shape == x.shape
            assert model.discriminator(x, x).shape[:2] == (2, 1)
        elif family == "cyclegan":
            assert model.translate((x + 1) / 2, direction="AtoB").shape == x.shape
        elif family == "flow":
            assert model.sample(2, seed=0).shape == x.shape
        else:
            out = model.generator(torch.randn(2, model.latent_dim), y)
            assert out.shape == x.shape and out.min() >= -1 and out.max() <= 1
            if hasattr(model, "discriminator"):
                assert model.discriminator(x, y).shape == (2,)
            if hasattr(model, "encoder"):
                assert model.reconstruct((x + 1) / 2, **({"labels": y} if cond else {})).shape == x.shape
    fam.check_image_size(size)  # no error at a stated size


@pytest.mark.parametrize("family,size", [(f, s) for f in ("dcgan", "diffusion", "pix2pix") for s in (128, 256)])
def test_default_networks_build_at_large_sizes(family, size):
    """The defaults at 128 and 256 px build (on the meta device: shapes only, no memory)."""
    fam = families.get(family)
    cfg = fam.default_config(image_size=size, channels=3, **fam.size_defaults(size))
    model = fam.build_meta(cfg)
    assert model is not None and sum(p.numel() for p in model.parameters()) > 1e6


def test_dcgan_channels_stop_doubling_at_8x_width_from_128_px():
    fam = families.get("dcgan")
    assert fam.size_defaults(64) == {} and fam.size_defaults(128) == {"max_mult": 8, "batch_size": 32}
    capped = genzoo.create("dcgan", image_size=256, channels=3, g_width=4, d_width=4, max_mult=8)
    uncapped = genzoo.create("dcgan", image_size=256, channels=3, g_width=4, d_width=4)  # max_mult=0: as before
    assert capped.generator.net[0].out_channels == 32 and uncapped.generator.net[0].out_channels == 128
    assert capped.discriminator.net[-1].in_channels == 32 and uncapped.discriminator.net[-1].in_channels == 128
    x = capped.sample(2, seed=0)
    assert x.shape == (2, 3, 256, 256)


def test_diffusion_unet_reaches_8_px_with_attention_at_16_and_8_from_128():
    fam = families.get("diffusion")
    d128, d256 = fam.size_defaults(128), fam.size_defaults(256)
    assert d128["channel_mult"] == (1, 1, 2, 3, 4) and d128["attention_resolutions"] == (16, 8)
    assert d256["channel_mult"] == (1, 1, 2, 2, 3, 4) and d256["attention_resolutions"] == (16, 8)
    assert d128["batch_size"] == 16 and d256["batch_size"] == 4
    # attention follows the levels the user asked for: 128 -> 64 -> 32 -> 16
    mine = fam.default_config(channel_mult=(1, 2, 2, 2))
    assert fam.size_defaults(128, mine)["attention_resolutions"] == (16,)


def test_defaults_up_to_64_px_are_unchanged():
    """The 16/28/32/64 px defaults as they were before sizes were stated (test_golden checks outputs)."""
    diff = families.get("diffusion")
    want = {
        16: {"width": 16, "channel_mult": (1, 2, 2), "num_res_blocks": 1, "attention_resolutions": (8, 4)},
        28: {"width": 32, "channel_mult": (1, 2, 2), "num_res_blocks": 2, "attention_resolutions": (7,)},
        32: {"width": 32, "channel_mult": (1, 2, 2, 2), "num_res_blocks": 2, "attention_resolutions": (8, 4)},
        64: {"width": 64, "channel_mult": (1, 2, 3, 4), "num_res_blocks": 2, "attention_resolutions": (8,)},
    }
    for size, values in want.items():
        assert diff.size_defaults(size) == values
    for name in ("dcgan", "vae", "ae", "gan", "wgan", "cgan"):
        for size in (16, 28, 32, 64):
            assert "batch_size" not in families.get(name).size_defaults(size)
    p2p = families.get("pix2pix")
    assert p2p.size_defaults(32) == {"d_layers": 1, "dropout_layers": 1}


def test_info_states_sizes(cli):
    code, out, _ = cli("info", "dcgan")
    text = " ".join(out.split())
    assert code == 0
    assert "sizes: 16, 28, 32, 64, 128, 256 px; other sizes: any base * 2^k with base 4..7" in text
    assert "at 64 px: batch_size=64" in text and "at 128 px: max_mult=8, batch_size=32" in text
    assert "at 256 px: max_mult=8, batch_size=16" in text
    code, out, _ = cli("info", "diffusion")
    text = " ".join(out.split())
    assert "at 128 px: width=64, channel_mult=1,1,2,3,4, num_res_blocks=2, attention_resolutions=16,8, batch_size=16" in text


def test_size_lines_of_a_family_that_states_none():
    from genzoo.family import Family

    assert size_lines(Family()) == ["sizes: not stated by the plugin"]


def test_size_plan_names_the_nearest_sizes():
    with pytest.raises(GenzooError, match=r"nearest: 96 or 112 \(e.g. 16, 28\)$"):
        size_plan(100, "X cannot make", "16, 28")
    with pytest.raises(GenzooError, match=r"nearest: 8 \("):
        size_plan(3, "X cannot make")
    assert size_plan(256, "X") == (4, 6) and size_plan(448, "X") == (7, 6)


def test_bad_size_fails_in_build_too():
    with pytest.raises(GenzooError, match="DCGAN cannot make 100x100 images"):
        genzoo.create("dcgan", image_size=100)
    with pytest.raises(GenzooError, match="not 100; use --set image_size=32"):
        genzoo.create("pix2pix", image_size=100)


def _rgb(size: int, n: int = 64) -> ImageDataset:
    x = torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(0)) * 2 - 1
    return ImageDataset(name="rgb", split="train", images=x, labels=None, class_names=[])


def test_trainer_applies_size_defaults_the_user_did_not_set(tmp_path):
    base = {**TINY["dcgan"], "steps": 1, "log_every": 1, "sample_every": 1, "checkpoint_every": 1, "num_samples": 4}
    t = Trainer(families.get("dcgan"), overrides=base, out=tmp_path / "a", data=_rgb(128), progress=False)
    assert t.config.batch_size == 32 and t.config.image_size == 128
    t.fit()
    saved = json.loads((tmp_path / "a" / "config.json").read_text())["config"]
    assert saved["batch_size"] == 32
    t = Trainer(families.get("dcgan"), overrides={**base, "batch_size": 64}, out=tmp_path / "b", data=_rgb(128),
                progress=False)
    assert t.config.batch_size == 64  # the user's value wins
    t._unlock()
    t = Trainer(families.get("dcgan"), overrides=base, out=tmp_path / "c", data=_rgb(32), progress=False)
    assert t.config.batch_size == 64  # below 128 px: the config's default
    t._unlock()


def test_bench_builds_its_config_as_train_does():
    """`genzoo bench` times the engine and its bare loop at the batch size `genzoo train` would use."""
    from genzoo.bench import BenchSettings, _configured

    cfg, data, _ = _configured(families.get("dcgan"), BenchSettings(data="digits", image_size=128))
    assert cfg.image_size == 128 and cfg.batch_size == 32
    cfg, _, _ = _configured(families.get("dcgan"), BenchSettings(data="digits", image_size=128, batch_size=8))
    assert cfg.batch_size == 8
