"""Output formats. Each renderer is a pure function of a :class:`~tokenaudit.documents.Document`."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, assert_never

from tokenaudit.documents import Document
from tokenaudit.render import csv_format, json_format, markdown, table


class Format(StrEnum):
    """The ``--format`` choices."""

    TABLE = "table"
    JSON = "json"
    CSV = "csv"
    MARKDOWN = "markdown"


def render(document: Document[Any], output_format: Format, *, color: bool, width: int | None = None) -> str:
    """The document as text in ``output_format``."""
    if output_format is Format.TABLE:
        return table.render(document.table, color=color, width=width)
    if output_format is Format.JSON:
        return json_format.render(document.data)
    if output_format is Format.CSV:
        return csv_format.render(document)
    if output_format is Format.MARKDOWN:
        return markdown.render(document.table)
    assert_never(output_format)
