"""Jira issue CSV export ("Export → CSV (all fields)" or "current fields").

- An issue whose ``Issue Type`` is one of ``outcomes.defect_issue_types`` (default Bug) is a ``defect``
  of its assignee at its ``Created`` time, resolved or not (the defect exists either way). It is never
  also a closed ticket.
- Any other issue with a ``Resolved`` date is a ``closed_ticket`` of its assignee at that time (``opened`` is its
  ``Created`` time, for the ticket cycle time), sized by
  its story points (``Custom field (Story Points)`` or ``(Story point estimate)``) when present, unless
  its ``Resolution`` is one of ``outcomes.not_done_resolutions`` (Won't Do, Duplicate, Cannot Reproduce…,
  matched without regard to case or the kind of apostrophe): closing an issue undone is not closed work.
  An export without a ``Resolution`` column counts every resolved issue.
- ``Assignee`` is a display name: the identity map turns it into a developer. Issues without an
  assignee credit nobody and are counted; so is every issue of an export without an ``Assignee`` column.
- Dates carry no offset (the exporting user's profile zone): they are read in the policy's time zone
  (or ``--tz``), as ``11/May/24 03:26 PM``, ``6/21/2025 16:14`` or ISO 8601.
- Repeated headers (``Labels,Labels``), a byte-order mark, CRLF and quoted multi-line text are normal.
  ``Issue key`` is the key that makes overlapping exports count once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import polars as pl

from tokenaudit.errors import InputError
from tokenaudit.outcomes.base import OutcomeContext, OutcomeRead
from tokenaudit.outcomes.config import OutcomesConfig
from tokenaudit.outcomes.schema import conform_outcomes
from tokenaudit.readers import coerce
from tokenaudit.readers.base import Detection
from tokenaudit.readers.sources import Source

_REQUIRED = ("Issue key", "Issue Type", "Created", "Resolved")
_OPTIONAL = ("Assignee", "Resolution")
"""Read when present: without ``Assignee`` every issue is unassigned, without ``Resolution`` every
resolved issue counts as done."""
_STORY_POINTS = ("Custom field (Story Points)", "Custom field (Story point estimate)", "Story Points")
_LOCAL_FORMATS = ("%d/%b/%y %I:%M %p", "%d/%b/%Y %I:%M %p", "%m/%d/%Y %H:%M", "%m/%d/%y %H:%M", "%d/%b/%y %H:%M")


def _jira_time(column: str, timezone: str, field: str) -> coerce.Parsed:
    """Jira's zone-less local formats first, then anything :func:`coerce.timestamp` understands."""
    raw = pl.col(column).str.strip_chars()
    local = pl.coalesce([raw.str.to_datetime(fmt, strict=False, time_unit="us") for fmt in _LOCAL_FORMATS])
    generic = coerce.timestamp(column, timezone, field=field)
    value = pl.coalesce(
        local.dt.replace_time_zone(timezone, ambiguous="earliest", non_existent="null").dt.convert_time_zone("UTC"),
        generic.value,
    )
    problem = pl.when(local.is_null()).then(
        generic.problem.str.replace("an ISO 8601 timestamp", "a Jira date (11/May/24 03:26 PM), an ISO 8601 timestamp")
    )
    return coerce.Parsed(value, problem, generic.staged)


def _read(source: Source) -> pl.DataFrame:
    try:
        frame = pl.read_csv(source.payload(), infer_schema=False, encoding="utf8-lossy", truncate_ragged_lines=True)
    except pl.exceptions.PolarsError as exc:
        msg = f"{source.name}: cannot read as CSV: {str(exc).splitlines()[0]}"
        raise InputError(msg) from None
    frame = frame.rename({name: name.removeprefix("\ufeff").strip() for name in frame.columns})
    missing = [name for name in _REQUIRED if name not in frame.columns]
    if missing:
        msg = f"{source.name}: missing column {missing[0]!r}; a Jira CSV export needs {', '.join(_REQUIRED)}"
        raise InputError(msg)
    points = next((name for name in _STORY_POINTS if name in frame.columns), None)
    return frame.select(
        pl.lit(source.name).alias("source_file"),
        # Line of the record if no field spans lines (the header is line 1).
        pl.int_range(2, frame.height + 2, dtype=pl.Int64).alias("source_line"),
        *[pl.col(name) for name in _REQUIRED],
        *[(pl.col(name) if name in frame.columns else pl.lit(None, pl.String)).alias(name) for name in _OPTIONAL],
        (pl.col(points) if points else pl.lit(None, pl.String)).alias("points"),
    )


def read_jira(sources: Sequence[Source], config: OutcomesConfig, timezone: str) -> OutcomeRead:
    """Defects and closed tickets from every given Jira export, each issue counted once across files."""
    raw = pl.concat([_read(source) for source in sources])
    defect_types = [name.lower() for name in config.defect_issue_types]
    created = _jira_time("Created", timezone, "Created")
    resolved = _jira_time("Resolved", timezone, "Resolved")
    is_defect = pl.col("Issue Type").str.strip_chars().str.to_lowercase().is_in(defect_types)
    has_resolved = pl.col("Resolved").str.strip_chars().fill_null("") != ""
    # Compared trimmed, in lower case, with typographic apostrophes as plain ones ("Won’t Do").
    not_done = [name.strip().lower().replace("\u2019", "'") for name in config.not_done_resolutions]
    resolution = pl.col("Resolution").str.strip_chars().str.to_lowercase().str.replace_all("\u2019", "'")
    done = ~resolution.is_in(not_done).fill_null(value=False)
    staged = raw.with_columns(
        kind=pl.when(is_defect).then(pl.lit("defect")).when(has_resolved & done).then(pl.lit("closed_ticket")),
        developer=pl.col("Assignee").str.strip_chars().replace("", None),
        item=pl.col("Issue key").str.strip_chars(),
    ).filter(pl.col("kind").is_not_null())
    checked = coerce.with_staged(staged, created, resolved).with_columns(
        timestamp=pl.when(pl.col("kind") == "defect").then(created.value).otherwise(resolved.value),
        reason=pl.when(pl.col("kind") == "defect").then(created.problem).otherwise(resolved.problem),
        size=pl.when(pl.col("kind") == "closed_ticket").then(pl.col("points").cast(pl.Float64, strict=False)),
        # The start of a closed ticket's cycle (created → resolved, outcomes.cycle_time); unreadable: untimed.
        opened=pl.when(pl.col("kind") == "closed_ticket").then(created.value),
    )
    rejects = checked.filter(pl.col("reason").is_not_null()).select(
        "source_file", "source_line", "reason", pl.col("item").fill_null("").alias("raw")
    )
    good = checked.filter(pl.col("reason").is_null()).unique("item", keep="last", maintain_order=True)
    assigned = good.filter(pl.col("developer").is_not_null())
    return OutcomeRead(
        outcomes=conform_outcomes(assigned.lazy().with_columns(count=pl.lit(1))).collect(),
        rejects=rejects,
        unassigned_issues=good.height - assigned.height,
    )


class JiraReader:
    """Defects and closed tickets; unassigned issues credit nobody (counted)."""

    name: ClassVar[str] = "jira_csv"
    title: ClassVar[str] = "Jira issues (CSV export)"
    exported_by: ClassVar[str] = "Jira: Filters → Export → Export CSV (all fields or current fields)"

    def detect(self, source: Source, context: OutcomeContext) -> Detection:
        """A CSV whose header has Jira's ``Issue key`` and ``Issue Type`` columns."""
        header = source.head_text().split("\n", 1)[0]
        return Detection("Issue key" in header and "Issue Type" in header)

    def read(self, sources: Sequence[Source], context: OutcomeContext) -> OutcomeRead:
        return read_jira(sources, context.config, context.timezone)
