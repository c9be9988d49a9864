"""Markdown: a table a lead can paste into a wiki page or a pull request."""

from __future__ import annotations

from typing import Any

from tokenaudit.documents import TableView


def _cell(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value).replace("|", "\\|")


def render(view: TableView) -> str:
    """A heading, a pipe table with numbers right-aligned, and the notes as a list."""
    numeric = [bool(view.rows) and all(isinstance(row[i], int) for row in view.rows) for i in range(len(view.columns))]
    lines = [
        *([f"> **{view.headline}**", ""] if view.headline else []),
        f"## {view.title}",
        "",
        "| " + " | ".join(view.columns) + " |",
        "|" + "|".join("---:" if is_number else "---" for is_number in numeric) + "|",
        *("| " + " | ".join(_cell(value) for value in row) + " |" for row in view.rows),
    ]
    if view.notes:
        lines += ["", *(f"- {note}" for note in view.notes)]
    return "\n".join(lines) + "\n"
