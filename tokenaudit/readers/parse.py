"""Parsing helpers shared by the readers (and the outcome readers): what more than one format needs, with public
names, so that no reader imports from another reader's module.

- Agent logs (JSON lines: Claude Code, Codex, OpenTelemetry): which lines to decode, one decode pass per line.
- Flat files (CSV, TSV, JSON Lines, Parquet): kind and header sniffing, and the slow path for ragged CSV.
- Rejects: what a reject shows of a decoded record.

Typed columns with rejects are :mod:`tokenaudit.readers.coerce`; line scanning and batching are
:mod:`tokenaudit.readers.jsonlines`; JSON documents and pages are :mod:`tokenaudit.readers.pages`; CSV text repairs
are :mod:`tokenaudit.readers.csvtext`.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from operator import attrgetter
from typing import Any

import polars as pl

from tokenaudit.readers.jsonlines import extract_fields, struct_for, struct_leaf
from tokenaudit.readers.sources import Source

# Agent logs

ENDS_LIKE_OBJECT = pl.col("line").str.tail(4).str.strip_chars_end().str.ends_with("}")
"""Cheap completeness test: every transcript line is a JSON object, so a cut-off line ends otherwise."""


def candidate_lines(lines: pl.LazyFrame, *markers: str) -> pl.LazyFrame:
    """Lines worth decoding: those holding one of ``markers``, plus any not ending like a JSON object.

    The second part keeps truncated lines (the usual defect of a log copied while it was written) so
    they are rejected with their line number instead of vanishing with the lines we skip.
    """
    line = pl.col("line")
    wanted = pl.any_horizontal([line.str.contains(marker, literal=True) for marker in markers])
    return lines.filter(wanted | ~ENDS_LIKE_OBJECT)


def decode_candidates(
    lines: pl.LazyFrame, paths: Mapping[str, str], marks: Mapping[str, str] | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """:func:`~tokenaudit.readers.jsonlines.extract_fields`, with one JSON parse per line when all is well.

    Logs run to gigabytes, and validating each line before decoding it doubles the cost. So one pass
    decodes the lines that end like an object and keeps only the wanted fields (not the line: the
    prompts and responses in it would cost memory and have no business in the output), plus the text
    of the cut-off lines, which then take the line-by-line path for their reject reason. Only if the
    pass fails (a line corrupted mid-file, a field of unexpected shape) does everything take that path.
    ``marks`` names boolean columns telling whether the line holds a text (for a value whose JSON shape varies
    between lines, which a typed decode cannot take). Returns rows of ``source_file``, ``source_line``, the
    marks and the fields, and the rejected lines.
    """
    whole = ENDS_LIKE_OBJECT
    marked = lines.with_columns(
        pl.col("line").str.contains(text, literal=True).alias(name) for name, text in (marks or {}).items()
    )
    kept = ["source_file", "source_line", *(marks or {})]
    decoded = marked.select(
        *kept,
        pl.when(~whole).then(pl.col("line")).alias("line"),
        pl.when(whole).then(pl.col("line")).str.json_decode(struct_for(paths)).alias("_doc"),
    ).select(*kept, "line", *[struct_leaf(path).alias(name) for name, path in paths.items()])
    try:
        frame = decoded.collect()
    except pl.exceptions.ComputeError:
        rows, invalid = extract_fields(marked, paths)
        return rows.drop("line"), invalid
    cut_off = pl.col("line").is_not_null()
    more, invalid = extract_fields(frame.lazy().filter(cut_off).select(marked.collect_schema().names()), paths)
    return pl.concat([frame.filter(~cut_off).drop("line"), more.drop("line")], how="vertical"), invalid


def struct_columns(records: Sequence[Any], paths: Mapping[str, str]) -> dict[str, list[Any]]:
    """Columns of the dotted ``paths`` of decoded records (msgspec structs whose attributes are the JSON keys).

    A missing object along a path gives None. Each level is walked once however many paths share it, by a C loop
    where no object along it is missing, and a level missing in every record (a line kind the batch lacks) costs
    one pass; whether a level's objects are all there (or none) is found once for all its children.
    """
    levels: dict[str, list[Any]] = {"": list(records)}
    present: dict[str, tuple[bool, bool]] = {}  # per level: whether any and all of its items are there, found once
    for path in paths.values():
        parts = path.split(".")
        for depth in range(1, len(parts) + 1):
            prefix = ".".join(parts[:depth])
            if prefix in levels:
                continue
            above = ".".join(parts[: depth - 1])
            parent, value = levels[above], attrgetter(parts[depth - 1])
            if above not in present:
                # A level above a leaf holds structs (always true) or None, so truth tests find the missing ones.
                present[above] = (any(parent), all(parent))
            some, every = present[above]
            if not some:
                levels[prefix] = parent
            elif every:
                levels[prefix] = list(map(value, parent))
            else:
                levels[prefix] = [None if item is None else value(item) for item in parent]
    return {name: levels[path] for name, path in paths.items()}


def fields_as_json(paths: Mapping[str, str], *, as_text: bool = False) -> pl.Expr:
    """What a reject shows of a decoded line: its fields under their source names, not its text (``as_text``: every
    field as text, as a reader that read some of them typed showed them before)."""
    fields = [(pl.col(name).cast(pl.String) if as_text else pl.col(name)).alias(path) for name, path in paths.items()]
    return pl.struct(fields).struct.json_encode()


# Flat files

PARQUET_MAGIC = b"PAR1"


def file_kind(source: Source) -> str:
    """csv, tsv, jsonl or parquet, from magic bytes first and the extension second."""
    head = source.head
    if head.startswith(PARQUET_MAGIC):
        return "parquet"
    text = source.head_text().lstrip()
    if source.suffix in {".jsonl", ".ndjson", ".json"} or text.startswith("{"):
        return "jsonl"
    if source.suffix == ".tsv" or ("\t" in text.split("\n", 1)[0] and "," not in text.split("\n", 1)[0]):
        return "tsv"
    return "csv"


def file_header(source: Source, kind: str) -> list[str]:
    """Column names of a flat file: the first line of CSV/TSV, the first object of JSON Lines, the Parquet schema."""
    if kind == "parquet":
        return list(pl.read_parquet_schema(source.payload()))
    text = source.head_text()
    if kind == "jsonl":
        try:
            first = json.loads(text.lstrip().split("\n", 1)[0])
        except (ValueError, RecursionError):
            return []
        return list(first) if isinstance(first, dict) else []
    delimiter = "\t" if kind == "tsv" else ","
    return next(csv.reader(io.StringIO(text.split("\n", 1)[0].rstrip("\r")), delimiter=delimiter), [])


def csv_with_ragged_rows(source: Source, delimiter: str, wanted: list[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Slow path for a CSV Polars refuses (rows with more fields than the header): reject those rows."""
    text = source.read_bytes().decode("utf-8", errors="replace").removeprefix("\ufeff")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = next(reader)
    good: list[list[str]] = []
    bad: list[tuple[int, str, str]] = []
    for row in reader:
        line = reader.line_num
        if len(row) == len(header):
            good.append([*row, str(line)])
        elif row:
            reason = f"has {len(row)} fields; the header has {len(header)}"
            bad.append((line, reason, delimiter.join(row)))
    frame = pl.DataFrame(good, schema=[*header, "source_line"], orient="row").select(
        *wanted, pl.lit(source.name).alias("source_file"), pl.col("source_line").cast(pl.Int64)
    )
    rejects = pl.DataFrame(
        {
            "source_file": [source.name] * len(bad),
            "source_line": [line for line, _, _ in bad],
            "reason": [reason for _, reason, _ in bad],
            "raw": [raw for _, _, raw in bad],
        },
        schema={"source_file": pl.String, "source_line": pl.Int64, "reason": pl.String, "raw": pl.String},
    )
    return frame, rejects
