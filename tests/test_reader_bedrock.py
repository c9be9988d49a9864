"""Amazon Bedrock invocation logs: S3 delivery and CloudWatch export, ARNs, cache tokens, privacy, rejects."""

from __future__ import annotations

import gzip
from pathlib import Path

import polars as pl
import pytest

from tests.helpers import FIXTURES, by_developer, run_json
from tokenaudit.policy import Policy
from tokenaudit.readers import detect
from tokenaudit.readers.base import ReadContext, ReadResult
from tokenaudit.readers.bedrock import BedrockInvocationLogReader
from tokenaudit.readers.sources import resolve

ROOT = FIXTURES / "bedrock"
S3 = ROOT / "s3"
EXPORT = next((ROOT / "cloudwatch").rglob("000000.gz"))
ANA = "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Developer_5c1e9a7b2d3f4e60/ana@acme.io"
BO = "arn:aws:iam::111122223333:user/bo.lee"
DEPLOY = "arn:aws:sts::111122223333:assumed-role/deploy-agent/botocore-session-1772460000"
TRIAGE = "arn:aws:sts::111122223333:assumed-role/mail-triage-agent/i-0a1b2c3d4e5f"


def read(*inputs: Path) -> ReadResult:
    sources = resolve([str(path) for path in inputs]).sources
    return BedrockInvocationLogReader().read(sources, ReadContext(policy=Policy()))


def tokens(inp: int, out: int, cache_read: int, cache_write: int) -> dict[str, int]:
    total = inp + out + cache_read + cache_write
    return {"input": inp, "output": out, "cache_read": cache_read, "cache_write": cache_write, "total": total}


def test_totals_per_caller_are_exact_across_s3_delivery_and_cloudwatch_export() -> None:
    document = run_json("totals", str(S3), str(EXPORT))
    groups = by_developer(document)
    # ana's call is in both deliveries (same requestId): counted once, with its cache reads and writes.
    assert groups[ANA]["tokens"] == tokens(412, 918, 30512, 2048)
    assert groups[ANA]["requests"] == 1
    # Sonnet 4.5 at list price: $3 input, $15 output, $0.30 cache read, $3.75 cache write per million.
    assert groups[ANA]["cost_usd"] == pytest.approx((412 * 3 + 918 * 15 + 30512 * 0.3 + 2048 * 3.75) / 1e6, abs=1e-5)
    assert groups[BO]["tokens"] == tokens(1200, 300, 0, 0)
    # Amazon Nova Micro, priced by genai-prices as Bedrock lists it: $0.035 input, $0.14 output per million.
    assert groups[BO]["cost_usd"] == pytest.approx((1200 * 0.035 + 300 * 0.14) / 1e6, abs=1e-9)
    # The agent role: one call plus a throttled one (kept, zero tokens).
    assert groups[DEPLOY]["tokens"] == tokens(5000, 700, 20000, 0)
    assert groups[DEPLOY]["requests"] == 2
    assert groups[TRIAGE]["tokens"] == tokens(3000, 250, 0, 6000)
    quality = document["data_quality"]
    assert quality["duplicates_dropped"] == 1
    assert quality["rows_rejected"] == 2
    assert quality["unpriced_models"] == []  # Nova is priced by genai-prices (issue 15)


def test_models_are_named_as_their_vendor_names_them() -> None:
    events = read(S3).events
    models = dict(zip(events["request_id"], events["model"], strict=True))
    assert models["915a6a04-3f83-4c70-a277-7fbf7ea546b3"] == "claude-sonnet-4-5-20250929"  # us. inference profile
    assert models["7e0c4b1a-3d2f-4c8e-b6a9-0f1e2d3c4b5a"] == "claude-haiku-4-5-20251001"  # inference-profile ARN
    assert models["2c7d1f0e-0b55-4f7e-9a51-6a3f8e1d2c44"] == "amazon.nova-micro-v1:0"  # other vendors as logged


def test_rows_are_requests_with_utc_time_and_their_line() -> None:
    row = read(EXPORT).events.filter(pl.col("developer") == TRIAGE).row(0, named=True)
    assert (row["tool"], row["grain"], row["requests"], row["source_format"]) == (
        "bedrock",
        "request",
        1,
        "bedrock-invocations",
    )
    assert row["timestamp"].isoformat() == "2026-03-03T09:12:30+00:00"
    assert row["source_line"] == 2
    assert row["dedup_key"] == "bedrock:a1b2c3d4-0000-4aaa-8bbb-cccccccccccc"


def test_bad_records_are_rejected_with_their_line_and_field() -> None:
    rejects = read(S3, EXPORT).rejects.sort("source_line")
    reasons = dict(zip(rejects["source_line"], rejects["reason"], strict=True))
    assert reasons[5] == "output.outputTokenCount: missing; expected a non-negative integer"
    assert reasons[3] == "not valid JSON (truncated or corrupted line)"


def test_prompts_and_answers_never_leave_the_reader() -> None:
    result = read(S3, EXPORT)
    for frame in (result.events, result.rejects):
        text = frame.write_csv()
        assert "SECRET" not in text
        assert "4111" not in text


def test_detected_from_content_in_both_deliveries(tmp_path: Path) -> None:
    context = ReadContext(policy=Policy())
    for source in resolve([str(S3), str(EXPORT)]).sources:
        assert detect(source, context).name == "bedrock-invocations"
    # A pretty-printed record copied from the console is one document.
    record = gzip.decompress(next(S3.rglob("*.json.gz")).read_bytes()).decode().splitlines()[1]
    pretty = tmp_path / "one.json"
    pretty.write_text(record.replace(',"', ',\n  "'))
    events = read(pretty).events
    assert events["developer"].to_list() == [BO]
    assert events["input_tokens"].to_list() == [1200]
