"""Damaged checkpoints and weights: one tiny run with three checkpoints, built once, and the
damages the tests apply to copies of it (tests/test_checkpoint_damage.py, tests/bad_inputs_ckpt.py).

``ckpt_source``: a tiny DCGAN trained 6 steps with checkpoints at steps 2, 4 and 6. Each damage
is a function of one checkpoint folder, with the words its message must contain. Session
fixtures ``ckpt_all_<damage>`` are copies with EVERY checkpoint so damaged (nothing to fall
back to); ``ckpt_nan_weights`` and ``ckpt_wide_config`` are copies whose model.safetensors holds
NaN bytes, and whose config.json asks for ``g_width=100000``.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from tests.conftest import TINY_DCGAN

CKPT_RUN = {**TINY_DCGAN, "steps": 6, "checkpoint_every": 2, "sample_every": 6}
CKPT_STEPS = (2, 4, 6)
NAN_VALUES = 12  # how many float32 values ckpt_nan_weights overwrites with NaN


def step_dir(run: Path, step: int) -> Path:
    return run / "checkpoints" / f"step-{step:08d}"


def copy_run(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns(".lock"))
    return dst


def _edit_json(folder: Path, fn: Callable[[dict], object]) -> None:
    p = folder / "state.json"
    p.write_text(json.dumps(fn(json.loads(p.read_text()))))


def _without(d: dict, key: str) -> dict:
    return {k: v for k, v in d.items() if k != key}


def _edit_tensors(folder: Path, fn: Callable[[dict[str, torch.Tensor]], dict[str, torch.Tensor]]) -> None:
    p = folder / "state.safetensors"
    save_file(fn(load_file(p)), p)


def _drop(name: str) -> Callable[[Path], None]:
    """Remove tensor ``name``, or every tensor under ``name`` when it ends with a dot."""
    def damage(folder: Path) -> None:
        hit = (lambda k: k.startswith(name)) if name.endswith(".") else (lambda k: k == name)
        _edit_tensors(folder, lambda t: {k: v for k, v in t.items() if not hit(k)})
    return damage


def _reshape(name: str) -> Callable[[Path], None]:
    def damage(folder: Path) -> None:
        _edit_tensors(folder, lambda t: {**t, name: torch.zeros(3, 3)})
    return damage


def nan_bytes(path: Path, name: str | None = None, count: int = NAN_VALUES) -> str:
    """Overwrite ``count`` float32 values at the start of tensor ``name`` (default: the first
    float32 tensor of at least ``count`` values) in a safetensors file with NaN, in place.
    Returns the tensor's name."""
    data = bytearray(path.read_bytes())
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + n])
    if name is None:
        name = next(k for k, v in header.items() if k != "__metadata__" and v["dtype"] == "F32"
                    and (v["data_offsets"][1] - v["data_offsets"][0]) >= 4 * count)
    start = 8 + n + header[name]["data_offsets"][0]
    data[start:start + 4 * count] = b"\x00\x00\xc0\x7f" * count  # float32 NaN, little-endian
    path.write_bytes(bytes(data))
    return name


# damage name -> (what it does to one checkpoint folder, words of the reason it is skipped for)
DAMAGES: dict[str, tuple[Callable[[Path], None], str]] = {
    "json_list": (lambda f: _edit_json(f, lambda s: [s]), "its state.json is a list, not an object of fields"),
    "no_step": (lambda f: _edit_json(f, lambda s: _without(s, "step")), "its state.json has no 'step'"),
    "no_optimizers": (lambda f: _edit_json(f, lambda s: _without(s, "optimizers")),
                      "its state.json has no 'optimizers'"),
    "string_step": (lambda f: _edit_json(f, lambda s: {**s, "step": str(s["step"])}),
                    "its state.json has 'step' '6' (text), not a whole number"),
    "bad_json": (lambda f: (f / "state.json").write_text('{"step": 6, "fam'), "its state.json is not valid JSON"),
    "no_state_json": (lambda f: (f / "state.json").unlink(), "it has no state.json"),
    "truncated_tensors": (lambda f: (f / "state.safetensors").write_bytes((f / "state.safetensors").read_bytes()[:500]),
                          "its state.safetensors is corrupted or truncated"),
    "no_rng": (_drop("rng.torch"), "its random generator state 'rng.torch' is missing"),
    "no_data_gen": (_drop("data.gen"), "its random generator state 'data.gen' is missing"),
    "no_weight": (_drop("model.generator.net.0.weight"), "its weight tensor 'model.generator.net.0.weight' is missing"),
    "no_ema": (_drop("ema."), "its EMA tensor 'ema."),
    "no_optim_tensor": (_drop("optim.g.0.exp_avg"),
                        "its optimizer tensor 'optim.g.0.exp_avg' is missing"),
    "wrong_shape": (_reshape("model.discriminator.net.0.weight"),
                    "its tensor 'model.discriminator.net.0.weight' has shape (3, 3)"),
    "wrong_ema_shape": (_reshape("ema.net.0.weight"), "its tensor 'ema.net.0.weight' has shape (3, 3)"),
    "nan_weight": (lambda f: nan_bytes(f / "state.safetensors", "model.generator.net.0.weight"),
                   f"its tensor 'model.generator.net.0.weight' has {NAN_VALUES} non-finite value(s)"),
    "bad_rng": (lambda f: _edit_tensors(f, lambda t: {**t, "rng.torch": torch.zeros(7, dtype=torch.uint8)}),
                "its random generator state 'rng.torch' has the wrong size or type"),
    "optim_groups": (lambda f: _edit_json(f, lambda s: {**s, "optimizers": {**s["optimizers"], "d": {
        **s["optimizers"]["d"], "param_groups": s["optimizers"]["d"]["param_groups"] * 2}}}),
                     "the optimizer state of phase 'd' has 2 parameter group(s), the optimizer 1"),
}


@pytest.fixture(scope="session")
def ckpt_source(tmp_path_factory) -> Path:
    """A tiny DCGAN trained 6 steps, checkpoints at 2, 4 and 6 (read-only: copy it)."""
    from genzoo.engine import train

    out = tmp_path_factory.mktemp("ckpt") / "source"
    train("dcgan", out=out, data="digits", progress=False, keep_checkpoints=3, **CKPT_RUN)
    return out


def _all_damaged(how: str) -> Callable[..., Path]:
    @pytest.fixture(scope="session")
    def fixture(ckpt_source: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
        run = copy_run(ckpt_source, tmp_path_factory.mktemp("ckpt") / f"all-{how}")
        for step in CKPT_STEPS:
            DAMAGES[how][0](step_dir(run, step))
        return run

    fixture.__doc__ = f"A copy of ckpt_source with every checkpoint damaged by '{how}' (nothing to fall back to)."
    return fixture


# ckpt_all_json_list, ckpt_all_no_ema, ...: one per damage, for the CLI rows of tests/bad_inputs_ckpt.py
for _how in DAMAGES:
    globals()[f"ckpt_all_{_how}"] = _all_damaged(_how)


@pytest.fixture(scope="session")
def ckpt_nan_weights(ckpt_source: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of ckpt_source whose model.safetensors has NAN_VALUES NaN values in generator.net.0.weight."""
    run = copy_run(ckpt_source, tmp_path_factory.mktemp("ckpt") / "nan-weights")
    nan_bytes(run / "model.safetensors", "generator.net.0.weight")
    return run


@pytest.fixture(scope="session")
def ckpt_wide_config(ckpt_source: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of ckpt_source whose config.json asks for g_width=100000 (about 1 TB of weights)."""
    run = copy_run(ckpt_source, tmp_path_factory.mktemp("ckpt") / "wide-config")
    cfg = json.loads((run / "config.json").read_text())
    cfg["config"]["g_width"] = 100000
    (run / "config.json").write_text(json.dumps(cfg))
    return run
