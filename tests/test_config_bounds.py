"""Declared field ranges (genzoo.config.bounded): bad values fail at once, naming the field, the value and the range."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

import genzoo
from genzoo.config import ModelConfig, bounded
from genzoo.errors import GenzooError
from genzoo.registry import families

NAN, INF = float("nan"), float("inf")

# (family, field, bad value, substring of the message)
BAD = [
    ("dcgan", "lr", NAN, "lr must be a finite number > 0, got nan"),
    ("dcgan", "lr", 0.0, "lr must be a finite number > 0, got 0.0"),
    ("dcgan", "weight_decay", -1.0, "weight_decay must be a finite number >= 0, got -1.0"),
    ("dcgan", "g_width", 0, "g_width must be an integer >= 1, got 0"),
    ("dcgan", "d_width", -4, "d_width must be an integer >= 1, got -4"),
    ("dcgan", "latent_dim", -1, "latent_dim must be an integer >= 1, got -1"),
    ("dcgan", "num_classes", -3, "num_classes must be an integer >= 0, got -3"),
    ("dcgan", "grad_clip", NAN, "grad_clip must be a finite number >= 0, got nan"),
    ("dcgan", "d_steps", 0, "d_steps must be an integer >= 1, got 0"),
    ("dcgan", "num_samples", 0, "num_samples must be an integer >= 1, got 0"),
    ("dcgan", "ema", 1.0, "ema must be a finite number in [0, 1), got 1.0"),
    ("dcgan", "betas", (0.5, INF), "each value of betas must be a finite number in [0, 1), got 0.5,inf"),
    ("dcgan", "steps", 0, "steps must be an integer >= 1 or none, got 0"),
    ("dcgan", "batch_size", 0, "batch_size must be an integer >= 1, got 0"),
    ("dcgan", "seed", -1, "seed must be an integer >= 0, got -1"),
    ("gan", "d_dropout", 1.0, "d_dropout must be a finite number in [0, 1), got 1.0"),
    ("gan", "mlp_layers", 0, "mlp_layers must be an integer >= 1, got 0"),
    ("wgan", "clip_value", -0.01, "clip_value must be a finite number >= 0, got -0.01"),
    ("wgan-gp", "gp_weight", NAN, "gp_weight must be a finite number >= 0, got nan"),
    ("vae", "latent_dim", 0, "latent_dim must be an integer >= 1, got 0"),
    ("vae", "beta", -1.0, "beta must be a finite number >= 0, got -1.0"),
    ("vae", "lr", INF, "lr must be a finite number > 0, got inf"),
    ("cvae", "gmm_components", 0, "gmm_components must be an integer >= 1, got 0"),
    ("ae", "width", 0, "width must be an integer >= 1, got 0"),
    ("diffusion", "timesteps", 0, "timesteps must be an integer >= 1, got 0"),
    ("diffusion", "beta_end", 1.5, "beta_end must be a finite number in (0, 1), got 1.5"),
    ("diffusion", "channel_mult", (1, 0, 2), "each value of channel_mult must be an integer >= 1, got 1,0,2"),
    ("diffusion", "label_dropout", NAN, "label_dropout must be a finite number in [0, 1], got nan"),
    ("pix2pix", "l1_weight", -100.0, "l1_weight must be a finite number >= 0, got -100.0"),
    ("pix2pix", "dropout", 1.0, "dropout must be a finite number in [0, 1), got 1.0"),
    ("flow", "logit_alpha", 0.5, "logit_alpha must be a finite number in (0, 0.5), got 0.5"),
    ("flow", "hidden", 0, "hidden must be an integer >= 1, got 0"),
    ("flow", "temperature", NAN, "temperature must be a finite number >= 0, got nan"),
    ("cyclegan", "pool_size", -1, "pool_size must be an integer >= 0, got -1"),
    ("cyclegan", "decay_after", 2.0, "decay_after must be a finite number in [0, 1], got 2.0"),
]


def _as_set(value) -> str:
    return ",".join(str(v) for v in value) if isinstance(value, tuple) else str(value)


@pytest.mark.parametrize("family,key,value,msg", BAD, ids=[f"{f}-{k}-{v}" for f, k, v, _ in BAD])
def test_create_refuses_out_of_range_values(family, key, value, msg):
    with pytest.raises(GenzooError) as e:
        genzoo.create(family, **{key: value})
    assert msg in str(e.value) and "\n" not in str(e.value)
    assert f"use e.g. {key}=" in str(e.value)  # a value that would work


@pytest.mark.parametrize("family,key,value,msg", BAD, ids=[f"{f}-{k}-{v}" for f, k, v, _ in BAD])
def test_set_refuses_out_of_range_values(family, key, value, msg):
    cfg = families.get(family).default_config()
    with pytest.raises(GenzooError) as e:
        cfg.with_overrides([f"{key}={_as_set(value)}"])
    assert msg in str(e.value) and f"pass e.g. --set {key}=" in str(e.value)
    example = str(e.value).split(f"--set {key}=")[1]
    cfg.with_overrides([f"{key}={example}"])  # the suggested fix is itself accepted


@pytest.mark.parametrize("name", families.names())
def test_every_family_default_config_passes_its_own_bounds(name):
    fam = families.get(name)
    cfg = fam.default_config()
    cfg.check_bounds()
    assert type(cfg).from_dict(cfg.to_dict()) == cfg  # and survives the round trip through config.json
    assert type(cfg).field_bounds()["lr"].lo == 0  # the base bounds are inherited by every family


def test_subclass_that_only_changes_a_default_keeps_the_bound():
    from dataclasses import dataclass

    @dataclass
    class Mine(ModelConfig):
        lr: float = 1e-3  # no bound here: ModelConfig's lr > 0 still applies
        depth: int = bounded(3, min=1, max=8)
        free: float = 0.5  # no bound: only NaN and inf are refused

    with pytest.raises(GenzooError, match="lr must be a finite number > 0, got -1.0"):
        Mine().update({"lr": -1})
    with pytest.raises(GenzooError, match=r"depth must be an integer in \[1, 8\], got 9"):
        Mine().update({"depth": 9})
    with pytest.raises(GenzooError, match="free must be a finite number, got -inf"):
        Mine().update({"free": "-inf"})
    assert Mine().update({"free": -5, "depth": 8, "steps": "none"}).free == -5.0


def test_non_finite_allowed_only_where_the_field_says_so():
    from dataclasses import dataclass

    @dataclass
    class Mine(ModelConfig):
        cap: float = bounded(INF, min=0, finite=False)  # inf: no cap

    assert math.isinf(Mine().update({"cap": "inf"}).cap)
    with pytest.raises(GenzooError, match="cap must be a number >= 0, got -1.0"):
        Mine().update({"cap": -1})


def _write_run(tmp_path: Path, **bad) -> Path:
    run = tmp_path / "run"
    genzoo.create("dcgan", image_size=16, g_width=4, d_width=4, latent_dim=4).save_pretrained(run, card=False)
    meta = json.loads((run / "config.json").read_text())
    meta["config"].update(bad)
    (run / "config.json").write_text(json.dumps(meta))
    return run


def test_config_json_with_a_bad_value_is_refused_on_load(tmp_path):
    run = _write_run(tmp_path, num_classes=-3)
    with pytest.raises(GenzooError) as e:
        genzoo.load(str(run))
    msg = str(e.value)
    assert "num_classes must be an integer >= 0, got -3" in msg and "config.json" in msg and "fix it there" in msg


def test_config_json_with_nan_is_refused_on_load(tmp_path):
    run = _write_run(tmp_path, lr=NAN)  # json.dumps writes NaN, which json.loads reads back
    with pytest.raises(GenzooError, match="lr must be a finite number > 0, got nan"):
        genzoo.load(str(run))


def _genzoo(*args, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "genzoo", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=120)


@pytest.mark.parametrize("family,pair,msg", [
    ("dcgan", "lr=nan", "lr must be a finite number > 0, got nan; pass e.g. --set lr=0.0002"),
    ("dcgan", "num_samples=0", "num_samples must be an integer >= 1, got 0"),
    ("wgan", "d_steps=0", "d_steps must be an integer >= 1, got 0"),
    ("vae", "latent_dim=-1", "latent_dim must be an integer >= 1, got -1"),
])
def test_cli_train_refuses_before_any_work(tmp_path, family, pair, msg):
    out = tmp_path / "out"
    r = _genzoo("train", family, "--set", pair, "--steps", "2", "--out", out, "--no-progress", cwd=tmp_path)
    text = r.stdout + r.stderr
    assert r.returncode != 0 and "Traceback" not in text, text
    assert msg in " ".join(text.split()), text  # the printer may wrap a long line
    assert not out.exists() or not any(out.iterdir())  # nothing written


def test_cli_train_refuses_a_bad_config_file(tmp_path):
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"grad_clip": "nan"}))
    out = tmp_path / "out"
    r = _genzoo("train", "dcgan", "--config", cfg, "--out", out, cwd=tmp_path)
    text = r.stdout + r.stderr
    assert r.returncode != 0 and "Traceback" not in text, text
    assert "grad_clip must be a finite number >= 0, got nan" in " ".join(text.split()), text
    assert not out.exists() or not any(out.iterdir())


def test_cli_sample_refuses_a_run_with_a_bad_config(tmp_path):
    run = _write_run(tmp_path, g_width=0)
    r = _genzoo("sample", run, "-n", "2", "--out", tmp_path / "s.png", cwd=tmp_path)
    text = r.stdout + r.stderr
    assert r.returncode != 0 and "Traceback" not in text, text
    assert "g_width must be an integer >= 1, got 0" in " ".join(text.split()), text
    assert not (tmp_path / "s.png").exists()
