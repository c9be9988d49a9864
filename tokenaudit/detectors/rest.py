"""S3 ``no_rest_rhythm`` (automation): activity with no daily rest period.

A person sleeps, whatever their time zone: in their own quietest 8 hours of the day there is almost
no activity, and there is a long run of nearly empty hours (rest hours). An overnight agent or a 24/7
loop fills that window and breaks the run. Both are found per developer on their circular 24-hour
profile of active minutes, so night owls and people in other time zones are not penalised and no time
zone is needed.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from tokenaudit.detectors.base import (
    Detector,
    DetectorContext,
    band_severity,
    band_strength,
    by_developer,
    capped,
    developer_and_day,
    developer_day,
    fmt_int,
    fmt_num,
    fmt_pct,
    not_evaluated,
    over_peers,
    packed,
    same_developer_as_previous,
    unpacked,
    utc_hour,
    with_own_day,
)

_WINDOW = 8


def _rhythm(minutes: pl.DataFrame, quiet_hour_share: float, min_days: int = 1) -> pl.DataFrame:
    """Per ``unit`` (an integer: a developer's code, or one packed with a week): active minutes, the quietest
    8-hour window's share and end hour, and rest hours.

    Rest hours: the longest circular run of hours each holding under ``quiet_hour_share`` of the unit's
    activity. An hour of the clock with activity on fewer than ``min_days`` days of the unit (``minutes`` then
    need a ``day``) counts as empty: one late session is not a habit. The 24-hour profile is circular, so hours
    0..6 are appended after 23 for the rolling window and two laps of the clock are walked for the runs.

    Every unit's profile is a block of rows in hour order (24, then 31 for the window, 48 for the laps), laid out
    by position: no per-unit window, sort or group-by. A rolling sum of 8 rows stays inside its block from the
    block's eighth row on, the only rows kept; the 24 kept of each block are one row of an array, whose minimum and
    its first position give the quietest window.
    """
    days = pl.col("day").n_unique() if min_days > 1 else pl.lit(1)
    unit, hour = unpacked("key", 24, pl.UInt64)
    counts = (
        minutes.group_by(packed("unit", utc_hour("minute"), 24).alias("key"))
        .agg(pl.len().alias("active"), days.alias("days"))
        .filter(pl.col("days") >= min_days)
        .select(unit.alias("unit"), hour.alias("hour"), "active")
    )
    units = counts.select(pl.col("unit").unique().sort()).with_row_index("_block")
    placed = counts.join(units, on="unit")
    active = pl.zeros(24 * units.height, pl.UInt32, eager=True).scatter(
        placed["_block"] * 24 + placed["hour"], placed["active"]
    )
    totals = active.reshape((units.height, 24)).arr.sum() if units.height else active

    def walked(hours: int) -> tuple[pl.Series, pl.Series, pl.Series]:
        """Each unit's profile walked for ``hours`` hours of the clock (0, 1, … wrapping at 24): block, hour, active."""
        row = pl.int_range(hours * units.height, dtype=pl.UInt32, eager=True)
        block, hour = row // hours, row % hours
        return block, hour, active.gather(block * 24 + hour % 24)

    # The quietest window: the 24 windows ending at hours 7..30 of each unit, one row of an array each.
    _, clock, around = walked(24 + _WINDOW - 1)
    windows = around.rolling_sum(_WINDOW).filter(clock >= _WINDOW - 1).reshape((units.height, 24))
    # Rest hours: each quiet hour's run so far (hours since the last busy hour or the walk's start), at most per unit.
    block, clock, laps = walked(48)
    walk = pl.DataFrame({"quiet": laps < quiet_hour_share * totals.gather(block), "hour": clock})
    seen = pl.col("quiet").cum_sum()
    restart = pl.when(~pl.col("quiet") | (pl.col("hour") == 0)).then(seen - pl.col("quiet").cast(pl.UInt32))
    run = walk.select(seen - restart.forward_fill()).to_series()
    return pl.DataFrame(
        {
            "unit": units["unit"],
            "active_minutes": totals,
            "quiet_share": windows.arr.min() / totals,
            "quiet_end_hour": (windows.arr.arg_min() + _WINDOW - 1).cast(pl.Int8),
            "rest_hours": run.reshape((units.height, 48)).arr.max().clip(upper_bound=24),
        }
    )


def active_minutes(requests: pl.DataFrame) -> pl.DataFrame:
    """dev, minute: each distinct minute with a request, from :func:`sorted_requests` order.

    A developer's requests are in time order, so repeated minutes are neighbours: no hashing needed.
    """
    minute = pl.col("timestamp").dt.truncate("1m")
    first_in_minute = ~(same_developer_as_previous() & (minute == minute.shift(1))).fill_null(value=False)
    return requests.filter(first_in_minute).select("dev", minute.alias("minute"))


def features(context: DetectorContext) -> pl.DataFrame:
    """Per developer: the rhythm of their active minutes, pooled and week by week."""
    config = context.flags.no_rest_rhythm
    minutes = active_minutes(context.requests)
    pooled = _rhythm(minutes.with_columns(unit="dev"), config.quiet_hour_share).select(
        pl.col("unit").cast(pl.UInt32).alias("dev"), pl.exclude("unit")
    )
    dev, _ = developer_and_day("key")
    # Minutes in time order per developer: their (dev, day) keys rise, and a group-by on a key marked sorted takes
    # each group as a slice (no hashing).
    days = (
        minutes.group_by(developer_day(pl.col("minute").dt.date()).set_sorted().alias("key"))
        .agg(utc_hour("minute").n_unique().alias("hours"), pl.len().alias("minutes"))
        .with_columns(dev.alias("dev"))
    )
    per_developer = days.group_by("dev").agg(
        pl.col("hours").median().alias("active_hours"),
        pl.len().alias("days"),
    )
    # Week by week, so that a bounded episode (an on-call week, a trip across time zones) stays one bad week
    # among good ones, while chronic round-the-clock activity fails week after week. Weeks are the developer's
    # own (from their quietest hour on Monday), so a week of nights in Sydney does not spill into two UTC weeks.
    weekly_minutes = with_own_day(minutes, "minute").with_columns(unit=developer_day(pl.col("day").dt.truncate("1w")))
    week_days = weekly_minutes.group_by(pl.col("unit").set_sorted()).agg(pl.col("day").n_unique().alias("week_days"))
    dev, _ = developer_and_day("unit")
    weeks = (
        _rhythm(weekly_minutes, config.quiet_hour_share, config.min_days_per_hour)
        .join(week_days, on="unit")
        .filter(
            (pl.col("week_days") >= config.min_days_per_week)
            & (pl.col("active_minutes") >= config.min_active_minutes_per_week)
        )
        .group_by(dev.alias("dev"))
        .agg(
            pl.len().alias("weeks"),
            pl.col("rest_hours").median().alias("weekly_rest_hours"),
            pl.col("quiet_share").median().alias("weekly_quiet_share"),
            (pl.col("rest_hours") <= config.rest_hours.medium).mean().alias("weeks_without_rest"),
        )
    )
    return by_developer(context, per_developer, pooled, weeks)


def judge(features: pl.DataFrame, context: DetectorContext) -> pl.DataFrame:
    """Per developer: rest hours and quiet-window share of a typical week (the whole period with few weeks),
    the share of weeks without rest, median active hours per day (DAH), active minutes."""
    config = context.flags.no_rest_rhythm
    by_week = pl.col("weeks").fill_null(0) >= config.min_weeks
    frame = (
        context.developers.select("developer", "peer_group")
        .join(features, on="developer", how="left")
        .with_columns(
            pl.col("active_minutes", "days", "weeks").fill_null(0),
            pl.col("rest_hours").fill_null(0).alias("pooled_rest_hours"),
            ((pl.col("quiet_end_hour") - _WINDOW + 1) % 24).alias("quiet_start_hour_utc"),
        )
        .with_columns(
            pl.when(by_week)
            .then(pl.col("weekly_rest_hours"))
            .otherwise(pl.col("pooled_rest_hours"))
            .alias("rest_hours"),
            pl.when(by_week).then(pl.col("weekly_quiet_share")).otherwise(pl.col("quiet_share")).alias("quiet_share"),
            pl.when(by_week).then(pl.lit("typical week")).otherwise(pl.lit("whole period")).alias("basis"),
        )
    )
    severity = pl.max_horizontal(
        band_severity(pl.col("quiet_share"), config.quiet_share),
        band_severity(pl.col("rest_hours"), config.rest_hours),
        band_severity(pl.col("active_hours"), config.active_hours),
    )
    strength = pl.max_horizontal(
        band_strength(pl.col("quiet_share"), config.quiet_share),
        band_strength(pl.col("rest_hours"), config.rest_hours),
        band_strength(pl.col("active_hours"), config.active_hours),
    )
    return frame.with_columns(
        capped(severity, config.max_severity).alias("severity"),
        strength.alias("strength"),
        over_peers(pl.col("quiet_share").median()).alias("peer_median_quiet_share"),
        over_peers(pl.col("rest_hours").median()).alias("peer_median_rest_hours"),
        not_evaluated(
            (pl.col("days") < config.min_active_days) | (pl.col("active_minutes") < config.min_active_minutes),
            f"per-request timestamps on at least {config.min_active_days} days and "
            f"{config.min_active_minutes} active minutes",
        ).alias("needs"),
    )


def reason(row: dict[str, Any]) -> str:
    """Quote the rest and quiet-window share of a typical week (or the whole period) against peers."""
    start = int(row["quiet_start_hour_utc"])
    weeks = (
        f" ({fmt_pct(row['weeks_without_rest'])} of {row['weeks']} weeks short of rest)"
        if row["basis"] == "typical week"
        else ""
    )
    return (
        f"the longest daily rest in a {row['basis']} was {fmt_num(row['rest_hours'], 0)} hours{weeks}, peer median "
        f"{fmt_num(row['peer_median_rest_hours'], 0)}; {fmt_pct(row['quiet_share'])} of activity fell in the "
        f"developer's own quietest 8 hours (over the period {start:02d}:00–{(start + 8) % 24:02d}:00 UTC, "
        f"{fmt_int(row['active_minutes'])} active minutes), peer median {fmt_pct(row['peer_median_quiet_share'])}."
    )


DETECTOR = Detector(
    id="no_rest_rhythm",
    family="automation",
    consider=(
        "on-call weeks",
        "travel across time zones or a split schedule",
        "a shared account used from several continents",
        "a legitimate background agent (overnight migration): outcomes tell",
    ),
    features=features,
    judge=judge,
    reason=reason,
    gauges=(("rest_hours", "rest_hours"), ("quiet_share", "quiet_share"), ("active_hours", "active_hours")),
    evidence=(
        "basis",
        "rest_hours",
        "weeks",
        "weeks_without_rest",
        "pooled_rest_hours",
        "quiet_share",
        "active_hours",
        "active_minutes",
        "days",
        "quiet_start_hour_utc",
        "peer_median_quiet_share",
    ),
    outcomes_exculpate=True,
)
