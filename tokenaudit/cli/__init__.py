"""The command-line interface: parse arguments, call :mod:`tokenaudit.app`, render, map errors to exit codes.

Each module registers its commands on :data:`app`; nothing here computes (and nothing here imports Polars). The
command modules (and through them the application) are imported when :data:`app` is first asked for, not with this
package: the console script imports this package, and so does every helper process a large transcript read spawns
(it runs the script again as its main module), which needs none of them.
"""

from __future__ import annotations

import os
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


def main() -> None:
    """Console-script entry point: large transcript reads may use helper processes (this entry point is import-safe
    for them; see :data:`tokenaudit.readers.claude_code.HELPERS`)."""
    os.environ.setdefault("TOKENAUDIT_HELPERS", "auto")
    _commands()()
