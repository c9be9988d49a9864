"""Small helpers for vendor CSV exports: the header row, and a last row cut off mid-write."""

from __future__ import annotations

import csv

import polars as pl

from tokenaudit.readers.sources import Source
from tokenaudit.schema import REJECT_SCHEMA


def csv_header(source: Source) -> list[str]:
    """The first line's fields; none for content that is not CSV text."""
    first = source.head_text().split("\n", 1)[0].rstrip("\r")
    try:
        return next(csv.reader([first]), [])
    except csv.Error:  # binary content (e.g. Parquet) is not a CSV header
        return []


def ends_mid_row(source: Source) -> bool:
    """Whether the last byte is not a line break: an export cut off while it was written or copied."""
    if source.data is not None:
        return not source.data.endswith(b"\n")
    assert source.path is not None
    with source.path.open("rb") as handle:
        size = handle.seek(0, 2)
        if size == 0:
            return False
        handle.seek(size - 1)
        return handle.read(1) != b"\n"


def without_cut_off_row(source: Source, width: int) -> tuple[Source, pl.DataFrame]:
    """``source`` without a last row that ends early (file cut off mid-row), and that row as a reject."""
    rejects = pl.DataFrame(schema=REJECT_SCHEMA)
    if not ends_mid_row(source):
        return source, rejects
    complete, _, last = source.read_bytes().rpartition(b"\n")
    text = last.decode("utf-8", errors="replace")
    fields = next(csv.reader([text]), [])
    if not complete or len(fields) >= width:
        return source, rejects
    reason = f"has {len(fields)} fields; the header has {width} (the file ends mid-row: truncated?)"
    row = (source.name, complete.count(b"\n") + 2, reason, text)
    return Source(source.name, data=complete + b"\n"), pl.DataFrame([row], schema=REJECT_SCHEMA, orient="row")


def record_end(block: bytes | bytearray, stop: int = -1) -> int:
    """The position after the last line break of ``block[:stop]`` (``stop`` -1: all of it) that ends a CSV record (0:
    none does), ``block`` starting where a record starts: a break inside a quoted field (an odd number of quotes
    before it) does not end one."""
    end = len(block) if stop < 0 else stop
    if block.find(b'"', 0, end) < 0:  # no quoted field: the last break ends a record (a search, not a count)
        return block.rfind(b"\n", 0, end) + 1
    quotes = block.count(b'"', 0, end)
    while (found := block.rfind(b"\n", 0, end)) >= 0:
        quotes -= block.count(b'"', found, end)
        if quotes % 2 == 0:
            return found + 1
        end = found
    return 0


def record_count(whole: bytes) -> int:
    """How many CSV records the line breaks of ``whole`` end (whole records, from a record's start): the breaks
    outside quoted fields. A doubled quote inside a field opens and closes nothing, so the parity still holds."""
    if b'"' not in whole:
        return whole.count(b"\n")
    return sum(part.count(b"\n") for part in whole.split(b'"')[::2])
