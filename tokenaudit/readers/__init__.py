"""Reader registry: format auto-detection from content, with ``--input-format`` as the override."""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Final

import polars as pl

from tokenaudit import helper_pool
from tokenaudit.errors import InputError, UsageError
from tokenaudit.readers.anthropic import AnthropicMessagesUsageReader, ClaudeCodeAnalyticsReader
from tokenaudit.readers.azure_openai import AzureOpenAIGatewayReader
from tokenaudit.readers.base import Detection, ReadContext, Reader, ReadResult
from tokenaudit.readers.bedrock import BedrockInvocationLogReader
from tokenaudit.readers.claude_code import ClaudeCodeReader
from tokenaudit.readers.codex import CodexReader
from tokenaudit.readers.copilot import CopilotUsageReader
from tokenaudit.readers.cursor import CursorCsvReader, CursorDailyUsageReader, CursorUsageEventsReader
from tokenaudit.readers.generic import GenericReader, blocks_of
from tokenaudit.readers.litellm import LiteLLMReader
from tokenaudit.readers.openai import OpenAIUsageReader
from tokenaudit.readers.otel import ClaudeCodeOtelReader
from tokenaudit.readers.parse import file_kind
from tokenaudit.readers.sources import Source, check_lines, long_lines_first
from tokenaudit.readers.vertex import VertexRequestResponseReader
from tokenaudit.readers.windsurf import WindsurfCascadeReader

READERS: tuple[Reader, ...] = (
    ClaudeCodeReader(),
    CodexReader(),
    ClaudeCodeOtelReader(),
    ClaudeCodeAnalyticsReader(),
    AnthropicMessagesUsageReader(),
    OpenAIUsageReader(),
    LiteLLMReader(),
    CursorUsageEventsReader(),
    CursorDailyUsageReader(),
    CursorCsvReader(),
    CopilotUsageReader(),
    BedrockInvocationLogReader(),
    VertexRequestResponseReader(),
    AzureOpenAIGatewayReader(),
    WindsurfCascadeReader(),
    GenericReader(),
)
"""Most specific first: the generic reader, which only needs column names, comes last."""


def reader_named(name: str) -> Reader:
    """The reader for ``--input-format NAME``."""
    for reader in READERS:
        if reader.name == name:
            return reader
    msg = f"unknown input format {name!r}; expected one of: {', '.join(r.name for r in READERS)}"
    raise UsageError(msg)


UNRECOGNISED = "no reader recognises this file (not a usage export)"
"""The skip reason of a file found in a folder that no reader recognises."""


def _recognise(source: Source, context: ReadContext) -> Reader | list[str]:
    """The first reader that recognises ``source``, or what each reader missed."""
    tried = []
    for reader in READERS:
        try:
            detection = reader.detect(source, context)
        except (ValueError, csv.Error, pl.exceptions.PolarsError) as exc:
            # A detector choking on foreign content is a "no", never a crash of the whole run.
            detection = Detection(False, f"unreadable as this format ({type(exc).__name__})")
        if detection.matched:
            return reader
        tried.append(f"{reader.name} ({detection.detail})")
    return tried


def detect(source: Source, context: ReadContext) -> Reader:
    """The first reader that recognises ``source``, or an error saying what each reader missed."""
    if not source.head.strip():
        msg = f"{source.name}: the file is empty"
        raise InputError(msg)
    found = _recognise(source, context)
    if isinstance(found, list):
        msg = f"{source.name}: no reader recognises this file; tried: {'; '.join(found)}"
        raise InputError(msg)
    return found


FILE_BY_FILE: Final = frozenset({"generic"})
"""Readers whose duplicate rules never span files: read one file at a time (a large text file a block at a time), so
that what is held while reading is bounded by the largest file or block, not by all of them."""


@dataclass(frozen=True)
class ReadPlan:
    """Which reader reads which sources, in reading order, and the walked files no reader recognised."""

    batches: list[tuple[Reader, list[Source]]]
    skipped: list[tuple[str, str]]

    def read(self, context: ReadContext, rows_per_part: int | None = None) -> Iterator[ReadResult]:
        """Each reader's batch (one file at a time for :data:`FILE_BY_FILE` readers: a Parquet file in parts of
        ``rows_per_part`` rows when given, a text file in blocks of whole records), in order."""
        for reader, batch in self.parts(rows_per_part):
            yield read_batch(reader, batch, context)

    def parts(self, rows_per_part: int | None = None) -> Iterator[tuple[Reader, list[Source]]]:
        """What :meth:`read` reads, in order: each :func:`read_batch` call's reader and sources. The parts of a
        :data:`FILE_BY_FILE` reader are independent of each other (a caller may read them at once)."""
        for reader, batch in self.batches:
            if reader.name not in FILE_BY_FILE:
                yield reader, batch
                continue
            for source in batch:
                for part in row_ranges(source, rows_per_part) if rows_per_part else [source]:
                    for block in blocks_of(part):
                        yield reader, [block]


def row_ranges(source: Source, rows: int) -> list[Source]:
    """A Parquet file in runs of ``rows`` rows (counted from its footer, in file order; a smaller file as one run
    that says how many rows it has); any other file whole. The runs read to the file's rows, line numbers included."""
    if source.path is None or file_kind(source) != "parquet":
        return [source]
    total = int(pl.scan_parquet(source.path).select(pl.len()).collect().item())
    return (
        [source]
        if not total
        else [
            replace(source, rows=(offset, min(rows, total - offset)), file_rows=total)
            for offset in range(0, total, rows)
        ]
    )


def plan_reads(sources: Sequence[Source], context: ReadContext, input_format: str | None = None) -> ReadPlan:
    """Recognise every source before any is read, and batch the sources per reader.

    A file found by a folder walk that no reader recognises is skipped (listed in ``skipped``); one named
    on the command line is an error. With ``--input-format`` every file is read as that format.

    The line lengths of a large file (:attr:`~tokenaudit.readers.sources.Source.lines_unchecked`) are checked as it
    is read when a :data:`FILE_BY_FILE` reader reads it in blocks of lines; any other is checked here, after the
    files before it: as if every file were checked in input order before any is read.
    """
    forced = reader_named(input_format) if input_format else None
    batches: dict[str, tuple[Reader, list[Source]]] = {}
    skipped: list[tuple[str, str]] = []
    with long_lines_first(sources):
        for source in sources:
            reader = forced or (_recognise(source, context) if source.walked else detect(source, context))
            if isinstance(reader, list):
                skipped.append((source.name, UNRECOGNISED))
                continue
            batches.setdefault(reader.name, (reader, []))[1].append(source)
        if skipped and not batches:
            msg = (
                f"no reader recognises any of the {len(skipped)} files found (first: {skipped[0][0]});"
                " name one file to see what each reader expected"
            )
            raise InputError(msg)
    if ClaudeCodeReader.name not in batches:
        helper_pool.discard()  # no transcript read to take the helper processes started early
    streamed = {
        id(source)
        for reader, batch in batches.values()
        if reader.name in FILE_BY_FILE
        for source in batch
        if source.lines_unchecked and file_kind(source) != "parquet"
    }
    unread = [number for number, source in enumerate(sources) if source.lines_unchecked and id(source) not in streamed]
    if unread:
        check_lines(sources[: unread[-1] + 1])
        checked = {id(source): replace(source, lines_unchecked=False) for source in sources[: unread[-1] + 1]}
        batches = {
            name: (reader, [checked.get(id(one), one) for one in batch]) for name, (reader, batch) in batches.items()
        }
    return ReadPlan(batches=list(batches.values()), skipped=skipped)


def read_batch(reader: Reader, batch: list[Source], context: ReadContext) -> ReadResult:
    """Read a batch; if Polars refuses invalid UTF-8, replace the bad bytes in the files that have them.

    Token counts are ASCII digits, so replacing undecodable bytes (typically in a name) with U+FFFD keeps
    every number exact; the report lists the files so the damaged names can be checked.
    """
    try:
        return reader.read(batch, context)
    except pl.exceptions.ComputeError as exc:
        if "utf8" not in str(exc).lower() and "utf-8" not in str(exc).lower():
            raise
    repaired: list[str] = []
    clean: list[Source] = []
    for source in batch:
        data = source.read_bytes()
        try:
            data.decode("utf-8")
            clean.append(source)
        except UnicodeDecodeError:
            repaired.append(source.name)
            fixed = data.decode("utf-8", errors="replace").encode("utf-8")
            clean.append(replace(source, data=fixed))
    result = reader.read(clean, context)
    return ReadResult(events=result.events, rejects=result.rejects, repaired=tuple(repaired), copies=result.copies)
