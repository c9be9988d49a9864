"""The canonical event schema every reader normalises into.

One row is one API request (``grain == "request"``) or one vendor time bucket that stands for
``requests`` requests (``grain == "hour"`` / ``"day"``). Token columns are non-negative integers;
``total_tokens`` is derived with :func:`total_tokens`, never stored. ``input_tokens`` is always
*uncached* input: readers of sources whose input includes cached tokens (OpenAI, Codex, LiteLLM)
subtract the cached part so that the four token columns add up without double counting.
"""

from __future__ import annotations

from typing import Final

import polars as pl

UTC_DATETIME: Final = pl.Datetime("us", "UTC")

TOKEN_COLUMNS: Final = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")

EVENT_SCHEMA: Final[dict[str, pl.DataType]] = {
    "timestamp": UTC_DATETIME,
    "developer": pl.String(),
    "team": pl.String(),
    "tool": pl.String(),
    "model": pl.String(),
    "session_id": pl.String(),
    "request_id": pl.String(),
    "input_tokens": pl.Int64(),
    "output_tokens": pl.Int64(),
    "cache_read_tokens": pl.Int64(),
    "cache_write_tokens": pl.Int64(),
    "cache_write_1h_tokens": pl.Int64(),
    "errored_tokens": pl.Int64(),
    "cost_usd": pl.Float64(),
    "requests": pl.Int64(),
    "grain": pl.String(),
    "prompt_hash": pl.String(),
    "prompt_signature": pl.UInt64(),
    "turn": pl.String(),
    "accepted": pl.Int64(),
    "rejected": pl.Int64(),
    "source_format": pl.String(),
    "source_file": pl.String(),
    "source_line": pl.Int64(),
    "dedup_key": pl.String(),
}
"""Column name -> dtype. ``dedup_key`` identifies one real-world event across overlapping exports.
``prompt_signature`` is a 64-bit SimHash of the prompt that triggered the request (never its text, see
:mod:`tokenaudit.signatures`); ``turn`` says what triggered it: ``prompt`` (a person or a script) or
``tool`` (tool results sent back by the agent), null when unknown.

``cache_write_1h_tokens`` is the part of ``cache_write_tokens`` written to the 1-hour cache (Anthropic prices
it at 2x input, the 5-minute cache at 1.25x); null where the source does not split writes. It is a part, not a
fifth kind: ``cache_write_tokens`` stays the total of writes, so totals do not depend on it.

``errored_tokens`` are the tokens of a request the vendor reports as errored and not charged (Cursor's
``Errored, No Charge``): the row's token columns are 0 and its cost $0, so an errored request adds nothing to
the totals (nor climbs a leaderboard), and its tokens are reported apart per developer."""

REQUIRED_COLUMNS: Final = ("timestamp", "developer", *TOKEN_COLUMNS)
"""Columns a flat export must provide (directly or through the policy's ``columns:`` map)."""

GRAINS: Final = ("request", "hour", "day")

REJECT_SCHEMA: Final[dict[str, pl.DataType]] = {
    "source_file": pl.String(),
    "source_line": pl.Int64(),
    "reason": pl.String(),
    "raw": pl.String(),
}
"""One row per input row that could not be read: where it was and why."""


def total_tokens() -> pl.Expr:
    """Sum of the four token columns: the number a token leaderboard ranks by."""
    return pl.sum_horizontal(*TOKEN_COLUMNS).alias("total_tokens")


def kept_copies(candidates: pl.LazyFrame, key: str = "dedup_key") -> pl.LazyFrame:
    """The copy of each ``key`` that the dedup keeps, among rows (in input order) of ``_total`` (total tokens),
    ``source_file`` (names, or codes in the names' order) and ``source_line`` that hold every copy of their keys: the
    most tokens, then the first file, then the first line, then the first row. The one rule of the ingest
    (:func:`~tokenaudit.shards.losing_copies`) and of readers that drop copies themselves."""
    return (
        candidates.filter(pl.col("_total") == pl.col("_total").max().over(key))
        .filter(pl.col("source_file").eq_missing(pl.col("source_file").min().over(key)))
        .filter(pl.col("source_line").eq_missing(pl.col("source_line").min().over(key)))
        # Only the very same file given twice leaves two rows now, and those are identical.
        .unique(key, keep="first", maintain_order=True)
    )


def repeated(values: pl.Expr) -> pl.Expr:
    """``values.is_duplicated()`` found by a sort (:func:`repeated_values`, in a lazy query): on 10M mostly distinct
    64-bit hashes about three times cheaper than its hash table (the repeated values are few, so looking each row up
    among them is cheap)."""
    ordered = values.sort()
    return values.is_in(ordered.filter(ordered == ordered.shift(1)).implode())


def repeated_values(values: pl.Series) -> pl.Series:
    """The values that occur more than once in ``values``, each once (a null never counts): found by a sort and a
    comparison of neighbours (two slices of the sorted values), on mostly distinct 64-bit hashes a few times cheaper
    than ``is_duplicated``'s table of every value. The one spelling of "repeated" for the dedup's key hashes, a
    reader's response groups and the turns' owners; ``values.is_in(repeated_values(values).implode())`` marks rows."""
    ordered = values.sort()
    later = ordered.slice(1)
    return later.filter(later == ordered.slice(0, later.len())).unique()


def request_key() -> pl.Expr:
    """``rid:<request_id>``: the dedup key of a row that has a request id (flat exports), which the ingest rebuilds
    instead of holding a copy of every id."""
    return pl.concat_str(pl.lit("rid:"), pl.col("request_id"))


def context_tokens() -> pl.Expr:
    """Context sent with a request: uncached input plus cache reads and writes."""
    return pl.sum_horizontal("input_tokens", "cache_read_tokens", "cache_write_tokens")


def conform(frame: pl.LazyFrame, *, codes: bool = False) -> pl.LazyFrame:
    """Add missing optional columns as nulls and order/cast columns to :data:`EVENT_SCHEMA` (``codes``: a categorical
    text column stays categorical)."""
    schema = frame.collect_schema()
    return frame.select(
        [
            pl.col(name)
            if codes and schema.get(name) == pl.Categorical
            else (pl.col(name) if name in schema else pl.lit(None)).cast(dtype).alias(name)
            for name, dtype in EVENT_SCHEMA.items()
        ]
    )


def empty_events() -> pl.DataFrame:
    """An event frame with no rows and the canonical schema."""
    return pl.DataFrame(schema=EVENT_SCHEMA)


def empty_rejects() -> pl.DataFrame:
    """A rejects frame with no rows."""
    return pl.DataFrame(schema=REJECT_SCHEMA)
