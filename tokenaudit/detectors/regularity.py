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
    by_developer,
    capped,
    fmt_num,
    fmt_pct,
    not_evaluated,
    over_peers,
    packed,
    seconds_since_previous,
    string_codes,
    unpacked,
)
from tokenaudit.detectors.config import MachineRegularity
from tokenaudit.detectors.shape import sessions

_LOG_BIN = math.log(1.02)
_LOG_BINS = 2**11
"""Above any log bin of a gap over a second (a timestamp's whole range, 584,000 years, is bin 1,505)."""


_KINDS = (" interactive", " headless")
"""The two clusters of a tool's sessions, by ``headless``."""


def _starts(requests: pl.DataFrame, config: MachineRegularity, shapes: pl.DataFrame) -> tuple[pl.DataFrame, list[str]]:
    """dev, cluster, timestamp: each start, in order, in every cluster of similar sessions it belongs to; and the
    clusters' names (``cluster`` is an integer code, numbered in the names' sorted order; null for a tool's sessions
    where the tool is unknown, which form no cluster).

    Clusters: all sessions, and sessions of one tool that are headless or interactive (see
    :mod:`~tokenaudit.detectors.shape`), so a loop is measured apart from its owner's own sessions, which
    would otherwise split its gaps. Developers with few sessions get their episode starts instead.
    """
    tool_codes, tools = string_codes(shapes["tool"])
    shaped = [None if tool is None else tool + kind for tool in tools.to_list() for kind in _KINDS]
    names = sorted({"episodes", "all sessions", *(name for name in shaped if name is not None)})
    code = {name: number for number, name in enumerate(names)}
    by_tool_and_kind = pl.Series([None if name is None else code[name] for name in shaped], dtype=pl.UInt32)
    gap = seconds_since_previous()
    episodes = (
        requests.select("dev", "timestamp")
        .filter(gap.is_null() | (gap > config.episode_gap_seconds))
        .select("dev", pl.lit(code["episodes"], pl.UInt32).alias("cluster"), "timestamp")
        .join(
            requests.select("dev", "opens_session").filter("opens_session").group_by("dev").len("n"),
            on="dev",
            how="left",
        )
        .filter(pl.col("n").fill_null(0) < config.min_sessions_for_session_series)
        .drop("n")
    )
    starts = shapes.with_columns(_tool=tool_codes).filter(
        pl.len().over("dev") >= config.min_sessions_for_session_series
    )
    shape = pl.lit(by_tool_and_kind).gather(pl.col("_tool") * len(_KINDS) + pl.col("headless").cast(pl.UInt32))
    by_shape = starts.select("dev", shape.alias("cluster"), pl.col("start").alias("timestamp"))
    merged = starts.select(
        "dev", pl.lit(code["all sessions"], pl.UInt32).alias("cluster"), pl.col("start").alias("timestamp")
    )
    return pl.concat([episodes, merged, by_shape]).sort("dev", "cluster", "timestamp", maintain_order=True), names


def best_clusters(
    requests: pl.DataFrame, config: MachineRegularity, shapes: pl.DataFrame | None = None
) -> pl.DataFrame:
    """Per developer (``dev``) from their own requests (see ``sorted_requests``): interval statistics of their
    most regular cluster of starts (lowest local variation among those with enough intervals). ``shapes``: the
    requests' :func:`~tokenaudit.detectors.shape.sessions`, when already computed.

    The starts are grouped on one integer per (dev, cluster) (:func:`~tokenaudit.detectors.base.packed`), which
    rises through the sorted starts; clusters are named at the end."""
    starts, names = _starts(requests, config, sessions(requests) if shapes is None else shapes)
    clusters = len(names)
    same = pl.col("key") == pl.col("key").shift(1)
    intervals = (
        starts.select(packed("dev", "cluster", clusters).alias("key"), "timestamp")
        .with_columns(delta=pl.when(same).then(pl.col("timestamp").diff().dt.total_seconds(fractional=True)))
        .filter(pl.col("delta") > 1)
        .with_columns(log_bin=(pl.col("delta").log() / _LOG_BIN).floor().cast(pl.Int64))
    )
    # The bins of a (dev, cluster) packed with it in one integer (a log bin is below 2**11 for any gap a timestamp
    # can hold), and the modal bin as the lowest of those of the largest count: no sort of every bin.
    key, log_bin = unpacked("bin", _LOG_BINS, pl.UInt64)
    bins = (
        intervals.group_by(packed("key", "log_bin", _LOG_BINS).alias("bin"))
        .len()
        .select(key.alias("key"), log_bin.cast(pl.Int64).alias("log_bin"), "len")
    )
    modal = bins.group_by("key").agg(
        pl.col("log_bin").filter(pl.col("len") == pl.col("len").max()).min().alias("modal_bin")
    )
    near_modal = (
        bins.join(modal, on="key")
        .filter((pl.col("log_bin") - pl.col("modal_bin")).abs() <= 1)
        .group_by("key")
        .agg(pl.col("len").sum().alias("near_modal"))
    )
    cv = pl.col("delta").std() / pl.col("delta").mean()
    # In a cluster of headless sessions (a loop's candidates), pairs of neighbouring gaps across a break (a
    # night, a weekend) are left out: a loop that sleeps at night is still a loop by day. People's series
    # keep theirs, as the bands were set with them.
    # Only a dense cluster (a median gap under half of ``break_hours``) is a loop's candidate: a person's few
    # one-shot sessions a day, stripped of their nights, would look regular on a handful of pairs.
    median_gap = pl.col("_median")
    break_gap = (pl.col("delta") > config.break_factor * median_gap) & (pl.col("delta") > config.break_hours * 3600)
    headless = [number for number, name in enumerate(names) if name.endswith(_KINDS[1])]
    dense = (pl.col("key") % clusters).is_in(headless) & (median_gap <= config.break_hours * 3600 / 2)
    # The median gap is the cluster's median_interval_s, which also sets the period its phase is read against.
    intervals = intervals.with_columns(_median=pl.col("delta").median().over("key"))
    intervals = intervals.with_columns(within=~(break_gap & dense))
    intervals = intervals.with_columns(following=next_gap())
    following = pl.col("following")
    pair = (pl.col("delta") - following) / (pl.col("delta") + following)
    period = (median_gap / 60).round().clip(1) * 60
    angle = 2 * math.pi * (pl.col("timestamp").dt.epoch("s") % period) / period
    stats = intervals.group_by("key").agg(
        pl.len().alias("n_intervals"),
        cv.alias("cv"),
        (3 * pair.pow(2)).filter(following.is_not_null()).mean().alias("local_variation"),
        (pair.abs() < 0.1).filter(following.is_not_null()).mean().alias("steady_share"),
        pl.col("delta").median().alias("median_interval_s"),
        pl.col("timestamp").dt.date().n_unique().alias("days"),
        (angle.cos().mean().pow(2) + angle.sin().mean().pow(2)).sqrt().alias("phase_lock"),
    )
    enough = (pl.col("n_intervals") >= config.min_intervals) & (pl.col("days") >= config.min_days)
    dev, cluster = unpacked("key", clusters)
    return (
        stats.join(near_modal, on="key", how="left")
        .select(
            dev.alias("dev"),
            pl.lit(pl.Series(names)).gather(cluster).alias("cluster"),
            pl.exclude("key", "phase_lock"),
            "phase_lock",
        )
        .sort(
            "dev",
            enough,
            pl.col("local_variation"),
            "n_intervals",
            "cluster",
            descending=[False, True, False, True, False],
            nulls_last=True,
        )
        .group_by("dev", maintain_order=True)
        .first()
    )


def next_gap() -> pl.Expr:
    """Each row's next ``delta`` in its cluster (``key``) where both rows are ``within``, else null.

    A cluster's rows are neighbours, in time order, so the next one is the row after when that row is the same
    cluster's: taken on every row before the aggregation, as a shift inside it runs once per cluster (at 10M requests
    0.75 s of the aggregation's 0.9 s CPU).
    """
    next_within = pl.col("within") & pl.col("within").shift(-1) & (pl.col("key") == pl.col("key").shift(-1))
    return pl.when(next_within).then(pl.col("delta").shift(-1))


def features(context: DetectorContext) -> pl.DataFrame:
    """Per developer: the most regular cluster of starts (:func:`best_clusters`)."""
    return by_developer(context, best_clusters(context.requests, context.flags.machine_regularity, context.sessions))


def judge(features: pl.DataFrame, context: DetectorContext) -> pl.DataFrame:
    """Per developer: n intervals, CV, A_n, modal-interval share, phase lock, days spanned."""
    config = context.flags.machine_regularity
    n = pl.col("n_intervals").cast(pl.Float64)
    burstiness = ((n + 1).sqrt() * pl.col("cv") - (n - 1).sqrt()) / (
        ((n + 1).sqrt() - 2) * pl.col("cv") + (n - 1).sqrt()
    )
    frame = (
        context.developers.select("developer", "peer_group")
        .join(features, on="developer", how="left")
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
        # An exact clock: most gaps match their neighbour, over enough starts and days.
        (
            (pl.col("steady_share") >= config.unambiguous_steady_share)
            & (pl.col("n_intervals") >= 3 * config.min_intervals)
            & (pl.col("days") >= 2 * config.min_days)
        ).alias("unambiguous"),
        over_peers(pl.col("burstiness").median()).alias("peer_median_burstiness"),
        over_peers(pl.col("local_variation").median()).alias("peer_median_local_variation"),
        not_evaluated(
            (pl.col("n_intervals") < config.min_intervals) | (pl.col("days").fill_null(0) < config.min_days),
            f"per-request timestamps: at least {config.min_intervals} session/episode intervals over "
            f"{config.min_days} days",
        ).alias("needs"),
    )


def reason(row: dict[str, Any]) -> str:
    """Say which regularity statistic stands out and how it compares with peers."""
    return (
        f"{fmt_pct(row['steady_share'])} of {row['n_intervals']:,} gaps between starts ({row['cluster']}) matched the "
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
    features=features,
    judge=judge,
    reason=reason,
    gauges=(
        ("local_variation", "local_variation"),
        ("steady_share", "steady_share"),
        ("burstiness", "burstiness"),
        ("modal_share", "modal_share"),
    ),
    evidence=(
        "cluster",
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
