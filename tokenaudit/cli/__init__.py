"""The command-line interface: parse arguments, call :mod:`tokenaudit.app`, render, map errors to exit codes.

Each module registers its commands on :data:`app`; nothing here computes (and nothing here imports Polars). The
command modules (and through them the application) are imported when :data:`app` is first asked for, not with this
package: the console script imports this package, and so does every helper process a large transcript read spawns
(it runs the script again as its main module), which needs none of them.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from collections.abc import Callable, Sequence
from contextlib import suppress
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import typer

__all__ = ["app", "main"]


def __getattr__(name: str) -> Any:
    if name != "app":
        msg = f"module 'tokenaudit.cli' has no attribute {name!r}"
        raise AttributeError(msg)
    return _commands()


def _commands() -> typer.Typer:
    """The application with every command registered (each module registers its own as it is imported)."""
    from tokenaudit.cli import report, tools, usage  # noqa: F401
    from tokenaudit.cli.main import app

    return app


READING_COMMANDS = frozenset({"totals", "audit", "rank", "explain", "report"})
"""The commands that read usage inputs (a test checks them against the commands' arguments)."""
EARLY_INPUT_BYTES = 128 * 1024 * 1024
"""Transcripts of at least this many bytes together may want helper processes (a transcript read starts them from
four batches of :data:`~tokenaudit.readers.jsonlines.BATCH_BYTES`; a test checks the two agree)."""
EARLY_INPUT_FILES = 4
"""... in at least this many files: a batch holds whole files (a test checks this is the helpers' least batches)."""


ALLOCATOR_SETTING = ("_RJEM_MALLOC_CONF", "muzzy_decay_ms:0")
"""Polars' allocator (jemalloc) is built to keep the pages it frees resident until the system wants them back, so a
large read's peak RSS counted memory it no longer used (Claude Code 1M requests: 1.02 GiB). Returning them as they
are freed (jemalloc's own default for these pages) holds it at 0.87 GiB for 2-3% more time. The console script sets
it, before Polars is loaded, for itself and its helpers; a value in the environment is kept."""


def main() -> None:
    """Console-script entry point: large transcript reads may use helper processes (this entry point is import-safe
    for them; see :data:`tokenaudit.helper_pool.HELPERS`). They are started here when the arguments say a read may
    want them, before the commands are imported and the inputs planned (a second of work they overlap); the read takes
    them, and a pool it does not take is discarded. Once the command is done, the console script's process ends at once
    (:func:`_exit_now`). Polars' allocator returns freed memory (:data:`ALLOCATOR_SETTING`)."""
    os.environ.setdefault("TOKENAUDIT_HELPERS", "auto")
    os.environ.setdefault(*ALLOCATOR_SETTING)
    try:
        _run(sys.argv[1:], early_helpers(sys.argv[1:]))
    except SystemExit as done:
        if _is_the_program():
            _exit_now(done.code)
        raise


def _is_the_program() -> bool:
    """Whether this process runs the console script (or ``python -m tokenaudit``): its main module's ``main`` is
    :func:`main`. A program that calls it itself (a benchmark's wrapper) goes on after it."""
    return getattr(sys.modules.get("__main__"), "main", None) is ENTRY_POINT


ENTRY_POINT = main
"""The console script's function, :func:`main`: once the commands are imported, this package's ``main`` attribute is
their module (``cli/main.py``)."""


def _run(args: Sequence[str], early: int) -> None:
    """The command line ``args``, with ``early`` helper processes started before anything else, reading the first
    transcripts of the arguments that name files or folders (in the time zone of ``--tz``, else UTC: a read in
    another time zone reads those batches again)."""
    if not early:
        _commands()()
        return
    from tokenaudit import helper_pool

    helper_pool.start_early(early, _named(args), _option(args, "--tz") or "UTC")
    try:
        _commands()()
    finally:
        helper_pool.discard()


def _option(args: Sequence[str], name: str) -> str | None:
    """The value the command line ``args`` give the option ``name`` (``name value`` or ``name=value``; the last, as
    the command line itself takes it), or None: read before the commands are imported, to start helpers early."""
    values = [value for option, value in pairwise(args) if option == name]
    values += [arg.removeprefix(f"{name}=") for arg in args if arg.startswith(f"{name}=")]
    return values[-1] if values else None


def _exit_now(code: object) -> None:
    """End the process with ``code`` once the output is flushed and the exit hooks have run, without the interpreter's
    teardown: freeing every object and module one by one takes 0.2-0.4 s after a large audit, and the system frees
    the memory at once. Only where nothing else is left to wait for: no thread but this one (and daemons), no child
    process; else (or for an exit code that is not a number, or an output that cannot be flushed) the interpreter
    exits as usual."""
    if not (code is None or isinstance(code, int)):
        return
    main_thread = threading.main_thread()
    if any(not thread.daemon for thread in threading.enumerate() if thread is not main_thread):
        return
    processes = sys.modules.get("multiprocessing")
    if processes is not None and processes.active_children():
        return
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        return
    atexit._run_exitfuncs()  # the exit hooks still run (temporary folders, the helpers' semaphores)
    os._exit(code or 0)


def early_helpers(args: Sequence[str]) -> int:
    """How many helper processes to start before anything else for the command line ``args``: those allowed
    (:func:`~tokenaudit.helper_pool.allowed`), for a command that reads usage, locally, from JSON Lines files named or
    in folders named that hold :data:`EARLY_INPUT_BYTES` or more in :data:`EARLY_INPUT_FILES` files or more (a read
    batches whole files); else none. Only the file system is looked at, not the files."""
    if not args or args[0] not in READING_COMMANDS or _option(args, "--engine") == "dask":
        return 0
    size, files = _lines_files_up_to(_named(args), EARLY_INPUT_BYTES, EARLY_INPUT_FILES)
    if size < EARLY_INPUT_BYTES or files < EARLY_INPUT_FILES:
        return 0
    from tokenaudit import helper_pool

    return helper_pool.allowed()


def _named(args: Sequence[str]) -> list[str]:
    """The arguments after the command that may name inputs: all but options (and the values of some, which name no
    file or folder, or not a transcript)."""
    return [arg for arg in args[1:] if not arg.startswith("-")]


def _lines_files_up_to(paths: Sequence[str], size: int, files: int) -> tuple[int, int]:
    """The bytes and the number of the JSON Lines files (``.jsonl``: transcripts) at ``paths`` and under the folders at
    ``paths`` (from each folder's listing and a ``stat`` per file), counted until they reach ``size`` and ``files``: a
    folder of a few hundred transcripts holds as many, and a small one is walked whole at little cost. Anything
    unreadable counts nothing."""
    found = [0, 0]

    def add(name: str, stat: Callable[[], os.stat_result]) -> None:
        if name.lower().endswith(".jsonl"):
            found[0] += stat().st_size
            found[1] += 1

    folders: list[str | Path] = []
    for path in map(Path, paths):
        with suppress(OSError):
            if path.is_dir():
                folders.append(path)
            elif path.is_file():
                add(path.name, path.stat)
    while folders and (found[0] < size or found[1] < files):
        with suppress(OSError), os.scandir(folders.pop()) as listing:
            for entry in listing:
                if entry.is_dir(follow_symlinks=False):
                    folders.append(entry.path)
                elif entry.is_file():
                    add(entry.name, entry.stat)
    return found[0], found[1]
