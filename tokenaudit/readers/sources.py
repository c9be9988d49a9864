"""Turning the user's INPUT arguments into concrete, readable sources.

Files, globs, directories (walked recursively) and ``-`` for standard input are accepted. Compressed
files (``.gz``) are decompressed here, once, so that readers only ever see plain bytes or a path.

A folder walk is pointed at whatever a tool keeps (``~/.claude``, ``~/.codex``, a copy of them per person),
so it passes over, and lists with a reason, what holds no usage: other extensions, the tools' own index,
settings and history files (by name, unread: ``auth.json`` holds credentials) and their housekeeping
folders. Hidden files and folders are passed over silently, except the tools' own ``.claude``/``.codex``.
"""

from __future__ import annotations

import glob
import gzip
import os
import sys
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import lru_cache
from operator import attrgetter
from pathlib import Path

from tokenaudit.errors import InputError

HEAD_BYTES = 64 * 1024
DATA_SUFFIXES = frozenset({".csv", ".tsv", ".jsonl", ".ndjson", ".json", ".parquet", ".txt"})
"""Extensions that a directory walk picks up; anything else in a folder is listed as skipped."""

NOT_DATA = "not a data file extension"
EMPTY_FILE = "empty file"
"""The skip reason of an empty export (a day without usage): it loses nothing, so ``--strict`` allows it."""

TOOL_FILES = {
    "sessions-index.json": "Claude Code session index (titles and paths, no usage)",
    "settings.json": "tool settings (no usage)",
    "settings.local.json": "tool settings (no usage)",
    "history.jsonl": "prompt history (no usage)",
    "stats-cache.json": "Claude Code statistics cache (totals of the transcripts, counted from them instead)",
    "auth.json": "Codex credentials (not read)",
    "version.json": "tool version file (no usage)",
}
"""Files the agent tools keep beside their logs, skipped by name in folder walks without being read."""

TOOL_FOLDERS = {
    "todos": "Claude Code todo lists",
    "statsig": "Claude Code feature-flag cache",
    "shell-snapshots": "Claude Code shell snapshots",
    "file-history": "Claude Code file snapshots (copies of edited files)",
    "session-env": "Claude Code session environments",
    "node_modules": "installed packages",
}
"""Tool housekeeping folders, skipped whole in folder walks (one entry each): none holds usage, and
``file-history`` holds copies of the user's own files, which must never be read as exports."""

_TOOL_HOMES = frozenset({".claude", ".codex"})
"""Hidden folders a walk still enters: a copied ``~/.claude`` keeps its name."""


@dataclass(frozen=True)
class Block:
    """Where a block of a larger CSV, TSV or JSON Lines file, read apart from the rest, lies in its file."""

    kind: str
    """The file's kind (csv, tsv or jsonl), found from its head: a block's own first line may be anything."""
    header: tuple[str, ...]
    """The file's column names (a JSON Lines file's: its first object's keys)."""
    lines: int
    """Lines before the block (a CSV file's header line not counted: each CSV block starts with a copy of it)."""
    records: int
    """CSV records before the block (a line break inside a quoted field does not end one), header not counted."""
    breaks: int = -1
    """The block's own line breaks, where they were counted as it was read (-1: not counted)."""


@dataclass(frozen=True)
class Source:
    """One input: a path on disk, or bytes already in memory (stdin, a decompressed file)."""

    name: str
    path: Path | None = None
    data: bytes | None = None
    walked: bool = False
    """Found by a folder walk or a glob, not named: if no reader recognises it, it is skipped, not fatal."""
    rows: tuple[int, int] | None = None
    """Only these rows of a Parquet file (offset, count): an engine splits a large file into tasks."""
    file_rows: int = 0
    """With ``rows``: how many rows the whole file has (the part's share of its bytes is what a progress bar counts)."""
    block: Block | None = None
    """A block of a larger text file, in memory (:func:`tokenaudit.readers.generic.text_blocks`)."""
    size: int = -1
    """A file's size in bytes when it was found (-1: not known, :func:`~tokenaudit.readers.jsonlines.size_of` asks the
    file system): the inputs' planning and the readers' batching ask for it of every file, and a folder of transcripts
    holds thousands."""
    lines_unchecked: bool = False
    """A file larger than :data:`MAX_LINE_BYTES` whose line lengths are not checked yet: the reader that streams it
    checks them as it reads (:func:`tokenaudit.readers.jsonlines.line_blocks`), any other reader's file is checked
    before it is read (:func:`check_lines`)."""

    @property
    def suffix(self) -> str:
        """The data extension, ignoring a compression suffix (``events.csv.gz`` -> ``.csv``)."""
        name = self.name.lower().removesuffix(".gz")
        return Path(name).suffix

    @property
    def head(self) -> bytes:
        """The first bytes, for sniffing the format from content."""
        return self._sniffed()[0]

    def head_text(self) -> str:
        """The head as text (undecodable bytes replaced), without a UTF-8 byte-order mark."""
        return self._sniffed()[1]

    def opening_text(self, size: int) -> str:
        """The first ``size`` bytes as :meth:`head_text` gives them, read apart from the head: a first look that is
        cheaper than the head's when a format shows in its first line (a prefix of the head's text, except at a
        character cut at its end)."""
        if self.data is not None:
            return _decoded(self.data[:size])[1]
        assert self.path is not None
        descriptor = os.open(self.path, os.O_RDONLY)
        try:
            return _decoded(os.read(descriptor, size))[1]
        finally:
            os.close(descriptor)

    def is_blank(self) -> bool:
        """True when the content is only white space (an empty export)."""
        if self.data is not None:
            return not self.data.strip()
        assert self.path is not None
        descriptor = os.open(self.path, os.O_RDONLY)
        try:
            return _blank(descriptor)
        finally:
            os.close(descriptor)

    def _sniffed(self) -> tuple[bytes, str]:
        if self.data is not None:
            return _decoded(self.data[:HEAD_BYTES])
        assert self.path is not None
        stat = self.path.stat()
        return _file_head(self.path, stat.st_mtime_ns, stat.st_size)

    def payload(self) -> Path | bytes:
        """What to hand to a Polars reader."""
        if self.data is not None:
            return self.data
        assert self.path is not None
        return self.path

    def read_bytes(self) -> bytes:
        """The whole content in memory."""
        if self.data is not None:
            return self.data
        assert self.path is not None
        return self.path.read_bytes()


def _decoded(head: bytes) -> tuple[bytes, str]:
    return head, head.decode("utf-8", errors="replace").removeprefix("\ufeff")


@lru_cache(maxsize=32)
def _file_head(path: Path, mtime_ns: int, size: int) -> tuple[bytes, str]:
    """A file's head, cached for the few files being sniffed: every reader looks at each file in turn.

    Heads are not kept per source: at 64 KiB each, a folder of 25,000 transcripts would hold 1.6 GB.
    """
    with path.open("rb") as handle:
        return _decoded(handle.read(HEAD_BYTES))


@dataclass(frozen=True)
class Resolved:
    """The sources found, and the files passed over during directory walks (with why)."""

    sources: list[Source]
    skipped: list[tuple[str, str]]


MAX_LINE_BYTES = 64 * 1024 * 1024
"""The longest line read (README "Limits"): a longer one is a corrupt file or a decompression bomb, never held whole."""
MAX_INFLATED_BYTES = 1024 * 1024 * 1024
"""The most a ``.gz`` input may inflate to (it is held in memory): decompress larger exports first."""
BLOCK_BYTES = 1024 * 1024
"""Decompression and line checks work in blocks of this size."""


class LineGuard:
    """Follows a byte stream block by block and fails on the first line longer than :data:`MAX_LINE_BYTES`.

    Only the length of the current line is kept: a block's inner lines are shorter than the block, which is shorter
    than the limit, so two ``find`` calls per block are the whole check. The line breaks before a block are counted
    as it goes, or (given ``lines_before`` with each block) only when a line is too long: a reader that reads the
    stream counts them anyway.
    """

    def __init__(self, name: str) -> None:
        self.name, self.lines, self.open_line = name, 0, 0

    def feed(
        self, block: bytes | bytearray, lines_before: Callable[[], int] | None = None, start: int = 0, stop: int = -1
    ) -> None:
        """Follow ``block[start:stop]`` (``stop`` -1: to its end), the stream's next bytes; ``lines_before``: the line
        breaks before them (else counted)."""
        stop = len(block) if stop < 0 else stop
        first = block.find(b"\n", start, stop)
        if first < 0:
            self.open_line += stop - start
            self._check(self.open_line, lines_before, block, start, start)
            return
        self._check(self.open_line + first - start, lines_before, block, start, start)
        self.open_line = stop - block.rfind(b"\n", start, stop) - 1
        self._check(self.open_line, lines_before, block, start, stop)
        if lines_before is None:
            self.lines += block.count(b"\n", start, stop)

    def _check(
        self, length: int, lines_before: Callable[[], int] | None, block: bytes | bytearray, start: int, end: int
    ) -> None:
        """Fail if ``length``, the length of the line that starts after the line breaks before the bytes followed and
        those of ``block[start:end]``, is over the limit."""
        if length > MAX_LINE_BYTES:
            lines = (self.lines if lines_before is None else lines_before()) + block.count(b"\n", start, end)
            limit = MAX_LINE_BYTES // (1024 * 1024)
            msg = f"{self.name}: line {lines + 1} is longer than {limit} MiB (the limit): a corrupt or hostile file"
            raise InputError(msg)


def check_lines(sources: Iterable[Source]) -> None:
    """Fail on the first over-long line of the :attr:`~Source.lines_unchecked` files of ``sources``, in order, each
    read once more before a reader would hold the line whole."""
    for source in sources:
        if source.lines_unchecked:
            assert source.path is not None
            guard = LineGuard(source.name)
            with source.path.open("rb") as handle:
                while block := handle.read(BLOCK_BYTES):
                    guard.feed(block)


@contextmanager
def long_lines_first(sources: Iterable[Source]) -> Iterator[None]:
    """Any error raised inside, once :func:`check_lines` has found no over-long line in ``sources`` (iterated when
    the error is raised): a file's line check comes before anything read after it, as when every file was checked as
    it was found, whatever fails first."""
    try:
        yield
    except Exception:
        try:
            check_lines(list(sources))
        except InputError as found:
            raise found from None
        raise


def _decompress(path: Path, *, walked: bool) -> Source:
    """Inflate a ``.gz`` file in bounded blocks, stopping at an over-long line or beyond :data:`MAX_INFLATED_BYTES`,
    so a small hostile file cannot take the machine's memory."""
    guard, blocks, size = LineGuard(str(path)), [], 0
    try:
        with gzip.open(path, "rb") as stream:
            while block := stream.read(BLOCK_BYTES):
                guard.feed(block)
                size += len(block)
                if size > MAX_INFLATED_BYTES:
                    limit = MAX_INFLATED_BYTES // (1024 * 1024 * 1024)
                    msg = f"{path}: inflates to more than {limit} GiB (the limit for .gz inputs): decompress it first"
                    raise InputError(msg)
                blocks.append(block)
    except EOFError:
        msg = f"{path}: the gzip stream is cut short (file truncated?); re-export or re-copy it"
        raise InputError(msg) from None
    except (gzip.BadGzipFile, zlib.error) as exc:
        msg = f"{path}: not a valid gzip file ({exc})"
        raise InputError(msg) from None
    return Source(name=str(path), path=path, data=b"".join(blocks), walked=walked)


def _from_file(path: Path, *, walked: bool = False, regular: bool = False) -> tuple[Source, bool]:
    """``path`` as a source, and whether it is blank (only white space: an empty export), from one open of the file
    (``regular``: a folder walk found it a regular file already). A folder of transcripts holds thousands of files,
    and each open costs more than reading a file's first block."""
    if not regular and not path.is_file():
        msg = f"{path}: not a regular file"
        raise InputError(msg)
    if path.name.lower().endswith(".gz"):
        os.close(_opened(path))
        source = _decompress(path, walked=walked)
        return source, source.is_blank()
    descriptor = _opened(path)
    try:
        size = os.fstat(descriptor).st_size
        blank = _blank(descriptor)
    finally:
        os.close(descriptor)
    return Source(name=str(path), path=path, walked=walked, size=size, lines_unchecked=size > MAX_LINE_BYTES), blank


def _opened(path: Path) -> int:
    """``path`` opened for reading, unbuffered: a folder walk opens thousands of files to read a block of each, and
    a buffered file object costs more than that read."""
    try:
        return os.open(path, os.O_RDONLY)
    except OSError as exc:
        msg = f"{path}: cannot open: {exc.strerror or exc}"
        raise InputError(msg) from None


def _blank(descriptor: int) -> bool:
    """Whether the rest of an open file is only white space."""
    while chunk := os.read(descriptor, 4096):
        if chunk.strip():
            return False
    return True


def _hidden(name: str) -> bool:
    return name.startswith(".") and name not in _TOOL_HOMES


def _walk(directory: Path) -> tuple[list[Path], list[tuple[str, str]]]:
    """Data files under ``directory`` in a stable order, and what was passed over (with why).

    As :func:`os.walk` walks (a folder it cannot list is passed over; a link to a folder is not entered), with the
    folder entries' own file types: no ``stat`` per file, except for links.
    """
    found: list[Path] = []
    skipped: list[tuple[str, str]] = []
    folders = [directory]
    while folders:
        folder = folders.pop()
        try:
            with os.scandir(folder) as listing:
                entries = list(listing)
        except OSError:
            continue
        for entry in entries:
            name = entry.name
            if _is_folder(entry):
                if name in TOOL_FOLDERS:
                    count = sum(len(names) for _, _, names in os.walk(folder / name))
                    files_held = f"{count:,} file{'' if count == 1 else 's'}"
                    skipped.append((str(folder / name), f"{TOOL_FOLDERS[name]} ({files_held}, no usage)"))
                elif not _hidden(name) and not entry.is_symlink():
                    folders.append(folder / name)
                continue
            data_name = name.lower().removesuffix(".gz")
            if _hidden(name) or not _is_file(entry):
                continue
            path = folder / name
            if data_name in TOOL_FILES:
                skipped.append((str(path), TOOL_FILES[data_name]))
            elif _suffix(data_name) in DATA_SUFFIXES:
                found.append(path)
            else:
                skipped.append((str(path), NOT_DATA))
    return sorted(found, key=attrgetter("parts")), sorted(skipped)  # the paths' own order, compared once each


def _suffix(name: str) -> str:
    """``Path(name).suffix`` of a file's name, without making a path of it (a folder walk's thousands of files)."""
    dot = name.rfind(".")
    return name[dot:] if 0 < dot < len(name) - 1 else ""


def _is_folder(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


def _is_file(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_file()
    except OSError:
        return False


def resolve(inputs: Sequence[str], stdin: Iterable[bytes] | None = None) -> Resolved:
    """Expand INPUT arguments into sources, in a stable order, failing on anything missing.

    A file larger than :data:`MAX_LINE_BYTES` comes :attr:`~Source.lines_unchecked` (its reader checks it); an error
    here is raised once the files found before it are checked (:func:`long_lines_first`).
    """
    sources: list[tuple[Source, bool]] = []  # and whether it is blank
    skipped: list[tuple[str, str]] = []
    with long_lines_first(source for source, _ in sources):  # the sources found when an error is raised
        _found(inputs, stdin, sources, skipped)
    # A blank file is never read: one too large to be free of over-long lines is checked here, after those before it.
    last = max(
        (number for number, (source, blank) in enumerate(sources) if blank and source.lines_unchecked), default=-1
    )
    if last >= 0:
        check_lines(source for source, _ in sources[: last + 1])
        sources[: last + 1] = [(replace(source, lines_unchecked=False), blank) for source, blank in sources[: last + 1]]
    # An empty export (a day without usage) adds nothing and is listed; only all-empty input is an error.
    empty = [source for source, blank in sources if blank]
    if empty and len(empty) == len(sources):
        msg = f"{empty[0].name}: the file is empty" if len(empty) == 1 else f"all {len(empty)} inputs are empty"
        raise InputError(msg)
    skipped.extend((source.name, EMPTY_FILE) for source in empty)
    return Resolved(sources=[source for source, blank in sources if not blank], skipped=skipped)


def transcript_sources(paths: Sequence[str]) -> Iterator[Source]:
    """The JSON Lines files (``.jsonl``, as transcripts are) that :func:`resolve` finds at ``paths``, named or in named
    folders, in its order and as it makes them, blank ones left out, one at a time: what an early helper process
    starts reading while this process still plans the read (:func:`~tokenaudit.readers.claude_code.head_start`),
    without opening the files after those it wants. A path that is neither a folder nor a file is passed over."""
    for item in paths:
        path = Path(item)
        walked = path.is_dir()
        for file in _walk(path)[0] if walked else [path] if path.is_file() else []:
            if file.name.lower().endswith(".jsonl"):
                source, blank = _from_file(file, walked=walked, regular=walked)
                if not blank:
                    yield source


def _found(
    inputs: Sequence[str],
    stdin: Iterable[bytes] | None,
    sources: list[tuple[Source, bool]],
    skipped: list[tuple[str, str]],
) -> None:
    """Add the sources of ``inputs`` to ``sources`` (with whether each is blank) and what walks passed over to
    ``skipped``, in order."""
    for item in inputs:
        if item == "-":
            data = b"".join(stdin) if stdin is not None else sys.stdin.buffer.read()
            source = Source(name="<stdin>", data=data)
            sources.append((source, source.is_blank()))
            continue
        path = Path(item)
        if path.is_dir():
            files, passed = _walk(path)
            skipped.extend(passed)
            if not files:
                msg = f"{item}: the directory holds no data files ({', '.join(sorted(DATA_SUFFIXES))})"
                raise InputError(msg)
            sources.extend(_from_file(file, walked=True, regular=True) for file in files)
        elif path.exists():
            sources.append(_from_file(path))
        elif glob.has_magic(item):
            matches = sorted(Path(match) for match in glob.glob(item, recursive=True))
            if not matches:
                msg = f"{item}: no file matches this pattern"
                raise InputError(msg)
            sources.extend(_from_file(match, walked=True) for match in matches if match.is_file())
        else:
            msg = f"{item}: no such file or directory"
            raise InputError(msg)
