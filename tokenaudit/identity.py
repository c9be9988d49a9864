"""Joining the names tools use (emails, logins, display names, API keys) to one canonical developer.

The policy's ``identities:`` section is the map. Matching is case-insensitive and ignores surrounding
white space. A name that matches nothing keeps its original spelling and is listed as unmatched in the
report's data-quality section: it is never dropped or merged by guesswork. AWS caller ARNs (Bedrock) match
by the whole ARN or, failing that, by their session or IAM user name; the policy's ``agents:`` rules map
agent identities to the person or team they act for before any of this.
"""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl

from tokenaudit.errors import InputError, PolicyError
from tokenaudit.policy import Identity, OnCall, Policy

_ARN_PRINCIPAL = re.compile(r"^arn:aws[\w-]*:(?:sts|iam)::\d*:(?:assumed-role/[^/]+/|user/(?:[^/]+/)*)([^/]+)$")
"""An AWS caller ARN: the session name of an assumed role (an SSO user's e-mail) or the IAM user's name."""


def _key(name: str) -> str:
    return name.strip().lower()


def _glob(pattern: str) -> re.Pattern[str]:
    """A case-insensitive whole-name match where ``*`` is any run of characters and ``?`` one character.

    Nothing else is special, so bot logins such as ``renovate[bot]`` match as written.
    """
    return re.compile(re.escape(_key(pattern)).replace(r"\*", ".*").replace(r"\?", "."))


def _aliases(policy: Policy) -> dict[str, tuple[str, str | None]]:
    """Normalised alias -> (canonical developer, team)."""
    return {
        _key(alias): (developer, identity.team)
        for developer, identity in policy.identities.items()
        for alias in (developer, *identity.aliases)
    }


def _lookup(name: str, aliases: dict[str, tuple[str, str | None]]) -> tuple[str, str | None] | None:
    """The person a name is an alias of; for an AWS caller ARN, else the person its session or user name is."""
    found = aliases.get(_key(name))
    principal = _ARN_PRINCIPAL.match(name.strip())
    if found is None and principal:
        found = aliases.get(_key(principal.group(1)))
    return found


def name_table(names: list[str], policy: Policy) -> pl.DataFrame:
    """Each distinct name a source gives -> canonical ``_developer``, ``_team``, whether that team overrides the
    source's (``_team_wins``, an agent rule's team) and ``identity_matched``.

    Agent rules come first (:class:`~tokenaudit.policy.AgentRule`): an agent acting for a person becomes that
    person; one acting for nobody becomes its own ``agent:<name>`` line, known to the policy and so matched.
    """
    aliases = _aliases(policy)
    rules = [(_glob(rule.match), rule) for rule in policy.agents]
    rows = []
    for name in names:
        rule = next((rule for pattern, rule in rules if pattern.fullmatch(_key(name))), None)
        target = name if rule is None else rule.acts_for
        if target is None and rule is not None:
            rows.append((name, rule.label, rule.team, rule.team is not None, True))
            continue
        assert target is not None
        found = _lookup(target, aliases)
        team = rule.team if rule is not None and rule.team else (found[1] if found else None)
        team_wins = rule is not None and rule.team is not None
        rows.append((name, found[0] if found else target, team, team_wins, found is not None))
    return pl.DataFrame(
        rows,
        schema={
            "_name": pl.String,
            "_developer": pl.String,
            "_team": pl.String,
            "_team_wins": pl.Boolean,
            "identity_matched": pl.Boolean,
        },
        orient="row",
    )


def unattributed_agents(policy: Policy) -> list[str]:
    """The ``agent:<name>`` lines of agent rules that name neither a person nor a team."""
    return [rule.label for rule in policy.agents if rule.acts_for is None and rule.team is None]


def resolve_identities(frame: pl.LazyFrame, policy: Policy, column: str = "developer") -> pl.LazyFrame:
    """Replace ``column`` by the canonical developer (or agent line) and fill ``team`` from the map.

    Names are resolved once per distinct name, then joined back. Adds ``identity_matched`` (bool) so
    callers can list what the map did not cover.
    """
    names = frame.select(pl.col(column).drop_nulls().unique()).collect()[column].to_list()
    # Names held as categorical codes (the ingest's in-memory rows) are joined as such.
    table = name_table(names, policy).with_columns(pl.col("_name").cast(frame.collect_schema()[column]))
    joined = frame.join(table.lazy(), left_on=column, right_on="_name", how="left")
    own_team = pl.col("team") if "team" in frame.collect_schema().names() else pl.lit(None, pl.String)
    return joined.with_columns(
        pl.coalesce("_developer", column).alias(column),
        pl.when(pl.col("_team_wins")).then(pl.col("_team")).otherwise(pl.coalesce(own_team, "_team")).alias("team"),
        pl.col("identity_matched").fill_null(value=False),
    ).drop("_developer", "_team", "_team_wins")


def read_identity_csv(path: Path) -> dict[str, Identity]:
    """An ``alias,developer,team`` CSV (team optional; ``starts``, ``ends``, ``fte``, ``on_call`` optional, see
    :mod:`tokenaudit.presence`), as HR or directory exports provide it.

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
    presence = _presence_columns(frame, path)
    people = (
        rows.hstack(presence)
        .hstack([_on_call_column(frame, path)])
        .group_by("developer", maintain_order=True)
        .agg(
            pl.col("team").drop_nulls().first(),
            pl.col("alias").unique(maintain_order=True),
            *(pl.col(name).drop_nulls().first() for name in presence.columns),
            pl.col("on_call").list.explode(keep_nulls=False, empty_as_null=False).unique(maintain_order=True),
        )
    )
    return {
        row["developer"]: Identity(
            team=row["team"],
            aliases=row["alias"],
            **{name: row[name] for name in presence.columns},
            on_call=[OnCall(starts=span["starts"], ends=span["ends"]) for span in row["on_call"]],
        )
        for row in people.iter_rows(named=True)
    }


def _presence_columns(frame: pl.DataFrame, path: Path) -> pl.DataFrame:
    """The optional ``starts``, ``ends`` (dates) and ``fte`` (0–1] columns, parsed; a bad value names its line."""
    parsed = {
        "starts": pl.col("starts").str.strip_chars().str.to_date("%Y-%m-%d", strict=False),
        "ends": pl.col("ends").str.strip_chars().str.to_date("%Y-%m-%d", strict=False),
        "fte": pl.col("fte").str.strip_chars().cast(pl.Float64, strict=False),
    }
    present = [name for name in parsed if name in frame.columns]
    values = frame.select(*(parsed[name] for name in present))
    for name in present:
        given = frame[name].str.strip_chars().fill_null("") != ""
        valid = values[name].is_not_null() & ((values[name] > 0) & (values[name] <= 1) if name == "fte" else True)
        bad = (given & ~valid).arg_true()
        if bad.len():
            expected = "a number in (0, 1]" if name == "fte" else "a date YYYY-MM-DD"
            msg = f"{path}:{int(bad[0]) + 2}: {name}: expected {expected}, got {frame[name][int(bad[0])]!r}"
            raise InputError(msg)
    return values


def _on_call_column(frame: pl.DataFrame, path: Path) -> pl.Series:
    """The optional ``on_call`` column: rotations ``YYYY-MM-DD..YYYY-MM-DD``, several separated by ``;``, as a list
    of {starts, ends} per row; a bad value (or one that ends before it starts) names its line."""
    span = pl.Struct({"starts": pl.Date, "ends": pl.Date})
    if "on_call" not in frame.columns:
        return pl.Series("on_call", [None] * frame.height, dtype=pl.List(span))
    pieces = (
        frame.select(pl.col("on_call").str.split(";").alias("piece"))
        .with_row_index("row")
        .explode("piece")
        .with_columns(pl.col("piece").str.strip_chars())
        .filter(pl.col("piece").fill_null("") != "")
        .with_columns(
            pl.col("piece").str.extract(r"^(\d{4}-\d{2}-\d{2})\.\.", 1).str.to_date(strict=False).alias("starts"),
            pl.col("piece").str.extract(r"\.\.(\d{4}-\d{2}-\d{2})$", 1).str.to_date(strict=False).alias("ends"),
        )
    )
    bad = pieces.filter(pl.col("starts").is_null() | pl.col("ends").is_null() | (pl.col("ends") < pl.col("starts")))
    if not bad.is_empty():
        line, piece = bad.row(0)[:2]
        expected = "rotations YYYY-MM-DD..YYYY-MM-DD, ends not before starts, separated by ;"
        msg = f"{path}:{line + 2}: on_call: expected {expected}, got {piece!r}"
        raise InputError(msg)
    spans = pieces.group_by("row").agg(pl.struct("starts", "ends").alias("on_call"))
    return (
        pl.DataFrame({"row": range(frame.height)}, schema={"row": pl.UInt32})
        .join(spans, on="row", how="left")
        .sort("row")["on_call"]
        .cast(pl.List(span))
    )


def with_identities(policy: Policy, extra: dict[str, Identity]) -> Policy:
    """The policy with ``extra`` people merged in (their aliases and team added to any policy entry)."""
    merged = dict(policy.identities)
    for developer, identity in extra.items():
        current = merged.get(developer, Identity())
        aliases = list(dict.fromkeys([*current.aliases, *identity.aliases]))
        merged[developer] = Identity(
            team=identity.team or current.team,
            aliases=aliases,
            starts=identity.starts or current.starts,
            ends=identity.ends or current.ends,
            fte=identity.fte or current.fte,
            on_call=identity.on_call or current.on_call,
        )
    try:
        return Policy.model_validate({**policy.model_dump(), "identities": merged})
    except ValueError as exc:
        msg = f"--identities: {str(exc).splitlines()[-1].strip()}"
        raise PolicyError(msg) from None
