"""Transfer progress for the terminal (rich) or plain log lines when not a terminal.

The transport reports bytes through this object from several transfer threads at once;
rich's Progress is thread-safe, and the plain variant only counts.
"""

from __future__ import annotations

import threading
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:  # rich is imported only to draw: a sync that draws nothing skips it
    from rich.console import Console
    from rich.progress import TaskID


class TransferDisplay:
    """A progress sink: ``start(path, total)``, ``advance(path, n)``, ``finish(path)``."""

    def __init__(self, console: Console | None) -> None:
        self._lock = threading.Lock()
        self._tasks: dict[str, TaskID] = {}
        self.files_done = 0
        self.files_total = 0
        self.bytes_done = 0
        self._progress = _bars(console) if console is not None else None
        self._overall: TaskID | None = None

    @classmethod
    def for_stream(cls, stream: IO[str]) -> TransferDisplay:
        """Rich bars on a terminal, nothing drawn otherwise (the log lines say enough)."""
        if not stream.isatty():
            return cls(None)
        from rich.console import Console

        return cls(Console(file=stream))

    def __enter__(self) -> TransferDisplay:
        if self._progress is not None:
            self._progress.start()
            self._overall = self._progress.add_task("total", total=None)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._progress is not None:
            self._progress.stop()

    def set_totals(self, files: int, nbytes: int) -> None:
        """What the plan will transfer: gives the overall bar its total, so rate and ETA."""
        with self._lock:
            self.files_total = files
        if self._progress is not None and self._overall is not None:
            self._progress.update(
                self._overall, total=nbytes or None, description=f"files 0/{files}"
            )

    def start(self, path: str, total: int | None) -> None:
        if self._progress is None:
            return
        with self._lock:
            name = path if len(path) <= 40 else "…" + path[-39:]
            self._tasks[path] = self._progress.add_task(name, total=total)

    def advance(self, path: str, nbytes: int) -> None:
        with self._lock:
            self.bytes_done += nbytes
            task = self._tasks.get(path)
        if self._progress is not None:
            if task is not None:
                self._progress.advance(task, nbytes)
            if self._overall is not None:
                self._progress.advance(self._overall, nbytes)

    def finish(self, path: str) -> None:
        with self._lock:
            self.files_done += 1
            task = self._tasks.pop(path, None)
            label = f"files {self.files_done}/{self.files_total}"
        if self._progress is not None and task is not None:
            self._progress.remove_task(task)
        if self._progress is not None and self._overall is not None:
            self._progress.update(self._overall, description=label)


def _bars(console: Console) -> Any:
    """rich's thread-safe Progress with one bar per transfer and the overall one."""
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    return Progress(
        TextColumn("{task.description}", justify="left"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )
