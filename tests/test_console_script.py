"""What the console script does around the commands: the transcript read's helper processes started early (who
starts them, who takes them, and that a pool nobody takes costs nothing), and the process's end."""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import threading
import time
from multiprocessing.process import BaseProcess
from pathlib import Path

import pytest
import typer

from tests.helpers import FIXTURES, SAMPLE, SAMPLE_ARGS, load_benchmark, run_cli
from tokenaudit import helper_pool
from tokenaudit.cli import (
    ALLOCATOR_SETTING,
    EARLY_INPUT_BYTES,
    EARLY_INPUT_FILES,
    ENTRY_POINT,
    READING_COMMANDS,
    _exit_now,
    _run,
    app,
    early_helpers,
)
from tokenaudit.helper_pool import HELPERS
from tokenaudit.ingest import Period, plan_inputs
from tokenaudit.policy import Policy
from tokenaudit.readers import jsonlines
from tokenaudit.readers.claude_code import _HELPER_MIN_BATCHES

from .test_reader_claude_code import ROOT, read


def _early() -> object:
    """The early pool, read afresh (mypy keeps what an assert said of the attribute across calls)."""
    return helper_pool._early


def test_the_command_line_starts_helpers_early_for_a_local_read_of_many_transcripts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Helpers start early for a command that reads usage locally from JSON Lines files, named or in folders, of at
    least :data:`~tokenaudit.cli.EARLY_INPUT_BYTES` (here a byte) in four files or more."""
    monkeypatch.setenv(HELPERS, "1")
    folder = str(ROOT)
    small = tmp_path / "small.jsonl"
    small.write_text("{}\n")
    assert early_helpers(["audit", folder, "--format", "json", "-q"]) == 0  # a small folder: no read of 4 batches
    monkeypatch.setattr("tokenaudit.cli.EARLY_INPUT_BYTES", 1)
    assert early_helpers(["audit", folder, "--format", "json", "-q"]) == 1
    assert early_helpers(["report", "-q", folder]) == 1
    assert early_helpers(["audit", str(small)]) == 0  # one file is one batch
    assert early_helpers(["audit", *[str(small)] * 4]) == 1  # named files count together
    assert early_helpers(["audit", str(SAMPLE)]) == 0  # CSV, JSON and Parquet files: no transcript
    assert early_helpers(["audit", folder, "--engine", "dask"]) == 0  # read by the cluster's workers
    assert early_helpers(["audit", folder, "--engine=dask"]) == 0
    assert early_helpers(["simulate", folder]) == 0  # reads no usage
    assert early_helpers(["audit", str(tmp_path / "missing")]) == 0
    assert early_helpers([]) == 0
    monkeypatch.setenv(HELPERS, "0")
    assert early_helpers(["audit", folder]) == 0


def test_auto_is_one_helper_per_further_core(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(HELPERS, "auto")
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2}, raising=False)
    assert helper_pool.allowed() == 2
    monkeypatch.delattr(os, "sched_getaffinity")  # macOS has none: the machine's cores
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    assert helper_pool.allowed() == 3


def test_the_early_start_follows_what_the_read_wants() -> None:
    """The commands named as reading usage are those with INPUT arguments; named files of the early start's size are
    as many batches as a read takes helpers from."""
    command = typer.main.get_command(app)
    assert isinstance(command, typer.core.TyperGroup)
    reading = {name for name, sub in command.commands.items() if any(param.name == "inputs" for param in sub.params)}
    assert reading == READING_COMMANDS
    assert EARLY_INPUT_BYTES == _HELPER_MIN_BATCHES * jsonlines.BATCH_BYTES
    assert EARLY_INPUT_FILES == _HELPER_MIN_BATCHES


def test_the_read_takes_the_pool_started_early(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(ROOT, tmp_path / "logs")
    alone = read(tmp_path / "logs")
    monkeypatch.setattr("tokenaudit.readers.jsonlines.BATCH_BYTES", 1)  # a batch per file: helpers wanted
    monkeypatch.setenv(HELPERS, "1")
    helper_pool.start_early(1)
    started = helper_pool._early
    assert started is not None
    taken: list[object] = []
    take = helper_pool.take

    def taking(processes: int) -> object:
        taken.append(take(processes))
        return taken[-1]

    monkeypatch.setattr(helper_pool, "take", taking)
    monkeypatch.setattr(helper_pool, "start", lambda processes: pytest.fail("a second pool started"))
    helped = read(tmp_path / "logs")
    assert taken == [started]
    assert _early() is None
    assert helped.events.equals(alone.events)
    assert helped.rejects.equals(alone.rejects)


def test_a_read_that_wants_no_helper_discards_the_early_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(HELPERS, "1")
    helper_pool.start_early(1)
    assert helper_pool._early is not None
    read(ROOT)  # one batch: no helper
    assert _early() is None


def test_inputs_without_transcripts_discard_the_early_pool_once_planned(monkeypatch: pytest.MonkeyPatch) -> None:
    helper_pool.start_early(1)
    assert helper_pool._early is not None
    planned = plan_inputs([str(SAMPLE / "events.csv")], Policy(), Period())
    assert [reader.name for reader, _ in planned.plan.batches] == ["generic"]
    assert _early() is None


def test_a_discarded_pool_stops_its_helpers() -> None:
    helper_pool.start_early(1)
    assert helper_pool._early is not None
    helpers = list(helper_pool._early[0]._processes.values())
    assert helpers
    helper_pool.discard()
    assert _early() is None
    assert all(_stopped(helper, seconds=30) for helper in helpers)


def _stopped(helper: BaseProcess, seconds: float) -> bool:
    """Whether ``helper`` ends within ``seconds``: terminated, or (one that had started and took the pool's shutdown
    first) ended by the pool. The pool's own thread joins its helpers too: where it reaped one first, this process's
    join finds no exit code (the pool's thread has not stored it yet), but the process is gone."""
    assert helper.pid is not None
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        helper.join(timeout=0.1)
        if helper.exitcode is not None:
            return True
        try:
            os.kill(helper.pid, 0)
        except ProcessLookupError:
            return True
    return False


_UNUSED = """
from tokenaudit import helper_pool
helper_pool.start_early(1)
helper_pool.discard()
print("done", flush=True)
"""


def test_a_pool_nobody_uses_leaves_no_trace() -> None:
    """Started and discarded at once (its helper still starting): the process exits at once, with nothing on stderr
    (no leaked semaphore, no helper's traceback)."""
    ran = subprocess.run([sys.executable, "-c", _UNUSED], capture_output=True, text=True, timeout=60, check=True)
    assert (ran.stdout, ran.stderr) == ("done\n", "")


def test_in_process_command_line_runs_start_no_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the console script (:func:`tokenaudit.cli.main`) starts helpers early: the tests' in-process runs do not."""
    monkeypatch.setenv(HELPERS, "1")
    monkeypatch.setattr(helper_pool, "start_early", lambda processes: pytest.fail("an early pool started"))
    result = run_cli("audit", str(FIXTURES / "claude_code"), "--format", "json", "-q")
    assert result.exit_code == 0, result.stderr
    assert helper_pool._early is None


def test_the_console_script_ends_with_the_commands_output_and_exit_code(tmp_path: Path) -> None:
    """The console script ends the process once the command is done (:func:`tokenaudit.cli._exit_now`): the same
    output, notes and exit code as the command run in-process, and a file output written whole."""
    args = ["audit", *SAMPLE_ARGS, "--format", "json"]
    ran = subprocess.run([sys.executable, "-m", "tokenaudit", *args], capture_output=True, text=True, timeout=300)
    here = run_cli(*args)
    assert (ran.returncode, ran.stdout, ran.stderr) == (here.exit_code, here.stdout, here.stderr)
    written = tmp_path / "audit.json"
    to_file = [sys.executable, "-m", "tokenaudit", *args, "-q", "--output", str(written)]
    ran = subprocess.run(to_file, capture_output=True, text=True, timeout=300)
    assert (ran.returncode, ran.stdout, ran.stderr) == (0, "", "")
    assert written.read_text() == here.stdout
    missing = [sys.executable, "-m", "tokenaudit", "audit", str(tmp_path / "missing.csv")]
    ran = subprocess.run(missing, capture_output=True, text=True, timeout=300)
    here = run_cli("audit", str(tmp_path / "missing.csv"))
    assert (ran.returncode, ran.stderr) == (here.exit_code, here.stderr) != (0, "")


def test_a_program_that_calls_main_goes_on_after_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the console script's own process ends at once: a wrapper that calls :func:`tokenaudit.cli.main` (as the
    benchmark's Dask wrapper does) gets its SystemExit and goes on."""
    monkeypatch.setattr(os, "_exit", lambda code: pytest.fail("the calling program was ended"))
    monkeypatch.setattr(sys, "argv", ["tokenaudit", "--version"])
    with pytest.raises(SystemExit) as done:
        ENTRY_POINT()
    assert done.value.code in (0, None)


def test_the_process_ends_at_once_only_when_nothing_is_left_to_wait_for(monkeypatch: pytest.MonkeyPatch) -> None:
    ended: list[int] = []
    monkeypatch.setattr(os, "_exit", ended.append)
    monkeypatch.setattr(atexit, "_run_exitfuncs", lambda: None)  # pytest's own hooks stay for pytest's exit
    release = threading.Event()
    waiting = threading.Thread(target=release.wait)
    waiting.start()
    _exit_now(0)  # a thread still works: the interpreter waits for it
    release.set()
    waiting.join()
    _exit_now("a message")  # printed by the interpreter's exit
    assert ended == []
    _exit_now(None)
    _exit_now(4)
    assert ended == [0, 4]


def test_the_console_script_has_polars_return_the_memory_it_frees(monkeypatch: pytest.MonkeyPatch) -> None:
    """Polars' allocator reads its setting once, as Polars is loaded: the console script sets it first (importing the
    package loads no Polars), for itself and the helpers it spawns; a setting in the environment is kept."""
    probe = "import sys, tokenaudit.cli; print('polars' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60).stdout == "False\n"
    for given, kept in ((None, ALLOCATOR_SETTING[1]), ("dirty_decay_ms:0", "dirty_decay_ms:0")):
        environment = {} if given is None else {ALLOCATOR_SETTING[0]: given}
        monkeypatch.setattr(os, "environ", environment)
        monkeypatch.setattr(sys, "argv", ["tokenaudit", "--version"])
        with pytest.raises(SystemExit):
            ENTRY_POINT()
        assert environment[ALLOCATOR_SETTING[0]] == kept


def test_the_benchmark_runs_programs_without_the_allocator_setting_polars_wrote_into_its_environment() -> None:
    """``benchmarks/perf.py`` imports Polars, which writes its allocator's setting into the environment; the console
    script would then keep that one (:data:`ALLOCATOR_SETTING`), and the figures would not be a shell user's."""
    perf = load_benchmark("perf")
    assert os.environ.get(perf.POLARS_ALLOCATOR)  # polars is imported here, so it has written its own
    program = perf.Program("tokenaudit", ["tokenaudit"], {"NO_COLOR": "1"}, None)
    passed = perf.program_environment(program)
    assert perf.POLARS_ALLOCATOR not in passed and passed["NO_COLOR"] == "1"
    assert ALLOCATOR_SETTING[0] == perf.POLARS_ALLOCATOR


def test_the_early_helpers_begin_the_named_inputs_in_the_time_zone_given(monkeypatch: pytest.MonkeyPatch) -> None:
    """The early pool is asked to read the first transcripts of the arguments that may name inputs, in ``--tz``'s
    time zone, else UTC (a policy's own is not known yet: the read then reads those batches again)."""
    started: list[tuple[object, ...]] = []
    monkeypatch.setattr(helper_pool, "start_early", lambda *args: started.append(args))
    monkeypatch.setattr("tokenaudit.cli._commands", lambda: lambda: None)
    _run(["audit", "logs", "--tz", "Europe/Berlin", "-q", "more"], 1)
    _run(["audit", "logs", "--tz=Asia/Tokyo"], 1)
    _run(["totals", "logs"], 1)
    assert started == [
        (1, ["logs", "Europe/Berlin", "more"], "Europe/Berlin"),
        (1, ["logs"], "Asia/Tokyo"),
        (1, ["logs"], "UTC"),
    ]
