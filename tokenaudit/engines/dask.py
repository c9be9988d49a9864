"""The load on a Dask cluster (``--engine dask``): the same events, quality and rejects as the local engine.

The driver resolves the inputs and recognises each file from its head (as locally); it never reads the data.
Tasks, run by Dask's scheduler on its workers:

1. **read**: one per file of the flat formats (a large Parquet file per run of rows), one per run of whole owners'
   transcripts for the agent logs (their duplicate rules span one person's files), one per batch for the other
   readers. The read rows stay on the worker (a :class:`ReadUnit`); what leaves it is a
   64-bit hash of each row's dedup key (by key bucket) and the canonical developers the rows name;
2. **duplicates**, in small frames: per key bucket, the hashes that occur more than once in the whole input; per
   read unit, its rows of those hashes (key, file, line, total tokens); per bucket, which of those copies lose
   (:func:`~tokenaudit.shards.losing_copies`, the local engine's rule). Rows do not move for the dedup;
3. **finish**: one per read unit, on the worker that holds it: drop the losing copies, resolve identities, price and
   keep the period (:func:`~tokenaudit.shards.clean_shard`, as locally). For ``totals`` it sends the events' usage
   cube (:func:`~tokenaudit.metrics.usage_cube`: every total sums exactly from it). For an audit it keeps the
   events of developers no other unit names (one person's transcripts) where they are, and splits the rest by a
   hash of the developer;
4. **developer** (for an audit, a report, ``explain``): per worker, a batch of the units it holds reduces their own
   developers' events to their cube and what the command reads of them (:func:`~tokenaudit.shards.developer_digest`
   with the command's :class:`~tokenaudit.shards.Reduction`: the detectors' features, a report's periods with their
   views, ``explain``'s views); when units share developers, as flat exports do, one task per developer shard, fed
   its parts by Dask (worker to worker, the only time events move), reduces whole developers the same way.

Without ``keep_events`` (every command's load) no event comes back to the driver: only the units' summaries
(per-file counts, duplicates, diagnostics, rejects, repaired files, row counts), the cubes and the digests. The
driver adds them up, judges the features and renders, as the local engine does past its memory budget. With
``keep_events`` the units' cleaned events come back and :func:`~tokenaudit.ingest.assemble` puts them back in input
order. Rows carry their position (task number, row) so that order is the local one; a retried or moved task
recomputes the same rows, so a worker lost mid-run changes nothing.

Key buckets and developer shards use Polars' ``hash``, which is stable within one Polars version: driver and
workers must run the same environment (as Dask requires anyway).
"""

from __future__ import annotations

import io
import logging
import multiprocessing.forkserver
import os
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any, Final

import dask
import polars as pl
from dask.sizeof import sizeof
from distributed import Client, Future, LocalCluster, as_completed
from distributed.utils import get_mp_context

from tokenaudit import progress
from tokenaudit.console import stderr_console, wants_color
from tokenaudit.errors import TokenauditError, UsageError
from tokenaudit.identity import resolve_identities
from tokenaudit.ingest import LoadedEvents, Period, PlannedInputs, assemble, plan_inputs
from tokenaudit.metrics import summed_cubes, usage_cube
from tokenaudit.policy import Policy
from tokenaudit.readers import FILE_BY_FILE, read_batch, row_ranges
from tokenaudit.readers.base import ReadContext, Reader
from tokenaudit.readers.claude_code import OWNER_FOLDERS as CLAUDE_OWNER_FOLDERS
from tokenaudit.readers.codex import OWNER_FOLDERS as CODEX_OWNER_FOLDERS
from tokenaudit.readers.jsonlines import size_of
from tokenaudit.readers.owner import owners
from tokenaudit.readers.sources import Source, long_lines_first
from tokenaudit.schema import empty_events, empty_rejects
from tokenaudit.shards import (
    ORDER,
    CleanShard,
    DeveloperDigest,
    Reduction,
    UniqueShard,
    clean_shard,
    default_memory_limit,
    developer_digest,
    losing_copies,
    merged_digests,
    ranked,
    read_sources,
)

SCHEDULER_VARIABLE: Final = "DASK_SCHEDULER_ADDRESS"
OWNED_READERS: Final = {"claude-code": CLAUDE_OWNER_FOLDERS, "codex": CODEX_OWNER_FOLDERS}
"""Readers whose duplicate rules span an owner's files: one read task per owner."""
RETRIES: Final = 2
"""Reruns of a task that raised something other than a bad input (an object store's hiccup)."""
SHARDS_PER_WORKER: Final = 2
ROWS_PER_SHARD: Final = 1_000_000
"""More developer shards than :data:`SHARDS_PER_WORKER` when the input holds more rows than this per shard: a
developer task holds its events and the detectors' working copies. Key buckets stay at :data:`SHARDS_PER_WORKER` per
worker thread: a key hash is 8 bytes, and every read unit hands each bucket its own small part (units × buckets
tasks: 100 transcript folders into 22 buckets were 2,200 tasks of a few kilobytes)."""
BYTES_PER_ROW: Final = 100
"""For the shard count, a file that does not say how many rows it holds (Parquet does) is taken to hold a row per
this many bytes (flat CSV about 150, JSON Lines more, transcripts several thousand: an estimate on the safe side)."""
TCP_TIMEOUT: Final = "120s"
BYTES_PER_TASK: Final = 256 * 2**20
"""Owned logs (transcripts) are read in runs of whole owners of at most about this many bytes (~120,000 requests)."""
ROWS_PER_TASK: Final = 1_000_000
"""A Parquet file of more rows is read by several tasks of equal runs (a million canonical rows hold about 200 MB)."""
ROW_BITS: Final = 32
"""A read task's rows are numbered below 2**32 within it: :data:`~tokenaudit.shards.ORDER` is task << 32 | row."""
KEY_HASH: Final = "_key_hash"
PRELOADED: Final = (
    "distributed",
    "tokenaudit.engines.worker_logs",
    "tokenaudit.engines.dask",
    "tokenaudit.detectors",
    "tokenaudit.views",
)
"""What a local cluster's workers have imported before they start (:func:`local_cluster`); ``worker_logs`` keeps
their recovered faults' tracebacks off stderr."""
QUIET: Final = {
    "distributed.worker.multiprocessing-method": "forkserver",
    "distributed.admin.tick.interval": "200ms",
    "distributed.admin.system-monitor.interval": "2s",
    "distributed.worker.memory.monitor-interval": "500ms",
    "distributed.worker.profile.enabled": False,
}
"""A local cluster's settings (:func:`local_cluster`): workers forked from a server process that has imported Dask
and the engine's modules (:data:`PRELOADED`) once, rather than each started afresh (Dask's default, ``spawn``: about
1 s of CPU per worker on this project's 2-core machine, then the engine's imports on its first task); and fewer
periodic checks than Dask's defaults (an event loop's tick every 20 ms, system and memory monitors, a statistical
profiler every 10 ms), which cost each process 3-9 % of a core for the whole run, idle or not (measured: half that
with these)."""
UNREAD: Final = ("request_id", "source_file", "source_line")
"""Event columns that no reduction but ``explain``'s reads (it shows the explained developer's events whole): left
out of the events handed to developer reductions (a third of a flat event's packed bytes)."""
COMPRESSION: Final = "lz4"
"""Of the frames that cross processes (:func:`packed`)."""


@dataclass(frozen=True)
class Handoff:
    """A frame one task hands to others (key hashes, dedup candidates, a developer shard's part of a unit's events).
    Tasks on the worker that made it read the frame as it is; only when Dask moves it to another process (or spills
    it to disk) is it pickled, as :func:`packed` bytes. Packing every part was a third of the workers' CPU at 10M
    flat events, and with two workers half the parts stay where they were made."""

    frame: pl.DataFrame

    def __reduce__(self) -> tuple[Callable[[bytes], Handoff], tuple[bytes]]:
        return handed, (packed(self.frame),)


def handed(data: bytes) -> Handoff:
    """The :class:`Handoff` pickled as ``data`` (:func:`packed`)."""
    return Handoff(unpacked(data))


def combined(parts: Sequence[Handoff]) -> pl.DataFrame:
    """Hand-offs' frames one after the other (in the given order)."""
    return pl.concat([part.frame for part in parts], how="vertical")


@dataclass(frozen=True)
class ReadTask:
    """One read: a reader and its sources, numbered in input order, and how many input bytes they hold."""

    number: int
    reader: Reader
    sources: list[Source]
    bytes: int


@dataclass(frozen=True)
class ReadSummary:
    """What a read task sends back to the driver: small by construction."""

    rejects: pl.DataFrame
    repaired: tuple[str, ...]
    rows: int
    developers: frozenset[str | None] = frozenset()
    """The canonical developers the rows name (identities resolved as when they are cleaned)."""
    error: TokenauditError | None = None
    """A bad input, returned rather than raised: Dask would retry it, and the driver raises the first in order."""
    copies: pl.DataFrame | None = None
    """The copies the reader dropped itself (:attr:`~tokenaudit.readers.base.ReadResult.copies`)."""


@dataclass(frozen=True)
class ReadUnit:
    """A read task's result, held on its worker: the read rows (with :data:`~tokenaudit.shards.ORDER` and
    :data:`KEY_HASH`), the summary for the driver, and the rows' key hashes split into key buckets."""

    rows: pl.DataFrame
    summary: ReadSummary
    keys: list[Handoff] = field(default_factory=list)


@dataclass(frozen=True)
class Finished:
    """A read unit cleaned (:func:`finish`), held on its worker until the driver and the developer tasks take their
    parts: the driver's frames :func:`packed`, the shard's ``events`` left empty."""

    shard: CleanShard
    events: bytes = b""
    cube: bytes = b""
    own: pl.DataFrame | None = None
    """Its events of developers no other unit names, for :func:`digest_units` on this worker (they are meant to stay
    here)."""
    parts: list[Handoff] = field(default_factory=list)
    """Its events of developers that other units name too, by a hash of the developer."""


def _unit_size(unit: ReadUnit) -> int:
    """What Dask weighs to run a unit's next tasks where it is, rather than move it."""
    return int(unit.rows.estimated_size()) + sum(map(_handoff_size, unit.keys))


def _finished_size(done: Finished) -> int:
    own = int(done.own.estimated_size()) if done.own is not None else 0
    return len(done.events) + len(done.cube) + own + sum(map(_handoff_size, done.parts))


def _handoff_size(part: Handoff) -> int:
    return int(part.frame.estimated_size())


sizeof.register(ReadUnit, _unit_size)
sizeof.register(Finished, _finished_size)
sizeof.register(Handoff, _handoff_size)


def read_tasks(planned: PlannedInputs, threads: int) -> list[ReadTask]:
    """The plan's batches cut into tasks: :data:`~tokenaudit.readers.FILE_BY_FILE` per file (a large Parquet file
    in equal runs of at most :data:`ROWS_PER_TASK` rows), owned logs in runs of whole owners (:func:`owner_runs`),
    the other readers' batches whole."""
    groups: list[tuple[Reader, list[Source], int]] = []
    for reader, batch in planned.plan.batches:
        if reader.name in FILE_BY_FILE:
            parts = [part for source in batch for part in equal_runs(source, threads)]
            groups.extend((reader, [part], size_of(part)) for part in parts)
        elif reader.name in OWNED_READERS:
            mine = owners(batch, planned.context, OWNED_READERS[reader.name])
            by_owner: dict[str, list[Source]] = {}
            for source in batch:
                by_owner.setdefault(mine[source.name], []).append(source)
            groups.extend((reader, run, sum(map(size_of, run))) for run in owner_runs(list(by_owner.values()), threads))
        else:
            groups.append((reader, batch, sum(map(size_of, batch))))
    return [ReadTask(number, *group) for number, group in enumerate(groups)]


def owner_runs(by_owner: Sequence[list[Source]], threads: int) -> list[list[Source]]:
    """Owners' files (in input order) in runs of whole owners, of about an equal share of their bytes per
    :data:`SHARDS_PER_WORKER` × ``threads`` tasks, at most :data:`BYTES_PER_TASK` a run: a read unit has fixed costs
    (identity and price tables, key buckets, dedup candidates) that 100 people's units paid 100 times."""
    total = sum(size_of(source) for sources in by_owner for source in sources)
    share = min(BYTES_PER_TASK, -(-total // max(1, SHARDS_PER_WORKER * threads)))
    runs: list[list[Source]] = []
    held = 0
    for sources in by_owner:
        if not runs or held >= share:
            runs.append([])
            held = 0
        runs[-1].extend(sources)
        held += sum(map(size_of, sources))
    return runs


def equal_runs(source: Source, threads: int) -> list[Source]:
    """A Parquet file in as few runs of at most :data:`ROWS_PER_TASK` rows as it takes (:func:`balanced` for
    ``threads``), of equal length (a file of a million and ten rows is two runs of half a million, not one of a
    million and one of ten)."""
    runs = row_ranges(source, ROWS_PER_TASK)
    count = balanced(len(runs), threads)
    return runs if count < 2 else row_ranges(source, -(-runs[0].file_rows // count))


def shard_count(tasks: Sequence[ReadTask], threads: int) -> int:
    """:data:`SHARDS_PER_WORKER` per worker thread, or one per :data:`ROWS_PER_SHARD` of the input's rows if more
    (:func:`balanced`)."""
    rows = sum(
        source.rows[1] if source.rows else size_of(source) // BYTES_PER_ROW for task in tasks for source in task.sources
    )
    return max(1, SHARDS_PER_WORKER * threads, balanced(-(-rows // ROWS_PER_SHARD), threads))


def balanced(count: int, threads: int) -> int:
    """``count`` tasks of one stage, rounded up to a multiple of ``threads`` once more than them: the stage's tasks
    then end together, rather than one thread running the last while the others wait (11 read units and 11
    developer shards of 10M events on 2 workers were 6 against 5 at each stage)."""
    return -(-count // threads) * threads if count > threads else count


def packed(frame: pl.DataFrame) -> bytes:
    """``frame`` as Arrow IPC compressed with :data:`COMPRESSION`, the form in which rows travel between processes.

    A pickled Polars frame takes about twice its memory (450 bytes a canonical row) and twice the time to write;
    lz4-compressed IPC about a fifth of that space, at the cost of writing IPC (on a busy or networked cluster
    moving the bytes costs more than compressing them).
    """
    buffer = io.BytesIO()
    frame.write_ipc(buffer, compression=COMPRESSION)
    return buffer.getvalue()


def unpacked(data: bytes) -> pl.DataFrame:
    """The frame :func:`packed` wrote."""
    return pl.read_ipc(io.BytesIO(data))


def split(frame: pl.DataFrame, bucket: pl.Expr, parts: int) -> list[Handoff]:
    """``frame``'s rows in ``parts`` hand-offs by ``bucket`` (an integer below ``parts``), in their order."""
    found = frame.with_columns(bucket.alias("_part")).partition_by("_part", as_dict=True, include_key=False)
    empty = frame.clear()
    return [Handoff(found.get((part,), empty)) for part in range(parts)]


def read_unit(task: ReadTask, context: ReadContext, buckets: int) -> ReadUnit:
    """Read one task's sources (:class:`ReadUnit`); a bad input is the summary's error."""
    try:
        result = read_batch(task.reader, task.sources, context)
    except TokenauditError as exc:
        return ReadUnit(pl.DataFrame(), ReadSummary(empty_rejects(), (), 0, error=exc))
    first = task.number << ROW_BITS
    # The generic reader's categorical codes (clean text) as text, as the units have always held and moved them.
    rows = result.events.with_columns(pl.col(pl.Categorical).cast(pl.String)).with_columns(
        pl.int_range(first, first + pl.len(), dtype=pl.Int64).alias(ORDER),
        pl.col("dedup_key").hash().alias(KEY_HASH),
    )
    keys = split(rows.select(KEY_HASH), pl.col(KEY_HASH) % buckets, buckets)
    developers = canonical_developers(rows, context.policy)
    summary = ReadSummary(result.rejects, result.repaired, rows.height, developers, copies=result.copies)
    return ReadUnit(rows, summary, keys)


def canonical_developers(rows: pl.DataFrame, policy: Policy) -> frozenset[str | None]:
    """The developers read rows name once their identities are resolved (as
    :func:`~tokenaudit.shards.resolve_identities_and_price` resolves them)."""
    names = rows.select(pl.col("developer").unique())
    if policy.identities or policy.agents:
        names = resolve_identities(names.lazy(), policy).collect()
    return frozenset(names["developer"].to_list())


def unit_summary(unit: ReadUnit) -> ReadSummary:
    return unit.summary


def unit_keys(unit: ReadUnit, bucket: int) -> Handoff:
    return unit.keys[bucket]


def repeated_keys(parts: Sequence[Handoff]) -> Handoff:
    """Of one key bucket's hashes from every read unit, those that occur more than once: the keys that may have
    copies (a hash collision only adds a candidate). Found by a sort (equal neighbours), a third of the CPU of
    ``is_duplicated``'s hash table on millions of distinct hashes."""
    ordered = combined(parts).get_column(KEY_HASH).sort()
    return Handoff(ordered.filter(ordered == ordered.shift(1)).unique().to_frame())


def candidates(unit: ReadUnit, repeated: Sequence[Handoff], buckets: int) -> list[Handoff]:
    """A unit's rows whose key hash repeats (:func:`repeated_keys` of every bucket), :func:`~tokenaudit.shards.ranked`
    by their position in the input, by key bucket."""
    hashes = combined(repeated).get_column(KEY_HASH)
    found = unit.rows.filter(pl.col(KEY_HASH).is_in(hashes.implode()))
    ranking = ranked(found.lazy(), ORDER, KEY_HASH).collect()
    return split(ranking, pl.col(KEY_HASH) % buckets, buckets)


def losers(parts: Sequence[Handoff]) -> Handoff:
    """The positions of the copies the dedup drops, from every unit's :func:`candidates` of one key bucket (which
    hold every copy of their keys; in unit order, so in input order)."""
    return Handoff(losing_copies(combined(parts).lazy(), ORDER).to_frame())


def finished_part(done: Finished, part: int) -> Handoff:
    return done.parts[part]


@dataclass(frozen=True)
class Finish:
    """What :func:`finish` makes of a unit's cleaned events besides its summary."""

    events: bool
    """Send them back (a report, ``explain``)."""
    cube: bool
    """Send their usage cube (``totals``)."""
    digest: frozenset[str]
    """Developers only this unit names: reduce their events to a :class:`~tokenaudit.shards.DeveloperDigest` here."""
    shards: int
    """Split the other developers' events into this many developer shards (none: 0)."""
    unread: tuple[str, ...] = ()
    """Columns the reductions do not read (:data:`UNREAD`), left out of the events they are given."""


def finish(unit: ReadUnit, dropped: Sequence[Handoff], policy: Policy, period: Period, output: Finish) -> Finished:
    """A read unit without its losing copies (every bucket's :func:`losers`), cleaned as locally, and what
    ``output`` asks of its events."""
    lost = combined(dropped).get_column(ORDER)
    rows = unit.rows
    kept = rows.filter(~pl.col(ORDER).is_in(lost.implode())) if lost.len() else rows
    unique = UniqueShard(kept.drop("dedup_key", KEY_HASH), read_sources(rows), rows.height)
    del kept  # the unit's other copies are freed as the shard is cleaned (the worker holds its other units meanwhile)
    shard = clean_shard(unique, policy, period.since, period.until, period.timezone)
    del unique
    events = shard.events
    done = Finished(replace(shard, events=events.clear()))
    if output.events:
        done = replace(done, events=packed(events))
    if output.cube:
        done = replace(done, cube=packed(usage_cube(events, period.timezone)))
    events = events.drop(ORDER, *output.unread)  # the reductions take a unit's rows in order, not their positions
    if output.digest:
        own = pl.col("developer").is_in(list(output.digest)).fill_null(value=False)
        whole = output.digest == unit.summary.developers
        mine, events = (events, events.clear()) if whole else (events.filter(own), events.filter(~own))
        done = replace(done, own=mine)
    if output.shards:
        done = replace(done, parts=split(events, pl.col("developer").hash() % output.shards, output.shards))
    return done


Digested = tuple[bytes, DeveloperDigest]
"""A :class:`~tokenaudit.shards.DeveloperDigest` as it travels: its cube :func:`packed`, the digest's left empty."""


def digest_parts(parts: Sequence[Handoff], policy: Policy, timezone: str, wanted: Reduction) -> Digested:
    """The :func:`~tokenaudit.shards.developer_digest` of whole developers, from every unit's part of their events
    (in unit order, so in input order, as ties fall locally): the driver sums, judges and renders these without the
    events."""
    return _digest(combined(parts), policy, timezone, wanted)


def digest_units(units: Sequence[Finished], policy: Policy, timezone: str, wanted: Reduction) -> Digested:
    """:func:`digest_parts` of the events of developers that only one unit names, from units (in unit order) held on
    one worker: one reduction for many small units (a person's transcripts each; their detectors cost about a
    quarter of a second of fixed work per reduction)."""
    own = [unit.own for unit in units if unit.own is not None]
    return _digest(pl.concat(own, how="vertical"), policy, timezone, wanted)


def _digest(events: pl.DataFrame, policy: Policy, timezone: str, wanted: Reduction) -> Digested:
    digest = developer_digest(events.rechunk(), policy, timezone, wanted)
    return packed(digest.cube), replace(digest, cube=digest.cube.clear())


def finish_plans(
    summaries: Sequence[ReadSummary], shards: int, *, events: bool, cube: bool, features: bool, unread: tuple[str, ...]
) -> list[Finish]:
    """Per unit, what :func:`finish` does: with ``features``, the developers only that unit names are digested there
    (without the ``unread`` columns) and the rest go to ``shards`` developer shards (none if no developer is shared
    and some unit digests)."""
    if not features:
        return [Finish(events, cube, frozenset(), 0) for _ in summaries]
    units_naming = Counter(name for summary in summaries for name in summary.developers)
    own = [
        frozenset(name for name in summary.developers if name is not None and units_naming[name] == 1)
        for summary in summaries
    ]
    shared = any(mine != summary.developers for mine, summary in zip(own, summaries, strict=True)) or not any(own)
    return [Finish(events, cube, mine, shards if shared else 0, unread) for mine in own]


def local_batches(units: Sequence[tuple[Future[Finished], Sequence[str]]], rows: Sequence[int]) -> list[list[Any]]:
    """Units (with the workers that hold them) in batches of one worker's, in unit order, of at most
    :data:`ROWS_PER_SHARD` read rows each (a unit of more alone)."""
    batches: dict[tuple[str, ...], list[list[Any]]] = {}
    counts: dict[tuple[str, ...], int] = {}
    for (unit, workers), size in zip(units, rows, strict=True):
        place = tuple(workers)
        open_batches = batches.setdefault(place, [[]])
        if open_batches[-1] and counts[place] + size > ROWS_PER_SHARD:
            open_batches.append([])
            counts[place] = 0
        open_batches[-1].append(unit)
        counts[place] = counts.get(place, 0) + size
    return [batch for place in batches.values() for batch in place]


def load_events_on(
    client: Client,
    inputs: Sequence[str],
    policy: Policy,
    period: Period,
    *,
    input_format: str | None = None,
    developer: str | None = None,
    stdin: Iterable[bytes] | None = None,
    detector_features: bool = False,
    keep_events: bool = True,
    reduction: Reduction | None = None,
) -> LoadedEvents:
    """:func:`~tokenaudit.ingest.load_events` with the reads, dedup and cleaning run as tasks on ``client``'s
    cluster; with ``detector_features``, the detectors' features of the events too (for an audit of the whole period
    loaded). Without ``keep_events`` the events stay on the workers: the load has their usage cube instead, and what
    ``reduction`` asks for besides (a report's periods, ``explain``'s views), reduced on the workers as the local
    engine reduces its developer shards past its memory budget."""
    planned = plan_inputs(inputs, policy, period, input_format=input_format, developer=developer, stdin=stdin)
    threads = sum(client.nthreads().values())
    tasks = read_tasks(planned, threads)
    shards, buckets = shard_count(tasks, threads), max(1, SHARDS_PER_WORKER * threads)
    units = client.map(
        read_unit, tasks, context=planned.context, buckets=buckets, retries=RETRIES, key=_keys("read", len(tasks))
    )
    with long_lines_first(planned.resolved.sources):  # an over-long line is the error, as in a local read
        _wait_for_reads(units, tasks, planned.input_bytes)
    where = client.who_has(units)

    def near(future: Future[Any]) -> dict[str, Any]:
        """Run a unit's next task on the worker that holds it (Dask may take a task of many small selections for a
        root task, and move the whole unit to run it elsewhere); elsewhere only if that worker is gone."""
        found = list(where.get(future.key, ()))
        return {"workers": found, "allow_other_workers": True, "retries": RETRIES} if found else {"retries": RETRIES}

    def follow(results: Sequence[Future[Any]], units: Sequence[Future[Any]]) -> None:
        """Where each unit is, its result is (see ``near``)."""
        where.update({result.key: where.get(unit.key, ()) for result, unit in zip(results, units, strict=True)})

    done = client.gather([client.submit(unit_summary, unit, **near(unit)) for unit in units])
    failed = next((summary.error for summary in done if summary.error is not None), None)
    if failed is not None:
        client.cancel(units)
        with long_lines_first(planned.resolved.sources):
            raise failed
    repeated = [
        client.submit(repeated_keys, [client.submit(unit_keys, unit, bucket, **near(unit)) for unit in units])
        for bucket in range(buckets)
    ]
    found = [client.submit(candidates, unit, repeated, buckets, **near(unit)) for unit in units]
    follow(found, units)
    dropped = [
        client.submit(losers, [client.submit(_item, one, bucket, **near(one)) for one in found])
        for bucket in range(buckets)
    ]
    digested = detector_features or (reduction is not None and not keep_events)
    summed = not keep_events and not digested  # totals: each unit sums its own events
    wanted = replace(reduction or Reduction(), features=detector_features)
    unread = UNREAD if wanted.explained is None else ()
    plans = finish_plans(done, shards, events=keep_events, cube=summed, features=digested, unread=unread)
    finished = [
        client.submit(finish, unit, dropped, policy, planned.period, plan, **near(unit))
        for unit, plan in zip(units, plans, strict=True)
    ]
    follow(finished, units)
    del units, found  # the read rows are freed on the workers as soon as their units are finished

    def brought(one: Future[Finished], shard: int, home: str) -> Future[Handoff]:
        """A unit's part of a developer shard, moved to the shard's ``home`` worker as soon as the unit is finished
        (while others are being finished), rather than all at once when the shard's task is ready."""
        part = client.submit(finished_part, one, shard, **near(one))
        if home in where.get(one.key, (home,)):
            return part
        return client.submit(_moved, part, workers=[home], allow_other_workers=True, retries=RETRIES)

    developed: list[Future[Digested]] = []
    if digested and plans and plans[0].shards:
        homes = [address for address, count in client.nthreads().items() for _ in range(count)]
        developed = [
            client.submit(
                digest_parts,
                [brought(one, shard, homes[shard % len(homes)]) for one in finished],
                policy,
                planned.period.timezone,
                wanted,
                workers=[homes[shard % len(homes)]],
                allow_other_workers=True,
                retries=RETRIES,
            )
            for shard in range(shards)
        ]
    results = client.gather([client.submit(_shard_of, one, keep_events, **near(one)) for one in finished])
    cleaned = [replace(shard, events=unpacked(events)) if keep_events else shard for shard, events in results]
    rejects = pl.concat([empty_rejects(), *(summary.rejects for summary in done)], how="vertical")
    repaired = [name for summary in done for name in summary.repaired]
    rows = sum(summary.rows for summary in done)
    copies = [summary.copies for summary in done if summary.copies is not None]
    if summed:
        cubes = client.gather([client.submit(_cube_of, one, **near(one)) for one in finished])
        whole = summed_cubes([unpacked(cube) for cube in cubes])
        return assemble(planned, cleaned, rejects, repaired, rows, whole, copies)
    if not digested:
        return assemble(planned, cleaned, rejects, repaired, rows, copies=copies)
    batches = local_batches(
        [(one, where.get(one.key, ())) for one, plan in zip(finished, plans, strict=True) if plan.digest],
        [summary.rows for summary, plan in zip(done, plans, strict=True) if plan.digest],
    )
    timezone = planned.period.timezone
    local = [client.submit(digest_units, batch, policy, timezone, wanted, **near(batch[0])) for batch in batches]
    digests = [replace(digest, cube=unpacked(cube)) for cube, digest in client.gather([*local, *developed])]
    # No digest when no event was read: the digest of no events, as locally.
    digest = merged_digests(digests or [developer_digest(empty_events().drop("dedup_key"), policy, timezone, wanted)])
    if keep_events:
        return replace(assemble(planned, cleaned, rejects, repaired, rows, copies=copies), features=digest.features)
    loaded = assemble(planned, cleaned, rejects, repaired, rows, digest.cube, copies)
    narrowed = dict(zip(wanted.periods, digest.periods, strict=True))
    return replace(loaded, features=digest.features, views=digest.views, narrowed=narrowed)


def _item(parts: Sequence[Handoff], number: int) -> Handoff:
    return parts[number]


def _moved(part: Handoff) -> Handoff:
    """``part``, held on the worker that ran this (Dask moved it there)."""
    return part


def _shard_of(done: Finished, events: bool) -> tuple[CleanShard, bytes]:
    return done.shard, done.events if events else b""


def _cube_of(done: Finished) -> bytes:
    return done.cube


def _keys(prefix: str, count: int) -> list[str]:
    """Task keys unique to this run (Dask would reuse a finished result under the same key)."""
    token = os.urandom(6).hex()
    return [f"tokenaudit-{prefix}-{token}-{number}" for number in range(count)]


def _wait_for_reads(futures: list[Future[ReadUnit]], tasks: list[ReadTask], total_bytes: int) -> None:
    """Wait for every read (without fetching it), advancing the progress bar by each task's input bytes; raise what a
    read raised past its retries."""
    position = {future.key: number for number, future in enumerate(futures)}
    with progress.reading(total_bytes):
        for future in as_completed(futures):
            if future.status == "error":
                future.result()
            progress.advance(tasks[position[future.key]].bytes)


def local_cluster(workers: int | None = None) -> LocalCluster:
    """A cluster of this machine: ``workers`` single-threaded worker processes (one per core by default) that share
    the local engine's default memory budget (:func:`~tokenaudit.shards.default_memory_limit`, half of physical
    memory) evenly: Dask spills a worker's held results to its disk past 60% of its share (Dask's default share is
    all of physical memory).

    Started with :data:`QUIET`: fixed costs that weigh on short runs (a million flat events read and clean in about
    as much CPU as two workers took to start).
    """
    count = workers or os.cpu_count() or 1
    with dask.config.set(QUIET):
        get_mp_context().set_forkserver_preload(list(PRELOADED))  # after Dask's own choice, which it makes once
        return LocalCluster(
            n_workers=count,
            threads_per_worker=1,
            memory_limit=default_memory_limit() // count,
            processes=True,
            silence_logs=logging.ERROR,
            dashboard_address=":0",  # a free port: another cluster or program may hold Dask's default, 8787
        )


@contextmanager
def connect(scheduler: str | None) -> Iterator[Client]:
    """A client of the scheduler at ``scheduler`` (else ``DASK_SCHEDULER_ADDRESS``), or of a new local cluster.

    On a terminal, the dashboard's address goes to stderr. Transfers may wait longer than Dask's default before a
    peer counts as gone: a busy machine stalls big transfers without anything being lost.
    """
    address = scheduler or os.environ.get(SCHEDULER_VARIABLE) or None
    with dask.config.set({"distributed.comm.timeouts.tcp": TCP_TIMEOUT}):
        cluster = None if address else local_cluster()
        try:
            client = Client(address) if address else Client(cluster)
        except OSError as exc:
            msg = f"--scheduler: no Dask scheduler answers at {address} ({exc})"
            raise UsageError(msg) from None
        try:
            if wants_color(sys.stderr):
                stderr_console().print(f"tokenaudit: Dask dashboard at {client.dashboard_link}", markup=False)
            yield client
        finally:
            client.close()
            if cluster is not None:
                # Workers take seconds to stop: they do so while the audit runs (the process waits for them at exit).
                threading.Thread(target=close_local, args=(cluster,), name="tokenaudit-cluster-close").start()


def close_local(cluster: LocalCluster) -> None:
    """Close a :func:`local_cluster`, then the fork server its workers came from, which has reaped them by then:
    this process then reaps the server, so the workers' CPU time counts in this process's children's (``time``, a
    parent's rusage), as a spawned worker's does; an unreaped server's children count nowhere. Python has no public
    way to stop the server (its own tests use ``_stop``); without one it ends with this process."""
    cluster.close()
    stop = getattr(getattr(multiprocessing.forkserver, "_forkserver", None), "_stop", None)
    if callable(stop):
        stop()
