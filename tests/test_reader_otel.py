"""Claude Code OTLP JSON: exact totals, duplicates, metrics not double counted, identity, rejects, detection."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from tests.helpers import FIXTURES, by_developer, run_cli, run_json
from tokenaudit.policy import Policy
from tokenaudit.readers import READERS, detect
from tokenaudit.readers.base import ReadContext, ReadResult
from tokenaudit.readers.otel import ClaudeCodeOtelReader
from tokenaudit.readers.sources import Source, resolve

ROOT = FIXTURES / "otel"
FIRST = ROOT / "claude-code-otel.jsonl"
ROTATED = ROOT / "claude-code-otel-1.jsonl"
BO_UUID = "b0b0b0b0-0000-4000-8000-0000000000b0"


def read(*inputs: Path) -> ReadResult:
    sources = resolve([str(path) for path in inputs]).sources
    return ClaudeCodeOtelReader().read(sources, ReadContext(policy=Policy()))


def tokens(inp: int, out: int, cache_read: int, cache_write: int) -> dict[str, int]:
    total = inp + out + cache_read + cache_write
    return {"input": inp, "output": out, "cache_read": cache_read, "cache_write": cache_write, "total": total}


def test_totals_per_developer_are_exact_and_costs_are_the_exported_dollars() -> None:
    document = run_json("totals", str(ROOT))
    groups = by_developer(document)
    # ana: req ...Q2, req ...Q3, and the request without request_id (session + sequence 61).
    assert groups["ana@acme.io"]["tokens"] == tokens(412 + 20 + 5, 918 + 300 + 50, 30512 + 0 + 500, 2048 + 0 + 0)
    assert groups["ana@acme.io"]["requests"] == 3
    assert groups["ana@acme.io"]["cost_usd"] == pytest.approx(0.0412 + 0 + 0.002)
    # No user.email: the account uuid, found on the resource rather than the record.
    assert groups[BO_UUID]["tokens"] == tokens(100, 200, 300, 400)
    assert groups[BO_UUID]["cost_usd"] == pytest.approx(0.01)
    # req ...Q2 is in both files; sequence 61 is written twice.
    assert document["data_quality"]["duplicates_dropped"] == 2
    assert document["data_quality"]["unpriced_models"] == []


def test_metrics_in_the_same_file_are_not_counted() -> None:
    # Line 2 of the first file holds claude_code.token.usage points for req ...Q2: only the event counts.
    events = read(FIRST).events
    assert events.filter(pl.col("request_id") == "req_011CXa9pQ2")["input_tokens"].to_list() == [412]
    assert 2 not in events["source_line"].to_list()


def test_metrics_only_is_an_input_error(tmp_path: Path) -> None:
    metrics_only = tmp_path / "metrics.jsonl"
    metrics_only.write_text(FIRST.read_text().splitlines()[1] + "\n")
    result = run_cli("totals", str(metrics_only), "--format", "json")
    assert result.exit_code == 3
    assert "metrics but no api_request events" in result.stderr


def test_dedup_keys_are_request_id_then_session_and_sequence() -> None:
    keys = read(ROTATED).events["dedup_key"].to_list()
    assert keys == [
        "claude-code-otel:req:req_011CXa9pQ2",
        "claude-code-otel:seq:5b1d0c7e-2f4a-4a51-9d0e-8c3f1a7b2e90:61",
        "claude-code-otel:seq:5b1d0c7e-2f4a-4a51-9d0e-8c3f1a7b2e90:61",
    ]


def test_timestamp_falls_back_to_time_unix_nano_and_extra_attributes_are_tolerated() -> None:
    # Sequence 61 has no event.timestamp and carries an unknown kvlist attribute.
    row = read(ROTATED).events.filter(pl.col("request_id").is_null()).row(0, named=True)
    assert row["timestamp"].isoformat() == "2026-03-02T15:00:00+00:00"
    assert (row["input_tokens"], row["cache_read_tokens"]) == (5, 500)
    assert (row["tool"], row["grain"], row["source_format"]) == ("claude-code", "request", "claude-code-otel")


def test_truncated_line_and_missing_identity_are_rejected_with_their_line() -> None:
    rejects = read(ROOT).rejects.sort("source_file")
    assert [(Path(r["source_file"]).name, r["source_line"], r["reason"]) for r in rejects.iter_rows(named=True)] == [
        (ROTATED.name, 2, "user.email (or user.account_uuid): missing; expected a value"),
        (FIRST.name, 4, "not valid JSON (truncated or corrupted line)"),
    ]
    raw = json.loads(rejects["raw"][0])
    assert raw["body"]["stringValue"] == "claude_code.api_request"


def test_other_events_are_ignored() -> None:
    # The user_prompt event of line 1 is not an API call.
    assert read(FIRST).events.filter(pl.col("source_line") == 1).height == 2


def test_detection_picks_this_reader_and_leaves_other_otlp_alone() -> None:
    context = ReadContext(policy=Policy())
    for source in resolve([str(ROOT)]).sources:
        assert detect(source, context).name == "claude-code-otel"
        assert [reader.name for reader in READERS if reader.detect(source, context).matched] == ["claude-code-otel"]
    other = Source(name="other.jsonl", data=b'{"resourceLogs":[{"resource":{"attributes":[]},"scopeLogs":[]}]}\n')
    assert not ClaudeCodeOtelReader().detect(other, context).matched
