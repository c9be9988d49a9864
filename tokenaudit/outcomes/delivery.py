"""Delivery figures per team in the style of DORA: deployments, change failure rate, incidents per deployment.

They come from the ``deployment``, ``failed_deployment`` and ``incident`` outcomes (see
:mod:`tokenaudit.outcomes.deployments` and :mod:`tokenaudit.outcomes.incidents`) and are only given where those
exports were read: a rate without deployments is null, never 0.
"""

from __future__ import annotations

from typing import Final

import polars as pl

DELIVERY_KINDS: Final = ("deployment", "failed_deployment", "incident")


def team_delivery(outcomes: pl.DataFrame, developer_teams: pl.DataFrame) -> pl.DataFrame:
    """team -> deployments, failed_deployments, incidents, change_failure_rate, incidents_per_deployment.

    An outcome's team is the one its export or the policy gives it, else its developer's team in the audit
    (``developer_teams``: developer, team); rows of neither count under a null team.
    """
    rows = (
        outcomes.filter(pl.col("kind").is_in(DELIVERY_KINDS))
        .join(developer_teams.rename({"team": "developer_team"}), on="developer", how="left")
        .with_columns(pl.coalesce("team", "developer_team").alias("team"))
    )
    counts = rows.group_by("team").agg(
        [pl.col("count").filter(pl.col("kind") == kind).sum().alias(f"{kind}s") for kind in DELIVERY_KINDS]
    )
    deployments = pl.col("deployments")
    return counts.with_columns(
        change_failure_rate=pl.when(deployments > 0).then(pl.col("failed_deployments") / deployments),
        incidents_per_deployment=pl.when(deployments > 0).then(pl.col("incidents") / deployments),
    )
