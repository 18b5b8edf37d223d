"""Reference recipes: how a family is meant to be trained for the zoo's results table.

A family declares its reference recipes (``Family.reference_recipes``): a dataset, a budget
(wall time and/or steps), config overrides, the sampler its samples are drawn with for
evaluation, and the hardware it is meant for. ``genzoo zoo run FAMILY/NAME`` trains one with
the engine, evaluates it and writes the results; ``genzoo zoo table`` turns the stored results
into docs/zoo.md (see docs/zoo.md and :mod:`genzoo.zoo`).

Light on purpose (no trainer, no metrics): genzoo.family imports it to type the attribute.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from genzoo.engine.devices import parse_duration
from genzoo.errors import GenzooError

HARDWARE = ("cpu", "gpu")
_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]*$")
_STEPS = re.compile(r"^(\d+)\s*(steps?)$")


@dataclass(frozen=True, eq=False)
class ReferenceRecipe:
    """One reference recipe of a family; its full name is ``<family>/<name>``.

    Args:
        name: short name, lowercase letters, digits, '-' and '.', e.g. ``fashion-mnist-10min-cpu``.
        data: the dataset spec training loads (``fashion-mnist``, ``folder:data/celeba`` ...).
        purpose: one line: what the recipe shows.
        max_time: wall-clock budget ('10m', '30m' ...), None for a step budget only.
        steps: optimisation steps, None for a time budget only. With both, the first reached stops.
        overrides: config fields set on top of the family's defaults (``--set`` values).
        sampler: the sampler evaluation draws with (None: the model's default).
        hardware: ``cpu`` or ``gpu``; a gpu recipe is refused on a machine without CUDA.
        dataset: the results table's section (default: ``data``), e.g. ``cifar10`` for a folder.
        precision: fp32 | bf16 | fp16, as ``genzoo train --precision``.
        eval_n: generated images the evaluation scores (the reference has as many real ones).
        needs: what the recipe needs that genzoo does not ship (shown by ``genzoo zoo list``),
            e.g. "CIFAR-10 as image files in data/cifar10".
    """

    name: str
    data: str
    purpose: str
    max_time: str | None = None
    steps: int | None = None
    overrides: Mapping[str, Any] = field(default_factory=dict)
    sampler: str | None = None
    hardware: str = "cpu"
    dataset: str = ""
    precision: str = "fp32"
    eval_n: int = 2000
    needs: str = ""

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise GenzooError(f"reference recipe name '{self.name}' must be lowercase letters, digits, '-' and '.'")
        if self.hardware not in HARDWARE:
            raise GenzooError(f"reference recipe '{self.name}': hardware must be cpu or gpu, got '{self.hardware}'")
        if self.max_time is None and self.steps is None:
            raise GenzooError(f"reference recipe '{self.name}' needs a budget: max_time, steps or both")
        parse_duration(self.max_time)  # a bad duration fails when the plugin is imported
        if self.steps is not None and self.steps < 1:
            raise GenzooError(f"reference recipe '{self.name}': steps must be at least 1, got {self.steps}")
        if self.eval_n < 2:
            raise GenzooError(f"reference recipe '{self.name}': eval_n must be at least 2, got {self.eval_n}")
        object.__setattr__(self, "overrides", dict(self.overrides))
        if not self.dataset:
            object.__setattr__(self, "dataset", self.data)

    @property
    def budget_text(self) -> str:
        """'10m', '2000 steps', or '10m or 2000 steps'."""
        parts = ([self.max_time] if self.max_time else []) + ([f"{self.steps} steps"] if self.steps else [])
        return " or ".join(parts)


def parse_budget(text: str) -> tuple[float | None, int | None]:
    """'60s', '10m', '1h30m' -> (seconds, None); '500steps', '500 steps' -> (None, 500)."""
    s = (text or "").strip().lower()
    m = _STEPS.match(s)
    if m:
        steps = int(m.group(1))
        if steps < 1:
            raise GenzooError(f"budget '{text}' must be at least 1 step")
        return None, steps
    try:
        seconds = parse_duration(s) if s else None
    except GenzooError:
        seconds = None
    if seconds is None:
        raise GenzooError(f"cannot read budget '{text}'; use a time such as 60s, 10m, 1h30m, or steps such as 500steps")
    return seconds, None


#: GPU datasets of the standard recipes: side, image folder, title.
_GPU_DATA = {"cifar10": (32, "data/cifar10", "CIFAR-10"), "celeba": (64, "data/celeba", "CelebA faces")}


def standard_recipes(
    *,
    cpu_minutes: int = 10,
    datasets: Sequence[str] = ("digits", "fashion-mnist"),
    overrides: Mapping[str, Any] | None = None,
    sampler: str | None = None,
    eval_n: Mapping[str, int] | None = None,
    gpu: Sequence[str] = ("cifar10", "celeba"),
    gpu_minutes: int = 30,
    gpu_overrides: Mapping[str, Any] | None = None,
    what: str = "samples",
    cpu_precision: str = "fp32",
    cpu_overrides: Mapping[str, Any] | None = None,
) -> tuple[ReferenceRecipe, ...]:
    """The zoo's usual recipes for an image generator: ``<data>-<M>min-cpu`` on each of
    ``datasets`` (equal CPU time for every family), and GPU recipes on data genzoo does not
    ship, for each name in ``gpu``: ``cifar10-32px-<M>min-gpu`` (class subfolders give labels)
    and ``celeba-64px-<M>min-gpu`` (bf16, image folders under data/). ``what`` names what the
    purpose lines talk about. ``cpu_precision``: the CPU recipes' autocast precision (bf16
    where a family measured faster without losing quality on CPUs with bf16 units).
    ``overrides`` apply to every recipe, ``cpu_overrides`` and ``gpu_overrides`` on top of them
    to the CPU or the GPU recipes only."""
    ov = dict(overrides or {})
    cpu_ov = {**ov, **dict(cpu_overrides or {})}
    n = {"digits": 1000, "fashion-mnist": 5000, **dict(eval_n or {})}
    out = [
        ReferenceRecipe(
            f"{d}-{cpu_minutes}min-cpu", d,
            f"{what} of {d} in {cpu_minutes} CPU-minutes" + (f", {cpu_precision}" if cpu_precision != "fp32" else ""),
            max_time=f"{cpu_minutes}m", overrides=cpu_ov, sampler=sampler, eval_n=n.get(d, 2000), precision=cpu_precision,
        )
        for d in datasets
    ]
    g = dict(gpu_overrides or {})
    for name in gpu:
        if name not in _GPU_DATA:
            raise GenzooError(f"no standard GPU recipe for '{name}'; choose from {', '.join(_GPU_DATA)}")
        size, folder, title = _GPU_DATA[name]
        out.append(ReferenceRecipe(
            f"{name}-{size}px-{gpu_minutes}min-gpu", f"folder:{folder}",
            f"{what} of {title} at {size} px in {gpu_minutes} GPU-minutes, bf16",
            max_time=f"{gpu_minutes}m", overrides={"image_size": size, **ov, **g}, sampler=sampler,
            hardware="gpu", dataset=name, precision="bf16", eval_n=n.get(name, 10000),
            needs=f"a CUDA GPU and {title} images in {folder}/ (not shipped)",
        ))
    return tuple(out)
