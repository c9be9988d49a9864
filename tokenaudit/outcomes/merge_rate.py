"""PRs closed without being merged, from the same ``gh pr list --state all`` / REST exports as merged PRs.

A pull request opened and then closed unmerged is a cheap way to look busy; merged / (merged + closed
unmerged) is the merge rate. Each such PR becomes a ``closed_unmerged_pr`` of its author at its closing
time. It is read only when the policy weighs it (``outcomes.weights.closed_unmerged_pr``, e.g. -0.25; 0 to
count without scoring), so audits without it are unchanged. Bots credit nobody; open PRs are not outcomes;
a PR merged in any of the exports is never counted as closed unmerged. Key: ``repo#number``.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from tokenaudit.outcomes import github
from tokenaudit.outcomes.config import OutcomesConfig
from tokenaudit.outcomes.schema import conform_outcomes
from tokenaudit.readers import coerce
from tokenaudit.readers.sources import Source

KIND = "closed_unmerged_pr"


def read_closed_unmerged(sources: Sequence[Source], config: OutcomesConfig) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(``closed_unmerged_pr`` outcomes, rejects) from every PR export, each PR once across files."""
    raw = pl.concat(
        [github.pull_request_records(source).with_columns(source_file=pl.lit(source.name)) for source in sources]
    )
    login = github.author_login()
    bot = github.is_bot(login, config)
    item = pl.coalesce("html_url", "url").str.extract(github.REPO_FROM_URL, 1).fill_null("?") + "#" + pl.col("number")
    prs = raw.with_columns(
        item=item,
        merged=pl.coalesce("mergedAt", "merged_at").is_not_null(),
        closed_raw=pl.coalesce("closedAt", "closed_at"),
        state=pl.col("state").str.to_uppercase(),
    )
    ever_merged = prs.filter("merged")["item"].unique()
    closed = prs.filter(
        ~pl.col("merged") & (pl.col("state") == "CLOSED") & ~pl.col("item").is_in(ever_merged.implode()) & ~bot
    ).with_columns(developer=login)
    closed_at = coerce.timestamp("closed_raw", "UTC", field="closedAt")
    checked = coerce.with_staged(closed, closed_at).with_columns(timestamp=closed_at.value, reason=closed_at.problem)
    rejects = checked.filter(pl.col("reason").is_not_null()).select(
        "source_file", "source_line", "reason", pl.col("item").alias("raw")
    )
    good = checked.filter(pl.col("reason").is_null()).unique("item", keep="last", maintain_order=True)
    outcomes = conform_outcomes(good.lazy().with_columns(kind=pl.lit(KIND), count=pl.lit(1))).collect()
    return outcomes, rejects
