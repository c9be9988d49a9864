"""CSV: the table's rows for spreadsheets and ``sort``/``awk`` pipelines (no notes, no colour)."""

from __future__ import annotations

import csv
import io

from tokenaudit.report import TableView


def render(view: TableView) -> str:
    """Header row then data rows, with snake_case headers that are safe to script against."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([column.replace(" ", "_") for column in view.columns])
    writer.writerows(view.rows)
    return buffer.getvalue()
