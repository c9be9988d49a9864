"""Time to merge and ticket cycle time from the PR and Jira exports' own start and end fields, exact to the minute."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from tests.helpers import FIXTURES, by_developer, run_json
from tests.test_outcomes import POLICY, _outcome_args, _usage
from tokenaudit.outcomes.cycle_time import cycle_times

OUT = FIXTURES / "outcomes"

ANA_PR_HOURS = 30 + 28 / 60 + 31 / 3600
"""#482: createdAt 2026-03-01T10:12:00Z, mergedAt 2026-03-02T16:40:31Z (ana's only merged PR; #14 is a revert)."""
BO_TICKET_DAYS = (2 + (1 + 55 / 60) / 24, 2.0)
"""PAY-312 01/Mar/26 9:10 AM → 03/Mar/26 11:05 AM and PAY-313 02/Mar/26 10:00 AM → 04/Mar/26 10:00 AM."""
ANA_TICKET_DAYS = 3 + 4.5 / 24
"""PAY-317 02/Mar/26 10:00 AM → 3/05/2026 14:30 (PAY-311 is a Bug, a defect; PAY-316's date is unreadable)."""


def test_each_developer_s_median_time_to_merge_and_ticket_cycle(tmp_path: Path) -> None:
    events, policy = _usage(tmp_path)
    people = by_developer(run_json("audit", events, "--policy", policy, *_outcome_args()))
    assert people["ana"]["cycle_time"] == {
        "prs_timed": 1,
        "time_to_merge_hours_median": round(ANA_PR_HOURS, 4),
        "tickets_timed": 1,
        "ticket_cycle_days_median": round(ANA_TICKET_DAYS, 4),
    }
    # bo: #483 and #12 took 22 h each, #13 2 h (the revert #485 is not his merged PR, and counts once across files).
    assert people["bo"]["cycle_time"] == {
        "prs_timed": 3,
        "time_to_merge_hours_median": 22.0,
        "tickets_timed": 2,
        "ticket_cycle_days_median": round(sum(BO_TICKET_DAYS) / 2, 4),
    }
    assert people["carl"]["cycle_time"] == {
        "prs_timed": 0,
        "time_to_merge_hours_median": None,
        "tickets_timed": 0,
        "ticket_cycle_days_median": None,
    }


def test_team_rollups_carry_the_team_s_medians(tmp_path: Path) -> None:
    events, _ = _usage(tmp_path)
    policy = tmp_path / "teams.yaml"
    policy.write_text(POLICY + "min_group_size: 1\nranking:\n  min_exposure: 0.001\n")
    teams = {
        team["team"]: team
        for team in run_json("audit", events, "--policy", str(policy), "--teams-only", *_outcome_args())["teams"]
    }
    # payments: PRs of 2, 22, 22 and 30.48 h; tickets of 2, 2.08 and 3.19 days.
    assert {key: teams["payments"][key] for key in ("prs_timed", "time_to_merge_hours_median")} == {
        "prs_timed": 4,
        "time_to_merge_hours_median": 22.0,
    }
    assert teams["payments"]["tickets_timed"] == 3
    assert teams["payments"]["ticket_cycle_days_median"] == round(BO_TICKET_DAYS[0], 4)
    assert (teams["web"]["prs_timed"], teams["web"]["time_to_merge_hours_median"]) == (0, None)


def test_only_outcomes_with_a_start_before_their_end_are_timed() -> None:
    stamp = pl.datetime(2026, 3, 2, 12, time_zone="UTC")
    outcomes = pl.DataFrame(
        {
            "developer": ["a", "a", "a", "a", "a"],
            "kind": ["merged_pr", "merged_pr", "merged_pr", "closed_ticket", "defect"],
            "hours_before": [4.0, None, -1.0, 48.0, 10.0],
        }
    ).select(
        "developer",
        "kind",
        stamp.alias("timestamp"),
        (stamp - pl.duration(minutes=pl.col("hours_before") * 60)).alias("opened"),
    )
    times = cycle_times(outcomes, "developer").row(0, named=True)
    assert times == {
        "developer": "a",
        "prs_timed": 1,
        "time_to_merge_hours_median": 4.0,
        "tickets_timed": 1,
        "ticket_cycle_days_median": 2.0,
    }
