"""Time to merge (a PR opened → merged) and ticket cycle time (a Jira issue created → resolved).

Outcome-side measures of flow rather than volume: a team whose token use doubled while its PRs wait twice as long
bought nothing faster. They come from the fields the exports carry (``createdAt``/``created_at`` and ``mergedAt`` of
``gh pr list`` or the REST list; ``Created`` and ``Resolved`` of a Jira CSV), so only outcomes whose export has the
start time are timed, and each figure says how many it rests on. Medians, because one PR left open for a quarter
would carry a mean. A start after the end (a clock or export error) times nothing. They are reported beside the
outcomes and never weighted into the ranking: a quick merge is not better work.
"""

from __future__ import annotations

from typing import Final

import polars as pl

TIMED: Final = (
    ("merged_pr", "prs_timed", "time_to_merge_hours", 3600),
    ("closed_ticket", "tickets_timed", "ticket_cycle_days", 86400),
)
"""(outcome kind, count field, median field, seconds per unit)."""
CYCLE_FIELDS: Final = tuple(name for _, count, median, _ in TIMED for name in (count, f"{median}_median"))
"""The columns :func:`cycle_times` adds, in order."""
CYCLE_COUNTS: Final = tuple(count for _, count, _, _ in TIMED)


def cycle_times(outcomes: pl.DataFrame, by: str) -> pl.DataFrame:
    """``by`` -> for merged PRs and closed tickets with a start time: how many, and the median time they took
    (hours to merge, days of ticket cycle). A group with none of a kind has 0 and a null median."""
    elapsed = (pl.col("timestamp") - pl.col("opened")).dt.total_seconds(fractional=True)
    timed = outcomes.filter(pl.col("opened").is_not_null() & (elapsed >= 0))
    aggregates = [
        expression
        for kind, count, median, seconds in TIMED
        for expression in (
            (pl.col("kind") == kind).sum().cast(pl.Int64).alias(count),
            (elapsed.filter(pl.col("kind") == kind) / seconds).median().alias(f"{median}_median"),
        )
    ]
    return timed.group_by(by).agg(aggregates)
