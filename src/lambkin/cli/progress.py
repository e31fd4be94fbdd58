"""How `lambkin image pull` and `lambkin image import` show their progress: bars with sizes and rates on a
terminal (rich), one line per blob otherwise (for logs and scripts)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from lambkin.images.pull import PullProgress


def size(count: int) -> str:
    value = float(count)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{count} B"


class PullDisplay:
    """The ProgressCallback of a pull or an import: a bar per blob while it downloads or is copied (on a
    terminal), else a line as each blob is copied or found already stored. `total` counts the bytes copied
    in; `quiet` shows nothing. Thread-safe as rich is: an import calls it from its worker thread."""

    def __init__(self, console: Console, quiet: bool = False) -> None:
        self.console = console
        self.quiet = quiet
        self.total = 0
        self.bars: Progress | None = None
        if console.is_terminal and not quiet:
            self.bars = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=console,
            )
        self._tasks: dict[str, TaskID] = {}

    def __enter__(self) -> PullDisplay:
        if self.bars is not None:
            self.bars.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.bars is not None:
            self.bars.stop()

    def __call__(self, event: PullProgress) -> None:
        if event.phase == "done":
            self.total += event.done
        if self.quiet:
            return
        short = event.digest[:19]
        if event.phase == "manifest":
            self.console.print(f"Resolved manifest {event.digest}", highlight=False, soft_wrap=True)
        elif event.phase == "exists":
            self.console.print(f"Blob {short} already stored", highlight=False, soft_wrap=True)
        elif self.bars is not None and event.phase in ("downloading", "copying", "done"):
            task = self._tasks.get(event.digest)
            if task is None:
                task = self._tasks[event.digest] = self.bars.add_task(short, total=event.total or None)
            self.bars.update(task, completed=event.done, total=event.total or event.done)
        elif event.phase == "done":
            self.console.print(f"Copied blob {short} ({size(event.done)})", highlight=False, soft_wrap=True)
