"""One rich console and one progress-bar factory for the whole package."""

from __future__ import annotations

import os
import sys

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

# Piped into a file or a CI log there is no terminal width to respect: lines are not wrapped (a path
# broken at column 80 cannot be copied) and tables get room for their full column names.
_TERMINAL = sys.stderr.isatty()
console = Console(stderr=True, highlight=False, soft_wrap=not _TERMINAL,
                  width=None if _TERMINAL or "COLUMNS" in os.environ else 200)


def stdout_console() -> Console:
    """A console on stdout for a command's own output (tables), with the same piped-output rules."""
    tty = sys.stdout.isatty()
    return Console(highlight=False, soft_wrap=not tty, width=None if tty or "COLUMNS" in os.environ else 200)


def esc(value: object) -> str:
    """``str(value)`` escaped for rich markup: paths, repo ids and config values print literally."""
    return escape(str(value))


def progress_enabled() -> bool:
    """Progress bars are on for terminals, off when GENZOO_PROGRESS=0."""
    flag = os.environ.get("GENZOO_PROGRESS")
    if flag is not None:
        return flag not in ("0", "false", "no", "")
    return sys.stderr.isatty()


def make_progress(*extra_columns, transient: bool = False) -> Progress:
    """The one progress factory: description, bar, n/total, elapsed, remaining, extras."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        *extra_columns,
        console=console,
        transient=transient,
        disable=not progress_enabled(),
    )
