"""The terminal table (Rich). Colour only when the caller says the stream is a colour terminal."""

from __future__ import annotations

import io
import shutil
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from tokenaudit.report import TableView

_EMPHASIS = {"rise": "green", "fall": "red"}


def _cell(value: Any) -> str:
    """A cell as text; Rich reads cell strings as markup, so names such as ``renovate[bot]`` are escaped."""
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return escape(str(value))


def render(view: TableView, *, color: bool, width: int | None = None) -> str:
    """The view as a box-drawn table followed by its notes."""
    table = Table(title=view.title, title_justify="left", header_style="bold" if color else None)
    for index, column in enumerate(view.columns):
        numeric = bool(view.rows) and all(isinstance(row[index], int) for row in view.rows)
        table.add_column(column, justify="right" if numeric else "left", overflow="fold")
    for index, row in enumerate(view.rows):
        style = _EMPHASIS.get(view.emphasis.get(index, "")) if color else None
        table.add_row(*(_cell(value) for value in row), style=style)
    buffer = io.StringIO()
    console = Console(
        file=buffer,
        force_terminal=color,
        no_color=not color,
        width=width or shutil.get_terminal_size((160, 24)).columns,
        highlight=False,
        soft_wrap=False,
    )
    console.print(table)
    for note in view.notes:
        # Notes quote severities such as "[high]": escaped, or Rich would read them as markup and drop them.
        console.print(f"[dim]{escape(note)}[/dim]" if color else note, markup=color)
    return buffer.getvalue()
