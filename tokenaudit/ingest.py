"""From INPUT arguments to one clean event frame: read, resolve identities, deduplicate, price, filter.

This is the single pass every command starts with, so that ``totals``, ``audit`` and later reports can
never disagree about which events exist.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import polars as pl

from tokenaudit import progress
from tokenaudit.identity import resolve_identities, unattributed_agents
from tokenaudit.policy import Policy
from tokenaudit.pricing import apply_prices
from tokenaudit.readers import read_sources
from tokenaudit.readers.base import ReadContext
from tokenaudit.readers.jsonlines import size_of
from tokenaudit.readers.sources import resolve
from tokenaudit.schema import EVENT_SCHEMA, total_tokens


@dataclass(frozen=True)
class Period:
    """Inclusive local-date bounds (either may be open) and the time zone that defines a day."""

    since: dt.date | None = None
    until: dt.date | None = None
    timezone: str = "UTC"

    def as_dict(self) -> dict[str, str | None]:
        """JSON form; open bounds are null."""
        return {
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "timezone": self.timezone,
        }


@dataclass(frozen=True)
class SourceSummary:
    """What one input file contributed, for the data-quality section."""

    file: str
    format: str
    events: int
    first: dt.datetime | None
    last: dt.datetime | None


@dataclass(frozen=True)
class DataQuality:
    """Everything a reader of the report needs to trust (or doubt) the totals."""

    rows_read: int
    rows_rejected: int
    duplicates_dropped: int
    outside_period: int
    unpriced_models: list[str]
    unmatched_identities: list[str]
    sources: list[SourceSummary]
    skipped_files: list[tuple[str, str]] = field(default_factory=list)
    encoding_repaired: list[str] = field(default_factory=list)
    unattributed_agents: list[str] = field(default_factory=list)
    """``agent:<name>`` lines with usage whose agent rule names neither a person nor a team."""


@dataclass(frozen=True)
class LoadedEvents:
    """Deduplicated, identity-resolved, priced events inside the period, plus what was set aside."""

    events: pl.DataFrame
    rejects: pl.DataFrame
    quality: DataQuality
    period: Period


def deduplicate(events: pl.LazyFrame) -> pl.LazyFrame:
    """Keep one row per ``dedup_key``: the one with the most tokens (streamed partial lines lose).

    Ties go to the earliest file and line, so the result does not depend on the order of inputs.
    Most keys are unique, so only the rows whose key repeats are ranked (by hash-grouped windows, not
    a sort of every row); the rest pass through a single filter. Repeats are found on a 64-bit hash of
    the key (hashing integers is several times cheaper than hashing strings); a hash collision only adds
    a candidate, because the ranking below compares the keys themselves.
    """
    key = "dedup_key"
    rows = events.with_row_index("_row")
    repeated = rows.filter(pl.col(key).hash().is_duplicated()).select(
        "_row", key, "source_file", "source_line", total_tokens().alias("_total")
    )
    best = (
        repeated.filter(pl.col("_total") == pl.col("_total").max().over(key))
        .filter(pl.col("source_file").eq_missing(pl.col("source_file").min().over(key)))
        .filter(pl.col("source_line").eq_missing(pl.col("source_line").min().over(key)))
        # Only the very same file given twice leaves two rows now, and those are identical.
        .unique(key, keep="first", maintain_order=True)
    )
    losers = repeated.join(best, on="_row", how="anti").select("_row").collect().to_series()
    if losers.is_empty():
        return events  # nothing to drop: no copy of every row
    return rows.filter(~pl.col("_row").is_in(losers.implode())).drop("_row")


def _in_period(period: Period) -> pl.Expr:
    local_day = pl.col("timestamp").dt.convert_time_zone(period.timezone).dt.date()
    keep = pl.lit(value=True)
    if period.since:
        keep &= local_day >= period.since
    if period.until:
        keep &= local_day <= period.until
    return keep


def load_events(
    inputs: Sequence[str],
    policy: Policy,
    period: Period,
    *,
    input_format: str | None = None,
    developer: str | None = None,
    stdin: Iterable[bytes] | None = None,
) -> LoadedEvents:
    """Read and clean every input; raise :class:`~tokenaudit.errors.InputError` on unreadable ones."""
    resolved = resolve(inputs, stdin=stdin)
    context = ReadContext(policy=policy, timezone=period.timezone, developer=developer)
    with progress.reading(sum(size_of(source) for source in resolved.sources)):
        result = read_sources(resolved.sources, context, input_format)
    rejects, repaired, result_skipped = result.rejects, result.repaired, result.skipped
    # Readers' columns come in differently sized chunks (a constant column is one chunk); every eager
    # operation on such a frame realigns all of them first, at a cost of seconds for 10M rows. One rechunk
    # here, then the in-memory engine (which keeps chunks aligned) for the steps up to the events frame.
    raw = result.events.rechunk()
    del result
    read_height = raw.height
    sources = (
        raw.group_by("source_file")  # one reader per file: grouping by the format too would cost a row encoding
        .agg(
            pl.col("source_format").first(),
            pl.len().alias("events"),
            pl.col("timestamp").min().alias("first"),
            pl.col("timestamp").max().alias("last"),
        )
        .sort("source_file")
    )
    unique = deduplicate(raw.lazy()).drop("dedup_key").collect(engine="in-memory")
    del raw  # the raw rows (every streamed line, every copy) are the largest frame: free them early
    resolved_events = resolve_identities_and_price(unique.lazy(), policy).collect(engine="in-memory")
    del unique
    inside = resolved_events.filter(_in_period(period)) if period.since or period.until else resolved_events
    unmatched = (
        sorted(inside.filter(~pl.col("identity_matched"))["developer"].unique().to_list()) if policy.identities else []
    )
    agents = unattributed_agents(policy)
    unattributed = sorted(inside.filter(pl.col("developer").is_in(agents))["developer"].unique()) if agents else []
    # Rows without tokens (Copilot and Cursor daily activity) have no per-token cost to miss.
    unpriced_rows = inside.filter(pl.col("cost_usd").is_null() & (total_tokens() > 0))
    unpriced = sorted(unpriced_rows["model"].fill_null("(no model)").unique().to_list())
    quality = DataQuality(
        rows_read=read_height + rejects.height,
        rows_rejected=rejects.height,
        duplicates_dropped=read_height - resolved_events.height,
        outside_period=resolved_events.height - inside.height,
        unpriced_models=unpriced,
        unmatched_identities=unmatched,
        sources=[SourceSummary(*row) for row in sources.iter_rows()],
        skipped_files=sorted([*resolved.skipped, *result_skipped]),
        encoding_repaired=list(repaired),
        unattributed_agents=unattributed,
    )
    events = inside.select(name for name in EVENT_SCHEMA if name != "dedup_key")
    return LoadedEvents(events=events, rejects=rejects, quality=quality, period=period)


def resolve_identities_and_price(events: pl.LazyFrame, policy: Policy) -> pl.LazyFrame:
    """Canonical developers and teams, then costs from the price table where the export had none."""
    if policy.identities or policy.agents:
        resolved = resolve_identities(events, policy)
    else:
        # Without an identity map the join would match nothing: skip its per-row key building.
        resolved = events.with_columns(identity_matched=pl.lit(value=False))
    return apply_prices(resolved, policy.pricing.models)
