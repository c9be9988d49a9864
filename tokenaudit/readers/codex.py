"""OpenAI Codex CLI rollout logs: ``~/.codex/sessions/YYYY/MM/DD/rollout-<time>-<uuid>.jsonl``.

Usage lives in ``event_msg`` lines whose ``payload.type`` is ``token_count``: ``payload.info`` holds the
per-turn ``last_token_usage`` (what we count) and the session's cumulative ``total_token_usage``. Codex's
``input_tokens`` include ``cached_input_tokens``, so uncached input is the difference and the cached part
is the cache read; ``output_tokens`` already include reasoning. Codex reports no cache writes and no cost.
The model is the event's own (``payload.info.model``, ``model_name``), else the latest named before it in
the same file, by a ``turn_context`` line or an earlier event (ccusage's reading); the session
is the file's first ``session_meta`` id (its own; forks copy their parent's after it), else the file
name's UUID. Lines with ``info: null`` (rate-limit updates) and all-zero turns are not API calls.

Duplicates (the rule, over every file read together, for one owner):

* Codex re-emits ``token_count`` with an unchanged cumulative total (UI and rate-limit refreshes), and a
  forked or sub-agent rollout replays its parent's ``token_count`` lines with new timestamps under a new
  session id (ccusage #1288, tokscale #679). Neither the timestamp nor the session id can tell a copy
  from the original, but the cumulative total can: it only grows within a session. So ``dedup_key`` is
  ``codex:<owner>:<total_token_usage tuple>``, and the global dedup keeps the earliest file's copy.
* Two different sessions of one owner could in principle reach the very same five cumulative counts
  (input, cached, output, reasoning, total); only then would two turns merge. Keying by owner keeps
  people apart.
* A sub-agent rollout (``session_meta`` with ``source.subagent.thread_spawn``) starts with its parent's
  token history, replayed in the second it was spawned: when its first two token events share that second,
  the leading events of that second are dropped (ccusage's rule), whether the parent's file is read or not,
  so they neither count twice nor land on the sub-agent's start date when the parent is absent.
* Old builds wrote only ``total_token_usage``: the turn is then the difference to the previous event of
  the same file (clipped at zero, as ccusage does). Events with only ``last_token_usage`` are keyed by
  session, timestamp and that tuple.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import ClassVar

import polars as pl

from tokenaudit import progress
from tokenaudit.readers import coerce
from tokenaudit.readers.base import Detection, ReadContext, ReadResult
from tokenaudit.readers.jsonlines import scan_lines, size_of
from tokenaudit.readers.owner import owner_column
from tokenaudit.readers.parse import candidate_lines, decode_candidates, fields_as_json
from tokenaudit.readers.sources import Source
from tokenaudit.schema import conform
from tokenaudit.signatures import attach_turns, prompt_turns

_FIELDS = ("input_tokens", "cached_input_tokens", "output_tokens", "reasoning_output_tokens", "total_tokens")
_OPTIONAL = frozenset({"cached_input_tokens", "reasoning_output_tokens", "total_tokens"})
_TOTAL = {f"total_{field}": f"payload.info.total_token_usage.{field}" for field in _FIELDS}
_LAST = {f"last_{field}": f"payload.info.last_token_usage.{field}" for field in _FIELDS}
_PATHS = {
    "timestamp": "timestamp",
    "type": "type",
    "payload_type": "payload.type",
    "meta_id": "payload.id",
    "model": "payload.model",
    "model_name": "payload.model_name",
    "info_model": "payload.info.model",
    "info_model_name": "payload.info.model_name",
    **_TOTAL,
    **_LAST,
}
_PROMPT = {"prompt": "payload.message"}
"""A ``user_message`` event's text: it becomes a prompt signature in the reader and goes no further."""
_ROLLOUT_KIND = re.compile(r'"type"\s*:\s*"(?:session_meta|turn_context|event_msg|response_item|compacted)"')
_FILE_UUID = r"([0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12})\.jsonl(?:\.gz)?$"
OWNER_FOLDERS = ("sessions", "archived_sessions")
"""Folders whose parent names a rollout's owner; duplicates (keyed by owner) never span owners."""


def _any_present(columns: Sequence[str]) -> pl.Expr:
    return pl.any_horizontal([pl.col(name).is_not_null() for name in columns])


def _usage_counts(prefix: str, paths: dict[str, str], when: pl.Expr) -> dict[str, coerce.Parsed]:
    """Counts of one usage tuple; input and output are required only for the tuple in use (``when``)."""
    parsed = {}
    for field in _FIELDS:
        name = f"{prefix}_{field}"
        item = coerce.count(name, field=paths[name], required=False)
        needed = coerce.count(name, field=paths[name]) if field not in _OPTIONAL else item
        parsed[name] = coerce.Parsed(item.value, pl.when(when).then(needed.problem).otherwise(item.problem))
    return parsed


def _tuple_text(prefix: str) -> pl.Expr:
    return pl.concat_str([pl.col(f"{prefix}_{field}") for field in _FIELDS], separator=":")


def _replayed_history() -> pl.Expr:
    """A sub-agent rollout's copy of its parent's token events, written all at once when it was spawned.

    ccusage's rule: in a rollout whose ``session_meta`` says ``thread_spawn``, when the first two token
    events share their timestamp's second, the leading events of that second are the parent's history,
    not the sub-agent's turns (their cumulative totals still served as the baseline above).
    """
    second = pl.col("timestamp").dt.truncate("1s")
    first = second.first().over("source_file")
    replay = pl.col("subagent") & (second.slice(1, 1).first().over("source_file") == first)
    leading = (second == first).cast(pl.Int32).cum_prod().over("source_file", order_by="source_line") == 1
    return (replay & leading).fill_null(value=False)


class CodexReader:
    """Codex CLI session rollouts, one row per model turn."""

    name: ClassVar[str] = "codex"
    title: ClassVar[str] = "OpenAI Codex CLI session rollouts (JSONL)"
    exported_by: ClassVar[str] = (
        "Codex writes them: copy ~/.codex/sessions/ (or $CODEX_HOME/sessions/, archived_sessions/) per person, "
        "e.g. to exports/<email>/sessions/"
    )
    limits: ClassVar[str] = (
        "no identity in the files (owner from --owner, owner_pattern or the folder holding sessions/); "
        "no cost (priced from the price table) and no cache writes; no token events before 2025-09; "
        "some early builds name no model; no request ids"
    )

    def detect(self, source: Source, context: ReadContext) -> Detection:
        """JSON lines of ``{timestamp, type, payload}`` with Codex's rollout line kinds."""
        text = source.head_text().lstrip()
        if text.startswith("{") and _ROLLOUT_KIND.search(text) and '"payload"' in text:
            return Detection(True)
        return Detection(False, "no Codex rollout lines (type session_meta/turn_context/event_msg with payload)")

    def read(self, sources: Sequence[Source], context: ReadContext) -> ReadResult:
        """Every ``token_count`` event of every rollout, deduplicated by the module's rule."""
        developer = owner_column(sources, context, OWNER_FOLDERS)
        markers = ('"token_count"', '"turn_context"', '"session_meta"', '"user_message"')
        rows, invalid = decode_candidates(
            candidate_lines(scan_lines(sources), *markers), {**_PATHS, **_PROMPT}, {"spawned": '"thread_spawn"'}
        )
        in_file = "source_file"
        own_model = pl.coalesce("model", "model_name", "info_model", "info_model_name")
        annotated = (
            rows.lazy()
            .sort("source_file", "source_line")
            .with_columns(
                pl.coalesce(
                    pl.col("meta_id").filter(pl.col("type") == "session_meta").first().over(in_file),
                    pl.col("source_file").str.extract(_FILE_UUID),
                ).alias("session"),
                # A token event naming its own model is that model's, and so are the file's next events until
                # another names one or a turn context does (as ccusage reads it); else the turn context's.
                pl.when(pl.col("type").is_in(["turn_context", "event_msg"]))
                .then(own_model)
                .forward_fill()
                .over(in_file)
                .alias("model"),
                (pl.col("spawned") & (pl.col("type") == "session_meta")).any().over(in_file).alias("subagent"),
                has_total=_any_present(list(_TOTAL)),
                has_last=_any_present(list(_LAST)),
            )
        )
        located = annotated.filter(
            pl.col("type") == "event_msg",
            pl.col("payload_type") == "token_count",
            pl.col("has_total") | pl.col("has_last"),
        )
        timestamp = coerce.timestamp("timestamp", context.timezone, field="timestamp")
        last_used = pl.col("has_last")
        parsed = {
            "timestamp": timestamp,
            "session_id": coerce.text("session"),
            "model": coerce.text("model"),
            "has_total": coerce.Parsed(pl.col("has_total"), pl.lit(None, pl.String)),
            "has_last": coerce.Parsed(last_used, pl.lit(None, pl.String)),
            "subagent": coerce.Parsed(pl.col("subagent"), pl.lit(None, pl.String)),
            **_usage_counts("total", _TOTAL, ~last_used),
            **_usage_counts("last", _LAST, last_used),
        }
        cached, given = parsed["last_cached_input_tokens"], parsed["last_input_tokens"]
        parsed["last_cached_input_tokens"] = coerce.Parsed(
            cached.value,
            pl.coalesce(
                cached.problem,
                pl.when(last_used & (cached.value > given.value)).then(
                    pl.lit(f"{_LAST['last_cached_input_tokens']}: exceeds input_tokens, which include it")
                ),
            ),
        )
        good, rejects = coerce.split_rejects(located, parsed, raw=fields_as_json(_PATHS))
        turn = {
            field: pl.when("has_last")
            .then(pl.col(f"last_{field}"))
            .otherwise((pl.col(f"total_{field}") - pl.col(f"total_{field}").shift(1).over(in_file)).clip(0))
            .fill_null(pl.col(f"total_{field}"))
            for field in _FIELDS
        }
        key = (
            pl.when("has_total")
            .then(_tuple_text("total"))
            .otherwise(
                pl.concat_str(
                    [pl.col("session_id"), pl.col("timestamp").cast(pl.String), _tuple_text("last")],
                    separator=":",
                    ignore_nulls=True,
                )
            )
        )
        cached_part = pl.min_horizontal("cached_input_tokens", "input_tokens")
        events = (
            good.with_columns(**turn)
            .filter(~_replayed_history(), pl.any_horizontal([pl.col(field) > 0 for field in _FIELDS]))
            .with_columns(developer)
            .with_columns(
                input_tokens=pl.col("input_tokens") - cached_part,
                cache_read_tokens=cached_part,
                cache_write_tokens=pl.lit(0),
                dedup_key=pl.lit("codex:") + pl.col("developer") + pl.lit(":") + key,
                tool=pl.lit("codex"),
                grain=pl.lit("request"),
                requests=pl.lit(1),
                source_format=pl.lit(self.name),
            )
        )
        said = annotated.filter(pl.col("type") == "event_msg", pl.col("payload_type") == "user_message")
        prompts = coerce.with_staged(said.select("session", "timestamp", "prompt").collect(), timestamp)
        said_at = prompts.select(pl.col("session").alias("session_id"), timestamp.value.alias("timestamp"), "prompt")
        turns = prompt_turns(said_at, "prompt")
        result = ReadResult(
            events=attach_turns(conform(events).collect(), turns),
            rejects=pl.concat([invalid, rejects.collect()], how="vertical"),
        )
        progress.advance(sum(size_of(source) for source in sources))
        return result
