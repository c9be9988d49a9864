"""Where results go: regular files replaced atomically with their mode kept, devices and pipes written in place,
and every failure to write one line with a documented exit code (never 70)."""

from __future__ import annotations

import errno
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.helpers import run_cli
from tokenaudit.errors import ExitCode, OutputEnvironmentError, UsageError
from tokenaudit.output import write_file

USAGE = "timestamp,developer,input_tokens,output_tokens,cache_read_tokens,cache_write_tokens\n"
ROW = "2026-03-02T10:00:00Z,ana@acme.io,100,10,1000,0\n"
EXPECTED_CSV_LINE = "ana@acme.io,1110,100,10,1000,0,1,1,"
"""The single group of ``totals --format csv`` over ``ROW`` (cost left out: it depends on the price table)."""


@pytest.fixture
def usage(tmp_path: Path) -> Path:
    path = tmp_path / "usage.csv"
    path.write_text(USAGE + ROW)
    return path


def totals_to(usage: Path, target: str | Path) -> tuple[int, str]:
    result = run_cli("totals", str(usage), "--format", "csv", "--output", str(target))
    return result.exit_code, result.stderr


def test_new_file_gets_0666_less_the_umask(usage: Path, tmp_path: Path) -> None:
    previous = os.umask(0o027)
    try:
        code, _ = totals_to(usage, tmp_path / "out" / "new.csv")
    finally:
        os.umask(previous)
    assert code == 0
    written = tmp_path / "out" / "new.csv"
    assert stat.S_IMODE(written.stat().st_mode) == 0o640
    assert EXPECTED_CSV_LINE in written.read_text()


def test_existing_file_keeps_its_mode_and_is_replaced_whole(usage: Path, tmp_path: Path) -> None:
    target = tmp_path / "page.csv"
    target.write_text("an old, much longer report that must not survive in any part\n" * 50)
    target.chmod(0o644)
    previous = os.umask(0o077)  # a stricter umask must not reset an existing file's mode
    try:
        code, _ = totals_to(usage, target)
    finally:
        os.umask(previous)
    assert code == 0
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert "old" not in target.read_text() and EXPECTED_CSV_LINE in target.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["page.csv", "usage.csv"]  # no temp file left


def test_symlinked_file_is_replaced_behind_the_link(usage: Path, tmp_path: Path) -> None:
    real = tmp_path / "real.csv"
    real.write_text("old\n")
    link = tmp_path / "link.csv"
    link.symlink_to(real)
    assert totals_to(usage, link)[0] == 0
    assert link.is_symlink() and EXPECTED_CSV_LINE in real.read_text()


def test_dev_null_stays_a_character_device(usage: Path) -> None:
    code, _ = totals_to(usage, "/dev/null")
    assert code == 0
    assert stat.S_ISCHR(Path("/dev/null").stat().st_mode)


def test_fifo_is_written_in_place(usage: Path, tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    code, _ = totals_to(usage, fifo)
    reader.join(timeout=30)
    assert code == 0
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert EXPECTED_CSV_LINE in received[0].decode()


def test_dev_fd_from_process_substitution_is_written_in_place(usage: Path) -> None:
    """``-o >(cmd)``: the shell hands over ``/dev/fd/N``, a pipe; renaming over it cannot work."""
    read_end, write_end = os.pipe()
    command = [sys.executable, "-m", "tokenaudit", "totals", str(usage), "-f", "csv", "-o", f"/dev/fd/{write_end}"]
    process = subprocess.run(command, pass_fds=(write_end,), capture_output=True, text=True, timeout=120)
    os.close(write_end)
    with os.fdopen(read_end) as stream:
        piped = stream.read()
    assert process.returncode == 0, process.stderr
    assert EXPECTED_CSV_LINE in piped


def test_directory_target_is_one_line_exit_2(usage: Path, tmp_path: Path) -> None:
    code, stderr = totals_to(usage, tmp_path)
    assert code == int(ExitCode.USAGE_OR_POLICY)
    assert stderr.strip() == f"tokenaudit: error: cannot write {tmp_path}: is a directory (give a file name)"


def test_path_under_a_file_is_one_line_exit_2(usage: Path) -> None:
    code, stderr = totals_to(usage, usage / "out.csv")
    assert code == int(ExitCode.USAGE_OR_POLICY)
    assert stderr.strip() == f"tokenaudit: error: cannot write {usage / 'out.csv'}: Not a directory"


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into any folder")
def test_unwritable_folder_is_one_line_exit_2(usage: Path, tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    code, stderr = totals_to(usage, locked / "out.csv")
    assert code == int(ExitCode.USAGE_OR_POLICY)
    assert stderr.strip() == f"tokenaudit: error: cannot write {locked / 'out.csv'}: Permission denied"


def test_full_device_is_one_line_with_its_own_code(usage: Path) -> None:
    code, stderr = totals_to(usage, "/dev/full")
    assert code == int(ExitCode.OUTPUT_ENVIRONMENT) == 6
    assert stderr.strip() == "tokenaudit: error: cannot write /dev/full: No space left on device"


@pytest.mark.parametrize("failure", [errno.ENOSPC, errno.EROFS])
def test_full_or_read_only_disk_keeps_the_previous_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: int
) -> None:
    """The file system fails while the new copy is flushed: the old report stays whole, no temp file is left."""
    target = tmp_path / "report.html"
    target.write_text("last week's report")

    def fail(_: int) -> None:
        raise OSError(failure, os.strerror(failure))

    monkeypatch.setattr(os, "fsync", fail)
    with pytest.raises(OutputEnvironmentError) as caught:
        write_file(target, "this week's report")
    assert caught.value.exit_code == ExitCode.OUTPUT_ENVIRONMENT
    assert caught.value.message == f"cannot write {target}: {os.strerror(failure)}"
    assert target.read_text() == "last week's report"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_permission_failure_is_a_usage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: object, **__: object) -> int:
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

    monkeypatch.setattr(os, "open", refuse)
    with pytest.raises(UsageError) as caught:
        write_file(tmp_path / "x.csv", "data")
    assert caught.value.exit_code == ExitCode.USAGE_OR_POLICY
    assert caught.value.message == f"cannot write {tmp_path / 'x.csv'}: Permission denied"


@pytest.mark.parametrize("target", ["stdout", "/dev/fd"])
def test_reader_gone_stops_quietly(usage: Path, target: str) -> None:
    """``tokenaudit … | head`` or ``-o >(head)`` whose reader has gone: no traceback, exit 141 as SIGPIPE would."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    command = [sys.executable, "-m", "tokenaudit", "totals", str(usage), "-f", "csv", "-q"]
    if target == "stdout":
        process = subprocess.run(command, stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=120)
    else:
        command += ["-o", f"/dev/fd/{write_end}"]
        process = subprocess.run(command, pass_fds=(write_end,), capture_output=True, text=True, timeout=120)
    os.close(write_end)
    assert (process.returncode, process.stderr) == (int(ExitCode.BROKEN_PIPE), "")


def test_report_bad_time_zone_with_period_is_one_line_exit_2(usage: Path) -> None:
    result = run_cli("report", str(usage), "--tz", "Bad", "--period", "X")
    assert result.exit_code == int(ExitCode.USAGE_OR_POLICY)
    assert result.stderr.strip() == (
        "tokenaudit: error: --tz: expected an IANA time zone such as 'Europe/Berlin', got 'Bad'"
    )


def test_report_bad_period_is_one_line_exit_2(usage: Path) -> None:
    result = run_cli("report", str(usage), "--period", "X")
    assert result.exit_code == int(ExitCode.USAGE_OR_POLICY)
    assert result.stderr.count("\n") == 1 and "--period: expected last-week" in result.stderr
