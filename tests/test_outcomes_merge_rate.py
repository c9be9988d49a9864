"""PRs closed without merging (merge rate): read only when the policy weighs them, once per PR, never bots."""

from __future__ import annotations

from tests.helpers import FIXTURES
from tokenaudit.outcomes.config import OutcomesConfig
from tokenaudit.outcomes.read import read_outcomes

PRS = FIXTURES / "outcomes" / "gh_pr_list.json"
OVERLAP = FIXTURES / "outcomes" / "gh_pr_list_overlap.json"


def test_closed_unmerged_prs_are_an_outcome_only_when_weighted() -> None:
    unweighted = read_outcomes([str(PRS)], OutcomesConfig(), "UTC").outcomes
    assert "closed_unmerged_pr" not in unweighted["kind"].to_list()
    config = OutcomesConfig(weights={"merged_pr": 1.0, "closed_unmerged_pr": -0.25})
    outcomes = read_outcomes([str(PRS), str(OVERLAP)], config, "UTC").outcomes
    closed = outcomes.filter(kind="closed_unmerged_pr")
    # #487 was closed unmerged; #486 is still open; merged and bot PRs are not closures.
    assert closed.select("developer", "item").rows() == [("ana-dev", "acme/payments#487")]
    assert closed["timestamp"].item().isoformat() == "2026-03-05T10:00:00+00:00"
    merged = outcomes.filter(kind="merged_pr", developer="ana-dev").height
    assert merged / (merged + closed.height) == 0.5
