"""Writing results: stdout, a regular file replaced atomically, or a device/pipe written in place.

A crash never leaves half a report: a regular file (new or existing) is written to a temporary file beside it and
renamed over it. Anything else that already exists (``/dev/null``, a FIFO, ``/dev/fd/N`` from ``>(…)``) is written in
place: renaming over it would replace the device or pipe with a plain file. An existing file keeps its permission bits
(and, where we may, its owner); a new one gets ``0666 & ~umask`` like any shell redirection.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
import sys
from pathlib import Path

from tokenaudit.errors import OutputEnvironmentError, UsageError

ENVIRONMENT_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO, errno.EFBIG})
"""Failures of the machine rather than of the chosen path: a full disk or quota, a read-only file system, I/O."""


def _output_error(path: Path | str, exc: OSError) -> UsageError | OutputEnvironmentError:
    """One line naming the target and the reason; the class carries the exit code (2, or 6 for the environment)."""
    reason = "is a directory (give a file name)" if isinstance(exc, IsADirectoryError) else exc.strerror or str(exc)
    if exc.errno in ENVIRONMENT_ERRNOS:
        return OutputEnvironmentError(f"cannot write {path}: {reason}")
    return UsageError(f"cannot write {path}: {reason}")


def _write_in_place(path: Path, data: bytes) -> None:
    """A character device, FIFO or socket path: open and write it as a shell redirection would."""
    with path.open("wb") as stream:
        stream.write(data)


def _write_replacing(path: Path, data: bytes, previous: os.stat_result | None) -> None:
    """Write a temporary file in the same folder, flush it to disk, then rename it over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the kernel applies the umask
    try:
        with os.fdopen(handle, "wb") as stream:
            if previous is not None:
                os.fchmod(stream.fileno(), stat.S_IMODE(previous.st_mode))
                if (previous.st_uid, previous.st_gid) != (os.geteuid(), os.getegid()):
                    with contextlib.suppress(PermissionError):  # only root may give a file away; the mode is kept
                        os.fchown(stream.fileno(), previous.st_uid, previous.st_gid)
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        temporary.replace(path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def write_file(path: Path, content: str | bytes) -> None:
    """Write ``content`` to ``path``: atomically for a regular file, in place for a device or pipe.

    Raises ``UsageError`` (exit 2) for a directory or a path we may not write, ``OutputEnvironmentError`` (exit 6)
    for a full disk or read-only file system.
    """
    data = content.encode("utf-8") if isinstance(content, str) else content
    try:
        try:
            existing: os.stat_result | None = path.stat()
        except FileNotFoundError:
            existing = None
        if existing is not None and stat.S_ISDIR(existing.st_mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
        if existing is not None and not stat.S_ISREG(existing.st_mode):
            _write_in_place(path, data)
        else:
            _write_replacing(path.resolve(), data, existing)
    except BrokenPipeError:
        raise  # the reader of a pipe went away: the CLI stops quietly (exit 141), as `| head` expects
    except OSError as exc:
        raise _output_error(path, exc) from None


def emit(content: str, output: Path | None) -> None:
    """Send ``content`` to ``output`` or to standard output when it is None or ``-``."""
    if output is not None and str(output) != "-":
        write_file(output, content)
        return
    try:
        sys.stdout.write(content)
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise _output_error("standard output", exc) from None
