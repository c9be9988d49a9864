"""Reading JSON Lines robustly: every line accounted for, bad lines rejected with their number.

Polars' own NDJSON reader stops at the first malformed line, and a truncated last line is the most
common defect of a copied log. So lines are read as text, checked for JSON validity in a vectorised
pass, and only then decoded, with every leaf read as text for :mod:`tokenaudit.readers.coerce`.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from functools import partial
from typing import Any

import polars as pl

from tokenaudit.readers.sources import LineGuard, Source, check_lines

BATCH_BYTES = 32 * 1024 * 1024
"""Input read per batch by the agent-log readers: memory stays bounded by this, not by the folder."""


def size_of(source: Source) -> int:
    """The source's size in bytes (what the progress bar counts; a part of a file's rows, its share)."""
    if source.data is not None:
        return len(source.data)
    size = source.size if source.size >= 0 else source.path.stat().st_size if source.path is not None else 0
    return size * source.rows[1] // source.file_rows if source.rows and source.file_rows else size


def batches(sources: Iterable[Source], limit: int | None = None) -> Iterator[tuple[list[Source], int]]:
    """``sources`` in order, grouped into runs of about ``limit`` bytes; yields (batch, its bytes)."""
    limit = limit or BATCH_BYTES
    batch: list[Source] = []
    size = 0
    for source in sources:
        batch.append(source)
        size += size_of(source)
        if size >= limit:
            yield batch, size
            batch, size = [], 0
    if batch:
        yield batch, size


def line_blocks(
    source: Source,
    limit: int | None = None,
    end: Callable[[bytearray, int], int] | None = None,
    *,
    head: bool = False,
) -> Iterator[tuple[Source, int, int]]:
    """``source`` as in-memory blocks of whole lines of about ``limit`` bytes, each with the number of lines before it
    and of its own line breaks.

    A large JSON Lines file is read one block at a time, so memory follows the block, not the file (the generic
    reader keeps each line's text until its fields are checked, for the rejects), and an unchecked file's line lengths
    are checked as it is read (:attr:`~tokenaudit.readers.sources.Source.lines_unchecked`). A source within the limit
    is yielded as it is. ``end`` finds where the whole units of a buffer's first bytes end (default: after its last
    line break; a CSV record can hold line breaks in quotes). With ``head``, every block after the first starts with
    a copy of the file's first line (a CSV header; its line break not counted in the block's).

    The file is read into one buffer, which keeps the unfinished line for the next read, and each block's bytes are
    copied out of it once: the bytes of a 10M-row CSV file were copied four times and counted twice.
    """
    limit = limit or BATCH_BYTES
    if size_of(source) <= limit:
        check_lines([source])
        yield source, 0, 0
        return
    # A file's line lengths are checked as it is read; the line breaks before an over-long line are counted only then.
    guard = LineGuard(source.name) if source.lines_unchecked else None
    buffer = bytearray(limit)
    before, held, first = 0, 0, b""  # lines yielded, bytes held over from the last read, the first line (``head``)
    with io.BytesIO(source.data) if source.data is not None else _opened(source) as stream:
        while True:
            if len(buffer) < held + limit:  # a unit longer than the limit is being read
                buffer.extend(bytes(held + limit - len(buffer)))
            with memoryview(buffer) as view:
                read = stream.readinto(view[held : held + limit])
            if not read:
                break
            if guard is not None:
                guard.feed(buffer, partial(_breaks, before, buffer, held), held, held + read)
            filled = held + read
            cut = end(buffer, filled) if end is not None else buffer.rfind(b"\n", 0, filled) + 1
            if cut:
                breaks = buffer.count(b"\n", 0, cut)
                with memoryview(buffer) as view:
                    data = first + view[:cut]
                if head and not before:
                    first = data[: data.find(b"\n") + 1]
                yield Source(name=source.name, data=data), before, breaks
                before += breaks
                buffer[: filled - cut] = buffer[cut:filled]
            held = filled - cut
    if held:
        with memoryview(buffer) as view:
            data = first + view[:held]
        yield Source(name=source.name, data=data), before, buffer.count(b"\n", 0, held)


def _breaks(before: int, buffer: bytearray, held: int) -> int:
    """The line breaks before a read into ``buffer``: ``before`` those of the blocks yielded, plus those of the
    ``held`` bytes at its start."""
    return before + buffer.count(b"\n", 0, held)


def _opened(source: Source) -> io.BufferedIOBase:
    assert source.path is not None
    return source.path.open("rb")


_BYTE_ORDER_MARK = "\ufeff".encode()
_LOOSE_BREAK = re.compile(rb"\n(?:(?<!}\n)|(?!\{))")
"""A line break not between a ``}`` and a ``{``: one search, cheaper than counting those pairs against the breaks."""


def object_lines(source: Source) -> tuple[bytes, int] | None:
    """The bytes of ``source`` and its number of lines if every line is plain UTF-8 starting with ``{`` and ending in
    ``}`` and a newline (the last newline may be missing), else None.

    Such a file has no cut-off, blank or padded line, no carriage return and no byte-order mark, and no JSON object
    in it can span lines, so a reader can decode it as a whole and number the lines by position: if the decode
    gives one object per line, no line can be a reject. Any other file takes :func:`scan_lines`, which accounts for
    every oddity. The checks are a few byte searches over the file, no pass per line.
    """
    data = source.read_bytes()
    inner = len(data) - data.endswith(b"\n")  # what precedes the last newline, if the file ends with one
    whole = data.startswith(b"{") and data.endswith((b"}\n", b"}")) and not _LOOSE_BREAK.search(data, 0, inner)
    if not whole or b"\r" in data:
        return None
    if not data.isascii():  # else it holds neither a byte-order mark nor invalid UTF-8
        if _BYTE_ORDER_MARK in data:
            return None
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return None  # the text path fails on it, and the batch is read again with the bytes replaced
    breaks = source.block.breaks if source.block is not None else -1  # counted as the block was read
    return data, (data.count(b"\n", 0, inner) if breaks < 0 else breaks - (inner < len(data))) + 1


def scan_lines(sources: Sequence[Source]) -> pl.LazyFrame:
    """All non-blank lines of ``sources`` with ``source_file``, 1-based ``source_line`` and ``line``."""
    frames = []
    on_disk = [source for source in sources if source.data is None]
    if on_disk:
        names = {str(source.path): source.name for source in on_disk if str(source.path) != source.name}
        scan = pl.scan_lines([source.path for source in on_disk if source.path], include_file_paths="source_file")
        if names:
            # Rename only when some name differs from its path (it normally does not): replacing costs a
            # copy of every line's file name.
            scan = scan.with_columns(pl.col("source_file").replace(names))
        frames.append(scan.with_columns(source_line=pl.int_range(1, pl.len() + 1, dtype=pl.Int64).over("source_file")))
    for source in sources:
        if source.data is not None:
            frames.append(
                pl.scan_lines(source.data).with_columns(
                    source_file=pl.lit(source.name),
                    source_line=pl.int_range(1, pl.len() + 1, dtype=pl.Int64),
                )
            )
    return (
        pl.concat(frames, how="vertical")
        .select("source_file", "source_line", pl.col("line").str.strip_chars_start("\ufeff"))
        .filter(pl.col("line").str.strip_chars() != "")
    )


def struct_for(paths: Mapping[str, str]) -> pl.Struct:
    """The String-leaved struct that decodes dotted ``paths`` of a JSON document (``message.usage.input_tokens``)."""
    tree: dict[str, Any] = {}
    for path in paths.values():
        node = tree
        *parents, leaf = path.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = None

    def build(node: dict[str, Any]) -> pl.Struct:
        return pl.Struct({key: pl.String if child is None else build(child) for key, child in node.items()})

    return build(tree)


def struct_leaf(path: str) -> pl.Expr:
    """The field at dotted ``path`` of the decoded ``_doc`` column (see :func:`struct_for`)."""
    expr = pl.col("_doc")
    for part in path.split("."):
        expr = expr.struct.field(part)
    return expr


def extract_fields(lines: pl.LazyFrame, paths: Mapping[str, str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Pull dotted ``paths`` out of each JSON line as text columns named by the mapping's keys.

    Returns (rows with those columns plus ``source_file``, ``source_line``, ``line``; rejected lines
    with a reason). A value of the wrong JSON shape (an object where a number belongs) comes back as
    its JSON text, so the typed parse that follows rejects it with the field's name.
    """
    struct = struct_for(paths)
    try:
        # One parse per line when every line is valid JSON (the usual case); a bad line makes the
        # decode fail, and only then is each line validated first (a second parse) to reject it alone.
        rows = (
            lines.with_columns(_doc=pl.col("line").str.json_decode(struct))
            .with_columns([struct_leaf(path).alias(name) for name, path in paths.items()])
            .drop("_doc")
            .collect()
        )
        no_rejects = pl.DataFrame(
            schema={"source_file": pl.String, "source_line": pl.Int64, "reason": pl.String, "raw": pl.String}
        )
        return rows, no_rejects
    except pl.exceptions.ComputeError:
        pass
    checked = lines.with_columns(_ok=pl.col("line").str.json_path_match("$").is_not_null())
    invalid = checked.filter(~pl.col("_ok")).select(
        "source_file",
        "source_line",
        pl.lit("not valid JSON (truncated or corrupted line)").alias("reason"),
        pl.col("line").alias("raw"),
    )
    valid = checked.filter(pl.col("_ok")).drop("_ok")
    try:
        rows = (
            valid.with_columns(_doc=pl.col("line").str.json_decode(struct))
            .with_columns([struct_leaf(path).alias(name) for name, path in paths.items()])
            .drop("_doc")
            .collect()
        )
    except pl.exceptions.ComputeError:
        # Some line has an object where text was expected (or the reverse): use the slower,
        # shape-tolerant extraction for the whole batch rather than lose the line.
        rows = valid.with_columns(
            [pl.col("line").str.json_path_match(f"$.{path}").alias(name) for name, path in paths.items()]
        ).collect()
    return rows, invalid.collect()
