"""Azure OpenAI through Azure API Management: the ``ApiManagementGatewayLlmLog`` table, one row per model call.

API Management's LLM logging (a diagnostic setting sending "Logs related to generative AI gateway" to a Log
Analytics workspace) writes each call to the table ``ApiManagementGatewayLlmLog``: ``TimeGenerated``,
``CorrelationId`` (the same request's id in ``ApiManagementGatewayLogs``), ``RequestId``, ``DeploymentName``,
``ModelName``, ``OperationName``, ``PromptTokens``, ``CompletionTokens``, ``TotalTokens``, ``IsStreamCompletion``,
``SequenceNumber``, ``RequestMessages``/``ResponseMessages`` (Azure Monitor table reference). It names no caller:
Microsoft's own billing query joins ``ApiManagementGatewayLogs`` on ``CorrelationId`` for ``ApimSubscriptionId``,
the API Management subscription (one key per application or consumer). That join, exported with
``az monitor log-analytics query … -o json`` (a JSON array of rows; JSON Lines of rows too), is what this reads.

Tokens. OpenAI's counts: ``PromptTokens`` includes cached prompt tokens (the table does not split them, so cached
input is priced as input), ``CompletionTokens`` includes reasoning tokens. A row whose ``TotalTokens`` is not
their sum is a reject.

Identity. ``ApimSubscriptionId`` (or ``SubscriptionId``, the name Microsoft's sample query gives it; never the
Azure ``_SubscriptionId``): map subscriptions to people or, for an agent platform's key, to a team with the
policy's ``agents:`` rules. A row without one belongs to ``--owner``, else it is a reject.

Duplicates: ``azure-openai:<CorrelationId>`` (else ``RequestId``). A large request logged as several entries
(``SequenceNumber``) counts once, with its largest counts, and so does a row that the join repeated.

Privacy. ``RequestMessages`` and ``ResponseMessages`` (prompt and completion, when message logging is on) are
never decoded; leave them out of the query (``project-away``) so they never leave the workspace either.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import polars as pl

from tokenaudit.readers import coerce
from tokenaudit.readers.base import Detection, ReadContext, ReadResult
from tokenaudit.readers.pages import first_present, read_records, text_fields
from tokenaudit.readers.parse import fields_as_json
from tokenaudit.readers.sources import Source
from tokenaudit.schema import conform

_COLUMNS = (
    "TimeGenerated",
    "CorrelationId",
    "RequestId",
    "DeploymentName",
    "ModelName",
    "PromptTokens",
    "CompletionTokens",
    "TotalTokens",
    "ApimSubscriptionId",
    "SubscriptionId",
)
_FIELDS = {name: name for name in _COLUMNS}
_SUBSCRIPTION = "ApimSubscriptionId (or SubscriptionId)"


def _parsed(context: ReadContext) -> dict[str, coerce.Parsed]:
    prompt, completion = coerce.count("PromptTokens"), coerce.count("CompletionTokens")
    total = coerce.count("TotalTokens", required=False)
    summed = prompt.value + completion.value
    mismatch = pl.when(total.value.is_not_null() & (total.value != summed)).then(
        pl.format(
            "TotalTokens: {} is not PromptTokens + CompletionTokens ({}); expected their sum", total.value, summed
        )
    )
    subscription = first_present("ApimSubscriptionId", "SubscriptionId")
    owner = pl.coalesce(subscription, pl.lit(context.developer, pl.String))
    return {
        "timestamp": coerce.timestamp("TimeGenerated", "UTC"),
        "request_key": coerce.Parsed(
            first_present("CorrelationId", "RequestId"),
            pl.when(first_present("CorrelationId", "RequestId").is_null()).then(
                pl.lit("CorrelationId: missing; expected the request's id (or RequestId)")
            ),
        ),
        "request_id": coerce.text("RequestId"),
        "developer": coerce.Parsed(
            owner,
            pl.when(owner.is_null()).then(
                pl.lit(
                    f"{_SUBSCRIPTION}: missing; join ApiManagementGatewayLogs on CorrelationId (see the README) "
                    "or pass --owner"
                )
            ),
        ),
        "model": coerce.Parsed(first_present("ModelName"), pl.lit(None, pl.String)),
        "input_tokens": prompt,
        "output_tokens": coerce.Parsed(completion.value, pl.coalesce(completion.problem, total.problem, mismatch)),
    }


class AzureOpenAIGatewayReader:
    """Azure OpenAI calls logged by API Management (ApiManagementGatewayLlmLog rows), one row per call."""

    name: ClassVar[str] = "azure-openai-apim"
    title: ClassVar[str] = "Azure OpenAI via API Management LLM logs (ApiManagementGatewayLlmLog rows, JSON)"
    exported_by: ClassVar[str] = (
        "az monitor log-analytics query -w <workspace id> -t P30D -o json --analytics-query "
        '"ApiManagementGatewayLlmLog | join kind=leftouter (ApiManagementGatewayLogs | project CorrelationId, '
        'ApimSubscriptionId) on CorrelationId | project-away RequestMessages, ResponseMessages" > azure-openai.json'
    )
    limits: ClassVar[str] = (
        "only calls through an API Management gateway with LLM logging on; identity is the API Management "
        "subscription (map it to a person, or to a team with agents: rules); cached prompt tokens are not "
        "split out (priced as input); no cost in the log; no session id; prompts are not read, so no prompt "
        "signature; direct calls to the Azure OpenAI resource have per-deployment metrics only, not read"
    )

    def detect(self, source: Source, context: ReadContext) -> Detection:
        """JSON rows with the table's ``PromptTokens``, ``CompletionTokens`` and ``CorrelationId`` columns."""
        text = source.head_text()
        if not text.lstrip().startswith(("{", "[")):
            return Detection(False, "not JSON (export with az monitor log-analytics query -o json)")
        if '"PromptTokens"' in text and '"CompletionTokens"' in text and '"CorrelationId"' in text:
            return Detection(True)
        return Detection(False, 'no ApiManagementGatewayLlmLog rows ("PromptTokens", "CorrelationId")')

    def read(self, sources: Sequence[Source], context: ReadContext) -> ReadResult:
        """Every logged call of every file, one request row each."""
        rows, invalid = read_records(sources, text_fields(*_COLUMNS))
        good, rejects = coerce.split_rejects(rows, _parsed(context), raw=fields_as_json(_FIELDS))
        events = good.with_columns(
            dedup_key=pl.lit("azure-openai:") + pl.col("request_key"),
            request_id=pl.coalesce("request_id", "request_key"),
            tool=pl.lit("azure-openai"),
            grain=pl.lit("request"),
            requests=pl.lit(1),
            cache_read_tokens=pl.lit(0),
            cache_write_tokens=pl.lit(0),
            source_format=pl.lit(self.name),
        )
        collected, rejected = pl.collect_all([conform(events), rejects])
        return ReadResult(events=collected, rejects=pl.concat([invalid, rejected], how="vertical"))
