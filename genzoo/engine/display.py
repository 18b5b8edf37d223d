"""What a run shows on the terminal: a banner, a progress bar (or, with no terminal, a plain
line now and then), and a closing line. Other processes than rank 0 stay silent."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from rich.progress import TaskID, TextColumn

from genzoo.console import console, make_progress


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

    def logged(self, step: int, total: int | None, log_every: int, logs: dict[str, float], throughput: float) -> None:
        """At a log line: losses and speed on the bar, or a plain line about ten times a run
        (every ten log lines when no end is known)."""
        if not self.is_main:
            return
        stats = " ".join(f"{k.removeprefix('loss_')}={v:.3f}" for k, v in logs.items() if k.startswith("loss_"))
        if self.task is not None:
            self.progress.update(self.task, completed=step, stats=f"{stats} {throughput:.0f} img/s")
        every = 10 * log_every if total is None else max(log_every, total // 10)
        if self.plain and (step % every < log_every or step == total):
            of = "" if total is None else f"/{total}"
            console.print(f"step {step}{of} {stats} {throughput:.0f} img/s")
