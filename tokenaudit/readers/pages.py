"""Saved answers of paged JSON APIs: one document per file, JSON Lines of pages, or JSON Lines of records.

Vendor usage APIs answer ``{"data": [...], "has_more": ..., "next_page": ...}``. People save one page per
file (often pretty-printed), several pages as JSON Lines, or only the ``data`` records as JSON Lines, and
LiteLLM's ``/spend/logs`` answers a bare JSON array. :func:`read_records` turns any of these into one row
per record, telling them apart by content: a file of several lines whose first line is a complete JSON
value is JSON Lines, any other file is one JSON document. Inside a unit (a line or a document) an object
with a ``data`` list (or the reader's own container, such as Cursor's ``usageEvents``) is a page, any other
object is a record, and an array holds pages or records.

Record numbering: a record read from JSON Lines carries its line number (every record of a page line
shares it); a record read from a document carries its position in the document (1 = the first record
of the first page), because a pretty-printed document's line numbers say nothing about records.

Values are decoded by Polars' NDJSON reader with an explicit schema whose leaves are text. Numbers,
strings and booleans come through as text for :mod:`tokenaudit.readers.coerce` to parse with a reason;
an object found where a value was expected comes through as its JSON text, so the parse rejects it by
name; fields the schema does not declare are never decoded at all, which keeps prompts (LiteLLM's
``messages`` and ``response``) out of memory as well as out of the events.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence

import polars as pl

from tokenaudit.errors import InputError
from tokenaudit.readers import coerce
from tokenaudit.readers.jsonlines import scan_lines
from tokenaudit.readers.sources import Source
from tokenaudit.schema import REJECT_SCHEMA

_VALID = pl.col("text").str.json_path_match("$").is_not_null()
_OBJECT_OR_ARRAY = pl.col("text").str.head(1).is_in(["{", "["]) & pl.col("text").str.tail(1).is_in(["}", "]"])
"""Cheap shape test: a unit that is a JSON object or array starts and ends like one (cut-off lines do not)."""
_CONTAINER = "data"
_BAD_LINE = "not valid JSON (truncated or corrupted line)"


def text_fields(*names: str, **nested: pl.DataType) -> pl.Struct:
    """A record schema: ``names`` as text leaves, ``nested`` as structs or lists of structs."""
    return pl.Struct({**dict.fromkeys(names, pl.String()), **nested})


def _document_error(source: Source) -> tuple[int, str, str]:
    """Where and why a JSON document does not parse, as (line, reason, that line's text)."""
    text = source.read_bytes().decode("utf-8", errors="replace").removeprefix("\ufeff")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        lines = text.splitlines()
        shown = lines[exc.lineno - 1] if 0 < exc.lineno <= len(lines) else ""
        return exc.lineno, f"not valid JSON (truncated or corrupted document): {exc.msg}, column {exc.colno}", shown
    return 1, f"expected a JSON object or array, got {type(value).__name__}", text[:200]


def _reject_units(units: pl.DataFrame, sources: Sequence[Source]) -> pl.DataFrame:
    """Rejects for units that cannot be read: a line with its text, a document with where its JSON breaks."""
    by_name = {source.name: source for source in sources}
    documents = [(name, *_document_error(by_name[name])) for name in units.filter("document")["source_file"].unique()]
    lines = units.filter(~pl.col("document")).select(
        "source_file", "source_line", pl.lit(_BAD_LINE).alias("reason"), pl.col("text").alias("raw")
    )
    return pl.concat([lines, pl.DataFrame(documents, schema=REJECT_SCHEMA, orient="row")], how="vertical")


def _units(sources: Sequence[Source]) -> pl.DataFrame:
    """(``source_file``, ``source_line``, ``document``, ``text``) per JSON unit.

    A unit is one line of a JSON Lines file or the whole of a JSON document, joined onto one line
    (JSON allows line breaks only as white space, so joining them with spaces changes nothing). Only
    the first line of a file of several lines is parsed here, to tell the two apart.
    """
    lines = scan_lines(sources).rename({"line": "text"}).collect()
    counted = lines.with_columns(
        first=pl.int_range(pl.len()).over("source_file") == 0, lines=pl.len().over("source_file")
    )
    json_lines = (
        counted.filter(pl.col("first") & (pl.col("lines") > 1)).filter(_VALID).select("source_file").to_series()
    )
    is_lines = pl.col("source_file").is_in(json_lines.implode())
    documents = (
        lines.filter(~is_lines)
        .group_by("source_file", maintain_order=True)
        .agg(pl.lit(1, pl.Int64).alias("source_line"), pl.col("text").str.join(" "))
    )
    return pl.concat(
        [
            lines.filter(is_lines).with_columns(document=pl.lit(value=False)),
            documents.with_columns(document=pl.lit(value=True)),
        ],
        how="diagonal",
    ).select("source_file", "source_line", "document", pl.col("text").str.strip_chars())


def _ndjson(texts: pl.Expr, units: pl.DataFrame, row: pl.Struct) -> pl.DataFrame:
    blob = units.select(texts.str.join("\n")).item().encode()
    return pl.read_ndjson(io.BytesIO(blob), schema=row.to_schema(), ignore_errors=True)


def _decode(units: pl.DataFrame, item: pl.Struct) -> pl.DataFrame:
    """``units`` without their text, plus ``items``: the unit's pages or records as a list of ``item``.

    Objects are decoded as they are and arrays wrapped as ``{"items": [...]}``: Polars decodes a
    nested list several times slower than the same objects one per line.
    """
    array = pl.col("text").str.starts_with("[")
    objects, arrays = units.filter(~array), units.filter(array)
    own = _ndjson(pl.col("text"), objects, item).select(pl.concat_list(pl.struct(pl.all())).alias("items"))
    listed = _ndjson(pl.lit('{"items":') + pl.col("text") + pl.lit("}"), arrays, pl.Struct({"items": pl.List(item)}))
    return pl.concat(
        [
            pl.concat([objects.drop("text"), own], how="horizontal"),
            pl.concat([arrays.drop("text"), listed], how="horizontal"),
        ],
        how="vertical",
    )


def read_records(
    sources: Sequence[Source], record: pl.Struct, *, container: str = _CONTAINER
) -> tuple[pl.LazyFrame, pl.DataFrame]:
    """One row per record of every page, line or array: ``record``'s fields plus the record's place.

    ``container`` is the page's list of records (``data`` for most APIs; Cursor's usage events answer
    ``usageEvents``). Returns (records with ``source_file`` and ``source_line``, units that are not JSON as
    rejects). Every unit is parsed once; only when that fails is each unit checked on its own, to reject
    the bad ones.
    """
    units = _units(sources)
    shaped = units.filter(_OBJECT_OR_ARRAY)
    rejects = _reject_units(units.filter(~_OBJECT_OR_ARRAY), sources)
    item = pl.Struct({**dict(record.to_schema()), container: pl.List(record)})
    try:
        decoded = _decode(shaped, item)
    except pl.exceptions.ComputeError:
        valid = shaped.select(_VALID).to_series()
        rejects = pl.concat([rejects, _reject_units(shaped.filter(~valid), sources)], how="vertical")
        try:
            decoded = _decode(shaped.filter(valid), item)
        except pl.exceptions.ComputeError as exc:
            files = ", ".join(shaped["source_file"].unique(maintain_order=True))
            msg = f"{files}: cannot split the JSON into records: {str(exc).splitlines()[0]}"
            raise InputError(msg) from None
    field = pl.col("items").struct.field
    own = pl.concat_list(pl.struct([field(name) for name in record.to_schema()]))
    records = (
        decoded.lazy()
        .explode("items", empty_as_null=False)
        .select(
            "source_file",
            "source_line",
            "document",
            pl.when(field(container).is_not_null()).then(field(container)).otherwise(own).alias("record"),
        )
        .explode("record", empty_as_null=False)
        .with_columns(position=pl.int_range(1, pl.len() + 1, dtype=pl.Int64).over("source_file", "source_line"))
        .with_columns(pl.when("document").then("position").otherwise("source_line").alias("source_line"))
        .drop("document", "position")
        .unnest("record")
    )
    return records, rejects


def explode_records(frame: pl.LazyFrame, column: str) -> pl.LazyFrame:
    """One row per element of the list-of-records ``column``, its fields as columns.

    A missing or empty list gives no rows (a bucket without usage); an element that is not an object
    stays, with null fields, so that it is rejected rather than dropped.
    """
    return frame.explode(column, empty_as_null=False, keep_nulls=False).unnest(column)


def first_present(*columns: str) -> pl.Expr:
    """The first of ``columns`` holding a non-blank value: APIs write an absent id as "" as often as null."""
    return pl.coalesce([pl.when(pl.col(name).str.strip_chars() != "").then(pl.col(name)) for name in columns])


def net_of(
    total: coerce.Parsed, parts: Sequence[coerce.Parsed], *, total_field: str, parts_field: str
) -> coerce.Parsed:
    """``total`` minus ``parts``, for sources whose input count includes its cached tokens.

    A total smaller than its parts is a reject that names both, never a negative count.
    """
    included = pl.sum_horizontal([part.value for part in parts])
    value = total.value - included
    short = pl.when(value < 0).then(
        pl.format(
            "{}: {} is less than {} ({}); expected it to include them",
            pl.lit(total_field),
            total.value,
            pl.lit(parts_field),
            included,
        )
    )
    return coerce.Parsed(value, pl.coalesce(total.problem, *[part.problem for part in parts], short))


def bucket_grain(start: str, end: str) -> pl.Expr:
    """``day`` for buckets of a day or more, ``hour`` for anything shorter (hourly and minute buckets alike)."""
    return pl.when(pl.col(end) - pl.col(start) >= pl.duration(days=1)).then(pl.lit("day")).otherwise(pl.lit("hour"))


def joined_key(prefix: str, *columns: str) -> pl.Expr:
    """``<prefix>:`` and ``columns`` joined by ``|`` (null as empty): the identity of a bucket or record."""
    parts = [pl.col(name).cast(pl.String).fill_null("") for name in columns]
    return (pl.lit(f"{prefix}:") + pl.concat_str(parts, separator="|")).alias("dedup_key")
