"""Pointing tokenaudit at a real tool folder: a copied ``~/.claude`` with its index, settings and housekeeping.

The fixture ``claude_home/.claude`` has Claude Code's real layout: a ``sessions-index.json`` in every project
folder, a ``subagents/`` folder, ``settings.json``, ``history.jsonl``, ``todos/``, ``statsig/``, plans, plus a
user's ``notes.txt``, a ``manifest.json`` and a screenshot. The transcripts hold seven API responses:

* main chain: msg D1 (10 in, 200 out, 5,000 cache read, 1,000 5-minute + 2,000 1-hour cache writes), D2 (5, 50,
  8,000, 0), D3 (8, 400, 9,000, 500);
* subagent a11f0e9, in its own file and in the parent's ``agent_progress`` lines: SA1 (40, 60, 1,000, 200);
* subagent b22e1d8, whose file is absent, only in ``agent_progress`` lines (twice, one per content block): SB1
  (70, 90, 2,000, 300);
* a transcript whose lines have neither ``type`` nor ``sessionId``: E1 (3, 30, 0, 100), E2 (4, 40, 600, 0).
"""

from __future__ import annotations

import csv
import gzip
import json
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from tests.helpers import FIXTURES, SAMPLE, by_developer, run_cli, run_json
from tokenaudit.ingest import Period, load_events
from tokenaudit.policy import Policy
from tokenaudit.readers import READERS, detect
from tokenaudit.readers.base import ReadContext
from tokenaudit.readers.jsonlines import size_of
from tokenaudit.readers.sources import DATA_SUFFIXES, Source, resolve

HOME = FIXTURES / "claude_home" / ".claude"
PROJECTS = HOME / "projects"
WEB = PROJECTS / "-home-dee-src-web"
SESSION = WEB / "7d3f9a2e-1c4b-4e8a-9f60-2b5d8c1e7a34.jsonl"
SUBAGENTS = WEB / "7d3f9a2e-1c4b-4e8a-9f60-2b5d8c1e7a34" / "subagents"
UNTYPED = PROJECTS / "-home-dee-src-cli" / "0a9e8d7c-6b5a-4f3e-8d2c-1b0a9f8e7d6c.jsonl"
DEE = ("--owner", "dee@acme.io")

ALL_TOKENS = {
    "input": 10 + 5 + 8 + 40 + 70 + 3 + 4,
    "output": 200 + 50 + 400 + 60 + 90 + 30 + 40,
    "cache_read": 5000 + 8000 + 9000 + 1000 + 2000 + 0 + 600,
    "cache_write": 3000 + 0 + 500 + 200 + 300 + 100 + 0,
}
ALL_TOKENS["total"] = sum(ALL_TOKENS.values())
INDEX = "Claude Code session index (titles and paths, no usage)"
IN_PROJECTS = [
    (UNTYPED.parent / "sessions-index.json", INDEX),
    (WEB / "notes.txt", "no reader recognises this file (not a usage export)"),
    (WEB / "screenshot.png", "not a data file extension"),
    (WEB / "sessions-index.json", INDEX),
    (PROJECTS / "manifest.json", "no reader recognises this file (not a usage export)"),
]


def _skipped(document: dict[str, object]) -> list[tuple[str, str]]:
    quality = document["data_quality"]
    assert isinstance(quality, dict)
    return [(entry["file"], entry["reason"]) for entry in quality["skipped_files"]]


def test_a_whole_claude_folder_reads_every_transcript_and_lists_the_rest() -> None:
    result = run_cli("totals", str(HOME), *DEE, "--format", "json")
    assert result.exit_code == 0, result.stderr
    document = run_json("totals", str(HOME), *DEE)
    dee = by_developer(document)["dee@acme.io"]
    assert dee["tokens"] == ALL_TOKENS
    assert dee["requests"] == 7
    assert _skipped(document) == sorted(
        [
            *((str(path), why) for path, why in IN_PROJECTS),
            (str(HOME / "history.jsonl"), "prompt history (no usage)"),
            (str(HOME / "plans" / "refund-clean-up.md"), "not a data file extension"),
            (str(HOME / "settings.json"), "tool settings (no usage)"),
            (str(HOME / "statsig"), "Claude Code feature-flag cache (1 file, no usage)"),
            (str(HOME / "todos"), "Claude Code todo lists (1 file, no usage)"),
        ]
    )
    assert (
        "10 files skipped (2 no reader recognises, 2 other extensions, 6 tool files; see data_quality.skipped_files)"
        in result.stderr
    )
    files = {source["file"] for source in document["data_quality"]["sources"]}
    assert files == {str(SESSION), str(UNTYPED), str(SUBAGENTS / "agent-a11f0e9.jsonl")}


def test_the_projects_folder_alone_gives_the_same_totals() -> None:
    document = run_json("totals", str(PROJECTS), *DEE)
    assert by_developer(document)["dee@acme.io"]["tokens"] == ALL_TOKENS
    assert _skipped(document) == [(str(path), why) for path, why in IN_PROJECTS]


def test_a_file_named_on_the_command_line_that_no_reader_knows_is_still_an_error() -> None:
    for path in (WEB / "sessions-index.json", WEB / "notes.txt"):
        result = run_cli("totals", str(SESSION), str(path), *DEE, "--format", "json")
        assert result.exit_code == 3
        assert f"{path}: no reader recognises this file" in result.stderr


def test_strict_makes_a_skipped_file_in_a_folder_fatal_but_not_an_empty_one(tmp_path: Path) -> None:
    result = run_cli("totals", str(PROJECTS), *DEE, "--strict", "--format", "json")
    assert result.exit_code == 4
    assert "5 files in the input folders skipped (--strict)" in result.stderr
    only_data = tmp_path / "projects" / "-home-dee-src-web"
    only_data.mkdir(parents=True)
    shutil.copy(SESSION, only_data)
    (only_data / "empty.jsonl").write_bytes(b"")
    result = run_cli("totals", str(tmp_path), *DEE, "--strict", "--format", "json")
    assert result.exit_code == 0, result.stderr


def test_a_folder_with_nothing_any_reader_knows_is_an_error(tmp_path: Path) -> None:
    shutil.copy(WEB / "notes.txt", tmp_path / "notes.txt")
    shutil.copy(PROJECTS / "manifest.json", tmp_path / "manifest.json")
    result = run_cli("totals", str(tmp_path), "--format", "json")
    assert result.exit_code == 3
    assert "no reader recognises any of the 2 files found" in result.stderr


def test_the_bundled_sample_folder_reads_its_usage_and_skips_the_outcome_files() -> None:
    bedrock = next((SAMPLE / "agents").rglob("*.json.gz"))
    whole = run_json("totals", f"{SAMPLE}/")
    named = run_json("totals", str(SAMPLE / "events.csv"), str(bedrock))
    assert whole["groups"] == named["groups"]
    # events.csv's 26,948 rows and the Bedrock log's records (one per requestId), summed by hand.
    with (SAMPLE / "events.csv").open() as handle:
        csv_total = sum(
            sum(int(row[f"{kind}_tokens"]) for kind in ("input", "output", "cache_read", "cache_write"))
            for row in csv.DictReader(handle)
        )
    records = {
        record["requestId"]: record for record in map(json.loads, gzip.decompress(bedrock.read_bytes()).splitlines())
    }
    counts = ("inputTokenCount", "cacheReadInputTokenCount", "cacheWriteInputTokenCount")
    bedrock_total = sum(
        sum(record["input"].get(name, 0) for name in counts) + record["output"]["outputTokenCount"]
        for record in records.values()
    )
    assert sum(group["tokens"]["total"] for group in whole["groups"]) == csv_total + bedrock_total
    assert [Path(name).name for name, _ in _skipped(whole)] == [
        "agents_policy.yaml",
        "incidents.json",
        "jira.csv",
        "labels.csv",
        "policy.yaml",
        "prs.json",
    ]


def test_subagent_usage_in_agent_progress_counts_once_whether_or_not_its_file_is_there(tmp_path: Path) -> None:
    with_file = load_events([str(PROJECTS)], Policy(), Period(), developer="dee@acme.io").events
    copy = tmp_path / "projects"
    shutil.copytree(PROJECTS, copy)
    shutil.rmtree(copy / SUBAGENTS.relative_to(PROJECTS))
    without_file = load_events([str(copy)], Policy(), Period(), developer="dee@acme.io").events
    for events in (with_file, without_file):
        subagent = events.filter(pl.col("request_id").is_in(["req_011DeeSA1", "req_011DeeSB1"])).sort("request_id")
        assert subagent.select("model", "input_tokens", "output_tokens", "cache_read_tokens").rows() == [
            ("claude-haiku-4-5-20251001", 40, 60, 1000),
            ("claude-haiku-4-5-20251001", 70, 90, 2000),
        ]
        assert subagent["cache_write_tokens"].to_list() == [200, 300]
        # The subagent's own line time, not the progress line's.
        assert subagent["timestamp"].dt.strftime("%H:%M:%S").to_list() == ["10:01:10", "10:02:10"]
        assert events["input_tokens"].sum() == ALL_TOKENS["input"]
        assert events.height == 7


def test_transcript_lines_without_type_or_session_id_are_recognised_by_their_usage_shape() -> None:
    source = Source(name=str(UNTYPED), path=UNTYPED)
    context = ReadContext(policy=Policy())
    assert detect(source, context).name == "claude-code"
    assert [reader.name for reader in READERS if reader.detect(source, context).matched] == ["claude-code"]
    document = run_json("totals", str(UNTYPED), *DEE)
    assert by_developer(document)["dee@acme.io"]["tokens"] == {
        "input": 7,
        "output": 70,
        "cache_read": 600,
        "cache_write": 100,
        "total": 777,
    }


@pytest.mark.parametrize("name", ["sessions-index.json", "settings.json", "history.jsonl"])
def test_tool_files_are_not_mistaken_for_transcripts(name: str) -> None:
    path = next(HOME.rglob(name))
    source = Source(name=str(path), path=path)
    context = ReadContext(policy=Policy())
    assert [reader.name for reader in READERS if reader.detect(source, context).matched] == []


def test_a_subagent_prompt_quoted_in_agent_progress_is_not_a_turn_of_the_parent() -> None:
    """SA1's prompt is the subagent file's user line; the parent's agent_progress copy of it (text at
    data.message, not message) must not replace it with an empty prompt."""

    def signature(*paths: Path) -> tuple[Any, ...]:
        events = load_events([str(path) for path in paths], Policy(), Period(), developer="dee@acme.io").events
        return events.filter(pl.col("request_id") == "req_011DeeSA1").select("turn", "prompt_signature").row(0)

    alone = signature(SUBAGENTS / "agent-a11f0e9.jsonl")
    assert alone[0] == "prompt"
    assert alone[1] is not None
    assert signature(PROJECTS) == alone


def test_a_walk_keeps_each_files_size_and_takes_the_data_extensions_as_a_path_would(tmp_path: Path) -> None:
    """Each file found keeps the size it had then: planning and batching ask it of every file, not of the disk."""
    names = ["a.jsonl", "b.CSV", "c.json.gz", "d.", "e.tar", "f..parquet", "noext", "g.jsonl.bak", "h.txt.gz"]
    for number, name in enumerate(names):
        (tmp_path / name).write_bytes(b"{}\n" * (number + 1) if not name.endswith(".gz") else gzip.compress(b"{}\n"))
    found = resolve([str(tmp_path)])
    assert sorted(Path(source.name).name for source in found.sources) == sorted(
        name for name in names if Path(name.lower().removesuffix(".gz")).suffix in DATA_SUFFIXES
    )
    for source in found.sources:
        assert size_of(source) == (len(source.data) if source.data is not None else Path(source.name).stat().st_size)
    on_disk = next(source for source in found.sources if source.data is None)
    assert on_disk.size >= 0
    assert size_of(replace(on_disk, path=tmp_path / "gone")) == on_disk.size  # not asked of the disk again
