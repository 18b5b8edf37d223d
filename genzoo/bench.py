"""`genzoo bench`: how fast each family trains and samples, and what the engine costs.

For every family asked for, on one device:

* training throughput (images/s over timed steps after a warm-up) of the genzoo engine
  (``Trainer.fit`` with the family's defaults), and of the same networks driven by a bare
  hand-written loop (forward, loss, backward, optimizer step: nothing else). Their ratio
  ``genzoo / bare`` is the engine's overhead (1.0 = none).
* sampling throughput (images/s) per sampler, and per step count for samplers that take
  ``steps`` (diffusion's DDIM);
* peak memory (process resident set size on the CPU, ``torch.cuda.max_memory_allocated``
  on a GPU) and parameter counts per network.

The two training loops are interleaved: the engine runs ``chunk`` steps, then the bare loop
runs ``chunk`` steps on the same networks, and so on (the engine's per-step hook hands
over), so a busy shared machine slows both alike. ``chunk`` is a divisor of the family's
``log_every`` near ``chunk_seconds``; consecutive chunks are grouped into whole log
intervals, so every group holds the engine's periodic work (one log line, one finiteness
check) exactly once. The reported ratio is the median over groups of (bare time / engine
time); the overall total is reported too.

What the bare loop is: for adversarial families a textbook GAN step written here by hand
(one batch of fakes, a discriminator step on real and detached fake, a generator step
through the updated discriminator). For other families it
runs the engine's own update of each phase (:func:`genzoo.engine.step.update_phase`) in a
minimal loop, so the two cannot drift apart and the ratio is exactly the cost of what the
engine does around that update. Both do what the config's training recipe says (gradient clipping,
gradient penalty, weight clipping, several critic steps) and nothing else: no EMA, no
logging, no checks. Both use the same optimizer implementation (genzoo's choice: foreach
kernels, fused Adam on CUDA), so the ratio isolates the loop around the step; torch.optim's
own default on the CPU (a per-tensor loop) is measured in docs/performance.md.

The timed engine run has ``steps=None`` (it ends when enough has been timed). Periodic
checkpoints and sample grids are switched off (every 10^9 steps): they are file output a
user asks for, not per-step overhead. Everything else is the family's default, logging
(every ``log_every`` steps) and EMA included.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from rich.console import Group
from rich.table import Table
from torch import Tensor, nn
from torch.utils.flop_counter import FlopCounterMode

from genzoo.adversarial import AdversarialModel
from genzoo.capabilities import Samples, TranslatesImages, has_capability
from genzoo.console import console
from genzoo.data import load_dataset, native_size
from genzoo.engine.devices import resolve_device
from genzoo.engine.optim import make_optimizer, phase_optimizer
from genzoo.engine.step import autocast_for, update_phase
from genzoo.engine.trainer import Trainer
from genzoo.errors import GenzooError
from genzoo.family import Batch, LatentModel, StepContext
from genzoo.interfaces import count_parameters
from genzoo.io import write_text
from genzoo.registry import families, losses, samplers
from genzoo.regularizers import clip_weights, gradient_penalty

NEVER = 10**9  # "every NEVER steps": off for a benchmark's length


@dataclass
class BenchSettings:
    """What `genzoo bench` measures and for how long (seconds are per family)."""

    device: str = "cpu"
    batch_size: int | None = None  # None: each family's default
    data: str = "digits"
    image_size: int | None = None  # None: the family's default for the data
    train_seconds: float = 10.0  # timed training per loop (engine and bare each)
    min_groups: int = 3  # at least this many timed log intervals per loop
    min_pairs: int = 3  # speed switches: at least this many round-robin rounds
    chunk_seconds: float = 0.5  # target length of one chunk (short: more pairs, finer interleaving)
    warmup_steps: int = 7
    sample_n: int | None = None  # images per sampling call (None: the batch size)
    sample_steps: tuple[int, ...] = (10, 50)  # step counts for samplers that take `steps`
    sample_seconds: float = 3.0  # time per sampling configuration (at least one call)
    precision: str = "fp32"
    compile: bool = False
    channels_last: bool = False
    seed: int = 0
    overrides: dict[str, Any] = field(default_factory=dict)  # config fields for every family (--set)
    switches: tuple[str, ...] = ()  # speed switches to compare (see SWITCHES), e.g. ("fp32", "bf16")
    peak_tflops: float | None = None  # the device's peak, for "fraction_of_peak" (GPUs: looked up by name)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["sample_steps"] = list(self.sample_steps)
        d["switches"] = list(self.switches)
        return d


@dataclass
class FamilyResult:
    family: str
    config: dict[str, Any]
    params: dict[str, int]
    train: dict[str, Any]
    sampling: list[dict[str, Any]]
    peak_memory_mb: float
    memory_kind: str
    switches: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class _Done(Exception):
    """Raised from the engine's log callback to end a timed run (nothing is saved)."""


# ------------------------------------------------------------------------------------------
# machine facts and memory
# ------------------------------------------------------------------------------------------
def machine_info(device: torch.device) -> dict[str, Any]:
    """CPU model and flags that matter for speed, cores, memory, GPU, versions."""
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "interop_threads": torch.get_num_interop_threads(),
        "cpu_count": os.cpu_count(),
        "cpu": platform.processor() or platform.machine(),
        "cpu_capability": _cpu_capability(),
    }
    try:
        text = Path("/proc/cpuinfo").read_text()
        m = re.search(r"^model name\s*:\s*(.+)$", text, re.M)
        if m:
            info["cpu"] = m.group(1).strip()
        flags = set(re.search(r"^flags\s*:\s*(.+)$", text, re.M).group(1).split())  # type: ignore[union-attr]
        info["cpu_flags"] = sorted(f for f in flags if f.startswith(("amx", "avx512_bf16", "avx512_fp16", "avx_vnni")))
        mem = re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text())
        if mem:
            info["memory_gb"] = round(int(mem.group(1)) / 2**20, 1)
    except (OSError, AttributeError):
        pass
    with contextlib.suppress(OSError, AttributeError):
        info["load_average"] = [round(x, 2) for x in os.getloadavg()]
    # OpenMP settings decide how torch's CPU threads wait; on a shared machine they matter a lot
    info["env"] = {k: os.environ[k] for k in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "MKL_NUM_THREADS")
                   if k in os.environ}
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
        info["cuda"] = torch.version.cuda
    return info


def _cpu_capability() -> str:
    with contextlib.suppress(Exception):
        return str(torch.backends.cpu.get_cpu_capability())
    return "unknown"


class PeakMemory:
    """Peak memory between ``reset()`` and ``read()``, in MiB.

    CPU: the process's peak resident set size (Linux VmHWM, reset through
    /proc/self/clear_refs; elsewhere the lifetime peak from getrusage). CUDA: the peak of
    memory allocated by tensors on the device.
    """

    def __init__(self, device: torch.device):
        self.device = device
        self.kind = "cuda_max_memory_allocated" if device.type == "cuda" else "process_peak_rss"

    def reset(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
            return
        try:
            Path("/proc/self/clear_refs").write_text("5")  # 5: reset the peak RSS
        except OSError:
            self.kind = "process_lifetime_peak_rss"

    def read(self) -> float:
        if self.device.type == "cuda":
            return torch.cuda.max_memory_allocated(self.device) / 2**20
        try:
            m = re.search(r"VmHWM:\s+(\d+)\s*kB", Path("/proc/self/status").read_text())
            if m:
                return int(m.group(1)) / 1024
        except OSError:
            pass
        import resource  # here, not at the top: Unix only, and only off Linux (no /proc) is it needed

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / 2**20 if sys.platform == "darwin" else peak / 1024


# ------------------------------------------------------------------------------------------
# the bare loops
# ------------------------------------------------------------------------------------------
class BareLoop:
    """The same networks trained by a hand-written loop: ``run(k)`` does k steps.

    Data are indexed from the same in-memory tensor (a fresh permutation each epoch).
    """

    def __init__(self, family: Any, config: Any, data: Any, device: torch.device, settings: BenchSettings,
                 model: Any = None, optimizers: dict[str, torch.optim.Optimizer] | None = None):
        self.config, self.device, self.settings = config, device, settings
        self.shared_opts = optimizers  # network name -> optimizer (the engine's), or None: own ones
        # Given a model (the engine's), drive its networks as they are (already compiled,
        # channels-last), and with ``optimizers`` the engine's optimizer objects too: the same
        # tensors in the same memory, so neither side gets luckier cache placement.
        self.compile = settings.compile and model is None
        if model is None:
            model = family.build(config).to(device)
            if settings.channels_last:
                model = model.to(memory_format=torch.channels_last)
        self.model = model
        self.model.train()
        self.images = data.images.to(device)
        self.labels = data.labels.to(device) if data.labels is not None else None
        self.extra = {k: v.to(device) for k, v in data.extra.items()}
        self.bs = config.batch_size
        self.gen = torch.Generator().manual_seed(settings.seed + 1)
        self.perm, self.pos = torch.randperm(len(self.images), generator=self.gen), 0
        self.autocast = autocast_for(settings.precision, device)
        if isinstance(self.model, AdversarialModel):
            self.kind = "hand-written GAN loop"
            self._setup_gan()
            self.step: Callable[[int], None] = self._gan_step
        else:
            self.kind = "family loss functions in a minimal loop"
            self._setup_recipe(family)
            self.step = self._recipe_step

    def _index(self) -> Tensor:
        if self.pos + self.bs > len(self.images):
            self.perm, self.pos = torch.randperm(len(self.images), generator=self.gen), 0
        idx = self.perm[self.pos : self.pos + self.bs].to(self.device)
        self.pos += self.bs
        return idx

    # -- adversarial: written out by hand ----------------------------------------------------
    def _setup_gan(self) -> None:
        c, m = self.config, self.model
        self.loss = losses.get(c.loss)
        if self.compile:
            self.G: nn.Module = torch.compile(m.generator)  # type: ignore[assignment]
            self.D: nn.Module = torch.compile(m.discriminator)  # type: ignore[assignment]
        else:
            self.G, self.D = m.generator, m.discriminator  # type: ignore[assignment]
        betas = tuple(c.betas)
        if self.shared_opts is not None:
            self.opt_d, self.opt_g = self.shared_opts["discriminator"], self.shared_opts["generator"]
        else:
            self.opt_d = make_optimizer(c.optimizer, list(m.discriminator.parameters()), c.lr_d or c.lr, betas, c.weight_decay, self.device)  # type: ignore[arg-type]
            self.opt_g = make_optimizer(c.optimizer, list(m.generator.parameters()), c.lr, betas, c.weight_decay, self.device)  # type: ignore[arg-type]

    def _gan_step(self, step: int) -> None:
        c = self.config
        y = None
        for _ in range(c.d_steps):
            idx = self._index()
            real = self.images[idx]
            y = self.labels[idx] if self.labels is not None and self.model.is_conditional else None
            z = torch.randn(self.bs, c.latent_dim, device=self.device)
            with self.autocast():
                fake = self.G(z, y)
                loss_d = self.loss.d(self.D(real, y), self.D(fake.detach(), y))
                if c.gp_weight > 0:
                    loss_d = loss_d + c.gp_weight * gradient_penalty(self.D, real, fake.detach(), y)
            self.opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            if c.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(self.model.discriminator.parameters(), c.grad_clip)
            self.opt_d.step()
            if c.clip_value > 0:
                clip_weights(self.model.discriminator, c.clip_value)
        with self.autocast():
            loss_g = self.loss.g(self.D(fake, y))
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        if c.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.model.generator.parameters(), c.grad_clip)
        self.opt_g.step()

    # -- any other family: its own loss functions through the engine's update, nothing around them --
    def _setup_recipe(self, family: Any) -> None:
        c = self.config
        self.recipe = family.recipe(self.model, c)
        if self.compile:
            for name in {m for ph in self.recipe.phases for m in ph.modules}:
                setattr(self.model, name, torch.compile(getattr(self.model, name)))
        self.opts = [
            self.shared_opts[ph.modules[0]] if self.shared_opts is not None else
            phase_optimizer(ph, self.model, c, self.device)
            for ph in self.recipe.phases
        ]

    def _batch(self) -> Batch:
        idx = self._index()
        return Batch(self.images[idx], self.labels[idx] if self.labels is not None else None,
                     {k: v[idx] for k, v in self.extra.items()})

    def _recipe_step(self, step: int) -> None:
        ctx = StepContext(self.model, self._batch(), step, self.config, self.device)
        for ph, opt in zip(self.recipe.phases, self.opts):
            for r in range(ph.repeats):
                if r > 0:
                    ctx.batch = self._batch()
                # the engine's own update (gradient clipping is part of the recipe, so it is here too)
                update_phase(ph, opt, ctx, self.model, self.config.grad_clip, self.autocast)

    def run(self, steps: int, start: int = 0) -> None:
        for s in range(start, start + steps):
            self.step(s)


# ------------------------------------------------------------------------------------------
# one family
# ------------------------------------------------------------------------------------------
# Dense bf16 tensor-core peaks from NVIDIA's datasheets (TFLOP/s, without sparsity), to report
# achieved training throughput as a fraction of peak; --peak-tflops overrides.
GPU_BF16_PEAK_TFLOPS = {"H100 PCIe": 756.0, "H100 NVL": 835.0, "H100": 989.4, "H200": 989.4, "A100": 312.0,
                        "L40S": 362.0, "L4": 121.0, "A10": 125.0}


def gpu_peak_tflops(name: str) -> float | None:
    for key, val in GPU_BF16_PEAK_TFLOPS.items():  # most specific first
        if key in name:
            return val
    return None


def count_step_flops(loop: BareLoop) -> int | None:
    """Floating-point operations of one training step (forward and backward), or None."""
    try:
        with FlopCounterMode(display=False) as fc:
            loop.run(1, start=10**6)
        return int(fc.get_total_flops()) or None
    except Exception:  # the counter is a debugging tool; a model it cannot trace just gets no figure
        return None

def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence the engine's console lines while it runs inside the benchmark."""
    was = console.quiet
    console.quiet = True
    try:
        yield
    finally:
        console.quiet = was


def _configured(fam: Any, settings: BenchSettings) -> tuple[Any, Any, dict[str, Any]]:
    """The family's default config fitted to the data, as `genzoo train` would build it: the
    data as the family prepares them (pix2pix's pairs, cyclegan's two domains from --set task=)."""
    return _prepared(fam, *_loaded(fam, settings))


def _loaded(fam: Any, settings: BenchSettings) -> tuple[Any, Any, dict[str, Any]]:
    """(config with the bench's overrides, the data as loaded, the overrides)."""
    overrides: dict[str, Any] = {**settings.overrides, "data": settings.data, "seed": settings.seed}
    if settings.batch_size:
        overrides["batch_size"] = settings.batch_size
    if settings.image_size:
        overrides["image_size"] = settings.image_size
    cfg = fam.default_config().update(overrides, source="bench")
    return cfg, load_dataset(settings.data, image_size=cfg.image_size or native_size(settings.data)), overrides


def _prepared(fam: Any, cfg: Any, raw: Any, overrides: dict[str, Any]) -> tuple[Any, Any, dict[str, Any]]:
    data = fam.prepare_data(raw, cfg)  # as the engine does right after loading
    cfg = fam.apply_size_defaults(cfg, cfg.image_size or data.image_size, overrides)  # as the engine does next
    fitted = fam.configure_for_data(cfg, data)
    fitted = dataclasses.replace(fitted, image_size=data.image_size)
    return fitted, data, overrides


def _probe(fam: Any, cfg: Any, data: Any, device: torch.device, settings: BenchSettings) -> tuple[float, str, int | None]:
    """(median seconds per step, bare-loop kind, FLOPs per step or None), measured on a
    throwaway bare loop; this also warms kernels and the allocator before the engine starts."""
    probe = BareLoop(fam, cfg, data, device, settings)
    probe.run(2)
    times: list[float] = []
    while len(times) < max(1, settings.warmup_steps - 2) and (len(times) < 2 or sum(times) < settings.chunk_seconds * 4):
        _sync(device)
        t = time.perf_counter()
        probe.run(1, start=2 + len(times))
        _sync(device)
        times.append(time.perf_counter() - t)
    flops = count_step_flops(probe) if not settings.compile else None
    return statistics.median(times), probe.kind, flops


class _Interleaver:
    """The engine's per-step callback that hands over to the bare loop every ``chunk`` steps
    and times both: ``pairs`` holds (engine seconds, bare seconds) per chunk, ``cpu_pairs``
    the same in process CPU time (less disturbed by other processes). Raises :class:`_Done`
    when enough whole log intervals (groups of ``per_group`` chunks) have been timed."""

    warmup = 2  # engine steps before timing (kernels are warm from the probe)

    def __init__(self, fam: Any, data: Any, device: torch.device, settings: BenchSettings, chunk: int, per_group: int):
        self.fam, self.data, self.device, self.settings = fam, data, device, settings
        self.chunk, self.per_group = chunk, per_group
        self.pairs: list[tuple[float, float]] = []
        self.cpu_pairs: list[tuple[float, float]] = []
        self.trainer: Trainer | None = None  # the engine being timed (set before it runs)
        self.bare: BareLoop | None = None  # made at the first handover, on the engine's networks
        self.bare_step = 0
        self.exit: float | None = None  # when the engine got control back (wall, CPU)
        self.cpu_exit = 0.0
        self.bare_s = self.cpu_bare_s = 0.0
        self.partial = False  # stopped by the time bound before one whole interval

    def __call__(self, step: int) -> None:
        if step % self.chunk or step < self.warmup:
            return
        _sync(self.device)
        now, cpu_now = time.perf_counter(), time.process_time()
        if self.exit is not None:
            self.pairs.append((now - self.exit, self.bare_s))
            self.cpu_pairs.append((cpu_now - self.cpu_exit, self.cpu_bare_s))
        self._enough()
        bare = self.bare or self._make_bare()
        t0, c0 = time.perf_counter(), time.process_time()
        bare.run(self.chunk, start=self.bare_step)
        _sync(self.device)
        self.bare_s, self.cpu_bare_s = time.perf_counter() - t0, time.process_time() - c0
        self.bare_step += self.chunk
        self.exit, self.cpu_exit = time.perf_counter(), time.process_time()

    def _enough(self) -> None:
        total_e = sum(p[0] for p in self.pairs)
        if self.pairs and len(self.pairs) % self.per_group == 0:  # a group is complete: enough?
            if len(self.pairs) // self.per_group >= self.settings.min_groups and total_e >= self.settings.train_seconds:
                raise _Done
        if total_e >= max(3 * self.settings.train_seconds, 20.0):  # a crawling machine: stop, time-bounded
            self.partial = len(self.pairs) < self.per_group
            raise _Done

    def _make_bare(self) -> BareLoop:
        """A bare loop driving the engine's own networks and optimizers, warmed up."""
        tr = self.trainer
        assert tr is not None
        opts = {m: tr.optimizers[ph.name] for ph in tr.recipe.phases for m in ph.modules}
        self.bare = BareLoop(self.fam, tr.config, self.data, self.device, self.settings, model=tr.model, optimizers=opts)
        self.bare.run(2)
        self.bare_step = 2
        _sync(self.device)
        return self.bare


def bench_training(fam: Any, settings: BenchSettings, device: torch.device) -> tuple[dict[str, Any], Any, Any]:
    """Interleaved engine / bare-loop training throughput. Returns (result, trained model, config)."""
    loaded = _loaded(fam, settings)
    raw = loaded[1]  # the engine prepares the data itself (prepare_data), so it gets them as loaded
    cfg, data, overrides = _prepared(fam, *loaded)
    if cfg.batch_size > len(data):
        raise GenzooError(f"batch size {cfg.batch_size} is larger than '{settings.data}' ({len(data)} images); "
                          f"use --batch-size {len(data)} or less")
    torch.manual_seed(settings.seed)
    step_time, bare_kind, flops = _probe(fam, cfg, data, device, settings)
    # Chunks divide the log interval, so `per_group` consecutive chunks cover log_every
    # consecutive steps, which always hold exactly one log boundary: the engine's periodic work
    # is in every group, while the interleaving stays fine-grained.
    log_every = int(cfg.log_every)
    target = max(1, round(settings.chunk_seconds / max(step_time, 1e-6)))
    chunk = max(d for d in range(1, log_every + 1) if log_every % d == 0 and d <= target)
    turns = _Interleaver(fam, data, device, settings, chunk, log_every // chunk)
    # steps None: until the interleaver has timed enough and stops the run
    engine_overrides = {**overrides, "steps": None, "checkpoint_every": NEVER, "sample_every": NEVER}
    with tempfile.TemporaryDirectory(prefix="genzoo-bench-") as tmp, _quiet():
        trainer = turns.trainer = Trainer(
            fam, overrides=engine_overrides, out=Path(tmp) / "run", data=raw, device=str(device),
            precision=settings.precision, compile=settings.compile, channels_last=settings.channels_last,
            progress=False,
        )
        trainer.step_callbacks.append(turns)
        with contextlib.suppress(_Done):
            trainer.fit()
    if not turns.pairs:
        raise GenzooError(f"benchmark of {fam.name} ended before a timed chunk; raise --train-seconds")
    return _train_result(turns, cfg, settings, bare_kind, flops), trainer.model, trainer.config


def _train_result(turns: _Interleaver, cfg: Any, settings: BenchSettings, bare_kind: str, flops: int | None) -> dict[str, Any]:
    """The training part of the report, from whole log intervals only (on a crawling machine,
    from what there is, reported as partial)."""
    pairs, per_group, bs = turns.pairs, turns.per_group, cfg.batch_size
    groups = [pairs[i : i + per_group] for i in range(0, len(pairs) - per_group + 1, per_group)] or [pairs]
    group_ratios = [sum(b for _, b in g) / sum(e for e, _ in g) for g in groups]
    timed = [p for g in groups for p in g]
    n_steps = turns.chunk * len(timed)
    eng_total = sum(e for e, _ in timed)
    bare_total = sum(b for _, b in timed)
    return {
        "batch_size": bs,
        "image_size": cfg.image_size,
        "channels": cfg.channels,
        "chunk_steps": turns.chunk,
        "pairs": len(timed),
        "groups": len(groups),  # log intervals timed (each: log_every engine steps and as many bare steps)
        "partial_interval": turns.partial,  # True: the machine was too slow to time one whole interval
        "timed_steps": n_steps,
        "genzoo_images_per_s": round(bs * n_steps / eng_total, 2),
        "bare_images_per_s": round(bs * n_steps / bare_total, 2),
        "ratio": round(statistics.median(group_ratios), 4),  # median over log intervals of bare/engine time
        "ratio_total": round(bare_total / eng_total, 4),
        "group_ratios": [round(r, 4) for r in group_ratios],
        "ratio_min": round(min(group_ratios), 4),
        "ratio_max": round(max(group_ratios), 4),
        # CPU time of this process: on a loaded machine, less disturbed by other processes
        "ratio_cpu_time": round(sum(p[1] for p in turns.cpu_pairs) / max(sum(p[0] for p in turns.cpu_pairs), 1e-9), 4),
        "pair_seconds": [[round(e, 4), round(b, 4)] for e, b in timed],  # (engine, bare) per pair, in order
        "genzoo_ms_per_step": round(1000 * eng_total / n_steps, 3),
        "bare_ms_per_step": round(1000 * bare_total / n_steps, 3),
        "bare_loop": bare_kind,
        "flop_per_step": flops,  # forward + backward of one step (torch.utils.flop_counter: matmuls and convolutions)
        "genzoo_tflop_per_s": round(flops * n_steps / eng_total / 1e12, 5) if flops else None,
        "engine": {"ema": cfg.ema, "log_every": cfg.log_every, "precision": settings.precision,
                   "compile": settings.compile, "channels_last": settings.channels_last},
    }


def _sampling_configs(model: Any, settings: BenchSettings) -> list[tuple[str | None, dict[str, Any], int | None]]:
    """(sampler name, options, network evaluations or None) to time: the default sampler of
    latent models; every sampler of others, at each of ``sample_steps`` when it takes
    ``steps``. Cheapest first, so long samplers can be judged from short ones."""
    if isinstance(model, LatentModel) or not hasattr(model, "sampler_names"):
        return [(getattr(model, "default_sampler", None), {}, 1)]
    out: list[tuple[str | None, dict[str, Any], int | None]] = []
    for name in model.sampler_names():
        s = samplers.get(name)
        for opts in ([{"steps": k} for k in settings.sample_steps] if "steps" in getattr(s, "options", ()) else [{}]):
            evals = None
            with contextlib.suppress(Exception):  # diffusion samplers list their timesteps
                evals = len(s.timesteps(model, **opts))
            out.append((name, opts, evals))
    out.sort(key=lambda c: (c[2] is None, c[2] or 0))
    return out or [(getattr(model, "default_sampler", None), {}, None)]


def bench_sampling(model: Any, settings: BenchSettings, device: torch.device, batch_size: int) -> list[dict[str, Any]]:
    """images/s of ``model.sample`` per configuration (inference mode, one batch per call).

    Each configuration is warmed up with a one-image call, then timed over whole calls for
    about ``sample_seconds``. A configuration whose network-evaluation count is known (diffusion
    samplers) is first costed from the per-evaluation time of the cheaper ones already measured:
    when a full batch would take more than twice ``sample_seconds`` it is timed on fewer
    images (``n`` is reported), and when even one image would, it is not run and the
    extrapolated figure is reported with ``"estimated": true``.
    """
    if not has_capability(model, Samples):  # pix2pix, cyclegan: they translate instead
        return bench_translation(model, settings, device, batch_size) if has_capability(model, TranslatesImages) else []
    n_want = settings.sample_n or batch_size
    cap = 2 * settings.sample_seconds
    per_eval: float | None = None  # seconds per image per network evaluation, at batch n_want
    results = []
    for sampler, opts, evals in _sampling_configs(model, settings):
        entry: dict[str, Any] = {"sampler": sampler or "default", **opts}
        if evals:
            entry["evaluations"] = evals
        n = n_want
        if evals and per_eval is not None:
            per_image = per_eval * evals
            if per_image > cap:
                results.append({**entry, "n": 0, "calls": 0, "images_per_s": round(1 / per_image, 4),
                                "ms_per_image": round(1000 * per_image, 3), "estimated": True})
                continue
            n = max(1, min(n_want, int(cap / per_image)))
        _sync(device)
        t = time.perf_counter()
        model.sample(1, seed=0, sampler=sampler, **opts)  # warm-up
        _sync(device)
        first = time.perf_counter() - t
        if per_eval is None and first * n_want > 4 * cap:  # nothing to go by yet, and slow
            n = max(1, int(cap / max(first, 1e-9)))
        calls, elapsed = 0, 0.0
        while calls == 0 or elapsed < settings.sample_seconds:
            _sync(device)
            t = time.perf_counter()
            model.sample(n, seed=calls, sampler=sampler, batch_size=n, **opts)
            _sync(device)
            elapsed += time.perf_counter() - t
            calls += 1
        if evals and (n == n_want or per_eval is None):  # (a smaller batch over-estimates: safe)
            per_eval = elapsed / (n * calls * evals)
        results.append({**entry, "n": n, "calls": calls, "images_per_s": round(n * calls / elapsed, 3),
                        "ms_per_image": round(1000 * elapsed / (n * calls), 3)})
    return results


def bench_translation(model: Any, settings: BenchSettings, device: torch.device, batch_size: int) -> list[dict[str, Any]]:
    """images/s of ``model.translate`` in each of its directions, on random inputs of its input
    shape (a model that cannot sample is timed at what it does instead); as :func:`bench_sampling`,
    a one-image warm-up, then whole calls for about ``sample_seconds``."""
    n = settings.sample_n or batch_size
    size = int(model.config.image_size)
    x = torch.rand(n, int(model.in_channels), size, size, generator=torch.Generator().manual_seed(settings.seed))
    directions = tuple(model.directions)
    results = []
    for direction in directions:
        opts: dict[str, Any] = {"direction": direction} if len(directions) > 1 else {}
        model.translate(x[:1], **opts)  # warm-up
        calls, elapsed = 0, 0.0
        while calls == 0 or elapsed < settings.sample_seconds:
            _sync(device)
            t = time.perf_counter()
            model.translate(x, batch_size=n, **opts)
            _sync(device)
            elapsed += time.perf_counter() - t
            calls += 1
        results.append({"sampler": f"translate {direction}", "n": n, "calls": calls,
                        "images_per_s": round(n * calls / elapsed, 3), "ms_per_image": round(1000 * elapsed / (n * calls), 3)})
    return results


def bench_family(name: str, settings: BenchSettings, device: torch.device) -> FamilyResult:
    fam = families.get(name)
    mem = PeakMemory(device)
    mem.reset()
    train, model, cfg = bench_training(fam, settings, device)
    params = {k: count_parameters(m) for k, m in model.named_children()}
    params["total"] = count_parameters(model)
    sampling = bench_sampling(model, settings, device, train["batch_size"])
    peak = mem.read()
    peak_tflops = settings.peak_tflops or (gpu_peak_tflops(torch.cuda.get_device_name(device)) if device.type == "cuda" else None)
    if peak_tflops and train.get("genzoo_tflop_per_s"):
        train["peak_tflop_per_s"] = peak_tflops
        train["fraction_of_peak"] = round(train["genzoo_tflop_per_s"] / peak_tflops, 5)
    del model
    switches = compare_switches(fam, settings, device, settings.switches) if settings.switches else None
    return FamilyResult(name, cfg.to_dict(), params, train, sampling, round(peak, 1), mem.kind, switches)


# ------------------------------------------------------------------------------------------
# speed switches
# ------------------------------------------------------------------------------------------
SWITCHES: dict[str, dict[str, Any]] = {
    "fp32": {"precision": "fp32", "compile": False, "channels_last": False},
    "bf16": {"precision": "bf16"},
    "fp16": {"precision": "fp16"},
    "channels-last": {"channels_last": True},
    "compile": {"compile": True},
    "compile+bf16": {"compile": True, "precision": "bf16"},
}


def _timed_run(loop: BareLoop, steps: int, start: int, device: torch.device) -> float:
    """Seconds taken by ``loop.run(steps, start=start)``, the device synchronised around it."""
    _sync(device)
    t = time.perf_counter()
    loop.run(steps, start=start)
    _sync(device)
    return time.perf_counter() - t


def check_switches(names: tuple[str, ...] | list[str]) -> None:
    """Raise a clear error for a name that is not in SWITCHES."""
    unknown = [n for n in names if n not in SWITCHES]
    if unknown:
        raise GenzooError(f"unknown speed switch '{unknown[0]}'; use {', '.join(SWITCHES)}")


def compare_switches(fam: Any, settings: BenchSettings, device: torch.device, names: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """Training speed under each speed switch, interleaved round-robin in one process.

    The switches change the networks' arithmetic (autocast, compiled graphs, memory
    format), which the bare loop runs exactly as the engine does, so each variant is a
    bare loop on its own copy of the networks; the engine's overhead under a switch is the
    main benchmark's ratio when run with that switch. Each variant is warmed up first
    (compilation time is reported as ``warmup_s``); then chunks of about ``chunk_seconds``
    go round-robin, in alternating order, until every variant has run ``train_seconds``.
    ``speedup`` is relative to the first.
    """
    check_switches(names)
    base = dataclasses.replace(settings, precision="fp32", compile=False, channels_last=False)
    cfg, data, _ = _configured(fam, base)
    loops, warm, step_time = {}, {}, {}
    for n in names:
        torch.manual_seed(settings.seed)
        loops[n] = BareLoop(fam, cfg, data, device, dataclasses.replace(base, **SWITCHES[n]))
        warm[n] = _timed_run(loops[n], 3, 0, device)
        step_time[n] = _timed_run(loops[n], 2, 3, device) / 2
    # each variant gets about chunk_seconds per round (a slow one is not run for minutes)
    chunks = {n: max(1, round(settings.chunk_seconds / max(step_time[n], 1e-6))) for n in names}
    spent = dict.fromkeys(names, 0.0)
    steps = dict.fromkeys(names, 0)
    rounds = 0
    while rounds < settings.min_pairs or min(spent.values()) < settings.train_seconds:
        order = list(names) if rounds % 2 == 0 else list(reversed(names))  # no variant always first
        for n in order:
            spent[n] += _timed_run(loops[n], chunks[n], 5 + steps[n], device)
            steps[n] += chunks[n]
        rounds += 1
    bs = cfg.batch_size
    first = names[0]
    out = {}
    for n in names:
        ms = 1000 * spent[n] / steps[n]
        out[n] = {"ms_per_step": round(ms, 3), "images_per_s": round(bs * steps[n] / spent[n], 2),
                  "speedup": round((spent[first] / steps[first]) / (spent[n] / steps[n]), 3),
                  "warmup_s": round(warm[n], 2), "steps": steps[n], **SWITCHES[n]}
    return {"chunk_steps": chunks, "rounds": rounds, "variants": out}


# ------------------------------------------------------------------------------------------
# the whole run
# ------------------------------------------------------------------------------------------
def default_families() -> list[str]:
    """dcgan and diffusion when installed, else every installed family."""
    names = families.names()
    preferred = [n for n in ("dcgan", "diffusion") if n in names]
    return preferred or list(names)


def run_bench(names: list[str] | None, settings: BenchSettings,
              on_result: Callable[[FamilyResult], None] | None = None) -> dict[str, Any]:
    """Benchmark families; returns the JSON-ready report (machine, settings, per family)."""
    device = resolve_device(settings.device)
    names = list(names) if names else default_families()
    for n in names:
        families.get(n)  # unknown names fail before anything runs
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    t0 = time.perf_counter()
    machine = machine_info(device)
    load, cores = (machine.get("load_average") or [0.0])[0], machine.get("cpu_count") or 1
    if device.type == "cpu" and load > 0.5 * cores and torch.get_num_threads() > 1 and "OMP_WAIT_POLICY" not in os.environ:
        console.print(
            f"[yellow]note:[/] this machine is busy (load {load:.1f} on {cores} cores): torch's {torch.get_num_threads()} "
            "spin-waiting CPU threads slow down badly and the figures will be noisy; OMP_NUM_THREADS=1 or "
            "OMP_WAIT_POLICY=PASSIVE help (docs/performance.md)"
        )
    results = []
    for n in names:
        r = bench_family(n, settings, device)
        results.append(r)
        if on_result is not None:
            on_result(r)
    with contextlib.suppress(OSError, AttributeError):
        machine["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    return {
        "genzoo_bench": 1,
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "device": str(device),
        "settings": settings.to_dict(),
        "wall_time_s": round(time.perf_counter() - t0, 1),
        "families": {r.family: r.to_dict() for r in results},
    }


def table(report: dict[str, Any]) -> Any:
    """Rich tables of a report: training (one row per family), then sampling."""
    m = report["machine"]
    load = m.get("load_average")
    title = (f"genzoo bench on {report['device']}: {m.get('cpu', '?')}, {report['threads']} threads, "
             f"torch {report['torch']}, {report['settings']['precision']}"
             + (f", load {load[0]:.1f}" if load else ""))
    t = Table(title=title, title_justify="left", show_edge=False)
    for col in ("family", "params", "batch", "genzoo img/s", "bare img/s", "genzoo/bare", "pairs", "GFLOP/s", "peak MiB"):
        t.add_column(col, justify="left" if col == "family" else "right", style="cyan" if col == "family" else None)
    s = Table(title="sampling", title_justify="left", show_edge=False)
    for col in ("family", "sampler", "steps", "n", "img/s", "ms/img"):
        s.add_column(col, justify="left" if col in ("family", "sampler") else "right",
                     style="cyan" if col == "family" else None)
    for name, r in report["families"].items():
        tr = r["train"]
        style = "green" if tr["ratio"] >= 0.97 else "red"
        t.add_row(name, f"{r['params']['total'] / 1e6:.2f}M", f"{tr['batch_size']}x{tr['image_size']}px",
                  f"{tr['genzoo_images_per_s']:.0f}", f"{tr['bare_images_per_s']:.0f}",
                  f"[{style}]{tr['ratio']:.3f}[/]", str(tr["pairs"]),
                  f"{1000 * tr['genzoo_tflop_per_s']:.3g}" if tr.get("genzoo_tflop_per_s") else "-",
                  f"{r['peak_memory_mb']:.0f}")
        for e in r["sampling"]:
            s.add_row(name, e["sampler"], str(e.get("steps", e.get("evaluations", ""))),
                      "est." if e.get("estimated") else str(e["n"]), f"{e['images_per_s']:.3g}", f"{e['ms_per_image']:.3g}")
    parts: list[Any] = [t, s]
    for name, r in report["families"].items():
        if not r.get("switches"):
            continue
        w = Table(title=f"speed switches: {name} (bare loop, interleaved)", title_justify="left", show_edge=False)
        for col in ("switch", "ms/step", "img/s", "speedup", "warm-up s"):
            w.add_column(col, justify="left" if col == "switch" else "right")
        for sw, v in r["switches"]["variants"].items():
            w.add_row(sw, f"{v['ms_per_step']:.1f}", f"{v['images_per_s']:.0f}", f"{v['speedup']:.2f}x", f"{v['warmup_s']:.1f}")
        parts.append(w)
    return Group(*parts)


def write_report(report: dict[str, Any], path: str | Path) -> Path:
    p = Path(path)
    write_text(p, json.dumps(report, indent=2) + "\n")
    return p
