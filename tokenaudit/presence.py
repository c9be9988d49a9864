"""Time present in the period, so the adjusted board ranks people on the time they were there.

A new joiner with three weeks of a six-week period has half the tokens *and* half the outcomes of a
colleague; compared on tokens alone, with diminishing returns, they would sink for weeks they were not
there. Presence is the share of the period a developer was there, times their working fraction:

- **Tenure** runs from the policy's ``starts`` (identity map) or else the first active day (token use, a PR
  opened or merged, a ticket closed) when the silence before it is at least ``GRACE_DAYS`` long and, at the
  developer's own daily rate of activity, would happen by chance less than ``CHANCE`` of the time; else from
  the period start. The same for ``ends``. A quiet week or two, or a light user's quiet fortnight, is not a
  late start.
- **Working fraction** is the policy's ``fte``, or else inferred from a fixed weekly schedule: a weekday
  (Monday–Friday) never active in the whole tenure counts as a day off only when, at the developer's rate
  of activity on their other weekdays, so many silent weeks would happen by chance less than ``CHANCE`` of the
  time. Someone who uses AI on random days is not made part-time by it.

- **On call**: days of the identity map's ``on_call`` rotations inside the tenure count as not present. An
  on-call week's work is pages and incidents, which no outcome export counts as delivered (an incident export
  even charges the responder), so the ranking does not expect delivery on those days. It is never inferred from
  night or weekend activity: that is also what an agent run at night looks like, and the flags look for it.

Absences inside the tenure (holidays, sick leave) are not detected: declare them with ``starts``/``ends`` or
``fte`` if they matter.
"""

from __future__ import annotations

import datetime as dt
from typing import Final

import polars as pl

from tokenaudit.policy import Identity

GRACE_DAYS: Final = 14
"""A silence shorter than this (a holiday) at the start or end of the period never moves the tenure."""
CHANCE: Final = 0.01
"""A weekday is a day off when that many silent weeks would happen by chance less often than this."""
MIN_WEEKS_FOR_SCHEDULE: Final = 2.0
"""Shorter tenures are too short to tell a schedule from chance."""
WORKDAYS: Final = 5


def declared_presence(identities: dict[str, Identity]) -> pl.DataFrame:
    """developer, starts, ends, fte as the identity map declares them (nulls where it says nothing)."""
    return pl.DataFrame(
        {
            "developer": list(identities),
            "declared_starts": [identity.starts for identity in identities.values()],
            "declared_ends": [identity.ends for identity in identities.values()],
            "declared_fte": [identity.fte for identity in identities.values()],
        },
        schema={
            "developer": pl.String,
            "declared_starts": pl.Date,
            "declared_ends": pl.Date,
            "declared_fte": pl.Float64,
        },
    )


def declared_on_call(identities: dict[str, Identity]) -> pl.DataFrame:
    """developer, day: every day of the identity map's on-call rotations (overlapping rotations counted once)."""
    spans = [(name, span.starts, span.ends) for name, identity in identities.items() for span in identity.on_call]
    frame = pl.DataFrame(spans, schema={"developer": pl.String, "starts": pl.Date, "ends": pl.Date}, orient="row")
    return (
        frame.select("developer", pl.date_ranges("starts", "ends").alias("day"))
        .explode("day")
        .unique()
        .cast({"day": pl.Date})
    )


def presence(
    active_days: pl.DataFrame,
    first: dt.date,
    last: dt.date,
    declared: pl.DataFrame,
    on_call: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Per developer: starts, ends, fte, on_call_days, presence (share of the period × fte, in (0, 1]) and the
    bases of tenure and fte.

    ``active_days``: developer, day (local dates with any activity; duplicates are fine). ``on_call``: developer,
    day (:func:`declared_on_call`); those inside the tenure are not counted as present.
    """
    period_days = (last - first).days + 1
    days = active_days.filter(pl.col("day").is_between(first, last)).unique(["developer", "day"])
    span = days.group_by("developer").agg(
        pl.col("day").min().alias("first_active"), pl.col("day").max().alias("last_active"), pl.len().alias("active")
    )
    # Daily activity rate over the active span; a silent stretch at either end is an absence only when
    # it is at least GRACE_DAYS long and that rate would leave it silent by chance less than CHANCE of the time.
    rate = pl.col("active") / ((pl.col("last_active") - pl.col("first_active")).dt.total_days() + 1)

    def absent(gap: pl.Expr) -> pl.Expr:
        return (gap >= GRACE_DAYS) & ((1 - rate).pow(gap) < CHANCE)

    lead = (pl.col("first_active") - pl.lit(first)).dt.total_days()
    trail = (pl.lit(last) - pl.col("last_active")).dt.total_days()
    tenure = span.join(declared, on="developer", how="left").with_columns(
        starts=pl.coalesce("declared_starts", pl.when(absent(lead)).then("first_active").otherwise(pl.lit(first))).clip(
            first, last
        ),
        ends=pl.coalesce("declared_ends", pl.when(absent(trail)).then("last_active").otherwise(pl.lit(last))).clip(
            first, last
        ),
    )
    tenure = tenure.with_columns(tenure_days=((pl.col("ends") - pl.col("starts")).dt.total_days() + 1).clip(1))
    schedule = _inferred_fte(days, tenure.select("developer", "starts", "ends", "tenure_days"))
    rotations = _on_call_days(on_call, tenure.select("developer", "starts", "ends"))
    return (
        tenure.join(schedule, on="developer", how="left")
        .join(rotations, on="developer", how="left")
        .with_columns(
            fte=pl.coalesce("declared_fte", "inferred_fte", pl.lit(1.0)),
            on_call_days=pl.col("on_call_days").fill_null(0),
        )
        .select(
            "developer",
            "starts",
            "ends",
            "fte",
            "on_call_days",
            ((pl.col("tenure_days") - pl.col("on_call_days")) / period_days * pl.col("fte"))
            .clip(1e-3, 1.0)
            .alias("presence"),
            pl.when(pl.col("declared_starts").is_not_null() | pl.col("declared_ends").is_not_null())
            .then(pl.lit("policy"))
            .when(pl.col("tenure_days") < period_days)
            .then(pl.lit("activity"))
            .otherwise(pl.lit("whole period"))
            .alias("tenure_basis"),
            pl.when(pl.col("declared_fte").is_not_null())
            .then(pl.lit("policy"))
            .when(pl.col("fte") < 1)
            .then(pl.lit("weekly schedule"))
            .otherwise(pl.lit("full time"))
            .alias("fte_basis"),
        )
    )


def _on_call_days(on_call: pl.DataFrame | None, tenure: pl.DataFrame) -> pl.DataFrame:
    """developer, on_call_days: declared on-call days inside each developer's tenure."""
    if on_call is None or on_call.is_empty():
        return pl.DataFrame(schema={"developer": pl.String, "on_call_days": pl.UInt32})
    return (
        on_call.join(tenure, on="developer")
        .filter(pl.col("day").is_between(pl.col("starts"), pl.col("ends")))
        .group_by("developer")
        .agg(pl.len().alias("on_call_days"))
    )


def _inferred_fte(days: pl.DataFrame, tenure: pl.DataFrame) -> pl.DataFrame:
    """developer, inferred_fte: working weekdays / 5, where a weekday silent all tenure is off only beyond chance."""
    weekdays = (
        days.join(tenure, on="developer")
        .filter(pl.col("day").is_between(pl.col("starts"), pl.col("ends")) & (pl.col("day").dt.weekday() <= WORKDAYS))
        .group_by("developer", pl.col("day").dt.weekday().alias("weekday"))
        .agg(pl.len().alias("active"))
        .group_by("developer")
        .agg(pl.len().alias("working_weekdays"), pl.col("active").sum())
    )
    weeks = pl.col("tenure_days") / 7
    # Activity rate on the weekdays the developer does work, and the chance that a weekday they work
    # just as often stayed silent for the whole tenure.
    rate = (pl.col("active") / (weeks * pl.col("working_weekdays"))).clip(0.0, 1.0)
    silent_by_chance = (1 - rate).pow(weeks)
    off = pl.when((weeks >= MIN_WEEKS_FOR_SCHEDULE) & (silent_by_chance < CHANCE)).then(
        WORKDAYS - pl.col("working_weekdays")
    )
    return tenure.join(weekdays, on="developer", how="left").select(
        "developer", ((WORKDAYS - off.fill_null(0)) / WORKDAYS).alias("inferred_fte")
    )
