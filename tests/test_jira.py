"""Jira resolutions: an issue closed undone (Won't Do, Duplicate, Cannot Reproduce…) is no closed ticket; an export
without an Assignee column is read with every issue unassigned."""

from __future__ import annotations

import polars as pl

from tests.helpers import FIXTURES
from tokenaudit.outcomes.config import OutcomesConfig
from tokenaudit.outcomes.read import read_outcomes

JIRA = FIXTURES / "jira"


def _kinds(frame: pl.DataFrame) -> dict[str, list[tuple[str, str]]]:
    rows = frame.sort("item").select("developer", "kind", "item").rows()
    found: dict[str, list[tuple[str, str]]] = {}
    for developer, kind, item in rows:
        found.setdefault(developer, []).append((kind, item))
    return found


def test_issues_resolved_without_the_work_done_are_not_closed_tickets() -> None:
    read = read_outcomes([str(JIRA / "jira_resolutions.csv")], OutcomesConfig(), "UTC")
    # PAY-402 Won't Do, PAY-403 Duplicate, PAY-404 Cannot Reproduce, PAY-405 "Won’t Fix" (typographic
    # apostrophe): none counts. PAY-401 Done and PAY-406 Fixed do. PAY-407 is a Bug: a defect as before.
    assert _kinds(read.outcomes) == {
        "Ana D": [("closed_ticket", "PAY-401")],
        "Bo Lee": [("closed_ticket", "PAY-406"), ("defect", "PAY-407")],
    }
    assert read.outcomes.filter(pl.col("kind") == "closed_ticket").sort("item")["size"].to_list() == [3.0, 8.0]
    assert read.rejects.height == 0


def test_the_policy_says_which_resolutions_are_not_done() -> None:
    config = OutcomesConfig(not_done_resolutions=["Duplicate"])
    read = read_outcomes([str(JIRA / "jira_resolutions.csv")], config, "UTC")
    closed = read.outcomes.filter(pl.col("kind") == "closed_ticket").sort("item")["item"].to_list()
    assert closed == ["PAY-401", "PAY-402", "PAY-404", "PAY-405", "PAY-406"]


def test_an_export_without_an_assignee_column_reads_every_issue_as_unassigned() -> None:
    read = read_outcomes([str(JIRA / "jira_no_assignee.csv")], OutcomesConfig(), "UTC")
    # PAY-501 (Done) and PAY-502 (a Bug) credit nobody; PAY-503 (Won't Do) is no outcome at all.
    assert read.outcomes.height == 0
    assert read.unassigned_issues == 2
    assert read.rejects.height == 0
