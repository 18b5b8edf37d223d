"""Resumable checkpoints: find, read, write (atomically) and prune them, and the pieces of
state they hold that are not the trainer's own (optimizers, random generators).

Layout::

    RUN/checkpoints/step-N/state.safetensors   tensors: model.*, ema.*, optim.*, rng.*, data.*
    RUN/checkpoints/step-N/state.json          scalars: family, step, config, optimizer scalars ...
    RUN/checkpoints/latest                     name of the newest complete checkpoint
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from genzoo.config import ModelConfig
from genzoo.console import console, esc
from genzoo.engine.devices import seed_everything
from genzoo.errors import GenzooError
from genzoo.family import Family
from genzoo.io import (
    flatten_optimizer,
    load_tensors,
    read_json,
    save_tensors,
    unflatten_optimizer,
    write_json,
    write_text,
)

# Config fields that may change when a run is resumed (the rest must match the checkpoint).
RESUMABLE = {"steps", "log_every", "sample_every", "checkpoint_every", "num_samples"}

State = tuple[dict[str, Tensor], dict[str, Any]]  # (tensors, JSON scalars)


_STEP_NAME = re.compile(r"^step-\d+$")


def find_checkpoint(run_dir: Path) -> Path | None:
    """The newest complete checkpoint: the one 'latest' names, else the highest step present.

    'latest' must name a plain ``step-N`` folder of this run's checkpoints/: a path that leads
    elsewhere (``../../other/checkpoints/step-5``, a link out of the run) or bytes that are not
    text are ignored with a note, so a damaged or hostile run never resumes another run.
    """
    ck = run_dir / "checkpoints"
    if not ck.is_dir():
        return None
    latest = ck / "latest"
    if latest.is_file():
        try:
            name = latest.read_bytes().decode("utf-8").strip()
        except (OSError, UnicodeDecodeError):
            name = None
        if name is not None and _STEP_NAME.match(name) and _complete(ck, ck / name):
            return ck / name
        if name is None:
            why = "is not UTF-8 text"
        elif not _STEP_NAME.match(name):
            why = f"names {name[:80]!r}, not a step-N checkpoint of this run"
        else:
            why = f"names {name}, which is not a complete checkpoint"
        found = _highest(ck)
        instead = f"using the highest complete checkpoint, {found.name}" if found else "no complete checkpoint found"
        console.print(f"[yellow]note:[/] {esc(latest)} {esc(why)}; {instead}")
        return found
    return _highest(ck)


def _complete(ck: Path, cand: Path) -> bool:
    """A step-N folder inside ``ck`` (not a link out of it) holding both state files."""
    try:
        inside = cand.resolve().parent == ck.resolve()
    except OSError:
        return False
    return inside and (cand / "state.json").is_file() and (cand / "state.safetensors").is_file()


def _highest(ck: Path) -> Path | None:
    done = sorted(p for p in ck.glob("step-*") if _STEP_NAME.match(p.name) and _complete(ck, p))
    return done[-1] if done else None


def read_checkpoint(ck: Path) -> State:
    return load_tensors(ck / "state.safetensors", "checkpoint"), read_json(ck / "state.json", "checkpoint state")


def resumed_config(family: Family, run_dir: Path, scalars: dict[str, Any], overrides: dict[str, Any]) -> ModelConfig:
    """The checkpoint's config with ``overrides`` applied; only RESUMABLE fields may change."""
    if scalars.get("family") != family.name:
        raise GenzooError(f"'{run_dir}' holds a {scalars.get('family')} run, not {family.name}")
    saved = family.config_class.from_dict(scalars["config"], source="checkpoint")
    new = saved.update(overrides)
    old_values = saved.to_dict()
    bad = sorted(k for k, v in new.to_dict().items() if old_values[k] != v and k not in RESUMABLE)
    if bad:
        raise GenzooError(
            f"cannot change {', '.join(bad)} when resuming (only {', '.join(sorted(RESUMABLE))}); "
            "start a new run with --out instead"
        )
    return new


def write_checkpoint(run_dir: Path, step: int, state: State, keep: int) -> Path:
    """Write checkpoints/step-N atomically (temp dir + rename), point 'latest' at it, and keep
    only the newest ``keep``."""
    ckroot = run_dir / "checkpoints"
    ckroot.mkdir(parents=True, exist_ok=True)
    name = f"step-{step:08d}"
    final = ckroot / name
    if not final.exists():
        tmp = ckroot / f".{name}.tmp-{os.getpid()}"
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir()
        save_tensors(tmp / "state.safetensors", state[0])
        write_json(tmp / "state.json", state[1])
        os.replace(tmp, final)
    write_text(ckroot / "latest", name + "\n")
    done = sorted(p for p in ckroot.glob("step-*") if p.is_dir())
    for old in done[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    for stale in ckroot.glob(".step-*.tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)
    return final


# ------------------------------------------------------------------------------------------
# pieces of state
# ------------------------------------------------------------------------------------------
def strip_compile(sd: dict[str, Tensor]) -> dict[str, Tensor]:
    # torch.compile wraps modules as `_orig_mod`; saved files use the plain names.
    return {k.replace("._orig_mod", ""): v for k, v in sd.items()}


def optimizers_state(optimizers: dict[str, torch.optim.Optimizer]) -> State:
    """Every optimizer's state as ``optim.<phase>.*`` tensors and per-phase scalars."""
    tensors: dict[str, Tensor] = {}
    scalars: dict[str, Any] = {}
    for name, opt in optimizers.items():
        t, s = flatten_optimizer(f"optim.{name}", opt.state_dict())
        tensors.update(t)
        scalars[name] = s
    return tensors, scalars


def load_optimizers(optimizers: dict[str, torch.optim.Optimizer], tensors: dict[str, Tensor],
                    scalars: dict[str, Any], device: torch.device) -> None:
    for name, opt in optimizers.items():
        prefix = f"optim.{name}"
        sub = {k: v.to(device) if not k.endswith(".step") else v for k, v in tensors.items() if k.startswith(prefix + ".")}
        opt.load_state_dict(unflatten_optimizer(prefix, sub, scalars[name]))


def rng_state(device: torch.device) -> dict[str, Tensor]:
    """This process's torch generator states (CPU, and the GPU's on CUDA)."""
    out = {"rng.torch": torch.get_rng_state()}
    if device.type == "cuda":
        out["rng.cuda"] = torch.cuda.get_rng_state(device)
    return out


def restore_rng(tensors: dict[str, Tensor], rank: int, device: torch.device, fresh_seed: int) -> None:
    """Continue this rank's own stream; a rank the checkpointed run did not have seeds a fresh
    stream from ``fresh_seed``."""
    sfx = f".rank{rank}" if rank > 0 else ""
    if f"rng.torch{sfx}" in tensors:
        torch.set_rng_state(tensors[f"rng.torch{sfx}"])
    else:
        seed_everything(fresh_seed)
    if f"rng.cuda{sfx}" in tensors and device.type == "cuda":
        torch.cuda.set_rng_state(tensors[f"rng.cuda{sfx}"], device)
