"""Claude Code session transcripts: ``~/.claude/projects/<project>/<session>.jsonl`` (and ``…/subagents/*.jsonl``).

Only lines with ``message.usage`` carry tokens; the rest (prompts, tool results, snapshots) are skipped
without being built: in a file of whole JSON objects every line is decoded by type, only for the fields read; in
any other file a line is decoded only if it mentions ``"usage"`` or does not end like a JSON object (a truncated
line, which becomes a reject). ``<synthetic>`` lines are Claude Code's own notices, not API
calls: they are left out of every total and are not rejects.

Duplicates. Claude Code writes one API response as several lines (one per content block; streamed lines
repeat the input counts with a partial output count), and resumed sessions copy history into new files.
The rule, applied over every transcript read together:

* ``dedup_key`` is ``claude-code:<message.id>:<requestId>``; the global dedup then keeps the line with
  the most tokens, i.e. the response's final usage.
* A message id seen without a ``requestId`` (older or newer builds omit it), or under several request
  ids, is one response all the same: every copy is keyed ``claude-code:<message.id>``.
* A sidechain line (``isSidechain: true``: subagent and ``/btw`` transcripts) whose message id also has a
  main-chain line is a replay of the parent's message under a new request id, often with a larger cache
  read: it is dropped, so the parent's own usage counts, once.
* Lines without a message id fall back to ``claude-code:req:<requestId>``, then the line's ``uuid``.

All copies of a response take its earliest timestamp (as codeburn does): the kept row is the last,
complete one, but the request happened when the first line was written.

Subagents. While a subagent (``Task``/``Agent`` tool) runs, the parent transcript gets ``progress`` lines
whose ``data`` (``type: agent_progress``) wraps the subagent's own transcript line, usage included, at
``data.message``. The subagent's file (``<session>/subagents/agent-<id>.jsonl``) holds the same line. Such
usage is read as the subagent's (a sidechain line): keyed by its message and request ids like any other,
it counts once when both are present and is not lost when the subagent's file is not.
"""

from __future__ import annotations

import json
import re
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import islice
from typing import Annotated, ClassVar

import msgspec
import polars as pl

from tokenaudit import helper_pool, progress
from tokenaudit.readers import coerce, jsonlines
from tokenaudit.readers.base import Detection, ReadContext, ReadResult
from tokenaudit.readers.jsonlines import batches, object_lines, scan_lines
from tokenaudit.readers.owner import owners
from tokenaudit.readers.parse import (
    ENDS_LIKE_OBJECT,
    candidate_lines,
    decode_candidates,
    fields_as_json,
    struct_columns,
)
from tokenaudit.readers.sources import Source, transcript_sources
from tokenaudit.schema import EVENT_SCHEMA, TOKEN_COLUMNS, conform, empty_rejects, kept_copies, repeated_values
from tokenaudit.signatures import attach_turns, simhash

_USAGE_FIELDS = ("input", "output", "cache_read", "cache_creation", "cache_5m", "cache_1h")
_FIELDS = {
    "timestamp": "timestamp",
    "session_id": "sessionId",
    "request_id": "requestId",
    "sidechain": "isSidechain",
    "uuid": "uuid",
    "cost": "costUSD",
    "message_id": "message.id",
    "model": "message.model",
    "input": "message.usage.input_tokens",
    "output": "message.usage.output_tokens",
    "cache_read": "message.usage.cache_read_input_tokens",
    "cache_creation": "message.usage.cache_creation_input_tokens",
    "cache_5m": "message.usage.cache_creation.ephemeral_5m_input_tokens",
    "cache_1h": "message.usage.cache_creation.ephemeral_1h_input_tokens",
}
_PROGRESS_PREFIX = "data.message."
"""Where an ``agent_progress`` line holds the subagent's transcript line."""
_PROGRESS = ("timestamp", "request_id", "uuid", "message_id", "model", *_USAGE_FIELDS)
_PATHS = {**_FIELDS, **{f"progress_{name}": _PROGRESS_PREFIX + _FIELDS[name] for name in _PROGRESS}}
SYNTHETIC_MODEL = "<synthetic>"
OWNER_FOLDERS = ("projects",)
"""The folder whose parent names a transcript's owner; the duplicate rules span one owner's files (engines read
each owner's transcripts together)."""
_LINE_KIND = re.compile(
    r'"type"\s*:\s*"(?:user|assistant|system|summary|progress|file-history-snapshot|queue-operation)"'
)
_CLAUDE_KEYS = re.compile(r'"(?:sessionId|leafUuid|parentUuid)"\s*:')


def _dedup_key(names: pl.Series, one_request: pl.Expr) -> pl.Expr:
    """The module's ``dedup_key`` of rows with ``message_id``, ``request_id``, ``uuid``, ``file_number`` (into
    ``names``) and ``source_line``; ``one_request``: whether every row of a row's message id holds the same request
    id, or every one none (``request_id.n_unique().over("message_id") == 1``). Each part is made only for the rows
    that take it (the others are null where it is concatenated): a concatenation costs every row it is evaluated on,
    and a file's name is long."""
    message, request = pl.col("message_id"), pl.col("request_id")
    with_request = request.is_not_null() & one_request
    # One concatenation makes a keyed row's text: each ``+`` of text columns makes a whole column of text.
    keyed = pl.concat_str(
        [pl.lit("claude-code:"), message, pl.when(with_request).then(pl.lit(":")), pl.when(with_request).then(request)],
        ignore_nulls=True,
    )
    return (
        pl.when(message.is_null()).then(pl.lit("claude-code:") + _orphan_key(names)).otherwise(keyed).alias("dedup_key")
    )


def _orphan_key(names: pl.Series) -> pl.Expr:
    """What follows ``claude-code:`` in the ``dedup_key`` of a row without a message id (null for the others)."""
    orphan = pl.col("message_id").is_null()
    line = pl.lit(names).gather(pl.when(orphan).then(pl.col("file_number"))) + pl.lit(":")
    return pl.coalesce(
        pl.lit("req:") + pl.when(orphan).then(pl.col("request_id")),
        pl.lit("uuid:") + pl.col("uuid"),  # only kept where the message id is missing (:func:`_parse`)
        line + pl.when(orphan).then(pl.col("source_line")).cast(pl.String),
    )


_GROUP = "_group"
"""The read rows' column that groups the copies of a response (:func:`_responses`)."""
_ONE = "_one_request"
"""The read rows' column saying whether every row of a row's message id holds the same request id, or every one
none: how its ``dedup_key`` is made (:func:`_dedup_key`)."""
_KEPT = "_kept"
"""The read rows' column marking the copy of each response that the ingest's dedup keeps (:func:`_responses`)."""


def _responses(rows: pl.DataFrame, names: pl.Series) -> pl.DataFrame:
    """``rows`` (numbered :data:`_COPIES`; with message and request ids, uuids, file numbers into ``names``, lines,
    times and token counts) grouped into responses as their ``dedup_key`` groups them: each row's ``timestamp``
    becomes its response's first, :data:`_COPIES` its first copy's position; with :data:`_ONE` and :data:`_KEPT`.

    The copies are grouped by a 64-bit hash of the message id (of the key's text where it is missing: few rows),
    not by the key's text: integers group several times cheaper than text, and the keys' text is then made for the
    kept copies alone (1.8M read rows of 1M responses: the text of every row's key and its groups were the read's
    peak). The message id groups the keys exactly when no message id holds a colon (and, where some row has none,
    no message id is ``req``, ``uuid`` or a file name's part before its first colon, which could spell a key made
    without a message id); the hash groups are the message ids' when each row's id is its group's first row's.
    Else the rows are grouped by their keys' text, as before.
    """
    message = pl.col("message_id")
    plain = not rows.select(message.str.contains(":", literal=True).any()).item()
    if plain and rows.select(message.null_count()).item():
        clashing = pl.Series(["req", "uuid", *(name.split(":", 1)[0] for name in names.to_list())], dtype=pl.String)
        plain = not rows.select(message.is_in(clashing.implode()).any()).item()
    if plain and not rows.select(message.null_count()).item():
        hashed = rows.with_columns(message.hash().alias(_GROUP))
        found, several = _firsts(hashed)
        if _same_as_first(hashed, found, ("message_id",)):
            return _grouped(hashed, found, several, names)
    elif plain:  # the few keys made without a message id are made (and hashed) here, not the others
        ids = rows.with_columns(_orphan_key(names).alias("_orphan_key"))
        group = pl.when(message.is_null()).then(pl.col("_orphan_key").hash()).otherwise(message.hash())
        hashed = ids.with_columns(group.alias(_GROUP))
        found, several = _firsts(hashed)
        if _same_as_first(hashed, found, ("message_id", "_orphan_key")):
            return _grouped(hashed, found, several, names).drop("_orphan_key")
    keyed = rows.with_columns((pl.col("request_id").n_unique().over("message_id") == 1).alias(_ONE))
    keyed = keyed.with_columns(_dedup_key(names, pl.col(_ONE)))
    hashed = keyed.with_columns(pl.col("dedup_key").hash().alias(_GROUP))
    found, several = _firsts(hashed)
    if _same_as_first(hashed, found, ("dedup_key",)):
        return _grouped(hashed, found, several, names)
    # Two keys share a hash: grouped by the text itself.
    by_text = keyed.with_columns(pl.col("dedup_key").alias(_GROUP))
    return _grouped(by_text, *_firsts(by_text), names)


def _firsts(rows: pl.DataFrame) -> tuple[pl.DataFrame, pl.Series]:
    """Each row's group's (:data:`_GROUP`) first :data:`_COPIES` and earliest ``timestamp``, and the positions of the
    rows whose group holds several (in order). Only those are grouped: a row alone in its group is its own first, at
    its own time, and most rows are (a batch merges the copies of a response within one file: 1M responses, 9k more
    rows)."""
    groups = rows.get_column(_GROUP)
    several = groups.is_in(repeated_values(groups).implode()).arg_true()
    group = pl.col(_GROUP)
    shared = rows.select(_GROUP, _COPIES, "timestamp")[several].select(
        pl.col(_COPIES).min().over(group), pl.col("timestamp").min().over(group)
    )
    found = rows.select(_COPIES, "timestamp")
    return found.with_columns(
        found.get_column(name).scatter(several, shared.get_column(name)) for name in found.columns
    ), several


def _moved(first: pl.Series) -> pl.Series:
    """The positions of the rows whose group's first copy (``first``, row numbers: :func:`_firsts`) is another row."""
    return (first != pl.int_range(first.len(), dtype=pl.UInt32, eager=True)).arg_true()


def _same_as_first(rows: pl.DataFrame, found: pl.DataFrame, identity: Sequence[str]) -> bool:
    """Whether every row's ``identity`` values are its group's first row's (:func:`_firsts` ``found``): else two
    responses share a hash. Only rows that are not their group's first are compared."""
    first = found.get_column(_COPIES)
    moved = _moved(first)
    firsts = first.gather(moved)
    return all(
        rows.get_column(name).gather(moved).eq_missing(rows.get_column(name).gather(firsts)).all() for name in identity
    )


def _grouped(rows: pl.DataFrame, found: pl.DataFrame, several: pl.Series, names: pl.Series) -> pl.DataFrame:
    """:func:`_responses` of ``rows`` grouped by :data:`_GROUP` (dropped), their groups' :func:`_firsts` ``found``
    and ``several``.

    The kept copy is the ingest's (:func:`~tokenaudit.schema.kept_copies`, the rule of
    :func:`~tokenaudit.shards.losing_copies`), each response's copies ranked by file number in the names' order; a
    row alone in its group is kept, so only the rows of groups of several are ranked.
    """
    first = found.get_column(_COPIES)
    if _ONE not in rows.columns:
        # A request id of its own (or none where the first has one) marks the response: few rows, no text grouped.
        requests = rows.get_column("request_id")
        moved = _moved(first)
        firsts = first.gather(moved)
        mixed = firsts.filter(~requests.gather(moved).eq_missing(requests.gather(firsts)))
        found = found.with_columns(first.is_in(mixed.unique().implode()).not_().alias(_ONE))
    ranks = names.rank("min").cast(pl.UInt32)
    candidates = (
        rows.select(_COPIES, "file_number", "source_line", *TOKEN_COLUMNS)[several]
        .lazy()
        .select(
            _COPIES,
            pl.lit(ranks).gather(pl.col("file_number")).alias("source_file"),
            "source_line",
            pl.sum_horizontal(*TOKEN_COLUMNS).alias("_total"),
            pl.lit(first.gather(several)).alias("_first"),
        )
    )
    best = kept_copies(candidates, "_first").select(_COPIES).collect().to_series()
    kept = pl.repeat(value=True, n=rows.height, dtype=pl.Boolean, eager=True).scatter(several, values=False)
    return rows.drop(_GROUP).with_columns(found).with_columns(kept.scatter(best, values=True).alias(_KEPT))


def _sidechain_replays(rows: pl.DataFrame) -> pl.Series:
    """Which of ``rows`` (``message_id``, ``side``: whether a line is a sidechain's) are sidechain copies of a message
    that also has a main-chain line (ccusage #913).

    Only the few sidechain rows' message ids are looked up among the main-chain rows (a set), not every row grouped
    by its message id.
    """
    sidechain = rows.filter("side")
    if sidechain.is_empty():
        return pl.repeat(value=False, n=rows.height, dtype=pl.Boolean, eager=True).alias("side")
    ids = sidechain.get_column("message_id").drop_nulls().unique()
    replayed = rows.filter(~pl.col("side") & pl.col("message_id").is_in(ids.implode())).get_column("message_id")
    replay = pl.col("side") & pl.col("message_id").is_in(replayed.unique().implode())
    return rows.select(replay.fill_null(value=False)).to_series()  # a line without a message id replays nothing


def _user_lines(lines: pl.LazyFrame) -> pl.DataFrame:
    """What went into each session, from lines as text: ``user`` lines holding tool results (turn ``tool``) or a
    prompt (``prompt``, with its ``text``). The text path of :class:`_TypedLines`' user lines."""
    line = pl.col("line")
    content = line.str.json_path_match("$.message.content")
    return (
        lines.filter(line.str.contains(r'"type"\s*:\s*"user"') & ENDS_LIKE_OBJECT)
        # A subagent's user line quoted inside a parent's agent_progress line is no turn of the parent's.
        .filter(line.str.json_path_match("$.type") == "user")
        .select(
            "source_file",
            "source_line",
            line.str.json_path_match("$.timestamp").alias("timestamp"),
            line.str.json_path_match("$.sessionId").alias("session_id"),
            *_turn_and_text(content, line.str.json_path_match("$.message.content[0].text")),
        )
        .collect()
    )


def _turns(users: pl.DataFrame, timezone: str) -> pl.DataFrame:
    """Each user line's session, time, turn and prompt signature: a prompt's text becomes its SimHash signature
    here and goes no further."""
    when = coerce.timestamp("timestamp", timezone, field="timestamp")
    users = coerce.with_staged(users, when).with_columns(when.value.alias("timestamp"))
    return users.select("session_id", "timestamp", "turn", simhash(users, "text").alias("prompt_signature"))


_Count = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)] | None
"""A token count as the typed decode takes it; any other value (text, a fraction) sends its file down the text
path, whose checked parse rejects the line with the reason it always gave."""


class _CacheCreation(msgspec.Struct, gc=False):
    ephemeral_5m_input_tokens: _Count = None
    ephemeral_1h_input_tokens: _Count = None


class _Usage(msgspec.Struct, gc=False):
    input_tokens: _Count = None
    output_tokens: _Count = None
    cache_read_input_tokens: _Count = None
    cache_creation_input_tokens: _Count = None
    cache_creation: _CacheCreation | None = None


class _Message(msgspec.Struct, gc=False):
    id: str | None = None
    model: str | None = None
    usage: _Usage | None = None
    content: msgspec.Raw = msgspec.Raw()
    """A user line's prompt or tool results, kept as its JSON text (not built: most of a transcript's bytes)."""


class _Response(msgspec.Struct, gc=False):
    """What a usage row needs of a transcript line (also of a subagent's line inside ``agent_progress``).

    Attributes are the JSON keys, so that :data:`_PATHS` reads the decoded lines as it reads the text.
    """

    timestamp: str | None = None
    requestId: str | None = None  # noqa: N815
    uuid: str | None = None
    message: _Message | None = None


class _Progress(msgspec.Struct, gc=False):
    message: _Response | None = None


class _Line(_Response, gc=False):
    """Any transcript line, as far as the audit reads it: a usage line's fields and a user line's."""

    type: str | None = None
    sessionId: str | None = None  # noqa: N815
    isSidechain: bool | None = None  # noqa: N815
    costUSD: float | None = None  # noqa: N815
    data: _Progress | None = None


_LINES = msgspec.json.Decoder(_Line)
_NO_CONTENT = msgspec.Raw()
_COUNTS = [name for name in _PATHS if name.removeprefix("progress_") in _USAGE_FIELDS]
"""The token counts among :data:`_PATHS`."""
_DECODED_TYPES: dict[str, type[pl.DataType]] = {
    **{name: pl.String for name in _PATHS},
    **dict.fromkeys(_COUNTS, pl.Int64),
    "sidechain": pl.Boolean,
    "cost": pl.Float64,
}
_USER_COLUMNS = {"source_file": pl.String, "source_line": pl.Int64, "timestamp": pl.String, "session_id": pl.String}


@dataclass
class _TypedLines:
    """One batch's usage and user lines, decoded by type from the bytes where the file allows it.

    Transcripts are mostly prompts, tool output and file snapshots, and a text JSON decode spends its time there.
    A file of whole JSON objects (:func:`~tokenaudit.readers.jsonlines.object_lines`) is decoded in one call
    (msgspec's ``decode_lines``) into typed records of the few fields read, skipping the rest without building it;
    usage rows are the records holding usage, user rows the ``user`` records, whose content (kept as JSON text) is
    read by the text path's own expressions. A file the typed decode refuses (invalid JSON, a field of unexpected
    type) and every other file take the text path, which rejects or reads their lines exactly as before; both
    paths give the same text columns, and rows come out in the order of the text path's scan.
    """

    usage: pl.DataFrame
    users: pl.DataFrame
    text: pl.LazyFrame | None
    order: dict[str, int]
    in_order: bool
    """Whether the rows are in the scan's order as they stand: every file decoded by type (so rows come in batch
    order), the batch naming each file once, in the scan's order."""

    @classmethod
    def of(cls, batch: Sequence[Source]) -> _TypedLines:
        decoded = _Decoded()
        plain: list[Source] = []
        for source in batch:
            whole = object_lines(source)
            records = None if whole is None else _whole_lines(*whole)
            if records is None:
                plain.append(source)
            else:
                decoded.add(source.name, records)
        usage, users = decoded.frames()
        # scan_lines' order: files on disk first, then those held in memory (standard input, inflated .gz files).
        scanned = sorted(batch, key=lambda source: source.data is not None)
        order = {source.name: position for position, source in enumerate(scanned)}
        return cls(
            usage=usage,
            users=users,
            text=scan_lines(plain) if plain else None,
            order=order,
            in_order=not plain and list(order) == [source.name for source in batch],
        )

    def usage_rows(self) -> tuple[pl.DataFrame, pl.DataFrame]:
        """The usage lines' fields (``_PATHS``), and the lines rejected on the way. Fields are text, except token
        counts and the cost when every row came from the typed decode: they stay numbers, which the parse only
        checks."""
        if self.text is None:
            return self._in_order(self.usage), empty_rejects()
        rows, rejects = decode_candidates(candidate_lines(self.text, '"usage"'), _PATHS)
        usage = self.usage.with_columns(pl.col(*_COUNTS, "cost").cast(pl.String))
        return self._in_order(pl.concat([usage, rows.select(usage.columns)], how="vertical")), rejects

    def user_rows(self) -> pl.DataFrame:
        """Each user line's ``timestamp``, ``session_id``, ``turn`` and ``text``."""
        users = self.users
        if self.text is not None:
            users = pl.concat([users, _user_lines(self.text)], how="vertical")
        return self._in_order(users).drop("source_file", "source_line")

    def _in_order(self, frame: pl.DataFrame) -> pl.DataFrame:
        if self.in_order:
            return frame
        position = pl.col("source_file").replace_strict(self.order, return_dtype=pl.UInt32)
        return frame.sort(position, "source_line", maintain_order=True)


_RECORDS_HELD = 16_384
"""Typed records held before they become columns: a batch's records (every line's) would take about 3× its bytes."""


class _Decoded:
    """Typed records of whole-object files, turned into usage and user rows a few thousand at a time."""

    def __init__(self) -> None:
        self.records: list[_Line] = []
        self.names: list[str] = []
        self.counts: list[int] = []
        self.usage: list[pl.DataFrame] = []
        self.users: list[pl.DataFrame] = []

    def add(self, name: str, records: list[_Line]) -> None:
        """One file's records, one per line."""
        self.records.extend(records)
        self.names.append(name)
        self.counts.append(len(records))
        if len(self.records) >= _RECORDS_HELD:
            self._flush()

    def frames(self) -> tuple[pl.DataFrame, pl.DataFrame]:
        """The usage rows (``_PATHS``; counts as integers, the rest as text) and the user rows."""
        self._flush()
        return pl.concat(self.usage, how="vertical").rechunk(), pl.concat(self.users, how="vertical").rechunk()

    def _flush(self) -> None:
        records = self.records
        numbered = pl.DataFrame({"n": self.counts}, schema={"n": pl.Int64})
        lines = numbered.select(
            # Each line's file name is a view of the one copy of it (a copy per line is a tenth of the rows' bytes).
            pl.lit(pl.Series(self.names, dtype=pl.String))
            .gather(pl.int_range(pl.len(), dtype=pl.UInt32).repeat_by("n").explode())
            .alias("source_file"),
            pl.int_ranges(1, pl.col("n") + 1, dtype=pl.Int64).explode().alias("source_line"),
        )
        usage = [index for index, record in enumerate(records) if _holds_usage(record)]
        users = [index for index, record in enumerate(records) if record.type == "user"]
        columns = struct_columns([records[index] for index in usage], _PATHS)
        self.usage.append(
            lines[usage]
            .hstack(pl.DataFrame(columns, schema=_DECODED_TYPES))
            .with_columns(pl.exclude(*_COUNTS, "cost", "source_file", "source_line").cast(pl.String))
        )
        self.users.append(_user_rows(lines[users], [records[index] for index in users]))
        self.records, self.names, self.counts = [], [], []


def _whole_lines(data: bytes, lines: int) -> list[_Line] | None:
    """Each of the ``lines`` lines of a whole-object file (:func:`~tokenaudit.readers.jsonlines.object_lines`) as a
    typed record, or None when the typed decode refuses the file. One record per line means no line holds two
    objects: the records' positions are the line numbers."""
    try:
        records = _LINES.decode_lines(data)
    except msgspec.DecodeError:
        return None
    return records if len(records) == lines else None


def _holds_usage(record: _Line) -> bool:
    if record.message is not None and record.message.usage is not None:
        return True
    inner = record.data.message if record.data is not None else None
    return inner is not None and inner.message is not None and inner.message.usage is not None


def _user_rows(lines: pl.DataFrame, records: Sequence[_Line]) -> pl.DataFrame:
    """User records' session, time, turn and text: their content's JSON text read as :func:`_user_lines` reads
    ``message.content`` from a line (``$`` of the content is ``$.message.content`` of the line)."""
    columns = struct_columns(records, {"timestamp": "timestamp", "session_id": "sessionId", "content": "message"})
    # Contents are cut from lines, so none holds a newline; a missing one is empty text, which reads as null.
    joined = b"\n".join(_NO_CONTENT if message is None else message.content for message in columns.pop("content"))
    content = pl.Series("content", [joined.decode()] if records else [], dtype=pl.String).str.split("\n").explode()
    values = pl.DataFrame(
        {**columns, "content": content}, schema={"timestamp": pl.String, "session_id": pl.String, "content": pl.String}
    )
    return lines.hstack(values).select(*_USER_COLUMNS, *_turn_and_text(*_content_and_first_text(pl.col("content"))))


def _content_and_first_text(raw: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """``$.message.content`` and ``$.message.content[0].text`` of a line, as the text path reads them, from the
    content's JSON text ``raw``, parsing only where needed (tool output is most of a user line's bytes).

    A list without a backslash needs no parse: its text differs from the text path's re-encoding only in spaces
    between tokens and key order, so it names ``"tool_result"`` exactly when that does (barring a key given twice in
    one object, which JSON leaves undefined). Strings (unescaped), lists with escapes and other values are parsed; a
    first block's ``text`` is looked for only in lists that can hold one.
    """
    listed = raw.str.starts_with("[")
    escaped = raw.str.contains("\\", literal=True)
    plain_list = listed & ~escaped
    content = pl.when(plain_list).then(raw).otherwise(pl.when(~plain_list).then(raw).str.json_path_match("$"))
    may_have_text = listed & (escaped | raw.str.contains('"text"', literal=True))
    return content, pl.when(may_have_text).then(raw).str.json_path_match("$[0].text")


def _turn_and_text(content: pl.Expr, first_text: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """A user line's ``turn`` (``tool`` when its content, as JSON text, is a list naming ``tool_result``, else
    ``prompt``) and ``text`` (the first block's text of a list, else the content)."""
    listed = content.str.starts_with("[")
    turn = (
        pl.when(listed & content.str.contains('"tool_result"', literal=True))
        .then(pl.lit("tool"))
        .otherwise(pl.lit("prompt"))
    )
    return turn.alias("turn"), pl.when(listed).then(first_text).otherwise(content).alias("text")


_FIRST_LOOK_BYTES = 4096
"""What :meth:`ClaudeCodeReader.detect` reads first: a transcript's first line names its kind and session keys
(the 64 KiB head costs a third of a transcript's read)."""


def _is_transcript(text: str) -> bool:
    """Claude Code's line kinds and camelCase session keys in JSON lines (``text`` without leading white space)."""
    return text.startswith("{") and bool(_LINE_KIND.search(text)) and bool(_CLAUDE_KEYS.search(text))


def _is_usage_line(line: str) -> bool:
    """A JSON object with a ``timestamp`` and integer token counts at ``message.usage``."""
    try:
        doc = json.loads(line)
    except ValueError:
        return False  # the head's last line is usually cut short
    message = doc.get("message") if isinstance(doc, dict) else None
    usage = message.get("usage") if isinstance(message, dict) else None
    return (
        isinstance(usage, dict)
        and "timestamp" in doc
        and any(isinstance(usage.get(key), int) for key in ("input_tokens", "output_tokens"))
    )


_COUNT_COLUMNS = {
    "input_tokens": "input",
    "output_tokens": "output",
    "cache_read_tokens": "cache_read",
    "cache_creation": "cache_creation",
    "cache_5m": "cache_5m",
    "cache_1h": "cache_1h",
}


def _count(name: str, dtype: pl.DataType, timezone: str, *, required: bool) -> coerce.Parsed:
    """A token count's parse: a sign check where the typed decode gave an integer, else the text parse."""
    checked = coerce.typed(name, dtype, timezone, field=_FIELDS[name], required=required)
    return checked if checked is not None else coerce.count(name, field=_FIELDS[name], required=required)


def _cost(dtype: pl.DataType) -> coerce.Parsed:
    """``costUSD``'s parse: where the typed decode gave a number, the number, and the text parse only for a negative
    one (for its reason, as that parse gives it); else the text parse."""
    parsed = coerce.money("cost", field="costUSD")
    if dtype != pl.Float64:
        return parsed
    negative = pl.when(pl.col("cost") < 0).then(pl.col("cost")).alias("_negative_cost")
    return coerce.Parsed(pl.col("cost"), coerce.money("_negative_cost", field="costUSD").problem, (negative,))


class ClaudeCodeReader:
    """Claude Code's local JSONL transcripts, one row per API response."""

    name: ClassVar[str] = "claude-code"
    title: ClassVar[str] = "Claude Code session transcripts (JSONL)"
    exported_by: ClassVar[str] = (
        "Claude Code writes them: copy ~/.claude/projects/ (or $CLAUDE_CONFIG_DIR/projects/) per person, "
        "e.g. to exports/<email>/projects/"
    )
    limits: ClassVar[str] = (
        "no identity in the files (owner from --owner, owner_pattern or the folder holding projects/); "
        "kept 30 days by default (cleanupPeriodDays); cost rarely present, so priced from the price table; "
        "the format is internal to Claude Code and may change"
    )

    def detect(self, source: Source, context: ReadContext) -> Detection:
        """JSON lines with Claude Code's line kinds and camelCase session keys, or its usage lines' shape.

        Some transcript lines (and other tools' copies of them) carry no ``type`` or ``sessionId``: a line
        with a ``timestamp`` and ``message.usage`` token counts is a Claude Code usage line all the same.
        """
        if _is_transcript(source.opening_text(_FIRST_LOOK_BYTES).lstrip()):
            return Detection(True)  # a match in the head's first bytes is a match in the head: the common case, cheaper
        text = source.head_text().lstrip()
        if not text.startswith("{"):
            return Detection(False, "not JSON lines")
        if _is_transcript(text):
            return Detection(True)
        if any(_is_usage_line(line) for line in text.splitlines() if '"usage"' in line):
            return Detection(True)
        return Detection(
            False,
            "no Claude Code transcript lines (type user/assistant with sessionId, or timestamp with message.usage)",
        )

    def read(self, sources: Sequence[Source], context: ReadContext) -> ReadResult:
        """Every usage line of every transcript, deduplicated by the module's rule.

        Files are parsed in batches of about :data:`~tokenaudit.readers.jsonlines.BATCH_BYTES`, each down
        to its typed usage rows, so memory follows the number of API responses, not the size of the
        transcripts (mostly prompts, tool output and file snapshots). The duplicate rules need every
        file, so they run once, on the typed rows of all batches.
        """
        work, helpers = _work(sources)
        with _pool(helpers) as (pool, head_starts):  # the helpers start now: a start-up overlaps what follows
            owner = owners(sources, context, OWNER_FOLDERS)
            # Rows carry a file number until the end: the file name and owner are then looked up from one
            # copy each, instead of a copy of the path in every row of every batch.
            files, sessions, models = _Dictionary(source.name for source in sources), _Dictionary(), _Dictionary()
            typed: list[pl.DataFrame] = []
            rejected: list[pl.DataFrame] = []
            turns: list[pl.DataFrame] = []
            for good, bad, turn, values in _settled_batches(work, context.timezone, pool, helpers, head_starts):
                # The batch's codes (its own dictionaries') become the read's through a table of each batch value.
                session = sessions.table(values.sessions)
                typed.append(
                    good.with_columns(
                        files.table(values.files).gather(good.get_column("file_number")).alias("file_number"),
                        session.gather(good.get_column("session_id")).alias("session_id"),
                        models.table(values.models).gather(good.get_column("model")).alias("model"),
                    )
                )
                rejected.append(bad)
                turns.append(turn.with_columns(session.gather(turn.get_column("session_id")).alias("session_id")))
                del good, turn
        _drop_replays(typed)
        rows = pl.concat(typed, how="vertical", rechunk=False)
        typed.clear()
        # The read rows are narrow while the duplicate rules run over them (ids as codes, no file name): the events'
        # text columns are made at the end, as views of one copy of each value.
        names = files.values()
        rows = _responses(rows.drop("side").with_row_index(_COPIES), names)
        rows = attach_turns(rows, pl.concat(turns, how="vertical"))
        turns.clear()
        # The losing copies are dropped here, as the ingest's dedup would drop them (it then finds no copies): the
        # events are made of the responses alone. What the quality section counts of them travels as a summary.
        kept = rows.get_column(_KEPT)
        # A losing row stands for itself and the copies merged into it; a kept one for those copies.
        merged = pl.col(_MERGED)
        losing = pl.when(kept).then(merged).otherwise(merged + 1).alias("events")
        copies = _copies_by_file(
            rows.select("file_number", "timestamp", losing).filter(pl.col("events") > 0), names, self.name
        )
        # Every copy of a response took its first copy's time, and takes the largest turn of its copies.
        rows = _turns_of_copies(rows)
        if "dedup_key" not in rows.columns:  # made for the losing copies too (few): the ids are not copied to drop them
            rows = rows.with_columns(_dedup_key(names, pl.col(_ONE)))
        rows = rows.drop("message_id", "uuid", _ONE, _KEPT, _COPIES, _MERGED).filter(kept)
        del kept
        number = pl.col("file_number")
        # The columns that are the same in every row (and those conform adds as nulls) are added after the rows are
        # made one chunk, as constants: made a column of each row's value, they would take a tenth of the events.
        constants = {
            "tool": pl.lit("claude-code"),
            "grain": pl.lit("request"),
            "requests": pl.lit(1),
            "source_format": pl.lit(self.name),
        }
        rows = rows.with_columns(
            sessions.decoded("session_id"),
            models.decoded("model"),
            files.decoded("file_number").alias("source_file"),
            pl.lit(pl.Series([owner[name] for name in files.codes], dtype=pl.String)).gather(number).alias("developer"),
        )
        events = conform(rows.lazy().with_columns(**constants)).collect()
        del rows
        return ReadResult(events=events, rejects=pl.concat(rejected, how="vertical"), copies=copies)


def _turns_of_copies(rows: pl.DataFrame) -> pl.DataFrame:
    """``rows`` with each copy's ``turn`` and ``prompt_signature`` the largest of its response's (:data:`_COPIES`)
    copies': ``max().over(_COPIES)``, computed for the copies of responses read more than once alone (a response read
    once is its own largest, and most are)."""
    first = rows.get_column(_COPIES)
    moved = _moved(first)
    if moved.is_empty():
        return rows
    # A response's copies: its first copy, and the copies that have it as their first.
    several = pl.concat([moved, first.gather(moved)]).unique().sort()
    columns = ("turn", "prompt_signature")
    shared = rows.select(_COPIES, *columns)[several].select(pl.col(*columns).max().over(_COPIES))
    return rows.with_columns(rows.get_column(name).scatter(several, shared.get_column(name)) for name in columns)


def _copies_by_file(losers: pl.DataFrame, names: pl.Series, reader: str) -> pl.DataFrame:
    """Per file, the losing copies the read dropped (:attr:`~tokenaudit.readers.base.ReadResult.copies`), in
    :func:`~tokenaudit.shards.read_sources`' columns: what the ingest would have counted of them. ``losers``: rows
    (``file_number``, ``timestamp``) that stand for ``events`` losing copies each."""
    by_file = losers.group_by("file_number").agg(
        pl.col("events").sum().cast(pl.UInt32),
        pl.col("timestamp").min().alias("first"),
        pl.col("timestamp").max().alias("last"),
    )
    timestamp = EVENT_SCHEMA["timestamp"]
    return by_file.select(
        pl.lit(names).gather(pl.col("file_number")).alias("source_file"),
        pl.lit(reader, pl.String).alias("source_format"),
        "events",
        pl.col("first", "last").cast(timestamp),
    )


_COPIES = "_copies"
"""The read rows' column naming each row's response by the position of its first copy."""


class _Dictionary:
    """Text of few distinct values (file names, session ids, models) as codes while the read rows are held (4 bytes a
    row against a 16-byte view and the text), and back as views of one copy of each value (not a copy per row).

    Each batch encodes its own columns against its own values (:func:`_local_codes`, where the batch is settled: in
    a helper process or beside this thread's decode, not after it); :meth:`table` turns a batch's codes into these.
    """

    def __init__(self, known: Iterable[str] = ()) -> None:
        self.codes: dict[str, int] = {}
        for value in known:
            self.codes.setdefault(value, len(self.codes))

    def table(self, values: Sequence[str]) -> pl.Series:
        """The code of each of a batch's ``values`` (a batch's code is a position in them), to gather a batch's codes
        from: these codes (nulls stay null)."""
        return pl.Series([self.codes.setdefault(value, len(self.codes)) for value in values], dtype=pl.UInt32)

    def values(self) -> pl.Series:
        """The text of each code, at its position."""
        return pl.Series(list(self.codes), dtype=pl.String)

    def decoded(self, name: str) -> pl.Expr:
        """Column ``name``'s codes as their text again."""
        return pl.lit(self.values()).gather(pl.col(name)).alias(name)


def _drop_replays(typed: list[pl.DataFrame]) -> None:
    """Drop sidechain replays (:func:`_sidechain_replays`, which spans every batch) from each batch's rows in place,
    one batch at a time: filtering the rows of all batches at once would hold two copies of them."""
    narrow = pl.concat([rows.select("message_id", "side") for rows in typed], how="vertical")
    replay = _sidechain_replays(narrow)
    if not replay.any():
        return
    start = 0
    for index, rows in enumerate(typed):
        typed[index] = rows.filter(~replay.slice(start, rows.height))
        start += rows.height


@dataclass(frozen=True)
class _Values:
    """The text of a batch's codes: its ``file_number``'s, ``session_id``'s and ``model``'s, by position."""

    files: list[str]
    sessions: list[str]
    models: list[str]


_Settled = tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, _Values]
"""One batch's usage rows (before the duplicate rules; file, session and model as the batch's codes, ``side``),
rejected lines, user turns (session as a code) and the text of its codes."""


def _local_codes(column: pl.Series, values: pl.Series) -> pl.Series:
    """``column``'s values as their positions in ``values`` (which holds every one of them), under its name; nulls
    stay null."""
    if values.is_empty():  # no value to replace: replace_strict would keep the text type
        return pl.repeat(None, column.len(), dtype=pl.UInt32, eager=True).alias(column.name)
    positions = pl.int_range(values.len(), dtype=pl.UInt32, eager=True)
    return column.replace_strict(values, positions, return_dtype=pl.UInt32)


def _encoded(
    good: pl.DataFrame, turns: pl.DataFrame, files: Sequence[str]
) -> tuple[pl.DataFrame, pl.DataFrame, _Values]:
    """A batch's usage rows and turns with text of few distinct values as the batch's own codes (``files``: the
    batch's file names, each once): narrow rows to send from a helper, and no dictionary work left to the thread
    that gathers the batches."""
    names = pl.Series(files, dtype=pl.String)
    sessions = pl.concat([good.get_column("session_id"), turns.get_column("session_id")]).drop_nulls()
    sessions = sessions.unique(maintain_order=True)
    models = good.get_column("model").drop_nulls().unique(maintain_order=True)
    good = good.select(
        pl.exclude("source_file", "session_id", "model", "sidechain"),
        _local_codes(good.get_column("source_file"), names).alias("file_number"),
        _local_codes(good.get_column("session_id"), sessions),
        _local_codes(good.get_column("model"), models),
        (pl.col("sidechain") == "true").fill_null(value=False).alias("side"),
    )
    turns = turns.with_columns(_local_codes(turns.get_column("session_id"), sessions))
    return good, turns, _Values(list(files), sessions.to_list(), models.to_list())


_HELPER_MIN_BATCHES = 4
"""Helper processes start only for inputs of at least this many batches: each costs an interpreter's start-up."""


_HELPER_QUEUE = 2
"""Batches a helper process holds at a time (one it decodes, one waiting), so that it never waits for this one."""
_TAPERED_BATCHES = 3
"""Batches at the end of a read with helpers that are cut into quarters (:func:`_work`)."""


def _settled_batches(
    work: list[tuple[list[Source], int]],
    timezone: str,
    pool: ProcessPoolExecutor | None,
    helpers: int,
    head_starts: Sequence[Future[HeadStart | None]] = (),
) -> Iterator[_Settled]:
    """Each batch's usage rows, rejects and turns, in batch order: the duplicate rules see rows in the scan's order.

    A pipeline: while Polars settles one batch's rows (mostly without the GIL) in a thread, Python decodes the next
    here. With ``helpers`` processes in ``pool`` (Python's decode holds the GIL, so only processes put more cores on
    it), a batch goes to a helper whenever the helpers hold fewer than :data:`_HELPER_QUEUE` each, and this process
    reads the others: the batches are shared by how fast each side goes (a helper starts late, after an
    interpreter's start-up; this process also settles its own batches), not in turns. The first batches are those the
    helpers began before the read (``head_starts``: :func:`head_start`), each taken where it is the same batch.
    """
    pending: deque[tuple[Future[_Settled] | Future[HeadStart | None], list[Source], int]] = deque()
    with ThreadPoolExecutor(max_workers=1) as polars_work:
        helped: list[Future[_Settled] | Future[HeadStart | None]] = []
        here: deque[Future[_Settled]] = deque()
        for number, (batch, size) in enumerate(work):
            helped = [future for future in helped if not future.done()]
            future: Future[_Settled] | Future[HeadStart | None] | None = (
                head_starts[number]
                if number < len(head_starts)
                else _to_helper(pool, batch, timezone)
                if len(helped) < _HELPER_QUEUE * helpers
                else None
            )
            if future is not None:
                helped.append(future)
            else:
                while len(here) > 1:  # one decoded batch at most waits for Polars: memory stays bounded
                    here.popleft().exception()
                future = polars_work.submit(_settled, _TypedLines.of(batch), timezone)
                here.append(future)
            pending.append((future, batch, size))
            while pending and pending[0][0].done():
                yield _taken(*pending.popleft(), timezone)
        while pending:
            yield _taken(*pending.popleft(), timezone)


def _to_helper(pool: ProcessPoolExecutor | None, batch: list[Source], timezone: str) -> Future[_Settled] | None:
    """``batch`` on its way to a helper process, or None without one (none started, or they died)."""
    if pool is None:
        return None
    try:
        return pool.submit(_settle, batch, timezone)
    except BrokenProcessPool:
        return None


def _taken(
    future: Future[_Settled] | Future[HeadStart | None], batch: list[Source], size: int, timezone: str
) -> _Settled:
    """A batch's result, read here if its helper died (killed, out of memory) or began another batch before the read
    (:func:`head_start`)."""
    try:
        settled = future.result()
    except BrokenProcessPool:
        settled = None
    if isinstance(settled, HeadStart):
        settled = settled.settled if (settled.batch, settled.timezone) == (batch, timezone) else None
    progress.advance(size)
    return _settle(batch, timezone) if settled is None else settled


@dataclass(frozen=True)
class HeadStart:
    """A batch a helper began before the read was planned (:func:`head_start`): its sources, time zone and rows."""

    batch: list[Source]
    timezone: str
    settled: _Settled


def head_start(inputs: tuple[str, ...], timezone: str, index: int) -> HeadStart | None:
    """Batch ``index`` of the transcripts at the command line's ``inputs``
    (:func:`~tokenaudit.readers.sources.transcript_sources`), settled in ``timezone``: in a helper that the command
    line started (:mod:`tokenaudit.helper_pool`), while this process imports and plans, on a core that would wait for
    the read; the read takes it where it is its own batch (:func:`_taken`). None where there is no such batch or
    anything went wrong: the read then reads the batch itself (and meets the problem there, if it is one)."""
    try:
        batch = next(islice(batches(transcript_sources(inputs)), index, None), None)
        return None if batch is None else HeadStart(batch[0], timezone, _settle(batch[0], timezone))
    except Exception:  # a guess that failed: the read does the work again, errors included
        return None


_MERGED = "_merged"
"""The read rows' column counting the copies of a row's response in its own file that were merged into it
(:func:`_merged_copies`): losing copies the quality section counts all the same."""


def _merged_copies(good: pl.DataFrame) -> pl.DataFrame:
    """A batch's usage rows (in the scan's order) with the copies of a response within one file merged into the one
    the dedup would keep of them, which takes their earliest time and counts the others in :data:`_MERGED`.

    Claude Code writes a response as several lines (one per content block, streamed), so most read rows are copies
    in the response's own file. Copies of one message id, request id, session and chain in one file share their
    ``dedup_key`` whatever it is made of, and are ranked by the keep rule (:func:`~tokenaudit.schema.kept_copies`:
    the most tokens, then the first line, then the first row; the file is the same): the best of them is the only
    one that can be kept, and the only one the duplicate rules need besides the group's earliest time and its size.
    Rows without a message id (keyed by their request id, uuid or line) stay as they are.
    """
    total = pl.sum_horizontal(*TOKEN_COLUMNS)
    numbered = good.with_row_index("_row")
    keyed = pl.col("message_id").is_not_null()
    best = (
        numbered.filter(keyed)
        .sort(total, "source_line", "_row", descending=[True, False, False])
        .group_by("source_file", "message_id", "request_id", "session_id", "sidechain")
        .agg(
            pl.col("_row").first(),
            pl.col("timestamp").min().alias("_earliest"),
            (pl.len() - 1).cast(pl.UInt32).alias(_MERGED),
        )
        .select("_row", "_earliest", _MERGED)
    )
    alone = numbered.filter(~keyed).select(
        "_row", pl.col("timestamp").alias("_earliest"), pl.lit(0, pl.UInt32).alias(_MERGED)
    )
    kept = pl.concat([best, alone], how="vertical").sort("_row")
    return good[kept.get_column("_row")].with_columns(
        kept.get_column("_earliest").alias("timestamp"), kept.get_column(_MERGED)
    )


def _settled(lines: _TypedLines, timezone: str) -> _Settled:
    """One decoded batch's rows, rejects and turns: the Polars half of a batch's work."""
    good, bad = _parse(lines, timezone)
    usage, turns, values = _encoded(_merged_copies(good), _turns(lines.user_rows(), timezone), list(lines.order))
    return usage, bad, turns, values


def _settle(batch: list[Source], timezone: str) -> _Settled:
    """One batch from its files to its rows (in a helper process: it depends on nothing but its arguments, the
    batch's sources and the time zone, which is all of the policy that a batch's rows need)."""
    return _settled(_TypedLines.of(batch), timezone)


def _work(sources: Sequence[Source]) -> tuple[list[tuple[list[Source], int]], int]:
    """The batches to read, and how many helper processes read them with this one (:func:`_helper_processes`).

    With helpers, the last :data:`_TAPERED_BATCHES` batches' files are read in quarter batches, so that at the end
    neither side waits long for the other's last batch (a helper may hold two).
    """
    work = list(batches(sources))
    helpers = _helper_processes(len(work))
    if helpers:
        cut = len(work) - _TAPERED_BATCHES
        tail = [source for batch, _ in work[cut:] for source in batch]
        work = work[:cut] + list(batches(tail, max(jsonlines.BATCH_BYTES // 4, 1)))
    return work, helpers


def _helper_processes(batches: int) -> int:
    """Processes beside this one that decode batches, as :data:`~tokenaudit.helper_pool.HELPERS` allows
    (:func:`~tokenaudit.helper_pool.allowed`); none for a small input."""
    if batches < _HELPER_MIN_BATCHES:
        return 0
    return max(min(helper_pool.allowed(), batches - 1), 0)


@contextmanager
def _pool(processes: int) -> Iterator[tuple[ProcessPoolExecutor | None, list[Future[HeadStart | None]]]]:
    """``processes`` helper processes: those the command line started early (:func:`~tokenaudit.helper_pool.take`),
    with the batches they began (:func:`head_start`), else fresh ones, started at once
    (:func:`~tokenaudit.helper_pool.start`); None where none can start. An early pool the read does not want
    (``processes`` 0) is discarded. Leaving does not wait for the helpers: they free their memory while this process
    goes on."""
    early = helper_pool.take(processes)
    pool = early.pool if early is not None else helper_pool.start(processes) if processes else None
    if pool is None:
        yield None, []
        return
    try:
        yield pool, early.head_starts if early is not None else []
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _parse(batch: _TypedLines, timezone: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """One batch of files: typed usage rows (before the duplicate rules) and rejected lines."""
    rows, invalid = batch.usage_rows()
    in_progress = pl.any_horizontal([pl.col(f"progress_{name}").is_not_null() for name in _USAGE_FIELDS])
    lines = rows.lazy().select(
        pl.exclude(_PATHS),
        *(pl.col(name) for name in _FIELDS if name not in _PROGRESS and name != "sidechain"),
        *(pl.coalesce(f"progress_{name}", name).alias(name) for name in _PROGRESS),
        pl.when(in_progress).then(pl.lit("true")).otherwise("sidechain").alias("sidechain"),
    )
    usage = lines.filter(
        pl.any_horizontal([pl.col(name).is_not_null() for name in _USAGE_FIELDS]),
        pl.col("model").fill_null("") != SYNTHETIC_MODEL,
    )
    timestamp = coerce.timestamp("timestamp", timezone, field="timestamp")
    parsed = {
        "timestamp": timestamp,
        **{name: coerce.text(name) for name in ("session_id", "request_id", "message_id", "uuid", "model")},
        "sidechain": coerce.text("sidechain", field="isSidechain"),
        **{
            column: _count(name, rows.schema[name], timezone, required=name in ("input", "output"))
            for column, name in _COUNT_COLUMNS.items()
        },
        "has_breakdown": coerce.Parsed(
            pl.col("cache_5m").is_not_null() | pl.col("cache_1h").is_not_null(), pl.lit(None, pl.String)
        ),
        "cost_usd": _cost(rows.schema["cost"]),
    }
    good, rejects = coerce.parse_rows(usage, parsed, raw=fields_as_json(_FIELDS, as_text=True))
    # Row-local columns are settled here, so that the rows kept for the duplicate rules are narrow;
    # and one chunk per batch, not per file (scan_lines), or every later step crawls.
    narrow = good.select(
        pl.exclude("uuid", "cache_creation", "cache_5m", "cache_1h", "has_breakdown"),
        pl.when(pl.col("message_id").is_null()).then(pl.col("uuid")).alias("uuid"),  # only a fallback key
        cache_write_tokens=pl.when("has_breakdown")
        .then(pl.col("cache_5m") + pl.col("cache_1h"))
        .otherwise("cache_creation"),
        cache_write_1h_tokens=pl.when("has_breakdown").then("cache_1h"),
    )
    return narrow.rechunk(), pl.concat([invalid, rejects], how="vertical")
