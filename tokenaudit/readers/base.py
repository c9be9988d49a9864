"""The reader interface: every input format is one module implementing :class:`Reader`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Protocol, TypeVar

import polars as pl

from tokenaudit.readers.sources import Source

if TYPE_CHECKING:  # a reader's helper process imports the readers alone, not the policy's settings models
    from tokenaudit.policy import Policy

ContextT = TypeVar("ContextT", contravariant=True)
ResultT = TypeVar("ResultT", covariant=True)


@dataclass(frozen=True)
class ReadContext:
    """What a reader may need beyond the bytes: the policy and the user's overrides."""

    policy: Policy
    timezone: str = "UTC"
    developer: str | None = None
    """``--owner``: the owner of files that carry no identity (transcripts)."""


@dataclass(frozen=True)
class ReadResult:
    """Canonical events (see :mod:`tokenaudit.schema`) and the rows that could not be read."""

    events: pl.DataFrame
    rejects: pl.DataFrame
    repaired: tuple[str, ...] = ()
    """Files whose invalid UTF-8 bytes were replaced (U+FFFD) so that their rows could be read."""
    skipped: tuple[tuple[str, str], ...] = ()
    """Files found by a folder walk that no reader recognises, with why (path, reason)."""
    copies: pl.DataFrame | None = None
    """Copies of events the reader dropped itself, as the ingest's dedup would have (a reader that sees every copy
    of its events: Claude Code's), per file in :func:`~tokenaudit.shards.read_sources`' columns: they count among
    the rows read, the duplicates dropped and their files' events (:func:`~tokenaudit.ingest.assemble`)."""


@dataclass(frozen=True)
class Detection:
    """Whether a reader recognises a source; ``detail`` says why not, for the error message."""

    matched: bool
    detail: str = ""


class FormatReader(Protocol[ContextT, ResultT]):
    """One input format, usage or outcomes: recognised from content, read with what went wrong kept as rejects."""

    name: ClassVar[str]
    title: ClassVar[str]
    exported_by: ClassVar[str]
    """The command or API call that produces this format (shown by ``tokenaudit formats``)."""

    def detect(self, source: Source, context: ContextT) -> Detection:
        """Recognise the format from content (not only the extension)."""
        ...

    def read(self, sources: Sequence[Source], context: ContextT) -> ResultT:
        """Read all given sources of this format, each bad row a reject."""
        ...


class Reader(FormatReader[ReadContext, ReadResult], Protocol):
    """One usage format. ``name`` is what ``--input-format`` takes; ``read`` gives canonical events plus rejects."""

    limits: ClassVar[str]
    """What this source cannot show (e.g. daily aggregates have no request timing)."""
