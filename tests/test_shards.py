"""The sharded pipeline gives the unsharded answer: spilled shards, developer slices, the memory option."""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from tests.helpers import FIXTURES, SAMPLE, SAMPLE_ARGS, run_cli
from tokenaudit import ingest
from tokenaudit.audit import run_audit
from tokenaudit.documents import audit_document
from tokenaudit.errors import UsageError
from tokenaudit.ingest import Period, load_events, narrow, plan_inputs
from tokenaudit.policy import load_policy
from tokenaudit.readers import ReadPlan
from tokenaudit.readers.base import ReadContext, ReadResult
from tokenaudit.shards import (
    ORDER,
    Spill,
    developer_table,
    parse_memory_limit,
    rows_per_read,
    typed,
)
from tokenaudit.shards import (
    held as held_rows,
)

CORPUS = Path(__file__).parent / "corpus"
INPUTS = [
    str(SAMPLE / "events.csv"),
    str(CORPUS / "duplicates_across_a.jsonl"),
    str(CORPUS / "duplicates_across_b.jsonl"),
    str(CORPUS / "duplicates_within.csv"),
    str(FIXTURES / "claude_code"),
]


@pytest.fixture
def spills(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Spilled shards go under this test's folder; the list collects the shard folders made."""
    made: list[Path] = []
    make = tempfile.mkdtemp

    def recorded(prefix: str) -> str:
        made.append(Path(make(prefix=prefix, dir=tmp_path)))
        return str(made[-1])

    monkeypatch.setattr(tempfile, "mkdtemp", recorded)
    return made


@pytest.mark.parametrize(
    "period",
    [
        Period(since=None, until=None, timezone="Europe/Berlin"),
        Period(since=dt.date(2026, 9, 14), until=dt.date(2026, 9, 20), timezone="UTC"),
    ],
)
def test_spilled_shards_give_the_unsharded_events_and_quality(spills: list[Path], period: Period) -> None:
    policy = load_policy(SAMPLE / "policy.yaml")
    whole = load_events(INPUTS, policy, period)
    sharded = load_events(INPUTS, policy, period, memory_limit=4_000_000)
    assert whole.quality.duplicates_dropped > 0
    assert (whole.quality.outside_period > 0) == (period.since is not None)
    assert_frame_equal(sharded.events, whole.events)
    assert sharded.quality == whole.quality
    assert len(spills) == 1
    assert not spills[0].exists()  # removed after use


def test_a_read_batch_larger_than_a_shard_is_spilled_in_slices_keeping_every_row_and_its_position(
    spills: list[Path],
) -> None:
    rows = pl.DataFrame({"dedup_key": [f"rid:{n % 700}" for n in range(5_000)], "line": range(5_000)})
    with Spill(budget=int(rows.estimated_size()), input_bytes=1) as spill:
        spill.add(rows, read_bytes=1)
        shards = list(spill.frames())
        written = spill.parts
    assert written > 1  # the batch went out in slices, not as one partitioned copy
    keys = [set(shard["dedup_key"]) for shard in shards]
    assert sum(map(len, keys)) == len(set().union(*keys)) == 700  # every copy of a key still meets the others
    together = pl.concat(shards).sort(ORDER)
    assert_frame_equal(together, rows.with_columns(pl.int_range(0, rows.height, dtype=pl.Int64).alias(ORDER)))
    assert len(spills) == 1


def test_developer_table_on_a_slice_of_whole_developers_matches_the_whole() -> None:
    events = load_events([str(SAMPLE / "events.csv")], load_policy(SAMPLE / "policy.yaml"), Period()).events
    whole = developer_table(events, "UTC")
    part = events.filter(pl.col("developer").hash() % 3 == 1)
    sliced = developer_table(part, "UTC")
    assert 0 < sliced.height < whole.height
    assert_frame_equal(sliced, whole.filter(pl.col("developer").is_in(sliced["developer"].implode())))


@pytest.mark.parametrize(
    "args",
    [
        ("audit", *SAMPLE_ARGS, "--format", "json"),
        ("totals", *INPUTS, "--by", "team,model,day", "--format", "json"),  # each shard's cube, summed
        # A week (short: the detectors read the lookback window) compared with the week before, from one load.
        ("report", *SAMPLE_ARGS, "--format", "json", "--period", "2026-W39"),
        ("report", *SAMPLE_ARGS, "--format", "json"),  # the whole span, no comparison
        ("report", *INPUTS, "--format", "json", "--period", "2030-01"),  # no event in the period
        ("audit", *INPUTS, "--since", "2030-01-01", "--format", "json"),  # no developer shard: was an internal error
        ("explain", "DEV.SILVA", *SAMPLE_ARGS, "--format", "json"),  # a name in another case
        (
            "explain",
            "elif.brown@acme.example",
            *INPUTS,
            "--since",
            "2026-09-14",
            "--until",
            "2026-09-20",
            "--format",
            "json",
        ),
    ],
    ids=["audit", "totals", "report-week", "report-whole", "report-empty", "audit-empty", "explain", "explain-week"],
)
def test_json_is_identical_under_a_tiny_memory_limit(
    spills: list[Path], monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...]
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1795000000")  # the report's generated_at
    plain = run_cli(*args)
    sharded = run_cli(*args, "--memory-limit", "4M")
    assert plain.exit_code == sharded.exit_code == 0, sharded.stderr
    assert sharded.stdout == plain.stdout
    assert len(spills) == 1


@pytest.fixture
def held(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The sizes of the developer shards read, in turn; a load that gathers the events whole fails."""
    sizes: list[int] = []
    frames = Spill.developer_frames

    def recorded(spill: Spill) -> Iterator[pl.DataFrame]:
        for frame in frames(spill):
            sizes.append(frame.height)
            yield frame

    def refused(_: object) -> pl.DataFrame:
        raise AssertionError("the events were gathered")

    monkeypatch.setattr(Spill, "developer_frames", recorded)
    monkeypatch.setattr(ingest, "in_input_order", refused)
    return sizes


def test_a_spilled_load_for_an_audit_holds_one_developer_shard_at_a_time(spills: list[Path], held: list[int]) -> None:
    """Past the budget, a load for an audit never gathers the events: each developer shard is reduced to its usage
    cube and detector features in turn, and those audit to the whole load's document."""
    policy = load_policy(SAMPLE / "policy.yaml")
    whole = load_events(INPUTS, policy, Period())
    sharded = load_events(INPUTS, policy, Period(), memory_limit=4_000_000, detector_features=True, keep_events=False)
    assert len(held) > 1
    assert sum(held) == whole.events.height
    assert max(held) < whole.events.height / 2
    assert not sharded.events_kept
    assert_frame_equal(sharded.usage, whole.usage)
    assert sharded.quality == whole.quality
    assert sharded.features is not None
    assert audit_document(run_audit(sharded, policy)).data == audit_document(run_audit(whole, policy)).data
    assert len(spills) == 1
    assert not spills[0].exists()


def test_a_parquet_file_is_read_in_parts_under_a_memory_limit(
    spills: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An explicit budget bounds the read too: a Parquet file is read a shard's worth of rows at a time (line numbers
    and duplicates across the parts as in one read)."""
    events = pl.read_csv(SAMPLE / "events.csv", infer_schema=False)
    path = tmp_path / "events.parquet"
    copies = events.gather_every(7)  # they lie in other parts than their originals
    pl.concat([events, copies]).write_parquet(path)
    policy = load_policy(SAMPLE / "policy.yaml")
    whole = load_events([str(path)], policy, Period())
    heights: list[int] = []
    read = ingest.read_ahead

    def recorded(plan: ReadPlan, context: ReadContext, rows_per_part: int) -> Iterator[ReadResult]:
        for result in read(plan, context, rows_per_part):
            heights.append(result.events.height)
            yield result

    monkeypatch.setattr(ingest, "read_ahead", recorded)
    limited = load_events([str(path)], policy, Period(), memory_limit=4_000_000)
    part = rows_per_read(4_000_000)
    assert len(heights) == -(-(events.height + copies.height) // part) > 1
    assert max(heights) == part
    assert whole.quality.duplicates_dropped == copies.height
    assert_frame_equal(limited.events, whole.events)
    assert limited.quality == whole.quality


@pytest.mark.parametrize(
    ("text", "size"), [("512M", 512 * 2**20), ("2GiB", 2 * 2**30), ("1.5g", 3 * 2**29), ("4096", 4096), ("64kb", 65536)]
)
def test_memory_limit_sizes(text: str, size: int) -> None:
    assert parse_memory_limit(text) == size


@pytest.mark.parametrize("text", ["", "lots", "-1G", "0", "2X"])
def test_memory_limit_refuses_what_is_not_a_size(text: str) -> None:
    with pytest.raises(UsageError, match="--memory-limit"):
        parse_memory_limit(text)


def test_a_narrowed_load_of_two_periods_equals_loading_each_alone() -> None:
    policy = load_policy(SAMPLE / "policy.yaml")
    union = load_events(INPUTS, policy, Period(since=dt.date(2026, 9, 7), until=dt.date(2026, 9, 20)))
    for since, until in [(dt.date(2026, 9, 7), dt.date(2026, 9, 13)), (dt.date(2026, 9, 14), dt.date(2026, 9, 20))]:
        period = Period(since=since, until=until)
        alone = load_events(INPUTS, policy, period)
        narrowed = narrow(union, period, policy)
        assert alone.quality.outside_period > 0
        assert_frame_equal(narrowed.events, alone.events)
        assert narrowed.quality == alone.quality
        assert narrowed.period == alone.period


@pytest.mark.parametrize(
    "args",
    [
        ("report", *SAMPLE_ARGS, "--format", "json", "--period", "2026-W39"),
        ("explain", "dev.silva", *SAMPLE_ARGS, "--format", "json"),
    ],
    ids=["report", "explain"],
)
def test_a_report_or_explain_past_the_budget_reads_developer_shards_not_the_events(
    spills: list[Path], held: list[int], monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...]
) -> None:
    """Past the budget, the report's periods (with their lookback windows and page views) and explain's evidence
    come from each developer shard in turn: the events are never put together."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1795000000")
    plain = run_cli(*args)  # within the budget: one developer shard in memory, no spilled one read
    sharded = run_cli(*args, "--memory-limit", "4M")
    assert plain.exit_code == sharded.exit_code == 0, sharded.stderr
    assert sharded.stdout == plain.stdout
    assert len(held) > 1
    assert max(held) < sum(held) / 2


def test_read_rows_are_held_smaller_and_given_back_exactly() -> None:
    """Rows held in memory keep every value: text as categorical codes, empty columns as nothing, a flat export's
    ``rid:`` keys left out and made again, and every other key (here: rows without a request id) kept."""
    policy = load_policy(SAMPLE / "policy.yaml")
    planned = plan_inputs([*INPUTS, str(CORPUS / "duplicates_within.csv")], policy, Period())
    read = [result.events for result in planned.plan.read(planned.context)]
    # The generic reader gives clean text columns as codes: here as text, as the other readers give them.
    rows = pl.concat(read, how="vertical_relaxed").with_columns(pl.col(pl.Categorical).cast(pl.String))
    without_id = pl.col("request_id").is_null()
    assert rows.filter(without_id).height and rows.filter(~without_id).height
    kept = held_rows(rows)
    assert kept.schema["developer"] == pl.Categorical
    assert kept.schema["errored_tokens"] == pl.Null
    assert kept["dedup_key"].null_count() == rows.filter(pl.col("dedup_key").str.starts_with("rid:")).height
    assert_frame_equal(typed(kept.lazy()).collect(), rows)


def test_an_audit_in_memory_reduces_one_developer_shard_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Within the budget an audit's events are held small and reduced a developer shard at a time, in canonical
    types: the same document as from one shard."""
    whole = run_cli("audit", *SAMPLE_ARGS, "--format", "json")
    sizes: list[int] = []
    shards = ingest.developer_shards

    def recorded(buckets: list[list[pl.DataFrame]]) -> Iterator[pl.DataFrame]:
        for frame in shards(buckets):
            sizes.append(frame.height)
            yield frame

    monkeypatch.setattr(ingest, "developer_shards", recorded)
    monkeypatch.setattr(ingest, "DEVELOPER_SHARD_ROWS", 200)
    split = run_cli("audit", *SAMPLE_ARGS, "--format", "json")
    assert whole.exit_code == split.exit_code == 0, split.stderr
    assert split.stdout == whole.stdout
    assert len(sizes) > 2
    assert max(sizes) < sum(sizes) / 2
