"""A generic outcomes file for everything else (incidents, reviews, reverts, defects from another tracker).

CSV, TSV, JSON Lines or Parquet with the columns ``developer``, ``date`` (or ``timestamp``), ``kind`` and
optionally ``count`` (default 1), ``size`` and ``item``. ``kind`` is free: its points come from
``outcomes.weights`` (a kind without a weight is listed and scores zero). Rows with the same ``item``
are one outcome; rows without one are duplicates only when every column agrees (exports overlap), so
give an ``item`` when two identical rows are really two outcomes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import polars as pl

from tokenaudit.errors import InputError
from tokenaudit.outcomes.base import OutcomeContext, OutcomeRead
from tokenaudit.outcomes.schema import conform_outcomes
from tokenaudit.readers import coerce
from tokenaudit.readers.base import Detection
from tokenaudit.readers.jsonlines import extract_fields, scan_lines
from tokenaudit.readers.parse import file_header, file_kind
from tokenaudit.readers.sources import Source
from tokenaudit.schema import empty_rejects

_COLUMNS = ("developer", "date", "timestamp", "kind", "count", "size", "item")


def _text_frame(source: Source) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Every known column as text, with file and line; and the lines that are not JSON."""
    kind = file_kind(source)
    if kind == "jsonl":
        fields, invalid = extract_fields(scan_lines([source]), {name: name for name in _COLUMNS})
        return fields.drop("line"), invalid
    try:
        frame = (
            pl.read_parquet(source.payload()).cast(pl.String)
            if kind == "parquet"
            else pl.read_csv(
                source.payload(), infer_schema=False, separator="\t" if kind == "tsv" else ",", encoding="utf8-lossy"
            )
        )
    except pl.exceptions.PolarsError as exc:
        msg = f"{source.name}: cannot read as {kind.upper()}: {str(exc).splitlines()[0]}"
        raise InputError(msg) from None
    frame = frame.rename({name: name.removeprefix("\ufeff").strip() for name in frame.columns})
    columns = frame.select(
        *[(pl.col(name) if name in frame.columns else pl.lit(None, pl.String)).alias(name) for name in _COLUMNS],
        pl.lit(source.name).alias("source_file"),
        pl.int_range(2, frame.height + 2, dtype=pl.Int64).alias("source_line"),
    )
    return columns, empty_rejects()


def read_generic(sources: Sequence[Source], timezone: str) -> OutcomeRead:
    """Outcomes from generic files; each bad row is rejected with the field and what was expected."""
    frames, invalid = zip(*[_text_frame(source) for source in sources], strict=True)
    raw = pl.concat(frames, how="diagonal_relaxed")
    parsed = {
        "developer": coerce.text("developer", required=True),
        "timestamp": coerce.timestamp("when", timezone, field="date"),
        "kind": coerce.text("kind", required=True),
        "count": coerce.count("count", required=False),
        "size": coerce.money("size", field="size"),
        "item": coerce.text("item"),
    }
    staged = raw.lazy().with_columns(
        when=pl.coalesce(pl.col("timestamp").cast(pl.String), pl.col("date").cast(pl.String)),
        count=pl.col("count").cast(pl.String).fill_null("1"),
        kind=pl.col("kind").cast(pl.String).str.strip_chars().str.to_lowercase(),
    )
    good, rejects = coerce.split_rejects(
        staged, parsed, raw=pl.concat_str(pl.col("developer"), pl.col("when"), pl.col("kind"), separator=",")
    )
    outcomes = good.collect()
    with_item = outcomes.filter(pl.col("item").is_not_null()).unique("item", keep="last", maintain_order=True)
    without = outcomes.filter(pl.col("item").is_null()).unique(
        ["developer", "timestamp", "kind", "count", "size"], keep="first", maintain_order=True
    )
    return OutcomeRead(
        outcomes=conform_outcomes(pl.concat([with_item, without]).lazy()).collect(),
        rejects=pl.concat([*invalid, rejects.collect()]),
    )


class GenericOutcomesReader:
    """Any outcome kind from a table naming developer, date and kind."""

    name: ClassVar[str] = "outcomes_generic"
    title: ClassVar[str] = "Generic outcomes (CSV/TSV/JSONL/Parquet)"
    exported_by: ClassVar[str] = (
        "any tool: columns developer,date,kind[,count,size,item] (incidents, reviews, reverts…)"
    )

    def detect(self, source: Source, context: OutcomeContext) -> Detection:
        """A header (or first JSON object) with ``developer``, ``kind`` and ``date`` or ``timestamp``."""
        header = {name.strip() for name in file_header(source, file_kind(source))}
        return Detection({"developer", "kind"} <= header and bool({"date", "timestamp"} & header))

    def read(self, sources: Sequence[Source], context: OutcomeContext) -> OutcomeRead:
        return read_generic(sources, context.timezone)
