"""Writing results: stdout, or a file replaced atomically so a crash never leaves half a report."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path


def write_atomic(path: Path, content: str | bytes) -> None:
    """Write to a temporary file in the same folder, flush it to disk, then rename it over ``path``."""
    path = path.resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    data = content.encode("utf-8") if isinstance(content, str) else content
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def emit(content: str, output: Path | None) -> None:
    """Send ``content`` to ``output`` (atomically) or to standard output when it is None or ``-``."""
    if output is None or str(output) == "-":
        sys.stdout.write(content)
        sys.stdout.flush()
    else:
        write_atomic(output, content)
