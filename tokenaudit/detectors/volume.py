"""S1 ``volume_outlier`` (inflation): total tokens far above the peer group.

Robust z of log10(total tokens) within the peer group (team with enough developers, else the
organisation). Never enough on its own: heavy, productive users are exactly the people it finds.
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
    not_evaluated,
    over_peers,
    robust_z,
)


def compute(context: DetectorContext) -> pl.DataFrame:
    """Modified z of log10(total) per developer, with the peer median for the reason."""
    config = context.flags.volume_outlier
    log_total = pl.col("total_tokens").clip(1).log10()
    return context.developers.select(
        "developer",
        "peer_group",
        "n_peers",
        "total_tokens",
        "active_days",
        robust_z(log_total, spread="at_least_pooled").alias("z"),
        over_peers(pl.col("total_tokens").median()).alias("peer_median_tokens"),
    ).with_columns(
        capped(band_severity(pl.col("z"), config.z), config.max_severity).alias("severity"),
        band_strength(pl.col("z"), config.z).alias("strength"),
        not_evaluated(
            (pl.col("n_peers") < config.min_peers) | (pl.col("active_days") < config.min_active_days),
            f"at least {config.min_peers} peers and {config.min_active_days} active days",
        ).alias("needs"),
    )


def reason(row: dict[str, Any]) -> str:
    """One sentence a manager can read."""
    ratio = row["total_tokens"] / max(row["peer_median_tokens"], 1)
    return (
        f"{fmt_int(row['total_tokens'])} tokens, {ratio:.1f}× the peer median of "
        f"{fmt_int(row['peer_median_tokens'])} (robust z {fmt_num(row['z'], 1)} among {row['n_peers']} peers)."
    )


DETECTOR = Detector(
    id="volume_outlier",
    family="inflation",
    consider=(
        "productive heavy user",
        "migration or large refactor",
        "new agent workflow",
        "covering for absent teammates",
    ),
    compute=compute,
    reason=reason,
    gauges=(("z", "z"),),
    evidence=("total_tokens", "peer_median_tokens", "z", "n_peers", "peer_group"),
    outcomes_exculpate=True,
)
