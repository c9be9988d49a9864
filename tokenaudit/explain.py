"""Drill-down for one developer: the evidence behind the audit, beside the peer baseline.

Everything here is computed from the same events and findings as the audit, so the numbers in
``explain`` and ``audit`` cannot disagree.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

import polars as pl

from tokenaudit.audit import AuditResult
from tokenaudit.detectors.base import Flag, sorted_requests
from tokenaudit.detectors.shape import sessions, with_person_turns
from tokenaudit.errors import UsageError
from tokenaudit.schema import total_tokens
from tokenaudit.views import GAP_LABELS, active_minutes_by_hour, explain_views


@dataclass(frozen=True)
class Explanation:
    """One developer's evidence: series for charts and the flags with their numbers."""

    developer: str
    team: str | None
    risk_level: str
    rank_tokens: int
    daily: pl.DataFrame
    """day, tokens, peer_median_tokens."""
    hour_of_week: pl.DataFrame
    """weekday (1 = Monday), hour, active_minutes — in the audit's time zone."""
    gaps: pl.DataFrame
    """bucket, count, share, peer_share — gaps between request bursts."""
    top_prompts: pl.DataFrame
    """prompt_hash (shortened), count, share — never prompt text."""
    flags: list[Flag]
    not_evaluated: list[tuple[str, str]]
    timezone: str
    rank_adjusted: int | None = None
    """Outcome-adjusted rank (None without outcomes or below the minimum volume)."""
    ranked: int = 0
    """How many developers the adjusted board compares (placed or not: those not placed keep their places)."""
    rank_interval: tuple[int, int] | None = None
    """The 90% adjusted-rank interval (None without outcomes or below the minimum volume)."""
    bottom_quarter_chance: float | None = None
    """Share of posterior draws in the bottom quarter; below ``ranking.bottom_quarter_confidence`` a developer the
    order puts there is not placed."""
    outcomes: dict[str, int] | None = None
    """Outcome counts per kind, when outcomes were given."""
    outcome_score: float | None = None
    near_misses: pl.DataFrame | None = None
    """id, statistic, value, level, threshold: statistics just short of the next band."""
    weeks: pl.DataFrame | None = None
    """week (local Monday), tokens, sessions, headless_sessions, headless_tokens, night_minutes (00–06 local)."""
    sources: pl.DataFrame | None = None
    """source_format, grain, tokens, share: what each source contributed and at which grain."""
    coverage: dict[str, float | None] | None = None
    """Shares of tokens the timing, session and prompt detectors could examine."""


def _find(result: AuditResult, developer: str) -> str:
    known = result.developers["developer"].to_list()
    if developer in known:
        return developer
    folded = {name.lower(): name for name in known}
    if developer.lower() in folded:
        return str(folded[developer.lower()])
    close = difflib.get_close_matches(developer, known, n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    msg = f"developer {developer!r} is not in the audited data{hint}"
    raise UsageError(msg)


def explain(result: AuditResult, developer: str) -> Explanation:
    """Collect the drill-down for ``developer`` (exact or case-insensitive name)."""
    name = _find(result, developer)
    timezone = result.loaded.period.timezone
    views = result.loaded.views
    if views is None or views.explained is None or views.gaps is None:  # the events were kept
        views = explain_views(result.loaded.events, name)
    assert views.explained is not None and views.gaps is not None
    mine = views.explained.filter(pl.col("developer") == name)
    row = result.developers.filter(pl.col("developer") == name).row(0, named=True)
    daily_all = result.loaded.usage.group_by("developer", "day").agg(pl.col("total_tokens").sum().alias("tokens"))
    # Peers who did not work on a day count as zero that day, so weekends do not look busy.
    peers = result.developers.filter(pl.col("developer") != name).select("developer")
    peer_median = (
        peers.join(daily_all.select("day").unique(), how="cross")
        .join(daily_all, on=["developer", "day"], how="left")
        .group_by("day")
        .agg(pl.col("tokens").fill_null(0).median().alias("peer_median_tokens"))
    )
    daily = (
        daily_all.filter(pl.col("developer") == name)
        .select("day", "tokens")
        .join(peer_median, on="day", how="left")
        .sort("day")
    )
    hour_of_week = active_minutes_by_hour(mine, timezone).drop("developer")
    histogram = views.gaps
    peer_share = histogram.group_by("bucket").agg(pl.col("share").median().alias("peer_share"))
    gaps = (
        histogram.filter(pl.col("developer") == name)
        .drop("developer")
        .join(peer_share, on="bucket", how="full", coalesce=True)
        .with_columns(pl.col("count").fill_null(0), pl.col("share").fill_null(0.0))
        .sort(pl.col("bucket").cast(pl.Enum(list(GAP_LABELS))))
    )
    prompts = mine.filter(pl.col("prompt_hash").is_not_null())
    top_prompts = (
        prompts.group_by(pl.col("prompt_hash").str.slice(0, 12))
        .len("count")
        .filter(pl.col("count") > 1)
        .with_columns(share=pl.col("count") / max(prompts.height, 1))
        .sort("count", "prompt_hash", descending=[True, False])
        .head(5)
    )
    skipped = result.findings.not_evaluated.filter(pl.col("developer") == name).sort("id")
    sources = (
        mine.group_by("source_format", "grain")
        .agg(total_tokens().sum().alias("tokens"))
        .with_columns(share=(pl.col("tokens") / pl.col("tokens").sum().clip(1)).round(4))
        .sort("tokens", "source_format", descending=[True, False])
    )
    return Explanation(
        developer=name,
        team=row["team"],
        risk_level=row["risk_level"],
        rank_tokens=row["rank_tokens"],
        daily=daily,
        hour_of_week=hour_of_week,
        gaps=gaps,
        top_prompts=top_prompts,
        flags=[flag for flag in result.findings.flags if flag.developer == name],
        not_evaluated=[(r["id"], r["needs"]) for r in skipped.iter_rows(named=True)],
        timezone=timezone,
        rank_adjusted=row.get("rank_adjusted"),
        ranked=result.ranking.ranked if result.ranking else 0,
        rank_interval=(row["rank_low"], row["rank_high"]) if row.get("rank_low") is not None else None,
        bottom_quarter_chance=row.get("bottom_quarter_chance"),
        outcomes=result.outcome_counts.get(name, dict.fromkeys(result.outcome_kinds, 0)) if result.ranking else None,
        outcome_score=row.get("outcome_score"),
        near_misses=result.findings.near_misses.filter(pl.col("developer") == name).drop("developer"),
        weeks=weekly_evidence(mine, result, timezone),
        sources=sources,
        coverage={key: row.get(f"coverage_{key}") for key in ("timing", "sessions", "prompts")},
    )


def weekly_evidence(mine: pl.DataFrame, result: AuditResult, timezone: str) -> pl.DataFrame:
    """When it happened, week by local week: tokens, sessions and how many were headless, night activity."""
    requests, _ = sorted_requests(mine)
    turns = with_person_turns(requests, result.findings.settings.headless_work)
    shapes = sessions(turns).select("start", "tokens", "headless")
    local = pl.col("start").dt.convert_time_zone(timezone).dt.truncate("1w").dt.date().alias("week")
    by_week = shapes.group_by(local).agg(
        pl.len().alias("sessions"),
        pl.col("headless").sum().alias("headless_sessions"),
        pl.col("tokens").filter("headless").sum().alias("headless_tokens"),
    )
    when = pl.col("timestamp").dt.convert_time_zone(timezone)
    usage = mine.group_by(when.dt.truncate("1w").dt.date().alias("week")).agg(
        total_tokens().sum().alias("tokens"),
        when.filter(when.dt.hour() < 6).dt.truncate("1m").n_unique().alias("night_minutes"),
    )
    return (
        usage.join(by_week, on="week", how="left")
        .with_columns(pl.col("sessions", "headless_sessions", "headless_tokens").fill_null(0))
        .sort("week")
    )
