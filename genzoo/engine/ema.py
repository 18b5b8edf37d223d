"""Exponential moving average of a network's weights (the weights a run ships)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn


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



@contextlib.contextmanager
def averaged(model: nn.Module, ema: EMA | None) -> Iterator[nn.Module]:
    """``model`` with ``ema``'s averaged weights loaded inside the block (as it is, without one)."""
    with ema.applied() if ema is not None else contextlib.nullcontext():
        yield model
