"""Speed and memory of ``tokenaudit audit`` against the toolchain's limit and against ccusage (issue 8).

One command produces every figure of issue 18 (inputs generated once, or reused), runs every program on them in
turns, and prints the table, each target's ratio and whether it is met; ``--results FILE`` also writes them into
``benchmarks/RESULTS.md`` (between its ``perf.py`` markers, the rest of the file kept)::

    pip install -e ".[dev]"
    python benchmarks/perf.py --results benchmarks/RESULTS.md   # every figure: ~45 min on 2 quiet cores
    python benchmarks/perf.py --with-100m --results benchmarks/RESULTS.md   # and 100M Parquet events (~50 min more)
    python benchmarks/perf.py --claude 20k --sizes 100k --repeat 1   # quick check (~1 min)

The default inputs are issue 18's: Claude Code transcripts of 300k and 1M requests (against ccusage, polars-min and
``cat`` of the same files), flat Parquet events of 1M and 10M rows, flat CSV and JSON Lines of 10M rows (against
polars-min); the 10M/1M scaling is read from the Parquet runs.

Inputs (generated once, reused from ``--workdir``; never committed):

* Claude Code transcripts, ``<root>/<person>/projects/<project>/<session>.jsonl`` plus subagent files:
  several lines per API response (content blocks, streamed lines with partial output counts), prompts,
  tool results, sidechain transcripts that replay a parent message, resumed sessions that copy history
  into a new file, responses without ``requestId``, snapshots and summaries. The generator also writes
  the true token total (one count per response), which every program's output is checked against.
* Flat events from ``tokenaudit simulate`` (one row per request, ~1% re-exported duplicates) as
  Parquet, CSV and JSON Lines; sizes above 1M rows are copies of the 1M organisation under new names.

Inputs already under ``--workdir`` are reused when their manifest matches (``flat-10M/`` or any ``*/flat-10M/``
holding the format; ``claude-300k/``), so a re-run measures only.

Programs, run alternately (A B C A B C …) so that a burst of load on a shared machine hits all alike:

* ``tokenaudit audit INPUT --format json`` (the full audit: dedup, pricing, detectors, ranking);
* ``polars-min``: this file's ``reference`` sub-command, a minimal Polars script (scan, dedup keeping the
  largest count, group by developer) with the streaming engine: the toolchain's limit;
* ``ccusage claude daily --json --offline -z UTC`` (npm ``ccusage``, whose native Rust binary is run directly
  so that Node's start-up is not counted against it) with ``CLAUDE_CONFIG_DIR`` listing every person's folder;
* ``cat`` of every transcript file to ``/dev/null`` (the stretch target: within 3× of reading the bytes).

Wall time is the median of ``--repeat`` runs, peak RSS the median of each run's maximum resident set
(``wait4``, which includes child processes). Every run's total tokens must equal the generator's truth.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

CCUSAGE_VERSION = "20.0.24"
"""20.0.26, the newest on npm when this was written, ships no native linux-x64 binary."""
REQUESTS_PER_PERSON = 10_000
FLAT_BASE = 1_000_000
"""Flat sizes above this are copies of the base organisation under new developer and request ids."""

# ---------------------------------------------------------------------------------------------------
# Claude Code transcripts


_TEXT = (
    "the refund handler rounds amounts before the currency conversion so totals drift by a cent when "
    "several line items share one invoice we should move rounding to the end and add a regression test "
    "that covers mixed currencies partial refunds and zero value lines while keeping the public api stable "
    "def compute_total(items): return sum(item.amount for item in items) # TODO check rounding mode "
)
_WORDS = _TEXT.split()
_MODELS = (
    ("claude-sonnet-4-5-20250929", 0.68),
    ("claude-opus-4-1-20250805", 0.10),
    ("claude-haiku-4-5-20251001", 0.20),
    ("claude-opus-4-5-20251101", 0.02),
)


@dataclass
class _Person:
    name: str
    rng: random.Random
    pool: str
    clock: float
    total: int = 0
    requests: int = 0
    last_session: list[str] = field(default_factory=list)

    def text(self, low: int, high: int) -> str:
        length = self.rng.randint(low, high)
        start = self.rng.randrange(0, len(self.pool) - length)
        return self.pool[start : start + length]

    def hex(self, digits: int) -> str:
        return f"{self.rng.getrandbits(digits * 4):0{digits}x}"


def _stamp(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _common(session: str, cwd: str, sidechain: bool, uuid: str, parent: str | None) -> str:
    parent_text = "null" if parent is None else f'"{parent}"'
    return (
        f'"parentUuid":{parent_text},"isSidechain":{"true" if sidechain else "false"},"userType":"external",'
        f'"cwd":"{cwd}","sessionId":"{session}","version":"2.1.140","gitBranch":"main"'
    )


def _usage(input_tokens: int, output: int, cache_read: int, cache_write: int, breakdown: bool) -> str:
    split = (
        f',"cache_creation":{{"ephemeral_5m_input_tokens":{cache_write},"ephemeral_1h_input_tokens":0}}'
        if breakdown
        else ""
    )
    return (
        f'{{"input_tokens":{input_tokens},"cache_creation_input_tokens":{cache_write},'
        f'"cache_read_input_tokens":{cache_read}{split},"output_tokens":{output},"service_tier":"standard"}}'
    )


class _Session:
    """Writes one transcript file's lines; returns the tokens it adds to the truth."""

    def __init__(self, person: _Person, session: str, cwd: str, sidechain: bool, no_request_id: float) -> None:
        self.p, self.session, self.cwd, self.sidechain = person, session, cwd, sidechain
        self.no_request_id = no_request_id
        self.lines: list[str] = []
        self.parent: str | None = None
        self.context = person.rng.randint(2_000, 20_000)

    def _uuid(self) -> str:
        p = self.p
        return f"{p.hex(8)}-{p.hex(4)}-4{p.hex(3)}-a{p.hex(3)}-{p.hex(12)}"

    def _line(self, body: str, kind: str) -> None:
        uuid = self._uuid()
        stamp = _stamp(self.p.clock)
        common = _common(self.session, self.cwd, self.sidechain, uuid, self.parent)
        self.lines.append(f'{{{common},{body},"type":"{kind}","uuid":"{uuid}","timestamp":"{stamp}"}}')
        self.parent = uuid

    def prompt(self) -> None:
        self._line(f'"message":{{"role":"user","content":"{self.p.text(20, 200)}"}}', "user")
        self.p.clock += self.p.rng.uniform(2, 40)

    def response(self, replay_of: tuple[str, str] | None = None) -> tuple[str, str]:
        """One API response as 1-3 content-block lines; returns (message id, model)."""
        p, rng = self.p, self.p.rng
        if replay_of is None:
            message = f"msg_01{p.hex(22)}"
            model = rng.choices([m for m, _ in _MODELS], [w for _, w in _MODELS])[0]
        else:
            message, model = replay_of
        request = None if rng.random() < self.no_request_id and replay_of is None else f"req_011{p.hex(20)}"
        input_tokens = rng.randint(1, 40) if rng.random() < 0.8 else rng.randint(100, 4_000)
        cache_write = rng.randint(0, 6_000)
        cache_read = self.context * (3 if replay_of else 1)
        self.context += cache_write + rng.randint(0, 800)
        output = rng.randint(5, 2_500)
        breakdown = rng.random() < 0.9
        blocks = rng.choices((1, 2, 3), (0.4, 0.4, 0.2))[0]
        tool = rng.random() < 0.7
        streamed = rng.random() < 0.6
        for index in range(blocks):
            last = index == blocks - 1
            count = output if last or not streamed else rng.randint(1, output)
            if last and tool:
                content = (
                    f'{{"type":"tool_use","id":"toolu_01{p.hex(20)}","name":"Bash",'
                    f'"input":{{"command":"{p.text(10, 60)}"}}}}'
                )
            else:
                content = f'{{"type":"text","text":"{p.text(10, 120)}"}}'
            request_part = f',"requestId":"{request}"' if request else ""
            body = (
                f'"message":{{"model":"{model}","id":"{message}","type":"message","role":"assistant",'
                f'"content":[{content}],"stop_reason":null,"stop_sequence":null,'
                f'"usage":{_usage(input_tokens, count, cache_read, cache_write, breakdown)}}}{request_part}'
            )
            self._line(body, "assistant")
            p.clock += rng.uniform(0.2, 3)
        if replay_of is None:
            p.total += input_tokens + output + cache_read + cache_write
            p.requests += 1
        if tool:
            p.clock += rng.uniform(0.5, 20)
            extra = (
                ',"toolUseResult":{"status":"completed","totalTokens":999,'
                '"usage":{"input_tokens":900,"output_tokens":99}}'
                if rng.random() < 0.03
                else ""
            )
            self._line(
                f'"message":{{"role":"user","content":[{{"tool_use_id":"toolu_01{p.hex(20)}",'
                f'"type":"tool_result","content":"{p.text(20, 400)}"}}]}}{extra}',
                "user",
            )
        return message, model

    def snapshot(self) -> None:
        self.lines.append(
            f'{{"type":"file-history-snapshot","messageId":"{self._uuid()}","snapshot":'
            f'{{"messageId":"{self._uuid()}","trackedFileBackups":{{}},"timestamp":"{_stamp(self.p.clock)}"}},'
            '"isSnapshotUpdate":false}'
        )


def generate_claude(root: Path, requests: int, no_request_id: float = 0.0, seed: int = 8) -> dict[str, Any]:
    """Write about ``requests`` API responses of transcripts under ``root``; return the manifest.

    ``no_request_id`` is the share of responses written without ``requestId`` (some 2.x builds). ccusage
    20.0.24 keys such main-chain lines on message id + timestamp, so it counts every content-block line
    of them; the default 0 keeps the totals comparable (see RESULTS.md).
    """
    persons = max(2, round(requests / REQUESTS_PER_PERSON))
    per_person = requests // persons
    start = dt.datetime(2026, 3, 2, tzinfo=dt.UTC).timestamp()
    words = random.Random(seed)
    pool = " ".join(words.choice(_WORDS) for _ in range(400_000))
    truth = files = responses = 0
    for index in range(persons):
        person = _Person(f"dev{index:04d}@acme.example", random.Random(seed * 1_000 + index), pool, start)
        rng = person.rng
        projects = [f"proj{k}" for k in range(rng.randint(2, 5))]
        while person.requests < per_person:
            project = rng.choice(projects)
            cwd = f"/home/dev{index:04d}/src/{project}"
            folder = root / person.name / "projects" / f"-home-dev{index:04d}-src-{project}"
            folder.mkdir(parents=True, exist_ok=True)
            session_id = f"{person.hex(8)}-{person.hex(4)}-4{person.hex(3)}-8{person.hex(3)}-{person.hex(12)}"
            person.clock += rng.uniform(600, 6 * 3_600)
            session = _Session(person, session_id, cwd, sidechain=False, no_request_id=no_request_id)
            if person.last_session and rng.random() < 0.05:
                # A resumed session starts with a copy of the previous one's history.
                session.lines.extend(person.last_session[-rng.randint(10, 30) :])
            if rng.random() < 0.3:
                session.lines.append(f'{{"type":"summary","summary":"{person.text(10, 60)}","leafUuid":"x"}}')
            last: tuple[str, str] | None = None
            for turn in range(min(rng.randint(5, 80), per_person - person.requests)):
                if turn == 0 or rng.random() < 0.25:
                    session.prompt()
                if rng.random() < 0.05:
                    session.snapshot()
                last = session.response()
                person.clock += rng.uniform(1, 60)
            (folder / f"{session_id}.jsonl").write_text("\n".join(session.lines) + "\n", encoding="utf-8")
            files += 1
            person.last_session = session.lines
            if last is not None and rng.random() < 0.08:
                agent = _Session(person, session_id, cwd, sidechain=True, no_request_id=no_request_id)
                agent.prompt()
                if rng.random() < 0.3:
                    agent.response(replay_of=last)  # a replay of the parent's message: counted once
                for _ in range(rng.randint(3, 15)):
                    agent.response()
                sub = folder / session_id / "subagents"
                sub.mkdir(parents=True, exist_ok=True)
                (sub / f"agent-{person.hex(7)}.jsonl").write_text("\n".join(agent.lines) + "\n", encoding="utf-8")
                files += 1
        truth += person.total
        responses += person.requests
    people = sorted(str(path) for path in root.iterdir() if path.is_dir())
    size = sum(path.stat().st_size for path in root.rglob("*.jsonl"))
    return {"kind": "claude", "persons": people, "files": files, "bytes": size, "events": responses, "total": truth}


# ---------------------------------------------------------------------------------------------------
# Flat events


def _flat_base(rows: int, seed: int = 8) -> pl.DataFrame:
    from tokenaudit.simulate import SimulationConfig, simulate

    developers = max(30, min(500, round(500 * rows / FLAT_BASE)))
    events = simulate(SimulationConfig(developers=developers, days=87, seed=seed)).events
    return events.head(rows)


def generate_flat(folder: Path, rows: int, formats: Sequence[str], seed: int = 8) -> dict[str, Any]:
    """``events.<format>`` with ``rows`` rows (about 1% re-exported duplicates) and the manifest."""
    base = _flat_base(min(rows, FLAT_BASE), seed)
    copies = math.ceil(rows / base.height)
    unique = pl.concat([_renamed(base, copy) for copy in range(copies)]).head(rows)
    truth = _truth(unique)
    events = _with_duplicates(unique)
    folder.mkdir(parents=True, exist_ok=True)
    sizes = {}
    for kind in formats:
        path = folder / f"events.{kind}"
        if kind == "parquet":
            events.write_parquet(path)
        elif kind == "csv":
            events.write_csv(path, datetime_format="%Y-%m-%dT%H:%M:%S%.3fZ")
        else:
            events.with_columns(pl.col("timestamp").dt.strftime("%Y-%m-%dT%H:%M:%S%.3fZ")).write_ndjson(path)
        sizes[kind] = path.stat().st_size
    return {"kind": "flat", "rows": events.height, "events": unique.height, "total": truth, "bytes": sizes}


def _renamed(base: pl.DataFrame, copy: int) -> pl.DataFrame:
    """Copy ``copy`` of the base organisation: new developer, request and session ids (copy 0 is the base)."""
    if copy == 0:
        return base
    return base.with_columns(
        pl.col("developer").str.replace("@", f"+{copy}@"),
        pl.col("request_id") + f"-{copy}",
        pl.col("session_id") + f"-{copy}",
    )


def _truth(unique: pl.DataFrame) -> int:
    tokens = pl.sum_horizontal("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")
    return int(unique.select(tokens.sum()).item())


def _with_duplicates(unique: pl.DataFrame) -> pl.DataFrame:
    """The rows plus every 97th re-exported (about 1% duplicates), in time order."""
    return pl.concat([unique, unique.gather_every(97)]).sort("timestamp", "request_id")


def generate_flat_files(folder: Path, rows: int, seed: int = 8) -> dict[str, Any]:
    """``data/events-NNNN.parquet``: one Parquet file per copy of the base organisation (a million rows each, about
    1% re-exported duplicates within the file), written one at a time so that the generator holds one copy, not
    the whole input (100M rows would be about 20 GB in memory)."""
    base = _flat_base(min(rows, FLAT_BASE), seed)
    data = folder / "data"
    data.mkdir(parents=True, exist_ok=True)
    truth = events = read_rows = size = 0
    for copy in range(math.ceil(rows / base.height)):
        unique = _renamed(base, copy).head(rows - events)
        written = _with_duplicates(unique)
        path = data / f"events-{copy:04d}.parquet"
        written.write_parquet(path)
        truth += _truth(unique)
        events += unique.height
        read_rows += written.height
        size += path.stat().st_size
    return {"kind": "flat", "rows": read_rows, "events": events, "total": truth, "bytes": {"parquet": size}}


# ---------------------------------------------------------------------------------------------------
# The minimal Polars reference (run as a separate process by the benchmark)

_TOKENS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")


def reference_claude(root: Path) -> dict[str, Any]:
    """scan_ndjson with only the needed fields, ccusage's dedup and sidechain rule, sum per person."""
    usage = pl.Struct(
        {
            "input_tokens": pl.Int64,
            "output_tokens": pl.Int64,
            "cache_read_input_tokens": pl.Int64,
            "cache_creation_input_tokens": pl.Int64,
        }
    )
    schema: dict[str, pl.DataType] = {
        "timestamp": pl.String(),
        "requestId": pl.String(),
        "isSidechain": pl.Boolean(),
        "message": pl.Struct({"id": pl.String, "model": pl.String, "usage": usage}),
    }
    files = sorted(str(path) for path in root.rglob("*.jsonl"))
    u = pl.col("message").struct.field("usage")
    lines = (
        pl.scan_ndjson(files, schema=schema, include_file_paths="path")
        .filter(u.is_not_null())
        .select(
            pl.col("path").str.extract(r"([^/]+)/projects/").alias("developer"),
            pl.col("message").struct.field("id").alias("message_id"),
            "requestId",
            pl.col("isSidechain").fill_null(value=False),
            u.struct.field("input_tokens").fill_null(0),
            u.struct.field("output_tokens").fill_null(0),
            u.struct.field("cache_read_input_tokens").fill_null(0).alias("cache_read_tokens"),
            u.struct.field("cache_creation_input_tokens").fill_null(0).alias("cache_write_tokens"),
        )
        .filter(~(pl.col("isSidechain") & (~pl.col("isSidechain")).any().over("message_id")))
        .with_columns(
            key=pl.coalesce(pl.col("message_id") + ":" + pl.col("requestId"), "message_id"),
            total=pl.sum_horizontal(*_TOKENS),
        )
    )
    return _reference_aggregate(lines)


def reference_flat(path: Path) -> dict[str, Any]:
    """scan the file (only the needed columns), dedup by request id keeping the largest, sum per developer."""
    columns = ["timestamp", "developer", "request_id", *_TOKENS]
    if path.is_dir():  # a folder of Parquet files (--parquet-files)
        frame = pl.scan_parquet(path / "*.parquet").select(columns)
    elif path.suffix == ".parquet":
        frame = pl.scan_parquet(path).select(columns)
    elif path.suffix == ".csv":
        frame = pl.scan_csv(path, schema_overrides={"timestamp": pl.String}).select(columns)
    else:
        schema = {"timestamp": pl.String, "developer": pl.String, "request_id": pl.String}
        frame = pl.scan_ndjson(path, schema={**schema, **dict.fromkeys(_TOKENS, pl.Int64)})
    if frame.collect_schema()["timestamp"] == pl.String:
        frame = frame.with_columns(pl.col("timestamp").str.to_datetime(time_zone="UTC"))
    lines = frame.with_columns(key=pl.col("request_id"), total=pl.sum_horizontal(*_TOKENS))
    return _reference_aggregate(lines)


def _reference_aggregate(lines: pl.LazyFrame) -> dict[str, Any]:
    unique = lines.group_by("key").agg(
        pl.col("developer").first(), *[pl.col(name).sort_by("total").last() for name in _TOKENS]
    )
    per_developer = (
        unique.group_by("developer")
        .agg(*[pl.col(name).sum() for name in _TOKENS], pl.len().alias("requests"))
        .with_columns(total_tokens=pl.sum_horizontal(*_TOKENS))
        .sort("total_tokens", descending=True)
        .collect(engine="streaming")
    )
    return {"developers": per_developer.height, "total_tokens": int(per_developer["total_tokens"].sum())}


# ---------------------------------------------------------------------------------------------------
# Running and measuring


@dataclass(frozen=True)
class Program:
    name: str
    command: list[str]
    env: dict[str, str]
    total: Callable[[dict[str, Any]], int] | None
    """The total tokens the program printed (None: a program that prints none, such as ``cat``)."""
    workers_rss: Path | None = None
    """Where the program writes its Dask workers' peak RSS (bytes, a JSON list)."""


@dataclass
class Runs:
    wall: list[float] = field(default_factory=list)
    rss: list[int] = field(default_factory=list)
    worker_rss: list[int] = field(default_factory=list)
    """The largest worker's peak RSS of each run (Dask engine only)."""
    totals: list[int] = field(default_factory=list)
    load: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    """User plus system seconds of each run: on a shared machine, less at the mercy of the other load than wall time."""


POLARS_ALLOCATOR = "_RJEM_MALLOC_CONF"
"""Importing Polars writes its allocator's setting into this process's environment (``polars/__init__.py``); a
program run from a shell does not inherit it, so neither do the programs measured here."""


def program_environment(program: Program) -> dict[str, str]:
    """This process's environment as a shell would pass it on (without what importing Polars added), and the
    program's own variables."""
    inherited = {name: value for name, value in os.environ.items() if name != POLARS_ALLOCATOR}
    return {**inherited, **program.env}


def measure(program: Program, scratch: Path) -> tuple[float, float, int, dict[str, Any]]:
    """Run once: (wall seconds, CPU seconds, peak RSS bytes of the process tree's largest process, parsed stdout)."""
    out, err = scratch / "stdout", scratch / "stderr"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        began = time.perf_counter()
        process = subprocess.Popen(program.command, stdout=stdout, stderr=stderr, env=program_environment(program))
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - began
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode not in (0, 1):  # 1: tokenaudit's --fail-on is not used, but be lenient
        msg = f"{program.name} exited {process.returncode}: {err.read_text()[-2000:]}"
        raise RuntimeError(msg)
    cpu = usage.ru_utime + usage.ru_stime
    printed = out.read_text()
    return wall, cpu, usage.ru_maxrss * 1024, json.loads(printed) if printed.strip() else {}


def dask_audit(argv: Sequence[str]) -> None:
    """``dask-audit WORKERS RSS_FILE ARGS…``: ``tokenaudit ARGS --engine dask`` on a local cluster of WORKERS
    processes started here as the CLI starts one (:func:`tokenaudit.engines.dask.local_cluster`), then each worker's
    peak RSS (bytes) to RSS_FILE as JSON."""
    import resource

    from distributed import Client

    from tokenaudit.cli import main as tokenaudit_main
    from tokenaudit.engines.dask import close_local, local_cluster

    workers, side, args = int(argv[0]), Path(argv[1]), list(argv[2:])
    code: object = 0
    cluster = local_cluster(workers)
    with Client(cluster) as client:
        sys.argv = ["tokenaudit", *args, "--engine", "dask", "--scheduler", cluster.scheduler_address]
        try:
            tokenaudit_main()
        except SystemExit as exit_:
            code = exit_.code
        peaks = client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    close_local(cluster)  # the workers' CPU then counts in this process's children's
    side.write_text(json.dumps(sorted(peaks.values())))
    sys.exit(code)


def tokenaudit_total(document: dict[str, Any]) -> int:
    return int(document["summary"]["tokens"]["total"])


def ccusage_binary(workdir: Path) -> Path | None:
    """The native binary of npm's ccusage, installed into ``workdir`` once (None if npm is unavailable)."""
    folder = workdir / "ccusage"
    binary = folder / "node_modules" / "@ccusage" / "ccusage-linux-x64" / "bin" / "ccusage"
    if not binary.exists():
        if shutil.which("npm") is None:
            return None
        folder.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["npm", "install", "--silent", f"ccusage@{CCUSAGE_VERSION}"], cwd=folder, check=True, capture_output=True
        )
    if not binary.exists():
        return None
    binary.chmod(0o755)  # npm unpacks it without the execute bit; ccusage's own launcher sets it too
    return binary


def programs_for(dataset: dict[str, Any], path: Path, workdir: Path, dask_workers: int = 0) -> list[Program]:
    quiet = {"NO_COLOR": "1", "TERM": "dumb"}
    audit = Program(
        "tokenaudit",
        [sys.executable, "-m", "tokenaudit", "audit", str(path), "--format", "json", "-q"],
        quiet,
        tokenaudit_total,
    )
    reference = Program(
        "polars-min",
        [sys.executable, __file__, "reference", dataset["kind"], str(path)],
        {},
        lambda doc: int(doc["total_tokens"]),
    )
    programs = [audit, reference]
    if dask_workers:
        side = workdir / "dask-workers-rss.json"
        command = [sys.executable, __file__, "dask-audit", str(dask_workers), str(side), *audit.command[3:]]
        programs.insert(
            1, Program(f"tokenaudit --engine dask ({dask_workers} workers)", command, quiet, tokenaudit_total, side)
        )
    if limit := dataset.get("memory_limit"):
        command = [*audit.command, "--memory-limit", limit]
        programs.insert(1, Program(f"tokenaudit --memory-limit {limit}", command, quiet, tokenaudit_total))
    if dataset["kind"] == "claude":
        # The shell is the same for every file: xargs hands cat as many paths as fit a command line.
        read = 'find "$0" -name "*.jsonl" -print0 | xargs -0 cat > /dev/null'
        programs.append(Program("cat", ["sh", "-c", read, str(path)], {}, None))
        binary = ccusage_binary(workdir)
        if binary is not None:
            home = workdir / "empty-home"
            home.mkdir(exist_ok=True)
            env = {"HOME": str(home), "CLAUDE_CONFIG_DIR": ",".join(dataset["persons"]), **quiet}
            programs.append(
                Program(
                    "ccusage",
                    [str(binary), "claude", "daily", "--json", "--offline", "-z", "UTC"],
                    env,
                    lambda doc: int(doc["totals"]["totalTokens"]),
                )
            )
    return programs


def run_dataset(
    label: str,
    dataset: dict[str, Any],
    path: Path,
    size: int,
    args: argparse.Namespace,
    *,
    repeat: int | None = None,
    only: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """Every program on one input, ``repeat`` times in turns (default ``--repeat``); ``only``: the programs whose
    names start so (default ``--only``)."""
    wanted = list(only) or args.only
    programs = [
        program
        for program in programs_for(dataset, path, args.workdir, args.dask_workers)
        if not wanted or any(program.name.startswith(name) for name in wanted)
    ]
    runs = {program.name: Runs() for program in programs}
    with tempfile.TemporaryDirectory() as scratch:
        for turn in range(repeat or args.repeat):
            for program in programs:
                load = os.getloadavg()[0]
                wall, cpu, rss, document = measure(program, Path(scratch))
                total = dataset["total"] if program.total is None else program.total(document)
                record = runs[program.name]
                record.wall.append(wall)
                record.rss.append(rss)
                record.totals.append(total)
                if program.workers_rss is not None:
                    record.worker_rss.append(max(json.loads(program.workers_rss.read_text())))
                record.load.append(load)
                record.cpu.append(cpu)
                mark = "" if total == dataset["total"] else f"  TOTAL {total:,} != {dataset['total']:,}"
                print(
                    f"  {label} run {turn + 1} {program.name:<10} {wall:7.2f} s {cpu:7.2f} s CPU "
                    f"{rss / 2**20:7.0f} MiB load {load:.1f}{mark}"
                )
    rows = []
    medians = {name: statistics.median(record.wall) for name, record in runs.items()}
    for name, record in runs.items():
        wall = medians[name]
        rows.append(
            {
                "input": label,
                "kind": dataset["kind"],
                "format": dataset["format"],
                "scale": dataset.get("scale", dataset["events"]),
                "totals_checked": name != "cat",
                "program": name,
                "wall": wall,
                "cpu": statistics.median(record.cpu),
                "rss": statistics.median(record.rss),
                "events_per_s": dataset["events"] / wall,
                "mb_per_s": size / 1e6 / wall,
                "ratios": {other: wall / medians[other] for other in medians if other != name},
                "totals_ok": all(total == dataset["total"] for total in record.totals),
                "load": statistics.median(record.load),
                "worker_rss": statistics.median(record.worker_rss) if record.worker_rss else None,
            }
        )
    return rows


def parse_size(text: str) -> int:
    scale = {"k": 1_000, "m": 1_000_000}
    text = text.strip().lower()
    return int(float(text[:-1]) * scale[text[-1]]) if text[-1] in scale else int(text)


def human(count: int) -> str:
    return f"{count / 1e6:g}M" if count >= 1_000_000 else f"{count / 1e3:g}k"


def dataset_claude(args: argparse.Namespace, requests: int) -> tuple[dict[str, Any], Path]:
    suffix = f"-norid{args.no_request_id:g}" if args.no_request_id else ""
    root = args.workdir / f"claude-{human(requests)}{suffix}"
    manifest = root / "manifest.json"
    if not manifest.exists():
        shutil.rmtree(root, ignore_errors=True)
        print(f"generating Claude Code transcripts ({human(requests)} requests) in {root} …", flush=True)
        data = root / "data"
        info = generate_claude(data, requests, args.no_request_id)
        manifest.write_text(json.dumps(info))
    return {**json.loads(manifest.read_text()), "format": "claude", "scale": requests}, root / "data"


def made_inputs(workdir: Path, name: str) -> list[Path]:
    """Folders named ``name`` with a manifest: this run's (``workdir/name``) first, then another run's
    (``workdir/*/name``, such as a helper's ``--workdir``), which the same generator made the same."""
    return [
        folder for folder in [workdir / name, *sorted(workdir.glob(f"*/{name}"))] if (folder / "manifest.json").exists()
    ]


def dataset_flat(args: argparse.Namespace, rows: int, kind: str) -> tuple[dict[str, Any], Path]:
    """The flat events of ``rows`` rows as ``kind``: a file made before whose manifest lists it, else made now (into
    ``flat-<rows>/``, next to its other formats)."""
    for folder in made_inputs(args.workdir, f"flat-{human(rows)}"):
        info = json.loads((folder / "manifest.json").read_text())
        if kind in info["bytes"] and (folder / f"events.{kind}").exists():
            return {**info, "format": kind, "scale": rows}, folder / f"events.{kind}"
    folder = args.workdir / f"flat-{human(rows)}"
    manifest = folder / "manifest.json"
    print(f"generating flat events ({human(rows)} rows, {kind}) in {folder} …", flush=True)
    info = generate_flat(folder, rows, [kind])
    if manifest.exists():  # the other formats made before stay listed
        info["bytes"] = {**json.loads(manifest.read_text())["bytes"], **info["bytes"]}
    manifest.write_text(json.dumps(info))
    return {**info, "format": kind, "scale": rows}, folder / f"events.{kind}"


def dataset_flat_files(args: argparse.Namespace, rows: int) -> tuple[dict[str, Any], Path]:
    """``--parquet-files``: the flat events of ``rows`` as a folder of Parquet files (:func:`generate_flat_files`)."""
    name = f"flat-{human(rows)}-files"
    found = made_inputs(args.workdir, name)
    folder = found[0] if found else args.workdir / name
    manifest = folder / "manifest.json"
    if not manifest.exists():
        print(f"generating flat events ({human(rows)} rows) as Parquet files in {folder} …", flush=True)
        manifest.write_text(json.dumps(generate_flat_files(folder, rows)))
    return {**json.loads(manifest.read_text()), "format": "parquet-files", "scale": rows}, folder / "data"


def machine() -> str:
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    meminfo = Path("/proc/meminfo").read_text().splitlines()
    cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo if "model name" in line), platform.processor())
    memory = next((int(line.split()[1]) for line in meminfo if line.startswith("MemTotal")), 0)
    return (
        f"{cpu}, {os.cpu_count()} cores, {memory / 2**20:.0f} GiB RAM; {platform.platform()}; "
        f"Python {platform.python_version()}, Polars {pl.__version__}, ccusage {CCUSAGE_VERSION} (native binary)"
    )


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| input | program | median wall | median CPU | peak RSS | events/s | MB/s | ratio (wall) | totals |",
        "|---|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for row in rows:
        ratios = ", ".join(f"{value:.2f}× {other}" for other, value in row["ratios"].items())
        if row.get("worker_rss"):
            ratios += f"; largest worker's peak RSS {row['worker_rss'] / 2**20:,.0f} MiB"
        lines.append(
            f"| {row['input']} | {row['program']} | {row['wall']:.2f} s | {row['cpu']:.2f} s | "
            f"{row['rss'] / 2**20:,.0f} MiB | "
            f"{row['events_per_s']:,.0f} | {row['mb_per_s']:,.0f} | {ratios} | "
            f"{'—' if not row['totals_checked'] else 'identical' if row['totals_ok'] else 'DIFFER'} |"
        )
    return "\n".join(lines)


GIB = 2**30
HUNDRED_MILLION = 100_000_000


@dataclass(frozen=True)
class Target:
    """One of issue 18's targets: what it asks, what was measured, and whether that meets it."""

    name: str
    wanted: str
    measured: str
    met: bool


def _row(rows: list[dict[str, Any]], fmt: str, scale: int, program: str) -> dict[str, Any] | None:
    return next(
        (row for row in rows if row["format"] == fmt and row["scale"] == scale and row["program"] == program), None
    )


def _ratio(rows: list[dict[str, Any]], name: str, fmt: str, scale: int, peer: str, limit: float) -> list[Target]:
    ours, theirs = _row(rows, fmt, scale, "tokenaudit"), _row(rows, fmt, scale, peer)
    if ours is None or theirs is None:
        return []
    ratio = ours["wall"] / theirs["wall"]
    return [Target(f"{name}: wall time ÷ {peer}'s", f"≤ {limit:g}×", f"{ratio:.2f}×", ratio <= limit)]


def _peak(rows: list[dict[str, Any]], name: str, fmt: str, scale: int, limit_gib: float) -> list[Target]:
    """The peak RSS target for the local engine's runs on the input (the default budget and ``--memory-limit``);
    a run that did not complete with the right totals does not meet it."""
    return [
        Target(
            f"{name}: peak RSS, {row['program']}",
            f"≤ {limit_gib:g} GiB",
            f"{row['rss'] / GIB:.2f} GiB",
            row["rss"] <= limit_gib * GIB and row["totals_ok"],
        )
        for row in rows
        if row["format"] == fmt
        and row["scale"] == scale
        and row["program"].startswith("tokenaudit")
        and "--engine" not in row["program"]
    ]


def targets(rows: list[dict[str, Any]]) -> list[Target]:
    """Issue 18's targets that these runs measured (medians), each met or not."""
    found = [
        *_ratio(rows, "Claude Code 300k", "claude", 300_000, "ccusage", 0.8),
        *_ratio(rows, "Claude Code 1M", "claude", 1_000_000, "ccusage", 0.7),
        *_peak(rows, "Claude Code 1M", "claude", 1_000_000, 1),
        *_ratio(rows, "Claude Code 300k (stretch)", "claude", 300_000, "cat", 3),
        *_ratio(rows, "Claude Code 1M (stretch)", "claude", 1_000_000, "cat", 3),
        *_ratio(rows, "flat Parquet 10M", "parquet", 10_000_000, "polars-min", 1.5),
        *_peak(rows, "flat Parquet 10M", "parquet", 10_000_000, 2),
        *_ratio(rows, "flat CSV 10M", "csv", 10_000_000, "polars-min", 2),
        *_peak(rows, "flat JSON Lines 10M (completes)", "jsonl", 10_000_000, 2.5),
        *_peak(rows, "flat Parquet 100M in files (completes)", "parquet-files", HUNDRED_MILLION, 4),
    ]
    small, large = _row(rows, "parquet", 1_000_000, "tokenaudit"), _row(rows, "parquet", 10_000_000, "tokenaudit")
    if small and large:
        scaling = large["wall"] / small["wall"]
        found.append(Target("scaling: flat Parquet 10M ÷ 1M, wall time", "≤ 11×", f"{scaling:.1f}×", scaling <= 11))
    checked = [row for row in rows if row["totals_checked"]]
    differ = [f"{row['input']} {row['program']}" for row in checked if not row["totals_ok"]]
    found.append(
        Target(
            "every total equal to the generator's manifest (and so to ccusage's)",
            "identical",
            f"{len(checked) - len(differ)} of {len(checked)} programs, every run"
            + (f"; differ: {differ}" if differ else ""),
            not differ,
        )
    )
    return found


def targets_table(found: list[Target]) -> str:
    lines = ["| target | wanted | measured | met |", "|---|---|---:|---|"]
    lines += [f"| {t.name} | {t.wanted} | {t.measured} | {'yes' if t.met else '**no**'} |" for t in found]
    return "\n".join(lines)


BEGIN, END = "<!-- perf.py: begin -->", "<!-- perf.py: end -->"


def write_results(path: Path, section: str) -> None:
    """Put ``section`` between the ``perf.py`` markers of ``path`` (replacing the previous run's), or, without them,
    before its first ``## `` section; every other line of the file is kept."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmark results\n\n"
    block = f"{BEGIN}\n{section.strip()}\n{END}\n"
    if BEGIN in text and END in text:
        text = text[: text.index(BEGIN)] + block + text[text.index(END) + len(END) + 1 :]
    elif "\n## " in text:
        cut = text.index("\n## ") + 1
        text = text[:cut] + block + "\n" + text[cut:]
    else:
        text = text.rstrip("\n") + "\n\n" + block
    path.write_text(text, encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["dask-audit"]:
        dask_audit(argv[1:])
        return
    if argv[:1] == ["reference"]:
        kind, path = argv[1], Path(argv[2])
        print(json.dumps(reference_claude(path) if kind == "claude" else reference_flat(path)))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", nargs="*", default=["1M", "10M"], help="flat event counts (default: 1M 10M)")
    parser.add_argument(
        "--claude",
        nargs="*",
        default=["300k", "1M"],
        help="Claude Code request counts to measure (default: 300k 1M; 0 or none to skip)",
    )
    parser.add_argument(
        "--no-request-id", type=float, default=0.0, help="share of Claude Code responses without requestId (default 0)"
    )
    kinds = ["parquet", "csv", "jsonl"]
    parser.add_argument("--formats", nargs="*", default=kinds, choices=kinds, help="flat formats (default: all)")
    parser.add_argument(
        "--skip",
        nargs="*",
        default=["1M:csv", "1M:jsonl"],
        metavar="SIZE:FORMAT",
        help="flat inputs to leave out (default: 1M:csv 1M:jsonl, which no target names)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per program (default 3)")
    parser.add_argument(
        "--dask-workers", type=int, default=2, help="also run --engine dask on a local cluster of N workers (0: not)"
    )
    parser.add_argument("--only", nargs="*", default=[], help="run only the programs whose names start so")
    parser.add_argument(
        "--memory-limit", default=None, help="also run tokenaudit with this --memory-limit on flat inputs (e.g. 1G)"
    )
    parser.add_argument(
        "--parquet-files",
        action="store_true",
        help="flat inputs as a folder of Parquet files, one per million rows (for sizes too large to generate whole)",
    )
    parser.add_argument(
        "--with-100m",
        nargs="?",
        const="2G",
        default=None,
        metavar="LIMIT",
        help="also 100M flat events in 100 Parquet files: one run of tokenaudit --memory-limit LIMIT (default 2G), "
        "about 50 minutes; its totals are checked against the manifest",
    )
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "tokenaudit-bench")
    parser.add_argument(
        "--results", default=None, help="RESULTS.md to write the figures into (default: print them only; '-': same)"
    )
    args = parser.parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    for requests in (parse_size(text) for text in args.claude):
        if not requests:
            continue
        info, path = dataset_claude(args, requests)
        label = f"Claude Code {human(requests)} req ({info['bytes'] / 1e9:.2f} GB, {info['files']:,} files)"
        rows += run_dataset(label, info, path, info["bytes"], args)
    for size in (parse_size(text) for text in args.sizes):
        if args.parquet_files:
            info, data = dataset_flat_files(args, size)
            info = {**info, "memory_limit": args.memory_limit}
            files = len(list(data.glob("*.parquet")))
            label = f"flat parquet {human(size)} ({files} files, {info['bytes']['parquet'] / 1e9:.2f} GB)"
            rows += run_dataset(label, info, data, info["bytes"]["parquet"], args)
            continue
        for kind in args.formats:
            if f"{human(size)}:{kind}" in args.skip:
                continue
            info, file = dataset_flat(args, size, kind)
            info = {**info, "memory_limit": args.memory_limit}
            rows += run_dataset(f"flat {kind} {human(size)}", info, file, info["bytes"][kind], args)
    if args.with_100m:
        info, data = dataset_flat_files(args, HUNDRED_MILLION)
        info = {**info, "memory_limit": args.with_100m}
        label = (
            f"flat parquet 100M ({len(list(data.glob('*.parquet')))} files, {info['bytes']['parquet'] / 1e9:.2f} GB)"
        )
        rows += run_dataset(label, info, data, info["bytes"]["parquet"], args, repeat=1, only=["tokenaudit --memory"])
    text = table(rows)
    verdicts = targets_table(targets(rows))
    print(text, verdicts, sep="\n\n")
    if args.results not in (None, "-"):
        loads = [row["load"] for row in rows]
        when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        write_results(
            Path(args.results),
            f"## {when}: `benchmarks/perf.py`, every figure of issue 18 in one run\n\n"
            f"Machine: {machine()}.\n\n"
            f"Median wall time, CPU and peak RSS of {args.repeat} alternating runs (the 100M input: one run); load "
            f"average (1 min) during the runs: median {statistics.median(loads):.1f}, max {max(loads):.1f} (2 cores: "
            f"2 is this benchmark alone).\n\n"
            f"Command: `python benchmarks/perf.py {' '.join(argv)}`\n\n{text}\n\n"
            f"Issue 18's targets (medians):\n\n{verdicts}\n",
        )


if __name__ == "__main__":
    main()
