"""The load on a Dask cluster (``--engine dask``): the same events, quality and rejects as the local engine.

The driver resolves the inputs and recognises each file from its head (as locally); it never reads the data.
Tasks, run by Dask's scheduler on its workers:

1. **read**: one per file of the flat formats, one per owner's transcripts for the agent logs (their duplicate
   rules span one person's files), one per batch for the other readers, exactly as the local engine batches
   them. Each splits its rows into shards by a hash of the dedup key, and the parts stay on its worker;
2. **shard**: one per shard, fed the parts of that shard by Dask (worker to worker): deduplicate, resolve
   identities, price and keep the period (:func:`~tokenaudit.shards.deduplicate_shard`,
   :func:`~tokenaudit.shards.clean_shard`, the local engine's functions), then split the events again by a
   hash of the developer;
3. **developer** (for an audit): one per developer shard, fed its parts by Dask: the usage cube of its developers
   (:func:`~tokenaudit.metrics.usage_cube`: every total sums exactly from it) and their detectors' per-developer
   features (:func:`~tokenaudit.shards.developer_digest`). For ``totals`` the shard tasks send their own events'
   usage cube instead of splitting them again.

For ``totals`` and an audit (``keep_events=False``) no event comes back to the driver: only the cleaned shards'
summaries (per-file counts, duplicates, diagnostics), the per-read summaries (rejects, repaired files, row counts),
the cubes and the features. The driver adds up the cubes and judges the features. For a report or ``explain``,
which still read events, the cleaned shards' events come back too and
:func:`~tokenaudit.ingest.assemble` puts them back in input order. Rows carry their position (task number, row) so
that order is the local one; a retried or moved task recomputes the same rows, so a worker lost mid-run changes
nothing.

Dedup-key and developer shards use Polars' ``hash``, which is stable within one Polars version: driver and workers
must run the same environment (as Dask requires anyway).
"""

from __future__ import annotations

import io
import logging
import operator
import os
import sys
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, Final

import dask
import polars as pl
from distributed import Client, Future, LocalCluster, as_completed

from tokenaudit import progress
from tokenaudit.console import stderr_console, wants_color
from tokenaudit.detectors import ShardedFeatures
from tokenaudit.errors import TokenauditError, UsageError
from tokenaudit.ingest import LoadedEvents, Period, PlannedInputs, assemble, plan_inputs
from tokenaudit.metrics import summed_cubes, usage_cube
from tokenaudit.policy import Policy
from tokenaudit.readers import FILE_BY_FILE, read_batch, row_ranges
from tokenaudit.readers.base import ReadContext, Reader
from tokenaudit.readers.claude_code import OWNER_FOLDERS as CLAUDE_OWNER_FOLDERS
from tokenaudit.readers.codex import OWNER_FOLDERS as CODEX_OWNER_FOLDERS
from tokenaudit.readers.jsonlines import size_of
from tokenaudit.readers.owner import owners
from tokenaudit.readers.sources import Source
from tokenaudit.schema import empty_rejects
from tokenaudit.shards import (
    ORDER,
    CleanShard,
    DeveloperDigest,
    clean_shard,
    deduplicate_shard,
    developer_digest,
    merged_digests,
)

SCHEDULER_VARIABLE: Final = "DASK_SCHEDULER_ADDRESS"
OWNED_READERS: Final = {"claude-code": CLAUDE_OWNER_FOLDERS, "codex": CODEX_OWNER_FOLDERS}
"""Readers whose duplicate rules span an owner's files: one read task per owner."""
RETRIES: Final = 2
"""Reruns of a task that raised something other than a bad input (an object store's hiccup)."""
SHARDS_PER_WORKER: Final = 2
ROWS_PER_SHARD: Final = 1_000_000
"""More shards than :data:`SHARDS_PER_WORKER` when the input holds more rows than this per shard: a shard task holds
its read rows, their dedup and the cleaned events (a worker peaked at 3 GiB on shards of 2.5M flat events)."""
BYTES_PER_ROW: Final = 100
"""For the shard count, a file that does not say how many rows it holds (Parquet does) is taken to hold a row per
this many bytes (flat CSV about 150, JSON Lines more, transcripts several thousand: an estimate on the safe side)."""
TCP_TIMEOUT: Final = "120s"
ROWS_PER_TASK: Final = 1_000_000
"""A Parquet file of more rows is read by several tasks (a million canonical rows hold about 200 MB)."""
ROW_BITS: Final = 32
"""A read task's rows are numbered below 2**32 within it: :data:`~tokenaudit.shards.ORDER` is task << 32 | row."""


@dataclass(frozen=True)
class ReadTask:
    """One read: a reader and its sources, numbered in input order, and how many input bytes they hold."""

    number: int
    reader: Reader
    sources: list[Source]
    bytes: int


@dataclass(frozen=True)
class ReadSummary:
    """What a read task sends back to the driver besides its shards' parts: small by construction."""

    rejects: pl.DataFrame
    repaired: tuple[str, ...]
    rows: int
    error: TokenauditError | None = None
    """A bad input, returned rather than raised: Dask would retry it, and the driver raises the first in order."""


def read_tasks(planned: PlannedInputs) -> list[ReadTask]:
    """The plan's batches cut into tasks: :data:`~tokenaudit.readers.FILE_BY_FILE` per file (a large Parquet file
    per :data:`ROWS_PER_TASK` rows), owned logs per owner, the other readers' batches whole."""
    groups: list[tuple[Reader, list[Source], int]] = []
    for reader, batch in planned.plan.batches:
        if reader.name in FILE_BY_FILE:
            parts = [part for source in batch for part in row_ranges(source, ROWS_PER_TASK)]
            groups.extend((reader, [part], size_of(part)) for part in parts)
        elif reader.name in OWNED_READERS:
            mine = owners(batch, planned.context, OWNED_READERS[reader.name])
            by_owner: dict[str, list[Source]] = {}
            for source in batch:
                by_owner.setdefault(mine[source.name], []).append(source)
            groups.extend((reader, sources, sum(map(size_of, sources))) for sources in by_owner.values())
        else:
            groups.append((reader, batch, sum(map(size_of, batch))))
    return [ReadTask(number, *group) for number, group in enumerate(groups)]


def shard_count(tasks: Sequence[ReadTask], threads: int) -> int:
    """:data:`SHARDS_PER_WORKER` per worker thread, or one per :data:`ROWS_PER_SHARD` of the input's rows if more."""
    rows = sum(
        source.rows[1] if source.rows else size_of(source) // BYTES_PER_ROW for task in tasks for source in task.sources
    )
    return max(1, SHARDS_PER_WORKER * threads, -(-rows // ROWS_PER_SHARD))


def packed(frame: pl.DataFrame) -> bytes:
    """``frame`` as zstd-compressed Arrow IPC, the form in which rows travel between processes.

    A pickled Polars frame takes about twice its memory (450 bytes a canonical row); compressed IPC about a sixth
    of that. On a busy or networked cluster moving the bytes costs more than compressing them.
    """
    buffer = io.BytesIO()
    frame.write_ipc(buffer, compression="zstd")
    return buffer.getvalue()


def unpacked(data: bytes) -> pl.DataFrame:
    """The frame :func:`packed` wrote."""
    return pl.read_ipc(io.BytesIO(data))


def read_and_split(task: ReadTask, context: ReadContext, shards: int) -> list[bytes | ReadSummary]:
    """Read one task's sources and split the rows into ``shards`` parts by their dedup key (:func:`packed`); the
    summary last."""
    try:
        result = read_batch(task.reader, task.sources, context)
    except TokenauditError as exc:
        return [ReadSummary(empty_rejects(), (), 0, exc)]
    first = task.number << ROW_BITS
    rows = result.events.with_columns(pl.int_range(first, first + pl.len(), dtype=pl.Int64).alias(ORDER))
    number = (pl.col("dedup_key").hash() % shards).alias("_shard")
    parts = rows.with_columns(number).partition_by("_shard", as_dict=True, include_key=False)
    empty = rows.clear()
    split: list[bytes | ReadSummary] = [packed(parts.get((shard,), empty)) for shard in range(shards)]
    return [*split, ReadSummary(result.rejects, result.repaired, result.events.height)]


def clean_parts(parts: Sequence[bytes], policy: Policy, period: Period, shards: int) -> list[bytes | CleanShard]:
    """One shard from every read task's part of it: deduplicated, identities resolved, priced, in the period.

    The events are split into ``shards`` parts by a hash of the developer (:func:`packed`), for :func:`digest_parts`;
    with no ``shards``, the events' usage cube instead (what ``totals`` needs of them: the cubes of all shards sum to
    the period's); the shard's other fields last (its ``events`` left empty)."""
    rows = pl.concat([unpacked(part) for part in parts], how="vertical").rechunk()
    unique = deduplicate_shard(rows)
    del rows
    shard = clean_shard(unique, policy, period.since, period.until, period.timezone)
    if not shards:
        return [
            packed(usage_cube(shard.events, period.timezone)),
            replace(shard, events=shard.events.clear()),
        ]
    number = (pl.col("developer").hash() % shards).alias("_shard")
    split = shard.events.with_columns(number).partition_by("_shard", as_dict=True, include_key=False)
    empty = shard.events.clear()
    return [*(packed(split.get((part,), empty)) for part in range(shards)), replace(shard, events=empty)]


def digest_parts(parts: Sequence[bytes], policy: Policy, timezone: str) -> tuple[bytes, ShardedFeatures]:
    """The :func:`~tokenaudit.shards.developer_digest` of whole developers, from every cleaned shard's part of their
    events (put back in input order, as ties fall locally), its cube :func:`packed`: the driver sums and judges
    these without the events."""
    events = pl.concat([unpacked(part) for part in parts], how="vertical").sort(ORDER).drop(ORDER)
    digest = developer_digest(events, policy, timezone)
    return packed(digest.cube), digest.features


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
) -> LoadedEvents:
    """:func:`~tokenaudit.ingest.load_events` with the reads and shards run as tasks on ``client``'s cluster; with
    ``detector_features``, the detectors' features of the events too (for an audit of the whole period loaded).
    Without ``keep_events`` the events stay on the workers: the load has their usage cube instead."""
    planned = plan_inputs(inputs, policy, period, input_format=input_format, developer=developer, stdin=stdin)
    tasks = read_tasks(planned)
    shards = shard_count(tasks, sum(client.nthreads().values()))
    reads = client.map(
        read_and_split, tasks, context=planned.context, shards=shards, retries=RETRIES, key=_keys("read", len(tasks))
    )
    summaries = [client.submit(operator.getitem, read, -1, retries=RETRIES) for read in reads]
    done = _summaries(summaries, tasks, planned.input_bytes)
    failed = next((summary.error for summary in done if summary.error is not None), None)
    if failed is not None:
        client.cancel(reads)
        raise failed
    parts = [
        [client.submit(operator.getitem, read, shard, retries=RETRIES) for read in reads] for shard in range(shards)
    ]
    summed = not keep_events and not detector_features  # totals: each cleaned shard sums its own events
    cleaned = client.map(
        clean_parts, parts, policy=policy, period=period, shards=0 if summed else shards, retries=RETRIES
    )
    del reads, parts  # the read rows are freed on the workers as soon as their shards are cleaned
    developed: list[Future[tuple[bytes, ShardedFeatures]]] = []
    if detector_features:
        by_developer = [
            [client.submit(operator.getitem, clean, shard, retries=RETRIES) for clean in cleaned]
            for shard in range(shards)
        ]
        timezone = planned.period.timezone
        developed = client.map(
            digest_parts,
            by_developer,
            policy=policy,
            timezone=timezone,
            retries=RETRIES,
        )
    if keep_events:
        results = [
            replace(split[-1], events=pl.concat([unpacked(part) for part in split[:-1]], how="vertical"))
            for split in client.gather(cleaned)
        ]
    else:
        results = client.gather([client.submit(operator.getitem, clean, -1, retries=RETRIES) for clean in cleaned])
    rejects = pl.concat([empty_rejects(), *(summary.rejects for summary in done)], how="vertical")
    repaired = [name for summary in done for name in summary.repaired]
    rows = sum(summary.rows for summary in done)
    if summed:
        cubes = client.gather([client.submit(operator.getitem, clean, 0, retries=RETRIES) for clean in cleaned])
        return assemble(planned, results, rejects, repaired, rows, summed_cubes([unpacked(cube) for cube in cubes]))
    if not developed:
        return assemble(planned, results, rejects, repaired, rows)
    digest = merged_digests([DeveloperDigest(unpacked(cube), features) for cube, features in client.gather(developed)])
    loaded = assemble(planned, results, rejects, repaired, rows, None if keep_events else digest.cube)
    return replace(loaded, features=digest.features)


def _keys(prefix: str, count: int) -> list[str]:
    """Task keys unique to this run (Dask would reuse a finished result under the same key)."""
    token = os.urandom(6).hex()
    return [f"tokenaudit-{prefix}-{token}-{number}" for number in range(count)]


def _summaries(futures: list[Future[Any]], tasks: list[ReadTask], total_bytes: int) -> list[ReadSummary]:
    """Wait for every read, advancing the progress bar by each task's input bytes; summaries in task order."""
    position = {future.key: number for number, future in enumerate(futures)}
    found: list[ReadSummary | None] = [None] * len(futures)
    with progress.reading(total_bytes):
        for future in as_completed(futures):
            number = position[future.key]
            found[number] = future.result()
            progress.advance(tasks[number].bytes)
    return [summary for summary in found if summary is not None]


def local_cluster() -> LocalCluster:
    """A cluster of this machine: one single-threaded worker process per core, memory shared out evenly."""
    workers = os.cpu_count() or 1
    return LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
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
                threading.Thread(target=cluster.close, name="tokenaudit-cluster-close").start()
