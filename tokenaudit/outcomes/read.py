"""Reading outcome files: detect each file's format from its content, read, and account for every row."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final

import polars as pl

from tokenaudit.errors import InputError
from tokenaudit.outcomes import deployments, generic, github, incidents, jira, merge_rate
from tokenaudit.outcomes.config import OutcomesConfig
from tokenaudit.outcomes.schema import empty_outcomes
from tokenaudit.readers.sources import Source, resolve
from tokenaudit.schema import empty_rejects

DETECTORS: tuple[tuple[str, Callable[[Source], bool]], ...] = (
    (github.NAME, github.looks_like),
    (jira.NAME, jira.looks_like),
    (incidents.PAGERDUTY, incidents.looks_like_pagerduty),
    (incidents.OPSGENIE, incidents.looks_like_opsgenie),
    (deployments.GITHUB, deployments.looks_like_github),
    (deployments.LOG, deployments.looks_like_log),
    (generic.NAME, generic.looks_like),
)
FORMATS: tuple[tuple[str, str, str], ...] = (
    *((module.NAME, module.TITLE, module.EXPORTED_BY) for module in (github, jira)),
    *incidents.FORMATS,
    *deployments.FORMATS,
    (generic.NAME, generic.TITLE, generic.EXPORTED_BY),
)
"""(name, title, how to export) of each outcome format, for ``tokenaudit formats`` and the README."""


@dataclass(frozen=True)
class OutcomeRead:
    """Outcomes from all files, the rows that could not be read, and what credits nobody."""

    outcomes: pl.DataFrame
    rejects: pl.DataFrame
    files: list[tuple[str, str]] = field(default_factory=list)
    """(file, format) in reading order."""
    bot_prs: int = 0
    unassigned_issues: int = 0
    unlinked_reverts: int = 0
    unassigned_incidents: int = 0
    """Incidents with no assignee, acknowledger or responding user: charged to nobody."""
    non_production_deployments: int = 0
    """GitHub deployments to environments other than production: not counted."""


def detect_outcome_format(source: Source) -> str:
    """The outcome format of ``source``, or an error saying what was expected."""
    for name, looks_like in DETECTORS:
        if looks_like(source):
            return name
    msg = (
        f"{source.name}: not a recognised outcome export; expected `gh pr list --json` or GitHub REST pulls JSON, "
        "a Jira CSV export (Issue key, Issue Type, Assignee, Created, Resolved), PagerDuty or Opsgenie incident "
        "JSON, GitHub deployments JSON, a deploy log (deployed_at,status), or a CSV/JSONL with "
        "developer,date,kind[,count]"
    )
    raise InputError(msg)


def read_outcomes(
    inputs: Sequence[str], config: OutcomesConfig, timezone: str, stdin: Iterable[bytes] | None = None
) -> OutcomeRead:
    """Read every outcome file (files, folders, globs, ``-``), whatever mix of formats they are."""
    resolved = resolve(inputs, stdin)
    by_format: dict[str, list[Source]] = {}
    files = [(name, f"skipped: {why}") for name, why in resolved.skipped]
    for source in resolved.sources:
        name = detect_outcome_format(source)
        by_format.setdefault(name, []).append(source)
        files.append((source.name, name))
    frames, rejects = [empty_outcomes()], [empty_rejects()]
    bots = unassigned = unlinked = 0
    if github.NAME in by_format:
        prs = github.read_pull_requests(by_format[github.NAME], config)
        frames.append(prs.outcomes)
        rejects.append(prs.rejects)
        bots, unlinked = prs.bot_prs, prs.unlinked_reverts
        if merge_rate.KIND in config.weights:  # opt-in: the kind exists only where the policy weighs it
            closed_unmerged, unreadable = merge_rate.read_closed_unmerged(by_format[github.NAME], config)
            frames.append(closed_unmerged)
            rejects.append(unreadable)
    if jira.NAME in by_format:
        issues = jira.read_jira(by_format[jira.NAME], config, timezone)
        frames.append(issues.outcomes)
        rejects.append(issues.rejects)
        unassigned = issues.unassigned
    unassigned_incidents = 0
    for name, read_incidents in (
        (incidents.PAGERDUTY, incidents.read_pagerduty),
        (incidents.OPSGENIE, incidents.read_opsgenie),
    ):
        if name in by_format:
            charged = read_incidents(by_format[name])
            frames.append(charged.outcomes)
            rejects.append(charged.rejects)
            unassigned_incidents += charged.unassigned
    non_production = 0
    for name, read_deployments in (
        (deployments.GITHUB, deployments.read_github),
        (deployments.LOG, deployments.read_log),
    ):
        if name in by_format:
            deployed = read_deployments(by_format[name], timezone)
            frames.append(deployed.outcomes)
            rejects.append(deployed.rejects)
            non_production += deployed.skipped
    if generic.NAME in by_format:
        rows = generic.read_generic(by_format[generic.NAME], timezone)
        frames.append(rows.outcomes)
        rejects.append(rows.rejects)
    return OutcomeRead(
        outcomes=pl.concat(frames),
        rejects=pl.concat(rejects),
        files=files,
        bot_prs=bots,
        unassigned_issues=unassigned,
        unlinked_reverts=unlinked,
        unassigned_incidents=unassigned_incidents,
        non_production_deployments=non_production,
    )


MAX_TICKET_POINTS_RATIO: Final = 4.0
"""A closed ticket is worth at most this many typical tickets (an epic closed as one ticket)."""
SIZED_KINDS: Final = ("merged_pr", "closed_ticket")
"""Kinds whose ``size`` weighs them: lines changed for PRs, story points for tickets."""


def pr_effort(lines: pl.Expr, config: OutcomesConfig) -> pl.Expr:
    """A PR's effort from its lines changed: zero up to ``tiny_pr_lines``, then sqrt(L)·L/(L + small_pr_lines).

    The square root gives diminishing returns (a 3,000-line refactor is worth about 5 typical PRs, not 30);
    the ramp L/(L + small) makes small PRs worth less than their square root, so ten 10-line PRs are worth
    about one 100-line PR and splitting work to farm the count does not pay.
    """
    return (
        pl.when(lines > config.tiny_pr_lines)
        .then(lines.sqrt() * lines / (lines + config.small_pr_lines))
        .otherwise(0.0)
    )


def typical_sizes(outcomes: pl.DataFrame) -> pl.DataFrame:
    """Per sized kind: the median over developers of each developer's median size (one vote per person,
    so someone with sixty tiny PRs cannot drag the typical PR down to their size)."""
    return (
        outcomes.filter(pl.col("kind").is_in(SIZED_KINDS) & pl.col("size").is_not_null())
        .group_by("kind", "developer")
        .agg(pl.col("size").median())
        .group_by("kind")
        .agg(pl.col("size").median().alias("typical_size"))
    )


def weighted_values(outcomes: pl.DataFrame, config: OutcomesConfig) -> pl.DataFrame:
    """Add ``value``: the outcome weighed by its size relative to the typical one of its kind, or the count.

    Merged PRs weigh by :func:`pr_effort` over the effort of the typical PR; closed tickets by story points
    over the typical ticket's (at most ``MAX_TICKET_POINTS_RATIO``). A PR or ticket without a size counts
    as one typical outcome, and so do all of them without ``size_weighting``.
    """
    if not config.size_weighting:
        return outcomes.with_columns(value=pl.col("count").cast(pl.Float64))
    size, typical = pl.col("size"), pl.col("typical_size")
    typical_effort = pr_effort(typical, config)
    relative = (
        pl.when(size.is_null())
        .then(1.0)
        .when((pl.col("kind") == "merged_pr") & (typical_effort > 0))
        .then(pr_effort(size, config) / typical_effort)
        .when((pl.col("kind") == "closed_ticket") & (typical > 0))
        .then((size / typical).clip(0.0, MAX_TICKET_POINTS_RATIO))
        .otherwise(1.0)
    )
    return (
        outcomes.join(typical_sizes(outcomes), on="kind", how="left")
        .with_columns(value=pl.col("count") * relative)
        .drop("typical_size")
    )


def unsized_outcomes(outcomes: pl.DataFrame) -> dict[str, int]:
    """Merged PRs and closed tickets without a size, per kind (they count as one typical outcome each)."""
    missing = outcomes.filter(pl.col("kind").is_in(SIZED_KINDS) & pl.col("size").is_null())
    return dict(sorted(missing.group_by("kind").agg(pl.len()).iter_rows()))
