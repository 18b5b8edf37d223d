"""What the training loop carries between steps, and its guards: stopping on SIGTERM, and
catching non-finite losses or weights before they reach a checkpoint.

Losses stay on the device as detached 0-d tensors and are read every ``log_every`` steps,
so a step never waits for the device to report a number.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

FOLD_AFTER = 4096  # a very long log interval: fold the kept losses into sums past this many


@dataclass
class LoopState:
    """The loop's bookkeeping between steps (one per :meth:`Trainer.fit`).

    ``logs``/``counts``: scalars logged since the last log line, per key; ``loss_hist``: (step,
    loss) since the last finiteness check; ``bad_step``: a non-finite step found while folding.
    """

    step: int  # steps done
    checked_step: int  # the last step whose finiteness check passed
    epochs_hooked: int  # passes over the data whose after_epoch hooks have run
    t_log: float = 0.0  # when the last log line was written (perf_counter)
    images_since_log: int = 0
    throughput: float = 0.0  # images/s over the last log interval
    logs: dict[str, list[Tensor]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    loss_hist: list[tuple[int, Tensor]] = field(default_factory=list)
    bad_step: int = -1
    last_logs: dict[str, float] = field(default_factory=dict)
    stop_requested: bool = False  # SIGTERM: stop cleanly at the next step
    stopped: bool = False  # ended before ``steps`` (budget, SIGTERM or interrupt)
    interrupted: bool = False  # ended by Ctrl-C

    def record(self, phase: str, loss: Tensor, extra: dict[str, Tensor], step_number: int) -> None:
        """Keep a phase's detached loss (as ``loss_<phase>``) and its extra values."""
        d = loss.detach()
        self.loss_hist.append((step_number, d))
        key = "loss_" + phase
        self.logs.setdefault(key, []).append(d)
        self.counts[key] = self.counts.get(key, 0) + 1
        for k, v in extra.items():
            self.logs.setdefault(k, []).append(v.detach())
            self.counts[k] = self.counts.get(k, 0) + 1

    def local_bad_step(self) -> int:
        """The first step (counting from 1) since the last check whose loss was NaN or
        infinite, on this process; -1: none. One host sync."""
        bad = self.bad_step
        if bad < 0 and self.loss_hist:
            nonfinite = ~torch.isfinite(torch.stack([v for _, v in self.loss_hist]).float())
            if bool(nonfinite.any()):
                bad = self.loss_hist[int(nonfinite.nonzero()[0, 0])][0]
        return bad

    def fold(self, bad_step: int) -> None:
        """Replace the kept values by their sums (after ``bad_step`` was taken from them)."""
        self.bad_step = bad_step
        self.loss_hist = []
        for k, vals in self.logs.items():
            self.logs[k] = [total(vals)]

    def take_means(self) -> tuple[list[str], Tensor | None]:
        """(keys, their means since the last log line as one float32 tensor), and start anew."""
        keys = list(self.logs)
        means = torch.stack([total(self.logs[k]) / self.counts[k] for k in keys]) if keys else None
        self.logs, self.counts = {}, {}
        return keys, means


def total(values: list[Tensor]) -> Tensor:
    """Sum of logged scalars (0-d tensors of any float dtype) as one float32 0-d tensor."""
    return torch.stack([v.float() for v in values]).sum()


def tensors_finite(tensors: Iterable[Tensor]) -> bool:
    """True if every floating-point tensor is finite everywhere."""
    # One float32 sum per tensor: NaN and inf propagate through it (finite entries would have
    # to be ~1e33 to overflow it), and on a CPU it is ~10x cheaper than isfinite().all().
    sums = [torch.sum(t, dtype=torch.float32) for t in tensors if t.is_floating_point()]
    return bool(torch.stack(sums).isfinite().all()) if sums else True


def divergence_message(bad_step: int, first: int, step: int, last_checkpoint: str) -> str:
    """The error for a run whose loss (``bad_step`` >= 0) or weights (checked fine before
    step ``first``) became non-finite by ``step``."""
    span = f"at step {step}" if first >= step else f"between step {first} and step {step}"
    what = (
        f"a loss became NaN or infinite at step {bad_step}; stopped at step {step}" if bad_step >= 0 else
        f"the weights or optimizer state became NaN or infinite {span} (the losses were still finite)"
    )
    return f"training diverged: {what}. {last_checkpoint}; try a lower --set lr=..., a different loss, or --resume from there"


@contextlib.contextmanager
def stop_on_sigterm(state: LoopState) -> Iterator[None]:
    """Inside the block, SIGTERM asks the loop to stop cleanly at the next step (main thread only)."""
    if threading.current_thread() is not threading.main_thread():  # signal handlers live there
        yield
        return

    def on_term(signum: int, frame: Any) -> None:
        state.stop_requested = True

    old: Callable[..., Any] | int | None = signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGTERM, on_term)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)
