"""The helper processes of a large transcript read (:mod:`tokenaudit.readers.claude_code`), and their early start.

A helper is a fresh interpreter (spawned: Polars' threads do not survive a fork) that imports the transcript reader
before it takes a batch: half a second or more of start-up. The command line knows before its own imports and the
inputs' planning that a read may want helpers (:func:`tokenaudit.cli.main`), so it starts them then
(:func:`start_early`), on the core that would otherwise idle while this process imports and plans, and the reader
takes that pool (:func:`take`). A pool nobody takes is discarded without waiting for it (:func:`discard`).

This module imports neither Polars nor the readers: the command line imports it first.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import suppress
from typing import Any, Final, NamedTuple

HELPERS: Final = "TOKENAUDIT_HELPERS"
"""Environment variable: helper processes a large transcript read may start (``auto``: one per further core; unset:
none). The command line sets ``auto``; a library caller opts in, because a spawned helper imports the main module
again, which a script without the ``if __name__ == "__main__"`` guard does not survive."""


def allowed() -> int:
    """The helper processes :data:`HELPERS` allows: ``auto`` is one per further core; none inside a daemonic process
    (a Dask worker may not start children)."""
    setting = os.environ.get(HELPERS, "0").strip().lower()
    if multiprocessing.current_process().daemon:
        return 0
    return _cores() - 1 if setting == "auto" else int(setting) if setting.isdigit() else 0


def _cores() -> int:
    """The cores this process may run on (where the system does not say, as macOS does not: the machine's)."""
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity is not None else os.cpu_count() or 1


def start(processes: int) -> ProcessPoolExecutor | None:
    """A pool of ``processes`` helpers, the first started at once (a pool starts one at each task until it has them
    all), or None where none can start (no process semaphores in some sandboxes). Should this process be killed, they
    exit too (:func:`_ready`)."""
    try:
        pool = ProcessPoolExecutor(
            processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_ready,
            initargs=(os.getpid(),),
        )
    except (OSError, NotImplementedError):
        return None
    with suppress(BrokenProcessPool):  # then each batch finds it broken, and is read here
        pool.submit(int)
    return pool


class EarlyPool(NamedTuple):
    """A pool :func:`start_early` started."""

    pool: ProcessPoolExecutor
    processes: int
    head_starts: list[Future[Any]]
    """The first batches of the transcripts named on the command line, read by the helpers while this process imports
    and plans (:func:`~tokenaudit.readers.claude_code.head_start`), in batch order."""


HEAD_START_BATCHES: Final = 2
"""Batches the helpers of an early pool read before the read asks for any: about what one helper reads while this
process imports and plans after the helper's own start-up."""

_early: EarlyPool | None = None
"""The pool :func:`start_early` started, until the reader takes it or it is discarded."""


def start_early(processes: int, inputs: Sequence[str] = (), timezone: str = "UTC") -> None:
    """Start a pool of ``processes`` helpers now, for the read to :func:`take` later (none if one is waiting), and
    have it read the first :data:`HEAD_START_BATCHES` batches of the transcripts at ``inputs`` in ``timezone``."""
    global _early
    if _early is None and processes > 0:
        pool = start(processes)
        if pool is None:
            return
        head_starts: list[Future[Any]] = []
        with suppress(BrokenProcessPool):  # then the read reads those batches itself
            head_starts.extend(
                pool.submit(_head_start, tuple(inputs), timezone, index)
                for index in range(HEAD_START_BATCHES if inputs else 0)
            )
        _early = EarlyPool(pool, processes, head_starts)


def take(processes: int) -> EarlyPool | None:
    """The early pool if it has ``processes`` helpers (the caller shuts it down), else None (a pool of another size
    is discarded)."""
    global _early
    if _early is not None and _early.processes == processes:
        early, _early = _early, None
        return early
    discard()
    return None


def discard() -> None:
    """Stop the early pool if nobody took it, without waiting: its helpers, idle or still starting, are terminated
    (an interpreter's exit waits for a pool's helpers, which are not daemons, and one still importing the reader
    would hold it for as long)."""
    global _early
    if _early is None:
        return
    pool, _early = _early.pool, None
    helpers = list((getattr(pool, "_processes", None) or {}).values())  # the pool names them in no public attribute
    pool.shutdown(wait=False, cancel_futures=True)
    for helper in helpers:
        helper.terminate()


_PARENT_CHECK_SECONDS = 1.0
"""How often a helper process looks for its parent (:func:`_ready`)."""


def _ready(parent: int) -> None:
    """A helper's start: follow ``parent`` (exit once it is gone: a killed process says nothing to its pool, and a
    helper waiting on the pool's queue, whose writing end it holds too, would wait for ever), then import the reader,
    before any batch arrives."""
    threading.Thread(target=_exit_after, args=(parent,), daemon=True).start()
    import tokenaudit.readers.claude_code  # noqa: F401 - the batches' work: what an early start is for


def _head_start(inputs: tuple[str, ...], timezone: str, index: int) -> object:
    """In a helper: :func:`~tokenaudit.readers.claude_code.head_start` (the reader is imported by then)."""
    from tokenaudit.readers.claude_code import head_start

    return head_start(inputs, timezone, index)


def _exit_after(parent: int) -> None:
    while os.getppid() == parent:  # an orphan's parent becomes init or a subreaper
        time.sleep(_PARENT_CHECK_SECONDS)
    os._exit(1)
