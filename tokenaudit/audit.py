"""The audit: per-developer usage and the raw token leaderboard, as plain data for the renderers.

Later stages (flags, outcome-adjusted ranking) add columns to the same per-developer frame, so every
output format is built from one computed result and formats cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from tokenaudit.ingest import LoadedEvents
from tokenaudit.metrics import totals, usage_aggregates


@dataclass(frozen=True)
class AuditResult:
    """Per-developer figures (one row each, leaderboard order) plus org totals and data quality."""

    developers: pl.DataFrame
    summary: pl.DataFrame
    loaded: LoadedEvents


def run_audit(loaded: LoadedEvents) -> AuditResult:
    """Total each developer's usage and rank them by tokens (1 = most tokens, ties share a rank)."""
    timezone = loaded.period.timezone
    per_developer = totals(loaded.events, ["developer"], timezone)
    teams = loaded.events.group_by("developer").agg(pl.col("team").drop_nulls().mode().sort().first().alias("team"))
    developers = (
        per_developer.join(teams, on="developer", how="left")
        .with_columns(rank_tokens=pl.col("total_tokens").rank("min", descending=True).cast(pl.Int64))
        .sort(["rank_tokens", "developer"])
    )
    summary = loaded.events.select(
        pl.col("developer").n_unique().alias("developers"),
        pl.col("team").drop_nulls().n_unique().alias("teams"),
        *usage_aggregates(timezone),
        pl.col("timestamp").min().alias("first_event"),
        pl.col("timestamp").max().alias("last_event"),
    )
    return AuditResult(developers=developers, summary=summary, loaded=loaded)
