"""The Dask engine gives the local engine's load exactly, survives a worker killed mid-run, and fails on a bad file
as locally. One cluster of two worker processes serves the whole module."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shutil
import signal
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from tests.helpers import FIXTURES, SAMPLE, SAMPLE_ARGS, run_cli
from tokenaudit.audit import run_audit
from tokenaudit.documents import audit_document
from tokenaudit.ingest import LoadedEvents, Period, PlannedInputs, load_events, narrow, plan_inputs
from tokenaudit.policy import Policy, load_policy
from tokenaudit.readers.base import ReadContext, Reader, ReadResult
from tokenaudit.readers.sources import Source
from tokenaudit.shards import Reduction
from tokenaudit.simulate import SimulationConfig, simulate, write_simulation
from tokenaudit.views import report_views

if TYPE_CHECKING:
    from distributed import Client

distributed = pytest.importorskip("distributed", reason="the dask extra is not installed")
dask = pytest.importorskip("dask", reason="the dask extra is not installed")
engine = pytest.importorskip("tokenaudit.engines.dask")

CORPUS = Path(__file__).parent / "corpus"
A_WEEK = ("--since", "2026-09-21", "--until", "2026-09-27")
"""A report period shorter than the detectors' lookback, with a week of data before it to compare with."""
SAMPLE_POLICY = ("--policy", str(SAMPLE / "policy.yaml"))


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    patient = {"distributed.comm.timeouts.connect": "120s", "distributed.comm.timeouts.tcp": "120s"}  # a busy machine
    with (
        dask.config.set(patient),
        distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster,
        distributed.Client(cluster) as connected,
    ):
        yield connected


@pytest.fixture(scope="module")
def mixed_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Claude Code transcripts of two people, Cursor event pages (three bad rows) and a generic CSV in one folder."""
    root = tmp_path_factory.mktemp("mixed")
    shutil.copytree(FIXTURES / "claude_code", root / "claude")
    shutil.copytree(FIXTURES / "cursor" / "events", root / "cursor")
    (root / "generic").mkdir()
    shutil.copy(FIXTURES / "generic" / "events.csv", root / "generic")
    return root


@pytest.fixture(scope="module")
def organisation(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("org")
    write_simulation(simulate(SimulationConfig(developers=24, days=14, seed=3)), folder)
    return folder


@pytest.fixture(scope="module")
def split_rows(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample events in two files of alternate rows: every developer in both, so reduced in developer shards."""
    folder = tmp_path_factory.mktemp("split")
    split_sample(folder, "rows")
    return folder


def assert_same_load(dask: LoadedEvents, local: LoadedEvents) -> None:
    assert_frame_equal(dask.events, local.events)
    assert_frame_equal(dask.rejects, local.rejects)
    assert dask.quality == local.quality


def _address(client: Client) -> str:
    """The scheduler the client is connected to (``--scheduler``)."""
    assert client.scheduler is not None
    return str(client.scheduler.address)


def test_sample_data_duplicates_and_transcripts_load_identically(client: Client) -> None:
    inputs = [
        str(SAMPLE / "events.csv"),
        str(CORPUS / "duplicates_across_a.jsonl"),
        str(CORPUS / "duplicates_across_b.jsonl"),
        str(CORPUS / "duplicates_within.csv"),
        str(FIXTURES / "claude_code"),
    ]
    policy = load_policy(SAMPLE / "policy.yaml")
    period = Period(timezone="Europe/Berlin")
    local = load_events(inputs, policy, period)
    assert local.quality.duplicates_dropped > 0  # copies across files meet in one shard on the cluster too
    assert_same_load(engine.load_events_on(client, inputs, policy, period), local)


def test_transcripts_of_several_people_in_one_read_task_load_identically(
    client: Client, mixed_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sources = [
        Source(f"{owner}-{number}", data=b"x" * size)
        for owner, sizes in enumerate(([30, 30], [50], [10]))
        for number, size in enumerate(sizes)
    ]
    by_owner = [sources[:2], sources[2:3], sources[3:]]
    assert engine.owner_runs(by_owner, 1) == [sources[:2], sources[2:]]  # 120 bytes over 2 tasks: whole owners
    monkeypatch.setattr(engine, "owner_runs", lambda owned, _: [[source for run in owned for source in run]])
    policy = load_policy(None)
    local = load_events([str(mixed_folder)], policy, Period())
    assert local.events["developer"].n_unique() >= 3
    on_cluster = engine.load_events_on(client, [str(mixed_folder)], policy, Period(), detector_features=True)
    assert_same_load(on_cluster, local)
    assert on_cluster.features is not None
    assert audit_document(run_audit(on_cluster, policy)).data == audit_document(run_audit(local, policy)).data


def test_detector_features_come_from_the_workers_and_judge_to_the_local_findings(client: Client) -> None:
    policy = load_policy(SAMPLE / "policy.yaml")
    inputs = [str(SAMPLE / "events.csv")]
    on_cluster = engine.load_events_on(client, inputs, policy, Period(), detector_features=True)
    local = load_events(inputs, policy, Period())
    assert local.features is None
    assert engine.load_events_on(client, inputs, policy, Period()).features is None  # a load for totals or a report
    assert on_cluster.features is not None
    assert on_cluster.features.fit(policy.flags, policy.leaderboard, on_cluster.period.timezone)
    assert len(on_cluster.features.people) == 1  # one read unit names every developer: reduced where it was read
    judged, computed = run_audit(on_cluster, policy).findings, run_audit(local, policy).findings
    assert judged.flags == computed.flags
    assert len({flag.id for flag in computed.flags}) >= 5
    assert_frame_equal(judged.risk, computed.risk)
    assert_frame_equal(judged.near_misses, computed.near_misses)


@pytest.mark.parametrize(
    "case",
    [
        ("audit", *SAMPLE_ARGS, "--format", "json"),
        ("report", *SAMPLE_ARGS, "--format", "json", "--since", "2026-09-14", "--until", "2026-09-27"),
        ("report", *SAMPLE_ARGS, "--format", "json", *A_WEEK, "--compare-previous"),
        ("report", "{split}", *SAMPLE_POLICY, "--format", "json", *A_WEEK, "--compare-previous"),
        ("explain", "DEV.SILVA", *SAMPLE_ARGS, "--format", "json"),
        ("explain", "dsilva-gh", "{split}", *SAMPLE_POLICY, "--format", "json"),
        ("totals", "{mixed}", "--by", "developer,model", "--format", "json", "--rejects", "{rejects}"),
        ("audit", "{organisation}", "--format", "json", "--tz", "America/New_York"),
        ("rank", *SAMPLE_ARGS, "--format", "json", "--pseudonymize"),
        ("totals", "{organisation}", "--by", "team,week,model", "--format", "json"),
    ],
    ids=[
        "audit-sample",
        "report-sample",
        "report-sample-compare-previous",
        "report-split-compare-previous",
        "explain-sample",
        "explain-split",
        "totals-mixed",
        "audit-organisation",
        "rank-sample",
        "totals-organisation",
    ],
)
def test_cli_json_is_byte_identical_to_the_local_engine(
    client: Client,
    mixed_folder: Path,
    organisation: Path,
    split_rows: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    case: tuple[str, ...],
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1790000000")
    monkeypatch.setenv("TOKENAUDIT_PSEUDONYM_KEY", "a key for the test")
    outputs = []
    for run, extra in (("local", ()), ("dask", ("--engine", "dask", "--scheduler", _address(client)))):
        places = {
            "mixed": mixed_folder,
            "organisation": organisation,
            "split": split_rows,
            "rejects": tmp_path / f"{run}.csv",
        }
        result = run_cli(*(word.format(**places) for word in case), *extra)
        assert result.exit_code == 0, result.stderr
        outputs.append(result.stdout)
    assert outputs[1] == outputs[0]
    assert json.loads(outputs[0])  # a real document, not two empty outputs
    if "--rejects" in case:
        assert (tmp_path / "dask.csv").read_bytes() == (tmp_path / "local.csv").read_bytes()
        assert len((tmp_path / "local.csv").read_text().splitlines()) == 6  # header and five rejected rows, once


def split_sample(folder: Path, how: str) -> list[str]:
    """The sample events in two files: alternate rows (every developer in both), or developers a-l and m-z, with
    ``alias`` fifty of one person's rows under another of their names in the second file."""
    events = pl.read_csv(SAMPLE / "events.csv", infer_schema=False)
    if how == "rows":
        halves = [events.gather_every(2), events.gather_every(2, offset=1)]
    else:
        first = events.filter(pl.col("developer") < "m")
        halves = [first, events.filter(pl.col("developer") >= "m")]
        if how == "alias":
            moved = pl.col("developer").eq("arjun.brown@acme.example") & (pl.int_range(pl.len()).over("developer") < 50)
            aliased = first.filter(moved).with_columns(developer=pl.lit("abrown-gh"))
            halves = [first.filter(~moved), pl.concat([halves[1], aliased])]
    paths = [folder / f"events-{number}.csv" for number in range(2)]
    for half, path in zip(halves, paths, strict=True):
        half.write_csv(path)
    return [str(path) for path in paths]


@pytest.mark.parametrize(
    ("how", "digests"),
    [("rows", {4}), ("developers", {1, 2}), ("alias", {1 + 4, 2 + 4})],
    ids=["developers-in-both-files", "developers-in-one-file", "a-person-in-both-under-two-names"],
)
def test_totals_audits_and_reports_send_the_driver_no_event(
    client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str, digests: set[int]
) -> None:
    """Without ``keep_events`` the driver unpacks only usage cubes, never a frame of events, and audits them to the
    local engine's document; a report's load brings back its period's cube and views, not its events. The developers
    only one read unit names (canonical names, not spellings) are reduced on the worker that read them (one reduction
    per worker holding such units: one or two here); the others go to developer shards (two per worker)."""
    unpacked_here: list[list[str]] = []
    unpack = engine.unpacked

    def recorded(data: bytes) -> pl.DataFrame:
        frame: pl.DataFrame = unpack(data)
        unpacked_here.append(frame.columns)
        return frame

    monkeypatch.setattr(engine, "unpacked", recorded)  # the driver's: the workers run their own
    policy = load_policy(SAMPLE / "policy.yaml")
    inputs = split_sample(tmp_path, how)
    on_cluster = engine.load_events_on(client, inputs, policy, Period(), detector_features=True, keep_events=False)
    local = load_events(inputs, policy, Period())
    assert len(unpacked_here) in digests
    assert all(columns == local.usage.columns for columns in unpacked_here)  # cubes and nothing else
    assert on_cluster.features is not None
    assert len(on_cluster.features.people) == len(unpacked_here)
    assert not on_cluster.events_kept
    assert on_cluster.events.width == 0
    assert local.events.height > 10 * on_cluster.usage.height  # what the driver holds instead
    assert_frame_equal(on_cluster.usage, local.usage)
    assert on_cluster.quality == local.quality
    assert audit_document(run_audit(on_cluster, policy)).data == audit_document(run_audit(local, policy)).data
    unpacked_here.clear()
    for_totals = engine.load_events_on(client, inputs, policy, Period(), keep_events=False)
    assert len(unpacked_here) == 2  # one cube per read unit, summed on the driver
    assert all(columns == local.usage.columns for columns in unpacked_here)
    assert_frame_equal(for_totals.usage, local.usage)
    unpacked_here.clear()
    week = Period(since=dt.date(2026, 9, 21), until=dt.date(2026, 9, 27))
    wanted = Reduction(features=False, periods=(week,), lookback_days=policy.flags.lookback_days)
    for_report = engine.load_events_on(client, inputs, policy, Period(), keep_events=False, reduction=wanted)
    assert len(unpacked_here) in digests
    assert all(columns == local.usage.columns for columns in unpacked_here)
    assert for_report.events.width == 0
    assert for_report.features is None
    report_week, local_week = narrow(for_report, week, policy), narrow(local, week, policy)
    assert report_week.views is not None
    expected = report_views(local_week.events, policy.flags.headless_work, week.timezone)
    for view, wanted_view in (
        (report_week.views.minutes, expected.minutes),
        (report_week.views.sessions, expected.sessions),
    ):
        assert view is not None and wanted_view is not None
        assert view.height > 20
        assert_frame_equal(view, wanted_view)
    assert_frame_equal(report_week.usage, local_week.usage)
    assert report_week.quality == local_week.quality


def test_mixed_folder_with_rejects_loads_identically(client: Client, mixed_folder: Path) -> None:
    policy = load_policy(None)
    local = load_events([str(mixed_folder)], policy, Period())
    assert local.rejects.height == 5  # two in the transcripts, three Cursor rows: gathered once on the cluster too
    assert_same_load(engine.load_events_on(client, [str(mixed_folder)], policy, Period()), local)


def test_a_parquet_file_read_in_row_ranges_loads_identically(
    client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = pl.read_csv(SAMPLE / "events.csv", infer_schema=False)
    path = tmp_path / "events.parquet"
    copies = events.gather_every(7)  # they lie in other ranges than their originals
    pl.concat([events, copies]).write_parquet(path)
    policy = load_policy(SAMPLE / "policy.yaml")
    monkeypatch.setattr(engine, "ROWS_PER_TASK", events.height // 5)
    monkeypatch.setattr(engine, "ROWS_PER_SHARD", events.height // 8)
    planned = plan_inputs([str(path)], policy, Period())
    assert len(engine.read_tasks(planned, 2)) == 6  # 30,795 rows in runs of 5,389
    assert engine.shard_count(engine.read_tasks(planned, 2), 2) == 10  # 35,195 rows in shards of 3,849: more than 2 x 2
    assert len(engine.read_tasks(planned, 4)) == 8  # as many runs for each of 4 threads
    assert engine.shard_count(engine.read_tasks(planned, 4), 4) == 12
    local = load_events([str(path)], policy, Period())
    assert local.quality.duplicates_dropped == copies.height
    assert_same_load(engine.load_events_on(client, [str(path)], policy, Period()), local)


class DiesOnce:
    """A reader whose first read kills its worker process outright (SIGKILL), as a lost machine would."""

    def __init__(self, reader: Reader, marker: Path) -> None:
        self.reader = reader
        self.marker = marker
        self.name = reader.name

    def read(self, sources: Sequence[Source], context: ReadContext) -> ReadResult:
        if not self.marker.exists():
            self.marker.touch()
            os.kill(os.getpid(), signal.SIGKILL)
        return self.reader.read(sources, context)


def test_a_worker_killed_mid_run_changes_nothing(
    client: Client, organisation: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy: Policy = load_policy(None)
    marker = tmp_path / "killed"
    plan_tasks = engine.read_tasks

    def dying(planned: PlannedInputs, threads: int) -> list[object]:
        tasks = plan_tasks(planned, threads)
        first = tasks[0]
        return [replace(first, reader=DiesOnce(first.reader, marker)), *tasks[1:]]

    monkeypatch.setattr(engine, "read_tasks", dying)
    workers = set(client.scheduler_info()["workers"])
    loaded = engine.load_events_on(client, [str(organisation)], policy, Period())
    assert marker.exists()  # a worker process did die during the run
    client.wait_for_workers(2, timeout=60)
    assert set(client.scheduler_info()["workers"]) != workers  # ... and the nanny replaced it
    assert_same_load(loaded, load_events([str(organisation)], policy, Period()))


def test_a_bad_file_fails_with_the_local_error_and_exit_code(client: Client, tmp_path: Path) -> None:
    good = tmp_path / "good.csv"
    shutil.copy(SAMPLE / "events.csv", good)
    bad = tmp_path / "zz-bad.csv"
    bad.write_text("timestamp,input_tokens\n2026-09-14T10:00:00Z,5\n", encoding="utf-8")
    args = ("totals", str(good), str(bad), "--input-format", "generic", "--format", "json")
    local = run_cli(*args)
    dask = run_cli(*args, "--engine", "dask", "--scheduler", _address(client))
    assert local.exit_code == dask.exit_code == 3
    assert (
        local.stderr
        == f"tokenaudit: error: {bad}: missing required column 'developer' (found: timestamp, input_tokens);"
        " map your column names in the policy's columns: section\n"
    )
    assert dask.stderr == local.stderr
    assert dask.stdout == local.stdout == ""


def test_the_command_lines_own_cluster_gives_the_local_output(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a scheduler, ``--engine dask`` starts its own cluster (workers forked from a preloaded server)."""
    monkeypatch.delenv(engine.SCHEDULER_VARIABLE, raising=False)
    args = ("totals", *SAMPLE_ARGS[:3], "--by", "developer,model", "--format", "json")
    local, on_cluster = run_cli(*args), run_cli(*args, "--engine", "dask")
    assert on_cluster.exit_code == local.exit_code == 0, on_cluster.stderr
    assert on_cluster.stdout == local.stdout
    assert len(json.loads(local.stdout)["groups"]) > 40
    assert on_cluster.stderr == local.stderr == ""


def test_engine_options_fail_as_usage_errors() -> None:
    lone = run_cli("totals", str(SAMPLE / "events.csv"), "--scheduler", "tcp://127.0.0.1:1")
    assert lone.exit_code == 2
    assert lone.stderr == "tokenaudit: error: --scheduler needs --engine dask\n"
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        nobody = run_cli("totals", str(SAMPLE / "events.csv"), "--engine", "dask", "--scheduler", "tcp://127.0.0.1:1")
    assert nobody.exit_code == 2
    assert nobody.stderr.startswith("tokenaudit: error: --scheduler: no Dask scheduler answers at tcp://127.0.0.1:1")


DASK_HEARTBEAT_FAILED = "Failed to communicate with scheduler during heartbeat."
"""What distributed's worker logs (with the OSError's traceback) when a heartbeat fails; it retries at the next."""


def test_the_own_clusters_workers_drop_only_the_retried_heartbeat_failures() -> None:
    """The command line's cluster keeps Dask's recovered heartbeat faults (an ERROR with a traceback) off stderr."""

    def kept_records() -> tuple[bool, bool]:

        logger = logging.getLogger("distributed.worker")
        heartbeat = logger.makeRecord(logger.name, logging.ERROR, "worker.py", 1, DASK_HEARTBEAT_FAILED, (), None)
        other = logger.makeRecord(logger.name, logging.ERROR, "worker.py", 1, "Compute Failed", (), None)
        return bool(logger.filter(heartbeat)), bool(logger.filter(other))

    cluster = engine.local_cluster(1)
    try:
        with distributed.Client(cluster) as connected:
            kept = connected.run(kept_records)
    finally:
        engine.close_local(cluster)
    assert list(kept.values()) == [(False, True)]
