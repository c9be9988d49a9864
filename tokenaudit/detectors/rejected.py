"""S9 ``rejected_work`` (waste): acceptance far below peers, where the source reports decisions.

Acceptance is shrunk towards the tool's typical rate (beta-binomial empirical Bayes, method of
moments) so that ten decisions cannot make an outlier, then compared with peers as a robust z of its
logit. Sources: Claude Code Analytics tool actions, Cursor accepts/rejects, Copilot acceptances.
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
    fmt_int,
    fmt_num,
    fmt_pct,
    not_evaluated,
    over_peers,
    robust_z,
)


def _shrunk_rate() -> pl.Expr:
    """Posterior mean acceptance with a beta prior fitted per tool by the method of moments."""
    n, rate = pl.col("decisions"), pl.col("raw_acceptance")
    mean = rate.mean().over("tool")
    variance = rate.var().over("tool")
    concentration = (mean * (1 - mean) / variance - 1).clip(1.0, 1e6).fill_null(1e6).fill_nan(1e6)
    alpha, beta = mean * concentration, (1 - mean) * concentration
    return (pl.col("accepted") + alpha) / (n + alpha + beta)


def features(context: DetectorContext) -> pl.DataFrame:
    """Per developer and tool with decisions: accepted, rejected, decisions and the raw acceptance."""
    decided = context.events.filter(pl.col("accepted").is_not_null() | pl.col("rejected").is_not_null())
    return (
        decided.group_by("developer", "tool")
        .agg(pl.col("accepted").sum(), pl.col("rejected").sum())
        .with_columns(decisions=pl.col("accepted") + pl.col("rejected"))
        .filter(pl.col("decisions") > 0)
        .with_columns(raw_acceptance=pl.col("accepted") / pl.col("decisions"))
    )


def judge(features: pl.DataFrame, context: DetectorContext) -> pl.DataFrame:
    """Per developer: decisions, raw and shrunk acceptance, robust z of its logit within peers."""
    config = context.flags.rejected_work
    per_tool = (
        features.with_columns(acceptance=_shrunk_rate())
        .sort("decisions", "tool", descending=[True, False])
        .group_by("developer", maintain_order=True)
        .first()
    )
    logit = (pl.col("acceptance") / (1 - pl.col("acceptance"))).log()
    frame = (
        context.developers.select("developer", "peer_group")
        .join(per_tool, on="developer", how="left")
        .with_columns(
            pl.col("decisions").fill_null(0),
            robust_z(logit).alias("z"),
            over_peers(pl.col("acceptance").median()).alias("peer_median_acceptance"),
            over_peers(pl.col("acceptance").quantile(0.1)).alias("peer_p10_acceptance"),
        )
    )
    below = pl.col("acceptance") < pl.col("peer_p10_acceptance")
    return frame.with_columns(
        capped(pl.when(below).then(band_severity(pl.col("z"), config.z)).otherwise(0), config.max_severity).alias(
            "severity"
        ),
        band_strength(pl.col("z"), config.z).alias("strength"),
        not_evaluated(
            pl.col("decisions") < config.min_decisions,
            f"accept/reject decisions (at least {config.min_decisions}; Claude Code Analytics, Cursor or Copilot "
            "exports carry them)",
        ).alias("needs"),
    )


def reason(row: dict[str, Any]) -> str:
    """Quote acceptance against peers."""
    return (
        f"{fmt_pct(row['raw_acceptance'])} of {fmt_int(row['decisions'])} suggested edits on {row['tool']} were "
        f"accepted; peer median {fmt_pct(row['peer_median_acceptance'])} (robust z {fmt_num(row['z'], 1)})."
    )


DETECTOR = Detector(
    id="rejected_work",
    family="waste",
    consider=(
        "exploratory prototyping",
        "a careful reviewer who rejects freely",
        "a language or codebase where the tool is weak",
        "onboarding",
    ),
    features=features,
    judge=judge,
    reason=reason,
    evidence=("tool", "decisions", "raw_acceptance", "acceptance", "z", "peer_median_acceptance"),
    outcomes_exculpate=True,
)
