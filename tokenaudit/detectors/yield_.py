"""S8 ``low_yield`` (yield): far fewer outcomes for the tokens than peers, with confidence.

Uses the outcome-adjusted ranking's posterior (``tokenaudit.ranking``): the flag needs the audit to be 90%
sure that the developer's yield is below a fraction of the typical yield, so thin data never fires it.
Needs outcomes (``--outcomes``); without them it is "not evaluated".
"""

from __future__ import annotations

from typing import Any

import polars as pl

from tokenaudit.detectors.base import (
    Detector,
    DetectorContext,
    capped,
    fmt_int,
    fmt_num,
    not_evaluated,
)


def compute(context: DetectorContext) -> pl.DataFrame:
    """Per developer: the 90th percentile of yield as a share of the peer median yield."""
    config = context.flags.low_yield
    if context.yields is None:
        return context.developers.select(
            "developer",
            pl.lit(0).alias("severity"),
            pl.lit(0.0).alias("strength"),
            pl.lit("outcomes (--outcomes: merged PRs, closed tickets…)").alias("needs"),
        )
    frame = context.developers.select("developer", "total_tokens").join(context.yields, on="developer", how="left")
    ratio = pl.col("yield_p90") / pl.col("peer_median_yield")
    severity = (
        pl.when(pl.col("peer_median_yield") <= 0)
        .then(0)
        .when(ratio < config.share_of_median.high)
        .then(3)
        .when(ratio < config.share_of_median.medium)
        .then(2)
        .when(ratio < config.share_of_median.low)
        .then(1)
        .otherwise(0)
    )
    span = config.share_of_median.low - config.share_of_median.high
    return frame.with_columns(
        ratio.alias("p90_share_of_median"),
        capped(severity, config.max_severity).alias("severity"),
        ((config.share_of_median.low - ratio) / span).clip(0.0, 1.0).alias("strength"),
        not_evaluated(pl.col("status") == "insufficient_data", "enough exposure and active days to be ranked").alias(
            "needs"
        ),
    )


def reason(row: dict[str, Any]) -> str:
    """Quote the outcomes and the yield against the typical yield."""
    return (
        f"{fmt_num(row['outcome_score'], 1)} outcome points on {fmt_int(row['total_tokens'])} tokens; even the "
        f"optimistic estimate of yield ({fmt_num(row['yield_p90'])}) is {fmt_num(row['p90_share_of_median'] * 100, 0)}%"
        f" of the typical yield ({fmt_num(row['peer_median_yield'])})."
    )


DETECTOR = Detector(
    id="low_yield",
    family="yield",
    consider=(
        "work outside pull requests and tickets (research, design, incidents, reviews, mentoring)",
        "outcomes credited to a pairing partner",
        "long branches that merge after the period",
        "a team with coarser pull requests (try ranking.normalize: team)",
    ),
    compute=compute,
    reason=reason,
    evidence=("outcome_score", "yield_mean", "yield_p90", "peer_median_yield", "p90_share_of_median"),
    uses_outcomes=True,
)
