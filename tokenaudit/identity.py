"""Joining the names tools use (emails, logins, display names, API keys) to one canonical developer.

The policy's ``identities:`` section is the map. Matching is case-insensitive and ignores surrounding
white space. A name that matches nothing keeps its original spelling and is listed as unmatched in the
report's data-quality section: it is never dropped or merged by guesswork.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from tokenaudit.errors import InputError, PolicyError
from tokenaudit.policy import Identity, Policy


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


def read_identity_csv(path: Path) -> dict[str, Identity]:
    """An ``alias,developer,team`` CSV (team optional), as HR or directory exports provide it.

    Each developer is also an alias of themself; one alias naming two developers is an error that
    names the file and line, because silently picking one would merge two people.
    """
    try:
        frame = pl.read_csv(path, infer_schema=False, encoding="utf8-lossy")
    except (OSError, pl.exceptions.PolarsError) as exc:
        msg = f"{path}: cannot read identities CSV: {str(exc).splitlines()[0]}"
        raise InputError(msg) from None
    missing = [name for name in ("alias", "developer") if name not in frame.columns]
    if missing:
        msg = f"{path}: missing column {missing[0]!r}; expected a header alias,developer,team (team optional)"
        raise InputError(msg)
    rows = frame.with_row_index("line", offset=2).select(
        "line",
        pl.col("alias").str.strip_chars(),
        pl.col("developer").str.strip_chars(),
        (pl.col("team") if "team" in frame.columns else pl.lit(None, pl.String)).str.strip_chars().alias("team"),
    )
    blank = rows.filter(pl.col("alias").is_null() | pl.col("developer").is_null())
    if not blank.is_empty():
        msg = f"{path}:{blank['line'][0]}: alias and developer must both be given"
        raise InputError(msg)
    clashes = rows.with_columns(key=pl.col("alias").str.to_lowercase()).filter(
        pl.col("developer").n_unique().over("key") > 1
    )
    if not clashes.is_empty():
        first = clashes.row(0, named=True)
        msg = f"{path}:{first['line']}: alias {first['alias']!r} is given to more than one developer"
        raise InputError(msg)
    people = rows.group_by("developer", maintain_order=True).agg(
        pl.col("team").drop_nulls().first(), pl.col("alias").unique(maintain_order=True)
    )
    return {row["developer"]: Identity(team=row["team"], aliases=row["alias"]) for row in people.iter_rows(named=True)}


def with_identities(policy: Policy, extra: dict[str, Identity]) -> Policy:
    """The policy with ``extra`` people merged in (their aliases and team added to any policy entry)."""
    merged = dict(policy.identities)
    for developer, identity in extra.items():
        current = merged.get(developer, Identity())
        aliases = list(dict.fromkeys([*current.aliases, *identity.aliases]))
        merged[developer] = Identity(team=identity.team or current.team, aliases=aliases)
    try:
        return Policy.model_validate({**policy.model_dump(), "identities": merged})
    except ValueError as exc:
        msg = f"--identities: {str(exc).splitlines()[-1].strip()}"
        raise PolicyError(msg) from None
