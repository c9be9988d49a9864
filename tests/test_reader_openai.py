"""OpenAI completions usage pages: uncached input, cache writes, audio, identity fallbacks, duplicates, rejects."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from tests.helpers import FIXTURES, by_developer, run_json
from tokenaudit.ingest import Period, load_events
from tokenaudit.policy import Identity, Policy
from tokenaudit.readers import READERS, detect
from tokenaudit.readers.base import ReadContext, ReadResult
from tokenaudit.readers.openai import OpenAIUsageReader
from tokenaudit.readers.sources import Source, resolve

ROOT = FIXTURES / "openai_usage"
PAGE = ROOT / "completions_2026-03.json"
PAGES = ROOT / "completions_pages.jsonl"
HOURLY = ROOT / "completions_1h_ungrouped.json"


def read(*inputs: Path) -> ReadResult:
    sources = resolve([str(path) for path in inputs]).sources
    return OpenAIUsageReader().read(sources, ReadContext(policy=Policy()))


def tokens(inp: int, out: int, cache_read: int, cache_write: int) -> dict[str, int]:
    total = inp + out + cache_read + cache_write
    return {"input": inp, "output": out, "cache_read": cache_read, "cache_write": cache_write, "total": total}


def test_totals_per_developer_are_exact_with_cached_tokens_taken_out_of_input() -> None:
    document = run_json("totals", str(ROOT))
    groups = by_developer(document)
    # user-8fK2: 03-02 (in both files) and 03-04; input_tokens includes the cached tokens.
    assert groups["user-8fK2"]["tokens"] == tokens((120000 - 90000) + (30000 - 25000), 8000 + 2000, 90000 + 25000, 0)
    assert groups["user-8fK2"]["requests"] == 64 + 20
    # user-Bo77: input also includes the 30-minute and 12-hour cache writes; audio is not added.
    assert groups["user-Bo77"]["tokens"] == tokens(5000 - 1000 - 500 - 200, 900, 1000, 500 + 200)
    assert groups["user-Bo77"]["requests"] == 7
    # No user: the API key, then (no grouping at all) "(ungrouped)".
    assert groups["key_svc01"]["tokens"] == tokens(20000, 1500, 0, 0)
    assert groups["(ungrouped)"]["tokens"] == tokens(1000 - 400, 100, 400, 0)
    assert document["data_quality"]["duplicates_dropped"] == 1
    assert document["data_quality"]["rows_rejected"] == 2


def test_rows_are_day_or_hour_buckets_in_utc_with_no_cost() -> None:
    events = read(PAGE, HOURLY).events.sort("timestamp")
    assert events["timestamp"][0].isoformat() == "2026-03-02T00:00:00+00:00"
    assert events["grain"].to_list() == ["day", "day", "day", "hour"]
    assert events["cost_usd"].null_count() == events.height
    assert set(events["tool"]) == {"openai-api"}


def test_dedup_key_is_the_bucket_and_every_group_key() -> None:
    events = read(PAGE).events.sort("developer")
    start, end = "2026-03-02 00:00:00.000000+00:00", "2026-03-03 00:00:00.000000+00:00"
    assert events["dedup_key"][1:].to_list() == [
        f"openai-usage:{start}|{end}||user-8fK2||gpt-5.2-codex|||",
        f"openai-usage:{start}|{end}||user-Bo77||gpt-5.2|false|default|",
    ]


def test_records_of_a_document_are_numbered_and_extra_fields_tolerated() -> None:
    # Bucket 1 holds user-8fK2 and user-Bo77 (with an unknown input_text_tokens); bucket 2 key_svc01.
    events = read(PAGE).events.sort("developer")
    assert events.select("developer", "source_line").rows() == [("key_svc01", 2), ("user-8fK2", 1), ("user-Bo77", 1)]


def test_rejects_name_the_fields_and_the_truncated_line() -> None:
    result = read(PAGES)
    rejects = result.rejects.sort("source_line")
    assert rejects.select("source_line", "reason").rows() == [
        (
            2,
            "results[].input_tokens: 100 is less than input_cached_tokens + input_cache_write_tokens + "
            "input_cache_write_12h_tokens (200); expected it to include them",
        ),
        (3, "not valid JSON (truncated or corrupted line)"),
    ]
    assert json.loads(rejects["raw"][0])["results[].user_id"] == "user-Bo77"


def test_another_result_kind_in_the_page_is_rejected(tmp_path: Path) -> None:
    page = json.loads(HOURLY.read_text())
    page["data"][0]["results"][0]["object"] = "organization.usage.embeddings.result"
    path = tmp_path / "mixed.jsonl"
    path.write_text(json.dumps(page) + "\n")
    assert read(path).rejects["reason"].to_list() == [
        "results[].object: expected organization.usage.completions.result, got 'organization.usage.embeddings.result'"
    ]


def test_user_ids_map_to_people_end_to_end() -> None:
    policy = Policy(identities={"ana": Identity(team="platform", aliases=["user-8fK2"])})
    events = load_events([str(ROOT)], policy, Period()).events
    ana = events.filter(pl.col("developer") == "ana")
    assert ana["cache_read_tokens"].sum() == 90000 + 25000
    assert set(ana["team"]) == {"platform"}


def test_detection_picks_this_reader_and_the_generic_reader_does_not_steal() -> None:
    context = ReadContext(policy=Policy())
    for source in resolve([str(ROOT)]).sources:
        assert detect(source, context).name == "openai-usage"
        assert [reader.name for reader in READERS if reader.detect(source, context).matched] == ["openai-usage"]
    embeddings = Source(
        name="embeddings.json",
        data=b'{"object":"page","data":[{"object":"bucket","start_time":1,"end_time":2,"results":'
        b'[{"object":"organization.usage.embeddings.result","input_tokens":5,"num_model_requests":1}]}]}',
    )
    assert not OpenAIUsageReader().detect(embeddings, context).matched
