"""Where messages go: diagnostics on stderr, colour only for a terminal without NO_COLOR."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from rich.console import Console


def wants_color(stream: TextIO) -> bool:
    """True for an interactive terminal when neither ``NO_COLOR`` is set nor ``TERM`` is dumb."""
    if "NO_COLOR" in os.environ or os.environ.get("TERM") == "dumb":
        return False
    return stream.isatty()


def stderr_console() -> Console:
    """A console for diagnostics; plain text when stderr is not a colour terminal."""
    from rich.console import Console  # not at import: a reader's helper process draws nothing

    color = wants_color(sys.stderr)
    return Console(stderr=True, force_terminal=color, no_color=not color, highlight=False, soft_wrap=True)
