"""What the training loop carries between steps, and its guards: stopping on SIGINT/SIGTERM at
a step boundary, and catching diverged training (non-finite, or exploding by orders of
magnitude) before it reaches a checkpoint.

Losses stay on the device as detached 0-d tensors and are read every ``log_every`` steps,
so a step never waits for the device to report a number.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

FOLD_AFTER = 4096  # a very long log interval: fold the kept losses into sums past this many

#: Training has diverged when a loss, or the largest magnitude in a weight tensor, exceeds this
#: many times its own reference: the largest |loss| of the steps already checked (none on the
#: first check), and the tensor's largest magnitude when the run (or this leg of it) started,
#: at least 1. Normal training moves both far less: losses drift within a few times their
#: earlier values and weights by a few units, while a blow-up jumps past 1e4x in a few steps
#: (``lr=1e6``: weights near 1e6 after one Adam step).
BLOWUP = 1e4

#: The signals that stop a run cleanly: signal -> (how the run reports it, the exit code a shell
#: expects for a process ended by it: 128 + its number).
STOP_SIGNALS: dict[int, tuple[str, int]] = {
    signal.SIGINT: ("Ctrl-C (SIGINT)", 128 + signal.SIGINT),
    signal.SIGTERM: ("SIGTERM", 128 + signal.SIGTERM),
}


@dataclass
class LoopState:
    """The loop's bookkeeping between steps (one per :meth:`Trainer.fit`).

    ``logs``/``counts``: scalars logged since the last log line, per key; ``loss_hist``: (step,
    loss) since the last divergence check; ``bad_step``: a diverged step found while folding;
    ``loss_peak``: the largest |loss| of the steps checked so far (0: none yet).
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
    loss_peak: float = 0.0
    bad_loss: float = 0.0  # the exploded |loss| at bad_step (0: it was not finite)
    last_logs: dict[str, float] = field(default_factory=dict)
    stop_signal: int = 0  # the first SIGINT/SIGTERM received: stop at the next step boundary
    signals: int = 0  # how many stop signals arrived (later ones wait for the final save)
    stopped: bool = False  # ended before ``steps`` (budget or signal)
    stopped_by: int = 0  # the signal that ended the run (0: none)

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
        """The first step (counting from 1) since the last check whose loss was NaN, infinite
        or more than :data:`BLOWUP` times ``loss_peak``, on this process; -1: none. Passing,
        the checked losses raise ``loss_peak``. One host sync."""
        bad = self.bad_step
        if bad < 0 and self.loss_hist:
            mags = torch.stack([v for _, v in self.loss_hist]).float().abs()
            limit = BLOWUP * self.loss_peak if self.loss_peak > 0 else math.inf  # no history on the first check
            flags = ~torch.isfinite(mags) | (mags > limit)
            if bool(flags.any()):
                i = int(flags.nonzero()[0, 0])
                bad, value = self.loss_hist[i][0], float(mags[i])
                self.bad_loss = value if math.isfinite(value) else 0.0
            else:
                self.loss_peak = max(self.loss_peak, float(mags.max()), 1e-12)
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


def magnitudes(tensors: Iterable[Tensor]) -> Tensor:
    """The largest |value| of each floating-point tensor, as one float32 vector (NaN or inf
    where a tensor holds one); no copy of the tensors is made."""
    peaks = [torch.stack(torch.aminmax(t.detach())).float().abs().max() for t in tensors
             if t.is_floating_point() and t.numel() > 0]
    return torch.stack(peaks).cpu() if peaks else torch.zeros(0)


def first_blown(now: Tensor, start: Tensor) -> int:
    """Index of the first tensor whose largest magnitude ``now`` exceeds :data:`BLOWUP` times
    its magnitude at ``start`` (at least 1); -1: none."""
    flags = now > BLOWUP * start.clamp_min(1.0)
    return int(flags.nonzero()[0, 0]) if bool(flags.any()) else -1


def divergence_message(what: str, last_checkpoint: str, advice: str) -> str:
    """The one-line error for a diverged run: what happened, where the good state is, what to do."""
    return f"training diverged: {what}. {last_checkpoint}; {advice}"


def nonfinite_what(bad_step: int, first: int, step: int) -> str:
    """What diverged when a loss (``bad_step`` >= 0) or the weights (checked fine before step
    ``first``) became non-finite by ``step``."""
    span = f"at step {step}" if first >= step else f"between step {first} and step {step}"
    if bad_step >= 0:
        return f"a loss became NaN or infinite at step {bad_step}; stopped at step {step}"
    return f"the weights or optimizer state became NaN or infinite {span} (the losses were still finite)"


@contextlib.contextmanager
def stop_on_signals(state: LoopState) -> Iterator[None]:
    """Inside the block, SIGINT (Ctrl-C) and SIGTERM ask the loop to stop at the next step
    boundary (``state.stop_signal``) instead of raising in the middle of a step; further
    signals are noted and wait until the block (the final save included) is done. Main
    thread only: elsewhere the block runs with the handlers as they are."""
    if threading.current_thread() is not threading.main_thread():  # signal handlers live there
        yield
        return

    def on_signal(signum: int, frame: Any) -> None:
        state.signals += 1
        if not state.stop_signal:
            state.stop_signal = signum
        elif state.signals == 2:  # say once that it was heard; os.write: safe inside a handler
            with contextlib.suppress(OSError):
                os.write(2, b"\nstill stopping: finishing the step and saving a checkpoint "
                            b"(SIGKILL ends it without saving)\n")

    old = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
    for sig in STOP_SIGNALS:
        signal.signal(sig, on_signal)
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
