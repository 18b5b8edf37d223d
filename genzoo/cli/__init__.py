"""The `genzoo` command. Subcommands are imported only when run, so `genzoo --help` is instant.

To add a built-in subcommand: write ``genzoo/cli/<name>.py`` with a click command, and add one
line to COMMANDS below (name -> "module:attribute", one-line help).

Plugins add commands through the ``genzoo.commands`` entry-point group
(``mycmd = "my_pkg.cli:mycmd"``, a click command). They are discovered from package metadata
alone: `genzoo --help` lists them (with their distribution's summary) without importing them;
a plugin command is imported when it is run. One that fails to import, or that is named like a
built-in, is reported by `genzoo plugins` and never breaks the CLI. GENZOO_DISABLE_PLUGINS and
GENZOO_DISABLE_PLUGIN_AUTOLOAD switch them off as they do the other plugins (genzoo/registry.py).
"""

from __future__ import annotations

import difflib
import importlib
import os
import sys
import traceback
from dataclasses import dataclass
from importlib import metadata
from typing import Any

import click

from genzoo.config import parse_pairs as set_pairs  # noqa: F401  (key=value options of subcommands)
from genzoo.errors import GenzooError
from genzoo.registry import _disabled

COMMANDS: dict[str, tuple[str, str]] = {
    "train": ("genzoo.cli.train:train", "Train a family on a dataset into a run directory."),
    "sample": ("genzoo.cli.sample:sample", "Sample images from a run directory or a Hub repo."),
    "list": ("genzoo.cli.inspect:list_cmd", "List families, capabilities, losses, samplers, datasets, metrics or tasks."),
    "info": ("genzoo.cli.inspect:info", "Show a family's description, capabilities and configuration."),
    "plugins": ("genzoo.cli.inspect:plugins", "Show discovered plugins and commands, and whether they loaded."),
    "interpolate": ("genzoo.cli.interpolate:interpolate", "Walk a latent space between seeds: a GIF or a grid."),
    "arithmetic": ("genzoo.cli.interpolate:arithmetic", "Latent vector arithmetic a - b + c from seeds or stored latents."),
    "edit": ("genzoo.cli.edit:edit", "Move real or sampled images along a direction between two classes' mean latents."),
    "latent-map": ("genzoo.cli.edit:latent_map", "Draw a latent space: the decoded 2-D manifold or the encoded data by class."),
    "reconstruct": ("genzoo.cli.reconstruct:reconstruct", "Show images over their reconstructions by a model that can reconstruct."),
    "likelihood": ("genzoo.cli.likelihood:likelihood", "Bits/dim of images under a model with a likelihood, exact or a bound."),
    "score": ("genzoo.cli.score:score", "Per-image anomaly scores from a model that can score anomalies."),
    "eval": ("genzoo.cli.eval:eval_cmd", "Score generated images: FID, KID, IS, precision/recall, memorisation ..."),
    "translate": ("genzoo.cli.translate:translate", "Translate images with an image-to-image model."),
    "inpaint": ("genzoo.cli.inpaint:inpaint", "Fill a masked region of an image with a model that can inpaint."),
    "restore": ("genzoo.cli.restore:restore", "Undo a degradation (super-resolution, deblur, colorize ...) with a model's prior."),
    "augment": ("genzoo.cli.augment:augment", "Does a conditional model's data help? A classifier with and without its samples."),
    "bench": ("genzoo.cli.bench:bench", "Measure training/sampling speed, memory and engine overhead per family."),
    "push": ("genzoo.cli.push:push", "Upload a run's model and its model card to the Hugging Face Hub."),
    "zoo": ("genzoo.cli.zoo:zoo", "Reference recipes: list them with results, run one, push it, make docs/zoo.md."),
}

COMMAND_GROUP = "genzoo.commands"


@dataclass
class PluginCommand:
    """One ``genzoo.commands`` entry point and how loading it went."""

    name: str
    value: str
    distribution: str
    version: str
    summary: str
    #: "not loaded", "ok", "failed: <reason>", "disabled", or "refused: <reason>" (a name clash)
    status: str = "not loaded"
    entry_point: metadata.EntryPoint | None = None
    command: click.Command | None = None

    @property
    def usable(self) -> bool:
        return self.status in ("not loaded", "ok")

    @property
    def help(self) -> str:
        """The --help line, from package metadata only."""
        origin = f"(from {self.distribution} {self.version})"
        return f"{self.summary} {origin}" if self.summary else origin


_plugin_commands: dict[str, PluginCommand] | None = None


def plugin_commands() -> dict[str, PluginCommand]:
    """Every discovered ``genzoo.commands`` entry point, refused and disabled ones included;
    reads package metadata only (nothing is imported)."""
    global _plugin_commands
    if _plugin_commands is not None:
        return _plugin_commands
    found: dict[str, PluginCommand] = {}
    refused: list[PluginCommand] = []
    all_off, off = _disabled()
    try:
        eps = list(metadata.entry_points(group=COMMAND_GROUP))
    except Exception:  # broken metadata must not stop genzoo
        eps = []
    for ep in eps:
        dist = ep.dist.metadata["Name"] if ep.dist is not None else "?"
        info = PluginCommand(ep.name, ep.value, dist, ep.dist.version if ep.dist is not None else "?",
                             (ep.dist.metadata["Summary"] or "") if ep.dist is not None else "", entry_point=ep)
        if info.summary == "UNKNOWN":  # what old setuptools writes for "no summary"
            info.summary = ""
        if ep.name in COMMANDS:
            info.status = f"refused: '{ep.name}' is a built-in command, which a plugin cannot replace; rename it"
        elif ep.name in found:
            if found[ep.name].distribution == dist:  # the same distribution seen twice on sys.path
                continue
            info.status = f"refused: command '{ep.name}' is already provided by {found[ep.name].distribution}"
        elif all_off or ep.name in off or dist in off:
            info.status = "disabled"
        if info.status.startswith("refused"):
            refused.append(info)
        else:
            found[ep.name] = info
    for info in refused:  # kept under a key of their own so `genzoo plugins` can report them
        found[f"{info.name} ({info.distribution})"] = info
    _plugin_commands = found
    return found


def load_plugin_command(name: str) -> click.Command:
    """Import the plugin command ``name``; a one-line GenzooError when it cannot be used."""
    info = plugin_commands()[name]
    if info.status == "disabled":
        raise GenzooError(f"command '{name}' (from {info.distribution}) is disabled by "
                          "GENZOO_DISABLE_PLUGINS / GENZOO_DISABLE_PLUGIN_AUTOLOAD")
    if info.command is None and info.status == "not loaded" and info.entry_point is not None:
        try:
            obj = info.entry_point.load()
        except Exception as e:  # report, never crash the CLI
            info.status = f"failed: {type(e).__name__}: {e}".splitlines()[0]
        else:
            if isinstance(obj, click.Command):
                info.command, info.status = obj, "ok"
            else:
                info.status = f"failed: {info.value} is a {type(obj).__name__}, not a click command"
    if info.command is None:
        raise GenzooError(f"command '{name}' from plugin {info.distribution} {info.version} could not be loaded "
                          f"({info.status}); run 'genzoo plugins' for details")
    return info.command


def _plugin_names() -> list[str]:
    return sorted(n for n, p in plugin_commands().items() if p.usable)


class LazyGroup(click.Group):
    """A click group whose subcommands live in modules imported on first use: the built-ins in
    COMMANDS, and plugin commands from the ``genzoo.commands`` entry points."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS) + _plugin_names()

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in COMMANDS:
            mod, _, attr = COMMANDS[name][0].partition(":")
            return getattr(importlib.import_module(mod), attr)
        info = plugin_commands().get(name)
        if info is None or info.status.startswith("refused"):
            return None
        return load_plugin_command(name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, COMMANDS[name][1]) for name in sorted(COMMANDS)])
        plugins = plugin_commands()
        if _plugin_names():
            with formatter.section("Commands from plugins"):
                formatter.write_dl([(name, plugins[name].help) for name in _plugin_names()])

    def resolve_command(self, ctx: click.Context, args: list[str]) -> Any:
        name = args[0] if args else ""
        if name and not name.startswith("-") and name not in COMMANDS and name not in plugin_commands():
            known = self.list_commands(ctx)
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise click.UsageError(f"unknown command '{name}'{hint} (commands: {', '.join(known)})")
        return super().resolve_command(ctx, args)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="genzoo", prog_name="genzoo")
def cli() -> None:
    """genzoo: train, sample, share and evaluate image generators.

    \b
    Quick start:
      genzoo train dcgan                      # digits, about a minute on a laptop CPU
      genzoo sample runs/dcgan-digits -n 64 --seed 0 --out grid.png
      genzoo list families
    """


def main(argv: list[str] | None = None) -> None:
    """Entry point: runs the CLI and turns user errors into one red line and exit code 1."""
    global _ARGV
    _ARGV = list(argv) if argv is not None else sys.argv[1:]
    from genzoo.allocator import tune_cpu_allocator  # here: it loads the C library, only when run

    tune_cpu_allocator()  # CPU sampling and training fault far less (genzoo/allocator.py)
    try:
        rv = cli.main(args=argv, prog_name="genzoo", standalone_mode=False)
    except GenzooError as e:
        _error(str(e))
        sys.exit(1)
    except click.exceptions.Abort:
        _error("aborted")
        sys.exit(130)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        _error("interrupted")
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(0)
    except OSError as e:  # a path the user gave cannot be read or written: one line naming it, not a traceback
        where = f"'{e.filename}': " if e.filename else ""
        _error(f"{where}{e.strerror or e}; check the path and that it can be read or written")
        sys.exit(1)
    if isinstance(rv, int) and rv:
        sys.exit(rv)


_ARGV: list[str] = []


def invoked_args() -> list[str]:
    """The arguments `genzoo` was run with (after the program name), e.g. to relaunch them."""
    return list(_ARGV)


def _error(msg: str) -> None:
    if os.environ.get("GENZOO_DEBUG"):
        traceback.print_exc()
    from genzoo.console import console, esc  # here: rich is slow to import, and only an error needs it

    # The message carries paths, repo ids and config values: escaped, so brackets print as they are.
    console.print(f"[bold red]error:[/] {esc(msg)}", soft_wrap=True, markup=True, highlight=False)
