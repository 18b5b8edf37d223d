"""Multi-process training on torch.distributed: DistributedDataParallel, gloo on CPU, NCCL on GPU.

Launch with torchrun (one machine or several)::

    torchrun --nproc-per-node 2 -m genzoo train dcgan ...
    genzoo train dcgan --nproc 2 ...          # the same, torchrun --standalone started for you

What each rank does (see docs/performance.md):

* data: every rank holds the dataset and draws the same permutation; rank r takes slice r of
  each global batch (``--batch-size`` is per rank; the global batch is ``batch_size * world``);
* randomness: the model is built from ``seed`` on every rank (and DDP broadcasts rank 0's
  weights anyway); after that rank r draws from its own stream, so noise differs per rank;
* gradients: every network a recipe phase trains is wrapped in DistributedDataParallel, so an
  adversarial family averages both the generator's and the discriminator's gradients. During
  a phase, a wrapped network that neither this phase nor a later phase of the step trains
  (the discriminator during the generator update) runs under ``no_sync``: its gradients are
  thrown away at its next ``zero_grad``, so averaging them would be wasted traffic;
* BatchNorm: per-rank batch statistics by default (as DDP does); ``sync_batchnorm=True``
  (``--sync-bn``) computes them over the global batch: torch's SyncBatchNorm on CUDA, and
  :class:`GlooSyncBatchNorm` (below) on the CPU, where torch's has no kernels;
* files: only rank 0 writes the run directory (checkpoints, samples, log, progress);
  checkpoints hold every rank's RNG state, so ``--resume`` continues each stream;
* agreement: losses in the log are averaged over ranks; a diverged loss on any rank stops
  all ranks; a time budget, SIGINT or SIGTERM is agreed at log boundaries (every
  ``log_every`` steps), so ranks always stop at the same step and rank 0 saves that step;
* signals (``--nproc``): torchrun runs in its own session, so Ctrl-C reaches only the
  launcher, which passes the first SIGINT or SIGTERM on to every rank itself (torchrun would
  answer it with a traceback of its own and kill the ranks after 30 s); the ranks stop at
  the agreed step, rank 0 saves, they exit 0 and the launcher exits 130 / 143.
"""

from __future__ import annotations

import contextlib
import copy
import gc
import os
import signal
import subprocess
import threading
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn

from genzoo.errors import GenzooError
from genzoo.family import Phase


@dataclass
class DistInfo:
    """Where this process sits: rank among world_size, its local rank and device."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: str = "cpu"
    backend: str = ""

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def launched_by_torchrun() -> bool:
    """True inside a process started by torchrun (or torch.distributed.run) with >1 processes."""
    return "LOCAL_RANK" in os.environ and int(os.environ.get("WORLD_SIZE", "1")) > 1


def init_from_env(device: str = "auto") -> DistInfo:
    """Join the process group torchrun set up (env:// rendezvous) and pick this rank's device.

    ``device`` auto/cuda -> cuda:LOCAL_RANK with NCCL when CUDA is available; cpu -> gloo.
    Without torchrun's environment (or with one process) returns a single-process DistInfo.
    """
    if not launched_by_torchrun():
        return DistInfo(device=device)
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local = int(os.environ.get("LOCAL_RANK", "0"))
    name = (device or "auto").lower()
    use_cuda = name.startswith("cuda") or (name == "auto" and torch.cuda.is_available())
    if use_cuda:
        if not torch.cuda.is_available():
            raise GenzooError("--device cuda was asked for but no CUDA GPU is available; use --device cpu")
        if torch.cuda.device_count() <= local:
            raise GenzooError(
                f"local rank {local} has no GPU (this machine has {torch.cuda.device_count()}); "
                "use --nproc-per-node at most the number of GPUs"
            )
        torch.cuda.set_device(local)
        dev, backend = f"cuda:{local}", "nccl"
    else:
        if name not in ("auto", "cpu"):
            raise GenzooError(f"distributed training runs on cpu (gloo) or cuda (nccl), not '{device}'")
        dev, backend = "cpu", "gloo"
    if not dist.is_initialized():
        kwargs: dict[str, Any] = {"backend": backend}
        if backend == "nccl":
            kwargs["device_id"] = torch.device(dev)
        dist.init_process_group(**kwargs)
    return DistInfo(rank, world, local, dev, backend)


def barrier() -> None:
    """Wait for every rank (no-op without a process group)."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def shutdown() -> None:
    """Destroy the process group (if any), collecting garbage first so that objects holding it
    (DDP reducers) go before it does."""
    if dist.is_available() and dist.is_initialized():
        gc.collect()
        dist.destroy_process_group()


def broadcast_object(obj: Any, src: int = 0) -> Any:
    """Rank ``src``'s value of a picklable object, on every rank."""
    if not (dist.is_available() and dist.is_initialized()):
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def strip_nproc(args: list[str]) -> list[str]:
    """Command-line args without ``--nproc N`` / ``--nproc=N`` (what each rank runs)."""
    out, skip = [], False
    for a in args:
        if skip:
            skip = False
            continue
        if a == "--nproc":
            skip = True
            continue
        if a.startswith("--nproc="):
            continue
        out.append(a)
    return out


#: What a run stopped cleanly by SIGINT / SIGTERM exits with (128 + the signal's number, as a shell reports it).
STOPPED_CODES = (128 + signal.SIGINT, 128 + signal.SIGTERM)
_FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
#: Set by :func:`launch` for its ranks: a rank stopped by a signal exits 0 (torchrun would report
#: anything else as a failure of its own) and the launcher exits with the signal's code.
LAUNCHED_ENV = "GENZOO_NPROC_LAUNCHER"


def stopped_exit_code(code: int) -> int:
    """The exit code of a rank (or a single process) that a signal stopped with ``code``."""
    return 0 if os.environ.get(LAUNCHED_ENV) == "1" else code


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` and that run genzoo (Linux /proc; [] elsewhere)."""
    found = []
    for d in Path("/proc").glob("[0-9]*"):
        try:
            stat = (d / "stat").read_text()
            ppid = int(stat[stat.rindex(")") + 2 :].split()[1])  # fields after "(comm)": state, ppid
            if ppid == pid and b"genzoo" in (d / "cmdline").read_bytes():
                found.append(int(d.name))
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile, or not readable
    return found


def launch(nproc: int, args: list[str]) -> int:
    """Run ``python -m genzoo ARGS`` in ``nproc`` processes on this machine via torchrun.

    Uses torchrun's ``--standalone`` rendezvous (a free port on localhost). Returns the exit
    code of the launcher (non-zero if any rank failed; torchrun then stops the others), or
    128 + the signal's number when SIGINT or SIGTERM stopped the run (the ranks saved).

    torchrun runs in a session of its own, so a Ctrl-C at the terminal reaches the launcher
    alone. It passes the first SIGINT or SIGTERM to the ranks (torchrun's children) directly:
    torchrun, signalled, prints a traceback and kills the ranks 30 s later, save or not. The
    ranks stop at one agreed step, rank 0 saves, they exit 0 (``LAUNCHED_ENV``), torchrun
    ends quietly. Later signals are ignored while they finish. SIGHUP (the terminal went away),
    or a signal before the ranks started, goes to torchrun, which ends them as it does.
    """
    if nproc < 1:
        raise GenzooError(f"--nproc must be at least 1, got {nproc}")
    if launched_by_torchrun():
        raise GenzooError("--nproc cannot be used inside torchrun; torchrun already started the processes")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
           "-m", "genzoo", *strip_nproc(args)]
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // nproc)))
    env[LAUNCHED_ENV] = "1"
    main_thread = threading.current_thread() is threading.main_thread()  # only it can take signals
    proc = subprocess.Popen(cmd, env=env, start_new_session=main_thread)
    received: list[int] = []

    def forward(signum: int, frame: Any) -> None:
        if received:
            return
        received.append(signum)
        ranks = _children(proc.pid) if signum != signal.SIGHUP else []
        for pid in ranks or [proc.pid]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

    old = {sig: signal.signal(sig, forward) for sig in _FORWARDED} if main_thread else {}
    try:
        code = proc.wait()
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
        if proc.poll() is None:  # the launcher itself failed: leave no ranks behind
            proc.kill()
            proc.wait()
    if received and received[0] != signal.SIGHUP and code == 0:
        return 128 + received[0]  # the ranks stopped cleanly and saved
    return code


# ------------------------------------------------------------------------------------------
# SyncBatchNorm for CPU (gloo)
# ------------------------------------------------------------------------------------------
class _AllReduceSum(torch.autograd.Function):
    """Sum over ranks, differentiable: the gradient of a sum over ranks is the sum over ranks
    of the incoming gradients."""

    @staticmethod
    def forward(ctx: Any, t: Tensor) -> Tensor:  # type: ignore[override]
        t = t.clone()
        dist.all_reduce(t)
        return t

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:  # type: ignore[override]
        grad = grad.clone()
        dist.all_reduce(grad)
        return grad


class GlooSyncBatchNorm(nn.modules.batchnorm._BatchNorm):
    """BatchNorm whose training statistics are taken over all ranks' batches, on any device.

    torch's ``nn.SyncBatchNorm`` has CUDA kernels only. This one sums per-channel (count,
    sum, sum of squares) with one differentiable all-reduce per call, so the forward pass
    equals BatchNorm on the global batch and the backward pass gives the gradient of the
    global loss (the all-reduce's backward sums the incoming gradients across ranks). Sums
    are taken around the running mean (identical on all ranks) to limit cancellation in
    E[x^2] - E[x]^2. Eval mode is plain BatchNorm.
    """

    def _check_input_dim(self, x: Tensor) -> None:
        if x.dim() < 2:
            raise ValueError(f"expected at least 2D input (got {x.dim()}D input)")

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
            return super().forward(x)
        c = x.shape[1]
        dims = [0, *range(2, x.dim())]
        xf = x.float()
        shift = self.running_mean.detach().view(1, c, *([1] * (x.dim() - 2))) if self.running_mean is not None else 0.0
        xs = xf - shift
        count = torch.full((1,), float(x.numel() // c), device=x.device)
        stats = _AllReduceSum.apply(torch.cat([count, xs.sum(dims), (xs * xs).sum(dims)]))
        n = stats[0]
        mean_s = stats[1 : 1 + c] / n
        var = (stats[1 + c :] / n - mean_s * mean_s).clamp_min(0)
        mean = mean_s + (self.running_mean.detach() if self.running_mean is not None else 0.0)
        if self.track_running_stats and self.running_mean is not None and self.running_var is not None:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)  # type: ignore[union-attr,operator]
                m = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
                self.running_mean.lerp_(mean.detach(), m)
                self.running_var.lerp_(var.detach() * n / (n - 1).clamp_min(1), m)
        shape = (1, c, *([1] * (x.dim() - 2)))
        y = (xf - mean.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        return y.to(x.dtype)


def convert_sync_batchnorm(module: nn.Module, device: torch.device) -> nn.Module:
    """Replace every BatchNorm*d in ``module`` by a synchronised one; parameters and
    buffers are the same tensor objects, so optimizers and EMA keep working."""
    if device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)
    return _convert_gloo(module)


def _convert_gloo(module: nn.Module) -> nn.Module:
    if isinstance(module, nn.modules.batchnorm._BatchNorm) and not isinstance(module, GlooSyncBatchNorm):
        new = GlooSyncBatchNorm(module.num_features, module.eps, module.momentum, module.affine,
                                module.track_running_stats, device=None, dtype=None)
        if module.affine:
            new.weight, new.bias = module.weight, module.bias
        if module.track_running_stats:
            new.running_mean, new.running_var = module.running_mean, module.running_var
            new.num_batches_tracked = module.num_batches_tracked
        new.train(module.training)
        return new
    for name, child in list(module.named_children()):
        new_child = _convert_gloo(child)
        if new_child is not child:
            module.add_module(name, new_child)
    return module


# ------------------------------------------------------------------------------------------
# the engine's side
# ------------------------------------------------------------------------------------------
class TransparentDDP(nn.parallel.DistributedDataParallel):
    """DDP that also answers the wrapped network's own attributes (e.g. a denoiser's
    ``null_label``), so loss functions written for the plain network work unchanged."""

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self.module, name)


class DistributedTraining:
    """What the engine needs from torch.distributed during one run (``Trainer.fit`` makes one
    when ``world_size > 1``): DDP wrappers of the networks a recipe trains, and the collectives
    through which the ranks agree. It holds no reference to the trainer.

    Every method marked collective must be called by every rank, in the same order.
    """

    def __init__(self, rank: int, world_size: int, device: torch.device):
        if not (dist.is_available() and dist.is_initialized()):
            raise GenzooError(
                "world_size > 1 needs an initialised process group: launch with torchrun "
                "(torchrun --nproc-per-node N -m genzoo train ...) or genzoo train --nproc N"
            )
        if dist.get_world_size() != world_size or dist.get_rank() != rank:
            raise GenzooError(
                f"Trainer(rank={rank}, world_size={world_size}) does not match the process group "
                f"(rank {dist.get_rank()} of {dist.get_world_size()})"
            )
        self.rank, self.world, self.device = rank, world_size, device
        self.wrapped: dict[str, nn.Module] = {}  # network name -> its DDP wrapper
        self.skip: dict[str, list[str]] = {}  # phase name -> wrapped networks it need not average

    def wrap(self, model: nn.Module, phases: Sequence[Phase], *, sync_batchnorm: bool = False) -> nn.Module:
        """The model the recipe's loss functions should see (``ctx.model``): a shallow copy of
        ``model`` whose networks trained by ``phases`` are DDP wrappers, while ``model`` keeps the
        plain networks (sampling, EMA and saving use those). With ``sync_batchnorm``, the
        BatchNorm layers of those networks are replaced in ``model`` itself by synchronised ones
        (same parameter and buffer tensors)."""
        names: list[str] = []
        for ph in phases:
            names += [m for m in ph.modules if m not in names]
        for name in names:
            net = getattr(model, name)
            if sync_batchnorm:
                net = convert_sync_batchnorm(net, self.device)
                setattr(model, name, net)
            if any(p.requires_grad for p in net.parameters()):
                self.wrapped[name] = TransparentDDP(
                    net, device_ids=[self.device.index] if self.device.type == "cuda" else None,
                    # Buffers (BatchNorm statistics) are broadcast once at start, not at every forward:
                    # a GAN calls the discriminator several times per backward, and an in-place
                    # broadcast between those calls would invalidate the saved graph.
                    forward_sync_buffers=False,
                )
        proxy = copy.copy(model)
        proxy.__dict__["_modules"] = {**model._modules, **self.wrapped}
        # Phase i may skip gradient averaging for a wrapped network that neither phase i nor a
        # later phase of the step trains (a later phase may backpropagate through outputs
        # made now, e.g. the generator's fakes made in the discriminator phase).
        for i, ph in enumerate(phases):
            later = {m for p in phases[i:] for m in p.modules}
            self.skip[ph.name] = [n for n in self.wrapped if n not in later]
        return proxy

    def release(self) -> None:
        """Drop the DDP wrappers: they hold the process group (and gloo's worker threads), which
        must be destroyable before interpreter shutdown, where gloo can abort a rank."""
        self.wrapped, self.skip = {}, {}

    @contextlib.contextmanager
    def phase(self, ph: Phase) -> Iterator[None]:
        """Context for one phase's forward and backward passes (see ``skip``)."""
        with contextlib.ExitStack() as stack:
            for name in self.skip.get(ph.name, ()):
                stack.enter_context(self.wrapped[name].no_sync())  # type: ignore[operator]
            yield

    def mean(self, t: Tensor) -> Tensor:
        """Average of ``t`` over ranks (collective)."""
        t = t.clone()
        dist.all_reduce(t)
        return t / self.world

    def max_int(self, value: int) -> int:
        """The largest of every rank's ``value`` (collective)."""
        t = torch.tensor(value, device=self.device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return int(t.item())

    def any(self, flag: bool) -> bool:
        """True on every rank if ``flag`` is True on any rank (collective)."""
        t = torch.tensor([1.0 if flag else 0.0], device=self.device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t.item() > 0)

    def gather_rng(self) -> dict[str, Tensor]:
        """Every rank's RNG states as ``rng.torch.rankN`` (and ``rng.cuda.rankN``) tensors,
        for rank 0's checkpoint (collective)."""
        out: dict[str, Tensor] = {}
        states = [("torch", torch.get_rng_state())]
        if self.device.type == "cuda":
            states.append(("cuda", torch.cuda.get_rng_state(self.device)))
        for kind, state in states:
            # gloo/nccl gather tensors on the process group's device
            local = state.to(self.device) if self.device.type == "cuda" else state
            bufs = [torch.empty_like(local) for _ in range(self.world)]
            dist.all_gather(bufs, local)
            for r, b in enumerate(bufs):
                out[f"rng.{kind}.rank{r}"] = b.cpu()
        return out
