"""`genzoo list`, `genzoo info`, `genzoo plugins`."""

from __future__ import annotations

import dataclasses
import typing

import click

KINDS = ("families", "losses", "samplers", "datasets", "metrics", "tasks")


def _describe(obj: object) -> str:
    for attr in ("description",):
        d = getattr(obj, attr, None)
        if isinstance(d, str) and d:
            return d
    doc = getattr(obj, "__doc__", None) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


@click.command("list")
@click.argument("kind", required=False, type=click.Choice(KINDS))
@click.argument("pattern", required=False, default="*")
def list_cmd(kind: str | None, pattern: str) -> None:
    """List registered names of KIND (all kinds without it); PATTERN is a wildcard like '*gan*'."""
    from rich.table import Table

    from genzoo.console import console
    from genzoo.errors import GenzooError
    from genzoo.registry import REGISTRIES

    out = console.__class__(highlight=False)  # stdout: listing is the command's output
    for k in [kind] if kind else KINDS:
        if k == "tasks":  # image-to-image tasks for pix2pix's --task (their registry lives with the data)
            from genzoo.data.tasks import tasks as reg
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
    """Show FAMILY's description, plugin and every config field with its default."""
    from rich.table import Table

    from genzoo.console import console
    from genzoo.registry import families

    fam = families.get(family)
    out = console.__class__(highlight=False)
    dist = families.origin(family)
    out.print(f"[bold cyan]{fam.name}[/] ({dist}): {fam.description}")
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


@click.command()
def plugins() -> None:
    """Import every discovered plugin and report its distribution, version and status."""
    from rich.table import Table

    from genzoo.console import console
    from genzoo.registry import REGISTRIES

    out = console.__class__(highlight=False)
    table = Table(show_edge=False)
    for col in ("kind", "name", "distribution", "version", "status"):
        table.add_column(col)
    n = 0
    for reg in REGISTRIES.values():
        for p in reg.plugins(load=True):
            style = "green" if p.status == "ok" else ("yellow" if p.status == "disabled" else "red")
            table.add_row(p.kind, p.name, p.distribution, p.version, f"[{style}]{p.status}[/]")
            n += 1
    if n:
        out.print(table)
    else:
        out.print("no plugins found (install one, e.g. pip install -e plugins/genzoo-dcgan)")
