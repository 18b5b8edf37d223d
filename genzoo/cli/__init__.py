"""The `genzoo` command. Subcommands are imported only when run, so `genzoo --help` is instant.

To add a subcommand: write ``genzoo/cli/<name>.py`` with a click command, and add one line
to COMMANDS below (name -> "module:attribute", one-line help).
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

import click

from genzoo.config import parse_pairs as set_pairs  # noqa: F401  (key=value options of subcommands)

COMMANDS: dict[str, tuple[str, str]] = {
    "train": ("genzoo.cli.train:train", "Train a family on a dataset into a run directory."),
    "sample": ("genzoo.cli.sample:sample", "Sample images from a run directory or a Hub repo."),
    "list": ("genzoo.cli.inspect:list_cmd", "List families, losses, samplers, datasets or metrics."),
    "info": ("genzoo.cli.inspect:info", "Show a family's description and configuration."),
    "plugins": ("genzoo.cli.inspect:plugins", "Show discovered plugins and whether they loaded."),
    "interpolate": ("genzoo.cli.interpolate:interpolate", "Walk a latent space between seeds: a GIF or a grid."),
    "arithmetic": ("genzoo.cli.interpolate:arithmetic", "Latent vector arithmetic a - b + c from seeds or stored latents."),
    "reconstruct": ("genzoo.cli.reconstruct:reconstruct", "Show images over their reconstructions by an autoencoder (vae)."),
    "score": ("genzoo.cli.score:score", "Per-image anomaly scores: negative ELBO (VAEs) or AnoGAN (GANs)."),
    "eval": ("genzoo.cli.eval:eval_cmd", "Score generated images: FID, KID, IS, precision/recall, memorisation ..."),
    "translate": ("genzoo.cli.translate:translate", "Translate images with an image-to-image model (pix2pix)."),
    "inpaint": ("genzoo.cli.inpaint:inpaint", "Fill a masked region of an image with a diffusion model."),
    "bench": ("genzoo.cli.bench:bench", "Measure training/sampling speed, memory and engine overhead per family."),
    "push": ("genzoo.cli.push:push", "Upload a run's model and its model card to the Hugging Face Hub."),
}


class LazyGroup(click.Group):
    """A click group whose subcommands live in modules imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        mod, _, attr = COMMANDS[name][0].partition(":")
        return getattr(importlib.import_module(mod), attr)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][1]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def resolve_command(self, ctx: click.Context, args: list[str]) -> Any:
        name = args[0] if args else ""
        if name and name not in COMMANDS and not name.startswith("-"):
            import difflib

            close = difflib.get_close_matches(name, COMMANDS, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise click.UsageError(f"unknown command '{name}'{hint} (commands: {', '.join(sorted(COMMANDS))})")
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
    from genzoo.errors import GenzooError

    global _ARGV
    _ARGV = list(argv) if argv is not None else sys.argv[1:]
    from genzoo.allocator import tune_cpu_allocator

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
    if isinstance(rv, int) and rv:
        sys.exit(rv)


_ARGV: list[str] = []


def invoked_args() -> list[str]:
    """The arguments `genzoo` was run with (after the program name), e.g. to relaunch them."""
    return list(_ARGV)


def _error(msg: str) -> None:
    if os.environ.get("GENZOO_DEBUG"):
        import traceback

        traceback.print_exc()
    from genzoo.console import console

    console.print(f"[bold red]error:[/] {msg}", soft_wrap=True, markup=True, highlight=False)
