"""A progress bar on stderr for reads that take more than a couple of seconds.

Readers report how many input bytes they have finished with :func:`advance`; :func:`reading` (used by
:mod:`tokenaudit.ingest`) owns the bar. The bar only appears on a colour terminal (stderr is a TTY,
``NO_COLOR`` unset, ``TERM`` not dumb), only after :data:`DELAY` seconds, and it is cleared when the
read ends, so scripts, pipes and short runs never see it.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from tokenaudit.console import stderr_console, wants_color

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

T = TypeVar("T")

DELAY = 2.0
"""Seconds a read must last before the bar is drawn."""


@dataclass
class _Tracker:
    total: int
    enabled: bool
    started: float = field(default_factory=time.monotonic)
    done: int = 0
    bar: Progress | None = None
    task: TaskID | None = None

    def advance(self, amount: int) -> None:
        self.done += amount
        if not self.enabled:
            return
        if self.bar is None and time.monotonic() - self.started >= DELAY:
            # Imported here: a reader's helper process reports progress too, and never draws a bar.
            from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

            self.bar = Progress(
                TextColumn("tokenaudit: reading"),
                BarColumn(),
                DownloadColumn(),
                TimeRemainingColumn(),
                console=stderr_console(),
                transient=True,
            )
            self.task = self.bar.add_task("read", total=self.total, completed=self.done)
            self.bar.start()
        if self.bar is not None and self.task is not None:
            self.bar.update(self.task, completed=self.done)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


_current: ContextVar[_Tracker | None] = ContextVar("tokenaudit_progress", default=None)


@contextmanager
def reading(total_bytes: int, *, enabled: bool | None = None) -> Iterator[None]:
    """Track a read of ``total_bytes``; ``enabled`` defaults to "stderr is a colour terminal"."""
    tracker = _Tracker(total_bytes, wants_color(sys.stderr) if enabled is None else enabled)
    token = _current.set(tracker)
    try:
        yield
    finally:
        _current.reset(token)
        tracker.close()


def advance(nbytes: int) -> None:
    """Report ``nbytes`` more input read; a no-op outside :func:`reading`."""
    tracker = _current.get()
    if tracker is not None:
        tracker.advance(nbytes)


def counted(read: Callable[[], T]) -> tuple[T, int]:
    """``read()`` and the bytes it reported, counted apart from the current read (outside it): for a read in another
    thread, whose bytes the thread that takes its result reports (:func:`advance`), in reading order."""
    tracker = _Tracker(0, enabled=False)
    token = _current.set(tracker)
    try:
        return read(), tracker.done
    finally:
        _current.reset(token)


def done() -> int:
    """Bytes reported so far in the current read (0 outside one); for tests."""
    tracker = _current.get()
    return tracker.done if tracker is not None else 0
