"""Range checks for the numeric options of every command: one clear error line, before any work.

Each numeric option names its range once, where it is declared::

    @click.option("--batch-size", type=int, default=256, callback=number(1))
    @click.option("--truncation", type=float, callback=number(0, lo_open=True, hint="e.g. --truncation 0.7"))
    @click.option("--seed", type=int, default=0, callback=SEED)

click runs the check while it parses the command line, so a bad value never loads a model
or data. Floats must be finite (NaN and inf are refused) unless a check says otherwise.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import click

from genzoo.errors import GenzooError

#: Seeds seed torch's generators, which take at most 64 bits; the configs take no negative seed.
SEED_MAX = 2**63 - 1


def _fmt(v: float) -> str:
    return str(v) if isinstance(v, int) or not math.isfinite(v) else f"{v:g}"


def describe(*, integer: bool, lo: float | None = None, hi: float | None = None, lo_open: bool = False,
             hi_open: bool = False) -> str:
    """The range in words: 'at least 1', 'a whole number from 0 to 9', 'a finite number > 0' ..."""
    if integer:
        lo_i = None if lo is None else int(lo) + (1 if lo_open else 0)
        hi_i = None if hi is None else int(hi) - (1 if hi_open else 0)
        if lo_i is not None and hi_i is not None:
            return f"a whole number from {lo_i} to {hi_i}"
        if lo_i is not None:
            return f"at least {lo_i}"
        return f"at most {hi_i}" if hi_i is not None else "a whole number"
    if lo is not None and hi is not None:
        return f"a finite number in {'(' if lo_open else '['}{_fmt(lo)}, {_fmt(hi)}{')' if hi_open else ']'}"
    if lo is not None:
        return f"a finite number {'>' if lo_open else '>='} {_fmt(lo)}"
    if hi is not None:
        return f"a finite number {'<' if hi_open else '<='} {_fmt(hi)}"
    return "a finite number"


def check_number(name: str, value: float | None, *, lo: float | None = None, hi: float | None = None,
                 lo_open: bool = False, hi_open: bool = False, hint: str = "") -> None:
    """Raise a GenzooError ("NAME must be RANGE, got VALUE; HINT") unless ``value`` is None or in range.

    Ints are checked as ints; floats must also be finite.
    """
    if value is None:
        return
    integer = isinstance(value, int) and not isinstance(value, bool)
    ok = integer or math.isfinite(value)
    if ok and lo is not None:
        ok = value > lo if lo_open else value >= lo
    if ok and hi is not None:
        ok = value < hi if hi_open else value <= hi
    if not ok:
        what = describe(integer=integer, lo=lo, hi=hi, lo_open=lo_open, hi_open=hi_open)
        raise GenzooError(f"{name} must be {what}, got {_fmt(value)}" + (f"; {hint}" if hint else ""))


def option_name(param: click.Parameter) -> str:
    """How the user wrote the option: its first spelling ('-n' of '-n/--num', '--batch-size')."""
    opts = getattr(param, "opts", None) or [param.name or "?"]
    return opts[0]


def number(lo: float | None = None, hi: float | None = None, *, lo_open: bool = False, hi_open: bool = False,
           hint: str = "") -> Callable[[click.Context, click.Parameter, Any], Any]:
    """A click callback that refuses values outside the range (see :func:`check_number`)."""

    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        check_number(option_name(param), value, lo=lo, hi=hi, lo_open=lo_open, hi_open=hi_open, hint=hint)
        return value

    return callback


#: The check of every --seed option.
SEED = number(0, SEED_MAX)
#: Counts of images, batches, rows ...: 1 or more.
COUNT = number(1)
#: --truncation of the truncated-normal sampler: a threshold > 0.
TRUNCATION = number(0, lo_open=True, hint="e.g. --truncation 0.7")
#: Durations, rates and other sizes that must be above zero.
POSITIVE = number(0, lo_open=True)
