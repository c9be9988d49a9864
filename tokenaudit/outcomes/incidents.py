"""Incidents from PagerDuty and Opsgenie: each incident an ``incident`` of the person who responded to it.

- PagerDuty: the REST ``GET /incidents`` answer (``{"incidents": [...], "limit", "offset", "more"}``; pages
  saved one per file or one per line). An incident's person is its first assignee; PagerDuty empties
  ``assignments`` (and ``acknowledgements``) once an incident is resolved, so then the first acknowledger,
  else ``last_status_change_by`` when a user (not a service) resolved it. The name is the user reference's
  ``summary`` (the display name), else its ``id``: map either in the identity map.
- Opsgenie: the Incident API's ``GET /v1/incidents`` answer (``{"data": [...]}``). The person is the first
  responder of type ``user`` (its ``name`` or ``username`` when present, else its ``id``).

The responder is who was paged, not who shipped the fault: the incident is charged like a defect (weight
``outcomes.weights.incident``), and the README says so. An incident with no person credits nobody and is
counted. The incident counts at its creation time. Key: ``pagerduty:<id>`` / ``opsgenie:<id>``, so
overlapping exports count each incident once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import polars as pl

from tokenaudit.outcomes.base import OutcomeContext, OutcomeRead
from tokenaudit.outcomes.schema import conform_outcomes
from tokenaudit.readers import coerce
from tokenaudit.readers.base import Detection
from tokenaudit.readers.pages import read_records, text_fields
from tokenaudit.readers.sources import Source

_USER = text_fields("id", "summary", "type")
_PAGERDUTY = text_fields(
    "id",
    "created_at",
    assignments=pl.List(text_fields("at", assignee=_USER)),
    acknowledgements=pl.List(text_fields("at", acknowledger=_USER)),
    last_status_change_by=_USER,
)
_OPSGENIE = text_fields("id", "tinyId", "createdAt", responders=pl.List(text_fields("type", "id", "name", "username")))


def _pagerduty_person(user: str) -> pl.Expr:
    name = pl.coalesce(
        pl.col(user).struct.field("summary").str.strip_chars().replace("", None),
        pl.col(user).struct.field("id"),
    )
    return pl.when(pl.col(user).struct.field("type").fill_null("user_reference").str.starts_with("user")).then(name)


def _first(column: str, field: str) -> pl.Expr:
    return pl.col(column).list.first().struct.field(field)


def _charged(records: pl.LazyFrame, prefix: str, created: str, invalid: pl.DataFrame) -> OutcomeRead:
    """Outcome rows from records with ``developer``, ``id`` and the ``created`` column, deduplicated by key."""
    parsed = {
        "timestamp": coerce.timestamp(created, "UTC"),
        "item": coerce.Parsed(
            pl.lit(f"{prefix}:") + pl.col("id"),
            pl.when(pl.col("id").is_null()).then(pl.lit("id: missing; expected a value")),
        ),
        "developer": coerce.Parsed(pl.col("developer"), pl.lit(None, pl.String)),
    }
    good, rejects = coerce.parse_rows(
        records, parsed, raw=pl.concat_str(pl.lit(f"{prefix} "), pl.col("id").fill_null("?"))
    )
    unique = good.unique("item", keep="last", maintain_order=True)
    charged = unique.filter(pl.col("developer").is_not_null())
    outcomes = conform_outcomes(charged.lazy().with_columns(kind=pl.lit("incident"), count=pl.lit(1))).collect()
    return OutcomeRead(
        outcomes, pl.concat([invalid, rejects], how="vertical"), unassigned_incidents=unique.height - charged.height
    )


def read_pagerduty(sources: Sequence[Source]) -> OutcomeRead:
    """PagerDuty incidents, each charged to its assignee, acknowledger or resolving user."""
    records, invalid = read_records(sources, _PAGERDUTY, container="incidents")
    flat = records.with_columns(
        assignee=_first("assignments", "assignee"),
        acknowledger=_first("acknowledgements", "acknowledger"),
    ).with_columns(
        developer=pl.coalesce(
            _pagerduty_person("assignee"), _pagerduty_person("acknowledger"), _pagerduty_person("last_status_change_by")
        )
    )
    return _charged(flat, "pagerduty", "created_at", invalid)


def read_opsgenie(sources: Sequence[Source]) -> OutcomeRead:
    """Opsgenie incidents, each charged to its first user responder."""
    records, invalid = read_records(sources, _OPSGENIE)
    users = pl.col("responders").list.eval(pl.element().filter(pl.element().struct.field("type") == "user"))
    first = users.list.first().struct
    flat = records.with_columns(
        developer=pl.coalesce(first.field("name"), first.field("username"), first.field("id")),
    )
    return _charged(flat, "opsgenie", "createdAt", invalid)


class PagerDutyReader:
    """PagerDuty incidents, each charged to one person (or to nobody, counted)."""

    name: ClassVar[str] = "pagerduty_incidents"
    title: ClassVar[str] = "PagerDuty incidents (REST /incidents pages)"
    exported_by: ClassVar[str] = (
        "curl 'https://api.pagerduty.com/incidents?since=<ISO>&until=<ISO>&limit=100&offset=0' "
        "-H 'Authorization: Token token=<key>' -H 'Accept: application/vnd.pagerduty+json;version=2' "
        "> incidents.json (follow more/offset)"
    )

    def detect(self, source: Source, context: OutcomeContext) -> Detection:
        """PagerDuty incident records: ``incident_number`` with ``assignments`` or a ``pagerduty`` URL."""
        text = source.head_text()
        return Detection('"incident_number"' in text and ('"assignments"' in text or "pagerduty.com" in text))

    def read(self, sources: Sequence[Source], context: OutcomeContext) -> OutcomeRead:
        return read_pagerduty(sources)


class OpsgenieReader:
    """Opsgenie incidents, each charged to its first user responder (or to nobody, counted)."""

    name: ClassVar[str] = "opsgenie_incidents"
    title: ClassVar[str] = "Opsgenie incidents (Incident API /v1/incidents pages)"
    exported_by: ClassVar[str] = (
        "curl 'https://api.opsgenie.com/v1/incidents?query=createdAt>=<epoch ms>&limit=100&offset=0' "
        "-H 'Authorization: GenieKey <key>' > incidents.json (follow paging.next)"
    )

    def detect(self, source: Source, context: OutcomeContext) -> Detection:
        """Opsgenie incident records: ``tinyId`` with ``responders`` (alerts have ``owner`` and ``alias`` instead)."""
        text = source.head_text()
        return Detection('"tinyId"' in text and '"responders"' in text and '"alias"' not in text)

    def read(self, sources: Sequence[Source], context: OutcomeContext) -> OutcomeRead:
        return read_opsgenie(sources)
