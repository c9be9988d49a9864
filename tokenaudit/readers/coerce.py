"""Typed parsing of raw string columns, with a reason for every value that does not parse.

Readers first get every field as text, then turn each into its canonical type here. A value that fails
keeps its row out of the events and puts it in the rejects with a reason naming the field and what was
expected, so nothing is dropped silently and nothing is guessed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar

import polars as pl

from tokenaudit.schema import UTC_DATETIME


@dataclass(frozen=True)
class Parsed:
    """A parsed column: its typed value and, where it failed, why (null when it is fine)."""

    value: pl.Expr
    problem: pl.Expr
    staged: tuple[pl.Expr, ...] = ()
    """Helper columns to add first, one step each: Polars recomputes a sub-expression at every use."""


Frame = TypeVar("Frame", pl.DataFrame, pl.LazyFrame)


def with_staged(frame: Frame, *parsed: Parsed) -> Frame:
    """``frame`` with the helper columns of ``parsed`` added, one step each (later steps read earlier ones)."""
    for item in parsed:
        for step in item.staged:
            frame = frame.with_columns(step)
    return frame


def _text(column: str) -> pl.Expr:
    return pl.col(column).cast(pl.String).str.strip_chars()


def _shown(column: str | pl.Expr) -> pl.Expr:
    text = _text(column) if isinstance(column, str) else column
    return pl.lit("'") + text.str.slice(0, 40) + pl.lit("'")


def count(column: str, *, field: str | None = None, required: bool = True) -> Parsed:
    """A non-negative integer token or request count, exact to the unit (no floats, no rounding)."""
    label = field or column
    raw = _text(column)
    value = raw.cast(pl.Int64, strict=False)
    empty = raw.is_null() | (raw == "")
    # Polars evaluates every branch on every row, so the costly ones (regex, message text) only see the
    # rows that failed the cast: on good data that column is all null and they cost nothing.
    bad = pl.when(value.is_null() | (value < 0)).then(raw)
    problem = (
        pl.when(empty)
        .then(pl.lit(f"{label}: missing; expected a non-negative integer") if required else None)
        .when(value.is_null() & bad.str.contains(r"^-?\d+$"))
        .then(pl.lit(f"{label}: ") + _shown(bad) + pl.lit(" is beyond the 64-bit integer range"))
        .when(bad.is_not_null())
        .then(pl.lit(f"{label}: expected a non-negative integer, got ") + _shown(bad))
    )
    return Parsed(pl.when(empty).then(None if required else 0).otherwise(value), problem)


def money(column: str, *, field: str | None = None, scale: float = 1.0) -> Parsed:
    """An optional amount of money; ``scale`` converts cents to dollars (0.01)."""
    label = field or column
    raw = _text(column).str.replace(r"^\$", "")
    value = raw.cast(pl.Float64, strict=False)
    bad = pl.when(raw.is_not_null() & (raw != "") & (value.is_null() | (value < 0))).then(_text(column))
    problem = (
        pl.when(bad.is_not_null() & value.is_null())
        .then(pl.lit(f"{label}: expected a number, got ") + _shown(bad))
        .when(bad.is_not_null())
        .then(pl.lit(f"{label}: expected a non-negative amount, got ") + _shown(bad))
    )
    return Parsed(pl.when(raw == "").then(None).otherwise(value * scale), problem)


def cents(column: str, *, field: str | None = None) -> Parsed:
    """An optional amount in cents, as dollars, without a float rounding step on the way.

    A plain decimal is converted by moving its decimal point two places in the text and parsing that once,
    so ``21.36232`` cents becomes exactly the float nearest to 0.2136232 dollars (dividing the float
    21.36232 by 100 can land one unit off). Anything else (an exponent) falls back to float division.
    """
    amount = money(column, field=field)
    groups = _text(column).str.extract_groups(r"^(\d+)(?:\.(\d*))?$")
    whole = groups.struct.field("1").str.zfill(3)
    shifted = whole.str.head(-2) + pl.lit(".") + whole.str.tail(2) + groups.struct.field("2").fill_null("")
    return Parsed(pl.coalesce(shifted.cast(pl.Float64, strict=False), amount.value / 100), amount.problem)


def text(column: str, *, field: str | None = None, required: bool = False) -> Parsed:
    """A string field; empty strings become null, and a required one must be present."""
    label = field or column
    stripped = f"_{column}_text"  # staged: the value and the problem would each strip every row again
    raw = pl.col(stripped)
    value = pl.when(raw == "").then(None).otherwise(raw)
    problem = pl.when(value.is_null()).then(pl.lit(f"{label}: missing; expected a value")) if required else None
    return Parsed(value, problem if problem is not None else pl.lit(None, pl.String), (_text(column).alias(stripped),))


def coded(column: str, *, field: str | None = None, required: bool = False) -> Parsed:
    """:func:`text` of a categorical column whose every value is already stripped and not empty (see
    :func:`clean_codes`): the column as it is."""
    problem = pl.when(pl.col(column).is_null()).then(pl.lit(f"{field or column}: missing; expected a value"))
    return Parsed(pl.col(column), problem if required else pl.lit(None, pl.String))


def clean_codes(column: pl.Series) -> pl.Series | None:
    """A text ``column`` as categorical codes if each of its values is what :func:`text` makes of it (no white space
    to strip, not empty), else None: the values are checked once each, not row by row."""
    codes = column.cast(pl.Categorical)
    values = codes.unique().drop_nulls().cast(pl.String)
    return None if ((values == "") | (values.str.strip_chars() != values)).any() else codes


_ISO_Z = "%Y-%m-%dT%H:%M:%S%.fZ"
"""The common timestamp form (``2026-03-02T14:05:11.482Z``), parsed first (:func:`timestamp`)."""


def timestamp(column: str, timezone: str, *, field: str | None = None) -> Parsed:
    """ISO 8601 (with offset, ``Z`` or none), a bare date, or epoch seconds/milliseconds, to UTC.

    Timestamps without a zone are read in ``timezone`` (the policy's or ``--tz``), because that is
    what a spreadsheet round-trip leaves behind; a bare date means local midnight. The common
    ``2026-03-02T14:05:11.482Z`` is parsed once, as it is (a value that parses so is the same instant with its
    white space stripped); only the other rows are stripped and reach the format-by-format parse (the common form
    first again: with white space around it, it parses only once stripped).
    """
    label = field or column
    unstripped = pl.col(column).cast(pl.String)
    fast_name, rest_name = f"_{column}_fast", f"_{column}_rest"
    staged = (
        unstripped.str.to_datetime(_ISO_Z, strict=False, time_unit="us", time_zone="UTC").alias(fast_name),
        # Polars evaluates every branch on every row: the strip and the slow parse see nulls wherever the fast one
        # worked.
        pl.when(pl.col(fast_name).is_null()).then(unstripped).str.strip_chars().alias(rest_name),
    )
    fast, raw = pl.col(fast_name), pl.col(rest_name)
    stripped_fast = raw.str.to_datetime(_ISO_Z, strict=False, time_unit="us", time_zone="UTC")
    iso = raw.str.replace(r"^(\d{4}-\d{2}-\d{2})[Tt]", "$1 ").str.replace(r"[Zz]$", "+00:00")
    aware = pl.coalesce(
        iso.str.to_datetime("%Y-%m-%d %H:%M:%S%.f%:z", strict=False, time_unit="us"),
        iso.str.to_datetime("%Y-%m-%d %H:%M:%S%.f%z", strict=False, time_unit="us"),
        iso.str.to_datetime("%Y-%m-%d %H:%M%:z", strict=False, time_unit="us"),
    )
    naive = pl.coalesce(
        iso.str.to_datetime("%Y-%m-%d %H:%M:%S%.f", strict=False, time_unit="us"),
        iso.str.to_datetime("%Y-%m-%d %H:%M", strict=False, time_unit="us"),
        iso.str.to_date("%Y-%m-%d", strict=False).cast(pl.Datetime("us")),
    )
    local = naive.dt.replace_time_zone(timezone, ambiguous="earliest", non_existent="null")
    digits = raw.str.contains(r"^\d+$")
    epoch = raw.cast(pl.Int64, strict=False)
    from_epoch = (
        pl.when(digits & (raw.str.len_chars() <= 11))
        .then(pl.from_epoch(epoch, time_unit="s"))
        .when(digits & (raw.str.len_chars() <= 14))
        .then(pl.from_epoch(epoch, time_unit="ms"))
        .dt.replace_time_zone("UTC")
    )
    value = pl.coalesce(
        fast, stripped_fast, aware.dt.convert_time_zone("UTC"), local.dt.convert_time_zone("UTC"), from_epoch
    )
    value = value.cast(UTC_DATETIME)
    # Missing: no fast parse, and nothing left once stripped (the stripped text of every row, without a strip of
    # every row).
    problem = (
        pl.when(fast.is_null() & (raw.is_null() | (raw == "")))
        .then(pl.lit(f"{label}: missing; expected a timestamp"))
        .when(value.is_null())
        .then(pl.lit(f"{label}: expected an ISO 8601 timestamp or epoch seconds/milliseconds, got ") + _shown(raw))
    )
    return Parsed(value, problem, staged)


def typed(
    column: str, dtype: pl.DataType, timezone: str, *, field: str | None = None, required: bool = True
) -> Parsed | None:
    """The parse of a column a binary format (Parquet) or a typed decode already typed, or None if it must go through
    text.

    Integer token counts need only the sign check, and datetimes only a time-zone conversion: no
    round trip through strings for tens of millions of rows. A missing count that is not ``required`` is 0, as in
    :func:`count`.
    """
    label = field or column
    col = pl.col(column)
    if dtype.is_integer():
        value = col.cast(pl.Int64, strict=False)
        # Masked before the cast to text (Polars computes every branch on every row): only bad values are shown.
        overflow = pl.when(col.is_not_null() & value.is_null()).then(col).cast(pl.String)
        negative = pl.when(value < 0).then(value).cast(pl.String)
        problem = (
            pl.when(col.is_null())
            .then(pl.lit(f"{label}: missing; expected a non-negative integer") if required else None)
            .when(value.is_null())
            .then(pl.lit(f"{label}: ") + _shown(overflow) + pl.lit(" is beyond the 64-bit integer range"))
            .when(value < 0)
            .then(pl.lit(f"{label}: expected a non-negative integer, got ") + _shown(negative))
        )
        return Parsed(value if required else value.fill_null(0), problem)
    if isinstance(dtype, pl.Datetime):
        stamp = (
            col.dt.convert_time_zone("UTC")
            if dtype.time_zone
            else col.dt.replace_time_zone(timezone, ambiguous="earliest", non_existent="null").dt.convert_time_zone(
                "UTC"
            )
        )
        value = stamp.cast(UTC_DATETIME)
        missing = pl.lit(f"{label}: missing; expected a timestamp")
        invalid = pl.lit(f"{label}: does not exist in {timezone} (daylight saving gap)")
        return Parsed(value, pl.when(col.is_null()).then(missing).when(value.is_null()).then(invalid))
    return None


def split_rejects(
    frame: pl.LazyFrame, parsed: Mapping[str, Parsed], *, raw: pl.Expr
) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """Apply parsed columns to ``frame``; return (good rows as typed columns, rejects with reasons).

    ``frame`` must carry ``source_file`` and ``source_line``; ``raw`` is what the rejects file shows
    of the original row. The first failing field of a row is its reason.
    """
    frame = with_staged(frame, *parsed.values())
    reason = pl.coalesce([item.problem for item in parsed.values()]).alias("reason")
    staged = frame.with_columns(reason)
    good = staged.filter(pl.col("reason").is_null()).select(
        *[item.value.alias(name) for name, item in parsed.items()],
        "source_file",
        "source_line",
    )
    # ``raw`` (often a JSON encoding of the whole row) is only built for the rejected rows.
    rejects = staged.filter(pl.col("reason").is_not_null()).select(
        "source_file", pl.col("source_line").cast(pl.Int64), "reason", raw.cast(pl.String).alias("raw")
    )
    return good, rejects


def parse_rows(frame: pl.LazyFrame, parsed: Mapping[str, Parsed], *, raw: pl.Expr) -> tuple[pl.DataFrame, pl.DataFrame]:
    """:func:`split_rejects`, collected with one pass over ``frame`` instead of one per output."""
    good, rejects = split_rejects(frame, parsed, raw=raw)
    return tuple(pl.collect_all([good, rejects]))  # type: ignore[return-value]
