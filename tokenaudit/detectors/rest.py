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
    capped,
    fmt_int,
    fmt_num,
    fmt_pct,
    not_evaluated,
    same_developer_as_previous,
)

_WINDOW = 8


def _rest_hours(profile: pl.DataFrame, quiet_share: float) -> pl.DataFrame:
    """Longest circular run of hours each holding under ``quiet_share`` of the developer's activity."""
    quiet = profile.with_columns(quiet=pl.col("active") < quiet_share * pl.col("active").sum().over("developer"))
    # Two laps of the clock, so that a run across midnight is one run.
    laps = pl.concat([quiet, quiet.with_columns(pl.col("hour") + 24)]).sort("developer", "hour")
    runs = laps.with_columns(
        run=(pl.col("quiet") != pl.col("quiet").shift(1)).fill_null(value=True).cum_sum().over("developer")
    )
    longest = runs.filter(pl.col("quiet")).group_by("developer", "run").len()
    return longest.group_by("developer").agg(pl.col("len").max().clip(upper_bound=24).alias("rest_hours"))


def active_minutes(requests: pl.DataFrame) -> pl.DataFrame:
    """dev, minute: each distinct minute with a request, from :func:`sorted_requests` order.

    A developer's requests are in time order, so repeated minutes are neighbours: no hashing needed.
    """
    minute = pl.col("timestamp").dt.truncate("1m")
    first_in_minute = ~(same_developer_as_previous() & (minute == minute.shift(1))).fill_null(value=False)
    return requests.filter(first_in_minute).select("dev", minute.alias("minute"))


def compute(context: DetectorContext) -> pl.DataFrame:
    """Per developer: quiet-window share R8, median active hours per day (DAH), active minutes."""
    config = context.flags.no_rest_rhythm
    minutes = active_minutes(context.requests)
    profile = minutes.group_by("dev", pl.col("minute").dt.hour().alias("hour")).len("active")
    complete = (
        context.developers.select("developer", "dev")
        .join(pl.DataFrame({"hour": pl.int_range(0, 24, eager=True).cast(pl.Int8)}), how="cross")
        .join(profile.with_columns(pl.col("hour").cast(pl.Int8)), on=["dev", "hour"], how="left")
        .drop("dev")
        .with_columns(pl.col("active").fill_null(0))
    )
    # The 24-hour profile is circular: append hours 0..6 after 23 and take every 8-hour rolling sum.
    wrapped = pl.concat(
        [complete, complete.filter(pl.col("hour") < _WINDOW - 1).with_columns(pl.col("hour") + 24)]
    ).sort("developer", "hour")
    windows = wrapped.with_columns(window=pl.col("active").rolling_sum(_WINDOW).over("developer")).filter(
        pl.col("hour") >= _WINDOW - 1
    )
    quiet = windows.group_by("developer").agg(
        pl.col("window").min().alias("quiet_minutes"),
        pl.col("hour").get(pl.col("window").arg_min()).alias("quiet_end_hour"),
    )
    per_developer = (
        minutes.group_by("dev", pl.col("minute").dt.date().alias("day"))
        .agg(pl.col("minute").dt.hour().n_unique().alias("hours"), pl.len().alias("minutes"))
        .group_by("dev")
        .agg(
            pl.col("hours").median().alias("active_hours"),
            pl.len().alias("days"),
            pl.col("minutes").sum().cast(pl.UInt32).alias("active_minutes"),
        )
    )
    rest = _rest_hours(complete, config.quiet_hour_share)
    frame = (
        context.developers.select("developer", "dev", "peer_group")
        .join(per_developer, on="dev", how="left")
        .drop("dev")
        .join(quiet, on="developer", how="left")
        .join(rest, on="developer", how="left")
        .with_columns(
            (pl.col("quiet_minutes") / pl.col("active_minutes")).alias("quiet_share"),
            pl.col("active_minutes").fill_null(0),
            pl.col("days").fill_null(0),
            pl.col("rest_hours").fill_null(0),
            ((pl.col("quiet_end_hour") - _WINDOW + 1) % 24).alias("quiet_start_hour_utc"),
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
        pl.col("quiet_share").median().over("peer_group").alias("peer_median_quiet_share"),
        pl.col("rest_hours").median().over("peer_group").alias("peer_median_rest_hours"),
        not_evaluated(
            (pl.col("days") < config.min_active_days) | (pl.col("active_minutes") < config.min_active_minutes),
            f"per-request timestamps on at least {config.min_active_days} days and "
            f"{config.min_active_minutes} active minutes",
        ).alias("needs"),
    )


def reason(row: dict[str, Any]) -> str:
    """Quote the quiet-window share and the active hours against peers."""
    start = int(row["quiet_start_hour_utc"])
    return (
        f"the longest daily rest was {row['rest_hours']} hours (peer median {fmt_num(row['peer_median_rest_hours'], 0)}"
        f"); {fmt_pct(row['quiet_share'])} of {fmt_int(row['active_minutes'])} active minutes fell in the "
        f"developer's own quietest 8 hours ({start:02d}:00–{(start + 8) % 24:02d}:00 UTC), peer median "
        f"{fmt_pct(row['peer_median_quiet_share'])}."
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
    compute=compute,
    reason=reason,
    evidence=(
        "quiet_share",
        "active_hours",
        "active_minutes",
        "days",
        "quiet_start_hour_utc",
        "peer_median_quiet_share",
    ),
    outcomes_exculpate=True,
)
