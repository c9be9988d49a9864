"""``outcome_gaming`` (yield): the outcomes themselves look farmed — many trivial or rushed merged PRs.

Weighing PRs by effort makes a one-line PR worth nothing on the adjusted board, but the pattern is worth a
conversation of its own: a stream of trivial PRs, or PRs merged within the hour with no one else's review,
is how an outcome count is farmed. Per developer: the share of merged PRs that are trivial (at most
``trivial_lines`` lines changed) or rushed (merged within ``rushed_minutes`` of opening and, when the export
has review fields, reviewed by nobody else), against the peer median share. Needs PR exports with sizes or
creation times (``gh pr list --json …,additions,deletions,createdAt,reviews``).
"""

from __future__ import annotations

from typing import Any

import polars as pl

from tokenaudit.detectors.base import (
    Detector,
    DetectorContext,
    band_severity,
    band_strength,
    capped,
    fmt_num,
    not_evaluated,
)


def pr_profile(context: DetectorContext) -> pl.DataFrame:
    """Per developer with merged PRs: counts of merged, trivial, rushed and trivial-or-rushed PRs, and the
    median minutes from opening to merge."""
    config = context.flags.outcome_gaming
    outcomes = context.outcomes
    if outcomes is None:
        outcomes = pl.DataFrame(schema={"developer": pl.String, "kind": pl.String, "size": pl.Float64})
    prs = outcomes.filter(pl.col("kind") == "merged_pr")
    minutes = (
        (pl.col("timestamp") - pl.col("opened")).dt.total_seconds() / 60 if "opened" in prs.columns else pl.lit(None)
    )
    reviewed = pl.col("reviewed") if "reviewed" in prs.columns else pl.lit(None, pl.Boolean)
    trivial = (pl.col("size") <= config.trivial_lines).fill_null(False)
    # Unknown review (the REST list has none) does not excuse a PR merged within the hour, nor convict it alone.
    rushed = ((minutes < config.rushed_minutes) & ~reviewed.fill_null(False)).fill_null(False)
    return prs.group_by("developer").agg(
        pl.len().alias("merged_prs"),
        trivial.sum().alias("trivial_prs"),
        rushed.sum().alias("rushed_prs"),
        (trivial | rushed).sum().alias("farmed_prs"),
        minutes.median().alias("median_minutes_to_merge"),
        (pl.col("size").is_not_null() | minutes.is_not_null()).any().alias("measurable"),
    )


def compute(context: DetectorContext) -> pl.DataFrame:
    """Share of trivial-or-rushed merged PRs per developer, and its ratio to the peer median share."""
    config = context.flags.outcome_gaming
    frame = (
        context.developers.select("developer", "peer_group", "n_peers")
        .join(pr_profile(context), on="developer", how="left")
        .with_columns(pl.col("merged_prs", "trivial_prs", "rushed_prs", "farmed_prs").fill_null(0))
        .with_columns(share=pl.col("farmed_prs") / pl.col("merged_prs").clip(1))
        .with_columns(peer_median_share=pl.col("share").filter(pl.col("merged_prs") > 0).median().over("peer_group"))
    )
    above_peers = pl.col("share") >= config.min_peer_ratio * pl.col("peer_median_share").fill_null(0.0)
    severity = pl.when(above_peers & (pl.col("farmed_prs") >= config.min_prs)).then(
        band_severity(pl.col("share"), config.share)
    )
    needs = (
        pl.lit("outcomes (--outcomes: PR exports with additions/deletions or createdAt)")
        if context.outcomes is None
        else not_evaluated(
            ~pl.col("measurable").fill_null(False) | (pl.col("merged_prs") < config.min_prs),
            f"at least {config.min_prs} merged PRs with sizes or creation times",
        )
    )
    return frame.with_columns(
        capped(severity.otherwise(0), config.max_severity).alias("severity"),
        band_strength(pl.col("share"), config.share).alias("strength"),
        needs.alias("needs"),
    )


def reason(row: dict[str, Any]) -> str:
    """Quote the PRs and the peer baseline."""
    return (
        f"{row['farmed_prs']} of {row['merged_prs']} merged PRs ({fmt_num(row['share'] * 100, 0)}%) were trivial "
        f"({row['trivial_prs']} of a few lines) or rushed ({row['rushed_prs']} merged within the hour unreviewed); "
        f"peer median {fmt_num((row['peer_median_share'] or 0.0) * 100, 0)}%."
    )


DETECTOR = Detector(
    id="outcome_gaming",
    family="yield",
    consider=(
        "dependency bumps, config or docs fixes done by hand rather than by a bot",
        "a team whose workflow merges small PRs without review (trunk-based, pairing)",
        "a migration done as many mechanical one-line changes",
    ),
    compute=compute,
    reason=reason,
    evidence=(
        "share",
        "farmed_prs",
        "merged_prs",
        "trivial_prs",
        "rushed_prs",
        "median_minutes_to_merge",
        "peer_median_share",
        "n_peers",
    ),
    # Reads the outcome exports but not the ranking's yields: it runs with the token-side detectors, so a
    # farmer flagged here is left out of the elasticity fit and has tokens counted in full on the board.
    uses_outcomes=False,
)
