"""The audit: per-developer usage and the raw token leaderboard, as plain data for the renderers.

Later stages (flags, outcome-adjusted ranking) add columns to the same per-developer frame, so every
output format is built from one computed result and formats cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from tokenaudit.detectors import Findings, build_context, run_detectors
from tokenaudit.ingest import LoadedEvents
from tokenaudit.metrics import totals, usage_aggregates
from tokenaudit.policy import Policy


@dataclass(frozen=True)
class AuditResult:
    """Per-developer figures (one row each, leaderboard order) plus org totals and data quality."""

    developers: pl.DataFrame
    summary: pl.DataFrame
    loaded: LoadedEvents
    findings: Findings


def run_audit(loaded: LoadedEvents, policy: Policy) -> AuditResult:
    """Total each developer's usage, rank them by tokens (1 = most, ties share a rank), run detectors."""
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
    context = build_context(loaded.events, developers, policy.flags, policy.leaderboard, timezone)
    findings = run_detectors(context)
    developers = developers.join(findings.risk, on="developer", how="left").with_columns(
        pl.col("risk_level").fill_null("none"), pl.col("risk_score").fill_null(0.0)
    )
    return AuditResult(developers=developers, summary=summary, loaded=loaded, findings=findings)
