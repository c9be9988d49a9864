"""Timing against the leaderboard: S6 ``snapshot_spike`` and S7 ``launch_step``.

Both need the policy's ``leaderboard:`` section (snapshot weekday/time, launch date). Without it they
report "not evaluated", never a silent pass.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl

from tokenaudit.detectors.base import (
    Detector,
    DetectorContext,
    band_severity,
    band_strength,
    capped,
    fmt_num,
    fmt_pct,
    not_evaluated,
    over_peers,
)
from tokenaudit.schema import total_tokens

_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _unevaluated(context: DetectorContext, needs: str) -> pl.DataFrame:
    return context.developers.select(
        "developer", pl.lit(0).alias("severity"), pl.lit(0.0).alias("strength"), pl.lit(needs).alias("needs")
    )


def _next_snapshot(weekday: int, at: dt.time) -> pl.Expr:
    """The first snapshot (UTC) strictly after each event's timestamp."""
    ts = pl.col("timestamp")
    days_ahead = (weekday - ts.dt.weekday() + 7) % 7
    offset = pl.duration(hours=at.hour, minutes=at.minute)
    candidate = ts.dt.truncate("1d") + pl.duration(days=days_ahead) + offset
    return pl.when(candidate > ts).then(candidate).otherwise(candidate + pl.duration(days=7))


def snapshot_features(context: DetectorContext) -> pl.DataFrame:
    """Per developer and following snapshot: tokens in the week and in the window before it, and the developer's
    first and last event (the period's first and last events say which weeks are whole)."""
    board = context.leaderboard
    if board.snapshot_weekday is None:
        return pl.DataFrame()
    weekday = _WEEKDAYS.index(board.snapshot_weekday) + 1
    at = dt.time.fromisoformat(board.snapshot_time)
    window = pl.duration(hours=context.flags.snapshot_spike.window_hours)
    return (
        context.events.select("developer", "timestamp", total_tokens())
        .with_columns(snapshot=_next_snapshot(weekday, at))
        .with_columns(in_window=pl.col("snapshot") - pl.col("timestamp") <= window)
        .group_by("developer", "snapshot")
        .agg(
            pl.col("total_tokens").sum().alias("week_tokens"),
            pl.col("total_tokens").filter(pl.col("in_window")).sum().alias("window_tokens"),
            pl.col("timestamp").min().alias("first"),
            pl.col("timestamp").max().alias("last"),
        )
    )


def judge_snapshot(features: pl.DataFrame, context: DetectorContext) -> pl.DataFrame:
    """Share of each developer's tokens in the window before snapshots, and its lift over peers."""
    config = context.flags.snapshot_spike
    if context.leaderboard.snapshot_weekday is None:
        return _unevaluated(context, "leaderboard.snapshot_weekday in the policy")
    first, last = features["first"].min(), features["last"].max()
    weekly = (
        features.filter(
            (pl.col("snapshot") - pl.duration(days=7) >= pl.lit(first)) & (pl.col("snapshot") <= pl.lit(last))
        )
        .drop("first", "last")
        .with_columns(week_share=pl.col("window_tokens") / pl.col("week_tokens"))
    )
    snapshots = weekly["snapshot"].n_unique()
    peers = context.developers.select("developer", "peer_group", "active_days")
    weekly = weekly.join(peers, on="developer").with_columns(
        week_lift=pl.col("week_share") / over_peers(pl.col("week_share").median(), "snapshot")
    )
    stats = weekly.group_by("developer").agg(
        (pl.col("window_tokens").sum() / pl.col("week_tokens").sum()).alias("share"),
        (pl.col("week_lift") >= config.lift.low).mean().alias("consistency"),
    )
    frame = (
        peers.join(stats, on="developer", how="left")
        .with_columns(over_peers(pl.col("share").median()).alias("peer_median_share"))
        .with_columns(
            (pl.col("share") / pl.col("peer_median_share")).alias("lift"), pl.lit(snapshots).alias("snapshots")
        )
    )
    lift = band_severity(pl.col("lift"), config.lift)
    share, consistent = pl.col("share"), pl.col("consistency") >= config.consistency
    severity = (
        pl.when((lift == 3) & (share >= config.min_share_high) & consistent)
        .then(3)
        .when((lift >= 2) & (share >= config.min_share_medium) & consistent)
        .then(2)
        .when(lift >= 1)
        .then(1)
        .otherwise(0)
    )
    return frame.with_columns(
        capped(severity, config.max_severity).alias("severity"),
        band_strength(pl.col("lift"), config.lift).alias("strength"),
        not_evaluated(
            (pl.col("snapshots") < config.min_snapshots) | (pl.col("active_days") < config.min_active_days),
            f"at least {config.min_snapshots} leaderboard snapshots in the period and "
            f"{config.min_active_days} active days",
        ).alias("needs"),
    )


def reason_snapshot(row: dict[str, Any]) -> str:
    """Quote the share in the pre-snapshot windows and its lift over peers."""
    return (
        f"{fmt_pct(row['share'])} of tokens were used in the 24 h before the {row['snapshots']} weekly leaderboard "
        f"snapshots ({fmt_num(row['lift'], 1)}× the peer median of {fmt_pct(row['peer_median_share'])}); "
        f"the spike recurs in {fmt_pct(row['consistency'])} of weeks."
    )


def launch_features(context: DetectorContext) -> pl.DataFrame:
    """Per developer and day: tokens, and the day's first and last event (the period's say which days count)."""
    if context.leaderboard.launched is None:
        return pl.DataFrame()
    return context.events.group_by("developer", pl.col("timestamp").dt.date().alias("day")).agg(
        total_tokens().sum(), pl.col("timestamp").min().alias("first"), pl.col("timestamp").max().alias("last")
    )


def judge_launch(features: pl.DataFrame, context: DetectorContext) -> pl.DataFrame:
    """Step in mean workday tokens after launch, relative to peers' step, with a CUSUM alarm.

    Only workdays inside the data count (days before the first event are unknown, not zero); days
    without activity inside it count as zero, so a developer who simply starts working more shows.
    """
    config = context.flags.launch_step
    launched = context.leaderboard.launched
    if launched is None:
        return _unevaluated(context, "leaderboard.launched in the policy")
    first, last = features["first"].min(), features["last"].max()
    if not isinstance(first, dt.datetime) or not isinstance(last, dt.datetime):
        return _unevaluated(context, "events in the period")
    start = max(launched - dt.timedelta(days=config.window_days), first.date())
    end = min(launched + dt.timedelta(days=config.window_days - 1), last.date())
    days = pl.DataFrame({"day": pl.date_range(start, max(start, end), eager=True)}).filter(
        pl.col("day").dt.weekday() <= 5
    )
    daily = features.drop("first", "last")
    grid = (
        context.developers.select("developer")
        .join(days, how="cross")
        .join(daily, on=["developer", "day"], how="left")
        .with_columns(pl.col("total_tokens").fill_null(0), post=pl.col("day") >= launched)
        .sort("developer", "day")
    )
    log_tokens = (pl.col("total_tokens") + 1).log()
    log_pre = log_tokens.filter(~pl.col("post"))
    mu = log_pre.median().over("developer")
    sigma = pl.max_horizontal(1.4826 * (log_pre - log_pre.median()).abs().median(), pl.lit(0.25)).over("developer")
    drift = pl.when(pl.col("post")).then((log_tokens - mu) / sigma - config.cusum_k).otherwise(0.0)
    cumulative = drift.cum_sum().over("developer")
    cusum = cumulative - pl.min_horizontal(cumulative.cum_min().over("developer"), pl.lit(0.0))
    alarm_by = launched + dt.timedelta(days=config.alarm_within_days)
    stats = (
        grid.with_columns(cusum=cusum)
        .group_by("developer")
        .agg(
            pl.col("total_tokens").filter(~pl.col("post")).mean().alias("pre_mean"),
            pl.col("total_tokens").filter(pl.col("post")).mean().alias("post_mean"),
            (pl.col("total_tokens") > 0).filter(~pl.col("post")).sum().alias("pre_days"),
            (pl.col("total_tokens") > 0).filter(pl.col("post")).sum().alias("post_days"),
            ((pl.col("cusum") >= config.cusum_h) & (pl.col("day") < alarm_by)).any().alias("alarm"),
        )
    )
    frame = (
        context.developers.select("developer", "peer_group")
        .join(stats, on="developer", how="left")
        .with_columns(step=pl.col("post_mean") / pl.col("pre_mean"))
        .with_columns(
            (pl.col("step") / over_peers(pl.col("step").median())).alias("relative_step"),
            over_peers(pl.col("step").median()).alias("peer_median_step"),
        )
    )
    band = band_severity(pl.col("relative_step"), config.relative_step)
    severity = pl.when((band >= 2) & ~pl.col("alarm")).then(1).otherwise(band)
    minimum = config.min_active_days_each_side
    return frame.with_columns(
        capped(severity, config.max_severity).alias("severity"),
        band_strength(pl.col("relative_step"), config.relative_step).alias("strength"),
        not_evaluated(
            (pl.col("pre_days").fill_null(0) < minimum) | (pl.col("post_days").fill_null(0) < minimum),
            f"at least {minimum} active workdays on each side of the leaderboard launch",
        ).alias("needs"),
    )


def reason_launch(row: dict[str, Any]) -> str:
    """Quote the step against the peers' step."""
    return (
        f"mean workday tokens rose {fmt_num(row['step'], 1)}× after the leaderboard launch, "
        f"{fmt_num(row['relative_step'], 1)}× the peer median step of {fmt_num(row['peer_median_step'], 1)}×"
        f"{' (a sustained change within two weeks)' if row['alarm'] else ''}."
    )


SNAPSHOT_SPIKE = Detector(
    id="snapshot_spike",
    family="timing",
    consider=(
        "release or sprint deadlines that fall on snapshot days",
        "a team crunch (peers absorb team-wide effects)",
        "absences around the snapshot",
    ),
    features=snapshot_features,
    judge=judge_snapshot,
    reason=reason_snapshot,
    evidence=("share", "lift", "peer_median_share", "consistency", "snapshots"),
    outcomes_exculpate=True,
)

LAUNCH_STEP = Detector(
    id="launch_step",
    family="inflation",
    consider=(
        "adopting AI because of the launch (its intended effect)",
        "a new project or a move to another team",
    ),
    features=launch_features,
    judge=judge_launch,
    reason=reason_launch,
    evidence=("pre_mean", "post_mean", "pre_days", "post_days", "step", "relative_step", "peer_median_step", "alarm"),
    outcomes_exculpate=True,
)
