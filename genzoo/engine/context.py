"""What a recipe's hooks and the trainer's callbacks see of a run: :class:`TrainingContext`."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch

from genzoo.config import ModelConfig
from genzoo.data import ImageDataset, load_dataset
from genzoo.engine.ema import EMA, averaged
from genzoo.family import GenerativeModel

LOG_NAME = "log.jsonl"


class TrainingContext:
    """A run as its hooks see it (``Recipe.after_epoch``, ``Recipe.after_training``,
    ``Trainer(callbacks=...)``): what they may read, and the few things they may do.

    Attributes:
        run_dir: the run directory (its files are the engine's; write through :meth:`log`).
        config: the run's config, fitted to the data.
        data: the training data, as the family prepared it (images (N, C, H, W) in [-1, 1]).
        data_dir: where the data were looked for first (None: the default places).
        model: the model being trained (plain networks, live weights); what a hook stores in
            ``model.meta`` is saved with it.
        device: the training device.
        is_main: True on the process that writes files (rank 0; always True in one process).
        step: steps done so far (the step a hook runs after).
    """

    def __init__(self, *, run_dir: Path, config: ModelConfig, data: ImageDataset, data_dir: str | None,
                 model: GenerativeModel, ema: EMA | None, device: torch.device, is_main: bool,
                 clock: Callable[[], float], step: int = 0):
        self.run_dir = run_dir
        self.config = config
        self.data = data
        self.data_dir = data_dir
        self.model = model
        self.device = device
        self.is_main = is_main
        self.step = step
        self._ema = ema
        self._clock = clock
        self._held_out: dict[str, ImageDataset] = {}

    def wall_time(self) -> float:
        """Seconds of training so far, earlier legs of a resumed run included."""
        return self._clock()

    @contextlib.contextmanager
    def inference_weights(self) -> Iterator[GenerativeModel]:
        """The model with the weights a run ships (the EMA average, when the family keeps
        one) loaded inside the block; the training weights come back afterwards."""
        with averaged(self.model, self._ema) as m:
            yield m  # type: ignore[misc]

    def held_out(self, split: str = "test") -> ImageDataset:
        """Another split of the training data, at the run's image size and channels (loaded
        once per split). Raises GenzooError when the dataset has no such split."""
        if split not in self._held_out:
            c = self.config
            self._held_out[split] = load_dataset(c.data, split=split, image_size=c.image_size, channels=c.channels,
                                                 data_dir=self.data_dir)
        return self._held_out[split]

    def log(self, record: dict[str, Any]) -> None:
        """Append ``record`` as one JSON line to the run's log.jsonl (on the main process only;
        ``step`` is added when the record has none)."""
        if not self.is_main:
            return
        line = record if "step" in record else {"step": self.step, **record}
        with open(self.run_dir / LOG_NAME, "a") as f:
            f.write(json.dumps(line) + "\n")
