"""Work overlapped in threads gives what one step at a time gives: parts of a file read ahead, developer shards
reduced at once, each bounded by the memory budget."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from tests.helpers import FIXTURES, SAMPLE, run_cli
from tokenaudit import ingest, progress
from tokenaudit.ingest import Period, developer_digests, plan_inputs, read_ahead
from tokenaudit.policy import load_policy
from tokenaudit.readers import generic, read_batch
from tokenaudit.readers.sources import Source
from tokenaudit.shards import (
    DIGESTS_AT_ONCE,
    REDUCTION_EXPANSION,
    Reduction,
    developer_digest,
    digests_at_once,
    merged_digests,
    shard_bytes,
    split_by_hash,
    typed,
)


@pytest.fixture
def parquet(tmp_path: Path) -> Path:
    """The sample events and a copy of every seventh one, in one Parquet file."""
    events = pl.read_csv(SAMPLE / "events.csv", infer_schema=False)
    path = tmp_path / "events.parquet"
    pl.concat([events, events.gather_every(7)]).write_parquet(path)
    return path


def test_parts_read_ahead_come_as_read_one_at_a_time_with_their_bytes(
    parquet: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same results in the same order, and the bytes read so far are those of the results taken (the spill
    extrapolates its shard count from them): Parquet parts, CSV blocks and a Claude Code folder."""
    monkeypatch.setattr(generic, "TEXT_BLOCK_BYTES", 1024 * 1024)
    inputs = [str(parquet), str(SAMPLE / "events.csv"), str(FIXTURES / "claude_code")]
    planned = plan_inputs(inputs, load_policy(SAMPLE / "policy.yaml"), Period())
    expected, ahead = [], []
    with progress.reading(planned.input_bytes, enabled=False):
        for result in planned.plan.read(planned.context, 50):
            expected.append((result.events, progress.done()))
    with progress.reading(planned.input_bytes, enabled=False):
        for result in read_ahead(planned.plan, planned.context, 50):
            ahead.append((result.events, progress.done()))
    assert len(ahead) == len(expected) > ingest.READ_AHEAD + 1
    for (events, done), (expected_events, expected_done) in zip(ahead, expected, strict=True):
        assert_frame_equal(events, expected_events)
        assert done == expected_done


def test_only_parquet_parts_and_text_blocks_are_read_in_threads(parquet: Path, tmp_path: Path) -> None:
    """The Claude Code reader starts and follows its helper processes from the thread that reads, and a whole file
    may be of any reader: those are read in the caller's thread, in their turn."""
    whole = tmp_path / "whole.csv"  # within a block: read whole
    whole.write_text("".join((SAMPLE / "events.csv").read_text().splitlines(keepends=True)[:3]))
    inputs = [str(parquet), str(SAMPLE / "events.csv"), str(whole), str(FIXTURES / "claude_code")]
    planned = plan_inputs(inputs, load_policy(SAMPLE / "policy.yaml"), Period())
    threads = set()
    read = read_batch

    def recorded(reader: object, batch: list[Source], context: object) -> object:
        kind = "block" if batch[0].block is not None else Path(batch[0].name).suffix
        threads.add((kind, threading.current_thread() is threading.main_thread()))
        return read(reader, batch, context)  # type: ignore[arg-type]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ingest, "read_batch", recorded)
        patch.setattr(generic, "TEXT_BLOCK_BYTES", 1024 * 1024)  # the sample events in blocks
        list(read_ahead(planned.plan, planned.context, 50))
    assert threads == {(".parquet", False), ("block", False), (".csv", True), (".jsonl", True)}  # transcripts: .jsonl


def test_an_error_in_a_part_read_ahead_is_raised_in_its_turn(parquet: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    planned = plan_inputs([str(parquet)], load_policy(SAMPLE / "policy.yaml"), Period())
    read = read_batch
    calls: list[int] = []

    def failing(*args: object) -> object:
        calls.append(1)
        if len(calls) == 3:
            raise ValueError("third part")
        return read(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(ingest, "read_batch", failing)
    taken = []
    with pytest.raises(ValueError, match="third part"):
        for result in read_ahead(planned.plan, planned.context, 50):
            taken.append(result)
    assert len(taken) == 2


def _developer_shards(count: int) -> Iterator[pl.DataFrame]:
    events = ingest.load_events([str(SAMPLE / "events.csv")], load_policy(SAMPLE / "policy.yaml"), Period()).events
    for part in split_by_hash(events, "developer", count).values():
        yield typed(part.lazy(), codes=True).collect()


def test_developer_shards_reduced_at_once_give_the_digests_of_one_at_a_time() -> None:
    policy = load_policy(SAMPLE / "policy.yaml")
    wanted = Reduction()
    one = [developer_digest(frame, policy, "UTC", wanted) for frame in _developer_shards(5)]
    taken = []

    def counted() -> Iterator[pl.DataFrame]:
        for frame in _developer_shards(5):
            taken.append(frame.height)
            yield frame

    at_once = developer_digests(counted(), policy, "UTC", wanted, 2)
    assert len(at_once) == len(one) == len(taken) > 2
    for mine, theirs in zip(at_once, one, strict=True):
        assert_frame_equal(mine.cube, theirs.cube)
    merged, expected = merged_digests(at_once), merged_digests(one)
    assert merged.features is not None and expected.features is not None
    for key, frame in expected.features.detectors.items():
        # Rows of a detector's features come in no set order within a shard, reduced at once or not.
        flat = [name for name, dtype in frame.schema.items() if not dtype.is_nested()]
        assert_frame_equal(merged.features.detectors[key].sort(flat), frame.sort(flat))


def test_developer_shards_are_reduced_at_once_only_where_the_budget_holds_them() -> None:
    budget = 2 * 2**30
    assert digests_at_once(budget, shard_bytes(budget)) == DIGESTS_AT_ONCE  # a spilled shard: a sixteenth at most
    assert digests_at_once(budget, budget // REDUCTION_EXPANSION) == 1
    assert digests_at_once(budget, budget) == 1
    assert digests_at_once(64 * 2**20, shard_bytes(64 * 2**20)) == DIGESTS_AT_ONCE


def test_an_audit_reduced_one_shard_at_a_time_is_the_same_document(monkeypatch: pytest.MonkeyPatch) -> None:
    args = ("audit", str(SAMPLE / "events.csv"), "--policy", str(SAMPLE / "policy.yaml"), "--format", "json")
    monkeypatch.setattr(ingest, "DEVELOPER_SHARD_ROWS", 200)
    at_once = run_cli(*args)
    monkeypatch.setattr(ingest, "digests_at_once", lambda *_: 1)
    one = run_cli(*args)
    assert at_once.exit_code == one.exit_code == 0, one.stderr
    assert at_once.stdout == one.stdout
