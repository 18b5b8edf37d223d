"""One optimizer update of one recipe phase: the code every training loop shares.

The engine's loop and `genzoo bench`'s bare loop both call :func:`update_phase`, so what a
step does cannot drift apart between them; the engine adds only its bookkeeping around it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from genzoo.family import Phase, StepContext

Autocast = Callable[[], contextlib.AbstractContextManager[Any]]
PRECISIONS = ("fp32", "bf16", "fp16")


def autocast_for(precision: str, device: torch.device) -> Autocast:
    """A factory of the autocast context for ``precision`` (fp32: no autocast)."""
    if precision == "fp32":
        return contextlib.nullcontext
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return lambda: torch.autocast(device.type, dtype=dtype)


def update_phase(phase: Phase, opt: torch.optim.Optimizer, ctx: StepContext, model: nn.Module, grad_clip: float,
                 autocast: Autocast, scaler: torch.amp.GradScaler | None = None) -> tuple[Tensor, dict[str, Tensor]]:
    """Zero the phase's gradients, compute its loss plus regularizers under ``autocast``,
    backpropagate (through ``scaler`` for fp16 on CUDA), clip to ``grad_clip`` (0: off), step
    the optimizer and run the phase's after-step hooks on ``model``.

    Returns the phase's loss (before regularizers; a 0-d tensor, not synchronised to the
    host) and the extra values to log (the loss function's, then one per regularizer).
    """
    opt.zero_grad(set_to_none=True)
    with autocast():
        out = phase.loss(ctx)
        loss, extra = out if isinstance(out, tuple) else (out, {})
        total = loss
        for reg in phase.regularizers:
            val = reg(ctx)
            total = total + val
            extra = {**extra, f"{phase.name}_{getattr(reg, '__name__', 'reg')}": val}
    if scaler is not None:
        scaler.scale(total).backward()
        scaler.unscale_(opt)
    else:
        total.backward()
    if grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(phase.parameters(model), grad_clip)
    if scaler is not None:
        scaler.step(opt)
        scaler.update()
    else:
        opt.step()
    for hook in phase.after_step:
        hook(model)  # type: ignore[arg-type]
    return loss, extra
