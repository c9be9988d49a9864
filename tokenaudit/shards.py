"""The pipeline in shards: pure functions over one shard, and the temporary Parquet folder that holds the shards
of an input larger than the memory budget.

Two partitions, because one cannot serve both needs exactly:

* **Duplicates.** Every copy of an event must meet the others in one shard for the dedup to keep the right one.
  Copies share their ``dedup_key`` but not always their developer: two exports may spell a person differently
  where the identity map does not join the spellings, and a copied transcript folder may sit under another
  name. So read rows are sharded by a hash of the dedup key; :func:`deduplicate_shard` then
  :func:`clean_shard` deduplicate, resolve identities, price and filter one such shard.
* **Developers.** Per-developer figures need all of a developer's events: :func:`developer_table` gives the same
  rows on any slice of events that holds whole developers (sharded by a hash of the canonical developer).

Under the budget the whole input is one shard in memory: exactly the unsharded computation. Both functions are
pure functions of (frame, policy): no global state, so a distributed engine can run them on its workers.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

import polars as pl

from tokenaudit.errors import UsageError
from tokenaudit.identity import resolve_identities, unattributed_agents
from tokenaudit.metrics import CUBE_KEYS, cube_totals, exposure_of_cube, usage_cube
from tokenaudit.periods import Period
from tokenaudit.policy import Policy
from tokenaudit.pricing import apply_prices
from tokenaudit.schema import EVENT_SCHEMA, empty_events, kept_copies, repeated, request_key, total_tokens

if TYPE_CHECKING:
    from tokenaudit.detectors import ShardedFeatures
    from tokenaudit.views import EventViews

KEY_HASH: Final = "_key_hash"
"""The 64-bit hash of a row's ``dedup_key``, on which repeated keys are found (:func:`losing_rows`)."""
HELD_CODES: Final = (
    "developer",
    "team",
    "tool",
    "model",
    "session_id",
    "prompt_hash",
    "grain",
    "turn",
    "source_format",
    "source_file",
)
"""Text columns of few distinct values, held as categorical codes while the input is in memory (:func:`held`)."""
UNDIGESTED: Final = ("request_id", "source_file", "source_line")
"""Columns no developer shard's reduction reads (:func:`developer_digest`): dropped from held events before they
are split by developer."""
DEVELOPER_SHARD_ROWS: Final = 1_000_000
"""Events held in memory are reduced in developer shards of about this many read rows (:func:`developer_digest`):
one shard's events and the detectors' working copies of them are what the reduction holds besides the held rows."""
ORDER: Final = "_order"
"""Position of a read row in the whole input, carried through spilled shards to restore the input order."""
MEMORY_SHARE: Final = 2
"""The default memory budget is physical memory divided by this."""
HOLD_SHARE: Final = 4
"""Read rows are held in memory up to budget / this (their estimated size as read), then spilled: the process around
them (decoding, partitioning, writing) holds about as much again (10M flat Parquet at 2G: 1.96 GB peak at a half)."""
MAX_HOLD_BYTES: Final = 5 * 2**29
"""...and at most this much (2.5 GiB), whatever the budget (10M flat Parquet events are 1.95 GiB as estimated when
read, 1.6 GiB held): what is held when the rows spill is kept while they are written (100M events at the default
budget of a 24 GiB machine would hold 3 GiB as read)."""
SHARD_SHARE: Final = 16
"""A spilled shard holds about budget / this of read rows: cleaning one holds it, its dedup copy and the result, and
reducing a developer shard holds its events and the detectors' working copies, six to seven times as much in all."""
MAX_SHARD_BYTES: Final = 256 * 2**20
"""...and at most this much, whatever the budget: larger shards save little (a shard's fixed work is about a quarter
of a second) and cost memory (100M events at the default budget of a 24 GiB machine: 768 MB shards)."""
MAX_SHARDS: Final = 1024
READ_ROW_BYTES: Final = 208
"""Memory of a read row of a flat export (measured on 10M flat Parquet events)."""
READ_EXPANSION: Final = 2
"""Reading a part of a file holds several times its rows' final size while decoding and checking them."""
MAX_READ_ROWS: Final = 2**18
"""Parts of a quarter of a million rows decode with less CPU than larger ones (10M flat Parquet events, read and held,
alternated: 9.7 s against 12.8 s in parts of 645,000 rows) and hold less while they decode."""
BY_DEVELOPER: Final = "by-developer"
"""The spill folder's subfolder of cleaned events in developer shards (:meth:`Spill.regroup`)."""


@dataclass(frozen=True)
class CleanShard:
    """One shard's deduplicated, identity-resolved, priced events inside the period, and what it set aside."""

    events: pl.DataFrame
    """:data:`~tokenaudit.schema.EVENT_SCHEMA` without ``dedup_key`` (plus the input order, if given)."""
    sources: pl.DataFrame
    """Per file of the read rows: source_file, source_format, events, first and last timestamp (before the dedup)."""
    duplicates_dropped: int
    outside_period: int
    unpriced_models: frozenset[str]
    unmatched_identities: frozenset[str]
    unattributed_agents: frozenset[str]


def deduplicate(events: pl.LazyFrame) -> pl.LazyFrame:
    """Keep one row per ``dedup_key``: the one with the most tokens (streamed partial lines lose).

    Ties go to the earliest file and line, so the result does not depend on the order of inputs.
    Most keys are unique, so only the rows whose key repeats are ranked (:func:`losing_rows`); the rest pass
    through a single filter.
    """
    rows = events.with_row_index("_row")
    losers = losing_rows(rows.with_columns(pl.col("dedup_key").hash().alias(KEY_HASH)))
    if losers.is_empty():
        return events  # nothing to drop: no copy of every row
    return rows.filter(~pl.col("_row").is_in(losers.implode())).drop("_row")


def losing_rows(rows: pl.LazyFrame) -> pl.Series:
    """The ``_row`` numbers of the copies the dedup drops, among rows (read or held: :func:`held`) numbered ``_row``
    with their key's :data:`KEY_HASH`. Repeats are found on the 64-bit hash (integers are several times cheaper to
    compare than strings) and only those rows are ranked; a hash collision only adds a candidate, because
    :func:`losing_copies` compares the keys themselves."""
    candidates = rows.filter(repeated(pl.col(KEY_HASH))).pipe(typed, codes=True)
    return losing_copies(ranked(candidates, "_row"), "_row")


def ranked(rows: pl.LazyFrame, *columns: str) -> pl.LazyFrame:
    """What :func:`losing_copies` compares of read rows (key, file, line and total tokens), after ``columns`` (their
    row number first)."""
    return rows.select(*columns, "dedup_key", "source_file", "source_line", total_tokens().alias("_total"))


def losing_copies(candidates: pl.LazyFrame, row: str) -> pl.Series:
    """The ``row`` numbers of the copies :func:`deduplicate` drops, among :func:`ranked` rows (in input order) that
    hold every copy of their keys (other rows may come along: each key is ranked on its own)."""
    best = kept_copies(candidates)
    return candidates.join(best, on=row, how="anti").select(row).collect().to_series()


def resolve_identities_and_price(events: pl.LazyFrame, policy: Policy) -> pl.LazyFrame:
    """Canonical developers and teams, then costs from the price table where the export had none."""
    if policy.identities or policy.agents:
        resolved = resolve_identities(events, policy)
    else:
        # Without an identity map the join would match nothing: skip its per-row key building.
        resolved = events.with_columns(identity_matched=pl.lit(value=False))
    return apply_prices(resolved, policy.pricing.models)


def in_period(since: dt.date | None, until: dt.date | None, timezone: str) -> pl.Expr:
    """True for events whose local date (in ``timezone``) lies within the inclusive bounds."""
    local_day = pl.col("timestamp").dt.convert_time_zone(timezone).dt.date()
    keep = pl.lit(value=True)
    if since:
        keep &= local_day >= since
    if until:
        keep &= local_day <= until
    return keep


@dataclass(frozen=True)
class UniqueShard:
    """One shard's read rows after the dedup: the first half of :func:`clean_shard`, so that a caller can free the
    read rows (the largest frame: every streamed line, every copy) before the second half."""

    events: pl.DataFrame
    sources: pl.DataFrame
    read_rows: int


def deduplicate_shard(raw: pl.DataFrame) -> UniqueShard:
    """Per-file summary and dedup of read rows holding every copy of their keys (canonical columns, optionally
    :data:`ORDER`)."""
    unique = deduplicate(raw.lazy()).drop("dedup_key").collect(engine="in-memory")
    return UniqueShard(events=unique, sources=read_sources(raw), read_rows=raw.height)


def read_sources(raw: pl.DataFrame) -> pl.DataFrame:
    """Per file of read (or :func:`held`) rows: source_file, source_format, events, first and last timestamp
    (:class:`CleanShard`)."""
    by_file = raw.group_by("source_file").agg(  # one reader per file: grouping by the format too costs a row encoding
        pl.col("source_format").first(),
        pl.len().alias("events"),
        pl.col("timestamp").min().alias("first"),
        pl.col("timestamp").max().alias("last"),
    )
    timestamp = EVENT_SCHEMA["timestamp"]
    return by_file.with_columns(
        pl.col("source_file", "source_format").cast(pl.String), pl.col("first", "last").cast(timestamp)
    )


def clean_shard(
    shard: UniqueShard, policy: Policy, since: dt.date | None, until: dt.date | None, timezone: str
) -> CleanShard:
    """Resolve identities, price and keep the period, for a deduplicated shard (:func:`deduplicate_shard`)."""
    resolved = resolve_identities_and_price(shard.events.lazy(), policy).collect(engine="in-memory")
    inside = resolved.filter(in_period(since, until, timezone)) if since or until else resolved
    unmatched = inside.filter(~pl.col("identity_matched"))["developer"] if policy.identities else pl.Series([])
    unpriced, unattributed = period_diagnostics(inside, policy)
    columns = [name for name in (*EVENT_SCHEMA, ORDER) if name != "dedup_key" and name in inside.columns]
    return CleanShard(
        events=inside.select(columns),
        sources=shard.sources,
        duplicates_dropped=shard.read_rows - resolved.height,
        outside_period=resolved.height - inside.height,
        unpriced_models=unpriced,
        unmatched_identities=frozenset(unmatched.unique().to_list()),
        unattributed_agents=unattributed,
    )


def period_diagnostics(events: pl.DataFrame, policy: Policy) -> tuple[frozenset[str], frozenset[str]]:
    """Models used without a price, and the policy's unattributed agent lines, among ``events``."""
    # Rows without tokens (Copilot and Cursor daily activity) have no per-token cost to miss.
    unpriced = events.filter(pl.col("cost_usd").is_null() & (total_tokens() > 0))["model"].fill_null("(no model)")
    agents = unattributed_agents(policy)
    unattributed = events.filter(pl.col("developer").is_in(agents))["developer"] if agents else pl.Series([])
    return frozenset(unpriced.unique().to_list()), frozenset(unattributed.unique().to_list())


def developer_table(events: pl.DataFrame, timezone: str) -> pl.DataFrame:
    """Per developer: usage totals, active days, cost, main team and ranking exposure, largest total first.

    Reads only each developer's own events, so any slice of events that holds whole developers gives
    the same rows for them (developer-hash shards).
    """
    return cube_developer_table(usage_cube(events, timezone))


def cube_developer_table(cube: pl.DataFrame) -> pl.DataFrame:
    """:func:`developer_table` from the events' :func:`~tokenaudit.metrics.usage_cube`. The main team is the one of
    most events (ties: the first in sort order); none when no event names one."""
    by_team = cube.filter(pl.col("team").is_not_null()).group_by("developer", "team").agg(pl.col("events").sum())
    team = by_team.group_by("developer").agg(pl.col("team").filter(pl.col("events") == pl.col("events").max()).min())
    exposure = cube.group_by("developer").agg(exposure_of_cube())
    return (
        cube_totals(cube, ["developer"])
        .join(exposure.join(team, on="developer", how="left"), on="developer", how="left")
        .select(pl.exclude("exposure"), "exposure")
    )


@dataclass(frozen=True)
class Reduction:
    """What each developer shard of a load is reduced to besides its usage cube: what the command that reads the load
    needs of its events (the rest of them is dropped)."""

    features: bool = True
    """The detectors' features of the load's period (an audit of it)."""
    periods: tuple[Period, ...] = ()
    """Periods within the load's, audited on their own (a report's, and the one before it to compare with): each
    one's :class:`PeriodDigest`, the first one's with the report's views of its events."""
    lookback_days: int = 0
    """The detectors of a period shorter than this read this many days ending with it (:func:`lookback_window`)."""
    explained: str | None = None
    """explain: :func:`~tokenaudit.views.explain_views` for the developer of this name."""


@dataclass(frozen=True)
class PeriodDigest:
    """What the load of a period within the loaded one needs of its events (:func:`tokenaudit.ingest.narrow`)."""

    cube: pl.DataFrame
    features: ShardedFeatures
    """The detectors' features of the period, read over its lookback window when it is short."""
    outside: int
    """The loaded events outside the period."""
    unpriced_models: frozenset[str]
    unattributed_agents: frozenset[str]
    views: EventViews | None = None
    """The report's views of the period's events (:func:`~tokenaudit.views.report_views`)."""

    @staticmethod
    def merged(parts: Sequence[PeriodDigest]) -> PeriodDigest:
        """The digest of the period's events in every developer shard (one at least), from theirs."""
        from tokenaudit.detectors import ShardedFeatures
        from tokenaudit.views import EventViews

        views = [part.views for part in parts if part.views is not None]
        return PeriodDigest(
            developer_cubes([part.cube for part in parts]),
            ShardedFeatures.merged([part.features for part in parts]),
            sum(part.outside for part in parts),
            frozenset().union(*(part.unpriced_models for part in parts)),
            frozenset().union(*(part.unattributed_agents for part in parts)),
            EventViews.merged(views) if views else None,
        )


@dataclass(frozen=True)
class DeveloperDigest:
    """What a command's driver needs of a developer shard's events (:class:`Reduction`): their usage cube, and their
    detectors' features, the digests of periods within the load and views of the events where asked for."""

    cube: pl.DataFrame
    features: ShardedFeatures | None
    periods: tuple[PeriodDigest, ...] = ()
    views: EventViews | None = None


def developer_digest(
    events: pl.DataFrame, policy: Policy, timezone: str, reduction: Reduction | None = None
) -> DeveloperDigest:
    """The :class:`DeveloperDigest` of events (in input order) that hold whole developers: the cubes of all shards
    add up to the whole period's, their features merge to its features (``tests/test_partitions.py``), their views
    to its views. ``reduction``: what is wanted (default: the cube and the features, for an audit). Text columns may
    come as categorical codes (:func:`held` rows in :func:`typed` with ``codes``): the cube and the features group and
    compare them as they are and give text."""
    wanted = reduction or Reduction()
    if wanted.periods or wanted.explained is not None:
        # The views read text (names in any case, sessions' ids); an audit's cube and features read codes.
        events = typed(events.lazy()).collect()
    cube = usage_cube(events, timezone)
    periods = tuple(
        period_digest(events, policy, period, wanted.lookback_days, views=number == 0)
        for number, period in enumerate(wanted.periods)
    )
    views = None
    if wanted.explained is not None:
        from tokenaudit.views import explain_views  # the detectors' modules: totals need none of them

        views = explain_views(events, wanted.explained)
    features = detector_features(events, cube, policy, timezone) if wanted.features else None
    return DeveloperDigest(cube, features, periods, views)


def detector_features(events: pl.DataFrame, cube: pl.DataFrame, policy: Policy, timezone: str) -> ShardedFeatures:
    """The detectors' features of ``events`` (whole developers), whose developers' teams come from ``cube``."""
    from tokenaudit.detectors import ShardedFeatures, build_context  # the audit's; totals need none of it

    context = build_context(events, cube_developer_table(cube), policy.flags, policy.leaderboard, timezone)
    return ShardedFeatures.of(context, timezone)


def period_digest(
    events: pl.DataFrame, policy: Policy, period: Period, lookback_days: int, views: bool
) -> PeriodDigest:
    """The :class:`PeriodDigest` of ``period`` from events of whole developers over a span that holds it and its
    lookback window; with ``views``, the report's views of its events too."""
    timezone = period.timezone
    inside = events.filter(in_period(period.since, period.until, timezone))
    cube = usage_cube(inside, timezone)
    history = lookback_window(events, inside, period, lookback_days)
    unpriced, unattributed = period_diagnostics(inside, policy)
    shown = None
    if views:
        from tokenaudit.views import report_views

        shown = report_views(inside, policy.flags.headless_work, timezone)
    features = detector_features(inside if history is None else history, cube, policy, timezone)
    return PeriodDigest(cube, features, events.height - inside.height, unpriced, unattributed, shown)


def lookback_window(events: pl.DataFrame, inside: pl.DataFrame, period: Period, days: int) -> pl.DataFrame | None:
    """The events of the ``days`` ending on ``period``'s last day of the developers of ``inside`` (the period's
    events), when the period is shorter: a week is too short for most detectors, and a flag must not read "cleared"
    because it could not run. None when the period is as long or open."""
    until = period.until
    if until is None or (period.since is not None and (until - period.since).days + 1 >= days):
        return None
    window = in_period(until - dt.timedelta(days=days - 1), until, period.timezone)
    present = inside["developer"].unique().implode()
    return events.filter(window & pl.col("developer").is_in(present))


def merged_digests(digests: Sequence[DeveloperDigest]) -> DeveloperDigest:
    """The digest of the events of every developer shard (one at least), from theirs."""
    from tokenaudit.detectors import ShardedFeatures
    from tokenaudit.views import EventViews

    features = [digest.features for digest in digests if digest.features is not None]
    views = [digest.views for digest in digests if digest.views is not None]
    return DeveloperDigest(
        developer_cubes([digest.cube for digest in digests]),
        ShardedFeatures.merged(features) if features else None,
        tuple(PeriodDigest.merged(parts) for parts in zip(*(digest.periods for digest in digests), strict=True)),
        EventViews.merged(views) if views else None,
    )


def held(rows: pl.DataFrame) -> pl.DataFrame:
    """Read or cleaned rows as the ingest holds them in memory, in less than half their size: the text of
    :data:`HELD_CODES` as categorical codes (4 bytes a row against a 16-byte view and the text), 64-bit integers in
    the narrowest type that holds their values, each column without a value as Null (no bytes), and read rows'
    ``dedup_key`` hashed (:data:`KEY_HASH`) and left out where it is ``rid:`` and the request id (:func:`typed` makes
    it again). Values are kept exactly."""
    if "dedup_key" in rows.columns:
        key = pl.col("dedup_key")
        rows = rows.with_columns(key.hash().alias(KEY_HASH), pl.when(~_is_request_key(key)).then(key))
    return rows.select(_held_column(rows.get_column(name)) for name in rows.columns)


def _is_request_key(key: pl.Expr) -> pl.Expr:
    """Whether ``key`` is ``rid:`` and the row's request id (:func:`~tokenaudit.schema.request_key`; false where
    either is missing), found without making that text for every row: it starts with ``rid:``, ends with the id and
    is four bytes longer (10M flat events: 0.13 s against 0.3 s of CPU)."""
    request = pl.col("request_id")
    same = (
        key.str.starts_with("rid:") & key.str.ends_with(request) & (key.str.len_bytes() == request.str.len_bytes() + 4)
    )
    return same.fill_null(value=False)


def _held_column(column: pl.Series) -> pl.Expr:
    """A column of :func:`held` rows."""
    name = column.name
    if column.null_count() == column.len():
        return pl.col(name).cast(pl.Null)
    if column.dtype == pl.Int64:
        return pl.col(name).cast(_narrowest(column))
    if name not in HELD_CODES or column.dtype == pl.Categorical:
        return pl.col(name)
    # A file's name, its format: no hash of every row. Equality with the first value is one cheap pass (a string's
    # first bytes sit in its view); min and max take two passes of string comparisons.
    if not column.null_count() and bool((column == column.first()).all()):
        return pl.lit(column.first(), pl.Categorical).alias(name)
    return pl.col(name).cast(pl.Categorical)


_NARROW: Final = ((pl.Int8, 2**7), (pl.Int16, 2**15), (pl.Int32, 2**31))


def _narrowest(column: pl.Series) -> pl.DataType:
    """The smallest signed integer type that holds every value of an Int64 ``column`` (token counts, line numbers:
    4 bytes a row or less against 8)."""
    low, high = column.min(), column.max()
    assert isinstance(low, int) and isinstance(high, int)
    for dtype, bound in _NARROW:
        if -bound <= low and high < bound:
            return dtype()
    return pl.Int64()


def typed(rows: pl.LazyFrame, *, codes: bool = False) -> pl.LazyFrame:
    """:func:`held` rows in :data:`~tokenaudit.schema.EVENT_SCHEMA`'s types, their ``dedup_key`` made again,
    without :data:`KEY_HASH` (other columns as they are); with ``codes``, categorical codes stay (cleaning reads them
    as they are)."""
    schema = rows.collect_schema()
    key = pl.col("dedup_key").cast(pl.String)
    key = pl.coalesce(key, request_key()) if "request_id" in schema else key
    return rows.with_columns(
        (key if name == "dedup_key" else pl.col(name).cast(EVENT_SCHEMA[name])).alias(name)
        for name, dtype in schema.items()
        if name in EVENT_SCHEMA and not (codes and dtype == pl.Categorical)
    ).drop(KEY_HASH, strict=False)


def developer_cubes(cubes: Sequence[pl.DataFrame]) -> pl.DataFrame:
    """The usage cube of developer shards' events (no developer in two shards) from theirs: their rows in key order.
    Each key is in one shard, so this is :func:`~tokenaudit.metrics.summed_cubes` without its group-by, which holds
    further copies of a cube that is large at 100M events of 50,000 developers. Sorted lazily, as
    :func:`~tokenaudit.metrics.usage_cube` sorts: an eager sort marks the developers sorted, and Polars then groups the
    cube by another path whose float cost totals differ in the last bit (a total of half a nano-dollar then rounds
    the other way)."""
    return pl.concat(cubes, how="vertical").lazy().sort(CUBE_KEYS, nulls_last=True).collect()


def rows_per_read(budget: int) -> int:
    """A Parquet file is read in parts of this many rows: what decodes in about a shard's size under the memory
    ``budget`` (:func:`shard_bytes`, :data:`READ_EXPANSION`), at most :data:`MAX_READ_ROWS` (a 10M-row file read whole
    is a 4.7 GB frame)."""
    return max(1, min(MAX_READ_ROWS, shard_bytes(budget) // READ_EXPANSION // READ_ROW_BYTES))


def shard_bytes(budget: int) -> int:
    """The read rows' size of a spilled shard under ``budget`` (:data:`SHARD_SHARE`, :data:`MAX_SHARD_BYTES`)."""
    return min(budget // SHARD_SHARE, MAX_SHARD_BYTES)


REDUCTION_EXPANSION: Final = 7
"""Reducing a developer shard holds about this many times its read rows' size: its events and the detectors' working
copies of them (:data:`SHARD_SHARE`)."""
DIGESTS_AT_ONCE: Final = 2
"""Developer shards reduced at once where the memory budget holds their reductions (:func:`digests_at_once`)."""


def digests_at_once(budget: int, shard: int) -> int:
    """How many developer shards of about ``shard`` bytes of read rows are reduced at once under the memory
    ``budget`` (:func:`tokenaudit.ingest.developer_digests`): :data:`DIGESTS_AT_ONCE` where the budget holds as many
    reductions (:data:`REDUCTION_EXPANSION`), else fewer, one at least. A spilled shard is a sixteenth of the budget
    or less (:data:`SHARD_SHARE`): two of its reductions fit."""
    return max(1, min(DIGESTS_AT_ONCE, budget // max(1, REDUCTION_EXPANSION * shard)))


def default_memory_limit() -> int:
    """A fraction of physical memory (:data:`MEMORY_SHARE`)."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // MEMORY_SHARE


_UNITS: Final = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}


def parse_memory_limit(text: str) -> int:
    """``--memory-limit``: bytes from ``512M``, ``2G``, ``2GiB``, ``1.5gb`` or a plain byte count."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*", text.lower())
    if match is None or float(match[1]) <= 0:
        msg = f"--memory-limit: expected a size such as 512M or 4G, got {text!r}"
        raise UsageError(msg)
    return int(float(match[1]) * _UNITS[match[2]])


TEXT_VIEW_BYTES: Final = 16
"""What a row of a text column holds at least (its view), which a reader's categorical codes (4 bytes) stand for."""


def read_size(rows: pl.DataFrame) -> int:
    """The size of read rows as the memory budget counts them: their estimated size, a categorical column counted as
    the text column it stands for (the generic reader reads clean text as codes): the budget's shares were measured
    on rows read as text, and the process around read rows (decoding, partitioning, writing) still holds text."""
    codes = sum(dtype == pl.Categorical for dtype in rows.schema.values())
    return int(rows.estimated_size()) + codes * rows.height * (TEXT_VIEW_BYTES - 4)


def split_by_hash(rows: pl.DataFrame, key: str, parts: int) -> dict[int, pl.DataFrame]:
    """``rows`` in up to ``parts`` frames by a hash of ``key``, by number (none for a number no row has), each in
    their order."""
    found = rows.with_columns((pl.col(key).hash() % parts).alias("_shard")).partition_by(
        "_shard", as_dict=True, include_key=False, maintain_order=True
    )
    return {int(number): part for (number,), part in found.items()}


class Spill:
    """Read rows held in memory until they pass their share of the budget (:data:`HOLD_SHARE`), then in a temporary
    Parquet folder, sharded by a hash of their dedup key.

    Rows keep their position in the input (:data:`ORDER`) once spilled, so that the cleaned shards can be put
    back in input order: ties in the detectors' sort then fall as they do without shards.
    """

    def __init__(self, budget: int, input_bytes: int) -> None:
        self.budget = budget
        self.input_bytes = max(input_bytes, 1)
        self.held: list[tuple[int, pl.DataFrame, int]] = []
        """Frames in memory with the input position of their first row and their size as read."""
        self.held_bytes = 0
        self.rows = 0
        self.folder: Path | None = None
        self.shards = 1
        self.parts = 0

    def __enter__(self) -> Spill:
        return self

    def __exit__(self, *_: object) -> None:
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)

    @property
    def spilled(self) -> bool:
        """Whether the rows went to disk (else they are one shard in memory)."""
        return self.folder is not None

    def add(self, rows: pl.DataFrame, read_bytes: int) -> None:
        """Take read rows; ``read_bytes`` is how much input has been read so far (to extrapolate the total). The
        budget counts rows at their size as read; rows kept in memory are held smaller (:func:`held`)."""
        size = read_size(rows)
        self.held_bytes += size
        spills = self.folder is not None or self.held_bytes > min(self.budget // HOLD_SHARE, MAX_HOLD_BYTES)
        self.held.append((self.rows, rows if spills else held(rows), size))
        self.rows += rows.height
        if not spills:
            return
        if self.folder is None:
            expected = self.held_bytes * max(self.input_bytes / max(read_bytes, 1), 1.0)
            self.shards = min(MAX_SHARDS, max(2, math.ceil(expected / shard_bytes(self.budget))))
            self.folder = Path(tempfile.mkdtemp(prefix="tokenaudit-shards-"))
        kept, self.held, self.held_bytes = self.held, [], 0
        while kept:  # each frame freed once written
            first, frame, frame_size = kept.pop(0)
            # A slice at a time: partitioning copies its rows, and a whole read batch can be larger than the budget.
            step = max(1, int(frame.height * shard_bytes(self.budget) / max(frame_size, 1)))
            for start in range(0, frame.height, step):
                rows = typed(frame.slice(start, step).lazy()).collect()
                self._write(
                    rows.with_columns(
                        pl.int_range(first + start, first + start + rows.height, dtype=pl.Int64).alias(ORDER)
                    )
                )

    def _write(self, rows: pl.DataFrame, key: str = "dedup_key", under: str = "") -> None:
        """One part file in each shard folder (under ``under``) that a row goes to by a hash of ``key``."""
        assert self.folder is not None
        for number, part in split_by_hash(rows, key, self.shards).items():
            folder = self.folder / under / f"shard-{number:04d}"
            folder.mkdir(parents=True, exist_ok=True)
            part.write_parquet(folder / f"part-{self.parts:06d}.parquet", compression="lz4")
        self.parts += 1

    def frames(self) -> Iterator[pl.DataFrame]:
        """Each spilled shard's rows, its folder deleted once read (the folder holds every read row: 100M events
        took 24 GB of disk while they were cleaned)."""
        assert self.folder is not None
        for folder in sorted(self.folder.glob("shard-*")):
            rows = pl.read_parquet(folder / "*.parquet")
            shutil.rmtree(folder, ignore_errors=True)
            yield rows

    def regroup(self, events: pl.DataFrame) -> None:
        """Write one cleaned shard's events (with :data:`ORDER`) to the folder again, split by a hash of the
        developer (:meth:`developer_frames`)."""
        self._write(events, "developer", BY_DEVELOPER)

    @property
    def regrouped(self) -> bool:
        """Whether any developer shard was written (:meth:`regroup`)."""
        return self.folder is not None and (self.folder / BY_DEVELOPER).is_dir()

    def developer_frames(self) -> Iterator[pl.DataFrame]:
        """Each developer shard's cleaned events (:meth:`regroup`) in input order, without :data:`ORDER`, its folder
        deleted once read."""
        assert self.folder is not None
        for folder in sorted((self.folder / BY_DEVELOPER).glob("shard-*")):
            events = pl.read_parquet(folder / "*.parquet").sort(ORDER).drop(ORDER)
            shutil.rmtree(folder, ignore_errors=True)
            yield events

    def take_held(self) -> list[pl.DataFrame]:
        """The rows held in memory (:func:`held`, nothing spilled), in input order, no longer referenced here (the
        caller alone frees them)."""
        kept, self.held = self.held, []
        return [frame for _, frame, _ in kept] or [held(empty_events())]
