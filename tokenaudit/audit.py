"""The audit: per-developer usage and the raw token leaderboard, as plain data for the renderers.

Later stages (flags, outcome-adjusted ranking) add columns to the same per-developer frame, so every
output format is built from one computed result and formats cannot disagree.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import polars as pl

from tokenaudit.detectors import Findings, build_context, judged_context, run_detectors
from tokenaudit.identity import resolve_identities
from tokenaudit.ingest import LoadedEvents
from tokenaudit.metrics import cube_aggregates, exposure_of_cube
from tokenaudit.outcomes.cycle_time import CYCLE_COUNTS, cycle_times
from tokenaudit.outcomes.delivery import DELIVERY_KINDS, team_delivery
from tokenaudit.outcomes.read import OutcomeRead, unsized_outcomes, weighted_values
from tokenaudit.outcomes.schema import empty_outcomes
from tokenaudit.policy import Policy
from tokenaudit.presence import declared_on_call, declared_presence, presence
from tokenaudit.ranking import Ranking, RankingFit, rank_developers
from tokenaudit.shards import cube_developer_table


@dataclass(frozen=True)
class OutcomeJoin:
    """Outcomes joined to the audited developers, and what did not join."""

    outcomes: pl.DataFrame
    """Identity-resolved outcomes of audited developers inside the window, with ``value``."""
    read: OutcomeRead
    unmatched: list[str]
    """People named in outcome exports who have no token usage under any alias (listed, never dropped)."""
    without_outcomes: list[str]
    """Audited developers with no outcome at all: often an alias missing from the identity map."""
    outside_window: int
    window: tuple[dt.date, dt.date]
    size_weighting: bool = False
    unsized: dict[str, int] = field(default_factory=dict)
    """Merged PRs and closed tickets without a size (counted as one typical outcome each), per kind."""
    delivery: pl.DataFrame = field(default_factory=empty_outcomes)
    """Deployments, failed deployments and incidents inside the window, whoever they name (team figures)."""
    on_call_incidents: int = 0
    """Incidents that paged a developer on a day the policy declares them on call: not charged to them."""


@dataclass(frozen=True)
class AuditResult:
    """Per-developer rows (totals, token rank, risk), the period summary and the detector findings."""

    developers: pl.DataFrame
    summary: pl.DataFrame
    loaded: LoadedEvents
    findings: Findings
    ranking: RankingFit | None = None
    outcomes: OutcomeJoin | None = None
    outcome_kinds: list[str] = field(default_factory=list)
    """Every kind of the policy's weights and of the data, sorted."""
    outcome_counts: dict[str, dict[str, int]] = field(default_factory=dict)
    """developer -> outcome kind -> count, for developers with any outcome."""
    outcome_weights: dict[str, float] = field(default_factory=dict)
    spearman_raw_vs_adjusted: float | None = None


def join_outcomes(read: OutcomeRead, loaded: LoadedEvents, policy: Policy) -> OutcomeJoin:
    """Map outcome identities to canonical developers and keep those inside the period plus the lag.

    The window is the audit period (or the span of the events) extended by ``outcomes.outcome_lag_days``,
    because a pull request merges some days after the tokens that produced it.
    """
    resolved = resolve_identities(read.outcomes.lazy(), policy).collect()
    first, last = period_bounds(loaded)
    last = last + dt.timedelta(days=policy.outcomes.outcome_lag_days)
    local = pl.col("timestamp").dt.convert_time_zone(loaded.period.timezone).dt.date()
    inside = resolved.filter(local.is_between(first, last))
    users = set(loaded.usage["developer"].unique().to_list())
    named = set(inside["developer"].drop_nulls().unique().to_list())
    audited = inside.filter(pl.col("developer").is_in(list(users)))
    # Paged because of the rota, not because of their work: an incident on a declared on-call day is not charged
    # to its responder (it still counts in the team's figures, from ``delivery``).
    on_call = (pl.col("kind") == "incident") & pl.struct("developer", local.alias("day")).is_in(
        declared_on_call(policy.identities).select(pl.struct("developer", "day")).to_series().implode()
    )
    rota, audited = audited.filter(on_call), audited.filter(~on_call)
    return OutcomeJoin(
        outcomes=weighted_values(audited, policy.outcomes),
        read=read,
        unmatched=sorted(named - users),
        without_outcomes=sorted(users - named),
        outside_window=resolved.height - inside.height,
        window=(first, last),
        size_weighting=policy.outcomes.size_weighting,
        unsized=unsized_outcomes(audited) if policy.outcomes.size_weighting else {},
        delivery=inside.filter(pl.col("kind").is_in(DELIVERY_KINDS)),
        on_call_incidents=rota.height,
    )


def period_bounds(loaded: LoadedEvents) -> tuple[dt.date, dt.date]:
    """The audit period's first and last local day: as given, else the span of the events."""
    days = loaded.usage["day"]
    first = loaded.period.since or days.min()
    last = loaded.period.until or days.max()
    if not isinstance(first, dt.date) or not isinstance(last, dt.date):
        return dt.date.min, dt.date.min
    return first, last


def developer_presence(loaded: LoadedEvents, outcomes: pl.DataFrame, policy: Policy) -> pl.DataFrame:
    """Each developer's share of the period present (:mod:`tokenaudit.presence`), from the policy's
    starts/ends/fte or else their active days (token use, and PRs opened or merged and tickets closed), less the
    policy's on-call days."""
    timezone = loaded.period.timezone
    local = pl.col("day").dt.convert_time_zone(timezone).dt.date()
    active = pl.concat(
        [
            loaded.usage.select("developer", "day").unique(),
            outcomes.select("developer", pl.col("timestamp").alias("day")).with_columns(local),
            # Opening a PR is the author's act; a ticket's creation (someone's, any time) is not.
            outcomes.filter(pl.col("kind") == "merged_pr")
            .select("developer", pl.col("opened").alias("day"))
            .drop_nulls()
            .with_columns(local),
        ]
    )
    first, last = period_bounds(loaded)
    return presence(active, first, last, declared_presence(policy.identities), declared_on_call(policy.identities))


def compared_tokens(table: pl.DataFrame, loaded: LoadedEvents, policy: Policy) -> pl.DataFrame:
    """developer, exposure: the effective tokens the ranking compares outcomes with, less those used on the policy's
    on-call days (spent on pages and incidents, not on the work outcome exports count; their days are left out of
    presence too, so the developer is compared on the rest of the period, like a new joiner on their weeks)."""
    on_call = declared_on_call(policy.identities)
    if on_call.is_empty():
        return table.select("developer", "exposure")
    paged = (
        loaded.usage.join(on_call, on=["developer", "day"], how="semi")
        .group_by("developer")
        .agg(exposure_of_cube().alias("on_call_exposure"))
    )
    return table.join(paged, on="developer", how="left").select(
        "developer", (pl.col("exposure") - pl.col("on_call_exposure").fill_null(0.0)).clip(0.0).alias("exposure")
    )


def outcome_counts(outcomes: pl.DataFrame, kinds: list[str]) -> dict[str, dict[str, int]]:
    """developer -> kind -> count, with zeros for kinds a developer has none of."""
    totals_by_kind = outcomes.group_by("developer", "kind").agg(pl.col("count").sum())
    counts: dict[str, dict[str, int]] = {}
    for developer, kind, count in totals_by_kind.iter_rows():
        counts.setdefault(developer, dict.fromkeys(kinds, 0))[kind] = int(count)
    return counts


def run_audit(loaded: LoadedEvents, policy: Policy, outcomes: OutcomeRead | None = None) -> AuditResult:
    """Total each developer's usage, rank them by tokens (1 = most, ties share a rank), rank them by outcome
    yield when outcomes are given, and run the detectors."""
    timezone = loaded.period.timezone
    table = cube_developer_table(loaded.usage)
    developers = (
        table.drop("exposure")
        .with_columns(rank_tokens=pl.col("total_tokens").rank("min", descending=True).cast(pl.Int64))
        .sort(["rank_tokens", "developer"])
    )
    summary = loaded.usage.select(
        pl.col("developer").n_unique().alias("developers"),
        pl.col("team").drop_nulls().n_unique().alias("teams"),
        *cube_aggregates(),
        pl.col("first").min().alias("first_event"),
        pl.col("last").max().alias("last_event"),
    )
    joined = join_outcomes(outcomes, loaded, policy) if outcomes is not None else None
    # No outcome joined anybody (most often: no identity map): an adjusted board would rank noise by name.
    ranks = joined is not None and not joined.outcomes.is_empty()
    outcome_rows = None if joined is None else joined.outcomes
    # Features computed shard by shard where the events were cleaned, for these events and settings: judged here.
    sharded = loaded.features
    if sharded is not None and loaded.history is None and sharded.fit(policy.flags, policy.leaderboard, timezone):
        context = judged_context(sharded.people, policy.flags, policy.leaderboard, outcomes=outcome_rows)
    else:
        sharded = None
        context = build_context(
            loaded.events if loaded.history is None else loaded.history,  # a short report's lookback window
            developers,
            policy.flags,
            policy.leaderboard,
            timezone,
            outcomes=outcome_rows,
            usage=loaded.usage if loaded.history is None else None,
        )
    adjusted: dict[str, Ranking] = {}

    def rank(flagged: list[str], corroborated: list[str]) -> pl.DataFrame:
        """The adjusted ranking; developers flagged independently of outcomes stay out of its elasticity fit and
        have their tokens above the typical counted in full (in a share of its draws when the flag is a lone
        medium one, not ``corroborated``)."""
        assert joined is not None
        present = developer_presence(loaded, joined.outcomes, policy)
        adjusted["ranking"] = rank_developers(
            developers.select("developer", "team", "active_days")
            .join(compared_tokens(table, loaded, policy), on="developer")
            .join(present, on="developer", how="left"),
            joined.outcomes,
            policy.outcomes.weights,
            policy.ranking,
            flagged=flagged,
            corroborated=corroborated,
        )
        return adjusted["ranking"].developers.select(
            "developer",
            "status",
            "outcome_score",
            "yield_mean",
            "yield_median",
            "yield_p10",
            "yield_p90",
            "peer_median_yield",
        )

    findings = run_detectors(context, rank if ranks else None, None if sharded is None else sharded.detectors)
    fit, spearman, counts, kinds = None, None, {}, []
    if joined is not None and ranks:
        fit = adjusted["ranking"].fit
        kinds = sorted(set(policy.outcomes.weights) | set(joined.outcomes["kind"].unique().to_list()))
        counts = outcome_counts(joined.outcomes, kinds)
        ranked = adjusted["ranking"].developers.drop("team", "active_days")
        developers = developers.join(ranked, on="developer", how="left").with_columns(
            # The raw board is by total tokens; compare positions among the developers the adjusted board compares
            # (placed or not: those not placed keep their places, so the others' ranks count them).
            rank_shift=pl.when(pl.col("status") == "ranked").then(
                pl.col("total_tokens")
                .rank("min", descending=True)
                .over(pl.col("status") == "insufficient_data")
                .cast(pl.Int64)
                - pl.col("rank_adjusted")
            )
        )
        spearman = _spearman(developers.filter(pl.col("status") != "insufficient_data"))
        developers = developers.join(cycle_times(joined.outcomes, "developer"), on="developer", how="left")
    developers = developers.join(findings.risk, on="developer", how="left").with_columns(
        pl.col("risk_level").fill_null("none"), pl.col("risk_score").fill_null(0.0)
    )
    return AuditResult(
        developers=developers,
        summary=summary,
        loaded=loaded,
        findings=findings,
        ranking=fit,
        outcomes=joined,
        outcome_kinds=kinds,
        outcome_counts=counts,
        outcome_weights=dict(policy.outcomes.weights),
        spearman_raw_vs_adjusted=spearman,
    )


def team_rollups(result: AuditResult, min_group_size: int) -> tuple[pl.DataFrame, int]:
    """Per-team totals and risk counts for ``--teams-only``; teams under ``min_group_size`` are dropped.

    Returns (teams, how many teams were suppressed). Developers without a team form "(no team)".
    """
    frame = result.developers.with_columns(pl.col("team").fill_null("(no team)"))
    scores = [pl.col("outcome_score").sum().alias("outcome_score")] if "outcome_score" in frame.columns else []
    teams = (
        frame.group_by("team")
        .agg(
            pl.len().alias("developers"),
            pl.col("total_tokens").sum(),
            pl.col("requests").sum(),
            pl.when(pl.col("cost_usd").is_not_null().any()).then(pl.col("cost_usd").sort().sum()).alias("cost_usd"),
            pl.col("unpriced_tokens").sum(),
            *[(pl.col("risk_level") == level).sum().alias(f"risk_{level}") for level in ("high", "medium", "low")],
            *scores,
        )
        .sort("total_tokens", "team", descending=[True, False])
    )
    if result.ranking is not None and result.outcomes is not None:
        by_team = result.outcomes.outcomes.drop("team").join(
            frame.select("developer", "team"), on="developer", how="left"
        )
        teams = teams.join(cycle_times(by_team, "team"), on="team", how="left").with_columns(
            pl.col(name).fill_null(0) for name in CYCLE_COUNTS
        )
    if result.outcomes is not None and not result.outcomes.delivery.is_empty():
        delivery = team_delivery(result.outcomes.delivery, result.developers.select("developer", "team"))
        teams = teams.join(delivery.with_columns(pl.col("team").fill_null("(no team)")), on="team", how="left")
    shown = teams.filter(pl.col("developers") >= min_group_size)
    return shown, teams.height - shown.height


def _spearman(ranked: pl.DataFrame) -> float | None:
    """Rank correlation between the raw token board and the adjusted board (how much the board changes)."""
    if ranked.height < 3:
        return None
    value = ranked.select(pl.corr("total_tokens", "yield_mean", method="spearman")).item()
    return None if value is None else round(float(value), 4)
