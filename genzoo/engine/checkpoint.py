"""Resumable checkpoints: find, validate, read, write (atomically) and prune them, and the
pieces of state they hold that are not the trainer's own (optimizers, random generators).

Layout::

    RUN/checkpoints/step-N/state.safetensors   tensors: model.*, ema.*, optim.*, rng.*, data.*
    RUN/checkpoints/step-N/state.json          scalars: family, step, config, optimizer scalars ...
    RUN/checkpoints/latest                     name of the newest complete checkpoint

A resume takes the newest checkpoint that validates completely (:func:`restore_point`): every
tensor the run's model, EMA, optimizers, random generators and data order need, with its shape
and dtype and finite values, and every ``state.json`` field with its type. One that fails is
skipped with a note saying why; nothing is loaded into the trainer before one has passed.
"""

from __future__ import annotations

import json
import math
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
from genzoo.engine.optim import phase_optimizer
from genzoo.errors import GenzooError
from genzoo.family import Family
from genzoo.io import (
    count_nonfinite,
    flatten_optimizer,
    json_default,
    load_tensors,
    read_header,
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


class DamagedCheckpoint(GenzooError):
    """One checkpoint cannot be resumed; the message says why (``restore_point`` skips it)."""


def _step_of(p: Path) -> int:
    return int(p.name[5:])


def _latest_name(ck: Path) -> tuple[str | None, str | None]:
    """(the ``step-N`` name in ck/latest, or None; why it is not usable, or None)."""
    latest = ck / "latest"
    if not latest.is_file():
        return None, None
    try:
        name = latest.read_bytes().decode("utf-8").strip()
    except UnicodeDecodeError:
        return None, "is not UTF-8 text"
    except OSError as e:
        return None, f"cannot be read ({e.strerror})"
    if not _STEP_NAME.match(name):
        return None, f"names {name[:80]!r}, not a step-N checkpoint of this run"
    return name, None


def find_checkpoint(run_dir: Path) -> Path | None:
    """The newest complete checkpoint: the one 'latest' names, else the highest step present.

    'latest' must name a plain ``step-N`` folder of this run's checkpoints/: a path that leads
    elsewhere (``../../other/checkpoints/step-5``, a link out of the run) or bytes that are not
    text are ignored with a note, so a damaged or hostile run never resumes another run.
    "Complete" means both files are there; :func:`restore_point` validates their contents.
    """
    ck = run_dir / "checkpoints"
    if not ck.is_dir():
        return None
    if not (ck / "latest").is_file():
        return _highest(ck)
    name, why = _latest_name(ck)
    if name is not None and _complete(ck, ck / name):
        return ck / name
    if why is None:
        why = f"names {name}, which is not a complete checkpoint"
    found = _highest(ck)
    instead = f"using the highest complete checkpoint, {found.name}" if found else "no complete checkpoint found"
    console.print(f"[yellow]note:[/] {esc(ck / 'latest')} {esc(why)}; {instead}")
    return found


def _inside(ck: Path, cand: Path) -> bool:
    """``cand`` is a folder of ``ck`` itself (not a link out of it)."""
    try:
        return cand.is_dir() and cand.resolve().parent == ck.resolve()
    except OSError:
        return False


def _complete(ck: Path, cand: Path) -> bool:
    """A step-N folder inside ``ck`` (not a link out of it) holding both state files."""
    return _inside(ck, cand) and (cand / "state.json").is_file() and (cand / "state.safetensors").is_file()


def _step_folders(ck: Path) -> list[Path]:
    """Every step-N folder of ``ck`` (complete or not), highest step first."""
    if not ck.is_dir():
        return []
    return sorted((p for p in ck.glob("step-*") if _STEP_NAME.match(p.name) and _inside(ck, p)),
                  key=_step_of, reverse=True)


def _highest(ck: Path) -> Path | None:
    done = [p for p in _step_folders(ck) if _complete(ck, p)]
    return done[0] if done else None


def read_checkpoint(ck: Path) -> State:
    return load_tensors(ck / "state.safetensors", "checkpoint"), read_json(ck / "state.json", "checkpoint state")


# ------------------------------------------------------------------------------------------
# resume: the newest checkpoint that validates
# ------------------------------------------------------------------------------------------
def restore_point(family: Family, run_dir: Path, overrides: dict[str, Any], *, quiet: bool = False
                  ) -> tuple[Path, ModelConfig, State]:
    """The checkpoint a resume of ``run_dir`` continues: the newest that validates completely.

    Candidates are the checkpoint 'latest' names, then every older ``step-N`` folder, newest
    first. Each is read and checked (:func:`check_checkpoint`) before anything is loaded; one
    that fails is skipped with a note saying why (it is left in place: a later save at its step
    replaces it, and pruning never counts it). Returns (its folder, the config to resume with:
    its own plus ``overrides``, its state). With no checkpoint, or none that validates, one
    GenzooError names each one's problem. Errors of the user's own asking (another family,
    an override that cannot change on resume) are raised at once, not skipped.
    """
    ckroot = run_dir / "checkpoints"
    name, why = _latest_name(ckroot)
    folders = _step_folders(ckroot)
    if name is not None and any(p.name == name for p in folders):
        folders = [p for p in folders if _step_of(p) <= int(name[5:])]  # newer ones: never finished
    elif (ckroot / "latest").is_file() and folders and not quiet:
        why = why or f"names {name}, which is not a checkpoint folder"
        console.print(f"[yellow]note:[/] {esc(ckroot / 'latest')} {esc(why)}; trying the highest checkpoint, "
                      f"{esc(folders[0].name)}")
    if not folders:
        raise GenzooError(f"no checkpoint to resume in '{run_dir}'; train without --resume first")
    skipped: list[tuple[str, str]] = []
    for folder in folders:
        try:
            state = _read_for_resume(folder)
            saved = _saved_config(family, run_dir, state[1])
            config = _apply_overrides(saved, overrides)
            check_checkpoint(family, saved, state)
        except DamagedCheckpoint as e:
            skipped.append((folder.name, str(e)))
            continue
        if skipped and not quiet:
            for bad, reason in skipped:
                console.print(f"[yellow]note:[/] checkpoint {esc(bad)} was skipped: {esc(reason)}")
            console.print(f"[yellow]note:[/] resuming from {esc(folder.name)} (step {state[1]['step']}), the newest "
                          "checkpoint that validates; the skipped one(s) stay in place until the run saves over them")
        return folder, config, state
    reasons = "; ".join(f"{n}: {r}" for n, r in skipped)
    raise GenzooError(
        f"no checkpoint of '{run_dir}' can be resumed ({reasons}); start a new run with another --out "
        "(the damaged checkpoints are left as they are)"
    )


def _read_for_resume(folder: Path) -> State:
    """Both files of ``folder``, state.json's fields checked; a DamagedCheckpoint otherwise."""
    for f in ("state.json", "state.safetensors"):
        if not (folder / f).is_file():
            raise DamagedCheckpoint(f"it has no {f}")
    try:
        scalars = read_json(folder / "state.json", "checkpoint state")
    except GenzooError:
        raise DamagedCheckpoint("its state.json is not valid JSON (truncated or damaged)") from None
    check_scalars(scalars, _step_of(folder))
    try:
        tensors = load_tensors(folder / "state.safetensors", "checkpoint")
    except GenzooError:
        raise DamagedCheckpoint("its state.safetensors is corrupted or truncated") from None
    return tensors, scalars


def _kind(v: Any) -> str:
    """A JSON value's kind, for messages."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true/false"
    return {str: "text", list: "a list", dict: "an object", int: "a whole number", float: "a number"}.get(
        type(v), type(v).__name__)


def _whole(v: Any, lo: int = 0) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= lo


def check_scalars(scalars: Any, folder_step: int | None = None) -> None:
    """state.json's fields and their types; a DamagedCheckpoint naming the first that is wrong.

    ``folder_step``: the N of the step-N folder it came from (the two must agree).
    """
    if not isinstance(scalars, dict):
        raise DamagedCheckpoint(f"its state.json is {_kind(scalars)}, not an object of fields")
    need: dict[str, tuple[type | tuple[type, ...], str]] = {
        "family": (str, "text"), "step": (int, "a whole number"), "config": (dict, "an object"),
        "optimizers": (dict, "an object"), "data": (dict, "an object"),
    }
    for key, (typ, what) in need.items():
        if key not in scalars:
            raise DamagedCheckpoint(f"its state.json has no '{key}'")
        v = scalars[key]
        if not isinstance(v, typ) or isinstance(v, bool):
            raise DamagedCheckpoint(f"its state.json has 'step' {str(v)[:40]!r} ({_kind(v)}), not {what}"
                                    if key == "step" else f"its state.json has '{key}' as {_kind(v)}, not {what}")
    if scalars["step"] < 0:
        raise DamagedCheckpoint(f"its state.json has a negative step ({scalars['step']})")
    if folder_step is not None and scalars["step"] != folder_step:
        raise DamagedCheckpoint(f"its state.json says step {scalars['step']}, its folder name step {folder_step}")
    for key in ("pos", "epoch"):
        if not _whole(scalars["data"].get(key)):
            raise DamagedCheckpoint(f"its state.json has no whole number 'data.{key}' (the position in the data)")
    for key in ("images_seen", "ema_updates"):
        if key in scalars and not _whole(scalars[key]):
            raise DamagedCheckpoint(f"its state.json has '{key}' as {_kind(scalars[key])}, not a whole number >= 0")
    wall = scalars.get("wall_time", 0.0)
    if isinstance(wall, bool) or not isinstance(wall, (int, float)) or not math.isfinite(wall) or wall < 0:
        raise DamagedCheckpoint(f"its state.json has 'wall_time' {str(wall)[:40]!r}, not a number of seconds >= 0")


def _saved_config(family: Family, run_dir: Path, scalars: dict[str, Any]) -> ModelConfig:
    if scalars["family"] != family.name:  # the user's mistake (another run), not damage: said at once
        raise GenzooError(f"'{run_dir}' holds a {scalars['family']} run, not {family.name}")
    try:
        return family.config_class.from_dict(scalars["config"], source="checkpoint")
    except GenzooError as e:
        raise DamagedCheckpoint(f"the config in its state.json is not valid ({e})") from None


def _apply_overrides(saved: ModelConfig, overrides: dict[str, Any]) -> ModelConfig:
    new = saved.update(overrides)
    old_values = saved.to_dict()
    bad = sorted(k for k, v in new.to_dict().items() if old_values[k] != v and k not in RESUMABLE)
    if bad:
        raise GenzooError(
            f"cannot change {', '.join(bad)} when resuming (only {', '.join(sorted(RESUMABLE))}); "
            "start a new run with --out instead"
        )
    return new


def resumed_config(family: Family, run_dir: Path, scalars: dict[str, Any], overrides: dict[str, Any]) -> ModelConfig:
    """The checkpoint's config with ``overrides`` applied; only RESUMABLE fields may change."""
    check_scalars(scalars)
    return _apply_overrides(_saved_config(family, run_dir, scalars), overrides)


def expected_tensors(family: Family, config: ModelConfig) -> tuple[dict[str, tuple[torch.dtype, torch.Size]],
                                                                  dict[str, torch.optim.Optimizer]]:
    """What a checkpoint of a ``config`` run must hold: ``({model.* and ema.* name: (dtype,
    shape)}, {phase: its optimizer over the meta-device parameters})``. Built on the meta device
    (no memory), through the same recipe, EMA rule and optimizers as the trainer."""
    model = family.build_meta(config)
    if model is None:  # this family cannot build on the meta device: the real model (the trainer builds it next anyway)
        model = family.build(config)
    out = {f"model.{k}": (v.dtype, v.shape) for k, v in model.state_dict().items()}
    recipe = family.recipe(model, config)
    ema_net = recipe.ema_module or model.sampling_network  # as Trainer._ema_name
    if config.ema > 0 and ema_net:
        out.update({f"ema.{k}": (v.dtype, v.shape) for k, v in getattr(model, ema_net).state_dict().items()})
    optimizers = {ph.name: phase_optimizer(ph, model, config, torch.device("meta")) for ph in recipe.phases}
    return out, optimizers


def check_checkpoint(family: Family, config: ModelConfig, state: State) -> None:
    """Everything a resume of ``state`` will load, checked before anything is: the model and EMA
    tensors (present, shape, dtype, finite), each phase's optimizer state (its parameter groups
    and every state tensor it names, with the parameter's shape), the random generators and the
    data order. ``config`` is the checkpoint's own. Raises a DamagedCheckpoint naming the first
    problem."""
    tensors, scalars = state
    want, optimizers = expected_tensors(family, config)
    for group, label in (("model.", "weight"), ("ema.", "EMA")):
        names = [k for k in want if k.startswith(group)]
        missing = [k for k in names if k not in tensors]
        if missing:
            more = f" (with {len(missing) - 1} more {label} tensor(s))" if len(missing) > 1 else ""
            raise DamagedCheckpoint(f"its {label} tensor '{missing[0]}' is missing{more}")
        if names:
            extra = sorted(k for k in tensors if k.startswith(group) and k not in want)
            if extra:
                raise DamagedCheckpoint(f"it holds a tensor '{extra[0]}' the model does not have")
    for name, (dtype, shape) in want.items():
        _check_tensor(name, tensors[name], shape, dtype)
    for phase, opt in optimizers.items():
        _check_optimizer(phase, opt, tensors, scalars["optimizers"].get(phase))
    ref = torch.get_rng_state()
    for name in ("rng.torch", "data.gen"):
        if name not in tensors:
            raise DamagedCheckpoint(f"its random generator state '{name}' is missing")
    for name, t in tensors.items():
        if name.startswith(("rng.torch", "data.gen")):
            _check_generator(name, t, ref)
        elif name.startswith("rng."):  # a GPU generator's state: a byte vector of the device's own size
            if t.dtype != torch.uint8 or t.dim() != 1:
                raise DamagedCheckpoint(f"its random generator state '{name}' is not a byte vector")
    perm = tensors.get("data.perm")
    if perm is not None and (perm.dtype != torch.int64 or perm.dim() != 1):
        raise DamagedCheckpoint("its data order 'data.perm' is not a vector of indices")


def _check_tensor(name: str, t: Tensor, shape: torch.Size, dtype: torch.dtype | None) -> None:
    if t.shape != shape:
        raise DamagedCheckpoint(f"its tensor '{name}' has shape {tuple(t.shape)}, the model's is {tuple(shape)}")
    if dtype is not None and t.dtype != dtype:
        raise DamagedCheckpoint(f"its tensor '{name}' is {t.dtype}, the model's is {dtype}")
    bad = count_nonfinite(t)
    if bad:
        raise DamagedCheckpoint(f"its tensor '{name}' has {bad} non-finite value(s)")


def _check_generator(name: str, t: Tensor, ref: Tensor) -> None:
    if t.dtype != torch.uint8 or t.shape != ref.shape:
        raise DamagedCheckpoint(f"its random generator state '{name}' has the wrong size or type "
                                f"({t.dtype}, {tuple(t.shape)}; a CPU generator's is {ref.dtype}, {tuple(ref.shape)})")
    try:
        torch.Generator().set_state(t)  # the generator checks its own state; a scratch one, nothing is restored yet
    except RuntimeError:
        raise DamagedCheckpoint(f"its random generator state '{name}' is not a valid generator state") from None


def _check_optimizer(phase: str, opt: torch.optim.Optimizer, tensors: dict[str, Tensor], saved: Any) -> None:
    """One phase's optimizer state against ``opt`` (the same optimizer over meta parameters)."""
    where = f"the optimizer state of phase '{phase}'"
    if not isinstance(saved, dict) or not isinstance(saved.get("param_groups"), list) \
            or not isinstance(saved.get("state"), dict):
        raise DamagedCheckpoint(f"{where} is missing from its state.json" if saved is None else
                                f"{where} in its state.json has no 'param_groups' list and 'state' object")
    groups = saved["param_groups"]
    if len(groups) != len(opt.param_groups):
        raise DamagedCheckpoint(f"{where} has {len(groups)} parameter group(s), the optimizer {len(opt.param_groups)}")
    shapes: dict[str, torch.Size] = {}
    for g, fresh in zip(groups, opt.param_groups):
        ids = g.get("params") if isinstance(g, dict) else None
        if not isinstance(ids, list) or not all(_whole(i) for i in ids) or len(ids) != len(fresh["params"]):
            raise DamagedCheckpoint(f"{where} does not list the {len(fresh['params'])} parameters of its group")
        lr = g.get("lr")
        if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not math.isfinite(lr) or lr < 0:
            raise DamagedCheckpoint(f"{where} has no valid learning rate ('lr': {str(lr)[:40]!r})")
        shapes.update({str(i): p.shape for i, p in zip(ids, fresh["params"])})
    if len(shapes) != sum(len(g["params"]) for g in groups):
        raise DamagedCheckpoint(f"{where} lists a parameter twice")
    for idx, entry in saved["state"].items():
        if idx not in shapes or not isinstance(entry, dict):
            raise DamagedCheckpoint(f"{where} has an entry {str(idx)[:20]!r} for no parameter of the optimizer")
        for key, val in entry.items():
            if val != "__tensor__":
                continue
            name = f"optim.{phase}.{idx}.{key}"
            t = tensors.get(name)
            if t is None:
                raise DamagedCheckpoint(f"its optimizer tensor '{name}' is missing")
            if t.dim() and t.shape != shapes[idx]:  # per-element state has the parameter's shape; counters are 0-d
                raise DamagedCheckpoint(f"its optimizer tensor '{name}' has shape {tuple(t.shape)}, "
                                        f"its parameter's is {tuple(shapes[idx])}")
            bad = count_nonfinite(t)
            if bad:
                raise DamagedCheckpoint(f"its optimizer tensor '{name}' has {bad} non-finite value(s)")


# ------------------------------------------------------------------------------------------
# writing and pruning
# ------------------------------------------------------------------------------------------
def write_checkpoint(run_dir: Path, step: int, state: State, keep: int) -> Path:
    """Write checkpoints/step-N atomically (temp dir + rename), read it back, point 'latest' at
    it, and only then prune to the newest ``keep``.

    A tensor with NaN or infinite values is refused before anything is written, so the
    checkpoints already there stay the last good ones. A step-N folder that is already there
    is kept when it holds this very state (a resumed run that saves the step it started from)
    and replaced otherwise (a damaged one that a resume skipped).
    """
    for k, v in state[0].items():
        bad = count_nonfinite(v)
        if bad:
            found = find_checkpoint(run_dir)
            kept = f"the last good checkpoint, {found.name}, is kept" if found else "no checkpoint was written"
            raise GenzooError(f"not writing checkpoint step {step}: tensor '{k}' has {bad} non-finite value(s) "
                              f"(the training diverged); {kept}. Start a new run with a lower learning rate (--set lr=...)")
    ckroot = run_dir / "checkpoints"
    ckroot.mkdir(parents=True, exist_ok=True)
    name = f"step-{step:08d}"
    final = ckroot / name
    if not (final.is_dir() and _holds_state(final, state)):
        tmp = ckroot / f".{name}.tmp-{os.getpid()}"
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir()
        save_tensors(tmp / "state.safetensors", state[0])
        write_json(tmp / "state.json", state[1])
        problem = _read_back(tmp, state)
        if problem:
            shutil.rmtree(tmp, ignore_errors=True)
            raise GenzooError(f"checkpoint step {step} did not read back as written ({problem}); the disk may be "
                              f"full or failing. The checkpoints already in {ckroot} are kept")
        if final.exists():  # a leftover that is not this state (damaged, skipped by the resume)
            shutil.rmtree(final)
        os.replace(tmp, final)
    write_text(ckroot / "latest", name + "\n")
    _prune(ckroot, step, keep)
    for stale in ckroot.glob(".step-*.tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)
    return final


def _read_back(folder: Path, state: State) -> str | None:
    """What is wrong with a just-written checkpoint (its header against ``state``), or None."""
    try:
        header = read_header(folder / "state.safetensors", "checkpoint")
        scalars = read_json(folder / "state.json", "checkpoint state")
    except GenzooError as e:
        return str(e)
    if set(header) != set(state[0]):
        return "its tensors differ from the state's"
    for k, v in state[0].items():
        if header[k][1] != tuple(v.shape):
            return f"tensor '{k}' has shape {header[k][1]}, not {tuple(v.shape)}"
    if not isinstance(scalars, dict) or scalars.get("step") != state[1].get("step"):
        return "its state.json does not hold the step"
    return None


def _holds_state(folder: Path, state: State) -> bool:
    """``folder`` already holds ``state``: its tensors bit for bit, its scalars (but the wall time)."""
    try:
        tensors, scalars = read_checkpoint(folder)
    except GenzooError:
        return False
    # what the JSON file would hold (tuples as lists ...), to compare like with like
    mine = json.loads(json.dumps(state[1], default=json_default))
    if not isinstance(scalars, dict) or _but_time(scalars) != _but_time(mine) or set(tensors) != set(state[0]):
        return False
    return all(tensors[k].shape == v.shape and tensors[k].dtype == v.dtype and torch.equal(tensors[k], v.detach().cpu())
               for k, v in state[0].items())


def _but_time(scalars: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in scalars.items() if k != "wall_time"}


def _prune(ckroot: Path, step: int, keep: int) -> None:
    """Remove checkpoints older than the newest ``keep`` up to ``step`` (the one just written
    and read back counts as one, so a checkpoint that validates always remains). Folders above
    ``step`` are leftovers a resume skipped: the run saves over them when it gets there."""
    older = [p for p in _step_folders(ckroot) if _step_of(p) < step]
    for old in older[max(1, keep) - 1:]:
        shutil.rmtree(old, ignore_errors=True)


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
