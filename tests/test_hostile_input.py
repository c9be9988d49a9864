"""Hostile or broken input ends in one line and a documented exit code, in bounded memory: deep nesting, over-long
lines and decompression bombs (generated here under tmp, never committed)."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import FIXTURES, run_cli
from tokenaudit.errors import ExitCode, InputError
from tokenaudit.readers import generic, jsonlines, sources

MIB = 1024 * 1024
ROW = {
    "timestamp": "2026-03-02T10:00:00Z",
    "developer": "ana@acme.io",
    "input_tokens": 1,
    "output_tokens": 2,
    "cache_read_tokens": 3,
    "cache_write_tokens": 4,
}


def _bomb(path: Path, block: bytes, copies: int) -> Path:
    """A gzip file of ``copies`` identical members: tiny on disk, ``len(block) * copies`` inflated."""
    member = gzip.compress(block, compresslevel=9)
    with path.open("wb") as handle:
        for _ in range(copies):
            handle.write(member)
    return path


def _peak_rss_mib(args: list[str]) -> tuple[int, str, float]:
    """Run the CLI in a child of a fresh interpreter; (exit code, stderr, the CLI's peak resident memory in MiB)."""
    probe = (
        "import resource, subprocess, sys\n"
        "done = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "print(done.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
        "sys.stderr.write(done.stderr)\n"
    )
    command = [sys.executable, "-c", probe, sys.executable, "-m", "tokenaudit", *args]
    process = subprocess.run(command, capture_output=True, text=True, timeout=300, check=True)
    code, kib = process.stdout.split()
    return int(code), process.stderr, int(kib) / 1024


def test_a_3_gib_gzip_bomb_is_refused_in_bounded_memory(tmp_path: Path) -> None:
    bomb = _bomb(tmp_path / "events.jsonl.gz", b"\0" * MIB, 3 * 1024)
    assert bomb.stat().st_size < 4 * MIB
    code, stderr, peak = _peak_rss_mib(["totals", str(bomb), "-f", "json"])
    assert code == int(ExitCode.UNREADABLE_INPUT)
    assert stderr == f"tokenaudit: error: {bomb}: line 1 is longer than 64 MiB (the limit): a corrupt or hostile file\n"
    assert peak < 500, f"peak RSS {peak:.0f} MiB"


def test_a_gzip_that_inflates_beyond_the_limit_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Many short lines pass the line check; the inflated-size limit stops them (lowered to keep the test quick)."""
    monkeypatch.setattr(sources, "MAX_INFLATED_BYTES", 8 * MIB)
    bomb = _bomb(tmp_path / "events.csv.gz", b"\n" * MIB, 9)
    with pytest.raises(InputError) as caught:
        sources.resolve([str(bomb)])
    assert (
        caught.value.message == f"{bomb}: inflates to more than 0 GiB (the limit for .gz inputs): decompress it first"
    )
    fits = _bomb(tmp_path / "fits.csv.gz", json.dumps(ROW).encode() + b"\n", 8)
    assert sources.resolve([str(fits)]).sources[0].data == (json.dumps(ROW).encode() + b"\n") * 8


def test_an_over_long_line_in_a_plain_file_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    with path.open("wb") as handle:
        handle.write(json.dumps(ROW).encode() + b"\n")
        handle.write(b'{"developer": "' + b"x" * (64 * MIB + 1))
    result = run_cli("totals", str(path), "-f", "json")
    assert result.exit_code == int(ExitCode.UNREADABLE_INPUT)
    assert result.stderr == (
        f"tokenaudit: error: {path}: line 2 is longer than 64 MiB (the limit): a corrupt or hostile file\n"
    )


def test_a_line_just_under_the_limit_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The near miss, at a lowered limit: a line of exactly the limit passes, one byte more does not."""
    monkeypatch.setattr(sources, "MAX_LINE_BYTES", 2 * MIB)
    line = json.dumps(ROW).encode()
    other = json.dumps({**ROW, "timestamp": "2026-03-02T11:00:00Z"}).encode()
    padded = other[:-1] + b', "note": "' + b"y" * (2 * MIB - len(line) - 12) + b'"}'
    assert len(padded) == 2 * MIB
    path = tmp_path / "events.jsonl"
    path.write_bytes(line + b"\n" + padded + b"\n")
    result = run_cli("totals", str(path), "-f", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["groups"][0]["tokens"]["total"] == 20
    path.write_bytes(line + b"\n " + padded + b"\n")
    refused = run_cli("totals", str(path), "-f", "json")
    assert refused.exit_code == int(ExitCode.UNREADABLE_INPUT)
    assert (
        refused.stderr
        == f"tokenaudit: error: {path}: line 2 is longer than 2 MiB (the limit): a corrupt or hostile file\n"
    )


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("nested.json", "[" * 100_000 + "]" * 100_000),
        ("nested_page.json", '{"object": "page", "data": ' + "[" * 100_000 + "]" * 100_000 + "}"),
        ("nested_cursor.json", '{"usageEvents": ' + "[" * 100_000 + "]" * 100_000 + "}"),
    ],
)
def test_deep_nesting_is_an_input_error_not_a_crash(tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    result = run_cli("totals", str(path), "-f", "json")
    assert result.exit_code == int(ExitCode.UNREADABLE_INPUT)
    assert result.stderr.count("\n") == 1 and "internal error" not in result.stderr


def test_a_deeply_nested_line_among_good_ones_is_a_reject(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text(json.dumps(ROW) + "\n" + "[" * 100_000 + "]" * 100_000 + "\n" + json.dumps(ROW) + "\n")
    result = run_cli("totals", str(path), "-f", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["groups"][0]["tokens"]["total"] == 10
    assert f"first rejected row: {path}:2: " in result.stderr


def _first_long_line(data: bytes, limit: int) -> int:
    """The number of the first line of ``data`` longer than ``limit`` bytes (its line break not counted)."""
    return next(number for number, line in enumerate(data.split(b"\n"), 1) if len(line) > limit)


def _refused(path: Path, line: int, limit_mib: int = 1) -> str:
    limit = f"{limit_mib} MiB (the limit)"
    return f"tokenaudit: error: {path}: line {line} is longer than {limit}: a corrupt or hostile file\n"


@pytest.fixture
def small_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    """A line limit of 1 MiB, and blocks of 256 KiB for the readers that read a file in blocks of lines: a file
    larger than the limit is read in many blocks, and an over-long line spans several."""
    monkeypatch.setattr(sources, "MAX_LINE_BYTES", MIB)
    monkeypatch.setattr(jsonlines, "BATCH_BYTES", 256 * 1024)
    monkeypatch.setattr(generic, "TEXT_BLOCK_BYTES", 256 * 1024)


def _flat_rows(kind: str, count: int) -> list[bytes]:
    if kind == "csv":
        header = ",".join(ROW).encode()
        return [header, *(",".join(str(value) for value in ROW.values()).encode() for _ in range(count))]
    return [json.dumps({**ROW, "request_id": f"r{number}"}).encode() for number in range(count)]


@pytest.mark.usefixtures("small_limits")
@pytest.mark.parametrize("kind", ["csv", "jsonl"])
@pytest.mark.parametrize("where", ["first", "middle", "last", "unended", "exact"])
def test_a_flat_file_read_in_blocks_checks_its_lines_as_it_reads(tmp_path: Path, kind: str, where: str) -> None:
    """The line check of a file the generic reader reads in blocks is made as it reads (no pass of its own before):
    the same message and line number as a check of the whole file first, wherever the line lies in the blocks."""
    rows = _flat_rows(kind, 80_000 if kind == "csv" else 30_000)
    long = b"x" * MIB + (b"" if where == "exact" else b"y")  # one byte over the limit, or exactly at it
    at = {"first": 1, "middle": 12_345, "last": len(rows), "unended": len(rows), "exact": 20_000}[where]
    rows.insert(at, long)
    data = b"\n".join(rows) + (b"" if where == "unended" else b"\n")
    path = tmp_path / f"events.{kind}"
    path.write_bytes(data)
    assert len(data) > 3 * MIB
    result = run_cli("totals", str(path), "-f", "json")
    if where == "exact":
        assert result.exit_code == int(ExitCode.OK) or "first rejected row" in result.stderr, result.stderr
        assert "longer than" not in result.stderr
        return
    assert result.exit_code == int(ExitCode.UNREADABLE_INPUT)
    assert result.stderr == _refused(path, _first_long_line(data, MIB)) == _refused(path, at + 1)


def _transcript(path: Path, long_line: bool) -> Path:
    fixture = next((FIXTURES / "claude_code").rglob("e1f0a9b8-*.jsonl")).read_bytes()
    lines = fixture.splitlines(keepends=True)
    filler = b'{"type":"progress","note":"' + b"z" * (MIB // 2) + b'"}\n'
    body = (
        lines[:2] + [filler] * 4 + ([b'{"type":"user","x":"' + b"y" * MIB + b'"}\n'] if long_line else []) + lines[2:]
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(body))
    return path


@pytest.mark.usefixtures("small_limits")
def test_a_claude_code_transcript_is_checked_before_it_is_read(tmp_path: Path) -> None:
    path = _transcript(tmp_path / "ana@acme.io" / "projects" / "p" / "session.jsonl", long_line=True)
    result = run_cli("totals", str(path), "-f", "json")
    assert result.exit_code == int(ExitCode.UNREADABLE_INPUT)
    assert result.stderr == _refused(path, 7)
    fine = _transcript(tmp_path / "bo@acme.io" / "projects" / "p" / "session.jsonl", long_line=False)
    assert run_cli("totals", str(fine), "-f", "json").exit_code == int(ExitCode.OK)


@pytest.mark.usefixtures("small_limits")
def test_the_first_file_with_an_over_long_line_is_named_whatever_fails_first(tmp_path: Path) -> None:
    """As when every file was checked as it was found: the first file (in input order) with an over-long line is the
    error, though a later file fails to be recognised, another is checked before it is read, or an earlier one fails
    to read (a missing column under --input-format generic)."""
    rows = _flat_rows("jsonl", 20_000)
    rows.insert(5, b"{" + b"x" * (2 * MIB))
    flat = tmp_path / "events.jsonl"
    flat.write_bytes(b"\n".join(rows) + b"\n")
    transcript = _transcript(tmp_path / "ana@acme.io" / "projects" / "p" / "session.jsonl", long_line=True)
    unknown = tmp_path / "notes.json"
    unknown.write_text('{"what": "no usage"}\n')
    for inputs in ([str(flat), str(unknown)], [str(flat), str(transcript)], [str(unknown), str(flat)]):
        result = run_cli("totals", *inputs, "-f", "json")
        assert result.exit_code == int(ExitCode.UNREADABLE_INPUT)
        assert result.stderr == _refused(flat, 6), inputs
    assert run_cli("totals", str(transcript), str(flat), "-f", "json").stderr == _refused(transcript, 7)
    missing = tmp_path / "missing.csv"
    missing.write_text("timestamp,developer\n2026-03-02T10:00:00Z,ana@acme.io\n")
    result = run_cli("totals", str(missing), str(flat), "-f", "json", "--input-format", "generic")
    assert result.stderr == _refused(flat, 6)
    result = run_cli("totals", str(flat), str(tmp_path / "absent.csv"), "-f", "json")
    assert result.stderr == _refused(flat, 6)


@pytest.mark.usefixtures("small_limits")
def test_files_no_reader_reads_are_checked_too(tmp_path: Path) -> None:
    """A file a folder walk passes over as unrecognised, and a blank one (never read), are checked as before."""
    folder = tmp_path / "logs"
    folder.mkdir()
    (folder / "a.csv").write_text(",".join(ROW) + "\n" + ",".join(str(value) for value in ROW.values()) + "\n")
    notes = folder / "notes.txt"
    notes.write_bytes(b"hello\nworld\n" + b"w" * (MIB + 1) + b"\n")
    result = run_cli("totals", str(folder), "-f", "json")
    assert result.exit_code == int(ExitCode.UNREADABLE_INPUT)
    assert result.stderr == _refused(notes, 3)
    blank = tmp_path / "blank.jsonl"
    blank.write_bytes(b" " * (MIB + 1))
    result = run_cli("totals", str(folder / "a.csv"), str(blank), "-f", "json")
    assert result.stderr == _refused(blank, 1)
