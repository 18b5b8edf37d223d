"""Optimizers by name, on each device's fast path."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from genzoo.config import ModelConfig
from genzoo.errors import GenzooError
from genzoo.family import Phase


def make_optimizer(name: str, params: list[nn.Parameter], lr: float, betas: tuple[float, float],
                   weight_decay: float, device: torch.device) -> torch.optim.Optimizer:
    """adam | adamw | rmsprop | sgd over ``params`` (``betas[0]`` is SGD's momentum)."""
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


def phase_optimizer(phase: Phase, model: nn.Module, config: ModelConfig, device: torch.device) -> torch.optim.Optimizer:
    """The optimizer of one recipe phase: the phase's own settings where it has them, else the config's."""
    return make_optimizer(
        phase.optimizer or config.optimizer, phase.parameters(model), phase.lr or config.lr,
        tuple(phase.betas or config.betas), config.weight_decay if phase.weight_decay is None else phase.weight_decay,  # type: ignore[arg-type]
        device,
    )
