"""Windsurf (Codeium) Cascade analytics: the Analytics API's ``CascadeAnalytics`` answer, one user per file.

``POST https://server.codeium.com/api/v1/CascadeAnalytics`` with a ``cascade_runs`` query request answers
``{"queryResults": [{"cascadeRuns": {"cascadeRuns": [{day, model, mode, messagesSent, cascadeId,
promptsUsed}]}}]}`` (docs.windsurf.com, "Get Cascade Analytics"). Each run row is one Cascade conversation's
use of one model on one UTC day. **The rows name no user**: the API filters by ``emails`` instead, so export
one user per call and keep each answer in a folder named after the user, e.g.
``exports/ana@acme.io/windsurf/cascade-2026-03.json`` (or pass ``--owner``, or set ``owner_pattern``;
see :mod:`tokenaudit.readers.owner`). A team-wide answer has no owner and is refused rather than guessed.

What a row holds: ``messagesSent`` (the prompts sent: ``requests``), ``model``, ``mode`` and ``cascadeId``
(the conversation: ``session_id``). **Windsurf reports no tokens**: rows carry zero tokens and a null cost, at
day grain, like Copilot's IDE rows, so they count requests and active days without inventing tokens.
``promptsUsed`` is credits (hundredths of a credit), a plan unit, not dollars: it is not turned into a cost.
``cascadeLines`` and ``cascadeToolUsage`` results are not per conversation and are not read.

Duplicates: ``windsurf:<owner>|<day>|<cascadeId>|<model>|<mode>``, so overlapping exports count once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import polars as pl

from tokenaudit.readers import coerce
from tokenaudit.readers.base import Detection, ReadContext, ReadResult
from tokenaudit.readers.owner import owner_column
from tokenaudit.readers.pages import explode_records, joined_key, read_records, text_fields
from tokenaudit.readers.parse import fields_as_json
from tokenaudit.readers.sources import Source
from tokenaudit.schema import conform

_RUN = text_fields("day", "model", "mode", "messagesSent", "cascadeId", "promptsUsed")
_RESULT = text_fields(cascadeRuns=pl.Struct({"cascadeRuns": pl.List(_RUN)}))
_FIELDS = {name: f"cascadeRuns.{name}" for name in ("day", "model", "mode", "messagesSent", "cascadeId")}
_ANCHORS = ("windsurf",)


class WindsurfCascadeReader:
    """Windsurf Cascade analytics (CascadeAnalytics cascade_runs): day rows of messages, no tokens."""

    name: ClassVar[str] = "windsurf-cascade"
    title: ClassVar[str] = "Windsurf (Codeium) Cascade analytics, cascade_runs (Analytics API CascadeAnalytics answers)"
    exported_by: ClassVar[str] = (
        "curl -X POST https://server.codeium.com/api/v1/CascadeAnalytics -H 'Content-Type: application/json' "
        '-d \'{"service_key":"<key>","emails":["ana@acme.io"],"start_timestamp":"2026-03-01T00:00:00Z",'
        '"end_timestamp":"2026-04-01T00:00:00Z","query_requests":[{"cascade_runs":{}}]}\' '
        "> exports/ana@acme.io/windsurf/cascade-2026-03.json (one user per call: the rows name no user)"
    )
    limits: ClassVar[str] = (
        "no tokens at all (0 tokens, cost unpriced): day rows count Cascade messages per conversation and model; "
        "credits (promptsUsed) are a plan unit and not read as cost; rows name no user, so one export per user "
        "(owner from the folder, --owner or owner_pattern); autocomplete, chat and command usage (custom "
        "Analytics) and the Users page (UserPageAnalytics: active days only) are not read; UTC days, data "
        "refreshed every 3 hours"
    )

    def detect(self, source: Source, context: ReadContext) -> Detection:
        """A ``queryResults`` answer with ``cascadeRuns``; other Windsurf answers say what they lack."""
        text = source.head_text()
        if '"queryResults"' in text and '"cascadeRuns"' in text:
            return Detection(True)
        if '"userTableStats"' in text:
            return Detection(False, "a Windsurf UserPageAnalytics answer (active days only): export cascade_runs")
        if '"queryResults"' in text and ('"cascadeLines"' in text or '"responseItems"' in text):
            return Detection(False, "a Windsurf analytics answer without cascade_runs: query cascade_runs")
        return Detection(False, "no Windsurf Cascade runs (queryResults with cascadeRuns)")

    def read(self, sources: Sequence[Source], context: ReadContext) -> ReadResult:
        """Every run of every answer, as a day row of its owner's messages."""
        results, invalid = read_records(sources, _RESULT, container="queryResults")
        runs = explode_records(
            results.select("source_file", "source_line", pl.col("cascadeRuns").struct.field("cascadeRuns").alias("r")),
            "r",
        )
        parsed = {
            "timestamp": coerce.timestamp("day", "UTC"),
            "model": coerce.text("model"),
            "mode": coerce.text("mode"),
            "session_id": coerce.text("cascadeId", required=True),
            "requests": coerce.count("messagesSent", required=False),
        }
        good, rejects = coerce.split_rejects(runs, parsed, raw=fields_as_json(_FIELDS))
        events = good.with_columns(
            owner_column(sources, context, _ANCHORS),
            input_tokens=pl.lit(0),
            output_tokens=pl.lit(0),
            cache_read_tokens=pl.lit(0),
            cache_write_tokens=pl.lit(0),
            tool=pl.lit("windsurf"),
            grain=pl.lit("day"),
            source_format=pl.lit(self.name),
        ).with_columns(joined_key("windsurf", "developer", "timestamp", "session_id", "model", "mode"))
        collected, rejected = pl.collect_all([conform(events), rejects])
        return ReadResult(events=collected, rejects=pl.concat([invalid, rejected], how="vertical"))
