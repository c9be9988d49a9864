"""Reading outcome files: detect each file's format from its content, read, and account for every row."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import fields
from typing import Final

import polars as pl

from tokenaudit.errors import InputError
from tokenaudit.outcomes.base import OutcomeContext, OutcomeRead, OutcomeReader
from tokenaudit.outcomes.config import OutcomesConfig
from tokenaudit.outcomes.deployments import DeployLogReader, GitHubDeploymentsReader
from tokenaudit.outcomes.generic import GenericOutcomesReader
from tokenaudit.outcomes.github import GitHubPullRequestsReader
from tokenaudit.outcomes.incidents import OpsgenieReader, PagerDutyReader
from tokenaudit.outcomes.jira import JiraReader
from tokenaudit.outcomes.schema import empty_outcomes
from tokenaudit.readers.sources import Source, check_lines, resolve
from tokenaudit.schema import empty_rejects

__all__ = ["OUTCOME_READERS", "OutcomeRead", "detect_outcome_format", "read_outcomes"]

OUTCOME_READERS: tuple[OutcomeReader, ...] = (
    GitHubPullRequestsReader(),
    JiraReader(),
    PagerDutyReader(),
    OpsgenieReader(),
    GitHubDeploymentsReader(),
    DeployLogReader(),
    GenericOutcomesReader(),
)
"""Most specific first (the generic reader, which only needs column names, last); also the reading order."""

_COUNTS: Final = tuple(f.name for f in fields(OutcomeRead) if f.name not in {"outcomes", "rejects", "files"})
"""What credits nobody, summed over the formats read."""


def detect_outcome_format(source: Source, context: OutcomeContext) -> OutcomeReader:
    """The outcome reader of ``source``, or an error saying what was expected."""
    for reader in OUTCOME_READERS:
        if reader.detect(source, context).matched:
            return reader
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
    context = OutcomeContext(config, timezone)
    resolved = resolve(inputs, stdin)
    check_lines(resolved.sources)  # no outcome reader reads a file in blocks of lines
    by_format: dict[str, list[Source]] = {}
    files = [(name, f"skipped: {why}") for name, why in resolved.skipped]
    for source in resolved.sources:
        name = detect_outcome_format(source, context).name
        by_format.setdefault(name, []).append(source)
        files.append((source.name, name))
    reads = [reader.read(by_format[reader.name], context) for reader in OUTCOME_READERS if reader.name in by_format]
    return OutcomeRead(
        outcomes=pl.concat([empty_outcomes(), *(read.outcomes for read in reads)]),
        rejects=pl.concat([empty_rejects(), *(read.rejects for read in reads)]),
        files=files,
        **{count: sum(getattr(read, count) for read in reads) for count in _COUNTS},
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
