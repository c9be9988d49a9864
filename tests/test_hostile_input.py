"""Hostile or broken input ends in one line and a documented exit code, in bounded memory: deep nesting, over-long
lines and decompression bombs (generated here under tmp, never committed)."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import run_cli
from tokenaudit.errors import ExitCode, InputError
from tokenaudit.readers import sources

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
