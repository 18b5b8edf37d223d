"""What a run shows on the terminal: a banner, a progress bar (or, with no terminal, a plain
line every log interval), and a closing line. Other processes than rank 0 stay silent."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from rich.progress import TaskID, TextColumn

from genzoo.console import console, esc, make_progress


class RunDisplay:
    """The progress display of one run. ``enabled``: True / False / None (a bar on a terminal)."""

    def __init__(self, name: str, enabled: bool | None, is_main: bool):
        self.name = name
        self.is_main = is_main
        self.progress = make_progress(TextColumn("{task.fields[stats]}"))
        if enabled is False or not is_main:
            self.progress.disable = True
        self.live = not self.progress.disable  # a bar is drawn
        self.plain = self.progress.disable and is_main and enabled is not False  # lines instead of a bar
        self.task: TaskID | None = None

    def say(self, text: str) -> None:
        if self.is_main:
            console.print(text)

    @contextlib.contextmanager
    def running(self, step: int, total: int | None) -> Iterator[None]:
        """The bar, from ``step`` of ``total`` (None: no end known), while the block runs."""
        with self.progress:
            self.task = self.progress.add_task(self.name, total=total, completed=step, stats="")
            yield

    def advance(self, step: int) -> None:
        """After every step: cheap (no sync; rich redraws on its own thread)."""
        if self.live and self.task is not None:
            self.progress.update(self.task, completed=step)

    def logged(self, step: int, total: int | None, logs: dict[str, float], throughput: float, elapsed: float) -> None:
        """At a log line: losses and speed on the bar; with no terminal (a file, a CI log), one
        plain line per log interval instead, so a long or open-ended run shows it is alive."""
        if not self.is_main:
            return
        stats = " ".join(f"{k.removeprefix('loss_')}={v:.4g}" for k, v in logs.items() if k.startswith("loss_"))
        if self.task is not None:
            self.progress.update(self.task, completed=step, stats=f"{esc(stats)} {throughput:.0f} img/s")
        if self.plain:
            of = f"/{total} ({100 * step / total:.0f}%)" if total else ""
            console.print(f"step {step}{of} {esc(stats)} {throughput:.0f} img/s elapsed {clock(elapsed)}")


def clock(seconds: float) -> str:
    """``seconds`` as H:MM:SS."""
    s = int(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"
