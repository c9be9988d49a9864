"""Vertex AI request-response logs: the BigQuery table Vertex AI writes one row per logged model call to.

Request-response logging (``setPublisherModelConfig`` with ``loggingConfig``, or the Python SDK's
``set_request_response_logging_config``) writes Gemini calls (``generateContent``, ``streamGenerateContent``) and
Anthropic Claude calls (``rawPredict``, ``streamRawPredict``) to a BigQuery table whose columns are ``endpoint``,
``deployed_model_id``, ``logging_time``, ``request_id``, ``request_payload``, ``response_payload``, ``model``,
``model_version``, ``api_method``, ``full_request``, ``full_response``, ``metadata`` and ``otel_log`` (Google Cloud
docs, "Log requests and responses"; the same columns in Elastic's ``gcp.vertexai_logs`` module). Exported with
``bq extract --destination_format NEWLINE_DELIMITED_JSON`` (JSON columns as objects) or ``bq query --format=json``
(a JSON array; JSON columns as strings): both are read.

Tokens. ``full_response`` carries the vendor's usage: Gemini's ``usageMetadata`` (``promptTokenCount`` includes
``cachedContentTokenCount``; ``toolUsePromptTokenCount`` is input too; ``thoughtsTokenCount`` is billed as output
beside ``candidatesTokenCount``; zero counts are left out of the JSON), or Anthropic's ``usage`` (``input_tokens``
apart from ``cache_read_input_tokens`` and ``cache_creation_input_tokens``). A row with neither is a reject.

Identity. The table names no caller: the developer is ``--owner`` when given, else the ``endpoint`` as logged,
so the policy's ``agents:`` rules can attribute an agent platform's endpoint or project to a team or a person.

Sampling. Logging has a ``samplingRate``: below 1 the table holds a sample, and totals are the sample's.

Privacy. ``full_request``, ``request_payload`` and ``response_payload`` (prompt and answer) are never decoded;
``full_response`` is read only to pick its usage counts and is dropped at once.

Duplicates: ``vertex:<request_id>``, so overlapping exports count each call once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import polars as pl

from tokenaudit.readers import coerce
from tokenaudit.readers.base import Detection, ReadContext, ReadResult
from tokenaudit.readers.pages import net_of, read_records, text_fields
from tokenaudit.readers.parse import fields_as_json
from tokenaudit.readers.sources import Source
from tokenaudit.schema import conform

_RECORD = text_fields("logging_time", "request_id", "endpoint", "model", "api_method", "full_response")
_GEMINI = {
    "prompt": "promptTokenCount",
    "cached": "cachedContentTokenCount",
    "candidates": "candidatesTokenCount",
    "thoughts": "thoughtsTokenCount",
    "tool_use": "toolUsePromptTokenCount",
}
_ANTHROPIC = {
    "input": "input_tokens",
    "output": "output_tokens",
    "cache_read": "cache_read_input_tokens",
    "cache_write": "cache_creation_input_tokens",
}
_FIELDS = {
    "logging_time": "logging_time",
    "request_id": "request_id",
    "endpoint": "endpoint",
    "model": "model",
    **{f"gemini_{name}": f"full_response.usageMetadata.{leaf}" for name, leaf in _GEMINI.items()},
    **{f"anthropic_{name}": f"full_response.usage.{leaf}" for name, leaf in _ANTHROPIC.items()},
}


def _usage_columns() -> list[pl.Expr]:
    """Each usage count of ``full_response`` as text (JSON text whether the column came as an object or a string)."""
    response = pl.col("full_response")
    return [
        *(response.str.json_path_match(f"$.usageMetadata.{leaf}").alias(f"gemini_{n}") for n, leaf in _GEMINI.items()),
        *(response.str.json_path_match(f"$.usage.{leaf}").alias(f"anthropic_{n}") for n, leaf in _ANTHROPIC.items()),
    ]


def _counts() -> pl.Expr:
    """The counts this reader parses, as text, from whichever vendor shape the row has. Gemini leaves zero counts
    out of its JSON (so they default to 0); Anthropic's input and output are required, its cache counts optional."""
    gemini = pl.col("gemini_prompt").is_not_null()
    zero = pl.lit("0")

    def pick(gemini_name: str | None, anthropic_name: str | None, *, anthropic_required: bool = False) -> pl.Expr:
        mine = pl.col(f"gemini_{gemini_name}").fill_null(zero) if gemini_name else zero
        theirs = pl.col(f"anthropic_{anthropic_name}") if anthropic_name else zero
        return pl.when(gemini).then(mine).otherwise(theirs if anthropic_required else theirs.fill_null(zero))

    return pl.struct(
        input_total=pl.coalesce("gemini_prompt", "anthropic_input"),
        cached_included=pick("cached", None),
        tool_use=pick("tool_use", None),
        output=pick("candidates", "output", anthropic_required=True),
        thoughts=pick("thoughts", None),
        cache_read=pick("cached", "cache_read"),
        cache_write=pick(None, "cache_write"),
    ).alias("counts")


def vendor_model(model: pl.Expr) -> pl.Expr:
    """The model as its vendor names it: no resource path, and Vertex's ``@`` version as ``-`` (``claude-…@2025…``)."""
    return model.str.strip_chars().str.replace(r"^.*/", "").str.replace("@", "-", literal=True)


def _parsed(context: ReadContext) -> dict[str, coerce.Parsed]:
    total = coerce.count("input_total", field="full_response.usageMetadata.promptTokenCount or usage.input_tokens")
    uncached = net_of(
        total,
        [coerce.count("cached_included", field=_FIELDS["gemini_cached"])],
        total_field=_FIELDS["gemini_prompt"],
        parts_field=_FIELDS["gemini_cached"],
    )
    tool_use = coerce.count("tool_use", field=_FIELDS["gemini_tool_use"])
    output = coerce.count("output", field="full_response.usageMetadata.candidatesTokenCount or usage.output_tokens")
    thoughts = coerce.count("thoughts", field=_FIELDS["gemini_thoughts"])
    owner = pl.lit(context.developer) if context.developer else pl.col("endpoint")
    return {
        "timestamp": coerce.timestamp("logging_time", "UTC"),
        "request_id": coerce.text("request_id", required=True),
        "developer": coerce.Parsed(
            owner, pl.when(owner.is_null()).then(pl.lit("endpoint: missing; pass --owner to name the owner"))
        ),
        "model": coerce.Parsed(vendor_model(pl.col("model")), pl.lit(None, pl.String)),
        "input_tokens": coerce.Parsed(
            uncached.value + tool_use.value, pl.coalesce(total.problem, uncached.problem, tool_use.problem)
        ),
        "output_tokens": coerce.Parsed(output.value + thoughts.value, pl.coalesce(output.problem, thoughts.problem)),
        "cache_read_tokens": coerce.count("cache_read", field="cachedContentTokenCount or cache_read_input_tokens"),
        "cache_write_tokens": coerce.count("cache_write", field=_FIELDS["anthropic_cache_write"]),
    }


class VertexRequestResponseReader:
    """Vertex AI request-response logs (BigQuery export), one row per logged Gemini or Claude call."""

    name: ClassVar[str] = "vertex-ai-logs"
    title: ClassVar[str] = "Vertex AI request-response logs (BigQuery table export, JSON)"
    exported_by: ClassVar[str] = (
        "bq extract --destination_format NEWLINE_DELIMITED_JSON PROJECT:DATASET.TABLE gs://BUCKET/vertex-*.json "
        "and gcloud storage cp, or bq query --format=json --max_rows=1000000 'SELECT logging_time, request_id, "
        "endpoint, model, api_method, full_response FROM `PROJECT.DATASET.TABLE` WHERE logging_time >= ...' "
        "> vertex.json (leave full_request out: it holds the prompts)"
    )
    limits: ClassVar[str] = (
        "only calls made while request-response logging was on, and only the sampled share when its samplingRate "
        "is below 1; no caller identity (the endpoint, or --owner; attribute an agent platform's endpoint with "
        "agents: rules); no cost in the log (priced from the price table); no session id; prompts are not read, so "
        "no prompt signature"
    )

    def detect(self, source: Source, context: ReadContext) -> Detection:
        """Rows with the table's ``logging_time`` and ``full_response`` (or ``api_method``) columns."""
        text = source.head_text()
        if '"logging_time"' in text and ('"full_response"' in text or '"api_method"' in text):
            return Detection(True)
        return Detection(False, 'no Vertex AI request-response log rows ("logging_time", "full_response")')

    def read(self, sources: Sequence[Source], context: ReadContext) -> ReadResult:
        """Every logged call of every file, one request row each."""
        records, invalid = read_records(sources, _RECORD)
        rows = (
            records.with_columns(
                # bq query writes TIMESTAMP columns as "2026-03-02 14:05:11.482 UTC".
                pl.col("logging_time").str.replace(r"\s+UTC$", "Z"),
                *_usage_columns(),
            )
            .drop("full_response")
            .with_columns(_counts())
            .unnest("counts")
        )
        good, rejects = coerce.split_rejects(rows, _parsed(context), raw=fields_as_json(_FIELDS))
        events = good.with_columns(
            dedup_key=pl.lit("vertex:") + pl.col("request_id"),
            tool=pl.lit("vertex-ai"),
            grain=pl.lit("request"),
            requests=pl.lit(1),
            source_format=pl.lit(self.name),
        )
        collected, rejected = pl.collect_all([conform(events), rejects])
        return ReadResult(events=collected, rejects=pl.concat([invalid, rejected], how="vertical"))
