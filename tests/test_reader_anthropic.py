"""Anthropic Admin API pages: Claude Code Analytics and Messages usage, exact totals, duplicates, rejects."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from tests.helpers import FIXTURES, by_developer, run_json
from tokenaudit.ingest import Period, load_events
from tokenaudit.policy import Identity, Policy
from tokenaudit.readers import READERS, detect
from tokenaudit.readers.anthropic import AnthropicMessagesUsageReader, ClaudeCodeAnalyticsReader
from tokenaudit.readers.base import ReadContext, ReadResult
from tokenaudit.readers.sources import Source, resolve

ANALYTICS = FIXTURES / "anthropic_analytics"
ANALYTICS_PAGE = ANALYTICS / "claude_code_2026-03-02.json"
ANALYTICS_RECORDS = ANALYTICS / "claude_code_records.jsonl"
MESSAGES = FIXTURES / "anthropic_messages"
MESSAGES_DAILY = MESSAGES / "usage_1d_by_key_model.json"
MESSAGES_RERUN = MESSAGES / "usage_1d_rerun.jsonl"
MESSAGES_HOURLY = MESSAGES / "usage_1h_ungrouped.json"


def read(reader: ClaudeCodeAnalyticsReader | AnthropicMessagesUsageReader, *inputs: Path) -> ReadResult:
    sources = resolve([str(path) for path in inputs]).sources
    return reader.read(sources, ReadContext(policy=Policy()))


def tokens(inp: int, out: int, cache_read: int, cache_write: int) -> dict[str, int]:
    total = inp + out + cache_read + cache_write
    return {"input": inp, "output": out, "cache_read": cache_read, "cache_write": cache_write, "total": total}


def rejects_of(result: ReadResult) -> list[tuple[str, int, str]]:
    rows = result.rejects.sort("source_file", "source_line").iter_rows(named=True)
    return [(Path(row["source_file"]).name, row["source_line"], row["reason"]) for row in rows]


# ---------------------------------------------------------------------------------------- Claude Code Analytics


def test_analytics_totals_per_developer_are_exact_and_cents_become_dollars() -> None:
    document = run_json("totals", str(ANALYTICS))
    groups = by_developer(document)
    # ana: 03-02 vscode sonnet + haiku (also in the pages file), 03-03 cli opus, 03-03 vscode sonnet.
    assert groups["ana@acme.io"]["tokens"] == tokens(
        51200 + 3100 + 2000 + 700, 14300 + 900 + 6000 + 300, 402000 + 12000 + 150000 + 5000, 22000 + 1500 + 9000 + 0
    )
    assert groups["ana@acme.io"]["cost_usd"] == pytest.approx((734 + 12 + 2875 + 5) / 100)
    # The API-key actor is known by its key name: 03-02 and 03-03.
    assert groups["bo-ci-key"]["tokens"] == tokens(8000 + 1200, 2500 + 400, 64000 + 9000, 4000 + 600)
    assert groups["bo-ci-key"]["cost_usd"] == pytest.approx(10.25 + 2.50)
    # ana's 03-02 record is in both files: two model rows and its decisions row.
    assert document["data_quality"]["duplicates_dropped"] == 3
    assert document["data_quality"]["rows_rejected"] == 2
    assert document["data_quality"]["unpriced_models"] == []


def test_tool_decisions_are_summed_onto_one_zero_token_row_per_record() -> None:
    loaded = load_events([str(ANALYTICS)], Policy(), Period())
    decisions = loaded.events.filter(pl.col("accepted").is_not_null()).sort("timestamp")
    assert decisions["developer"].to_list() == ["ana@acme.io", "ana@acme.io"]
    # 03-02: edit 22/2 + write 5/1; 03-03 cli: multi_edit 3/0 + notebook_edit 1/1.
    assert decisions["accepted"].to_list() == [22 + 5, 3 + 1]
    assert decisions["rejected"].to_list() == [2 + 1, 0 + 1]
    assert decisions.select(pl.sum_horizontal("input_tokens", "output_tokens", "cache_read_tokens")).sum().item() == 0
    assert decisions["model"].to_list() == [None, None]
    assert decisions["cost_usd"].to_list() == [0.0, 0.0]
    # The decisions are never repeated on model rows.
    model_rows = loaded.events.filter(pl.col("model").is_not_null())
    assert model_rows.height == 6
    assert model_rows["accepted"].null_count() == model_rows["rejected"].null_count() == 6


def test_analytics_rows_are_utc_days_without_request_counts() -> None:
    events = read(ClaudeCodeAnalyticsReader(), ANALYTICS_PAGE).events
    assert set(events["grain"]) == {"day"}
    assert set(events["tool"]) == {"claude-code"}
    assert events["requests"].null_count() == events.height
    assert {ts.isoformat() for ts in events["timestamp"]} == {"2026-03-02T00:00:00+00:00"}


def test_analytics_dedup_key_is_day_actor_terminal_and_model() -> None:
    events = read(ClaudeCodeAnalyticsReader(), ANALYTICS_PAGE).events
    day = "2026-03-02 00:00:00.000000+00:00"
    assert sorted(events["dedup_key"]) == [
        f"claude-code-analytics:{day}|email:ana@acme.io|vscode|claude-haiku-4-5-20251001",
        f"claude-code-analytics:{day}|email:ana@acme.io|vscode|claude-sonnet-4-5-20250929",
        f"claude-code-analytics:{day}|email:ana@acme.io|vscode|tool_actions",
        f"claude-code-analytics:{day}|key:bo-ci-key|cli|claude-sonnet-4-5-20250929",
    ]


def test_document_records_are_numbered_and_extra_fields_tolerated() -> None:
    # The pretty-printed page: ana is record 1, bo (with an unknown seat_tier field) record 2.
    events = read(ClaudeCodeAnalyticsReader(), ANALYTICS_PAGE).events
    lines = dict(events.group_by("developer").agg(pl.col("source_line").unique()).iter_rows())
    assert lines == {"ana@acme.io": [1], "bo-ci-key": [2]}


def test_analytics_rejects_name_the_field_and_the_truncated_line() -> None:
    result = read(ClaudeCodeAnalyticsReader(), ANALYTICS_RECORDS)
    assert rejects_of(result) == [
        (ANALYTICS_RECORDS.name, 2, "model_breakdown[].tokens.output: expected a non-negative integer, got '12.5'"),
        (ANALYTICS_RECORDS.name, 3, "not valid JSON (truncated or corrupted line)"),
    ]
    assert json.loads(result.rejects.sort("source_line")["raw"][0])["actor.email_address"] == "cora@acme.io"
    assert result.events["developer"].to_list() == ["bo-ci-key"]


def test_a_currency_other_than_usd_is_rejected(tmp_path: Path) -> None:
    record = json.loads(ANALYTICS_RECORDS.read_text().splitlines()[0])
    record["model_breakdown"][0]["estimated_cost"]["currency"] = "EUR"
    path = tmp_path / "eur.jsonl"
    path.write_text(json.dumps(record) + "\n")
    assert rejects_of(read(ClaudeCodeAnalyticsReader(), path)) == [
        ("eur.jsonl", 1, "model_breakdown[].estimated_cost.currency: expected USD, got 'EUR'")
    ]


def test_a_truncated_document_is_one_reject_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "cut.json"
    path.write_text(ANALYTICS_PAGE.read_text()[:700])
    result = read(ClaudeCodeAnalyticsReader(), path)
    assert result.events.is_empty()
    assert [(file, reason.split(":")[0]) for file, _, reason in rejects_of(result)] == [
        ("cut.json", "not valid JSON (truncated or corrupted document)")
    ]
    assert result.rejects["source_line"][0] > 1


def test_an_empty_page_reads_as_nothing() -> None:
    result = read(ClaudeCodeAnalyticsReader(), ANALYTICS / "claude_code_2026-03-05.json")
    assert result.events.is_empty()
    assert result.rejects.is_empty()


# ---------------------------------------------------------------------------------------- Messages usage


def test_messages_totals_per_key_and_the_identity_map() -> None:
    document = run_json("totals", str(MESSAGES))
    groups = by_developer(document)
    # apikey_01AbC: 03-02 (in both files) and 03-04; cache writes are the 5-minute plus the 1-hour writes.
    assert groups["apikey_01AbC"]["tokens"] == tokens(8800 + 400, 5100 + 250, 64000 + 3000, (1200 + 300) + (100 + 0))
    assert groups["apikey_01XyZ"]["tokens"] == tokens(1500, 700, 2000, 0)
    # The hourly export was not grouped by anything.
    assert groups["(ungrouped)"]["tokens"] == tokens(100 + 200, 50 + 80, 1000 + 0, (20 + 0) + (0 + 10))
    assert document["data_quality"]["duplicates_dropped"] == 1
    assert document["data_quality"]["rows_rejected"] == 2

    policy = Policy(identities={"ana": Identity(team="payments", aliases=["apikey_01AbC"])})
    events = load_events([str(MESSAGES)], policy, Period()).events
    ana = events.filter(pl.col("developer") == "ana")
    assert ana["input_tokens"].sum() == 8800 + 400
    assert set(ana["team"]) == {"payments"}


def test_messages_grain_follows_the_bucket_width_and_no_cost_is_invented() -> None:
    daily = read(AnthropicMessagesUsageReader(), MESSAGES_DAILY).events
    hourly = read(AnthropicMessagesUsageReader(), MESSAGES_HOURLY).events
    assert set(daily["grain"]) == {"day"}
    assert set(hourly["grain"]) == {"hour"}
    assert daily["cost_usd"].null_count() == daily.height
    assert daily["requests"].null_count() == daily.height
    assert set(daily["tool"]) == {"anthropic-api"}
    # The empty 03-03 bucket gives no rows; the extra priority_surcharge field is ignored.
    assert daily.height == 2


def test_messages_dedup_key_is_the_bucket_and_every_group_key() -> None:
    events = read(AnthropicMessagesUsageReader(), MESSAGES_DAILY).events.sort("developer")
    start, end = "2026-03-02 00:00:00.000000+00:00", "2026-03-03 00:00:00.000000+00:00"
    assert events["dedup_key"].to_list() == [
        f"anthropic-messages-usage:{start}|{end}|apikey_01AbC||||claude-opus-4-1-20250805|standard|0-200k||",
        f"anthropic-messages-usage:{start}|{end}|apikey_01XyZ||||claude-sonnet-4-5-20250929|||global|",
    ]


def test_messages_rejects_name_the_field_and_the_truncated_line() -> None:
    assert rejects_of(read(AnthropicMessagesUsageReader(), MESSAGES_RERUN)) == [
        (MESSAGES_RERUN.name, 2, "results[].uncached_input_tokens: expected a non-negative integer, got 'lots'"),
        (MESSAGES_RERUN.name, 3, "not valid JSON (truncated or corrupted line)"),
    ]


def test_messages_developer_falls_back_from_key_to_account_to_workspace(tmp_path: Path) -> None:
    def result(**keys: str) -> dict[str, object]:
        return {**keys, "uncached_input_tokens": 1, "output_tokens": 1, "cache_read_input_tokens": 0}

    bucket = {
        "starting_at": "2026-03-02T00:00:00Z",
        "ending_at": "2026-03-03T00:00:00Z",
        "results": [
            result(api_key_id="apikey_1", account_id="user_1"),
            result(account_id="user_2", workspace_id="wrkspc_1"),
            result(workspace_id="wrkspc_2"),
        ],
    }
    path = tmp_path / "buckets.jsonl"
    path.write_text(json.dumps(bucket) + "\n")
    assert read(AnthropicMessagesUsageReader(), path).events["developer"].to_list() == [
        "apikey_1",
        "user_2",
        "wrkspc_2",
    ]


# ---------------------------------------------------------------------------------------- detection


@pytest.mark.parametrize(
    ("folder", "name"), [(ANALYTICS, "claude-code-analytics"), (MESSAGES, "anthropic-messages-usage")]
)
def test_detection_picks_these_readers_and_the_generic_reader_does_not_steal(folder: Path, name: str) -> None:
    context = ReadContext(policy=Policy())
    for source in resolve([str(folder)]).sources:
        assert detect(source, context).name == name
        assert [reader.name for reader in READERS if reader.detect(source, context).matched] == [name]


def test_a_cost_report_is_not_taken_for_usage() -> None:
    cost = (
        b'{"data":[{"starting_at":"2026-03-02T00:00:00Z","ending_at":"2026-03-03T00:00:00Z",'
        b'"results":[{"currency":"USD","amount":"123.45"}]}]}'
    )
    source = Source(name="cost.json", data=cost)
    assert not AnthropicMessagesUsageReader().detect(source, ReadContext(policy=Policy())).matched


def test_messages_one_hour_cache_writes_are_priced_at_twice_input() -> None:
    # apikey_01AbC on 03-02, claude-opus-4-1: 8,800 in, 5,100 out, 64,000 cache read, 1,200 5-minute and 300
    # 1-hour writes: $15 / $75 / $1.50 / $18.75 / $30 per million (1-hour writes were priced at $18.75 before).
    events = load_events([str(MESSAGES_DAILY)], Policy(), Period()).events
    row = events.filter(pl.col("developer") == "apikey_01AbC")
    assert row.select("cache_write_tokens", "cache_write_1h_tokens").row(0) == (1500, 300)
    expected = (8800 * 15 + 5100 * 75 + 64000 * 1.5 + 1200 * 18.75 + 300 * 30) / 1e6
    assert row["cost_usd"].item() == pytest.approx(expected)
