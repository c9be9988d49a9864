"""``prompt_pace`` (automation): more prompts a day than a person types, whatever they look like.

A script can imitate a person's every habit (varied wording, think times, follow-ups, lunch breaks) but
each imitated prompt is one more turn in the day. A person's day holds only so many: reading an answer,
deciding and typing take minutes. The statistic counts a typical active day's *turns*: every session
opener plus every prompt after think time (or, where the source does not mark prompts, every pause in a
session; :func:`~tokenaudit.detectors.shape.with_person_turns`); rows without session ids (Cursor's usage
events) count every request after a pause of ``headless_work.pause_seconds``. Sessions opened a day are
compared the same way, among developers whose sources have session ids, for a script that opens many
short sessions of its own.

The median over active days decides (each day the developer's own, starting at their quietest hour:
:func:`~tokenaudit.detectors.base.with_own_day`), so a refactor week or an on-call night does not, and the
bands are multiples of the peer median: to stay under them, an imitation must keep its owner's whole day
within a few times what peers type, which caps what it can add. Both at the low band or above give at least
medium: a script that opens its own sessions raises the two together, while an honest heavy user's longer
conversations raise the turns and a habit of short sessions raises the openers. Headless loops count too (each
run opens a session); the other automation detectors say how they run.
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
    fmt_left_out,
    fmt_num,
    hand_baseline,
    not_evaluated,
    over_peers,
    peers_left_out,
)


def features(context: DetectorContext) -> pl.DataFrame:
    """Per developer: median turns and session openers per active day, turns, active days."""
    gap = pl.col("timestamp").diff().over("dev").dt.total_seconds(fractional=True)
    requests = context.requests_by_day.lazy().select(
        "dev", "timestamp", "session_id", "opens_session", "person", developer_day().alias("key")
    )
    turns = pl.concat(
        [
            requests.filter(pl.col("session_id").is_not_null() & (pl.col("opens_session") | pl.col("person"))).select(
                "key", "opens_session"
            ),
            # Collected before the gaps are taken: they are between the rows without a session id.
            requests.filter(pl.col("session_id").is_null())
            .collect(engine="in-memory")
            .lazy()
            .filter(gap.is_null() | (gap >= context.flags.headless_work.pause_seconds))
            .select("key", pl.lit(value=None, dtype=pl.Boolean).alias("opens_session")),
        ]
    )
    daily = turns.group_by("key").agg(pl.len().alias("turns"), pl.col("opens_session").sum().alias("openers"))
    with_sessions = pl.col("session_id").is_not_null().any()
    dev, _ = developer_and_day("key")
    # A developer's own days rise through their requests (time order), so the (dev, day) keys rise: grouped eagerly
    # on a key marked sorted, each day is a slice (no hashing of every request; a lazy group-by hashes them).
    days = (
        context.requests_by_day.select(developer_day().set_sorted().alias("key"), "session_id")
        .group_by("key")
        .agg(with_sessions.alias("with_sessions"))
    )
    per_day = (
        days.lazy()
        .join(daily, on="key", how="left")
        .with_columns(pl.col("turns", "openers").fill_null(0))
        .group_by(dev.alias("dev"))
        .agg(
            pl.col("turns").median().alias("turns_per_day"),
            pl.when(pl.col("with_sessions").any()).then(pl.col("openers").median()).alias("openers_per_day"),
            pl.col("turns").sum(),
            pl.len().alias("days"),
        )
        .collect(engine="in-memory")
    )
    return by_developer(context, per_day)


def judge(features: pl.DataFrame, context: DetectorContext) -> pl.DataFrame:
    """Per developer: median turns and session openers per active day, each against the peer median."""
    config = context.flags.prompt_pace
    ratios = {"turns_per_day": "pace_ratio", "openers_per_day": "opener_ratio"}
    bands = {"pace_ratio": config.ratio, "opener_ratio": config.opener_ratio}
    frame = (
        context.developers.select("developer", "peer_group")
        .join(features, on="developer", how="left")
        .with_columns(
            pl.col("turns", "days").fill_null(0),
            *(over_peers(hand_baseline(context, rate).median()).alias(f"peer_median_{rate}") for rate in ratios),
            over_peers(pl.col("turns_per_day").count()).alias("n_compared"),
            peers_left_out(context).alias("peers_left_out"),
        )
        .with_columns(
            (pl.col(rate) / pl.when(pl.col(f"peer_median_{rate}") > 0).then(pl.col(f"peer_median_{rate}"))).alias(ratio)
            for rate, ratio in ratios.items()
        )
    )
    severities = [band_severity(pl.col(ratio), bands[ratio]).fill_null(0) for ratio in bands]
    # A day with both far more sessions and far more turns than peers: two views of one excess agree.
    both = pl.all_horizontal(level >= 1 for level in severities)
    severity = pl.when(both).then(pl.max_horizontal(*severities, 2)).otherwise(pl.max_horizontal(severities))
    strength = pl.max_horizontal(band_strength(pl.col(ratio), bands[ratio]) for ratio in bands)
    return frame.with_columns(
        capped(severity, config.max_severity).alias("severity"),
        strength.fill_null(0.0).alias("strength"),
        not_evaluated(
            (pl.col("turns") < config.min_turns)
            | (pl.col("days") < config.min_days)
            | (pl.col("n_compared") < config.min_peers)
            | pl.col("pace_ratio").is_null(),
            f"per-request timestamps: at least {config.min_turns} turns on {config.min_days} days, and "
            f"{config.min_peers} peers measured",
        ).alias("needs"),
    )


def reason(row: dict[str, Any]) -> str:
    """Quote the typical day's turns and session openers against peers."""
    openers = (
        f"; {fmt_num(row['openers_per_day'], 0)} sessions opened, {fmt_num(row['opener_ratio'], 1)}× the peer median "
        f"of {fmt_num(row['peer_median_openers_per_day'], 0)}"
        if row.get("opener_ratio") is not None
        else ""
    )
    return (
        f"a typical active day held {fmt_num(row['turns_per_day'], 0)} turns (session openers and prompts after "
        f"think time), {fmt_num(row['pace_ratio'], 1)}× the peer median of "
        f"{fmt_num(row['peer_median_turns_per_day'], 0)}{openers}; {fmt_int(row['turns'])} turns on {row['days']} days"
        f"{fmt_left_out(row)}."
    )


DETECTOR = Detector(
    id="prompt_pace",
    family="automation",
    consider=(
        "many short tasks handed out in parallel sessions on purpose (outcomes tell)",
        "a legitimate script or CI job under a personal key (belongs on the service-account list)",
        "a source that does not mark prompts, where long tool runs count as turns",
    ),
    features=features,
    judge=judge,
    reason=reason,
    gauges=(("pace_ratio", "ratio"), ("opener_ratio", "opener_ratio")),
    evidence=(
        "turns_per_day",
        "peer_median_turns_per_day",
        "pace_ratio",
        "openers_per_day",
        "peer_median_openers_per_day",
        "opener_ratio",
        "turns",
        "days",
        "n_compared",
        "peers_left_out",
    ),
)
