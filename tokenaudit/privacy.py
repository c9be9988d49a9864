"""Pseudonymised output: stable keyed pseudonyms in place of every identity, applied in one place.

A pseudonym is ``dev-`` plus the first 10 hex digits of HMAC-SHA256(key, canonical developer id), keyed
by ``TOKENAUDIT_PSEUDONYM_KEY``: the same key gives the same pseudonyms across runs (weekly reports stay
comparable), another key gives unrelated ones, and nobody without the key can test a guess.

The scrub runs over the finished output (the JSON document, the table, the explain page), replacing every
known spelling of a person — canonical id, every alias in the identity map, names seen in usage and
outcome data — wherever it appears, including inside file paths and reasons. Aliases map to their
developer's pseudonym, so joins stay visible without the names.

File paths are replaced whole by numbered ids (``source-1`` …): folder names encode people and their working
directories (``exports/ana@acme.io/projects/-home-ana-alvarez-api/…``), and no list of names can catch every way a
path spells one. Error lines, written before any output exists, lose every path-like word and quoted value
(:func:`withhold`).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any, Final

from tokenaudit.documents import TableView
from tokenaudit.errors import UsageError
from tokenaudit.policy import Policy

KEY_VARIABLE: Final = "TOKENAUDIT_PSEUDONYM_KEY"
MIN_KEY_LENGTH: Final = 16


def pseudonym_key() -> bytes:
    """The key from the environment; refusing to run without one (an unkeyed hash is reversible by guessing)."""
    key = os.environ.get(KEY_VARIABLE, "")
    if not key.strip():
        msg = f"--pseudonymize needs a secret key in the environment variable {KEY_VARIABLE}"
        raise UsageError(msg)
    if len(key) < MIN_KEY_LENGTH:
        # Names are guessable: with a short key, a staff list and a pseudonym are enough to recover it.
        msg = f"{KEY_VARIABLE} is too short: use at least {MIN_KEY_LENGTH} random characters"
        raise UsageError(msg)
    return key.encode()


def pseudonym(developer: str, key: bytes) -> str:
    """The stable pseudonym of one canonical developer id."""
    return "dev-" + hmac.new(key, developer.encode(), hashlib.sha256).hexdigest()[:10]


@dataclass(frozen=True)
class Scrubber:
    """Replaces every known spelling of every person in strings, dicts and lists."""

    replacements: Mapping[str, str]
    """Real spelling (any case) -> pseudonym."""
    paths: Mapping[str, str] = field(default_factory=dict)
    """Input file or folder path, as written anywhere -> its numbered id (``source-3``)."""

    def text(self, value: str) -> str:
        """``value`` with every known path and spelling replaced."""
        if self.paths:
            value = self._path_pattern.sub(lambda m: self.paths[m.group(0)], value)
        if not self.replacements:
            return value
        return self._pattern.sub(lambda m: self.replacements[m.group(0).lower()], value)

    @cached_property
    def _path_pattern(self) -> re.Pattern[str]:
        """Every path, longest first, so a file inside a given folder is replaced whole."""
        return re.compile("|".join(re.escape(path) for path in sorted(self.paths, key=len, reverse=True)))

    @cached_property
    def _pattern(self) -> re.Pattern[str]:
        """Every spelling, longest first (an email before its local part), as whole names only: "ana" must
        not eat the middle of "banana" or "analysis"."""
        alternatives = "|".join(re.escape(name) for name in sorted(self.replacements, key=len, reverse=True))
        return re.compile(rf"(?<![\w@.+-])(?:{alternatives})(?![\w@+-])", re.IGNORECASE)

    def scrub_table(self, table: TableView) -> TableView:
        """A table view with titles, cells and notes scrubbed."""
        return replace(
            table,
            title=self.text(table.title),
            columns=[self.text(column) for column in table.columns],
            rows=[[self.scrub(cell) for cell in row] for row in table.rows],
            notes=[self.text(note) for note in table.notes],
        )

    def scrub(self, value: Any) -> Any:
        """The same structure with every string scrubbed (keys included)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.scrub(key): self.scrub(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self.scrub(item) for item in value)
        return value


_PATH_OR_QUOTED: Final = re.compile(r"\S*[/\\]\S*|'[^']*'|\"[^\"]*\"")


def withhold(message: str, inputs: Iterable[str] = ()) -> str:
    """A diagnostic with the ``inputs`` as given, every path-like word and every quoted value withheld, for lines
    no scrubber has seen (an error that stops the run before the output exists)."""
    for given in sorted(inputs, key=len, reverse=True):
        message = message.replace(given, "(a path)") if given.strip() else message
    return _PATH_OR_QUOTED.sub(lambda m: "'…'" if m.group(0)[0] in "'\"" else "(a path)", message)


def build_scrubber(
    policy: Policy,
    developers: Iterable[str],
    other_names: Iterable[str],
    label: Callable[[str], str],
    paths: Iterable[str] = (),
) -> Scrubber:
    """Every spelling the policy and the data know, mapped to ``label(developer)``.

    ``developers`` are canonical ids from the data; ``other_names`` are names that joined nobody (unmatched
    aliases, outcome authors without usage): each is labelled as itself. ``label`` is a keyed pseudonym
    (``--pseudonymize``) or a constant (``--teams-only``, where no person may be told apart). ``paths`` (input
    files and folders) are numbered in the order given; a path and its absolute form share a number.
    """
    replacements: dict[str, str] = {}
    for name in other_names:
        if name and name.strip():
            replacements[name.strip().lower()] = label(name.strip())
    for developer in developers:
        if developer:
            replacements[developer.lower()] = label(developer)
    for developer, identity in policy.identities.items():
        for alias in (developer, *identity.aliases):
            if alias.strip():
                replacements[alias.strip().lower()] = label(developer)
    numbered: dict[str, str] = {}
    sources = 0
    for path in paths:
        if path and path != "-" and path not in numbered:
            absolute = str(Path(path).absolute())
            if absolute not in numbered:
                sources += 1
                numbered[absolute] = f"source-{sources}"
            numbered[path] = numbered[absolute]
    return Scrubber(replacements, numbered)
