"""DCGAN: sizes, channels, initialisation, output range, defaults from the paper."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from genzoo.engine import train
from genzoo.errors import GenzooError
from genzoo.registry import families
from genzoo_dcgan import DCGANDiscriminator, DCGANGenerator, plan
from tests.conftest import TINY_DCGAN


@pytest.mark.parametrize("size,expected", [(16, (4, 2)), (28, (7, 2)), (32, (4, 3)), (48, (6, 3)), (64, (4, 4)), (128, (4, 5))])
def test_plan(size, expected):
    assert plan(size) == expected


@pytest.mark.parametrize("size", [6, 30, 36, 100])
def test_unsupported_size_is_a_clear_error(size):
    with pytest.raises(GenzooError, match=f"DCGAN cannot make {size}x{size} images"):
        plan(size)


@pytest.mark.parametrize("size", [16, 28, 32, 64])
@pytest.mark.parametrize("channels", [1, 3])
def test_shapes_and_ranges(size, channels):
    g = DCGANGenerator(latent_dim=10, channels=channels, image_size=size, width=4)
    d = DCGANDiscriminator(channels=channels, image_size=size, width=4)
    x = g(torch.randn(3, 10))
    assert x.shape == (3, channels, size, size)
    assert x.min() >= -1 and x.max() <= 1  # tanh output
    assert d(x).shape == (3,)


def test_conditional_networks_use_the_label():
    g = DCGANGenerator(8, 1, 16, 4, num_classes=10).eval()
    d = DCGANDiscriminator(1, 16, 4, num_classes=10).eval()
    z = torch.randn(2, 8)
    y0, y1 = torch.tensor([0, 0]), torch.tensor([5, 5])
    assert not torch.allclose(g(z, y0), g(z, y1))
    x = torch.rand(2, 1, 16, 16)
    assert not torch.allclose(d(x, y0), d(x, y1))
    with pytest.raises(GenzooError, match="needs labels"):
        g(z)


def test_paper_defaults_and_initialisation():
    fam = families.get("dcgan")
    c = fam.default_config()
    assert (c.lr, c.betas, c.loss, c.optimizer) == (2e-4, (0.5, 0.999), "non-saturating", "adam")
    m = fam.build(fam.default_config(g_width=64, d_width=64))
    w = torch.cat([p.flatten() for n, p in m.named_parameters() if "weight" in n and p.dim() > 1])
    assert abs(w.mean().item()) < 1e-3 and w.std().item() == pytest.approx(0.02, rel=0.05)
    bn = [mod for mod in m.modules() if isinstance(mod, torch.nn.BatchNorm2d)]
    assert bn and all(abs(b.weight.mean().item() - 1) < 0.05 for b in bn)


def test_trains_on_rgb_folder(tmp_path):
    from skimage import data as skd

    img = skd.astronaut()  # 512x512 RGB, bundled with scikit-image
    for i in range(20):
        y, x = divmod(i, 5)
        Image.fromarray(img[y * 96:y * 96 + 64, x * 96:x * 96 + 64]).save(tmp_path / f"p{i}.png")
    res = train("dcgan", out=tmp_path / "run", progress=False,
                **{**TINY_DCGAN, "data": f"folder:{tmp_path}", "image_size": 32, "steps": 2, "batch_size": 8})
    import genzoo

    m = genzoo.load(str(res.run_dir))
    assert m.config.channels == 3 and m.config.image_size == 32
    assert m.sample(2, seed=0).shape == (2, 3, 32, 32)
