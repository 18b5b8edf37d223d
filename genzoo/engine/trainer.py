"""The one training engine. Families give a :class:`~genzoo.family.Recipe`; the Trainer runs it.

Per step, for each phase of the recipe (e.g. discriminator then generator): one update
(:func:`~genzoo.engine.step.update_phase`). Around that: seeding, EMA of the sampling
network, losses read every ``log_every`` steps, a JSONL log, periodic sample grids, atomic
checkpoints, resume, epochs, a wall-clock budget, a clean stop at a step boundary on SIGINT or
SIGTERM, and a guard that stops diverged training (non-finite or exploding losses or weights)
before it reaches a checkpoint.

Run directory (the Hugging Face Hub repo layout plus training state)::

    RUN/config.json          family, plugin, versions, full config, data facts, training facts
    RUN/model.safetensors    inference weights (the EMA weights for the sampling network)
    RUN/README.md            model card rendered from cards/
    RUN/samples.png          sample grid of the latest weights
    RUN/samples/step-*.png   grids during training
    RUN/log.jsonl            one JSON line per log interval (and what hooks log)
    RUN/checkpoints/step-N/  resumable state: state.safetensors (tensors) + state.json (scalars)
    RUN/checkpoints/latest   name of the newest complete checkpoint
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import shlex
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from genzoo import distributed
from genzoo.config import ModelConfig
from genzoo.console import console, esc
from genzoo.data import ImageDataset, native_size
from genzoo.data.pipeline import check_data_path, default_workers, is_lazy, load_training_data, parse_bytes
from genzoo.engine import checkpoint as ck
from genzoo.engine.batches import Batches
from genzoo.engine.context import TrainingContext
from genzoo.engine.devices import parse_duration, resolve_device, seed_everything
from genzoo.engine.display import RunDisplay
from genzoo.engine.ema import EMA, averaged
from genzoo.engine.loop import (
    BLOWUP,
    FOLD_AFTER,
    STOP_SIGNALS,
    LoopState,
    divergence_message,
    first_blown,
    magnitudes,
    nonfinite_what,
    stop_on_signals,
    tensors_finite,
)
from genzoo.engine.optim import phase_optimizer
from genzoo.engine.preview import preview_images, write_preview
from genzoo.engine.rundir import default_run_dir, run_to_resume
from genzoo.engine.runlock import RunLock, remove_stale_temporaries
from genzoo.engine.step import PRECISIONS, autocast_for, update_phase
from genzoo.errors import GenzooError
from genzoo.family import Family, GenerativeModel, Phase, Recipe, StepContext, environment
from genzoo.io import write_json
from genzoo.registry import families

#: fn(ctx, logs) at every log line: ``ctx.step`` is the step, ``logs`` the mean of each logged value.
LogCallback = Callable[[TrainingContext, dict[str, float]], None]


@dataclass
class TrainResult:
    run_dir: Path
    steps: int
    wall_time: float
    images_per_second: float
    stopped_early: bool = False
    last_logs: dict[str, float] = field(default_factory=dict)
    stopped_by: str = ""  # the signal that stopped the run ("SIGTERM", "Ctrl-C (SIGINT)"), or ""
    exit_code: int = 0  # what `genzoo train` exits with: 128 + the signal's number when one stopped it


def check_length(steps: int | None, epochs: float | None) -> None:
    """Refuse ``steps`` together with ``epochs``, and a non-positive ``epochs``."""
    if steps is not None and epochs is not None:
        raise GenzooError("give --steps or --epochs, not both")
    if epochs is not None and epochs <= 0:
        raise GenzooError(f"--epochs must be positive, got {epochs}")


class Trainer:
    """Train one family on one dataset into one run directory.

    Args:
        family: the Family object (see :func:`genzoo.registry.families`).
        config: a config of the family's class (None: defaults).
        overrides: key -> value applied on top (CLI ``--set``, ``--steps`` ...). ``steps``
            None trains until ``max_time`` (or until stopped, without one).
        out: the run directory (None: runs/<family>-<data>[-N]; with ``resume``, the latest
            run of this family and data under runs/).
        resume: continue from ``out``'s newest checkpoint.
        max_time: wall-clock budget (seconds, or text such as '10m'); the run stops cleanly
            and saves. Alone (no steps given, no config, not resuming) it bounds the run.
        epochs: train for this many passes over the data instead of ``steps``.
        precision: fp32 | bf16 | fp16 (autocast; fp16 uses a gradient scaler on CUDA).
        callbacks: fn(ctx, logs) called at every log line (see :data:`LogCallback`).
        rank / world_size / sync_batchnorm: multi-process training (see genzoo.distributed).
    """

    def __init__(
        self, family: Family, config: ModelConfig | None = None, *, overrides: dict[str, Any] | None = None,
        out: str | Path | None = None, data: ImageDataset | None = None, data_dir: str | None = None,
        device: str = "auto", resume: bool = False, max_time: float | str | None = None, epochs: float | None = None,
        precision: str = "fp32", compile: bool = False, channels_last: bool = False, keep_checkpoints: int = 2,
        progress: bool | None = None, callbacks: list[LogCallback] | None = None, rank: int = 0, world_size: int = 1,
        sync_batchnorm: bool = False, memory_limit: str | int | None = None, data_path: str = "auto",
        data_workers: int | None = None,
    ):
        if precision not in PRECISIONS:
            raise GenzooError(f"unknown precision '{precision}'; use fp32, bf16 or fp16")
        overrides = dict(overrides or {})
        check_length(overrides.get("steps"), epochs)
        self.family, self.data_dir, self.resume = family, data_dir, resume
        # how data is read (genzoo.data.pipeline): bad values fail now, before anything is loaded
        self.data_path, self.memory_limit, self.data_workers = check_data_path(data_path), memory_limit, data_workers
        if memory_limit is not None:
            parse_bytes(memory_limit)
        self.device = resolve_device(device)
        self.max_time = parse_duration(max_time)
        self.precision, self.compile, self.channels_last = precision, compile, channels_last
        self.keep = max(1, keep_checkpoints)
        self.callbacks: list[LogCallback] = list(callbacks or [])
        # fn(step) after every step (genzoo bench hands over here); keep them cheap
        self.step_callbacks: list[Callable[[int], None]] = []
        self.rank, self.world_size, self.is_main = rank, world_size, rank == 0
        self.sync_batchnorm = sync_batchnorm  # multi-process only: BatchNorm statistics over all ranks
        if self.max_time is not None and "steps" not in overrides and epochs is None and config is None and not resume:
            overrides["steps"] = None  # a time budget alone: train until it runs out
        # The run directory is locked from here (rank 0) until fit() returns; a failure while
        # setting up releases it.
        self._lock: RunLock | None = None
        try:
            self.config, self.out, self.start_step, restored = self._open_run(config, overrides, out)
            if self.config.image_size and not resume:  # a size the family cannot make fails before any data is read
                family.check_image_size(self.config.image_size)
            # a family may adapt the data first (pix2pix: resize, build pairs from config.task)
            loaded = data if data is not None else self._load_data()
            if family.needs and is_lazy(loaded):  # pairs and domains are built whole, in memory
                raise GenzooError(
                    f"{family.name} trains on paired data ({', '.join(family.needs)}), which is built and read in "
                    f"memory only, and '{self.config.data}' is read lazily ({loaded.reading.get('path')}); raise "
                    "--memory-limit or use --data-path memory")
            self.data = family.prepare_data(loaded, self.config)
            if not resume:  # batch size, network shape ... for the image size, unless the user set them
                self.config = family.apply_size_defaults(self.config, self.config.image_size or self.data.image_size, overrides)
            if epochs is not None:
                self.config = self.config.update({"steps": self._steps_for(epochs)})
            seed_everything(self.config.seed + rank)
            self.config = self._fit_to_data(self.config)
            self.model = self._build_model()
            self.recipe: Recipe = family.recipe(self.model, self.config)
            self.optimizers = self._make_optimizers()
            self.ema = self._make_ema()
            self.batches = Batches(self.data, self.config.batch_size, self.config.seed, self.device, rank, world_size,
                                   workers=data_workers, hflip=self.config.hflip, random_crop=self.config.random_crop)
            self.scaler = torch.amp.GradScaler("cuda") if precision == "fp16" and self.device.type == "cuda" else None
            self._autocast = autocast_for(precision, self.device)
            self.wall_before, self.images_seen = self._restore(*restored) if restored else (0.0, 0)
            self._compile_networks()
            self.train_model: nn.Module = self.model  # what loss functions see: DDP wrappers in a multi-process run
            self.dist: distributed.DistributedTraining | None = None  # made by fit() when world_size > 1
            self._t0: float | None = None  # when fit() started (perf_counter)
            self._weight_ref = torch.zeros(0)  # each parameter's largest |value| when fit() started
            self.context = TrainingContext(
                run_dir=self.out, config=self.config, data=self.data, data_dir=data_dir, model=self.model, ema=self.ema,
                device=self.device, is_main=self.is_main, clock=self.wall_time, step=self.start_step,
            )
            self.display = RunDisplay(family.name, progress, self.is_main)
            self.loop = LoopState(step=self.start_step, checked_step=self.start_step,
                                  epochs_hooked=self.batches.epochs_completed)
        except BaseException:
            self._unlock()
            raise

    # -- the run's config, directory and data ------------------------------------------------
    def _open_run(self, config: ModelConfig | None, overrides: dict[str, Any], out: str | Path | None
                  ) -> tuple[ModelConfig, Path, int, ck.State | None]:
        """(config, run directory, first step, checkpoint state to restore or None)."""
        fam = self.family
        base = config if config is not None else fam.default_config()
        if not isinstance(base, fam.config_class):
            raise GenzooError(f"{fam.name} needs a {fam.config_class.__name__}")
        if not self.resume:
            cfg = base.update(overrides)
            run = Path(out) if out is not None else self._new_run_dir(cfg)
            self._lock_run(run)
            if ck.find_checkpoint(run) is not None:
                raise GenzooError(f"'{run}' already holds a run; pass --resume to continue it or choose another --out")
            return cfg, run, 0, None
        run = run_to_resume(fam.name, base.update(overrides).data, out)
        self._lock_run(run)
        # the newest checkpoint that validates completely (older ones if newer ones are damaged)
        _, cfg, state = ck.restore_point(fam, run, overrides, quiet=not self.is_main)
        return cfg, run, int(state[1]["step"]), state

    def _lock_run(self, run: Path) -> None:
        """Take the run directory's lock (rank 0 only: one lock per run, however many processes)
        before anything in it is read or written, then clear dead writers' temporaries. A
        directory that does not exist yet is made and locked by :meth:`_start` (made here, it
        could land inside the data folder that is about to be read)."""
        if not self.is_main or self._lock is not None or not run.is_dir():
            return
        lock = RunLock(run)
        lock.acquire()
        self._lock = lock
        removed = remove_stale_temporaries(run)  # safe now: no other run writes here
        if removed:
            console.print(f"[yellow]note:[/] removed {len(removed)} temporary file(s) that an interrupted run "
                          f"left in {esc(run)}")

    def _make_run_dir(self) -> None:
        """Rank 0, before the first write: make the run directory, lock it, and (a new run)
        check again that no other run started there since setup looked."""
        run = self.out
        try:
            run.mkdir(parents=True, exist_ok=True)
        except FileExistsError:
            raise GenzooError(f"--out '{run}' is a file, not a directory; choose another --out") from None
        except OSError as e:
            raise GenzooError(f"cannot create the run directory '{run}' ({e.strerror}); choose another --out") from None
        if self._lock is None:
            self._lock_run(run)
            if not self.resume and ck.find_checkpoint(run) is not None:
                raise GenzooError(f"'{run}' already holds a run; pass --resume to continue it or choose another --out")

    def _unlock(self) -> None:
        """Release the run lock (safe to call twice)."""
        lock, self._lock = self._lock, None
        if lock is not None:
            lock.release()

    def _new_run_dir(self, config: ModelConfig) -> Path:
        if self.world_size == 1:
            return default_run_dir(self.family.name, config.data)
        # one run directory for all ranks: rank 0's choice
        mine = str(default_run_dir(self.family.name, config.data)) if self.is_main else None
        return Path(distributed.broadcast_object(mine))

    def _load_data(self) -> ImageDataset:
        c = self.config
        size = c.image_size or native_size(c.data, self.data_dir)
        # Channels are checked after the family's prepare_data (which may swap a pair).
        return load_training_data(c.data, image_size=size, data_dir=self.data_dir, path=self.data_path,
                                  memory_limit=self.memory_limit, quiet=not self.is_main,
                                  workers=default_workers(self.world_size) if self.data_workers is None else self.data_workers)

    def _steps_for(self, epochs: float) -> int:
        """Steps for ``epochs`` passes over the data (at least one)."""
        return max(1, math.ceil(epochs * len(self.data) / (self.config.batch_size * self.world_size)))

    def _fit_to_data(self, c: ModelConfig) -> ModelConfig:
        if not self.resume:
            c = self.family.configure_for_data(c, self.data)
            c = dataclasses.replace(c, image_size=self.data.image_size)
        elif self.data.channels != c.channels:
            raise GenzooError(f"data has {self.data.channels} channels but the run was trained on {c.channels}")
        for need in self.family.needs:
            if need not in self.data.extra:
                raise GenzooError(f"{self.family.name} needs data with '{need}' (paired data); '{c.data}' has none")
        return c

    # -- what trains -------------------------------------------------------------------------
    def _build_model(self) -> GenerativeModel:
        model = self.family.build(self.config).to(self.device)
        if self.channels_last:
            model = model.to(memory_format=torch.channels_last)
        model.meta["data"] = self.data.describe()
        return model

    def _make_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """One optimizer per phase, by phase name."""
        optimizers: dict[str, torch.optim.Optimizer] = {}
        for ph in self.recipe.phases:
            if ph.name in optimizers:
                raise GenzooError(f"recipe of {self.family.name} has two phases named '{ph.name}'")
            optimizers[ph.name] = phase_optimizer(ph, self.model, self.config, self.device)
        return optimizers

    def _ema_name(self) -> str | None:
        return self.recipe.ema_module or self.model.sampling_network

    def _make_ema(self) -> EMA | None:
        name = self._ema_name()
        return EMA(getattr(self.model, name), self.config.ema) if self.config.ema > 0 and name else None

    def _compile_networks(self) -> None:
        if self.compile:
            for name in {m for ph in self.recipe.phases for m in ph.modules}:
                setattr(self.model, name, torch.compile(getattr(self.model, name)))
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # shapes are fixed: let cuDNN pick its fastest kernels once

    def _start_distributed(self) -> None:
        """DDP wrappers for the loss functions (``self.model`` stays plain)."""
        self.dist = distributed.DistributedTraining(self.rank, self.world_size, self.device)
        self.train_model = self.dist.wrap(self.model, self.recipe.phases, sync_batchnorm=self.sync_batchnorm)
        if self.ema is not None and not self.resume:  # DDP made rank 0's weights everyone's
            self.ema.update(start=False)

    def _stop_distributed(self) -> None:
        if self.dist is not None:
            self.dist.release()
            self.dist, self.train_model = None, self.model

    # -- checkpoints and saved files ---------------------------------------------------------
    def _state(self, step: int, rank_rng: dict[str, Tensor]) -> ck.State:
        tensors: dict[str, Tensor] = {f"model.{k}": v for k, v in ck.strip_compile(self.model.state_dict()).items()}
        scalars: dict[str, Any] = {
            "family": self.family.name, "step": step, "config": self.config.to_dict(), "wall_time": self.wall_time(),
            "images_seen": self.images_seen, "optimizers": {}, "genzoo_version": environment()["genzoo"],
        }
        if self.ema is not None:
            tensors.update({f"ema.{k}": v for k, v in self.ema.shadow.items()})
            scalars["ema_updates"] = self.ema.updates
        opt_tensors, scalars["optimizers"] = ck.optimizers_state(self.optimizers)
        tensors.update(opt_tensors)
        tensors.update(ck.rng_state(self.device))
        data_tensors, scalars["data"] = self.batches.state()
        tensors.update(data_tensors)
        tensors.update(rank_rng)
        return tensors, scalars

    def _restore(self, tensors: dict[str, Tensor], scalars: dict[str, Any]) -> tuple[float, int]:
        """Load a checkpoint's state; returns (wall time, images seen) of the earlier legs."""
        self.model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
        if self.ema is not None:
            self.ema.shadow = {k[4:]: v.to(self.device) for k, v in tensors.items() if k.startswith("ema.")}
            self.ema.updates = int(scalars.get("ema_updates", 0))
        ck.load_optimizers(self.optimizers, tensors, scalars["optimizers"], self.device)
        ck.restore_rng(tensors, self.rank, self.device, self.config.seed + 1000 * self.rank + int(scalars["step"]))
        self.batches.load_state(tensors, scalars["data"])
        return float(scalars.get("wall_time", 0.0)), int(scalars.get("images_seen", 0))

    def save_checkpoint(self, step: int, rank_rng: dict[str, Tensor] | None = None) -> Path:
        """Write checkpoints/step-N (``rank_rng``: every rank's generators, in a multi-process run)."""
        return ck.write_checkpoint(self.out, step, self._state(step, rank_rng or {}), self.keep)

    def export_state_dict(self) -> dict[str, Tensor]:
        """The inference weights: the raw model with the EMA network swapped in."""
        sd = ck.strip_compile(self.model.state_dict())
        if self.ema is not None:
            sd.update({f"{self._ema_name()}.{k}": v for k, v in self.ema.shadow.items()})
        return sd

    @contextlib.contextmanager
    def inference_weights(self) -> Iterator[GenerativeModel]:
        """The model with EMA weights applied (if any), for sampling during training."""
        with averaged(self.model, self.ema) as m:
            yield m  # type: ignore[misc]

    def save_model(self, step: int, *, samples: bool = True) -> None:
        """Write the Hub-layout files of the run directory (each atomically)."""
        self.model.meta["training"] = {
            "steps": step, "wall_time_s": round(self.wall_time(), 2), "images_seen": self.images_seen,
            "device": str(self.device), "precision": self.precision, "world_size": self.world_size,
            "environment": environment(),
        }
        if samples:
            self.write_samples(step, final=True)
        self.model.save_pretrained(self.out, state_dict=self.export_state_dict())

    def write_samples(self, step: int, final: bool = False) -> None:
        with self.inference_weights() as m:
            images, nrow = preview_images(m, self.data, self.config)
        write_preview(self.out, step, images, nrow, final=final)

    def wall_time(self) -> float:
        """Seconds of training, earlier legs of a resumed run included."""
        return self.wall_before + (time.perf_counter() - self._t0 if self._t0 is not None else 0.0)

    def _set_config(self, config: ModelConfig) -> None:
        self.config = self.model.config = self.context.config = config

    # -- the loop ----------------------------------------------------------------------------
    def fit(self) -> TrainResult:
        """Run the recipe until ``steps`` or ``max_time``; returns where everything went."""
        # SIGINT/SIGTERM only set a flag from here on: the loop stops at the next step boundary
        # and the final save is never cut short (a KeyboardInterrupt mid-step used to save half
        # a step). Without our handlers (not the main thread) a KeyboardInterrupt saves nothing.
        try:
            with stop_on_signals(self.loop):
                self._start()
                with self.display.running(self.loop.step, self.config.steps):
                    while self._keep_going():
                        self._train_step()
                        self._after_step()
                return self._finish()
        finally:  # however the run ends, the directory is free for the next one
            self.batches.close()  # streaming workers hold forked copies of the lock's descriptor
            self._unlock()

    def _start(self) -> None:
        c = self.config
        if self.is_main:
            self._make_run_dir()
        if self.world_size > 1:
            self._start_distributed()
        if c.steps is not None and self.start_step >= c.steps:
            raise GenzooError(f"run '{self.out}' is already at step {self.start_step} of {c.steps}; "
                              f"pass --steps N with N > {self.start_step} to train further")
        if self.is_main:
            # Record what is about to run before the first step: config and versions.
            self.model.meta["training"] = {"steps": self.start_step, "environment": environment()}
            if not (self.out / "config.json").exists():
                write_json(self.out / "config.json", self.model.config_dict())
        budget = f" (max {self.max_time:.0f}s)" if self.max_time else ""
        procs = f" x {self.world_size} processes" if self.world_size > 1 else ""
        self.display.say(
            f"[bold]genzoo[/] training [cyan]{esc(self.family.name)}[/] on [cyan]{esc(c.data)}[/] "
            f"({len(self.data)} images, {self.data.channels}x{self.data.image_size}x{self.data.image_size}) "
            f"on {self.device}{procs}{budget} -> {esc(self.out)}"
        )
        if self.resume:  # say where the run picks up, so a user can tell a resume from a fresh start
            of = f" of {c.steps}" if c.steps is not None else ""
            self.display.say(f"resuming from step {self.start_step}{of} ({self.images_seen} images seen)")
        self._weight_ref = magnitudes(self.model.parameters())  # known good: initial or checkpointed weights
        self._t0 = self.loop.t_log = time.perf_counter()
        self.model.train()

    def _keep_going(self) -> bool:
        """False once ``steps`` are done, or (all ranks agreeing) the budget or a stop signal
        says stop; the loop only asks between steps, so a run always stops at a step boundary."""
        s, c = self.loop, self.config
        if c.steps is not None and s.step >= c.steps:
            return False
        sig = s.stop_signal
        budget = self.max_time is not None and time.perf_counter() - self._t0 >= self.max_time  # type: ignore[operator]
        if self.dist is not None:  # ranks agree, at log boundaries only, so all stop at one step
            if s.step % c.log_every:
                return True
            agreed = self.dist.max_int(2 * sig + int(budget))  # any rank's signal (the larger number) or budget
            sig, budget = agreed // 2, bool(agreed % 2)
        if not (sig or budget):
            return True
        s.stopped, s.stopped_by = True, sig
        if sig:
            self.display.say(f"{STOP_SIGNALS[sig][0]} received: stopped at step {s.step}; saving a checkpoint")
        return False

    def _train_step(self) -> None:
        s = self.loop
        batch = next(self.batches)
        self.images_seen += len(batch) * self.world_size
        s.images_since_log += len(batch) * self.world_size
        ctx = StepContext(self.train_model, batch, s.step, self.config, self.device)  # type: ignore[arg-type]
        for ph in self.recipe.phases:
            with self.dist.phase(ph) if self.dist is not None else contextlib.nullcontext():
                self._run_phase(ph, ctx)
        if self.ema is not None:
            self.ema.update(start=s.step >= self.config.ema_start)
        s.step += 1

    def _run_phase(self, ph: Phase, ctx: StepContext) -> None:
        opt = self.optimizers[ph.name]
        for r in range(ph.repeats):
            if r > 0:  # each repeat after the first draws a fresh batch
                ctx.batch = next(self.batches)
                self.images_seen += len(ctx.batch) * self.world_size
            loss, extra = update_phase(ph, opt, ctx, self.model, self.config.grad_clip, self._autocast, self.scaler)
            self.loop.record(ph.name, loss, extra, ctx.step + 1)
            if len(self.loop.loss_hist) > FOLD_AFTER:
                self.loop.fold(self._first_bad_step())  # all ranks fold at the same step: a safe collective

    def _after_step(self) -> None:
        """The periodic work after a step: epoch hooks, log line, samples, checkpoint, step callbacks."""
        s, c = self.loop, self.config
        step = s.step
        self.display.advance(step)
        if self.recipe.after_epoch and self.is_main and self.batches.epochs_completed > s.epochs_hooked:
            s.epochs_hooked = self.batches.epochs_completed
            self._after_epoch(s.epochs_hooked)
        if step % c.log_every == 0 or step == c.steps:
            self._log_line()
        if self.is_main and step % c.sample_every == 0 and step != c.steps:
            self.write_samples(step)
        if step % c.checkpoint_every == 0 and step != c.steps:
            self._checkpoint()
        for hook in self.step_callbacks:
            hook(step)

    def _after_epoch(self, epoch: int) -> None:
        """Run the recipe's end-of-epoch hooks; log what they return as one JSONL line."""
        self.context.step = self.loop.step
        record: dict[str, Any] = {"step": self.loop.step, "epoch": epoch}
        was = self.model.training
        try:
            for hook in self.recipe.after_epoch:
                record.update(hook(self.context, epoch) or {})
        finally:  # a hook may switch the model to eval mode; training goes on as it was
            self.model.train(was)
        if len(record) > 2:
            self.context.log(record)

    def _log_line(self) -> None:
        """Check finiteness, average the logged values (over ranks too), write the log line,
        update the display and call the log callbacks."""
        s, c = self.loop, self.config
        self._check_finite()
        now = time.perf_counter()
        s.throughput = s.images_since_log / max(now - s.t_log, 1e-9)
        s.t_log, s.images_since_log = now, 0
        keys, means = s.take_means()
        if means is not None and self.dist is not None:  # the log shows the mean over ranks
            means = self.dist.mean(means)
        s.last_logs = dict(zip(keys, means.cpu().tolist() if means is not None else []))
        self.context.step = s.step
        self.context.log({"step": s.step, "epoch": self.batches.epoch, "time": round(self.wall_time(), 3),
                          "images_per_s": round(s.throughput, 1), **{k: round(v, 6) for k, v in s.last_logs.items()}})
        self.display.logged(s.step, c.steps, s.last_logs, s.throughput, self.wall_time())
        for cb in self.callbacks:
            cb(self.context, s.last_logs)

    def _checkpoint(self) -> None:
        self._check_finite()
        rank_rng = self.dist.gather_rng() if self.dist is not None else {}  # every rank's, into rank 0's checkpoint
        if self.is_main:
            self.save_checkpoint(self.loop.step, rank_rng)
            self.save_model(self.loop.step, samples=False)

    def _first_bad_step(self) -> int:
        bad = self.loop.local_bad_step()
        return self.dist.max_int(bad) if self.dist is not None else bad  # any rank's bad step stops every rank

    def _check_finite(self) -> None:
        """Raise if training diverged since the last check: a loss NaN, infinite or more than
        BLOWUP times the largest loss of the steps checked before, or (the losses being fine) a
        weight, an EMA weight or an optimizer state NaN or infinite, or a weight tensor more
        than BLOWUP times as large as when fit() started. Such state never reaches a checkpoint
        (the check runs before every save), so the last good checkpoint is never replaced or
        pruned. Every rank takes the same decision (losses: agreed; weights: identical)."""
        s = self.loop
        peak = s.loss_peak
        bad = self._first_bad_step()
        what = ""
        if bad >= 0:
            what = nonfinite_what(bad, s.checked_step + 1, s.step) if not s.bad_loss else (
                f"a loss exploded at step {bad} (|loss| {s.bad_loss:.3g}, more than {BLOWUP:.0e} times the "
                f"largest {peak:.3g} of the steps before); stopped at step {s.step}")
        elif not tensors_finite(self._checkpointed_tensors()):
            what = nonfinite_what(-1, s.checked_step + 1, s.step)
        else:
            now = magnitudes(self.model.parameters())
            j = first_blown(now, self._weight_ref)
            if j >= 0:
                name = [n for n, p in self.model.named_parameters() if p.numel() > 0][j]
                span = f"at step {s.step}" if s.checked_step + 1 >= s.step else \
                    f"between step {s.checked_step + 1} and step {s.step}"
                what = (f"the weights exploded {span}: the largest |value| in {name} grew from "
                        f"{float(self._weight_ref[j]):.3g} to {float(now[j]):.3g} (more than {BLOWUP:.0e} times)")
        if what:
            found = ck.find_checkpoint(self.out)
            where = (f"the last good checkpoint ({found.name}) is kept in {found.parent}; resuming it would "
                     f"diverge the same way (--resume keeps the config)") if found else "no checkpoint had been written yet"
            raise GenzooError(divergence_message(what, where, self._divergence_advice()))
        s.checked_step = s.step
        s.loss_hist = []

    def _divergence_advice(self) -> str:
        """What a user can do about a diverged run: a new run with a smaller learning rate (every
        ``lr``/``lr_*`` field of the config that is set, divided by 10)."""
        values = self.config.to_dict()
        lrs = " ".join(f"--set {k}={v / 10:g}" for k, v in values.items()
                       if (k == "lr" or k.startswith("lr_")) and isinstance(v, float) and v > 0)
        return (f"start a new run with a smaller learning rate (and your other options): genzoo train "
                f"{self.family.name} --data {shlex.quote(str(values.get('data')))} {lrs} --out NEW_RUN_DIR")

    def _checkpointed_tensors(self) -> Iterator[Tensor]:
        yield from self.model.state_dict().values()
        if self.ema is not None:
            yield from self.ema.shadow.values()
        for opt in self.optimizers.values():
            yield from (v for st in opt.state.values() for v in st.values() if isinstance(v, Tensor))

    def _finish(self) -> TrainResult:
        """After the last step: final checks, the final checkpoint, after_training hooks and the
        files. The checkpoint comes first, so that it holds exactly what a scheduled one at this
        step would (hooks may draw random numbers), and a resumed run continues bit-identically."""
        s = self.loop
        self._check_finite()
        open_ended = self.config.steps is None
        if open_ended:  # record the steps the budget allowed
            self._set_config(dataclasses.replace(self.config, steps=s.step))
        rank_rng = self.dist.gather_rng() if self.dist is not None else {}
        if self.is_main:
            self.save_checkpoint(s.step, rank_rng)
            self.context.step = s.step
            for hook in self.recipe.after_training:
                hook(self.context)
            self.save_model(s.step)
        self._stop_distributed()
        wall = self.wall_time()
        name, code = STOP_SIGNALS.get(s.stopped_by, ("", 0))
        why = f" (stopped by {name})" if name else (" (time budget reached)" if s.stopped else "")
        self.display.say(f"[green]done[/]{why}: {s.step} steps in {wall:.1f}s -> [bold]{esc(self.out)}[/] "
                         f"(samples: {esc(self.out / 'samples.png')})")
        if s.stopped:
            self.display.say(f"continue with: {esc(self._resume_command(open_ended))}")
        return TrainResult(self.out, s.step, wall, self.images_seen / max(wall, 1e-9), s.stopped, s.last_logs,
                           stopped_by=name, exit_code=code)

    def _resume_command(self, open_ended: bool) -> str:
        """The command that continues this run from its final checkpoint."""
        nproc = f" --nproc {self.world_size}" if self.world_size > 1 else ""
        more = f" --steps N (N > {self.loop.step})" if open_ended else ""
        return f"genzoo train {self.family.name} --out {shlex.quote(str(self.out))} --resume{nproc}{more}"


def train(family: str | Family, *, out: str | Path | None = None, steps: int | None = None, **kwargs: Any) -> TrainResult:
    """Train a family by name: ``genzoo.train("dcgan", data="digits", steps=500)``, as
    ``genzoo train`` does (``epochs=``, ``max_time=``, ``resume=True`` finding the latest run).

    Keyword arguments that are config fields become overrides; the rest go to :class:`Trainer`.
    ``steps`` None: the family's default, or with ``max_time`` alone, until the budget.
    """
    fam = families.get(family) if isinstance(family, str) else family
    fields = set(fam.config_class.field_names())
    overrides = {k: kwargs.pop(k) for k in list(kwargs) if k in fields}
    if steps is not None:
        overrides["steps"] = steps
    return Trainer(fam, overrides=overrides, out=out, **kwargs).fit()
