"""Reading outcome files: detect each file's format from its content, read, and account for every row."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import polars as pl

from tokenaudit.errors import InputError
from tokenaudit.outcomes import generic, github, jira
from tokenaudit.outcomes.config import OutcomesConfig
from tokenaudit.outcomes.schema import empty_outcomes
from tokenaudit.readers.sources import Source, resolve
from tokenaudit.schema import empty_rejects

DETECTORS: tuple[tuple[str, Callable[[Source], bool]], ...] = (
    (github.NAME, github.looks_like),
    (jira.NAME, jira.looks_like),
    (generic.NAME, generic.looks_like),
)
FORMATS: tuple[tuple[str, str, str], ...] = tuple(
    (module.NAME, module.TITLE, module.EXPORTED_BY) for module in (github, jira, generic)
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


def detect_outcome_format(source: Source) -> str:
    """The outcome format of ``source``, or an error saying what was expected."""
    for name, looks_like in DETECTORS:
        if looks_like(source):
            return name
    msg = (
        f"{source.name}: not a recognised outcome export; expected `gh pr list --json` or GitHub REST pulls JSON, "
        "a Jira CSV export (Issue key, Issue Type, Assignee, Created, Resolved), or a CSV/JSONL with "
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
    if jira.NAME in by_format:
        issues = jira.read_jira(by_format[jira.NAME], config, timezone)
        frames.append(issues.outcomes)
        rejects.append(issues.rejects)
        unassigned = issues.unassigned
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
    )


def weighted_values(outcomes: pl.DataFrame, config: OutcomesConfig) -> pl.DataFrame:
    """Add ``value``: the count, or with ``size_weighting`` the count times size relative to the kind's median.

    Relative to the median keeps a typical PR or ticket worth one, so weights mean the same either way;
    the clip to 0.25–4× stops one giant PR (a vendored dependency, a generated file) from dominating.
    """
    if not config.size_weighting:
        return outcomes.with_columns(value=pl.col("count").cast(pl.Float64))
    relative = (pl.col("size") / pl.col("size").median().over("kind")).clip(0.25, 4.0).fill_nan(None).fill_null(1.0)
    return outcomes.with_columns(value=pl.col("count") * relative)
