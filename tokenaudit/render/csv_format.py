"""CSV for spreadsheets and ``sort``/``awk`` pipelines: the document's flat records (no notes, no colour, no glyphs).

Numbers stay numbers (``cost_usd`` is ``417.82``, not ``$417.82``; ``shift`` is ``-3``, not ``-3 ▼``), an empty cell
is a missing value, lists are ``;``-joined, and every column name is unique snake_case.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from typing import Any

from tokenaudit.documents import Document, TableView


def _header(columns: Sequence[str]) -> list[str]:
    """snake_case names, made unique (``developer``, ``developer_2``) so a script can address every column."""
    names: list[str] = []
    for column in columns:
        base = re.sub(r"[^0-9a-z]+", "_", column.strip().lower()).strip("_") or "column"
        name, number = base, 2
        while name in names:
            name, number = f"{base}_{number}", number + 1
        names.append(name)
    return names


def _value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def render_table(view: TableView) -> str:
    """Header row then data rows of a flat table (the rejects file)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(_header(view.columns))
    writer.writerows([[_value(cell) for cell in row] for row in view.rows])
    return buffer.getvalue()


def render(document: Document[Any]) -> str:
    """The document's records (the union of their fields, in first-seen order), else its table."""
    if document.records is None:
        return render_table(document.table)
    columns = list(dict.fromkeys(name for record in document.records for name in record))
    rows = [[record.get(name) for name in columns] for record in document.records]
    return render_table(TableView(document.table.title, columns, rows))
