"""Deployments and failed deployments (GitHub deployments/statuses, deploy logs) and the DORA-style team columns."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from tests.helpers import FIXTURES, run_cli, run_json
from tokenaudit.outcomes.base import OutcomeContext
from tokenaudit.outcomes.config import OutcomesConfig
from tokenaudit.outcomes.read import detect_outcome_format, read_outcomes
from tokenaudit.readers.sources import resolve

ROOT = FIXTURES / "deployments"
DEPLOYMENTS, STATUSES, LOG = ROOT / "deployments.json", ROOT / "statuses.json", ROOT / "deploy_log.csv"
INCIDENTS = FIXTURES / "incidents" / "pagerduty_incidents.jsonl"
API = "https://api.github.com/repos/acme/checkout/deployments"


def test_formats_are_detected_from_content() -> None:
    sources = resolve([str(DEPLOYMENTS), str(STATUSES), str(LOG)]).sources
    formats = [detect_outcome_format(source, OutcomeContext(OutcomesConfig())).name for source in sources]
    assert formats == ["github_deployments", "github_deployments", "deploy_log"]


def test_github_deployments_take_their_latest_status_and_count_production_only() -> None:
    read = read_outcomes([str(DEPLOYMENTS), str(STATUSES)], OutcomesConfig(), "UTC")
    rows = read.outcomes.sort("kind", "item").select("kind", "item", "developer").rows()
    assert rows == [
        ("deployment", f"{API}/101", "ana-dev"),  # in_progress, then success
        ("deployment", f"{API}/102", "github-actions[bot]"),  # in_progress, then failure
        ("deployment", f"{API}/104", "ana-dev"),  # environment "prod", no status yet: not failed
        ("failed_deployment", f"failed:{API}/102", "github-actions[bot]"),
    ]
    assert read.non_production_deployments == 1  # 103 went to staging (its error does not count either)


def test_deploy_log_rows_with_team_status_and_duplicates() -> None:
    read = read_outcomes([str(LOG)], OutcomesConfig(), "Europe/Berlin")
    deployments = read.outcomes.filter(kind="deployment").sort("item")
    assert deployments.select("item", "team", "developer").rows() == [
        ("deploy:d-1", "payments", None),
        ("deploy:d-2", "payments", "bo@acme.io"),
        ("deploy:d-3", "search", None),  # listed twice, counted once
    ]
    # Zone-less times are local: 09:00 in Berlin is 08:00 UTC.
    assert deployments["timestamp"][0].isoformat() == "2026-03-02T08:00:00+00:00"
    assert read.outcomes.filter(kind="failed_deployment")["item"].to_list() == ["failed:deploy:d-2"]
    assert read.rejects.select("source_line", "reason").rows() == [
        (6, "status: expected success or failed (failure, error, rolled_back), got 'exploded'")
    ]


@pytest.fixture
def organisation(tmp_path: Path) -> tuple[str, str]:
    events = tmp_path / "events.csv"
    events.write_text(
        "timestamp,developer,input_tokens,output_tokens,cache_read_tokens,cache_write_tokens\n"
        "2026-03-02T10:00:00Z,ana@acme.io,1000,100,0,0\n"
        "2026-03-02T11:00:00Z,bo@acme.io,2000,200,0,0\n"
        "2026-03-03T12:00:00Z,cy@acme.io,3000,300,0,0\n"
    )
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "min_group_size: 1\n"
        "identities:\n"
        "  ana: {team: checkout, aliases: [ana@acme.io, ana-dev, Ana Silva]}\n"
        "  bo: {team: payments, aliases: [bo@acme.io, Bo Lee]}\n"
        "  cy: {team: search, aliases: [cy@acme.io]}\n"
        "agents:\n"
        "  - match: 'github-actions[bot]'\n"
        "    team: checkout\n"
    )
    return str(events), str(policy)


def test_team_view_has_change_failure_rate_and_incidents_per_deployment(organisation: tuple[str, str]) -> None:
    events, policy = organisation
    outcomes = [arg for path in (DEPLOYMENTS, STATUSES, LOG, INCIDENTS) for arg in ("--outcomes", str(path))]
    document = run_json("audit", events, "--policy", policy, *outcomes, "--teams-only")
    teams = {row["team"]: row for row in document["teams"]}
    delivery = ("deployments", "failed_deployments", "change_failure_rate", "incidents", "incidents_per_deployment")
    # checkout: Ana's two production deployments and the deploy bot's failed one (the bot works for checkout);
    # Ana's incident.
    assert [teams["checkout"][name] for name in delivery] == [3, 1, 0.3333, 1, 0.3333]
    # payments: the deploy log's two (one rolled back) and Bo's incident.
    assert [teams["payments"][name] for name in delivery] == [2, 1, 0.5, 1, 0.5]
    assert [teams["search"][name] for name in delivery] == [1, 0, 0.0, 0, 0.0]
    assert teams["checkout"]["total_tokens"] == 1100

    table = run_cli("audit", events, "--policy", policy, *outcomes, "--teams-only", "--format", "csv")
    assert table.exit_code == 0, table.stderr
    payments = next(row for row in csv.DictReader(io.StringIO(table.stdout)) if row["team"] == "payments")
    assert [payments[name] for name in delivery] == ["2", "1", "0.5", "1", "0.5"]


def test_team_view_without_delivery_exports_has_no_delivery_fields(organisation: tuple[str, str]) -> None:
    events, policy = organisation
    document = run_json("audit", events, "--policy", policy, "--teams-only")
    assert "deployments" not in document["teams"][0]
