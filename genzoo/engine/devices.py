"""Devices, durations and seeds: the small parsing the engine and the CLI share.

Light on purpose (torch and genzoo.errors only): genzoo.hub imports :func:`resolve_device`
from here without pulling in the trainer.
"""

from __future__ import annotations

import random
import re

import numpy as np
import torch

from genzoo.errors import GenzooError


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
_UNIT_SECONDS = {"h": 3600, "m": 60, "s": 1, "ms": 0.001, None: 1}


def parse_duration(text: str | float | int | None) -> float | None:
    """'90s', '10m', '1h30m', '45' (seconds) -> seconds; None or '' -> None (no budget)."""
    if text is None or text == "":
        return None
    if isinstance(text, (int, float)):
        return float(text)
    s = text.strip().lower().replace(" ", "")
    pos, total = 0, 0.0
    for m in _DURATION.finditer(s):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNIT_SECONDS[m.group(2)]
        pos = m.end()
    if pos != len(s) or not s:
        raise GenzooError(f"cannot read duration '{text}'; use e.g. 90s, 10m, 1h30m")
    if total <= 0:
        raise GenzooError(f"duration must be positive, got '{text}'")
    return total


def seed_everything(seed: int) -> None:
    """Seed Python's, torch's and numpy's global generators."""
    random.seed(seed)
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
