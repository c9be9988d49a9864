"""S2 ``machine_regularity`` (automation): session or episode starts too regular for a person.

People work in bursts with heavy-tailed pauses; a loop fires at its period. The series is session
starts when there are enough of them, else *episode* starts (runs of requests separated by a pause),
never single requests: a cron run that sends five requests looks bursty request by request.
Statistics: Shinomoto's local variation LV of consecutive gaps and the share of consecutive gap pairs
within 10% of each other (both local, so a loop stays visible through nights, weekends and mixed human
use, where whole-series statistics blur), the finite-size corrected burstiness A_n (Kim & Jo 2016), the
share of gaps near the modal gap, and phase lock to the loop's period (cron schedules).
"""

from __future__ import annotations

import math
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
    seconds_since_previous,
)
from tokenaudit.detectors.config import MachineRegularity

_LOG_BIN = math.log(1.02)


def _starts(requests: pl.DataFrame, config: MachineRegularity) -> pl.DataFrame:
    """One row per start (session start, or episode start for developers with few sessions), in order."""
    gap = seconds_since_previous()
    episode = gap.is_null() | (gap > config.episode_gap_seconds)
    use_sessions = pl.col("opens_session").sum().over("dev") >= config.min_sessions_for_session_series
    return requests.filter(pl.when(use_sessions).then(pl.col("opens_session")).otherwise(episode)).select(
        "dev", "timestamp"
    )


def features(requests: pl.DataFrame, config: MachineRegularity) -> pl.DataFrame:
    """Per developer (``dev``) from their own requests (see ``sorted_requests``): interval statistics."""
    intervals = (
        _starts(requests, config)
        .with_columns(delta=seconds_since_previous())
        .filter(pl.col("delta") > 1)
        .with_columns(log_bin=(pl.col("delta").log() / _LOG_BIN).floor().cast(pl.Int64))
    )
    bins = intervals.group_by("dev", "log_bin").len()
    modal = (
        bins.sort("len", "log_bin", descending=[True, False])
        .group_by("dev", maintain_order=True)
        .first()
        .select("dev", pl.col("log_bin").alias("modal_bin"))
    )
    near_modal = (
        bins.join(modal, on="dev")
        .filter((pl.col("log_bin") - pl.col("modal_bin")).abs() <= 1)
        .group_by("dev")
        .agg(pl.col("len").sum().alias("near_modal"))
    )
    cv = pl.col("delta").std() / pl.col("delta").mean()
    following = pl.col("delta").shift(-1)
    pair = (pl.col("delta") - following) / (pl.col("delta") + following)
    stats = intervals.group_by("dev").agg(
        pl.len().alias("n_intervals"),
        cv.alias("cv"),
        (3 * pair.pow(2)).mean().alias("local_variation"),
        (pair.abs() < 0.1).filter(following.is_not_null()).mean().alias("steady_share"),
        pl.col("delta").median().alias("median_interval_s"),
        pl.col("timestamp").dt.date().n_unique().alias("days"),
    )
    period = (pl.col("median_interval_s") / 60).round().clip(1) * 60
    phase = (
        intervals.join(stats.select("dev", period.alias("period")), on="dev")
        .with_columns(angle=2 * math.pi * (pl.col("timestamp").dt.epoch("s") % pl.col("period")) / pl.col("period"))
        .group_by("dev")
        .agg((pl.col("angle").cos().mean().pow(2) + pl.col("angle").sin().mean().pow(2)).sqrt().alias("phase_lock"))
    )
    return stats.join(near_modal, on="dev", how="left").join(phase, on="dev", how="left")


def compute(context: DetectorContext) -> pl.DataFrame:
    """Per developer: n intervals, CV, A_n, modal-interval share, phase lock, days spanned."""
    config = context.flags.machine_regularity
    n = pl.col("n_intervals").cast(pl.Float64)
    burstiness = ((n + 1).sqrt() * pl.col("cv") - (n - 1).sqrt()) / (
        ((n + 1).sqrt() - 2) * pl.col("cv") + (n - 1).sqrt()
    )
    frame = (
        context.developers.select("developer", "dev", "peer_group")
        .join(features(context.requests, config), on="dev", how="left")
        .drop("dev")
        .with_columns(
            burstiness.alias("burstiness"),
            (pl.col("near_modal").fill_null(0) / pl.col("n_intervals")).alias("modal_share"),
            pl.col("n_intervals").fill_null(0),
        )
    )
    phase_severity = pl.when((pl.col("phase_lock") >= config.phase_lock) & (pl.col("n_intervals") >= 30)).then(2)
    severity = pl.max_horizontal(
        band_severity(pl.col("local_variation"), config.local_variation),
        band_severity(pl.col("steady_share"), config.steady_share),
        band_severity(pl.col("burstiness"), config.burstiness),
        band_severity(pl.col("modal_share"), config.modal_share),
        phase_severity.otherwise(0),
    )
    strength = pl.max_horizontal(
        band_strength(pl.col("local_variation"), config.local_variation),
        band_strength(pl.col("steady_share"), config.steady_share),
        band_strength(pl.col("burstiness"), config.burstiness),
        band_strength(pl.col("modal_share"), config.modal_share),
    )
    return frame.with_columns(
        capped(severity, config.max_severity).alias("severity"),
        strength.alias("strength"),
        pl.col("burstiness").median().over("peer_group").alias("peer_median_burstiness"),
        pl.col("local_variation").median().over("peer_group").alias("peer_median_local_variation"),
        not_evaluated(
            (pl.col("n_intervals") < config.min_intervals) | (pl.col("days").fill_null(0) < config.min_days),
            f"per-request timestamps: at least {config.min_intervals} session/episode intervals over "
            f"{config.min_days} days",
        ).alias("needs"),
    )


def reason(row: dict[str, Any]) -> str:
    """Say which regularity statistic stands out and how it compares with peers."""
    return (
        f"{fmt_pct(row['steady_share'])} of {row['n_intervals']:,} gaps between session/episode starts matched the "
        f"previous gap within 10% (median gap {fmt_num(row['median_interval_s'] / 60, 1)} min; local variation "
        f"{fmt_num(row['local_variation'])}, peer median {fmt_num(row['peer_median_local_variation'])}: "
        "people are near 1 or above, a clock is 0)."
    )


DETECTOR = Detector(
    id="machine_regularity",
    family="automation",
    consider=(
        "a legitimate scheduled automation under a personal key (belongs on the service-account list)",
        "an IDE extension that polls",
        "an evaluation harness",
    ),
    compute=compute,
    reason=reason,
    evidence=(
        "n_intervals",
        "local_variation",
        "steady_share",
        "cv",
        "burstiness",
        "modal_share",
        "phase_lock",
        "median_interval_s",
        "days",
        "peer_median_local_variation",
        "peer_median_burstiness",
    ),
)
