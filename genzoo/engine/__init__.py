"""The training engine, in parts (see docs/engine.md):

=================  ===================================================================
devices            resolve_device, parse_duration, seed_everything (light: no trainer)
batches            Batches: shuffled in-memory batches, resumable, split over ranks
ema                EMA of the sampling network's weights
optim              make_optimizer, phase_optimizer
step               update_phase: one optimizer update of one phase (shared with bench)
loop               LoopState, the divergence guard, stop on SIGINT/SIGTERM
rundir             default_run_dir, latest_run_dir: where runs go, which one resumes
checkpoint         find / read / write / prune checkpoints; RESUMABLE config fields
preview            sample grids during training
context            TrainingContext: what recipe hooks and callbacks see of a run
display            progress bar and console lines
trainer            Trainer, TrainResult, train()
=================  ===================================================================

``from genzoo.engine import X`` works for the public names of every part. They are loaded
on first use, so importing one light part (``genzoo.engine.devices``, which genzoo.hub
uses) does not import the trainer.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from genzoo.engine.batches import Batches
    from genzoo.engine.checkpoint import RESUMABLE, find_checkpoint
    from genzoo.engine.context import TrainingContext
    from genzoo.engine.devices import parse_duration, resolve_device, seed_everything
    from genzoo.engine.ema import EMA
    from genzoo.engine.optim import make_optimizer, phase_optimizer
    from genzoo.engine.rundir import default_run_dir, latest_run_dir
    from genzoo.engine.step import update_phase
    from genzoo.engine.trainer import LogCallback, Trainer, TrainResult, check_length, train

_WHERE = {
    "Batches": "batches",
    "RESUMABLE": "checkpoint",
    "find_checkpoint": "checkpoint",
    "TrainingContext": "context",
    "parse_duration": "devices",
    "resolve_device": "devices",
    "seed_everything": "devices",
    "EMA": "ema",
    "make_optimizer": "optim",
    "phase_optimizer": "optim",
    "default_run_dir": "rundir",
    "latest_run_dir": "rundir",
    "update_phase": "step",
    "LogCallback": "trainer",
    "Trainer": "trainer",
    "TrainResult": "trainer",
    "check_length": "trainer",
    "train": "trainer",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    # Lazy: `import genzoo.engine.devices` must not pull in the trainer (genzoo.hub imports it).
    if name in _WHERE:
        return getattr(importlib.import_module(f"genzoo.engine.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'genzoo.engine' has no attribute '{name}'")
