"""Per-developer views of the events that the report and ``explain`` show beside the audit: minutes holding a request
by hour of week, sessions, gaps between requests.

Each view is a function of whole developers' events, so a developer shard gives its developers' rows, and the
shards' rows put together (:meth:`EventViews.merged`) are the whole period's: past the memory budget the report and
``explain`` read these, never the events (:func:`tokenaudit.shards.developer_digest`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import polars as pl

from tokenaudit.detectors.base import sorted_requests
from tokenaudit.detectors.config import HeadlessWork
from tokenaudit.detectors.shape import sessions, with_person_turns
from tokenaudit.schema import total_tokens

GAP_EDGES_S: Final = (60, 120, 300, 600, 1800, 3600, 3 * 3600)
GAP_LABELS: Final = ("<1m", "1-2m", "2-5m", "5-10m", "10-30m", "30-60m", "1-3h", ">3h")
MINUTES_ORDER: Final = ("developer", "week", "weekday", "hour")
SESSIONS_ORDER: Final = ("developer", "start", "session_id")


@dataclass(frozen=True)
class EventViews:
    """The views one command needs (the others None)."""

    minutes: pl.DataFrame | None = None
    """report: :func:`minute_grid`."""
    sessions: pl.DataFrame | None = None
    """report: :func:`session_spans`."""
    gaps: pl.DataFrame | None = None
    """explain: :func:`gap_histogram` of every developer."""
    explained: pl.DataFrame | None = None
    """explain: the events of the developer explained (every developer of that name in any case)."""

    @staticmethod
    def merged(parts: Sequence[EventViews]) -> EventViews:
        """The views of the events of every developer shard (one at least), from theirs: rows put back in order."""

        def joined(frames: list[pl.DataFrame | None], order: Sequence[str] = ()) -> pl.DataFrame | None:
            present = [frame for frame in frames if frame is not None]
            if not present:
                return None
            whole = pl.concat(present, how="vertical")
            return whole.sort(order) if order else whole

        return EventViews(
            minutes=joined([part.minutes for part in parts], MINUTES_ORDER),
            sessions=joined([part.sessions for part in parts], SESSIONS_ORDER),
            gaps=joined([part.gaps for part in parts]),
            explained=joined([part.explained for part in parts]),
        )


def report_views(events: pl.DataFrame, headless: HeadlessWork, timezone: str) -> EventViews:
    """What the report's developer details read of the period's events."""
    return EventViews(minutes=minute_grid(events, timezone), sessions=session_spans(events, headless, timezone))


def explain_views(events: pl.DataFrame, developer: str) -> EventViews:
    """What ``explain`` reads of the period's events: the events of ``developer`` (in any case: the name it was asked
    for may differ in case from the data's) and every developer's gaps, the peers' baseline."""
    named = pl.col("developer").str.to_lowercase() == developer.lower()
    return EventViews(gaps=gap_histogram(events), explained=events.filter(named))


def week_start(day: pl.Expr) -> pl.Expr:
    """The Monday of the ISO week of ``day``."""
    return day.dt.truncate("1w")


def minute_grid(events: pl.DataFrame, timezone: str) -> pl.DataFrame:
    """developer, week (local Monday), weekday (1 = Monday), hour, minutes: the local minutes holding a request."""
    local = pl.col("timestamp").dt.convert_time_zone(timezone)
    return (
        events.filter(pl.col("grain") == "request")
        .select("developer", local.dt.truncate("1m").alias("minute"))
        .unique()
        .group_by(
            "developer",
            week_start(pl.col("minute").dt.date()).alias("week"),
            pl.col("minute").dt.weekday().alias("weekday"),
            pl.col("minute").dt.hour().alias("hour"),
        )
        .len("minutes")
        .sort(MINUTES_ORDER)
    )


def minutes_by_hour(grid: pl.DataFrame) -> pl.DataFrame:
    """developer, weekday, hour, active_minutes: the :func:`minute_grid` summed over its weeks (a minute lies in one
    week), which is :func:`active_minutes_by_hour` of the same events."""
    return (
        grid.group_by("developer", "weekday", "hour")
        .agg(pl.col("minutes").sum().alias("active_minutes"))
        .sort("developer", "weekday", "hour")
    )


def active_minutes_by_hour(events: pl.DataFrame, timezone: str) -> pl.DataFrame:
    """developer, weekday (1 = Monday), hour, active_minutes: minutes with a request, in the audit's zone."""
    return minutes_by_hour(minute_grid(events, timezone))


def session_kinds(events: pl.DataFrame, headless: HeadlessWork) -> pl.DataFrame:
    """developer, session_id, headless: each session judged by the ``headless_work`` detector's rule (a person's
    prompt after a pause to think makes it interactive), with the policy's settings, so the page and the flag agree.
    Sessions of sources without per-request rows are not judged (absent here: unknown)."""
    requests, codes = sorted_requests(events)
    return (
        sessions(with_person_turns(requests, headless))
        .join(codes, on="dev")
        .select("developer", "session_id", "headless")
    )


def session_spans(events: pl.DataFrame, headless: HeadlessWork, timezone: str) -> pl.DataFrame:
    """developer, session_id, start, end (local, to the minute), minutes holding a request, requests, tokens and
    whether it was headless (:func:`session_kinds`), per session, in order of developer and start."""
    local = pl.col("timestamp").dt.convert_time_zone(timezone)
    return (
        events.filter(pl.col("session_id").is_not_null())
        .group_by("developer", "session_id")
        .agg(
            local.min().dt.strftime("%Y-%m-%dT%H:%M").alias("start"),
            local.max().dt.strftime("%Y-%m-%dT%H:%M").alias("end"),
            local.dt.truncate("1m").n_unique().cast(pl.Int64).alias("minutes"),
            pl.col("requests").sum(),
            total_tokens().sum().alias("tokens"),
        )
        .join(session_kinds(events, headless), on=["developer", "session_id"], how="left")
        .sort(SESSIONS_ORDER)
    )


def _bucket(seconds: pl.Expr) -> pl.Expr:
    """The label of the [edge, next edge) bucket a gap falls in."""
    index = pl.sum_horizontal([(seconds >= edge).cast(pl.Int32) for edge in GAP_EDGES_S])
    return index.replace_strict(dict(enumerate(GAP_LABELS)), return_dtype=pl.String)


def gap_histogram(events: pl.DataFrame) -> pl.DataFrame:
    """developer, bucket, count, share: gaps between consecutive requests of each developer, bucketed."""
    gaps = (
        events.filter(pl.col("grain") == "request")
        .sort("developer", "timestamp")
        .with_columns(gap=pl.col("timestamp").diff().over("developer").dt.total_seconds())
        .filter(pl.col("gap").is_not_null())
        .with_columns(bucket=_bucket(pl.col("gap")))
    )
    return (
        gaps.group_by("developer", "bucket")
        .len("count")
        .with_columns(share=pl.col("count") / pl.col("count").sum().over("developer"))
    )
