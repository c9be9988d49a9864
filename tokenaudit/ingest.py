"""From INPUT arguments to one clean event frame: read, resolve identities, deduplicate, price, filter.

This is the single pass every command starts with, so that ``totals``, ``audit`` and later reports can
never disagree about which events exist.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import cached_property, partial
from typing import TYPE_CHECKING, Final

import polars as pl

from tokenaudit import progress
from tokenaudit.metrics import summed_cubes, usage_cube
from tokenaudit.periods import Period as Period  # re-exported: callers load events with a period
from tokenaudit.policy import Policy
from tokenaudit.readers import FILE_BY_FILE, ReadPlan, plan_reads, read_batch
from tokenaudit.readers.base import ReadContext, ReadResult
from tokenaudit.readers.jsonlines import size_of
from tokenaudit.readers.sources import Resolved, long_lines_first, resolve
from tokenaudit.schema import TOKEN_COLUMNS, empty_events, empty_rejects, repeated_values
from tokenaudit.shards import (
    DEVELOPER_SHARD_ROWS,
    KEY_HASH,
    ORDER,
    READ_ROW_BYTES,
    UNDIGESTED,
    CleanShard,
    DeveloperDigest,
    PeriodDigest,
    Reduction,
    Spill,
    UniqueShard,
    clean_shard,
    deduplicate_shard,
    default_memory_limit,
    developer_digest,
    digests_at_once,
    held,
    in_period,
    lookback_window,
    losing_copies,
    merged_digests,
    period_diagnostics,
    ranked,
    read_sources,
    rows_per_read,
    shard_bytes,
    split_by_hash,
    typed,
)

if TYPE_CHECKING:
    from tokenaudit.detectors import ShardedFeatures
    from tokenaudit.views import EventViews


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
    history: pl.DataFrame | None = None
    """Events of the detectors' lookback window (``flags.lookback_days`` ending with the period) for the period's
    developers, when a short period is reported (:func:`with_lookback`); None: the detectors read ``events``."""
    features: ShardedFeatures | None = None
    """The detectors' features of ``events``, computed shard by shard where the events were cleaned (the Dask
    engine's workers); None: the audit computes them from the events."""
    cube: pl.DataFrame | None = None
    """The events' :func:`~tokenaudit.metrics.usage_cube`, computed shard by shard where the events were cleaned;
    None: computed from ``events`` when first asked for (:attr:`usage`)."""
    views: EventViews | None = None
    """The report's or ``explain``'s views of the events, computed shard by shard (a load that kept no events)."""
    narrowed: Mapping[Period, PeriodDigest] = field(default_factory=dict)
    """Digests of periods within this one, computed shard by shard (a report's load that kept no events): what
    :func:`narrow` gives for them."""

    @cached_property
    def usage(self) -> pl.DataFrame:
        """The events' :func:`~tokenaudit.metrics.usage_cube`: every usage total, per developer or any grouping,
        sums exactly from it. A load that kept no events (:attr:`events_kept`) has only this."""
        return self.cube if self.cube is not None else usage_cube(self.events, self.period.timezone)

    @property
    def events_kept(self) -> bool:
        """Whether ``events`` holds the events (a sharded load for totals or an audit keeps only :attr:`usage`)."""
        return self.cube is None or bool(self.events.width)


def load_events(
    inputs: Sequence[str],
    policy: Policy,
    period: Period,
    *,
    input_format: str | None = None,
    developer: str | None = None,
    stdin: Iterable[bytes] | None = None,
    memory_limit: int | None = None,
    detector_features: bool = False,
    keep_events: bool = True,
    reduction: Reduction | None = None,
) -> LoadedEvents:
    """Read and clean every input; raise :class:`~tokenaudit.errors.InputError` on unreadable ones.

    Read rows are held in memory small (:func:`~tokenaudit.shards.held`) up to a quarter of ``memory_limit`` bytes
    (default: a fraction of physical memory); beyond it they go to a temporary Parquet folder in shards by their dedup
    key, and are cleaned one shard at a time (:mod:`tokenaudit.shards`). Without ``keep_events`` the events are never
    held whole in canonical types: they are split by a hash of the developer (in memory, or back to the folder), and
    each developer shard is reduced to its usage cube and (``detector_features``) its detectors' features, one at a
    time, as the Dask engine's workers do; and to what ``reduction`` asks for besides (a report's periods,
    ``explain``'s views).
    """
    planned = plan_inputs(inputs, policy, period, input_format=input_format, developer=developer, stdin=stdin)
    rejected: list[pl.DataFrame] = [empty_rejects()]
    repaired: list[str] = []
    copies: list[pl.DataFrame] = []
    budget = memory_limit or default_memory_limit()
    digested = detector_features or reduction is not None
    with Spill(budget, planned.input_bytes) as spill:
        with progress.reading(planned.input_bytes), long_lines_first(planned.resolved.sources):
            for result in read_ahead(planned.plan, planned.context, rows_per_read(budget)):
                rejected.append(result.rejects)
                if result.copies is not None:
                    copies.append(result.copies)
                repaired.extend(name for name in result.repaired if name not in repaired)  # a file's blocks: once
                spill.add(result.events, progress.done())
                del result  # else the last read rows stay referenced here while the spilled shards are cleaned
        rejects = pl.concat(rejected, how="vertical")
        if not spill.spilled:
            shards, frames = clean_held(spill.take_held(), policy, period, split=not keep_events)
        else:
            shards, cubes = clean_spilled(spill, policy, period, keep_events=keep_events, regroup=digested)
            if not (keep_events or digested):
                return assemble(planned, shards, rejects, repaired, spill.rows, summed_cubes(cubes), copies)
            frames = spill.developer_frames() if spill.regrouped else iter(())
        if keep_events:
            return assemble(planned, shards, rejects, repaired, spill.rows, copies=copies)
        wanted = replace(reduction or Reduction(), features=detector_features)
        # A developer shard holds about a spilled shard's read rows, or (in memory) DEVELOPER_SHARD_ROWS of them.
        shard = shard_bytes(budget) if spill.spilled else min(spill.rows, DEVELOPER_SHARD_ROWS) * READ_ROW_BYTES
        digests = developer_digests(frames, policy, period.timezone, wanted, digests_at_once(budget, shard))
        # No developer shard when no event is left in the period: the digest of no events.
        digest = merged_digests(digests or [developer_digest(no_events(), policy, period.timezone, wanted)])
    loaded = assemble(planned, shards, rejects, repaired, spill.rows, digest.cube, copies)
    narrowed = dict(zip(wanted.periods, digest.periods, strict=True))
    return replace(loaded, features=digest.features, views=digest.views, narrowed=narrowed)


READ_AHEAD: Final = 2
"""Parts of a Parquet file, or blocks of a CSV, TSV or JSON Lines file, read at once in threads while the rows before
them are held (:func:`read_ahead`)."""


def read_ahead(plan: ReadPlan, context: ReadContext, rows_per_part: int) -> Iterator[ReadResult]:
    """``plan.read(context, rows_per_part)``: the same results in the same order, the row ranges of Parquet files
    (:func:`~tokenaudit.readers.row_ranges`) and the blocks of CSV, TSV and JSON Lines files
    (:func:`~tokenaudit.readers.generic.text_blocks`) read :data:`READ_AHEAD` at once in threads ahead of the one taken
    (Polars decodes, checks and encodes a part mostly without the GIL, but one part at a time left the second core
    idle through the read's single-threaded steps, and the next text block was cut only once the last was read); any
    other batch read here when its turn comes: the Claude Code reader's helper processes are started and followed from
    this thread. Each part's read bytes are reported as it is taken (:func:`~tokenaudit.progress.counted`), so that
    the bytes read so far are those of the rows taken. Holds at most :data:`READ_AHEAD` more parts than reading one at
    a time (a part is a shard's size or less under the memory budget, :func:`~tokenaudit.shards.rows_per_read`; a
    text block about :data:`~tokenaudit.readers.generic.TEXT_BLOCK_BYTES`)."""
    pending: deque[Future[tuple[ReadResult, int]]] = deque()

    def taken() -> ReadResult:
        result, read_bytes = pending.popleft().result()
        progress.advance(read_bytes)
        return result

    with ThreadPoolExecutor(READ_AHEAD, thread_name_prefix="read") as pool:
        try:
            for reader, batch in plan.parts(rows_per_part):
                whole = any(source.rows is None and source.block is None for source in batch)
                if reader.name not in FILE_BY_FILE or whole:
                    while pending:
                        yield taken()
                    yield read_batch(reader, batch, context)
                    continue
                pending.append(pool.submit(progress.counted, partial(read_batch, reader, batch, context)))
                if len(pending) > READ_AHEAD:
                    yield taken()
            while pending:
                yield taken()
        finally:
            for future in pending:  # an error: the parts after it are not read
                future.cancel()


def developer_digests(
    frames: Iterable[pl.DataFrame], policy: Policy, timezone: str, wanted: Reduction, at_once: int
) -> list[DeveloperDigest]:
    """Each developer shard's :func:`~tokenaudit.shards.developer_digest`, in order, ``at_once`` shards reduced at
    once in threads (:func:`~tokenaudit.shards.digests_at_once`): Polars runs a shard's steps mostly without the GIL,
    and one shard at a time left the second core idle through the single-threaded steps of its detector context.
    The next shard is taken from ``frames`` when one is reduced, so that at most ``at_once`` shards' events are
    held."""
    if at_once <= 1:
        return [developer_digest(events, policy, timezone, wanted) for events in frames]
    taken = iter(frames)
    digests: list[DeveloperDigest] = []
    pending: deque[Future[DeveloperDigest]] = deque()
    with ThreadPoolExecutor(at_once, thread_name_prefix="digest") as pool:
        try:
            while True:
                if len(pending) >= at_once:
                    digests.append(pending.popleft().result())
                events = next(taken, None)
                if events is None:
                    break
                pending.append(pool.submit(developer_digest, events, policy, timezone, wanted))
                del events  # freed once reduced
            while pending:
                digests.append(pending.popleft().result())
        finally:
            for future in pending:  # an error: the shards after it are not reduced
                future.cancel()
    return digests


def clean_spilled(
    spill: Spill, policy: Policy, period: Period, *, keep_events: bool, regroup: bool
) -> tuple[list[CleanShard], list[pl.DataFrame]]:
    """The cleaned shards of spilled read rows, one dedup shard at a time. Unless ``keep_events``, their events are
    left out: with ``regroup`` written back to the folder by developer (:meth:`~tokenaudit.shards.Spill.regroup`),
    else summed into each shard's usage cube (totals), returned."""
    shards, cubes = [], []
    for rows in spill.frames():
        unique = deduplicate_shard(rows)
        del rows  # the read rows (every streamed line, every copy) are the largest frame: free them first
        shard = clean_shard(unique, policy, period.since, period.until, period.timezone)
        del unique
        if keep_events:
            shards.append(shard)
            continue
        if regroup:
            spill.regroup(shard.events.drop(UNDIGESTED))
        else:
            cubes.append(usage_cube(shard.events, period.timezone))
        shards.append(replace(shard, events=shard.events.clear()))
    return shards, cubes


def no_events() -> pl.DataFrame:
    """What a developer shard of no events holds (:data:`~tokenaudit.shards.UNDIGESTED` left out)."""
    return empty_events().drop("dedup_key", *UNDIGESTED)


def clean_held(
    parts: list[pl.DataFrame], policy: Policy, period: Period, *, split: bool
) -> tuple[list[CleanShard], Iterator[pl.DataFrame]]:
    """The cleaned shards of rows held in memory (:func:`~tokenaudit.shards.held`, in input order), one per part,
    deduplicated over all of them; with ``split``, their events are left out and come instead, in the iterator, as
    developer shards of about :data:`~tokenaudit.shards.DEVELOPER_SHARD_ROWS` read rows (by a hash of the developer,
    each in input order), so that a reduction holds one shard's events in canonical types at a time, not all of
    them; else each shard keeps its events in canonical types.

    The parts are taken out of ``parts`` and freed one by one as they are cleaned: the cleaned events are held
    :func:`~tokenaudit.shards.held` again meanwhile.
    """
    lost = held_losers(parts).sort()
    count = max(1, math.ceil(sum(part.height for part in parts) / DEVELOPER_SHARD_ROWS))
    buckets: list[list[pl.DataFrame]] = [[] for _ in range(count)]
    shards = []
    first = 0
    while parts:
        part = parts.pop(0)
        # The part's own losers (a slice of the sorted numbers): none, no filter (a copy of every column).
        start, end = (int(lost.search_sorted(number)) for number in (first, first + part.height))
        if end > start:
            kept = part.filter(
                ~pl.int_range(first, first + part.height).is_in(lost.slice(start, end - start).implode())
            )
        else:
            kept = part
        first += part.height
        kept = typed(kept.drop("dedup_key", KEY_HASH).lazy(), codes=True).collect()
        unique = UniqueShard(kept, read_sources(part), part.height)
        del part, kept
        shard = clean_shard(unique, policy, period.since, period.until, period.timezone)
        del unique
        if split:
            for number, piece in split_by_hash(held(shard.events.drop(UNDIGESTED)), "developer", count).items():
                buckets[number].append(piece)
            shards.append(replace(shard, events=shard.events.clear()))
        else:
            shards.append(replace(shard, events=typed(shard.events.lazy()).collect()))
    return shards, developer_shards(buckets)


def held_losers(parts: list[pl.DataFrame]) -> pl.Series:
    """The numbers (in the parts' order) of the :func:`~tokenaudit.shards.held` rows the dedup drops. The repeated
    key hashes are found on the hashes alone, and only the rows that hold one are gathered to be ranked: putting the
    parts' dedup columns together first held a copy of every request id (10M flat events: the load's peak)."""
    hashes = [part.get_column(KEY_HASH) for part in parts if part.height]
    if not hashes:
        return pl.Series("_row", [], pl.UInt32)
    every = pl.concat(hashes, rechunk=False)
    # The rows of a repeated hash, numbered in the parts' order: one lookup table for every part, not one each.
    found = every.is_in(repeated_values(every).implode()).arg_true()
    wanted = ["dedup_key", "request_id", "source_file", "source_line", *TOKEN_COLUMNS]
    candidates = []
    first = 0
    for part in parts:
        start, end = (int(found.search_sorted(number)) for number in (first, first + part.height))
        if end > start:
            numbers = found.slice(start, end - start).alias("_row")
            candidates.append(part.select(wanted)[numbers - first].insert_column(0, numbers))
        first += part.height
    if not candidates:
        return pl.Series("_row", [], pl.UInt32)
    rows = pl.concat(candidates, how="vertical_relaxed").lazy().pipe(typed, codes=True)
    return losing_copies(ranked(rows, "_row"), "_row")


def developer_shards(buckets: list[list[pl.DataFrame]]) -> Iterator[pl.DataFrame]:
    """Each bucket's held pieces as one frame in canonical types but for the text held as categorical codes (the
    digest groups and compares them as codes: :func:`~tokenaudit.shards.developer_digest`), the bucket freed as it is
    taken."""
    while buckets:
        pieces = buckets.pop(0)
        if pieces:
            yield typed(pl.concat(pieces, how="vertical_relaxed", rechunk=True).lazy(), codes=True).collect()


@dataclass(frozen=True)
class PlannedInputs:
    """The inputs resolved and recognised, before any is read: what an engine needs to schedule the reads."""

    resolved: Resolved
    context: ReadContext
    plan: ReadPlan
    input_bytes: int
    period: Period


def plan_inputs(
    inputs: Sequence[str],
    policy: Policy,
    period: Period,
    *,
    input_format: str | None = None,
    developer: str | None = None,
    stdin: Iterable[bytes] | None = None,
) -> PlannedInputs:
    """Resolve the INPUT arguments and pick each file's reader (reading only the files' heads)."""
    resolved = resolve(inputs, stdin=stdin)
    context = ReadContext(policy=policy, timezone=period.timezone, developer=developer)
    input_bytes = sum(size_of(source) for source in resolved.sources)
    plan = plan_reads(resolved.sources, context, input_format)
    return PlannedInputs(resolved=resolved, context=context, plan=plan, input_bytes=input_bytes, period=period)


def assemble(
    planned: PlannedInputs,
    shards: list[CleanShard],
    rejects: pl.DataFrame,
    repaired: list[str],
    rows: int,
    cube: pl.DataFrame | None = None,
    copies: Sequence[pl.DataFrame] = (),
) -> LoadedEvents:
    """One load from its cleaned shards (in input order by :data:`~tokenaudit.shards.ORDER` when it is present),
    the rejected rows, the repaired files and the number of read rows; any engine ends here. Given the events'
    usage ``cube``, the shards' events are left out (a load that keeps no events: :attr:`LoadedEvents.usage`).
    ``copies``: the readers' own dropped copies (:attr:`~tokenaudit.readers.base.ReadResult.copies`), counted as
    read rows and dropped duplicates of their files."""
    if cube is not None:
        events = pl.DataFrame()
    elif len(shards) == 1 and ORDER not in shards[0].events.columns:
        events = shards[0].events
    elif shards and ORDER not in shards[0].events.columns:  # cleaned in input order (:func:`clean_held`)
        events = pl.concat([shard.events for shard in shards], how="vertical", rechunk=True)
    else:
        events = in_input_order(shards)
    copied = sum(int(frame.get_column("events").sum()) for frame in copies)
    sources = (
        pl.concat([*(shard.sources for shard in shards), *copies], how="vertical")
        .group_by("source_file")
        .agg(
            pl.col("source_format").first(),
            pl.col("events").sum(),
            pl.col("first").min(),
            pl.col("last").max(),
        )
        .sort("source_file")
    )
    quality = DataQuality(
        rows_read=rows + copied + rejects.height,
        rows_rejected=rejects.height,
        duplicates_dropped=copied + sum(shard.duplicates_dropped for shard in shards),
        outside_period=sum(shard.outside_period for shard in shards),
        unpriced_models=sorted(set().union(*(shard.unpriced_models for shard in shards))),
        unmatched_identities=sorted(set().union(*(shard.unmatched_identities for shard in shards))),
        sources=[SourceSummary(*row) for row in sources.iter_rows()],
        skipped_files=sorted([*planned.resolved.skipped, *planned.plan.skipped]),
        encoding_repaired=repaired,
        unattributed_agents=sorted(set().union(*(shard.unattributed_agents for shard in shards))),
    )
    return LoadedEvents(events=events, rejects=rejects, quality=quality, period=planned.period, cube=cube)


def in_input_order(shards: list[CleanShard]) -> pl.DataFrame:
    """The shards' events as one frame in input order (by :data:`~tokenaudit.shards.ORDER`), without it.

    Takes the events out of ``shards`` (left empty there) and reorders one column at a time, so that each column's
    shard copies are freed once it is gathered: the reorder holds one extra column, not a second copy of every event
    (10M events: reordering every column at once held 3.6 GB more than the cleaned shards).
    """
    remaining = pl.concat([shard.events for shard in shards], how="vertical")
    shards[:] = [replace(shard, events=shard.events.clear()) for shard in shards]
    order = remaining.get_column(ORDER).arg_sort()
    remaining = remaining.drop(ORDER)
    columns = []
    for name in remaining.columns:
        columns.append(remaining.get_column(name).gather(order))
        remaining = remaining.drop(name)
    return pl.DataFrame(columns)


def with_lookback(whole: LoadedEvents, part: LoadedEvents, days: int) -> LoadedEvents:
    """``part`` (a short period narrowed from ``whole``) with the ``days`` ending on its last day as the detectors'
    history (:func:`~tokenaudit.shards.lookback_window`); a part narrowed shard by shard has its detectors' features
    of that window already."""
    if not part.events_kept:
        return part
    history = lookback_window(whole.events, part.events, part.period, days)
    return part if history is None else replace(part, history=history)


def narrow(loaded: LoadedEvents, period: Period, policy: Policy) -> LoadedEvents:
    """The part of a load inside ``period`` (which lies within the loaded one), as if it had been loaded alone.

    Reading the union of two periods once and narrowing it twice gives each period's exact load: the dedup runs
    before the period filter, so the same events survive; what depends on the period is recomputed (shard by shard,
    where the load kept no events: :attr:`LoadedEvents.narrowed`).
    """
    digest = loaded.narrowed.get(period)
    if digest is None:
        inside = loaded.events.filter(in_period(period.since, period.until, period.timezone))
        unpriced, unattributed = period_diagnostics(inside, policy)
        outside = loaded.events.height - inside.height
        named = set(inside["developer"].unique().to_list())
    else:
        inside, unpriced, unattributed = pl.DataFrame(), digest.unpriced_models, digest.unattributed_agents
        outside = digest.outside
        named = set(digest.cube["developer"].unique().to_list())
    quality = replace(
        loaded.quality,
        outside_period=loaded.quality.outside_period + outside,
        unpriced_models=sorted(unpriced),
        # An unmatched name never matches anywhere (it is no canonical id, which is its own alias).
        unmatched_identities=[name for name in loaded.quality.unmatched_identities if name in named],
        unattributed_agents=sorted(unattributed),
    )
    if digest is None:
        return LoadedEvents(events=inside, rejects=loaded.rejects, quality=quality, period=period)
    return LoadedEvents(
        events=inside,
        rejects=loaded.rejects,
        quality=quality,
        period=period,
        features=digest.features,
        cube=digest.cube,
        views=digest.views,
    )
