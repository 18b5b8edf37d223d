"""Typed configs: a dataclass per family, saved as JSON, overridable with ``key=value``.

Every family config subclasses :class:`ModelConfig`, which holds the fields the engine
and the data pipeline need. Values given as strings (``--set lr=1e-4``) are parsed
against the field's type; unknown keys are rejected with the list of valid ones.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from genzoo.errors import GenzooError

C = TypeVar("C", bound="ModelConfig")

@dataclass(frozen=True)
class Bounds:
    """The range a config field accepts; :meth:`ModelConfig.check_bounds` enforces it.

    ``lo``/``hi``: inclusive limits (``lo_open``/``hi_open`` make them exclusive); None: no limit.
    ``finite``: refuse NaN and +-inf (every float field does unless its bound says otherwise).
    Tuple fields apply the bound to each element.
    """

    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False
    finite: bool = True

    def accepts(self, v: float) -> bool:
        if isinstance(v, float) and math.isnan(v):
            return not self.finite
        if self.finite and isinstance(v, float) and math.isinf(v):
            return False
        if self.lo is not None and (v <= self.lo if self.lo_open else v < self.lo):
            return False
        return not (self.hi is not None and (v >= self.hi if self.hi_open else v > self.hi))

    def describe(self, integer: bool) -> str:
        """'an integer >= 1', 'a finite number in (0, 0.5)' ..."""
        kind = "an integer" if integer else "a finite number" if self.finite else "a number"
        lo, hi = _num(self.lo), _num(self.hi)
        if self.lo is not None and self.hi is not None:
            return f"{kind} in {'(' if self.lo_open else '['}{lo}, {hi}{')' if self.hi_open else ']'}"
        if self.lo is not None:
            return f"{kind} {'>' if self.lo_open else '>='} {lo}"
        if self.hi is not None:
            return f"{kind} {'<' if self.hi_open else '<='} {hi}"
        return kind


_FINITE = Bounds()  # the implicit bound of a float field that declares none


def _num(x: float | None) -> str:
    return "" if x is None else str(int(x)) if float(x).is_integer() else repr(x)


def bounded(default: Any, *, min: float | None = None, max: float | None = None, min_open: bool = False,
            max_open: bool = False, finite: bool = True) -> Any:
    """A dataclass field with ``default`` and a declared range, checked when a config is updated or loaded.

    ``latent_dim: int = bounded(100, min=1)``; ``ema: float = bounded(0.0, min=0, max=1, max_open=True)``.
    A subclass that only changes the default (``lr: float = 1e-3``) keeps the bound declared above it.
    """
    bounds = Bounds(min, max, min_open, max_open, finite)
    return field(default=default, metadata={"bounds": bounds})


# Fields that may be None in every family's config, whatever a subclass annotates
# (``steps: int = 5000``): steps None trains until the time budget (see genzoo.engine).
NULLABLE_FIELDS = frozenset({"steps"})


@dataclass
class ModelConfig:
    """Fields shared by every family. Families add their own by subclassing.

    Shapes: the model makes images (N, channels, image_size, image_size).
    """

    # data and shape
    data: str = "digits"  # dataset spec: name or name:arg (see `genzoo list datasets`)
    image_size: int = bounded(0, min=0)  # square side in pixels; 0: the data's native size (32 for a model built without data)
    channels: int = bounded(0, min=0)  # 1 (gray) or 3 (RGB); 0: the data's (1 for a model built without data)
    num_classes: int = bounded(0, min=0)  # > 0 for class-conditional models; taken from the data when conditional
    conditional: bool = False  # use labels (p(x|y)) when the family supports it
    hflip: bool = False  # training batches: flip each image left-right with probability 1/2 (seeded)
    random_crop: int = bounded(0, min=0, max=64)  # training batches: pad by this many pixels (reflected), crop back at a seeded random place; 0 = off

    # optimisation, read by the engine
    steps: int | None = bounded(2000, min=1)  # optimisation steps (one generator update per step for GANs); None: until max_time
    batch_size: int = bounded(64, min=1)
    lr: float = bounded(2e-4, min=0, min_open=True)
    betas: tuple[float, float] = bounded((0.5, 0.999), min=0, max=1, max_open=True)
    weight_decay: float = bounded(0.0, min=0)
    optimizer: str = "adam"  # adam | adamw | rmsprop | sgd
    grad_clip: float = bounded(0.0, min=0)  # max global grad norm per phase; 0 = off
    ema: float = bounded(0.0, min=0, max=1, max_open=True)  # EMA decay of the sampling network's weights; 0 = off
    ema_start: int = bounded(0, min=0)  # step at which EMA starts tracking (weights copied before)
    seed: int = bounded(0, min=0)

    # bookkeeping, read by the engine
    log_every: int = bounded(25, min=1)  # steps between JSONL log lines and progress-bar updates
    sample_every: int = bounded(500, min=1)  # steps between sample grids in samples/
    checkpoint_every: int = bounded(250, min=1)  # steps between resumable checkpoints
    num_samples: int = bounded(64, min=1)  # images in each sample grid

    # -- helpers ---------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def from_dict(cls: type[C], d: dict[str, Any], *, source: str = "config", strict: bool = True) -> C:
        """Build from a dict, parsing values against field types; unknown keys raise."""
        cfg = cls()
        return cfg.update(d, source=source, strict=strict)

    def update(self: C, d: dict[str, Any], *, source: str = "config", strict: bool = True) -> C:
        """Return a copy with ``d`` applied. Strings are parsed against the field type."""
        hints = _hints(type(self))
        valid = self.field_names()
        changes: dict[str, Any] = {}
        for key, value in d.items():
            if key not in hints:
                if not strict:
                    continue
                close = difflib.get_close_matches(key, valid, n=1)
                hint = f"; did you mean '{close[0]}'?" if close else ""
                raise GenzooError(
                    f"unknown {source} key '{key}' for {type(self).__name__}{hint} "
                    f"(valid keys: {', '.join(valid)})"
                )
            if key in NULLABLE_FIELDS and (value is None or str(value).lower() in ("none", "null")):
                changes[key] = None
            else:
                changes[key] = coerce(value, hints[key], key)
        new = dataclasses.replace(self, **changes)
        new.check_bounds(source=source)
        return new

    @classmethod
    def field_bounds(cls) -> dict[str, Bounds]:
        """Each field's declared :class:`Bounds`, inherited by subclasses that only change a default."""
        out: dict[str, Bounds] = {}
        for klass in reversed(cls.__mro__):  # base first, so the most derived declaration wins
            for f in vars(klass).get("__dataclass_fields__", {}).values():
                if "bounds" in f.metadata:
                    out[f.name] = f.metadata["bounds"]
        return out

    def check_bounds(self, *, source: str = "config") -> None:
        """Refuse a value outside its field's range (and NaN/inf in any float field), naming the field.

        Called by :meth:`update` (so by ``from_dict``, ``--set``, config files, resume and Hub loads),
        so a bad value fails before any data is loaded or any network is built.
        """
        hints = _hints(type(self))
        bounds = self.field_bounds()
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value is None or isinstance(value, (bool, str)):
                continue
            items = value if isinstance(value, (tuple, list)) else (value,)
            numbers = [v for v in items if isinstance(v, (int, float)) and not isinstance(v, bool)]
            if not numbers:
                continue
            b = bounds.get(f.name, _FINITE if any(isinstance(v, float) for v in numbers) else None)
            if b is None or all(b.accepts(v) for v in numbers):
                continue
            integer = all(isinstance(v, int) for v in numbers) and "float" not in str(hints.get(f.name))
            what = b.describe(integer) + (" or none" if f.name in NULLABLE_FIELDS else "")
            subject = f"each value of {f.name}" if isinstance(value, (tuple, list)) else f.name
            shown = ",".join(_num_value(v) for v in items) if isinstance(value, (tuple, list)) else _num_value(value)
            example = f"{f.name}={_example(type(self), f.name)}"
            if source in ("--set", "config", "bench"):  # command-line sources: say the flag
                fix = f"; pass e.g. --set {example}"
            elif source == "override":  # Python keyword overrides (genzoo.create, default_config)
                fix = f"; use e.g. {example}"
            else:  # a file (config.json, checkpoint): name it, the value came from there
                fix = f" (in {source}); fix it there, e.g. {example}"
            raise GenzooError(f"{subject} must be {what}, got {shown}{fix}")

    def with_overrides(self: C, pairs: list[str] | tuple[str, ...]) -> C:
        """Apply ``["lr=1e-4", "betas=0.0,0.9"]`` style overrides."""
        return self.update(parse_pairs(pairs), source="--set")


def _num_value(v: Any) -> str:
    return repr(v) if isinstance(v, float) else str(v)


def _example(cls: type, name: str) -> str:
    """The class default of ``name`` as a --set value (a valid example for the fix)."""
    f = {f.name: f for f in dataclasses.fields(cls)}[name]
    value = f.default if f.default is not dataclasses.MISSING else None
    if isinstance(value, (tuple, list)):
        return ",".join(_num_value(v) for v in value)
    return _num_value(value)


def parse_pairs(pairs: list[str] | tuple[str, ...]) -> dict[str, str]:
    """('a=1', 'b=x') -> {'a': '1', 'b': 'x'}, with a clear error for a malformed pair."""
    out = {}
    for pair in pairs:
        if "=" not in pair:
            raise GenzooError(f"expected key=value, got '{pair}' (e.g. --set lr=1e-4)")
        k, v = pair.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def coerce(value: Any, tp: Any, key: str = "value") -> Any:
    """Convert ``value`` (often a string from the CLI or a JSON scalar) to type ``tp``."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    try:
        if origin in (typing.Union, types.UnionType):
            if value is None or (isinstance(value, str) and value.lower() in ("none", "null")):
                if type(None) in args:
                    return None
            errors = []
            for a in args:
                if a is type(None):
                    continue
                try:
                    return coerce(value, a, key)
                except GenzooError as e:
                    errors.append(str(e))
            raise GenzooError(errors[0] if errors else f"bad value for {key}")
        if origin in (tuple, list):
            if isinstance(value, str):
                value = [v for v in value.replace("(", "").replace(")", "").replace("[", "").replace("]", "").split(",") if v.strip()]
            items = list(value)
            if origin is tuple and args and args[-1] is not Ellipsis:
                if len(items) != len(args):
                    raise GenzooError(f"{key} needs {len(args)} comma-separated values, got {len(items)}")
                return tuple(coerce(v, a, key) for v, a in zip(items, args))
            inner = args[0] if args else str
            seq = [coerce(v, inner, key) for v in items]
            return tuple(seq) if origin is tuple else seq
        if tp is bool:
            if isinstance(value, bool):
                return value
            s = str(value).strip().lower()
            if s in _TRUE:
                return True
            if s in _FALSE:
                return False
            raise ValueError(value)
        if tp is int:
            if isinstance(value, bool):
                raise ValueError(value)
            if isinstance(value, float) and not value.is_integer():
                raise ValueError(value)
            return int(float(value)) if isinstance(value, str) and "e" in value.lower() else int(value)
        if tp is float:
            return float(value)
        if tp is str:
            return str(value)
        if tp is Any:
            return value
        if dataclasses.is_dataclass(tp) and isinstance(value, dict):
            return tp(**value)
        return value
    except (ValueError, TypeError):
        name = "bool (true or false)" if tp is bool else getattr(tp, "__name__", str(tp))
        raise GenzooError(f"{key} must be {name}, got {value!r}") from None


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Read a JSON or YAML config file into a flat dict of overrides."""
    p = Path(path)
    if not p.is_file():
        raise GenzooError(f"config file '{p}' not found")
    text = p.read_text()
    try:
        if p.suffix.lower() in (".yaml", ".yml"):
            try:
                import yaml  # here: PyYAML is optional, and only a .yaml config needs it
            except ImportError:
                raise GenzooError("YAML configs need PyYAML: pip install pyyaml (or use a .json file)") from None
            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except (ValueError, Exception) as e:
        if isinstance(e, GenzooError):
            raise
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise GenzooError(f"could not parse config file '{p}': {first}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise GenzooError(f"config file '{p}' must hold a mapping of key: value, not {type(data).__name__}")
    # A saved run's config.json nests the model config under "config".
    if "config" in data and isinstance(data["config"], dict) and "family" in data:
        data = data["config"]
    return data


__all__ = ["ModelConfig", "Bounds", "bounded", "coerce", "read_config_file", "dataclass", "field"]
