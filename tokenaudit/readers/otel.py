"""Claude Code OpenTelemetry, as an OpenTelemetry Collector's file exporter writes it (OTLP JSON lines).

Each line is one export batch: ``{"resourceLogs": [{resource, scopeLogs: [{scope, logRecords}]}]}`` (or
``resourceMetrics``). Attributes are OTLP ``{"key", "value": {"stringValue" | "intValue" | "doubleValue" |
"boolValue"}}`` lists, with 64-bit integers written as strings. We read the ``claude_code.api_request``
log events (body ``claude_code.api_request``, or ``event.name`` ``api_request``): one per API call, with
``input_tokens``, ``output_tokens``, ``cache_read_tokens``, ``cache_creation_tokens``, ``cost_usd``
(dollars), ``model``, ``request_id``, ``session.id`` and ``event.timestamp``. Each attribute is looked up
on the record first and on its resource second, because collectors and Claude Code versions differ on
where ``user.email`` and ``session.id`` sit. The developer is ``user.email``, else ``user.account_uuid``
(users signed in with an API key may have neither: their events are rejects that say so).

Metrics are not read. ``claude_code.token.usage`` and ``claude_code.cost.usage`` count the same tokens
as the events, summed per export interval, with no request count and, under cumulative temporality,
with resets whenever Claude Code restarts. Reading both would double count, and a rotated file may hold
the metrics of events written to its neighbour, so there is no safe per-file choice either. Files whose
batch holds token metrics but no api_request event at all are an input error that says what to export.

Duplicates: ``dedup_key`` is ``claude-code-otel:req:<request_id>``, else
``claude-code-otel:seq:<session.id>:<event.sequence>``, else a hash of the row's content.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import polars as pl

from tokenaudit.errors import InputError
from tokenaudit.readers import coerce
from tokenaudit.readers.base import Detection, ReadContext, ReadResult
from tokenaudit.readers.jsonlines import scan_lines
from tokenaudit.readers.parse import ENDS_LIKE_OBJECT, candidate_lines
from tokenaudit.readers.sources import Source
from tokenaudit.schema import TOKEN_COLUMNS, conform
from tokenaudit.signatures import attach_turns, prompt_turns

_VALUE = pl.Struct({"stringValue": pl.String, "intValue": pl.String, "doubleValue": pl.String, "boolValue": pl.String})
_ATTRIBUTES = pl.List(pl.Struct({"key": pl.String, "value": _VALUE}))
_RECORD = pl.Struct(
    {
        "timeUnixNano": pl.String,
        "observedTimeUnixNano": pl.String,
        "eventName": pl.String,
        "body": _VALUE,
        "attributes": _ATTRIBUTES,
    }
)
_BATCH = pl.Struct(
    {
        "resourceLogs": pl.List(
            pl.Struct(
                {
                    "resource": pl.Struct({"attributes": _ATTRIBUTES}),
                    "scopeLogs": pl.List(pl.Struct({"logRecords": pl.List(_RECORD)})),
                }
            )
        )
    }
)
EVENT = "claude_code.api_request"
TOKEN_METRIC = "claude_code.token.usage"
_ATTRIBUTE_NAMES = {
    "event_name": "event.name",
    "event_timestamp": "event.timestamp",
    "sequence": "event.sequence",
    "session_id": "session.id",
    "email": "user.email",
    "account_uuid": "user.account_uuid",
    "model": "model",
    "input": "input_tokens",
    "output": "output_tokens",
    "cache_read": "cache_read_tokens",
    "cache_creation": "cache_creation_tokens",
    "cost": "cost_usd",
    "request_id": "request_id",
    "prompt": "prompt",
}
PROMPT_EVENT = "claude_code.user_prompt"


def _attribute(key: str) -> pl.Expr:
    """The value of attribute ``key`` as text: on the record, else on its resource."""

    def lookup(column: str) -> pl.Expr:
        value = (
            pl.col(column)
            .list.eval(pl.element().filter(pl.element().struct.field("key") == key).struct.field("value"))
            .list.first()
        )
        return pl.coalesce(
            value.struct.field("stringValue"),
            value.struct.field("intValue"),
            value.struct.field("doubleValue"),
            value.struct.field("boolValue"),
        )

    return pl.coalesce(lookup("attributes"), lookup("resource_attributes"))


def _nanos_as_millis(column: str) -> pl.Expr:
    """An OTLP ``*UnixNano`` string as epoch milliseconds text (null when unset, i.e. 0)."""
    nanos = pl.col(column).cast(pl.Int64, strict=False)
    return pl.when(nanos > 0).then((nanos // 1_000_000).cast(pl.String))


def _batches(lines: pl.DataFrame) -> pl.DataFrame:
    return lines.select("source_file", "source_line", pl.col("line").str.json_decode(_BATCH).alias("batch"))


def _decode(lines: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(``source_file``, ``source_line``, ``batch``) for valid lines; invalid lines as rejects.

    Lines that end like an object are decoded at once; each line is validated on its own only when
    that fails, since validating every batch first would parse each one twice.
    """
    valid = ENDS_LIKE_OBJECT
    try:
        batches = _batches(lines.filter(valid))
    except pl.exceptions.ComputeError:
        valid = pl.col("line").str.json_path_match("$").is_not_null()
        try:
            batches = _batches(lines.filter(valid))
        except pl.exceptions.ComputeError as exc:
            files = ", ".join(sorted(set(lines["source_file"])))
            msg = f"{files}: not OTLP JSON as a Collector's file exporter writes it ({str(exc).splitlines()[0]})"
            raise InputError(msg) from None
    invalid = lines.filter(~valid).select(
        "source_file",
        "source_line",
        pl.lit("not valid JSON (truncated or corrupted line)").alias("reason"),
        pl.col("line").alias("raw"),
    )
    return batches, invalid


def _records(batches: pl.DataFrame) -> pl.LazyFrame:
    """One row per log record, with its resource's attributes alongside."""
    return (
        batches.lazy()
        .select("source_file", "source_line", pl.col("batch").struct.field("resourceLogs").alias("resource"))
        .explode("resource")
        .select(
            "source_file",
            "source_line",
            pl.col("resource").struct.field("resource").struct.field("attributes").alias("resource_attributes"),
            pl.col("resource").struct.field("scopeLogs").alias("scope"),
        )
        .explode("scope")
        .with_columns(pl.col("scope").struct.field("logRecords").alias("record"))
        .drop("scope")
        .explode("record")
        .unnest("record")
    )


def _prompt_turns(prompts: pl.LazyFrame, timezone: str) -> pl.DataFrame:
    """``user_prompt`` events as prompt turns with a SimHash signature (:mod:`tokenaudit.signatures`).

    The prompt text is only there under ``OTEL_LOG_USER_PROMPTS=1`` (else redacted: no signature); it becomes a
    signature here and goes no further.
    """
    when = coerce.timestamp("time", timezone, field="event.timestamp")
    frame = prompts.select("session_id", "time", "prompt").collect()
    return prompt_turns(coerce.with_staged(frame, when).with_columns(when.value.alias("timestamp")), "prompt")


class ClaudeCodeOtelReader:
    """Claude Code ``api_request`` events from a Collector's OTLP JSON file export, one row per request."""

    name: ClassVar[str] = "claude-code-otel"
    title: ClassVar[str] = "Claude Code OpenTelemetry events (OTLP JSON from a Collector file exporter)"
    exported_by: ClassVar[str] = (
        "CLAUDE_CODE_ENABLE_TELEMETRY=1 OTEL_LOGS_EXPORTER=otlp, sent to an OpenTelemetry Collector whose "
        "logs pipeline ends in the file exporter (one OTLP JSON batch per line)"
    )
    limits: ClassVar[str] = (
        "only users who signed in with OAuth carry user.email (else user.account_uuid; API-key users may have "
        "neither); costs are Claude Code's estimates; metrics are not read (the events hold the same tokens); "
        "the same requests in transcripts too would be counted by both readers"
    )

    def detect(self, source: Source, context: ReadContext) -> Detection:
        """OTLP JSON batches that mention Claude Code."""
        text = source.head_text().lstrip()
        if not text.startswith("{") or not ('"resourceLogs"' in text or '"resourceMetrics"' in text):
            return Detection(False, "not OTLP JSON (no resourceLogs/resourceMetrics)")
        if "claude_code" not in text and "claude-code" not in text:
            return Detection(False, "OTLP JSON, but no Claude Code telemetry in the first 64 KiB")
        return Detection(True)

    def read(self, sources: Sequence[Source], context: ReadContext) -> ReadResult:
        """Every api_request event of every batch line."""
        logs = pl.col("line").str.contains('"resourceLogs"', literal=True) | ~ENDS_LIKE_OBJECT
        lines = (
            candidate_lines(scan_lines(sources), '"resourceLogs"', f'"{TOKEN_METRIC}"')
            .select(
                "source_file",
                "source_line",
                pl.when(logs).then(pl.col("line")).alias("line"),
                pl.col("line").str.contains(f'"{TOKEN_METRIC}"', literal=True).alias("metrics"),
            )
            .collect()
        )
        batches, invalid = _decode(lines.filter(pl.col("line").is_not_null()).drop("metrics"))
        every = (
            _records(batches)
            .with_columns(**{name: _attribute(key) for name, key in _ATTRIBUTE_NAMES.items()})
            .with_columns(
                pl.coalesce("email", "account_uuid").alias("identity"),
                pl.coalesce(
                    "event_timestamp", _nanos_as_millis("timeUnixNano"), _nanos_as_millis("observedTimeUnixNano")
                ).alias("time"),
            )
        )

        def named(event: str) -> pl.Expr:
            short = event.removeprefix("claude_code.")
            return (
                (pl.col("body").struct.field("stringValue") == event)
                | pl.col("eventName").is_in([event, short])
                | pl.col("event_name").is_in([event, short])
            )

        records = every.filter(named(EVENT))
        timestamp = coerce.timestamp("time", context.timezone, field="event.timestamp")
        parsed = {
            "timestamp": timestamp,
            "developer": coerce.text("identity", field="user.email (or user.account_uuid)", required=True),
            **{name: coerce.text(name) for name in ("session_id", "request_id", "model", "sequence")},
            "input_tokens": coerce.count("input", field="input_tokens"),
            "output_tokens": coerce.count("output", field="output_tokens"),
            "cache_read_tokens": coerce.count("cache_read", field="cache_read_tokens", required=False),
            "cache_write_tokens": coerce.count("cache_creation", field="cache_creation_tokens", required=False),
            "cost_usd": coerce.money("cost", field="cost_usd"),
        }
        raw = pl.struct("timeUnixNano", "body", "attributes").struct.json_encode()
        good, rejects = coerce.split_rejects(records, parsed, raw=raw)
        content = pl.struct("timestamp", "developer", "model", "session_id", *TOKEN_COLUMNS).hash(seed=0)
        events = conform(
            good.with_columns(
                dedup_key=pl.lit("claude-code-otel:")
                + pl.coalesce(
                    pl.lit("req:") + pl.col("request_id"),
                    pl.lit("seq:") + pl.col("session_id") + pl.lit(":") + pl.col("sequence"),
                    pl.lit("row:") + content.cast(pl.String),
                ),
                tool=pl.lit("claude-code"),
                grain=pl.lit("request"),
                requests=pl.lit(1),
                source_format=pl.lit(self.name),
            )
        ).collect()
        events = attach_turns(events, _prompt_turns(every.filter(named(PROMPT_EVENT)), context.timezone))
        rejected = rejects.collect()
        metric_files = lines.filter("metrics")["source_file"]
        if events.is_empty() and rejected.is_empty() and not metric_files.is_empty():
            msg = (
                f"{metric_files[0]}: Claude Code metrics but no api_request events; tokenaudit reads the events"
                " (set OTEL_LOGS_EXPORTER=otlp and give the Collector a logs pipeline to the file exporter)"
            )
            raise InputError(msg)
        return ReadResult(events=events, rejects=pl.concat([invalid, rejected], how="vertical"))
