"""`genzoo list`, `genzoo info`, `genzoo plugins`."""

from __future__ import annotations

import dataclasses
import difflib
import typing
from typing import TYPE_CHECKING

import click
from rich.table import Table

from genzoo.capabilities import capabilities_of, capability_table, describe
from genzoo.cli import load_plugin_command, plugin_commands
from genzoo.console import console, esc
from genzoo.errors import GenzooError
from genzoo.registry import REGISTRIES, families

if TYPE_CHECKING:  # annotations only
    from genzoo.family import Family

KINDS = ("families", "capabilities", "losses", "samplers", "datasets", "metrics", "tasks")


def _describe(obj: object) -> str:
    d = getattr(obj, "description", None)  # registered objects may carry a description
    if isinstance(d, str) and d:
        return d
    doc = getattr(obj, "__doc__", None) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


def _stdout() -> typing.Any:
    return console.__class__(highlight=False)  # stdout: listing is the command's output


def _capability_table(pattern: str) -> Table:
    table = Table(title="capabilities", title_justify="left", show_edge=False)
    table.add_column("name", style="cyan")
    table.add_column("description")
    table.add_column("families")
    for cap, fams in capability_table(pattern):
        table.add_row(esc(cap.__name__), esc(describe(cap)), esc(", ".join(fams)) or "[dim]none installed[/]")
    return table


@click.command("list")
@click.argument("kind", required=False, metavar="[KIND]")
@click.argument("pattern", required=False)
def list_cmd(kind: str | None, pattern: str | None) -> None:
    """List registered names of KIND (all kinds without it); PATTERN is a wildcard like '*gan*'.

    A lone PATTERN (`genzoo list '*gan*'`) filters the names of every kind.
    """
    if kind is not None and kind not in KINDS:
        if pattern is not None:  # two arguments: the first must be a kind
            raise GenzooError(f"unknown kind '{kind}'{_kind_hint(kind)}; KIND is one of {', '.join(KINDS)}")
        kind, pattern = None, kind  # `genzoo list '*gan*'`: a pattern across all kinds
        if not _matches_any(pattern):  # a mistyped kind reads as a pattern that matches nothing
            raise GenzooError(
                f"no registered name matches '{pattern}'{_kind_hint(pattern)}; KIND is one of {', '.join(KINDS)}, "
                "and a pattern needs wildcards to match part of a name (e.g. '*gan*')"
            )
    pattern = pattern or "*"
    out = _stdout()
    for k in [kind] if kind else KINDS:
        if k == "capabilities":  # not a registry: protocols, with the families that have each
            table = _capability_table(pattern)
            if table.row_count or kind:
                out.print(table)
            continue
        reg = _registry(k)
        table = Table(title=k, title_justify="left", show_edge=False)
        table.add_column("name", style="cyan")
        table.add_column("description")
        table.add_column("from", style="dim")
        for name in reg.names(pattern):
            # Names, descriptions and distributions come from plugins: escaped, so they print as written.
            try:
                obj = reg.get(name)
                table.add_row(esc(name), esc(_describe(obj)), esc(reg.origin(name)))
            except GenzooError as e:
                table.add_row(esc(name), f"[red]{esc(e)}[/]", "")
        if table.row_count or kind:
            out.print(table)


def _registry(kind: str) -> typing.Any:
    if kind == "tasks":  # image-to-image tasks for paired families' --task (their registry lives with the data)
        from genzoo.data.tasks import tasks  # here: genzoo.data imports torch

        return tasks
    return REGISTRIES[kind]


def _matches_any(pattern: str) -> bool:
    """Whether ``pattern`` matches a name of any kind (capabilities included)."""
    if capability_table(pattern):
        return True
    return any(_registry(k).names(pattern) for k in KINDS if k != "capabilities")


def _kind_hint(word: str) -> str:
    close = difflib.get_close_matches(word, KINDS, n=1)
    return f" (did you mean the kind '{close[0]}'?)" if close else ""


@click.command()
@click.argument("family")
def info(family: str) -> None:
    """Show FAMILY's description, plugin, capabilities and every config field with its default."""
    fam = families.get(family)
    out = _stdout()
    dist = families.origin(family)
    out.print(f"[bold cyan]{esc(fam.name)}[/] ({esc(dist)}): {esc(fam.description)}")
    caps = ", ".join(c.__name__ for c in capabilities_of(fam)) or "none"
    out.print(f"capabilities: {esc(caps)}  [dim](genzoo list capabilities)[/]")
    for line in size_lines(fam):
        out.print(esc(line))
    hints = typing.get_type_hints(fam.config_class)
    table = Table(show_edge=False)
    table.add_column("config key", style="cyan")
    table.add_column("type")
    table.add_column("default")
    defaults = fam.default_config()  # not the class's field defaults: a family may preset its own
    for f in dataclasses.fields(fam.config_class):
        tp = hints[f.name]
        name = getattr(tp, "__name__", str(tp).replace("typing.", ""))
        table.add_row(esc(f.name), esc(name), esc(repr(getattr(defaults, f.name))))
    out.print(table)
    out.print("set any of these with [bold]--set key=value[/] or --config FILE.json")


def size_lines(fam: Family) -> list[str]:
    """What `genzoo info` says about image sizes: 'sizes: ...' and, per size, the defaults that follow it."""
    if not fam.image_sizes:
        return ["sizes: not stated by the plugin"]
    rule = f"; other sizes: {fam.image_size_rule}" if fam.image_size_rule else ""
    lines = [f"sizes: {', '.join(str(s) for s in fam.image_sizes)} px{rule}"]
    chosen_by_size = {size: fam.size_defaults(size) for size in fam.image_sizes}
    if any("batch_size" in c for c in chosen_by_size.values()):  # say the batch size at every size, then
        default = fam.default_config().batch_size
        chosen_by_size = {s: {**c, "batch_size": c.get("batch_size", default)} for s, c in chosen_by_size.items()}
    for size, chosen in chosen_by_size.items():
        if chosen:
            shown = ", ".join(f"{k}={_value(v)}" for k, v in chosen.items())
            lines.append(f"  at {size} px: {shown}")
    return lines


def _value(v: object) -> str:
    return ",".join(str(x) for x in v) if isinstance(v, (tuple, list)) and v else "()" if isinstance(v, (tuple, list)) else str(v)


def _status(status: str) -> str:
    style = "green" if status == "ok" else ("yellow" if status == "disabled" else "red")
    return f"[{style}]{esc(status)}[/]"


@click.command()
def plugins() -> None:
    """Import every discovered plugin and command and report its distribution, version and status."""
    out = _stdout()
    table = Table(show_edge=False)
    for col in ("kind", "name", "distribution", "version", "status"):
        table.add_column(col)
    n = 0
    for reg in REGISTRIES.values():
        for p in reg.plugins(load=True):
            table.add_row(p.kind, esc(p.name), esc(p.distribution), esc(p.version), _status(p.status))
            n += 1
    for key, cmd in sorted(plugin_commands().items()):
        if cmd.usable:
            try:
                load_plugin_command(key)
            except GenzooError:
                pass  # the reason is in cmd.status, shown below
        table.add_row("command", esc(cmd.name), esc(cmd.distribution), esc(cmd.version), _status(cmd.status))
        n += 1
    if n:
        out.print(table)
    else:
        out.print("no plugins found (install one, e.g. pip install -e plugins/genzoo-dcgan)")
