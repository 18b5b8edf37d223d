"""`genzoo list`, `genzoo info`, `genzoo plugins`."""

from __future__ import annotations

import dataclasses
import typing

import click
from rich.table import Table

from genzoo.capabilities import capabilities_of, capability_table, describe
from genzoo.cli import load_plugin_command, plugin_commands
from genzoo.console import console
from genzoo.errors import GenzooError
from genzoo.registry import REGISTRIES, families

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
        table.add_row(cap.__name__, describe(cap), ", ".join(fams) or "[dim]none installed[/]")
    return table


@click.command("list")
@click.argument("kind", required=False, type=click.Choice(KINDS))
@click.argument("pattern", required=False, default="*")
def list_cmd(kind: str | None, pattern: str) -> None:
    """List registered names of KIND (all kinds without it); PATTERN is a wildcard like '*gan*'."""
    out = _stdout()
    for k in [kind] if kind else KINDS:
        if k == "capabilities":  # not a registry: protocols, with the families that have each
            table = _capability_table(pattern)
            if table.row_count or kind:
                out.print(table)
            continue
        if k == "tasks":  # image-to-image tasks for paired families' --task (their registry lives with the data)
            from genzoo.data.tasks import tasks as reg  # here: genzoo.data imports torch
        else:
            reg = REGISTRIES[k]
        table = Table(title=k, title_justify="left", show_edge=False)
        table.add_column("name", style="cyan")
        table.add_column("description")
        table.add_column("from", style="dim")
        for name in reg.names(pattern):
            try:
                obj = reg.get(name)
                table.add_row(name, _describe(obj), reg.origin(name))
            except GenzooError as e:
                table.add_row(name, f"[red]{e}[/]", "")
        if table.row_count or kind:
            out.print(table)


@click.command()
@click.argument("family")
def info(family: str) -> None:
    """Show FAMILY's description, plugin, capabilities and every config field with its default."""
    fam = families.get(family)
    out = _stdout()
    dist = families.origin(family)
    out.print(f"[bold cyan]{fam.name}[/] ({dist}): {fam.description}")
    caps = ", ".join(c.__name__ for c in capabilities_of(fam)) or "none"
    out.print(f"capabilities: {caps}  [dim](genzoo list capabilities)[/]")
    hints = typing.get_type_hints(fam.config_class)
    table = Table(show_edge=False)
    table.add_column("config key", style="cyan")
    table.add_column("type")
    table.add_column("default")
    defaults = fam.default_config()  # not the class's field defaults: a family may preset its own
    for f in dataclasses.fields(fam.config_class):
        tp = hints[f.name]
        name = getattr(tp, "__name__", str(tp).replace("typing.", ""))
        table.add_row(f.name, name, repr(getattr(defaults, f.name)))
    out.print(table)
    out.print("set any of these with [bold]--set key=value[/] or --config FILE.json")


def _status(status: str) -> str:
    style = "green" if status == "ok" else ("yellow" if status == "disabled" else "red")
    return f"[{style}]{status}[/]"


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
            table.add_row(p.kind, p.name, p.distribution, p.version, _status(p.status))
            n += 1
    for key, cmd in sorted(plugin_commands().items()):
        if cmd.usable:
            try:
                load_plugin_command(key)
            except GenzooError:
                pass  # the reason is in cmd.status, shown below
        table.add_row("command", cmd.name, cmd.distribution, cmd.version, _status(cmd.status))
        n += 1
    if n:
        out.print(table)
    else:
        out.print("no plugins found (install one, e.g. pip install -e plugins/genzoo-dcgan)")
