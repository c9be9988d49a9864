"""Who owns a transcript: agent logs (Claude Code, Codex) name no person, so the owner comes from outside.

The rule, in order, per file:

1. ``--owner`` (``ReadContext.developer``) owns every file;
2. else the policy's ``owner_pattern``, a regex with a named group ``developer``, searched in the path
   as given and then in the absolute path;
3. else the name of the folder that holds the tool's data folder (``projects/`` for Claude Code,
   ``sessions/`` for Codex), e.g. ``exports/ana@acme.io/projects/-home-ana-src/1.jsonl`` -> ``ana@acme.io``.
   The tool's own folder (``~/.claude``, ``~/.codex``) names no person, so it does not count.

Paths are made absolute without following symbolic links, so a link named after a person counts as
that person's folder.

A file none of these names is an :class:`~tokenaudit.errors.InputError`: guessing an owner would put
one person's tokens on another's line.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Collection, Sequence
from pathlib import Path, PurePath

import polars as pl

from tokenaudit.errors import InputError
from tokenaudit.readers.base import ReadContext
from tokenaudit.readers.sources import Source

_TOOL_FOLDERS = frozenset({".claude", "claude", ".codex", "codex"})
"""Folder names that say which tool wrote the data, not whose it is."""


def _from_pattern(pattern: re.Pattern[str], paths: Sequence[str]) -> str | None:
    for path in paths:
        match = pattern.search(path)
        if match and match.group("developer"):
            return match.group("developer")
    return None


def _from_folder(path: PurePath, anchors: Collection[str]) -> str | None:
    """The folder holding the nearest ancestor named one of ``anchors`` (unless it is a tool folder)."""
    parents = path.parents
    for index, parent in enumerate(parents[:-1]):
        if parent.name in anchors:
            holder = parents[index + 1].name
            return holder if holder and holder not in _TOOL_FOLDERS else None
    return None


def _posix(path: str, folders: dict[str, str], *, absolute: bool) -> str:
    """``PurePath(path).as_posix()`` (``absolute``: of ``Path(path).absolute()``), with the folder's part made once
    per folder in ``folders``: a path object per file costs more than the rest of the rule, in a folder of thousands
    of transcripts."""
    folder, name = posixpath.split(path)
    if folder not in folders:
        made = (Path(folder).absolute() if absolute else PurePath(folder)).as_posix()
        folders[folder] = "" if made == "." else made  # a relative file in the working folder: its name alone
    return posixpath.join(folders[folder], name)


def owners(sources: Sequence[Source], context: ReadContext, anchors: Collection[str]) -> dict[str, str]:
    """``source.name`` -> developer for every source, or an InputError naming the first ownerless file."""
    if context.developer:
        return {source.name: context.developer for source in sources}
    pattern = re.compile(context.policy.owner_pattern) if context.policy.owner_pattern else None
    found: dict[str, str] = {}
    by_folder: dict[str, str | None] = {}  # the folder rule reads only a file's folders: once per folder
    plain: dict[str, str] = {}
    made_absolute: dict[str, str] = {}
    # Without a pattern a file's owner is its folder's: found once per folder as written (the part of the path
    # before its last slash, or of the name where there is no path), not per file (a folder of thousands).
    by_written: dict[tuple[bool, str], str | None] = {}
    for source in sources:
        written = source.name if source.path is None else str(source.path)
        folder_written = (source.path is None, written[: written.rfind("/") + 1])
        if pattern is None and folder_written in by_written:
            owner = by_written[folder_written]
        else:
            if source.path is None:
                named = absolute = _posix(source.name, plain, absolute=False)
            else:
                absolute = _posix(written, made_absolute, absolute=True)
                named = _posix(source.name, plain, absolute=False) if pattern else absolute  # the pattern's alone
            owner = _from_pattern(pattern, [named, absolute]) if pattern else None
            if owner is None:
                folder = posixpath.dirname(absolute)
                if folder not in by_folder:
                    by_folder[folder] = _from_folder(PurePath(absolute), anchors)
                owner = by_folder[folder]
            by_written[folder_written] = owner
        if owner is None:
            folders = " or ".join(f"{anchor}/" for anchor in anchors)
            msg = (
                f"{source.name}: cannot tell whose log this is (no folder above {folders} names a person);"
                " pass --owner NAME or set owner_pattern in the policy"
            )
            raise InputError(msg)
        found[source.name] = owner
    return found


def owner_column(sources: Sequence[Source], context: ReadContext, anchors: Collection[str]) -> pl.Expr:
    """``developer`` for each row from its ``source_file``, by :func:`owners`."""
    mapping = owners(sources, context, anchors)
    return pl.col("source_file").replace_strict(mapping, return_dtype=pl.String).alias("developer")
