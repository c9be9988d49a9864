"""Joining the names tools use (emails, logins, display names, API keys) to one canonical developer.

The policy's ``identities:`` section is the map. Matching is case-insensitive and ignores surrounding
white space. A name that matches nothing keeps its original spelling and is listed as unmatched in the
report's data-quality section: it is never dropped or merged by guesswork.
"""

from __future__ import annotations

import polars as pl

from tokenaudit.policy import Policy


def alias_table(policy: Policy) -> pl.DataFrame:
    """``alias_key`` (normalised alias) -> canonical ``developer_id`` and ``identity_team``."""
    rows = [
        (alias.strip().lower(), developer, identity.team)
        for developer, identity in policy.identities.items()
        for alias in (developer, *identity.aliases)
    ]
    return pl.DataFrame(
        rows,
        schema={"alias_key": pl.String, "developer_id": pl.String, "identity_team": pl.String},
        orient="row",
    ).unique("alias_key")


def resolve_identities(frame: pl.LazyFrame, policy: Policy, column: str = "developer") -> pl.LazyFrame:
    """Replace ``column`` by the canonical developer and fill ``team`` from the map.

    Adds ``identity_matched`` (bool) so callers can list what the map did not cover.
    """
    table = alias_table(policy)
    joined = frame.with_columns(alias_key=pl.col(column).str.strip_chars().str.to_lowercase()).join(
        table.lazy(), on="alias_key", how="left"
    )
    team = pl.coalesce("team", "identity_team") if "team" in frame.collect_schema().names() else pl.col("identity_team")
    return joined.with_columns(
        pl.coalesce("developer_id", column).alias(column),
        team.alias("team"),
        identity_matched=pl.col("developer_id").is_not_null(),
    ).drop("alias_key", "developer_id", "identity_team")
