"""The outcome reader interface: each outcome format is a :class:`~tokenaudit.readers.base.FormatReader`, like the
usage readers, whose ``read`` gives an :class:`OutcomeRead`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import polars as pl

from tokenaudit.outcomes.config import OutcomesConfig
from tokenaudit.readers.base import FormatReader


@dataclass(frozen=True)
class OutcomeContext:
    """What an outcome reader may need beyond the bytes: the policy's outcome section and the report's zone."""

    config: OutcomesConfig
    timezone: str = "UTC"


@dataclass(frozen=True)
class OutcomeRead:
    """Outcomes (:data:`tokenaudit.outcomes.schema.OUTCOME_SCHEMA`), the rows that could not be read, and what
    credits nobody: of one format's files, or of all files."""

    outcomes: pl.DataFrame
    rejects: pl.DataFrame
    files: list[tuple[str, str]] = field(default_factory=list)
    """(file, format) in reading order."""
    bot_prs: int = 0
    unassigned_issues: int = 0
    unlinked_reverts: int = 0
    unassigned_incidents: int = 0
    """Incidents with no assignee, acknowledger or responding user: charged to nobody."""
    non_production_deployments: int = 0
    """GitHub deployments to environments other than production: not counted."""


class OutcomeReader(FormatReader[OutcomeContext, OutcomeRead], Protocol):
    """One outcome format (``--outcomes`` detects it from content)."""
