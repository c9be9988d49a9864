"""The command-line interface: parse arguments, call :mod:`tokenaudit.app`, render, map errors to exit codes.

Each module registers its commands on :data:`app`; nothing here computes (and nothing here imports Polars).
"""

from __future__ import annotations

import os

from tokenaudit.cli import report, tools, usage
from tokenaudit.cli.main import app

__all__ = ["app", "main"]
_COMMAND_MODULES = (report, tools, usage)


def main() -> None:
    """Console-script entry point: large transcript reads may use helper processes (this entry point is import-safe
    for them; see :data:`tokenaudit.readers.claude_code.HELPERS`)."""
    os.environ.setdefault("TOKENAUDIT_HELPERS", "auto")
    app()
