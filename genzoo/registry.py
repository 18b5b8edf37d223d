"""One small registry implementation shared by families, losses, samplers, datasets, metrics.

Two ways in:

* by decorator, where the object is defined (timm style)::

      @register_loss("hinge")
      def hinge(...): ...

* by entry point, for installed plugin distributions (pytest/pluggy style)::

      [project.entry-points."genzoo.families"]
      dcgan = "genzoo_dcgan:family"

Entry points are discovered lazily: listing names reads package metadata only, and a
plugin module is imported the first time one of its names is asked for. A plugin that
fails to import is recorded with its reason and does not break the others.

Names are written once: the key a family, sampler or metric is registered under (the
entry-point key or the decorator's argument) is its name. The registry sets ``name`` on
the object it stores; an object whose own ``name`` disagrees with its key is refused (for
an entry point: reported as a failed plugin in ``genzoo plugins``, never fatal).

Opt-out switches (environment):
  GENZOO_DISABLE_PLUGIN_AUTOLOAD=1   ignore every entry point (decorators still work)
  GENZOO_DISABLE_PLUGINS=a,b         ignore entry points named a and b, or from distributions a, b
"""

from __future__ import annotations

import contextvars
import fnmatch
import importlib
import os
import sys
import threading
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import metadata
from typing import Any, Generic, TypeVar

from genzoo.errors import GenzooError, unknown_name

T = TypeVar("T")

GROUPS = {
    "family": "genzoo.families",
    "loss": "genzoo.losses",
    "sampler": "genzoo.samplers",
    "dataset": "genzoo.datasets",
    "metric": "genzoo.metrics",
}


@dataclass
class PluginInfo:
    """One discovered entry point and how loading it went."""

    kind: str
    name: str
    value: str
    distribution: str
    version: str
    status: str = "not loaded"  # "ok", "failed: <reason>", "disabled"


def _disabled() -> tuple[bool, set[str]]:
    off = os.environ.get("GENZOO_DISABLE_PLUGIN_AUTOLOAD", "").lower() in ("1", "true", "yes")
    names = {n.strip() for n in os.environ.get("GENZOO_DISABLE_PLUGINS", "").split(",") if n.strip()}
    return off, names


class Registry(Generic[T]):
    """A dict of name -> object with entry-point discovery and helpful errors."""

    def __init__(self, kind: str, group: str | None = None, hint: str = "", builtins: str | None = None,
                 instances: bool = False, named: bool = False):
        self.kind = kind
        self._instances = instances  # store an instance when a class is registered
        self._named = named  # objects carry a `name`, which the registry sets from their key
        self._builtins = builtins  # core module that registers built-ins, imported on first use
        self.group = group or GROUPS[kind]
        self.hint = hint
        self._items: dict[str, T] = {}
        self._origin: dict[str, str] = {}  # name -> distribution that provided it
        self._plugins: dict[str, PluginInfo] | None = None
        self._eps: dict[str, metadata.EntryPoint] = {}
        self._lock = threading.RLock()

    # -- registration ---------------------------------------------------------------
    def register(self, name: str, obj: T | None = None, *, override: bool = False) -> Any:
        """Register ``obj`` under ``name``; without ``obj``, return a decorator."""

        def add(o: T) -> T:
            with self._lock:
                if name in self._items and not override and self._items[name] is not o:
                    raise GenzooError(
                        f"{self.kind} '{name}' is already registered "
                        f"(by {self._origin.get(name, 'genzoo')}); pick another name or pass override=True"
                    )
                self._items[name] = self._adopt(name, o)
                self._origin[name] = _caller_distribution()
            return o

        return add if obj is None else add(obj)

    def _adopt(self, name: str, obj: Any) -> Any:
        """What to store under ``name``: an instance (for instance registries) named ``name``.

        Raises GenzooError when ``obj`` already carries a different name.
        """
        if self._named:
            own = getattr(obj, "name", None)
            if own and own != name:
                what = f"class {obj.__name__}" if isinstance(obj, type) else f"{type(obj).__name__} object"
                raise GenzooError(
                    f"{self.kind} '{name}' is a {what} whose name is '{own}'; the registered key is its only "
                    f"name, so drop its `name = \"{own}\"` (or register it as '{own}')"
                )
        item = obj() if self._instances and isinstance(obj, type) else obj
        if self._named and not getattr(item, "name", None):
            item.name = name
        return item

    def unregister(self, name: str) -> None:
        self._items.pop(name, None)
        self._origin.pop(name, None)

    # -- discovery ------------------------------------------------------------------
    def _ensure_builtins(self) -> None:
        if self._builtins is not None:
            mod, self._builtins = self._builtins, None
            importlib.import_module(mod)

    def _discover(self) -> dict[str, PluginInfo]:
        self._ensure_builtins()
        if self._plugins is not None:
            return self._plugins
        with self._lock:
            if self._plugins is not None:
                return self._plugins
            plugins: dict[str, PluginInfo] = {}
            all_off, off = _disabled()
            try:
                eps = metadata.entry_points(group=self.group)
            except Exception:  # broken metadata must not stop genzoo
                eps = []
            for ep in eps:
                dist = ep.dist.metadata["Name"] if ep.dist is not None else "?"
                ver = ep.dist.version if ep.dist is not None else "?"
                if ep.name in plugins:  # first distribution wins; say so
                    continue
                info = PluginInfo(self.kind, ep.name, ep.value, dist, ver)
                if all_off or ep.name in off or dist in off:
                    info.status = "disabled"
                else:
                    self._eps[ep.name] = ep
                plugins[ep.name] = info
            self._plugins = plugins
            return plugins

    def refresh(self) -> None:
        """Forget discovered entry points (after installing a plugin at run time)."""
        with self._lock:
            self._plugins = None
            self._eps.clear()

    def _load_entry_point(self, name: str) -> None:
        info = self._discover()[name]
        ep = self._eps.get(name)
        if ep is None or info.status != "not loaded":
            return
        token = _current_dist.set(info.distribution)
        try:
            obj = ep.load()
        except Exception as e:  # report, never crash the others
            info.status = f"failed: {type(e).__name__}: {e}".splitlines()[0]
            return
        finally:
            _current_dist.reset(token)
        # An entry point may name the object itself, or a module that registers on import.
        if name not in self._items:
            if isinstance(obj, types.ModuleType):
                info.status = f"failed: module {ep.value} did not register {self.kind} '{name}'"
                return
            try:
                self._items[name] = self._adopt(name, obj)
            except Exception as e:  # a misnamed or unconstructible plugin object: report it
                reason = str(e) if isinstance(e, GenzooError) else f"{type(e).__name__}: {e}"
                info.status = f"failed: {reason}".splitlines()[0]
                return
        self._origin[name] = info.distribution
        info.status = "ok"

    # -- lookup ---------------------------------------------------------------------
    def names(self, pattern: str = "*") -> list[str]:
        """Sorted names matching a shell-style wildcard; lists uninstalled-but-discovered too."""
        self._ensure_builtins()
        found = set(self._items)
        found.update(n for n, p in self._discover().items() if p.status in ("not loaded", "ok"))
        return sorted(n for n in found if fnmatch.fnmatchcase(n, pattern))

    def get(self, name: str) -> T:
        self._ensure_builtins()
        if name not in self._items and name in self._discover():
            self._load_entry_point(name)
            info = self._discover()[name]
            if name not in self._items:
                if info.status == "disabled":
                    raise GenzooError(
                        f"{self.kind} '{name}' (from {info.distribution}) is disabled by "
                        "GENZOO_DISABLE_PLUGINS / GENZOO_DISABLE_PLUGIN_AUTOLOAD"
                    )
                raise GenzooError(
                    f"{self.kind} '{name}' from plugin {info.distribution} {info.version} could not be loaded "
                    f"({info.status}); run 'genzoo plugins' for details"
                )
        try:
            return self._items[name]
        except KeyError:
            raise unknown_name(self.kind, name, self.names(), self.hint) from None

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and (name in self._items or name in self.names())

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def origin(self, name: str) -> str:
        """Distribution that provided ``name`` ("genzoo" for the core)."""
        self.get(name)
        return self._origin.get(name, "genzoo")

    def plugins(self, load: bool = True) -> list[PluginInfo]:
        """Every discovered entry point; with ``load``, import each to report its status."""
        infos = self._discover()
        if load:
            for name in list(infos):
                self._load_entry_point(name)
        return sorted(infos.values(), key=lambda p: p.name)


def _caller_distribution() -> str:
    """The distribution whose code called register(): 'genzoo' for the core itself."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_globals.get("__name__") == __name__:
        frame = frame.f_back  # type: ignore[assignment]
    module = frame.f_globals.get("__name__", "") if frame is not None else ""
    top = module.split(".")[0]
    if top in ("genzoo", "__main__", ""):
        return "genzoo" if top == "genzoo" else (_current_dist.get() or "genzoo")
    try:
        dists = metadata.packages_distributions().get(top)
    except Exception:
        dists = None
    return dists[0] if dists else (_current_dist.get() or top)


_current_dist: contextvars.ContextVar[str | None] = contextvars.ContextVar("genzoo_dist", default=None)


# The registries themselves. Families are Family objects; losses are callables;
# samplers are Sampler objects; datasets are loader callables; metrics are Metric objects.
families: Registry[Any] = Registry("family", instances=True, named=True,
                                   hint="Install its plugin, e.g. 'pip install genzoo-<name>'")
losses: Registry[Callable[..., Any]] = Registry("loss", builtins="genzoo.losses")
samplers: Registry[Any] = Registry("sampler", builtins="genzoo.samplers", instances=True, named=True)
datasets: Registry[Callable[..., Any]] = Registry("dataset", builtins="genzoo.data")
metrics: Registry[Any] = Registry("metric", builtins="genzoo.metrics", instances=True, named=True)

REGISTRIES: dict[str, Registry[Any]] = {
    "families": families,
    "losses": losses,
    "samplers": samplers,
    "datasets": datasets,
    "metrics": metrics,
}


def register_family(name: str, obj: Any = None, **kw: Any) -> Any:
    return families.register(name, obj, **kw)


def register_loss(name: str, obj: Any = None, **kw: Any) -> Any:
    return losses.register(name, obj, **kw)


def register_sampler(name: str, obj: Any = None, **kw: Any) -> Any:
    return samplers.register(name, obj, **kw)


def register_dataset(name: str, obj: Any = None, **kw: Any) -> Any:
    return datasets.register(name, obj, **kw)


def register_metric(name: str, obj: Any = None, **kw: Any) -> Any:
    return metrics.register(name, obj, **kw)
