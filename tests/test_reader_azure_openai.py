"""Azure OpenAI through API Management: ApiManagementGatewayLlmLog rows from az CLI JSON and JSON Lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import FIXTURES, by_developer, run_cli, run_json
from tokenaudit.policy import Policy
from tokenaudit.readers import detect
from tokenaudit.readers.azure_openai import AzureOpenAIGatewayReader
from tokenaudit.readers.base import ReadContext, ReadResult
from tokenaudit.readers.sources import resolve

ROOT = FIXTURES / "azure_openai"
AZ, LINES = ROOT / "llm_log_az.json", ROOT / "llm_log.jsonl"


def read(*inputs: Path, developer: str | None = None) -> ReadResult:
    sources = resolve([str(path) for path in inputs]).sources
    return AzureOpenAIGatewayReader().read(sources, ReadContext(policy=Policy(), developer=developer))


def tokens(inp: int, out: int) -> dict[str, int]:
    return {"input": inp, "output": out, "cache_read": 0, "cache_write": 0, "total": inp + out}


def test_both_exports_are_recognised() -> None:
    context = ReadContext(policy=Policy())
    assert {detect(source, context).name for source in resolve([str(ROOT)]).sources} == {"azure-openai-apim"}


def test_totals_per_subscription_are_exact_across_overlapping_exports() -> None:
    document = run_json("totals", str(AZ), str(LINES))
    groups = by_developer(document)
    # c-0001 is in both files: once; c-0006 names its subscription SubscriptionId (Microsoft's sample query).
    assert groups["ana-subscription"]["tokens"] == tokens(1200 + 20000, 300 + 1000)
    assert groups["ana-subscription"]["requests"] == 2
    # c-0002 was logged as two entries (SequenceNumber 0 and 1): one call.
    assert groups["deploy-agent-key"]["tokens"] == tokens(5000, 700)
    assert groups["deploy-agent-key"]["requests"] == 1
    assert groups["bo-subscription"]["tokens"] == tokens(800, 2400)
    # gpt-4o at list price ($2.50 input, $10 output per million).
    assert groups["deploy-agent-key"]["cost_usd"] == pytest.approx((5000 * 2.5 + 700 * 10) / 1e6, abs=1e-6)
    quality = document["data_quality"]
    assert quality["duplicates_dropped"] == 2
    assert quality["rows_rejected"] == 2


def test_a_row_without_a_subscription_is_rejected_unless_developer_names_its_owner() -> None:
    rejects = read(AZ).rejects.sort("source_line")
    assert rejects["source_line"].to_list() == [5, 6]
    assert rejects["reason"].to_list() == [
        "ApimSubscriptionId (or SubscriptionId): missing; join ApiManagementGatewayLogs on CorrelationId "
        "(see the README) or pass --owner",
        "TotalTokens: 200 is not PromptTokens + CompletionTokens (150); expected their sum",
    ]
    owned = read(AZ, developer="platform@acme.io")
    assert owned.rejects.height == 1
    assert owned.events.filter(developer="platform@acme.io")["input_tokens"].to_list() == [100]
    # A row that names its subscription keeps it: --owner only owns rows that name nobody.
    assert "bo-subscription" in set(owned.events["developer"])


def test_prompts_never_leave_the_reader(tmp_path: Path) -> None:
    result = read(AZ, LINES)
    assert "SECRET" not in result.events.write_csv() + result.rejects.write_csv()
    rejects = tmp_path / "rejects.csv"
    audit = run_cli("audit", str(AZ), str(LINES), "--format", "json", "--rejects", str(rejects))
    assert audit.exit_code == 0, audit.stderr
    assert "SECRET" not in audit.stdout + audit.stderr + rejects.read_text()
