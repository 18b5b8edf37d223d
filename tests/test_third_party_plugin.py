"""A third-party plugin distribution, built and installed for real, is discovered and usable.

The plugin is written to a temporary directory with its own pyproject.toml and entry
points, installed by pip into a separate --target directory, and used from a fresh Python
whose path includes that directory, so importlib.metadata discovers it as it would in a
user's environment. A second, broken plugin checks that failures are reported, not fatal.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

TOY = '''
"""A tiny MLP GAN, written against the public plugin API only."""
from dataclasses import dataclass

import torch
from torch import nn

from genzoo.plugin import (AdversarialConfig, AdversarialModel, AdversarialLoss, Discriminator, Family,
                           Generator, adversarial_recipe)


class ToyG(Generator):
    def __init__(self, latent_dim, shape):
        super().__init__()
        self.latent_dim, self.shape = latent_dim, shape
        self.net = nn.Sequential(nn.Linear(latent_dim, 64), nn.ReLU(), nn.Linear(64, shape[0] * shape[1] * shape[2]), nn.Tanh())

    def forward(self, z, labels=None):
        return self.net(z).view(-1, *self.shape)


class ToyD(Discriminator):
    def __init__(self, shape):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(shape[0] * shape[1] * shape[2], 64), nn.LeakyReLU(0.2), nn.Linear(64, 1))

    def forward(self, x, labels=None):
        return self.net(x).flatten()


@dataclass
class ToyConfig(AdversarialConfig):
    latent_dim: int = 8
    loss: str = "toy-loss"
    image_size: int = 16


class ToyModel(AdversarialModel):
    def __init__(self, config):
        super().__init__(config)
        shape = (config.channels, config.image_size, config.image_size)
        self.generator = ToyG(config.latent_dim, shape)
        self.discriminator = ToyD(shape)


class ToyFamily(Family):
    name = "toygan"
    description = "a toy MLP GAN from a third-party package"
    config_class = ToyConfig
    model_class = ToyModel

    def recipe(self, model, config):
        return adversarial_recipe(model, config)


toy_loss = AdversarialLoss(
    "toy-loss",
    d=lambda real, fake: torch.nn.functional.softplus(-real).mean() + torch.nn.functional.softplus(fake).mean(),
    g=lambda fake: torch.nn.functional.softplus(-fake).mean(),
    description="a loss shipped by a plugin",
)
'''

TOY_PYPROJECT = '''
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "genzoo-toy"
version = "1.2.3"
dependencies = ["genzoo"]

[project.entry-points."genzoo.families"]
toygan = "genzoo_toy:ToyFamily"

[project.entry-points."genzoo.losses"]
toy-loss = "genzoo_toy:toy_loss"

[tool.setuptools]
packages = ["genzoo_toy"]
'''

BROKEN_PYPROJECT = '''
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "genzoo-broken"
version = "0.0.1"

[project.entry-points."genzoo.families"]
brokengan = "genzoo_broken:Family"

[tool.setuptools]
packages = ["genzoo_broken"]
'''

DRIVER = '''
import json, sys
from genzoo.cli import main

def run(*args):
    try:
        main(list(args))
    except SystemExit as e:
        return int(e.code or 0)
    return 0

run_dir = sys.argv[1]
codes = {}
codes["list"] = run("list", "families")
codes["plugins"] = run("plugins")
codes["train"] = run("train", "toygan", "--steps", "2", "--out", run_dir, "--batch-size", "8")
import genzoo
m = genzoo.load(run_dir)
x = m.sample(3, seed=0)
codes["shape"] = list(x.shape)
codes["family"] = m.family_name
codes["plugin"] = json.load(open(run_dir + "/config.json"))["plugin"]
print("RESULT " + json.dumps(codes))
'''


def _install(src: Path, target: Path) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--disable-pip-version-check", "--no-index", "--target", str(target), str(src)],
        capture_output=True, text=True,
    )
    if r.returncode != 0:
        pytest.fail(f"pip could not build/install {src.name}: {r.stderr[-2000:]}")


def test_third_party_plugin_is_discovered_listed_trained_and_loaded(tmp_path):
    toy = tmp_path / "genzoo-toy"
    (toy / "genzoo_toy").mkdir(parents=True)
    (toy / "pyproject.toml").write_text(TOY_PYPROJECT)
    (toy / "genzoo_toy" / "__init__.py").write_text(textwrap.dedent(TOY))
    broken = tmp_path / "genzoo-broken"
    (broken / "genzoo_broken").mkdir(parents=True)
    (broken / "pyproject.toml").write_text(BROKEN_PYPROJECT)
    (broken / "genzoo_broken" / "__init__.py").write_text("raise ImportError('needs libfoo, which is missing')\n")
    site = tmp_path / "site"
    _install(toy, site)
    _install(broken, site)
    assert (site / "genzoo_toy-1.2.3.dist-info" / "entry_points.txt").is_file()

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]),
           "GENZOO_PROGRESS": "0", "OMP_NUM_THREADS": "1", "COLUMNS": "200"}
    run_dir = tmp_path / "run"
    r = subprocess.run([sys.executable, "-c", DRIVER, str(run_dir)], capture_output=True, text=True, env=env,
                       cwd=tmp_path, timeout=300)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    result = json.loads(out.split("RESULT ", 1)[1].splitlines()[0])
    assert result["list"] == 0 and result["plugins"] == 0 and result["train"] == 0
    assert result["shape"] == [3, 1, 16, 16]
    assert result["family"] == "toygan"
    assert result["plugin"] == {"distribution": "genzoo-toy", "version": "1.2.3"}
    # listing shows the third-party family beside the built-in one, with its distribution
    assert "toygan" in out and "genzoo-toy" in out and "dcgan" in out
    # the broken plugin is reported with its reason and did not stop anything
    assert "brokengan" in out and "genzoo-broken" in out
    assert "failed: ImportError: needs libfoo, which is missing" in out
    # the plugin's own loss came through the genzoo.losses entry point
    cfg = json.loads((run_dir / "config.json").read_text())
    assert cfg["config"]["loss"] == "toy-loss"
    assert (run_dir / "model.safetensors").is_file() and (run_dir / "samples.png").is_file()
