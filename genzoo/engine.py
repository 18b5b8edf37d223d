"""The one training engine. Families give a :class:`~genzoo.family.Recipe`; this runs it.

Per step, for each phase of the recipe (e.g. discriminator then generator): zero the
phase's gradients, compute its loss (+ regularisers), backpropagate, step its optimizer,
run its post-step hooks. Around that: device choice, seeding, EMA of the sampling network,
losses accumulated on the device and read every ``log_every`` steps (no per-step host
sync), a JSONL log, periodic sample grids, atomic checkpoints, resume, a wall-clock budget,
and a guard that stops on non-finite losses before they reach a checkpoint.

Run directory (the Hugging Face Hub repo layout plus training state)::

    RUN/config.json          family, plugin, versions, full config, data facts, training facts
    RUN/model.safetensors    inference weights (the EMA weights for the sampling network)
    RUN/README.md            model card rendered from cards/
    RUN/samples.png          sample grid of the latest weights
    RUN/samples/step-*.png   grids during training
    RUN/log.jsonl            one JSON line per log interval
    RUN/checkpoints/step-N/  resumable state: state.safetensors (tensors) + state.json (scalars)
    RUN/checkpoints/latest   name of the newest complete checkpoint
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import random
import re
import shutil
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from genzoo.config import ModelConfig
from genzoo.console import console, make_progress
from genzoo.data import ImageDataset, load_dataset, native_size
from genzoo.errors import GenzooError
from genzoo.family import Batch, Family, GenerativeModel, Phase, Recipe, StepContext, environment
from genzoo.io import (
    flatten_optimizer,
    load_tensors,
    read_json,
    save_tensors,
    unflatten_optimizer,
    write_json,
    write_text,
)

# `steps` when only a time budget bounds the run; replaced by the steps reached at the end.
UNBOUNDED = 10**12

# Config fields that may change when a run is resumed (the rest must match the checkpoint).
RESUMABLE = {"steps", "log_every", "sample_every", "checkpoint_every", "num_samples"}


# ------------------------------------------------------------------------------------------
# small pieces
# ------------------------------------------------------------------------------------------
def resolve_device(name: str = "auto") -> torch.device:
    """auto | cpu | cuda[:i] | mps -> torch.device, with a clear error if unavailable."""
    name = (name or "auto").lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise GenzooError("--device cuda was asked for but no CUDA GPU is available; use --device cpu or auto")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise GenzooError("--device mps was asked for but MPS is not available; use --device cpu or auto")
    try:
        return torch.device(name)
    except RuntimeError:
        raise GenzooError(f"unknown device '{name}'; use auto, cpu, cuda, cuda:N or mps") from None


_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(h|m|s|ms)?")


def parse_duration(text: str | float | int | None) -> float | None:
    """'90s', '10m', '1h30m', '45' (seconds) -> seconds."""
    if text is None or text == "":
        return None
    if isinstance(text, (int, float)):
        return float(text)
    s = text.strip().lower().replace(" ", "")
    pos, total = 0, 0.0
    for m in _DURATION.finditer(s):
        if m.start() != pos:
            break
        total += float(m.group(1)) * {"h": 3600, "m": 60, "s": 1, "ms": 0.001, None: 1}[m.group(2)]
        pos = m.end()
    if pos != len(s) or not s:
        raise GenzooError(f"cannot read duration '{text}'; use e.g. 90s, 10m, 1h30m")
    if total <= 0:
        raise GenzooError(f"duration must be positive, got '{text}'")
    return total


def seed_everything(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)
    try:
        import numpy as np

        np.random.seed(seed % 2**32)
    except ImportError:
        pass


class Batches:
    """Random batches by indexing one in-memory tensor; reshuffled each epoch (drop_last).

    With ``world > 1`` every rank draws the same permutation and takes its own slice of
    each global batch, so ranks see disjoint data and together one global batch.
    """

    def __init__(self, data: ImageDataset, batch_size: int, seed: int, device: torch.device,
                 rank: int = 0, world: int = 1):
        n = len(data)
        global_bs = batch_size * world
        if global_bs > n:
            raise GenzooError(
                f"batch size {global_bs} is larger than the dataset ({n} images); use --batch-size {max(1, n // world)} or less"
            )
        self.batch_size, self.rank, self.world, self.n = batch_size, rank, world, n
        self.images = data.images.to(device)
        self.labels = data.labels.to(device) if data.labels is not None else None
        self.extra = {k: v.to(device) for k, v in data.extra.items()}
        self.gen = torch.Generator().manual_seed(seed + 7919)
        self.perm: Tensor | None = None
        self.pos = 0
        self.epoch = 0

    def __iter__(self) -> Iterator[Batch]:
        return self

    def __next__(self) -> Batch:
        g = self.batch_size * self.world
        if self.perm is None or self.pos + g > self.n:
            self.perm = torch.randperm(self.n, generator=self.gen)
            self.pos = 0
            self.epoch += 1
        start = self.pos + self.rank * self.batch_size
        idx = self.perm[start : start + self.batch_size].to(self.images.device)
        self.pos += g
        return Batch(
            self.images[idx],
            self.labels[idx] if self.labels is not None else None,
            {k: v[idx] for k, v in self.extra.items()},
        )

    @property
    def epochs_completed(self) -> int:
        """Passes over the data finished so far (the last batch drawn may have ended one)."""
        if self.perm is not None and self.pos + self.batch_size * self.world > self.n:
            return self.epoch
        return max(0, self.epoch - 1)

    def state(self) -> tuple[dict[str, Tensor], dict[str, Any]]:
        t = {"data.gen": self.gen.get_state()}
        if self.perm is not None:
            t["data.perm"] = self.perm
        return t, {"pos": self.pos, "epoch": self.epoch}

    def load_state(self, tensors: dict[str, Tensor], scalars: dict[str, Any]) -> None:
        self.gen.set_state(tensors["data.gen"])
        self.perm = tensors.get("data.perm")
        self.pos, self.epoch = int(scalars["pos"]), int(scalars["epoch"])


class EMA:
    """Exponential moving average of a module's parameters (buffers are copied).

    Decay warms up as min(decay, (1 + t) / (10 + t)), so short runs are not dominated by
    the random initial weights.
    """

    def __init__(self, module: nn.Module, decay: float):
        self.decay = decay
        self.module = module
        self.shadow = {k: v.detach().clone() for k, v in module.state_dict().items()}
        self.updates = 0
        self._slots: Any = None  # built on first update; False: use state_dict() every time

    def _build_slots(self) -> Any:
        """Where each shadow entry's live tensor sits: a list of (shadow, the owning module's
        _parameters or _buffers dict, name), or False for a module with a custom state_dict.
        Looked up through the dict at every update, so tensors replaced by ``.to()`` or
        channels-last are seen. Calling ``state_dict()`` every step cost about as much as the
        EMA arithmetic itself."""
        slots = []
        for key, sh in self.shadow.items():
            path, _, name = key.rpartition(".")
            try:
                owner = self.module.get_submodule(path) if path else self.module
            except AttributeError:
                return False
            store = owner._parameters if name in owner._parameters else owner._buffers
            if store.get(name) is None or store[name].shape != sh.shape:
                return False
            slots.append((sh, store, name))
        return slots

    @torch.no_grad()
    def update(self, start: bool = True) -> None:
        if self._slots is None:
            self._slots = self._build_slots()
        if self._slots is False:
            pairs = [(self.shadow[k], v.detach()) for k, v in self.module.state_dict().items()]
        else:
            pairs = [(sh, st[n]) for sh, st, n in self._slots]
        if not start:
            for sh, v in pairs:
                sh.copy_(v)
            return
        self.updates += 1
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        fl = [(sh, v) for sh, v in pairs if sh.dtype.is_floating_point]
        if fl:
            torch._foreach_lerp_([sh for sh, _ in fl], [v for _, v in fl], 1.0 - d)
        for sh, v in pairs:
            if not sh.dtype.is_floating_point:
                sh.copy_(v)

    @contextlib.contextmanager
    def applied(self) -> Iterator[None]:
        """Temporarily load the averaged weights into the module."""
        backup = {k: v.detach().clone() for k, v in self.module.state_dict().items()}
        self.module.load_state_dict(self.shadow)
        try:
            yield
        finally:
            self.module.load_state_dict(backup)


def make_optimizer(name: str, params: list[nn.Parameter], lr: float, betas: tuple[float, float],
                   weight_decay: float, device: torch.device) -> torch.optim.Optimizer:
    if not params:
        raise GenzooError("a training phase has no trainable parameters")
    name = name.lower()
    # foreach kernels are the fast path on every device; fused Adam exists on CUDA only.
    fast: dict[str, Any] = {"fused": True} if device.type == "cuda" and name in ("adam", "adamw") else {"foreach": True}
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, betas=betas, weight_decay=weight_decay, **fast)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, betas=betas, weight_decay=weight_decay, **fast)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, weight_decay=weight_decay, foreach=True)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=betas[0], weight_decay=weight_decay, foreach=True)
    raise GenzooError(f"unknown optimizer '{name}'; use adam, adamw, rmsprop or sgd")


# ------------------------------------------------------------------------------------------
# run directories
# ------------------------------------------------------------------------------------------
def default_run_dir(family: str, data: str, root: str | Path = "runs") -> Path:
    """runs/<family>-<data>, runs/<family>-<data>-2, ... (the first that does not exist)."""
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{family}-{Path(data).name if ':' in data else data}").strip("-")
    base = Path(root) / slug
    if not base.exists():
        return base
    for i in range(2, 10_000):
        cand = Path(root) / f"{slug}-{i}"
        if not cand.exists():
            return cand
    raise GenzooError(f"too many runs under {root}; pass --out")


def latest_run_dir(family: str, data: str, root: str | Path = "runs") -> Path | None:
    """The most recently modified run of this family and data that has a checkpoint."""
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{family}-{Path(data).name if ':' in data else data}").strip("-")
    cands = [p for p in Path(root).glob(f"{slug}*") if (p / "checkpoints").is_dir()]
    return max(cands, key=lambda p: p.stat().st_mtime) if cands else None


def find_checkpoint(run_dir: Path) -> Path | None:
    """The newest complete checkpoint: the one 'latest' names, else the highest step present."""
    ck = run_dir / "checkpoints"
    if not ck.is_dir():
        return None
    latest = ck / "latest"
    if latest.is_file():
        cand = ck / latest.read_text().strip()
        if (cand / "state.json").is_file() and (cand / "state.safetensors").is_file():
            return cand
    done = sorted(p for p in ck.glob("step-*") if (p / "state.json").is_file() and (p / "state.safetensors").is_file())
    return done[-1] if done else None


# ------------------------------------------------------------------------------------------
# the trainer
# ------------------------------------------------------------------------------------------
@dataclass
class TrainResult:
    run_dir: Path
    steps: int
    wall_time: float
    images_per_second: float
    stopped_early: bool = False
    last_logs: dict[str, float] = field(default_factory=dict)


class Trainer:
    """Train one family on one dataset into one run directory.

    Args:
        family: the Family object (see :func:`genzoo.registry.families`).
        config: a config of the family's class (None: defaults).
        overrides: key -> value applied on top (CLI ``--set``, ``--steps`` ...).
        out: the run directory (None: runs/<family>-<data>[-N]).
        resume: continue from ``out``'s newest checkpoint.
        max_time: wall-clock budget in seconds; the run stops cleanly and saves.
        precision: fp32 | bf16 | fp16 (autocast; fp16 uses a gradient scaler on CUDA).
        callbacks: fn(trainer, step, logs) called at every log interval.
    """

    def __init__(
        self,
        family: Family,
        config: ModelConfig | None = None,
        *,
        overrides: dict[str, Any] | None = None,
        out: str | Path | None = None,
        data: ImageDataset | None = None,
        data_dir: str | None = None,
        device: str = "auto",
        resume: bool = False,
        max_time: float | None = None,
        precision: str = "fp32",
        compile: bool = False,
        channels_last: bool = False,
        keep_checkpoints: int = 2,
        progress: bool | None = None,
        callbacks: list[Callable[[Trainer, int, dict[str, float]], None]] | None = None,
        rank: int = 0,
        world_size: int = 1,
        sync_batchnorm: bool = False,
    ):
        self.family = family
        self.overrides = dict(overrides or {})
        self.data_dir = data_dir
        self.device = resolve_device(device)
        self.resume = resume
        self.max_time = max_time
        self.precision = precision
        self.compile = compile
        self.channels_last = channels_last
        self.keep = max(1, keep_checkpoints)
        self.progress_on = progress
        self.callbacks = list(callbacks or [])
        # fn(trainer, step) after every step (genzoo bench hands over here); keep them cheap
        self.step_callbacks: list[Callable[[Trainer, int], None]] = []
        self.rank, self.world_size = rank, world_size
        self.is_main = rank == 0
        self.sync_batchnorm = sync_batchnorm  # multi-process only: BatchNorm statistics over all ranks
        self.dist: Any = None  # genzoo.distributed.DistributedTraining when world_size > 1
        if precision not in ("fp32", "bf16", "fp16"):
            raise GenzooError(f"unknown precision '{precision}'; use fp32, bf16 or fp16")

        base = config if config is not None else family.default_config()
        if not isinstance(base, family.config_class):
            raise GenzooError(f"{family.name} needs a {family.config_class.__name__}")
        self.start_step = 0
        self.checkpoint_state: tuple[dict[str, Tensor], dict[str, Any]] | None = None
        if resume:
            if out is None:
                raise GenzooError("--resume needs the run directory (--out RUN)")
            self.out = Path(out)
            ck = find_checkpoint(self.out)
            if ck is None:
                raise GenzooError(f"no checkpoint to resume in '{self.out}'; train without --resume first")
            tensors = load_tensors(ck / "state.safetensors", "checkpoint")
            scalars = read_json(ck / "state.json", "checkpoint state")
            if scalars.get("family") != family.name:
                raise GenzooError(f"'{self.out}' holds a {scalars.get('family')} run, not {family.name}")
            saved = family.config_class.from_dict(scalars["config"], source="checkpoint")
            changed = {k: v for k, v in saved.update(self.overrides).to_dict().items() if saved.to_dict()[k] != v}
            bad = sorted(set(changed) - RESUMABLE)
            if bad:
                raise GenzooError(
                    f"cannot change {', '.join(bad)} when resuming (only {', '.join(sorted(RESUMABLE))}); "
                    "start a new run with --out instead"
                )
            self.config = saved.update(self.overrides)
            self.checkpoint_state = (tensors, scalars)
            self.start_step = int(scalars["step"])
            self.checkpoint_name = ck.name
        else:
            self.config = base.update(self.overrides)
            self.out = Path(out) if out is not None else default_run_dir(family.name, self.config.data)
            if find_checkpoint(self.out) is not None:
                raise GenzooError(f"'{self.out}' already holds a run; pass --resume to continue it or choose another --out")
        self._validate_config()
        # a family may adapt the data first (pix2pix: resize, build pairs from config.task)
        self.data = self.family.prepare_data(data if data is not None else self._load_data(), self.config)

    # -- setup -------------------------------------------------------------------------------
    def _validate_config(self) -> None:
        c = self.config
        for key in ("steps", "batch_size", "log_every", "sample_every", "checkpoint_every"):
            if getattr(c, key) < 1:
                raise GenzooError(f"{key} must be at least 1, got {getattr(c, key)}")
        if c.lr <= 0:
            raise GenzooError(f"lr must be positive, got {c.lr}")
        if not 0 <= c.ema < 1:
            raise GenzooError(f"ema must be in [0, 1), got {c.ema}")

    def _load_data(self) -> ImageDataset:
        c = self.config
        size = c.image_size or native_size(c.data, self.data_dir)
        # Channels are checked in setup(), after the family's prepare_data (which may swap a pair).
        return load_dataset(c.data, image_size=size, data_dir=self.data_dir)

    def setup(self) -> None:
        c = self.config
        seed_everything(c.seed + self.rank)
        if not self.resume:
            c = self.family.configure_for_data(c, self.data)
            c = dataclasses.replace(c, image_size=self.data.image_size)
            self.config = c
        elif self.data.channels != c.channels:
            raise GenzooError(f"data has {self.data.channels} channels but the run was trained on {c.channels}")
        for need in self.family.needs:
            if need not in self.data.extra:
                raise GenzooError(f"{self.family.name} needs data with '{need}' (paired data); '{c.data}' has none")
        self.model = self.family.build(c).to(self.device)
        if self.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.model.meta["data"] = self.data.describe()
        self.recipe: Recipe = self.family.recipe(self.model, c)
        self.train_model: nn.Module = self.model
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        for ph in self.recipe.phases:
            if ph.name in self.optimizers:
                raise GenzooError(f"recipe of {self.family.name} has two phases named '{ph.name}'")
            self.optimizers[ph.name] = make_optimizer(
                ph.optimizer or c.optimizer, ph.parameters(self.model), ph.lr or c.lr,
                tuple(ph.betas or c.betas), c.weight_decay if ph.weight_decay is None else ph.weight_decay, self.device,
            )
        ema_name = self.recipe.ema_module or self.model.sampling_network
        self.ema = EMA(getattr(self.model, ema_name), c.ema) if c.ema > 0 and ema_name else None
        self.batches = Batches(self.data, c.batch_size, c.seed, self.device, self.rank, self.world_size)
        self.scaler = torch.amp.GradScaler("cuda") if self.precision == "fp16" and self.device.type == "cuda" else None
        self.wall_before = 0.0
        self.images_seen = 0
        if self.checkpoint_state is not None:
            self._restore(*self.checkpoint_state)
            self.checkpoint_state = None
        if self.compile:
            for name in {m for ph in self.recipe.phases for m in ph.modules}:
                setattr(self.model, name, torch.compile(getattr(self.model, name)))
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # shapes are fixed: let cuDNN pick its fastest kernels once
        if self.world_size > 1:  # DDP wrappers for the loss functions; self.model stays plain
            from genzoo.distributed import DistributedTraining

            self.dist = DistributedTraining(self, sync_batchnorm=self.sync_batchnorm)
            self.train_model = self.dist.train_model

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.precision == "fp32":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if self.precision == "bf16" else torch.float16
        return torch.autocast(self.device.type, dtype=dtype)

    # -- checkpoints --------------------------------------------------------------------------
    def _state(self, step: int) -> tuple[dict[str, Tensor], dict[str, Any]]:
        tensors: dict[str, Tensor] = {f"model.{k}": v for k, v in self._raw_state_dict().items()}
        scalars: dict[str, Any] = {
            "family": self.family.name,
            "step": step,
            "config": self.config.to_dict(),
            "wall_time": self.wall_time(),
            "images_seen": self.images_seen,
            "optimizers": {},
            "genzoo_version": environment()["genzoo"],
        }
        if self.ema is not None:
            tensors.update({f"ema.{k}": v for k, v in self.ema.shadow.items()})
            scalars["ema_updates"] = self.ema.updates
        for name, opt in self.optimizers.items():
            t, s = flatten_optimizer(f"optim.{name}", opt.state_dict())
            tensors.update(t)
            scalars["optimizers"][name] = s
        tensors["rng.torch"] = torch.get_rng_state()
        if self.device.type == "cuda":
            tensors["rng.cuda"] = torch.cuda.get_rng_state(self.device)
        dt, ds = self.batches.state()
        tensors.update(dt)
        if self.dist is not None:
            tensors.update(self.dist.rank_rng)
        scalars["data"] = ds
        return tensors, scalars

    def _raw_state_dict(self) -> dict[str, Tensor]:
        return _strip_compile(self.model.state_dict())

    def _restore(self, tensors: dict[str, Tensor], scalars: dict[str, Any]) -> None:
        model_sd = {k[6:]: v for k, v in tensors.items() if k.startswith("model.")}
        self.model.load_state_dict(model_sd)
        if self.ema is not None:
            self.ema.shadow = {k[4:]: v.to(self.device) for k, v in tensors.items() if k.startswith("ema.")}
            self.ema.updates = int(scalars.get("ema_updates", 0))
        for name, opt in self.optimizers.items():
            prefix = f"optim.{name}"
            sub = {k: v.to(self.device) if not k.endswith(".step") else v for k, v in tensors.items() if k.startswith(prefix + ".")}
            opt.load_state_dict(unflatten_optimizer(prefix, sub, scalars["optimizers"][name]))
        sfx = f".rank{self.rank}" if self.rank > 0 else ""  # each rank continues its own stream
        if f"rng.torch{sfx}" in tensors:
            torch.set_rng_state(tensors[f"rng.torch{sfx}"])
        else:  # a rank the checkpointed run did not have: a fresh stream of its own
            seed_everything(self.config.seed + 1000 * self.rank + int(scalars["step"]))
        if f"rng.cuda{sfx}" in tensors and self.device.type == "cuda":
            torch.cuda.set_rng_state(tensors[f"rng.cuda{sfx}"], self.device)
        self.batches.load_state(tensors, scalars["data"])
        self.wall_before = float(scalars.get("wall_time", 0.0))
        self.images_seen = int(scalars.get("images_seen", 0))

    def save_checkpoint(self, step: int) -> Path:
        """Write checkpoints/step-N atomically (temp dir + rename), then point 'latest' at it."""
        ckroot = self.out / "checkpoints"
        ckroot.mkdir(parents=True, exist_ok=True)
        name = f"step-{step:08d}"
        final = ckroot / name
        if not final.exists():
            tmp = ckroot / f".{name}.tmp-{os.getpid()}"
            if tmp.exists():
                shutil.rmtree(tmp)
            tmp.mkdir()
            tensors, scalars = self._state(step)
            save_tensors(tmp / "state.safetensors", tensors)
            write_json(tmp / "state.json", scalars)
            os.replace(tmp, final)
        write_text(ckroot / "latest", name + "\n")
        done = sorted(p for p in ckroot.glob("step-*") if p.is_dir())
        for old in done[: -self.keep]:
            shutil.rmtree(old, ignore_errors=True)
        for stale in ckroot.glob(".step-*.tmp-*"):
            shutil.rmtree(stale, ignore_errors=True)
        return final

    def export_state_dict(self) -> dict[str, Tensor]:
        """The inference weights: the raw model with the EMA network swapped in."""
        sd = self._raw_state_dict()
        if self.ema is not None:
            name = self.recipe.ema_module or self.model.sampling_network
            sd.update({f"{name}.{k}": v for k, v in self.ema.shadow.items()})
        return sd

    @contextlib.contextmanager
    def inference_weights(self) -> Iterator[GenerativeModel]:
        """The model with EMA weights applied (if any), for sampling during training."""
        ctx = self.ema.applied() if self.ema is not None else contextlib.nullcontext()
        with ctx:
            yield self.model

    def save_model(self, step: int, *, samples: bool = True) -> None:
        """Write the Hub-layout files of the run directory (each atomically)."""
        self.model.meta["training"] = {
            "steps": step,
            "wall_time_s": round(self.wall_time(), 2),
            "images_seen": self.images_seen,
            "device": str(self.device),
            "precision": self.precision,
            "world_size": self.world_size,
            "environment": environment(),
        }
        if samples:
            self.write_samples(step, final=True)
        self.model.save_pretrained(self.out, state_dict=self.export_state_dict())

    def write_samples(self, step: int, final: bool = False) -> None:
        from genzoo.images import save_grid

        n, k = self.config.num_samples, self.config.num_classes
        with self.inference_weights() as m:
            preview = getattr(m, "preview", None)
            if callable(preview):  # models that need data to show anything (pix2pix: input | output | target)
                imgs, nrow = preview(self.data, n, seed=self.config.seed)
            elif m.is_conditional:  # one row per class
                per = max(1, n // k)
                imgs = m.sample(per * k, seed=self.config.seed, labels=torch.arange(k).repeat_interleave(per))
                nrow: int | None = per
            else:
                imgs, nrow = m.sample(n, seed=self.config.seed), None
        if not final:
            save_grid(imgs, self.out / "samples" / f"step-{step:08d}.png", nrow=nrow)
        save_grid(imgs, self.out / "samples.png", nrow=nrow)

    def wall_time(self) -> float:
        return self.wall_before + (time.perf_counter() - self._t0 if hasattr(self, "_t0") else 0.0)

    # -- the loop --------------------------------------------------------------------------
    def _run_phase(self, ph: Phase, ctx: StepContext, logs: dict[str, list[Tensor]], counts: dict[str, int]) -> None:
        opt = self.optimizers[ph.name]
        for r in range(ph.repeats):
            if r > 0:
                ctx.batch = next(self.batches)
                self.images_seen += len(ctx.batch) * self.world_size
            opt.zero_grad(set_to_none=True)
            with self._autocast():
                out = ph.loss(ctx)
                loss, extra = out if isinstance(out, tuple) else (out, {})
                total = loss
                for reg in ph.regularizers:
                    val = reg(ctx)
                    total = total + val
                    extra = {**extra, f"{ph.name}_{getattr(reg, '__name__', 'reg')}": val}
            if self.scaler is not None:
                self.scaler.scale(total).backward()
                self.scaler.unscale_(opt)
            else:
                total.backward()
            if self.config.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(ph.parameters(self.model), self.config.grad_clip)
            if self.scaler is not None:
                self.scaler.step(opt)
                self.scaler.update()
            else:
                opt.step()
            for hook in ph.after_step:
                hook(self.model)
            # Keep the detached values (no arithmetic per step, no host sync); _check_finite and
            # the log read them every log_every steps.
            d = loss.detach()
            self._loss_hist.append((ctx.step + 1, d))
            key = "loss_" + ph.name
            logs.setdefault(key, []).append(d)
            counts[key] = counts.get(key, 0) + 1
            for k, v in extra.items():
                logs.setdefault(k, []).append(v.detach())
                counts[k] = counts.get(k, 0) + 1
        if len(self._loss_hist) > 4096:  # a very long log interval: fold what is there
            self._fold(logs)

    def _first_bad_step(self) -> int:
        """The first step (counting from 1) since the last check whose loss was NaN or infinite; -1: none."""
        bad = self._bad_step
        if bad < 0 and self._loss_hist:
            nonfinite = ~torch.isfinite(torch.stack([v for _, v in self._loss_hist]).float())
            if bool(nonfinite.any()):
                bad = self._loss_hist[int(nonfinite.nonzero()[0, 0])][0]
        if self.dist is not None:  # all ranks agree (any rank's bad step stops every rank)
            bad = int(self.dist.max(torch.tensor(bad, device=self.device)).item())
        return bad

    def _fold(self, logs: dict[str, list[Tensor]]) -> None:
        self._bad_step = self._first_bad_step()  # all ranks fold at the same step: a safe collective
        self._loss_hist = []
        for k, vals in logs.items():
            logs[k] = [_total(vals)]

    def _after_epoch(self, step: int, epoch: int, log_path: Path) -> None:
        """Run the recipe's end-of-epoch hooks; log what they return as one JSONL line."""
        record: dict[str, Any] = {"step": step, "epoch": epoch}
        was = self.model.training
        try:
            for hook in self.recipe.after_epoch:
                record.update(hook(self, epoch) or {})
        finally:
            self.model.train(was)
        if len(record) > 2:
            with open(log_path, "a") as f:
                f.write(json.dumps(record) + "\n")

    def _weights_finite(self) -> bool:
        """True if every float tensor a checkpoint would hold is finite: weights, buffers, EMA, optimizer state."""
        tensors = list(self.model.state_dict().values())
        if self.ema is not None:
            tensors += list(self.ema.shadow.values())
        for opt in self.optimizers.values():
            tensors += [v for st in opt.state.values() for v in st.values() if isinstance(v, Tensor)]
        # One float32 sum per tensor: NaN and inf propagate through it (finite entries would have
        # to be ~1e33 to overflow it), and on a CPU it is ~10x cheaper than isfinite().all().
        sums = [torch.sum(t, dtype=torch.float32) for t in tensors if t.is_floating_point()]
        return bool(torch.stack(sums).isfinite().all()) if sums else True

    def _check_finite(self, step: int) -> None:
        bad = self._first_bad_step()
        # A loss can be finite while the update it drives overflows the weights (e.g. a huge lr):
        # check the weights too, so non-finite weights never reach a checkpoint.
        weights_bad = bad < 0 and not self._weights_finite()
        if bad >= 0 or weights_bad:
            ck = find_checkpoint(self.out)
            where = f"the last good checkpoint ({ck.name}) is kept in {ck.parent}" if ck else "no checkpoint had been written yet"
            first = getattr(self, "_finite_step", self.start_step) + 1  # the last check passed before this step
            span = f"at step {step}" if first >= step else f"between step {first} and step {step}"
            what = (
                f"a loss became NaN or infinite at step {bad}; stopped at step {step}" if bad >= 0 else
                f"the weights or optimizer state became NaN or infinite {span} (the losses were still finite)"
            )
            raise GenzooError(
                f"training diverged: {what}. {where}; try a lower --set lr=..., a different loss, or --resume from there"
            )
        self._finite_step = step
        self._loss_hist = []

    def fit(self) -> TrainResult:
        """Run the recipe until ``steps`` or ``max_time``; returns where everything went."""
        self.setup()
        c = self.config
        if self.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
            # Record what is about to run before the first step: config and versions.
            self.model.meta["training"] = {"steps": self.start_step, "environment": environment()}
            if not (self.out / "config.json").exists():
                write_json(self.out / "config.json", self.model.config_dict())
        step = self.start_step
        if step >= c.steps:
            raise GenzooError(f"run '{self.out}' is already at step {step} of {c.steps}; pass --steps N with N > {step} to train further")
        self._loss_hist: list[tuple[int, Tensor]] = []  # (step, loss) since the last finiteness check
        self._bad_step = -1
        self._t0 = time.perf_counter()
        self.model.train()
        logs: dict[str, list[Tensor]] = {}
        counts: dict[str, int] = {}
        last_logs: dict[str, float] = {}
        stopped = False
        interrupted = False
        t_log, imgs_log = time.perf_counter(), 0
        epochs_hooked = self.batches.epochs_completed
        throughput = 0.0
        log_path = self.out / "log.jsonl"
        from rich.progress import TextColumn

        progress = make_progress(TextColumn("{task.fields[stats]}"))
        if self.progress_on is False or not self.is_main:
            progress.disable = True
        plain = progress.disable and self.is_main and self.progress_on is not False
        budget = f" (max {self.max_time:.0f}s)" if self.max_time else ""
        if self.is_main:
            console.print(
                f"[bold]genzoo[/] training [cyan]{self.family.name}[/] on [cyan]{c.data}[/] "
                f"({len(self.data)} images, {self.data.channels}x{self.data.image_size}x{self.data.image_size}) "
                f"on {self.device}{budget} -> {self.out}"
            )
        old_handler = signal.getsignal(signal.SIGTERM)
        stop_flag = {"stop": False}

        def on_term(signum: int, frame: Any) -> None:  # stop cleanly at the next step
            stop_flag["stop"] = True

        if threading_main():
            signal.signal(signal.SIGTERM, on_term)
        try:
            with progress:
                total = None if c.steps >= UNBOUNDED else c.steps
                task = progress.add_task(self.family.name, total=total, completed=step, stats="")
                while step < c.steps:
                    want_stop = stop_flag["stop"] or (self.max_time is not None and time.perf_counter() - self._t0 >= self.max_time)
                    if self.dist is not None:  # ranks agree, at log boundaries only, so all stop at one step
                        want_stop = step % c.log_every == 0 and self.dist.any(want_stop, self.device)
                    if want_stop:
                        stopped = True
                        break
                    batch = next(self.batches)
                    self.images_seen += len(batch) * self.world_size
                    imgs_log += len(batch) * self.world_size
                    ctx = StepContext(self.train_model, batch, step, c, self.device)
                    for ph in self.recipe.phases:
                        with self.dist.phase(ph) if self.dist is not None else contextlib.nullcontext():
                            self._run_phase(ph, ctx, logs, counts)
                    if self.ema is not None:
                        self.ema.update(start=step >= c.ema_start)
                    step += 1
                    if not progress.disable:
                        progress.update(task, completed=step)  # no sync: rich redraws on its own thread
                    if self.recipe.after_epoch and self.is_main and self.batches.epochs_completed > epochs_hooked:
                        epochs_hooked = self.batches.epochs_completed
                        self._after_epoch(step, epochs_hooked, log_path)
                    boundary = step % c.log_every == 0 or step == c.steps
                    if boundary:
                        self._check_finite(step)
                        now = time.perf_counter()
                        throughput = imgs_log / max(now - t_log, 1e-9)
                        t_log, imgs_log = now, 0
                        vals_t = torch.stack([_total(logs[k]) / counts[k] for k in logs]) if logs else None
                        if vals_t is not None and self.dist is not None:  # the log shows the mean over ranks
                            vals_t = self.dist.mean(vals_t)
                        vals = vals_t.cpu().tolist() if vals_t is not None else []
                        last_logs = dict(zip(logs, vals))
                        logs, counts = {}, {}
                        record = {"step": step, "epoch": self.batches.epoch, "time": round(self.wall_time(), 3),
                                  "images_per_s": round(throughput, 1), **{k: round(v, 6) for k, v in last_logs.items()}}
                        if self.is_main:
                            with open(log_path, "a") as f:
                                f.write(json.dumps(record) + "\n")
                            stats = " ".join(f"{k.removeprefix('loss_')}={v:.3f}" for k, v in last_logs.items() if k.startswith("loss_"))
                            progress.update(task, completed=step, stats=f"{stats} {throughput:.0f} img/s")
                            every = 10 * c.log_every if c.steps >= UNBOUNDED else max(c.log_every, c.steps // 10)
                            if plain and (step % every < c.log_every or step == c.steps):
                                of = "" if c.steps >= UNBOUNDED else f"/{c.steps}"
                                console.print(f"step {step}{of} {stats} {throughput:.0f} img/s")
                        for cb in self.callbacks:
                            cb(self, step, last_logs)
                    if self.is_main and step % c.sample_every == 0 and step != c.steps:
                        self.write_samples(step)
                    if step % c.checkpoint_every == 0 and step != c.steps:
                        self._check_finite(step)
                        if self.dist is not None:  # every rank's RNG state goes into rank 0's checkpoint
                            self.dist.rank_rng = self.dist.gather_rng(self.device)
                        if self.is_main:
                            self.save_checkpoint(step)
                            self.save_model(step, samples=False)
                    for hook in self.step_callbacks:
                        hook(self, step)
        except KeyboardInterrupt:
            interrupted = True
            stopped = True
        finally:
            if threading_main():
                signal.signal(signal.SIGTERM, old_handler)
        self._check_finite(step)
        if self.config.steps >= UNBOUNDED:  # record the steps the budget allowed
            self.config = dataclasses.replace(self.config, steps=step)
            self.model.config = self.config
        if self.dist is not None:
            self.dist.rank_rng = self.dist.gather_rng(self.device)
        if self.is_main:
            for hook in self.recipe.after_training:
                hook(self)
            self.save_checkpoint(step)
            self.save_model(step)
        if self.dist is not None:
            # The DDP wrappers hold the process group (and gloo's worker threads); drop them now so
            # the group can be destroyed before interpreter shutdown, where gloo can abort a rank.
            self.dist, self.train_model = None, self.model
        wall = self.wall_time()
        result = TrainResult(self.out, step, wall, self.images_seen / max(wall, 1e-9), stopped, last_logs)
        if self.is_main:
            why = " (interrupted)" if interrupted else (" (time budget reached)" if stopped else "")
            console.print(
                f"[green]done[/]{why}: {step} steps in {wall:.1f}s -> [bold]{self.out}[/] "
                f"(samples: {self.out / 'samples.png'})"
            )
        return result


def _total(values: list[Tensor]) -> Tensor:
    """Sum of logged scalars (0-d tensors of any float dtype) as one float32 0-d tensor."""
    return torch.stack([v.float() for v in values]).sum()


def threading_main() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def _strip_compile(sd: dict[str, Tensor]) -> dict[str, Tensor]:
    # torch.compile wraps modules as `_orig_mod`; saved files use the plain names.
    return {k.replace("._orig_mod", ""): v for k, v in sd.items()}


def train(family: str | Family, *, out: str | Path | None = None, steps: int | None = None, **kwargs: Any) -> TrainResult:
    """Train a family by name: ``genzoo.train("dcgan", data="digits", steps=500)``.

    Keyword arguments that are config fields become overrides; the rest go to :class:`Trainer`.
    """
    from genzoo.registry import families

    fam = families.get(family) if isinstance(family, str) else family
    fields = set(fam.config_class.field_names())
    overrides = {k: kwargs.pop(k) for k in list(kwargs) if k in fields}
    if steps is not None:
        overrides["steps"] = steps
    return Trainer(fam, overrides=overrides, out=out, **kwargs).fit()

