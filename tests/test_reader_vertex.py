"""Vertex AI request-response logs: bq extract NDJSON and bq query JSON, Gemini and Claude usage, privacy, rejects."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import FIXTURES, by_developer, run_cli, run_json
from tokenaudit.policy import Policy
from tokenaudit.readers import detect
from tokenaudit.readers.base import ReadContext, ReadResult
from tokenaudit.readers.sources import resolve
from tokenaudit.readers.vertex import VertexRequestResponseReader

ROOT = FIXTURES / "vertex"
EXTRACT, QUERY = ROOT / "bq_extract.json", ROOT / "bq_query.json"
AGENTS_GEMINI = "projects/acme-agents/locations/us-central1/publishers/google/models/gemini-2.5-pro"
AGENTS_CLAUDE = "projects/acme-agents/locations/us-east5/publishers/anthropic/models/claude-sonnet-4-5"
TRIAGE = "projects/acme-mail-triage/locations/europe-west4/publishers/google/models/gemini-2.5-flash"


def read(*inputs: Path, developer: str | None = None) -> ReadResult:
    sources = resolve([str(path) for path in inputs]).sources
    return VertexRequestResponseReader().read(sources, ReadContext(policy=Policy(), developer=developer))


def tokens(inp: int, out: int, cache_read: int, cache_write: int) -> dict[str, int]:
    total = inp + out + cache_read + cache_write
    return {"input": inp, "output": out, "cache_read": cache_read, "cache_write": cache_write, "total": total}


def test_both_exports_are_recognised_as_vertex_logs() -> None:
    context = ReadContext(policy=Policy())
    for source in resolve([str(ROOT)]).sources:
        assert detect(source, context).name == "vertex-ai-logs"


def test_totals_per_endpoint_are_exact_across_extract_and_query_exports() -> None:
    document = run_json("totals", str(EXTRACT), str(QUERY))
    groups = by_developer(document)
    # Call ...001 is in both exports: once. Gemini: prompt 1200 of which 800 cached, 300 candidates + 150 thoughts;
    # call ...003: prompt 100 + 50 tool-use prompt, no candidates (zero counts are left out of the JSON);
    # call ...007 (bq query only, TIMESTAMP as "… UTC", JSON as a string): 2000 in, 100 out.
    assert groups[AGENTS_GEMINI]["tokens"] == tokens(400 + 150 + 2000, 450 + 0 + 100, 800, 0)
    assert groups[AGENTS_GEMINI]["requests"] == 3
    # Claude through rawPredict: Anthropic's usage, input apart from cache reads and writes.
    assert groups[AGENTS_CLAUDE]["tokens"] == tokens(412, 918, 30512, 2048)
    assert groups[AGENTS_CLAUDE]["cost_usd"] == pytest.approx(
        (412 * 3 + 918 * 15 + 30512 * 0.3 + 2048 * 3.75) / 1e6, abs=1e-5
    )  # Sonnet 4.5 at list price, named as Anthropic names it
    assert groups[TRIAGE]["tokens"] == tokens(5000, 700, 0, 0)
    quality = document["data_quality"]
    assert quality["duplicates_dropped"] == 1
    assert quality["rows_rejected"] == 2


def test_models_are_named_as_their_vendor_names_them() -> None:
    events = read(EXTRACT).events
    assert sorted(set(events["model"])) == ["claude-sonnet-4-5-20250929", "gemini-2.5-flash", "gemini-2.5-pro"]
    assert set(events["tool"]) == {"vertex-ai"} and set(events["grain"]) == {"request"}


def test_developer_names_the_owner_of_every_call() -> None:
    events = read(EXTRACT, QUERY, developer="agents@acme.io").events
    assert set(events["developer"]) == {"agents@acme.io"}


def test_rows_without_usable_counts_are_rejected_with_the_field_named() -> None:
    rejects = read(EXTRACT).rejects.sort("source_line")
    assert rejects["source_line"].to_list() == [5, 6]
    assert rejects["reason"].to_list() == [
        "full_response.usageMetadata.promptTokenCount or usage.input_tokens: missing; expected a non-negative integer",
        "full_response.usageMetadata.promptTokenCount: 10 is less than "
        "full_response.usageMetadata.cachedContentTokenCount (20); expected it to include them",
    ]


def test_prompts_and_answers_never_leave_the_reader(tmp_path: Path) -> None:
    result = read(EXTRACT, QUERY)
    text = result.events.write_csv() + result.rejects.write_csv()
    assert "SECRET" not in text
    rejects = tmp_path / "rejects.csv"
    audit = run_cli("audit", str(EXTRACT), str(QUERY), "--format", "json", "--rejects", str(rejects))
    assert audit.exit_code == 0, audit.stderr
    assert "SECRET" not in audit.stdout + audit.stderr + rejects.read_text()
