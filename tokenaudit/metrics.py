"""Aggregations over canonical events, as reusable Polars expressions and frame functions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import polars as pl

from tokenaudit.errors import UsageError
from tokenaudit.schema import TOKEN_COLUMNS, total_tokens

GROUP_KEYS: Final = ("developer", "team", "tool", "model", "day", "week")


def local_day(timezone: str) -> pl.Expr:
    """The calendar date of each event in ``timezone``."""
    return pl.col("timestamp").dt.convert_time_zone(timezone).dt.date()


def _key_expr(key: str, timezone: str) -> pl.Expr:
    if key == "day":
        return local_day(timezone).alias("day")
    if key == "week":
        day = local_day(timezone)
        return pl.format("{}-W{}", day.dt.iso_year(), day.dt.week().cast(pl.String).str.zfill(2)).alias("week")
    return pl.col(key)


def usage_aggregates(timezone: str) -> list[pl.Expr]:
    """Token sums, request counts, active days and cost for any grouping.

    ``cost_usd`` sums only priced events and is null when none was priced; ``unpriced_tokens`` says how
    much usage the cost leaves out, so a missing price is visible rather than a silent $0.
    """
    cost = pl.col("cost_usd")
    return [
        *[pl.col(name).sum() for name in TOKEN_COLUMNS],
        total_tokens().sum(),
        pl.col("requests").sum(),
        local_day(timezone).n_unique().alias("active_days"),
        # Summed in integer nano-dollars: a float sum depends on the (parallel) order of its terms, and the
        # same input must give the same report to the last digit.
        pl.when(cost.is_not_null().any()).then((cost * 1e9).round().cast(pl.Int64).sum() / 1e9).alias("cost_usd"),
        total_tokens().filter(cost.is_null()).sum().alias("unpriced_tokens"),
        pl.col("errored_tokens").sum(),
    ]


def totals(events: pl.DataFrame, by: Sequence[str], timezone: str) -> pl.DataFrame:
    """Usage grouped by ``by`` (any of :data:`GROUP_KEYS`): time keys (day, week) in time order, then largest total
    first, ties by key."""
    unknown = [key for key in by if key not in GROUP_KEYS]
    if unknown or not by:
        msg = f"--by: unknown key {unknown[0]!r}" if unknown else "--by: give at least one key"
        raise UsageError(f"{msg}; expected any of: {', '.join(GROUP_KEYS)}")
    keys = list(dict.fromkeys(by))
    times = [key for key in keys if key in ("day", "week")]
    order = [*times, "total_tokens", *keys]
    return (
        events.lazy()
        .group_by([_key_expr(key, timezone) for key in keys])
        .agg(usage_aggregates(timezone))
        .sort(order, descending=[name == "total_tokens" for name in order], nulls_last=True)
        .collect()
    )
