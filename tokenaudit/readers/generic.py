"""Flat exports in the canonical shape: CSV, TSV, JSON Lines and Parquet, optionally gzip-compressed.

Column names default to the canonical names (``tokenaudit.schema``); the policy's ``columns:`` section
maps other names onto them (``input_tokens: "Input (w/o Cache Write)"``). Duplicates: rows with the same
``request_id`` are one event; rows without one are duplicates only when every canonical field agrees.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import replace
from typing import ClassVar, Final

import polars as pl

from tokenaudit import progress
from tokenaudit.errors import InputError
from tokenaudit.readers import coerce
from tokenaudit.readers.base import Detection, ReadContext, ReadResult
from tokenaudit.readers.csvtext import record_count, record_end
from tokenaudit.readers.jsonlines import extract_fields, line_blocks, object_lines, scan_lines, size_of
from tokenaudit.readers.parse import csv_with_ragged_rows, file_header, file_kind
from tokenaudit.readers.sources import Block, Source
from tokenaudit.schema import REQUIRED_COLUMNS, TOKEN_COLUMNS, conform, request_key
from tokenaudit.signatures import simhash

TEXT_BLOCK_BYTES: Final = 30 * 1024 * 1024
"""A CSV, TSV or JSON Lines file is read in blocks of about this many bytes (:func:`text_blocks`): under 32 MiB, the
largest size glibc's allocator stops giving fresh pages from the system for, so that each block's bytes reuse the
memory freed by the block before instead of faulting in 32 MB of new pages (10M flat CSV events, 32 MiB blocks
against 30: 3.3 against 2.8 s of CPU for cutting the blocks)."""

_TEXT_COLUMNS = ("team", "tool", "model", "session_id", "request_id", "prompt_hash", "grain", "turn")
_COUNT_COLUMNS = ("requests", "accepted", "rejected")
PROMPT_TEXT = "prompt_text"
"""Optional column with the prompt itself: turned into a signature on reading, never kept or shown."""
_OPTIONAL = (*_TEXT_COLUMNS, "cost_usd", *_COUNT_COLUMNS, PROMPT_TEXT)


class GenericReader:
    """CSV/TSV/JSONL/Parquet with canonical (or policy-mapped) column names."""

    name: ClassVar[str] = "generic"
    title: ClassVar[str] = "Flat events (CSV, TSV, JSON Lines, Parquet; .gz accepted)"
    exported_by: ClassVar[str] = (
        "any tool or SQL query that writes one row per request with the canonical columns "
        "(rename others with the policy's columns: section)"
    )
    limits: ClassVar[str] = "as complete as the export: timing detectors need one row per request"

    def detect(self, source: Source, context: ReadContext) -> Detection:
        """Matches when the header holds every required column (after the policy's mapping)."""
        kind = file_kind(source)
        try:
            header = set(file_header(source, kind))
        except (pl.exceptions.PolarsError, OSError, StopIteration) as exc:
            return Detection(False, f"cannot read a {kind} header ({exc})")
        missing = [name for name in REQUIRED_COLUMNS if context.policy.columns.get(name, name) not in header]
        if missing:
            shown = ", ".join(repr(context.policy.columns.get(name, name)) for name in missing)
            return Detection(False, f"missing column {shown}")
        return Detection(True)

    def read(self, sources: Sequence[Source], context: ReadContext) -> ReadResult:
        """Read every source; the first failing field of a row becomes its reject reason."""
        results = []
        for source in sources:
            results.append(self._read_one(source, context))
            progress.advance(size_of(source))
        events = pl.concat([events for events, _ in results], how="vertical_relaxed")  # codes and text: text
        rejects = pl.concat([rejects for _, rejects in results], how="vertical")
        return ReadResult(events=events, rejects=rejects)

    def _read_one(self, source: Source, context: ReadContext) -> tuple[pl.DataFrame, pl.DataFrame]:
        kind, header = (source.block.kind, list(source.block.header)) if source.block else _kind_and_header(source)
        columns = {name: context.policy.columns.get(name, name) for name in (*REQUIRED_COLUMNS, *_OPTIONAL)}
        missing = [columns[name] for name in REQUIRED_COLUMNS if columns[name] not in header]
        if missing:
            msg = (
                f"{source.name}: missing required column {missing[0]!r} (found: {', '.join(header) or 'none'});"
                " map your column names in the policy's columns: section"
            )
            raise InputError(msg)
        present = {name: column for name, column in columns.items() if column in header}
        # Text in blocks: each line's text is held only until its block's fields are checked.
        parts = [self._read_rows(block, kind, present, context) for block in text_blocks(source, kind, header)]
        if len(parts) == 1:
            return parts[0]
        return pl.concat([events for events, _ in parts], how="vertical_relaxed"), pl.concat(
            [rejects for _, rejects in parts], how="vertical"
        )

    def _read_rows(
        self, source: Source, kind: str, present: dict[str, str], context: ReadContext, *, typed: bool = True
    ) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Events and rejects of one source (or one block of a text file, :attr:`Source.block`).

        A CSV, TSV or JSON Lines source is first read with integer token counts (``typed``), which skips parsing
        every count from text; where any row is then rejected, the source is read again as text, so that rejects
        show the row's text and give the reason the text parse gives (a value the integer scan refuses, such as
        ``5.0``, fails that scan and goes to text at once).
        """
        raw_frame, line_rejects = self._raw_rows(source, kind, present, typed_counts=typed)
        raw_frame, coded = _coded(raw_frame, present)
        scanned_typed = (
            typed
            and kind in ("csv", "tsv", "jsonl")
            and any(raw_frame.schema[present[name]].is_integer() for name in TOKEN_COLUMNS)
        )
        schema = raw_frame.schema

        def fast(name: str) -> coerce.Parsed | None:
            return coerce.typed(present[name], schema[present[name]], context.timezone)

        parsed: dict[str, coerce.Parsed] = {
            "timestamp": fast("timestamp") or coerce.timestamp(present["timestamp"], context.timezone),
            "developer": (coerce.coded if present["developer"] in coded else coerce.text)(
                present["developer"], required=True
            ),
            **{name: fast(name) or coerce.count(present[name]) for name in TOKEN_COLUMNS},
            **{
                name: coerce.coded(present[name]) if present[name] in coded else coerce.text(present[name])
                for name in _TEXT_COLUMNS
                if name in present
            },
            **{name: coerce.count(present[name], required=False) for name in _COUNT_COLUMNS if name in present},
            **({PROMPT_TEXT: coerce.text(present[PROMPT_TEXT])} if PROMPT_TEXT in present else {}),
        }
        if "cost_usd" in present:
            parsed["cost_usd"] = coerce.money(present["cost_usd"])
        shown = [column for name, column in present.items() if name != PROMPT_TEXT]  # rejects never show prompts
        raw = (
            pl.col("line")
            if kind == "jsonl" and PROMPT_TEXT not in present
            else pl.struct(
                [pl.col(column).cast(pl.String) if column in coded else pl.col(column) for column in shown]
            ).struct.json_encode()
        )
        good, rejects = coerce.split_rejects(raw_frame.lazy(), parsed, raw=raw)
        rows = good.with_columns(
            pl.col("tool").fill_null("generic") if "tool" in present else pl.lit("generic").alias("tool"),
            pl.col("requests").fill_null(1) if "requests" in present else pl.lit(1).alias("requests"),
            pl.col("grain").fill_null("request") if "grain" in present else pl.lit("request").alias("grain"),
            source_format=pl.lit(self.name),
        )
        try:
            good_rows, bad_rows = pl.collect_all([rows, rejects])
            if scanned_typed and (bad_rows.height or line_rejects.height):
                return self._read_rows(source, kind, present, context, typed=False)
            if PROMPT_TEXT in present:
                good_rows = _signed(good_rows)
            keyed = "request_id" in present and not good_rows["request_id"].has_nulls()
            events = (
                conform(good_rows.lazy(), codes=True)
                .with_columns(dedup_key=_dedup_key(every_row_has_id=keyed))
                .collect()
            )
            return events, pl.concat([line_rejects, bad_rows], how="vertical")
        except pl.exceptions.PolarsError as exc:
            msg = f"{source.name}: cannot read as {kind}: {str(exc).splitlines()[0]}"
            raise InputError(msg) from None

    def _raw_rows(
        self, source: Source, kind: str, present: dict[str, str], *, typed_counts: bool = False
    ) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Every wanted column as text, with ``source_file``/``source_line`` (counted in the whole file when
        ``source`` is a block of it); plus unparseable lines. With ``typed_counts``, a CSV's token counts are scanned as
        integers when every value parses as one (else as text), and a JSON Lines source of one object a line is decoded
        with integer counts where it can be (:func:`_decoded_objects`)."""
        no_rejects = pl.DataFrame(
            schema={"source_file": pl.String, "source_line": pl.Int64, "reason": pl.String, "raw": pl.String}
        )
        lines_before, records_before = (source.block.lines, source.block.records) if source.block else (0, 0)
        if kind == "jsonl":
            fast = _decoded_objects(source, present, lines_before) if typed_counts else None
            if fast is not None:
                return fast, no_rejects
            lines = scan_lines([source]).with_columns(pl.col("source_line") + lines_before)
            return extract_fields(lines, {column: column for column in present.values()})
        wanted = list(dict.fromkeys(present.values()))
        # Every row points at one copy of the name (a gather from a one-value series): a broadcast literal
        # would be written out in full for every row by the first filter.
        name = pl.lit(pl.Series([source.name], dtype=pl.String)).gather(pl.repeat(0, pl.len(), dtype=pl.UInt32))
        located = [name.alias("source_file")]
        try:
            if kind == "parquet":
                # Counts and times keep their Parquet types (see coerce.typed); the rest is read as text.
                typed = {present[name] for name in (*TOKEN_COLUMNS, "timestamp")}
                offset, count = source.rows or (0, None)
                frame = (
                    pl.scan_parquet(source.payload())
                    .slice(offset, count)
                    .select([pl.col(c) if c in typed else pl.col(c).cast(pl.String) for c in wanted])
                    .with_columns(*located, source_line=pl.int_range(1, pl.len() + 1, dtype=pl.Int64) + offset)
                    .collect()
                )
            else:
                numbered = [
                    *located,
                    pl.int_range(2, pl.len() + 2, dtype=pl.Int64).alias("source_line") + records_before,
                ]
                counts = [present[name] for name in TOKEN_COLUMNS] if typed_counts else []
                codes = {present[name] for name in _CODED if name in present}
                try:
                    frame = _scanned_text(source, kind, wanted, numbered, counts, codes)
                except pl.exceptions.ComputeError:
                    if not counts:
                        raise
                    frame = _scanned_text(source, kind, wanted, numbered, [], codes)
        except pl.exceptions.ComputeError:
            if kind == "parquet":
                raise
            # A block's rows more than the header are rejected in that block (the rest of its file reads on).
            rows, rejects = csv_with_ragged_rows(source, "\t" if kind == "tsv" else ",", wanted)
            later = pl.col("source_line") + lines_before
            return rows.with_columns(later), rejects.with_columns(later)
        return frame, no_rejects


_CODED = ("developer", "team", "tool", "model", "session_id", "prompt_hash")
"""Text columns read as categorical codes where their values need no stripping (:func:`coerce.clean_codes`): the
ingest holds them as codes (:data:`~tokenaudit.shards.HELD_CODES`), and their values are checked once each."""


def _coded(frame: pl.DataFrame, present: dict[str, str]) -> tuple[pl.DataFrame, set[str]]:
    """``frame`` with the :data:`_CODED` columns as categorical codes where they are clean text, and their names."""
    found, unclean = {}, []
    for name in _CODED:
        column = present.get(name)
        if column is None or column in found or frame.schema[column] not in (pl.String, pl.Categorical):
            continue
        codes = coerce.clean_codes(frame.get_column(column))
        if codes is not None:
            found[column] = codes
        elif frame.schema[column] == pl.Categorical:  # read as codes (a CSV block): its text goes the text path
            unclean.append(pl.col(column).cast(pl.String))
    return (frame.with_columns(*found.values(), *unclean) if found or unclean else frame), set(found)


def _decoded_objects(source: Source, present: dict[str, str], lines_before: int) -> pl.DataFrame | None:
    """The ``present`` columns of a JSON Lines source whose every line is one object (:func:`object_lines`), decoded
    by Polars' NDJSON reader in one call with integer token counts and every other field as text, numbered by
    position (no ``line`` text: any reject sends the source back to the text path); None where the text path must
    read it: another shape of line, a dotted column name (a nested field), a count that is not a JSON integer, a
    field holding an object or an array (whose text the two decoders write differently)."""
    found = object_lines(source)
    if found is None or any("." in column for column in present.values()):
        return None
    data, lines = found
    counts = {present[name] for name in TOKEN_COLUMNS}
    schema: dict[str, pl.DataType] = {
        column: pl.Int64() if column in counts else pl.String() for column in dict.fromkeys(present.values())
    }
    try:
        frame = pl.read_ndjson(data, schema=schema)
    except pl.exceptions.ComputeError:
        return None
    texts = [column for column, dtype in schema.items() if dtype == pl.String]
    nested = pl.any_horizontal(
        pl.col(column).str.starts_with("{") | pl.col(column).str.starts_with("[") for column in texts
    )
    if frame.height != lines or (texts and frame.select(nested.any()).item()):
        return None
    name = pl.lit(pl.Series([source.name], dtype=pl.String)).gather(pl.repeat(0, pl.len(), dtype=pl.UInt32))
    return frame.with_columns(
        name.alias("source_file"),
        source_line=pl.int_range(1, pl.len() + 1, dtype=pl.Int64) + lines_before,
        line=pl.lit(None, pl.String),
    )


def _scanned_text(
    source: Source,
    kind: str,
    wanted: list[str],
    added: list[pl.Expr],
    counts: Sequence[str],
    codes: Collection[str] = (),
) -> pl.DataFrame:
    """The ``wanted`` columns of a CSV or TSV source as text but the ``counts`` (as integers) and the ``codes`` (the
    text as categorical codes, made as the file is parsed: cheaper than text and a cast, and the same values), plus
    the ``added`` ones."""
    types: dict[str, pl.DataType] = {
        **{name: pl.Categorical() for name in codes},
        **{name: pl.Int64() for name in counts},  # a column that is both: a count
    }
    return (
        pl.scan_csv(
            source.payload(),
            separator="\t" if kind == "tsv" else ",",
            infer_schema=False,
            schema_overrides=types or None,
            encoding="utf8-lossy",
            missing_columns="insert",
        )
        .select(wanted)
        .with_columns(*added)
        .collect()
    )


def _kind_and_header(source: Source) -> tuple[str, list[str]]:
    kind = file_kind(source)
    return kind, file_header(source, kind)


def blocks_of(source: Source) -> Iterator[Source]:
    """:func:`text_blocks` of a file the generic reader reads."""
    kind = source.block.kind if source.block else file_kind(source)
    if kind == "parquet" or source.block is not None:
        yield source
        return
    yield from text_blocks(source, kind, file_header(source, kind))


def text_blocks(source: Source, kind: str, header: Sequence[str]) -> Iterator[Source]:
    """A CSV, TSV or JSON Lines file in blocks of whole records of about :data:`TEXT_BLOCK_BYTES`, cut as they are
    taken, each saying where it lies and what the file's columns are (:class:`~tokenaudit.readers.sources.Block`), so
    that a read holds a few blocks' rows, not the file's; each CSV block starts with a copy of the header line. A
    smaller file, a Parquet file or a block comes as it is."""
    if kind == "parquet" or source.block is not None:
        yield source
        return
    columns = tuple(header)
    records = 0
    csv = kind != "jsonl"
    for block, before, breaks in line_blocks(source, TEXT_BLOCK_BYTES, end=record_end if csv else None, head=csv):
        if block is source:
            yield source
            return
        if not csv:
            yield replace(block, block=Block(kind, columns, before, before, breaks))
            continue
        # Lines before the block less the header line (the first block's own header line is not a record).
        yield replace(block, block=Block(kind, columns, max(before - 1, 0), records))
        data = block.read_bytes()
        body = data.find(b"\n") + 1
        # Without a quote, every line break ends a record (the first block's breaks count its header line's).
        records += record_count(data[body:]) if data.find(b'"', body) >= 0 else breaks - (not before)


def _signed(rows: pl.DataFrame) -> pl.DataFrame:
    """Prompt text to its signature (a row with text is a prompt turn unless the export says otherwise)."""
    turn = pl.col("turn") if "turn" in rows.columns else pl.lit(None, pl.String)
    return rows.with_columns(
        prompt_signature=simhash(rows, PROMPT_TEXT),
        turn=pl.coalesce(turn, pl.when(pl.col(PROMPT_TEXT).is_not_null()).then(pl.lit("prompt"))),
    ).drop(PROMPT_TEXT)


def _dedup_key(*, every_row_has_id: bool = False) -> pl.Expr:
    """``rid:<request_id>``, or a hash of every canonical field when there is no request id (hashed only when some
    row has none: Polars computes every branch on every row)."""
    with_id = request_key()
    if every_row_has_id:
        return with_id
    texts = [pl.col(name).cast(pl.String) for name in ("developer", "tool", "model", "session_id")]  # codes as text
    content = pl.struct("timestamp", *texts, *TOKEN_COLUMNS, "cost_usd", "requests").hash(seed=0)
    # Masked before the cast: Polars computes every branch on every row, and rows with an id need no text.
    row_key = pl.lit("row:") + pl.when(pl.col("request_id").is_null()).then(content).cast(pl.String)
    return pl.coalesce(with_id, row_key)
