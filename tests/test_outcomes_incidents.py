"""Incident outcomes from PagerDuty and Opsgenie exports: whom each incident is charged to, once."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import FIXTURES, run_json
from tokenaudit.outcomes.base import OutcomeContext
from tokenaudit.outcomes.config import OutcomesConfig
from tokenaudit.outcomes.read import detect_outcome_format, read_outcomes
from tokenaudit.readers.sources import resolve

ROOT = FIXTURES / "incidents"
PAGERDUTY = ROOT / "pagerduty_incidents.jsonl"
OPSGENIE = ROOT / "opsgenie_incidents.json"
OPSGENIE_USER = "4513b7ea-3b91-438f-b7e4-e3e54af9147c"


def test_formats_are_detected_from_content() -> None:
    context = OutcomeContext(OutcomesConfig())
    assert detect_outcome_format(resolve([str(PAGERDUTY)]).sources[0], context).name == "pagerduty_incidents"
    assert detect_outcome_format(resolve([str(OPSGENIE)]).sources[0], context).name == "opsgenie_incidents"


def test_each_incident_is_charged_once_to_its_responder() -> None:
    read = read_outcomes([str(PAGERDUTY), str(OPSGENIE)], OutcomesConfig(), "UTC")
    rows = read.outcomes.sort("item")
    assert rows.select("item", "developer").rows() == [
        # Listed on both pages: once, charged to Ana (assignee on page 1, resolver on page 2).
        ("opsgenie:70413a06-38d6-4c85-92b8-5ebc900d42e2", OPSGENIE_USER),
        ("pagerduty:PT4KHLK", "Ana Silva"),
        # Resolved: PagerDuty empties assignments, so the user who resolved it.
        ("pagerduty:PT4KHLM", "Bo Lee"),
        # An assignee without a display name is known by their PagerDuty user id.
        ("pagerduty:PT4KHLQ", "PCARL01"),
    ]
    assert set(rows["kind"]) == {"incident"}
    assert rows["count"].sum() == 4
    assert rows.filter(item="pagerduty:PT4KHLK")["timestamp"].item().isoformat() == "2026-03-02T21:30:42+00:00"
    # Resolved by the service itself (PagerDuty) and a team-only responder list (Opsgenie): nobody.
    assert read.unassigned_incidents == 2
    assert read.rejects.select("source_line", "reason").rows() == [
        (2, "created_at: expected an ISO 8601 timestamp or epoch seconds/milliseconds, got 'yesterday'")
    ]


def test_incidents_are_charged_like_defects_in_the_audit(tmp_path: Path) -> None:
    events = tmp_path / "events.csv"
    events.write_text(
        "timestamp,developer,input_tokens,output_tokens,cache_read_tokens,cache_write_tokens\n"
        "2026-03-02T10:00:00Z,ana@acme.io,1000,100,0,0\n"
        "2026-03-03T10:00:00Z,bo@acme.io,2000,200,0,0\n"
    )
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "identities:\n"
        "  ana: {team: checkout, aliases: [ana@acme.io, Ana Silva]}\n"
        "  bo: {team: checkout, aliases: [bo@acme.io, PBOLEE1, Bo Lee]}\n"
    )
    document = run_json("audit", str(events), "--policy", str(policy), "--outcomes", str(PAGERDUTY))
    outcomes = {row["developer"]: row["outcomes"] for row in document["developers"]}
    assert outcomes["ana"]["incident"] == 1
    assert outcomes["bo"]["incident"] == 1
    quality = document["data_quality"]["outcomes"]
    assert quality["unassigned_incidents"] == 1
    assert quality["unmatched_identities"] == ["PCARL01"]
