"""Anthropic Admin API usage reports, as saved pages: the Claude Code Analytics report and Messages usage.

Both answer ``{"data": [...], "has_more": ..., "next_page": ...}``; a file may hold one page (a JSON
document), several pages (JSON Lines) or the ``data`` records alone (JSON Lines), see
:mod:`tokenaudit.readers.pages`. Days and buckets are UTC, whatever ``--tz`` says.

**Claude Code Analytics** (``GET /v1/organizations/usage_report/claude_code``): one record per UTC day,
actor and terminal. The developer is ``actor.email_address`` (OAuth users), else ``actor.api_key_name``.
Each ``model_breakdown[]`` entry becomes one ``day`` row with that model's ``tokens.input`` (uncached),
``output``, ``cache_read`` and ``cache_creation``, and ``estimated_cost.amount`` (USD *cents*, converted
to dollars). The report counts no requests, so ``requests`` is null. ``tool_actions.{edit_tool,
multi_edit_tool,write_tool,notebook_edit_tool}.{accepted,rejected}`` are summed onto one extra row per
record with no model and zero tokens (and zero cost): keeping them off the model rows means that two
exports listing a day's models differently can never count the same decisions twice. ``core_metrics``
(sessions, lines of code, commits, pull requests) is not read yet: the event schema has no place for
outcomes. Duplicates: ``claude-code-analytics:<day>|<email:… or key:…>|<terminal_type>|<model>``, with
``tool_actions`` in place of the model for the decisions row.

**Messages usage** (``GET /v1/organizations/usage_report/messages``): ``data[]`` buckets of
``results[]``. Each result is one row: ``uncached_input_tokens``, ``output_tokens``,
``cache_read_input_tokens`` and, as cache writes, ``cache_creation.ephemeral_5m_input_tokens`` +
``ephemeral_1h_input_tokens``. The group keys are null unless the report was grouped by them; the
developer is the first present of ``api_key_id`` (map keys to people in the policy's identities),
``account_id``, ``service_account_id`` and ``workspace_id``, else ``(ungrouped)``. The grain is ``day``
for ``1d`` buckets and ``hour`` for ``1h`` and ``1m`` buckets (the schema has no minute grain; both are
aggregates without request timing). The report has no request count and no cost: ``requests`` is null
and the price table prices the rows. Duplicates: ``anthropic-messages-usage:<bucket start>|<bucket
end>|<every group key>``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import ClassVar

import polars as pl

from tokenaudit.readers import coerce
from tokenaudit.readers.base import Detection, ReadContext, ReadResult
from tokenaudit.readers.pages import (
    bucket_grain,
    explode_records,
    first_present,
    joined_key,
    read_records,
    text_fields,
)
from tokenaudit.readers.parse import fields_as_json
from tokenaudit.readers.sources import Source
from tokenaudit.schema import conform

_TOOLS = ("edit_tool", "multi_edit_tool", "write_tool", "notebook_edit_tool")
_DECISIONS = ("accepted", "rejected")
_ANALYTICS_RECORD = text_fields(
    "date",
    "terminal_type",
    actor=text_fields("type", "email_address", "api_key_name"),
    tool_actions=pl.Struct({tool: text_fields(*_DECISIONS) for tool in _TOOLS}),
    model_breakdown=pl.List(
        text_fields(
            "model",
            tokens=text_fields("input", "output", "cache_read", "cache_creation"),
            estimated_cost=text_fields("currency", "amount"),
        )
    ),
)
_ANALYTICS_FIELDS = {
    "date": "date",
    "email": "actor.email_address",
    "key_name": "actor.api_key_name",
    "terminal_type": "terminal_type",
    "model": "model_breakdown[].model",
    "input": "model_breakdown[].tokens.input",
    "output": "model_breakdown[].tokens.output",
    "cache_read": "model_breakdown[].tokens.cache_read",
    "cache_creation": "model_breakdown[].tokens.cache_creation",
    "currency": "model_breakdown[].estimated_cost.currency",
    "amount": "model_breakdown[].estimated_cost.amount",
    **{f"{tool}_{decision}": f"tool_actions.{tool}.{decision}" for tool in _TOOLS for decision in _DECISIONS},
}
_DECISIONS_ROW = "tool_actions"

_GROUP_KEYS = (
    "api_key_id",
    "account_id",
    "service_account_id",
    "workspace_id",
    "model",
    "service_tier",
    "context_window",
    "inference_geo",
    "speed",
)
_MESSAGES_BUCKET = text_fields(
    "starting_at",
    "ending_at",
    results=pl.List(
        text_fields(
            *_GROUP_KEYS,
            "uncached_input_tokens",
            "cache_read_input_tokens",
            "output_tokens",
            cache_creation=text_fields("ephemeral_5m_input_tokens", "ephemeral_1h_input_tokens"),
        )
    ),
)
_MESSAGES_FIELDS = {
    "starting_at": "starting_at",
    "ending_at": "ending_at",
    **{key: f"results[].{key}" for key in _GROUP_KEYS},
    "uncached_input_tokens": "results[].uncached_input_tokens",
    "output_tokens": "results[].output_tokens",
    "cache_read_input_tokens": "results[].cache_read_input_tokens",
    "cache_5m": "results[].cache_creation.ephemeral_5m_input_tokens",
    "cache_1h": "results[].cache_creation.ephemeral_1h_input_tokens",
}
_EMPTY_PAGE = re.compile(r'^\s*\{\s*"data"\s*:\s*\[\s*\]\s*,\s*"has_more"')


def _is_json(text: str) -> bool:
    return text.startswith(("{", "["))


class ClaudeCodeAnalyticsReader:
    """Claude Code Analytics Admin API pages: per actor, terminal and UTC day, one row per model."""

    name: ClassVar[str] = "claude-code-analytics"
    title: ClassVar[str] = "Claude Code Analytics API (Admin API usage_report/claude_code pages)"
    exported_by: ClassVar[str] = (
        "curl 'https://api.anthropic.com/v1/organizations/usage_report/claude_code?starting_at=YYYY-MM-DD"
        "&limit=1000' -H 'anthropic-version: 2023-06-01' -H \"x-api-key: $ADMIN_API_KEY\" (one UTC day per call; "
        "follow next_page; save each page, or each page as one line)"
    )
    limits: ClassVar[str] = (
        "daily aggregates per actor and terminal: no request timing or counts; costs are Anthropic's estimates; "
        "API-key actors are known by key name only; Bedrock/Vertex usage is missing; sessions, lines and "
        "commits (core_metrics) are not read yet"
    )

    def detect(self, source: Source, context: ReadContext) -> Detection:
        """A page or record with an ``actor`` and Claude Code's ``model_breakdown``/``tool_actions``."""
        text = source.head_text().lstrip()
        if not _is_json(text):
            return Detection(False, "not JSON")
        if '"actor"' in text and ('"model_breakdown"' in text or '"tool_actions"' in text):
            return Detection(True)
        if _EMPTY_PAGE.match(text):
            return Detection(True)  # an Anthropic report page for a day without usage: nothing to count
        return Detection(False, "no Claude Code Analytics records (actor with model_breakdown)")

    def read(self, sources: Sequence[Source], context: ReadContext) -> ReadResult:
        """Model rows plus one tool-decision row per record, in dollars, at day grain."""
        records, invalid = read_records(sources, _ANALYTICS_RECORD)
        actor = pl.col("actor").struct.field
        base = records.with_columns(
            email=actor("email_address"),
            key_name=actor("api_key_name"),
            **{
                f"{tool}_{decision}": pl.col("tool_actions").struct.field(tool).struct.field(decision)
                for tool in _TOOLS
                for decision in _DECISIONS
            },
        ).drop("actor", "tool_actions")
        decision_columns = [f"{tool}_{decision}" for tool in _TOOLS for decision in _DECISIONS]
        per_model = explode_records(base.drop(decision_columns), "model_breakdown").select(
            pl.exclude("tokens", "estimated_cost"),
            *[pl.col("tokens").struct.field(name) for name in ("input", "output", "cache_read", "cache_creation")],
            *[pl.col("estimated_cost").struct.field(name) for name in ("currency", "amount")],
        )
        decisions = (
            base.drop("model_breakdown")
            .filter(pl.any_horizontal([pl.col(name).is_not_null() for name in decision_columns]))
            .with_columns(
                model=pl.lit(None, pl.String),
                amount=pl.lit("0"),
                **{name: pl.lit("0") for name in ("input", "output", "cache_read", "cache_creation")},
            )
        )
        rows = pl.concat(
            [
                per_model.with_columns(kind=pl.lit("model")),
                decisions.with_columns(kind=pl.lit(_DECISIONS_ROW)),
            ],
            how="diagonal",
        ).with_columns(identity=first_present("email", "key_name"))
        good, rejects = coerce.split_rejects(rows, _analytics_parsed(), raw=fields_as_json(_ANALYTICS_FIELDS))
        counted = pl.when(pl.col("kind") == _DECISIONS_ROW)
        events = good.with_columns(
            accepted=counted.then(pl.sum_horizontal([f"{tool}_accepted" for tool in _TOOLS])),
            rejected=counted.then(pl.sum_horizontal([f"{tool}_rejected" for tool in _TOOLS])),
            identity_kind=pl.when(pl.col("email").is_not_null()).then(pl.lit("email:")).otherwise(pl.lit("key:")),
            tool=pl.lit("claude-code"),
            grain=pl.lit("day"),
            requests=pl.lit(None, pl.Int64),
            source_format=pl.lit(self.name),
        ).with_columns(
            pl.concat_str("identity_kind", "developer").alias("actor_key"),
            pl.coalesce("model", "kind").alias("row_key"),
        )
        keyed = events.with_columns(
            joined_key("claude-code-analytics", "timestamp", "actor_key", "terminal_type", "row_key")
        )
        collected, rejected = pl.collect_all([conform(keyed), rejects])
        return ReadResult(events=collected, rejects=pl.concat([invalid, rejected], how="vertical"))


def _analytics_parsed() -> dict[str, coerce.Parsed]:
    currency = pl.col("currency").str.strip_chars()
    return {
        "timestamp": coerce.timestamp("date", "UTC", field="date"),
        "developer": coerce.text("identity", field="actor.email_address (or actor.api_key_name)", required=True),
        "email": coerce.text("email"),
        "terminal_type": coerce.text("terminal_type"),
        "kind": coerce.text("kind"),
        "model": coerce.text("model", field=_ANALYTICS_FIELDS["model"]),
        "input_tokens": coerce.count("input", field=_ANALYTICS_FIELDS["input"]),
        "output_tokens": coerce.count("output", field=_ANALYTICS_FIELDS["output"]),
        "cache_read_tokens": coerce.count("cache_read", field=_ANALYTICS_FIELDS["cache_read"], required=False),
        "cache_write_tokens": coerce.count("cache_creation", field=_ANALYTICS_FIELDS["cache_creation"], required=False),
        "currency": coerce.Parsed(
            currency,
            pl.when(currency.is_not_null() & (currency.str.to_uppercase() != "USD")).then(
                pl.lit(f"{_ANALYTICS_FIELDS['currency']}: expected USD, got '") + currency + pl.lit("'")
            ),
        ),
        "cost_usd": coerce.money("amount", field=_ANALYTICS_FIELDS["amount"], scale=0.01),
        **{
            name: coerce.count(name, field=path, required=False)
            for name, path in _ANALYTICS_FIELDS.items()
            if name.endswith(_DECISIONS)
        },
    }


class AnthropicMessagesUsageReader:
    """Anthropic Messages usage report pages: one row per bucket and group."""

    name: ClassVar[str] = "anthropic-messages-usage"
    title: ClassVar[str] = "Anthropic Messages usage report (Admin API usage_report/messages pages)"
    exported_by: ClassVar[str] = (
        "curl 'https://api.anthropic.com/v1/organizations/usage_report/messages?starting_at=<RFC 3339>"
        "&bucket_width=1d&group_by[]=api_key_id&group_by[]=model' -H 'anthropic-version: 2023-06-01' "
        '-H "x-api-key: $ADMIN_API_KEY" (follow next_page; save each page, or each page as one line)'
    )
    limits: ClassVar[str] = (
        "time buckets per group: no request timing or counts, no cost (priced from the price table); "
        "no person unless grouped by api_key_id or account_id (map key ids to people in the policy); "
        "Claude Code traffic on API keys is also in the Claude Code Analytics report: read one or the other; "
        "do not mix bucket widths for the same period"
    )

    def detect(self, source: Source, context: ReadContext) -> Detection:
        """Buckets of results with ``uncached_input_tokens`` (or empty buckets that are not a cost report)."""
        text = source.head_text().lstrip()
        if not _is_json(text):
            return Detection(False, "not JSON")
        if '"uncached_input_tokens"' in text:
            return Detection(True)
        if '"starting_at"' in text and '"results"' in text and '"currency"' not in text:
            return Detection(True)
        return Detection(False, "no Messages usage buckets (results with uncached_input_tokens)")

    def read(self, sources: Sequence[Source], context: ReadContext) -> ReadResult:
        """Every result of every bucket; cache writes are the 5-minute plus the 1-hour writes (kept apart too)."""
        buckets, invalid = read_records(sources, _MESSAGES_BUCKET)
        rows = (
            explode_records(buckets, "results")
            .with_columns(
                cache_5m=pl.col("cache_creation").struct.field("ephemeral_5m_input_tokens"),
                cache_1h=pl.col("cache_creation").struct.field("ephemeral_1h_input_tokens"),
            )
            .with_columns(identity=first_present("api_key_id", "account_id", "service_account_id", "workspace_id"))
        )
        fields = _MESSAGES_FIELDS
        parsed = {
            "timestamp": coerce.timestamp("starting_at", "UTC", field="starting_at"),
            "ending_at": coerce.timestamp("ending_at", "UTC", field="ending_at"),
            "developer": coerce.Parsed(pl.col("identity").fill_null("(ungrouped)"), pl.lit(None, pl.String)),
            **{key: coerce.text(key) for key in _GROUP_KEYS},
            "input_tokens": coerce.count("uncached_input_tokens", field=fields["uncached_input_tokens"]),
            "output_tokens": coerce.count("output_tokens", field=fields["output_tokens"]),
            "cache_read_tokens": coerce.count(
                "cache_read_input_tokens", field=fields["cache_read_input_tokens"], required=False
            ),
            "cache_5m": coerce.count("cache_5m", field=fields["cache_5m"], required=False),
            "cache_1h": coerce.count("cache_1h", field=fields["cache_1h"], required=False),
        }
        good, rejects = coerce.split_rejects(rows, parsed, raw=fields_as_json(fields))
        events = good.with_columns(
            joined_key("anthropic-messages-usage", "timestamp", "ending_at", *_GROUP_KEYS),
            cache_write_tokens=pl.col("cache_5m") + pl.col("cache_1h"),
            cache_write_1h_tokens=pl.col("cache_1h"),
            grain=bucket_grain("timestamp", "ending_at"),
            tool=pl.lit("anthropic-api"),
            requests=pl.lit(None, pl.Int64),
            source_format=pl.lit(self.name),
        )
        collected, rejected = pl.collect_all([conform(events), rejects])
        return ReadResult(events=collected, rejects=pl.concat([invalid, rejected], how="vertical"))
