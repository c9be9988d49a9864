"""Coverage: how much of each developer's usage the detectors could examine, and ``unexamined_usage``.

Many exports are hour or day aggregates (an Admin API usage report, Claude Code Analytics, Cursor's daily
usage): no timing, session or prompt detector can read them. That is a blind spot a reader of the README
can aim at, routing part of their usage through an API key that only a day-grain report shows. Routing
cannot hide the volume, only its shape, so the share that could not be examined is itself evidence when
it is large and far above what the developer's peers have (an organisation on day-grain exports alone
flags nobody). It is volume, not a "how" signal (family *inflation*): it corroborates, and its reason
says what was not examined.
"""

from __future__ import annotations

from typing import Any, Final

import polars as pl

from tokenaudit.detectors.base import (
    Detector,
    DetectorContext,
    band_severity,
    band_strength,
    capped,
    fmt_int,
    fmt_pct,
    not_evaluated,
    over_peers,
)
from tokenaudit.schema import total_tokens

COVERAGE_NOTE_BELOW: Final = 0.8
"""Below this share of tokens with per-request timing, the risk explanation names what could not be examined."""


def shares(events: pl.DataFrame) -> pl.DataFrame:
    """Per developer, the share of tokens each kind of detector could examine.

    ``coverage_timing``: tokens on per-request rows (regularity, rest, snapshot timing); ``coverage_sessions``:
    of those, rows with a session id (headless work, repetition of openers, context per session);
    ``coverage_prompts``: rows with a prompt hash or signature (repetition by prompt). ``unexamined_sources``:
    the source formats whose tokens came as hour or day aggregates, which no timing detector can read.
    """
    if not events.width:  # no events at all (a frame without columns)
        return pl.DataFrame(
            schema={
                "developer": pl.String,
                "coverage_timing": pl.Float64,
                "coverage_sessions": pl.Float64,
                "coverage_prompts": pl.Float64,
                "unexamined_sources": pl.List(pl.String),
            }
        )
    tokens = total_tokens()
    request = pl.col("grain") == "request"
    share = {
        "coverage_timing": request,
        "coverage_sessions": request & pl.col("session_id").is_not_null(),
        "coverage_prompts": request & (pl.col("prompt_hash").is_not_null() | pl.col("prompt_signature").is_not_null()),
    }
    # Sums of masked columns over the developers' categorical codes: no per-group filter, no hashing of names.
    sums = (
        events.lazy()
        .select(
            pl.col("developer").cast(pl.Categorical),
            tokens.alias("_tokens"),
            *(pl.when(kept).then(tokens).otherwise(0).alias(name) for name, kept in share.items()),
        )
        .group_by("developer")
        .agg(pl.all().sum())
    )
    sources = (
        events.lazy()
        .filter(~request & (tokens > 0))
        .group_by(pl.col("developer").cast(pl.Categorical))
        .agg(pl.col("source_format").cast(pl.String).unique().sort().alias("unexamined_sources"))
    )
    return (
        sums.select("developer", *((pl.col(name) / pl.col("_tokens").clip(1)).round(4) for name in share))
        .join(sources, on="developer", how="left")
        .with_columns(
            pl.col("developer").cast(pl.String),
            pl.col("unexamined_sources").fill_null(pl.lit([], pl.List(pl.String))),
        )
        .collect()
    )


def coverage_note(row: dict[str, object]) -> str | None:
    """One sentence for the risk explanation when much of a developer's usage could not be examined."""
    timing = row.get("coverage_timing")
    if not isinstance(timing, float) or timing >= COVERAGE_NOTE_BELOW:
        return None
    sources = row.get("unexamined_sources") or []
    named = f" ({', '.join(str(s) for s in sources)})" if isinstance(sources, list) and sources else ""
    return (
        f"only {timing:.0%} of this developer's tokens came with per-request timing; the timing detectors could not "
        f"examine the rest{named}, so a low risk here says little about it."
    )


def features(context: DetectorContext) -> pl.DataFrame:
    """Per developer: the coverage :func:`shares` (the risk table reports them all)."""
    return shares(context.events)


def judge(features: pl.DataFrame, context: DetectorContext) -> pl.DataFrame:
    """Per developer: the share of tokens without per-request timing, above the peer median share."""
    config = context.flags.unexamined_usage
    covered = features.select("developer", "coverage_timing", "unexamined_sources")
    frame = (
        context.developers.select("developer", "peer_group", "total_tokens")
        .join(covered, on="developer", how="left")
        .with_columns(
            unexamined_share=(1 - pl.col("coverage_timing")).fill_null(0.0),
            peer_median_tokens=over_peers(pl.col("total_tokens").median()),
        )
        .with_columns(
            unexamined_tokens=(pl.col("unexamined_share") * pl.col("total_tokens")).round().cast(pl.Int64),
            peer_median_share=over_peers(pl.col("unexamined_share").median()),
        )
        .with_columns(excess_share=pl.col("unexamined_share") - pl.col("peer_median_share"))
    )
    sizeable = pl.col("unexamined_tokens") >= config.min_share_of_peer_median * pl.col("peer_median_tokens")
    severity = pl.when(sizeable).then(band_severity(pl.col("excess_share"), config.excess_share)).otherwise(0)
    return frame.with_columns(
        capped(severity, config.max_severity).alias("severity"),
        band_strength(pl.col("excess_share"), config.excess_share).alias("strength"),
        not_evaluated(~(pl.col("total_tokens") > 0), "token counts").alias("needs"),
    )


def reason(row: dict[str, Any]) -> str:
    """Quote the unexamined share, its sources and the peers' share."""
    sources = row.get("unexamined_sources") or []
    named = f" ({', '.join(str(s) for s in sources)})" if isinstance(sources, list) and sources else ""
    return (
        f"{fmt_pct(row['unexamined_share'])} of this developer's tokens ({fmt_int(row['unexamined_tokens'])}) came "
        f"as hour or day totals{named}, which no timing, session or prompt detector can examine; peer median "
        f"{fmt_pct(row['peer_median_share'])}."
    )


DETECTOR = Detector(
    id="unexamined_usage",
    family="inflation",
    consider=(
        "a tool or API key whose only export is a usage report (ask for its per-request logs)",
        "a notebook or script under a personal API key",
        "a team whose sources differ from the rest of the organisation",
    ),
    features=features,
    judge=judge,
    reason=reason,
    gauges=(("excess_share", "excess_share"),),
    evidence=("unexamined_share", "unexamined_tokens", "peer_median_share", "excess_share", "unexamined_sources"),
)
