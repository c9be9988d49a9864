"""LiteLLM spend logs (JSON and CSV): cached tokens, cache hits, identity fallbacks, privacy, duplicates, rejects."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import polars as pl
import pytest

from tests.helpers import FIXTURES, by_developer, run_json
from tokenaudit.policy import Policy
from tokenaudit.readers import READERS, detect
from tokenaudit.readers.base import ReadContext, ReadResult
from tokenaudit.readers.litellm import LiteLLMReader
from tokenaudit.readers.sources import Source, resolve

ROOT = FIXTURES / "litellm"
ARRAY = ROOT / "spend_logs.json"
LINES = ROOT / "spend_logs.jsonl"
DUMP = ROOT / "LiteLLM_SpendLogs.csv"
PROMPT_TEXT = ("Refactor the payment module", "4111 1111 1111 1111", "Here is the refactor")


def read(*inputs: Path, timezone: str = "UTC") -> ReadResult:
    sources = resolve([str(path) for path in inputs]).sources
    return LiteLLMReader().read(sources, ReadContext(policy=Policy(), timezone=timezone))


def tokens(inp: int, out: int, cache_read: int, cache_write: int) -> dict[str, int]:
    total = inp + out + cache_read + cache_write
    return {"input": inp, "output": out, "cache_read": cache_read, "cache_write": cache_write, "total": total}


def test_totals_per_developer_are_exact_across_json_jsonl_and_csv() -> None:
    document = run_json("totals", str(ROOT))
    groups = by_developer(document)
    # ana: prompt_tokens 5400 = 400 uncached + 3000 cache reads + 2000 cache writes; the request and the
    # LiteLLM cache hit that replayed it (spend 0). The CSV copy of the request is a duplicate.
    assert groups["ana@acme.io"]["tokens"] == tokens(2 * (5400 - 3000 - 2000), 2 * 700, 2 * 3000, 2 * 2000)
    assert groups["ana@acme.io"]["requests"] == 2
    assert groups["ana@acme.io"]["cost_usd"] == pytest.approx(0.0231)
    # bo (end_user only): OpenAI-style cached tokens in prompt_tokens_details.
    assert groups["bo@acme.io"]["tokens"] == tokens((10000 - 8000) + (3000 - 1000), 500 + 200, 8000 + 1000, 0)
    assert groups["bo@acme.io"]["cost_usd"] == pytest.approx(0.0042 + 0.001)
    # No user at all: the key alias.
    assert groups["ci-bot"]["tokens"] == tokens(1200, 100, 0, 0)
    # A release whose prompt_tokens (6010) left out the 2500 cache writes: uncached = 6010 - 6000.
    assert groups["cora@acme.io"]["tokens"] == tokens(6010 - 6000, 50, 6000, 2500)
    # From the CSV dump.
    assert groups["dan@acme.io"]["tokens"] == tokens(2500 - 2000, 300, 2000, 0)
    assert groups["dan@acme.io"]["cost_usd"] == pytest.approx(0.0031)
    assert document["data_quality"]["duplicates_dropped"] == 2
    assert document["data_quality"]["rows_rejected"] == 3


def test_cache_hits_are_distinct_requests_keyed_by_their_own_id() -> None:
    events = read(ARRAY).events.filter(pl.col("developer") == "ana@acme.io").sort("timestamp")
    assert events["dedup_key"].to_list() == ["litellm:chatcmpl-7f3a", "litellm:chatcmpl-7f3a_cache_hit1772460400.123"]
    assert events["cost_usd"].to_list() == [0.0231, 0.0]


def test_request_rows_carry_team_session_and_utc_time() -> None:
    row = read(ARRAY).events.filter(pl.col("request_id") == "chatcmpl-7f3a").row(0, named=True)
    assert (row["team"], row["session_id"], row["model"]) == ("team-payments", "sess-ana-1", "claude-sonnet-4-5")
    assert (row["tool"], row["grain"], row["requests"], row["source_format"]) == ("litellm", "request", 1, "litellm")
    assert row["timestamp"].isoformat() == "2026-03-02T14:05:09.101000+00:00"
    assert row["source_line"] == 1  # record 1 of the JSON array


def test_zone_less_csv_times_are_utc_whatever_the_time_zone() -> None:
    events = read(DUMP, timezone="Europe/Berlin").events
    times = dict(zip(events["request_id"], events["timestamp"], strict=True))
    assert times["chatcmpl-b512"].isoformat() == "2026-03-03T09:30:00+00:00"
    assert times["chatcmpl-7f3a"].isoformat() == "2026-03-02T14:05:09.101000+00:00"
    assert events.filter(pl.col("request_id") == "chatcmpl-b512")["source_line"].to_list() == [3]


def test_prompts_never_reach_events_or_reasons() -> None:
    result = read(ROOT)
    text = " ".join(str(value) for row in result.events.iter_rows() for value in row)
    text += " ".join(result.rejects["reason"])
    assert not any(secret in text for secret in PROMPT_TEXT)
    # A decoded row's reject shows the fields read, not the request body.
    decoded = result.rejects.filter(pl.col("reason").str.starts_with("prompt_tokens"))
    assert not any(secret in decoded["raw"][0] for secret in PROMPT_TEXT)
    assert json.loads(decoded["raw"][0])["metadata.additional_usage_values.cache_read_input_tokens"] == "500"


def test_rejects_name_the_field_the_truncated_line_and_the_cut_off_csv_row() -> None:
    rejects = read(ROOT).rejects.sort("source_file", "source_line")
    assert [(Path(file).name, line, reason) for file, line, reason, _ in rejects.iter_rows()] == [
        (DUMP.name, 4, "has 15 fields; the header has 32 (the file ends mid-row: truncated?)"),
        (LINES.name, 3, "prompt_tokens: 100 is less than cache reads (500); expected it to include them"),
        (LINES.name, 4, "not valid JSON (truncated or corrupted line)"),
    ]


def test_extra_fields_are_tolerated_and_empty_user_falls_back_to_end_user() -> None:
    # bo's row has user "" and unknown fields (x_custom, agent_id).
    row = read(ARRAY).events.filter(pl.col("request_id") == "chatcmpl-8b21").row(0, named=True)
    assert row["developer"] == "bo@acme.io"
    assert (row["input_tokens"], row["cache_read_tokens"]) == (10000 - 8000, 8000)


def test_spend_logs_v2_pages_are_read_too(tmp_path: Path) -> None:
    rows = json.loads(ARRAY.read_text())
    path = tmp_path / "spend_logs_v2.json"
    path.write_text(json.dumps({"data": rows[:2], "total": 2, "page": 1, "page_size": 50, "total_pages": 1}))
    assert read(path).events["request_id"].to_list() == ["chatcmpl-7f3a", "chatcmpl-8b21"]


def test_metadata_that_is_not_json_is_rejected(tmp_path: Path) -> None:
    header, first = list(csv.reader(DUMP.read_text().splitlines()[:2]))
    first[header.index("metadata")] = "{not json"
    path = tmp_path / "bad_metadata.csv"
    with path.open("w", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows([header, first])
    result = read(path)
    assert result.rejects["reason"].to_list() == ["metadata: expected a JSON object, got '{not json'"]
    assert result.events.is_empty()


def test_detection_picks_this_reader_and_the_generic_reader_does_not_steal() -> None:
    context = ReadContext(policy=Policy())
    for source in resolve([str(ROOT)]).sources:
        assert detect(source, context).name == "litellm"
        assert [reader.name for reader in READERS if reader.detect(source, context).matched] == ["litellm"]


def test_the_per_day_summary_is_refused_with_what_to_export_instead() -> None:
    summary = Source(
        name="summary.json",
        data=b'[{"users": {"ana@acme.io": 0.02}, "models": {"gpt-5.2": 0.02}, "spend": 0.02, '
        b'"startTime": "2026-03-02"}]',
    )
    detection = LiteLLMReader().detect(summary, ReadContext(policy=Policy()))
    assert not detection.matched
    assert "summarize=false" in detection.detail
