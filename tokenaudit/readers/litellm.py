"""LiteLLM proxy spend logs: the ``LiteLLM_SpendLogs`` table, one row per request through the proxy.

Accepted as the JSON that ``GET /spend/logs`` answers (an array of rows; ``/spend/logs/v2``'s ``{"data":
[...]}`` pages and JSON Lines of rows work too, see :mod:`tokenaudit.readers.pages`) or as a CSV dump of
the table (``\\copy "LiteLLM_SpendLogs" TO 'spend_logs.csv' CSV HEADER``), where ``metadata`` is a JSON
text cell. With ``start_date`` and ``end_date``, ``/spend/logs`` answers a per-day spend summary unless
``summarize=false`` is given; that summary has no tokens, and detection says so.

Fields. ``startTime`` is the timestamp; LiteLLM stores UTC, so times without an offset (the database's
``timestamp(3)``) are read as UTC whatever ``--tz`` says. ``spend`` is dollars. The developer is the
first present of ``user`` (the key owner's LiteLLM user id, often an email), ``end_user`` (the ``user``
the client sent), ``metadata.user_api_key_alias`` and the hashed ``api_key``. ``team_id`` is the team,
``session_id`` the session, ``model`` (else ``model_group``) the model. ``messages``, ``response`` and
``proxy_server_request`` hold prompts and are never decoded.

Tokens. ``completion_tokens`` is the output. ``prompt_tokens`` includes the cached tokens, which LiteLLM
keeps in ``metadata.additional_usage_values`` (every usage field but the three totals): cache reads are
``cache_read_input_tokens`` (Anthropic-style) or else ``prompt_tokens_details.cached_tokens``
(OpenAI-style); cache writes are ``cache_creation_input_tokens`` or else
``prompt_tokens_details.cache_write_tokens`` / ``cache_creation_tokens`` (the order LiteLLM's own daily
rollups use). Uncached input = ``prompt_tokens`` minus reads minus writes. Some LiteLLM releases counted
Anthropic cache reads but not cache writes into ``prompt_tokens``; a row whose ``prompt_tokens`` is
smaller than reads plus writes but not smaller than the reads comes from such a release, and its
uncached input is ``prompt_tokens`` minus the reads (its writes are then added on top, so its total
exceeds LiteLLM's ``total_tokens`` by them). A ``prompt_tokens`` smaller than the cache reads is a reject.

Duplicates: ``litellm:<request_id>`` (the table's primary key). Responses served from LiteLLM's own cache
are logged as separate rows whose id ends in ``_cache_hit<epoch>``: they are distinct requests the
developer made, so they are kept as events, with the tokens LiteLLM logged and its ``spend`` (0). Rows of
failed requests (``status`` failure) are kept too; they normally carry no tokens.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import polars as pl

from tokenaudit.errors import InputError
from tokenaudit.readers import coerce
from tokenaudit.readers.base import Detection, ReadContext, ReadResult
from tokenaudit.readers.csvtext import csv_header, without_cut_off_row
from tokenaudit.readers.pages import first_present, net_of, read_records, text_fields
from tokenaudit.readers.parse import fields_as_json
from tokenaudit.readers.sources import Source
from tokenaudit.schema import conform

_COLUMNS = (
    "request_id",
    "api_key",
    "spend",
    "prompt_tokens",
    "completion_tokens",
    "startTime",
    "model",
    "model_group",
    "user",
    "end_user",
    "team_id",
    "session_id",
    "metadata",
)
_REQUIRED = ("request_id", "prompt_tokens", "completion_tokens", "startTime")
_USAGE = "$.additional_usage_values"
_METADATA = {
    "alias": "$.user_api_key_alias",
    "read_explicit": f"{_USAGE}.cache_read_input_tokens",
    "read_details": f"{_USAGE}.prompt_tokens_details.cached_tokens",
    "write_explicit": f"{_USAGE}.cache_creation_input_tokens",
    "write_details": f"{_USAGE}.prompt_tokens_details.cache_write_tokens",
    "write_details_alt": f"{_USAGE}.prompt_tokens_details.cache_creation_tokens",
}
_FIELDS = {
    **{name: name for name in _COLUMNS if name != "metadata"},
    **{name: "metadata" + path.removeprefix("$") for name, path in _METADATA.items()},
}


def _is_csv(source: Source) -> bool:
    return not source.head_text().lstrip().startswith(("{", "["))


def _read_csv(source: Source) -> tuple[pl.LazyFrame, pl.DataFrame]:
    """The table's columns as text, lines numbered from 2; a cut-off last row is a reject."""
    header = csv_header(source)
    missing = [name for name in _REQUIRED if name not in header]
    if missing:
        msg = f"{source.name}: missing required LiteLLM_SpendLogs column {missing[0]!r} (found: {', '.join(header)})"
        raise InputError(msg)
    whole, rejects = without_cut_off_row(source, len(header))
    present = [name for name in _COLUMNS if name in header]
    frame = (
        pl.scan_csv(whole.payload(), infer_schema=False, encoding="utf8-lossy")
        .select(present)
        .with_columns(
            *[pl.lit(None, pl.String).alias(name) for name in _COLUMNS if name not in header],
            source_file=pl.lit(source.name),
            source_line=pl.int_range(2, pl.len() + 2, dtype=pl.Int64),
        )
    )
    return frame, rejects


def _parsed() -> dict[str, coerce.Parsed]:
    def count(name: str) -> coerce.Parsed:
        return coerce.count(name, field=_FIELDS[name], required=False)

    prompt = coerce.count("prompt_tokens")
    read_explicit, read_details = count("read_explicit"), count("read_details")
    write_explicit, write_details, write_alt = (
        count("write_explicit"),
        count("write_details"),
        count("write_details_alt"),
    )
    read = coerce.Parsed(
        pl.when(read_explicit.value > 0).then(read_explicit.value).otherwise(read_details.value),
        pl.coalesce(read_explicit.problem, read_details.problem),
    )
    details = pl.when(write_details.value > 0).then(write_details.value).otherwise(write_alt.value)
    write = coerce.Parsed(
        pl.when(write_explicit.value > 0).then(write_explicit.value).otherwise(details),
        pl.coalesce(write_explicit.problem, write_details.problem, write_alt.problem),
    )
    cached = net_of(prompt, [read, write], total_field="prompt_tokens", parts_field="cache reads + cache writes")
    reads_only = net_of(prompt, [read], total_field="prompt_tokens", parts_field="cache reads")
    metadata = pl.col("metadata").str.strip_chars()
    return {
        "timestamp": coerce.timestamp("startTime", "UTC"),
        "developer": coerce.text("identity", field="user (or end_user, user_api_key_alias, api_key)", required=True),
        "request_id": coerce.text("request_id", required=True),
        "metadata": coerce.Parsed(
            metadata,
            pl.when((metadata != "") & metadata.str.json_path_match("$").is_null()).then(
                pl.lit("metadata: expected a JSON object, got '") + metadata.str.slice(0, 40) + pl.lit("'")
            ),
        ),
        "team": coerce.text("team_id"),
        "session_id": coerce.text("session_id"),
        "model": coerce.Parsed(first_present("model", "model_group"), pl.lit(None, pl.String)),
        "input_tokens": coerce.Parsed(
            pl.when(cached.value >= 0).then(cached.value).otherwise(reads_only.value),
            reads_only.problem,
        ),
        "output_tokens": coerce.count("completion_tokens"),
        "cache_read_tokens": read,
        "cache_write_tokens": write,
        "cost_usd": coerce.money("spend"),
    }


class LiteLLMReader:
    """LiteLLM proxy spend logs (JSON from /spend/logs, or a CSV dump of LiteLLM_SpendLogs)."""

    name: ClassVar[str] = "litellm"
    title: ClassVar[str] = "LiteLLM proxy spend logs (/spend/logs JSON or LiteLLM_SpendLogs CSV)"
    exported_by: ClassVar[str] = (
        "curl 'http://<proxy>/spend/logs?start_date=YYYY-MM-DD&end_date=YYYY-MM-DD&summarize=false' "
        "-H 'Authorization: Bearer <master key>' > spend_logs.json (end_date counts from midnight: give the day "
        "after the last one), or psql -c "
        '"\\copy \\"LiteLLM_SpendLogs\\" TO \'spend_logs.csv\' CSV HEADER"'
    )
    limits: ClassVar[str] = (
        "only traffic through the proxy; identity is what the key or client set (user, end_user, key alias); "
        "cached-token counts need a LiteLLM version that logs additional_usage_values; cache hits served by "
        "LiteLLM itself count as requests with the tokens it logged and no spend"
    )

    def detect(self, source: Source, context: ReadContext) -> Detection:
        """Spend-log rows: ``request_id`` with ``startTime`` and ``spend``, as JSON or as a CSV header."""
        if _is_csv(source):
            header = set(csv_header(source))
            if {"request_id", "startTime", "spend", "prompt_tokens"} <= header:
                return Detection(True)
            return Detection(False, "no LiteLLM_SpendLogs header (request_id, startTime, spend, prompt_tokens)")
        text = source.head_text()
        if all(f'"{key}"' in text for key in ("request_id", "startTime", "spend")):
            return Detection(True)
        if all(f'"{key}"' in text for key in ("startTime", "spend", "users", "models")):
            return Detection(False, "a per-day /spend/logs summary without tokens: export with summarize=false")
        return Detection(False, "no LiteLLM spend-log rows (request_id, startTime, spend)")

    def read(self, sources: Sequence[Source], context: ReadContext) -> ReadResult:
        """Every spend-log row of every file, JSON and CSV alike."""
        frames, rejected = [], []
        json_sources = [source for source in sources if not _is_csv(source)]
        if json_sources:
            records, invalid = read_records(json_sources, text_fields(*_COLUMNS))
            frames.append(records)
            rejected.append(invalid)
        for source in sources:
            if _is_csv(source):
                frame, invalid = _read_csv(source)
                frames.append(frame)
                rejected.append(invalid)
        rows = (
            pl.concat([frame.select("source_file", "source_line", *_COLUMNS) for frame in frames], how="vertical")
            .with_columns(**{name: pl.col("metadata").str.json_path_match(path) for name, path in _METADATA.items()})
            .with_columns(identity=first_present("user", "end_user", "alias", "api_key"))
        )
        good, rejects = coerce.split_rejects(rows, _parsed(), raw=fields_as_json(_FIELDS))
        events = good.with_columns(
            dedup_key=pl.lit("litellm:") + pl.col("request_id"),
            tool=pl.lit("litellm"),
            grain=pl.lit("request"),
            requests=pl.lit(1),
            source_format=pl.lit(self.name),
        )
        try:
            collected, bad = pl.collect_all([conform(events), rejects])
        except pl.exceptions.ComputeError as exc:
            files = ", ".join(source.name for source in sources if _is_csv(source))
            msg = f"{files}: cannot read as a LiteLLM_SpendLogs CSV: {str(exc).splitlines()[0]}"
            raise InputError(msg) from None
        return ReadResult(events=collected, rejects=pl.concat([*rejected, bad], how="vertical"))
