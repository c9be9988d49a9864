"""The terminal table (Rich). Colour only when the caller says the stream is a colour terminal.

Numbers never wrap: when the table is wider than the terminal, the view's optional columns are left out (the first
listed first) until it fits, and a footer says which; only then do text columns fold.
"""

from __future__ import annotations

import io
import shutil
from typing import Any

from rich.cells import cell_len
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from tokenaudit.documents import TableView

_EMPHASIS = {"rise": "green", "fall": "red"}


def _cell(value: Any) -> str:
    """A cell as text; Rich reads cell strings as markup, so names such as ``renovate[bot]`` are escaped."""
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return escape(str(value))


def _natural_width(view: TableView, index: int) -> int:
    """Columns a column needs to show its header and every cell on one line."""
    cells = (_cell(row[index]).replace("\\[", "[") for row in view.rows)
    return max([cell_len(view.columns[index]), *(cell_len(cell) for cell in cells)])


def _fitting_columns(view: TableView, width: int) -> list[int]:
    """Indexes of the columns to show: all, less optional ones (in the view's order) while the table is too wide."""
    shown = list(range(len(view.columns)))
    needed = {index: _natural_width(view, index) + 3 for index in shown}  # padding both sides and a border
    for name in view.optional:
        if sum(needed[index] for index in shown) + 1 <= width:
            break
        shown = [index for index in shown if view.columns[index] != name]
    return shown


def render(view: TableView, *, color: bool, width: int | None = None) -> str:
    """The view as a box-drawn table followed by its notes."""
    width = width or shutil.get_terminal_size((160, 24)).columns
    shown = _fitting_columns(view, width)
    table = Table(title=view.title, title_justify="left", header_style="bold" if color else None)
    for index in shown:
        numeric = bool(view.rows) and all(
            isinstance(row[index], int | float) or str(row[index]).lstrip("$+-").replace(",", "")[:1].isdigit()
            for row in view.rows
            if row[index] != ""
        )
        table.add_column(view.columns[index], justify="right" if numeric else "left", overflow="fold", no_wrap=numeric)
    for index, row in enumerate(view.rows):
        style = _EMPHASIS.get(view.emphasis.get(index, "")) if color else None
        table.add_row(*(_cell(row[column]) for column in shown), style=style)
    buffer = io.StringIO()
    console = Console(
        file=buffer,
        force_terminal=color,
        no_color=not color,
        width=width,
        highlight=False,
        soft_wrap=False,
    )
    if view.headline:
        console.print(f"[bold red]{escape(view.headline)}[/bold red]" if color else view.headline, markup=color)
    console.print(table)
    hidden = [name for name in view.optional if name not in (view.columns[index] for index in shown)]
    notes = [f"Columns left out to fit {width} columns: {', '.join(hidden)} (all are in --format csv)."]
    for note in (notes if hidden else []) + view.notes:
        # Notes quote severities such as "[high]": escaped, or Rich would read them as markup and drop them.
        console.print(f"[dim]{escape(note)}[/dim]" if color else note, markup=color)
    return buffer.getvalue()
