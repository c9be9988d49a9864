"""Outcome readers (gh/REST PRs, Jira CSV, generic) and their join to the audit by identity."""

from __future__ import annotations

from math import sqrt
from pathlib import Path

import polars as pl
import pytest

from tests.helpers import FIXTURES, by_developer, run_cli, run_json
from tokenaudit.errors import InputError
from tokenaudit.numbers import readable
from tokenaudit.outcomes.config import OutcomesConfig
from tokenaudit.outcomes.read import read_outcomes, unsized_outcomes, weighted_values

OUT = FIXTURES / "outcomes"
ALL = [str(OUT / name) for name in ("gh_pr_list.json", "gh_pr_list_overlap.json", "rest_pulls.json")]
POLICY = """
timezone: UTC
identities:
  ana:
    team: payments
    aliases: [ana@acme.com, ana-dev, Ana D]
  bo:
    team: payments
    aliases: [bo@acme.com, bo-lee, Bo Lee]
  carl:
    team: web
    aliases: [carl@acme.com]
"""


def _effort(lines: float) -> float:
    """The README's PR effort: sqrt(L)·L/(L + 20) above 2 lines, else 0."""
    return sqrt(lines) * lines / (lines + 20) if lines > 2 else 0.0


def _counts(frame: pl.DataFrame) -> dict[tuple[str, str], int]:
    summed = frame.group_by("developer", "kind").agg(pl.col("count").sum())
    return {(row[0], row[1]): row[2] for row in summed.iter_rows()}


def test_pull_requests_count_merged_once_credit_reverts_to_the_author_and_skip_bots() -> None:
    read = read_outcomes(ALL, OutcomesConfig(), "UTC")
    assert _counts(read.outcomes) == {
        ("ana-dev", "merged_pr"): 1,
        # #485 'Revert "Fix refund rounding"' (by bo-lee) is charged to ana-dev, who wrote #482.
        ("ana-dev", "revert"): 1,
        # payments#483 appears in two exports and counts once; web#12 has the same title but is another PR.
        ("bo-lee", "merged_pr"): 3,
        # REST web#14 carries the revert label and GitHub's "Reverts acme/web#13" body line.
        ("bo-lee", "revert"): 1,
        ("zed-contractor", "merged_pr"): 1,
    }
    assert read.bot_prs == 2
    assert read.unlinked_reverts == 0
    assert {kind for _, kind in read.files} == {"github_prs"}
    revert = read.outcomes.filter(pl.col("kind") == "revert", pl.col("developer") == "ana-dev").row(0, named=True)
    assert revert["item"] == "acme/payments#485"
    assert revert["timestamp"].isoformat() == "2026-03-04T12:00:00+00:00"


def test_jira_defects_closed_tickets_and_local_dates() -> None:
    read = read_outcomes([str(OUT / "jira.csv")], OutcomesConfig(), "Europe/Berlin")
    assert _counts(read.outcomes) == {
        ("Ana D", "defect"): 1,
        ("Ana D", "closed_ticket"): 1,
        ("Bo Lee", "closed_ticket"): 2,
    }
    assert read.unassigned_issues == 1
    assert read.rejects.height == 1
    reject = read.rejects.row(0, named=True)
    assert reject["raw"] == "PAY-316"
    assert reject["reason"].startswith("Resolved: expected a Jira date")
    defect = read.outcomes.filter(pl.col("kind") == "defect").row(0, named=True)
    # Created 01/Mar/26 9:10 AM in Berlin (UTC+1 in March) is 08:10 UTC; a Bug counts at creation.
    assert defect["timestamp"].isoformat() == "2026-03-01T08:10:00+00:00"
    points = read.outcomes.filter(pl.col("kind") == "closed_ticket").sort("item")["size"].to_list()
    assert points == [5.0, None, 2.0]


def test_generic_outcomes_dedup_on_item_or_identical_rows_and_reject_bad_dates() -> None:
    read = read_outcomes([str(OUT / "incidents.csv")], OutcomesConfig(), "UTC")
    assert _counts(read.outcomes) == {("bo@acme.com", "incident"): 1, ("ana@acme.com", "review"): 3}
    assert read.rejects.height == 1
    assert read.rejects["reason"][0].startswith("date: expected")
    assert read.rejects["source_line"][0] == 6


def test_tickets_weigh_by_story_points_relative_to_the_typical_ticket() -> None:
    read = read_outcomes([str(OUT / "jira.csv")], OutcomesConfig(), "UTC")
    values = weighted_values(read.outcomes, OutcomesConfig())
    tickets = values.filter(pl.col("kind") == "closed_ticket").sort("item")
    # Story points 5 (Bo Lee), none (Bo Lee), 2 (Ana D): per-person medians 5 and 2, typical 3.5.
    assert tickets["value"].to_list() == pytest.approx([5 / 3.5, 1.0, 2 / 3.5])
    assert unsized_outcomes(read.outcomes) == {"closed_ticket": 1}
    counted = weighted_values(read.outcomes, OutcomesConfig(size_weighting=False))
    assert counted.filter(pl.col("kind") == "closed_ticket")["value"].to_list() == [1.0, 1.0, 1.0]


def _prs(sizes: dict[str, list[int]]) -> pl.DataFrame:
    rows = [(who, "merged_pr", 1, float(size)) for who, listed in sizes.items() for size in listed]
    return pl.DataFrame(rows, schema=["developer", "kind", "count", "size"], orient="row")


def test_pull_requests_weigh_by_effort_with_a_floor_and_diminishing_returns() -> None:
    prs = _prs({"farmer": [1] * 60 + [2] * 10, "refactor": [3000, 2500, 4000], "ann": [100, 120, 80], "bo": [100]})
    values = weighted_values(prs, OutcomesConfig()).group_by("developer").agg(pl.col("value").sum())
    total = dict(values.iter_rows())
    # Typical PR: the median of per-person medians (1.5, 3000, 100, 100) = 100 lines, worth exactly one.
    assert total["bo"] == pytest.approx(1.0)
    assert total["ann"] == pytest.approx((_effort(100) + _effort(120) + _effort(80)) / _effort(100))
    # Seventy PRs of one or two lines are worth nothing; three huge PRs are worth about twenty typical ones.
    assert total["farmer"] == 0.0
    assert total["refactor"] == pytest.approx(sum(_effort(n) for n in (3000, 2500, 4000)) / _effort(100))
    assert 19 < total["refactor"] < 21
    # Splitting a 100-line PR into ten 10-line PRs does not pay much (ten PRs worth ~1.3 typical ones).
    assert 10 * _effort(10) / _effort(100) < 1.3


def test_unsized_pull_requests_count_as_typical_and_are_reported() -> None:
    prs = pl.DataFrame(
        {"developer": ["ann", "bo", "cy"], "kind": ["merged_pr"] * 3, "count": [1] * 3, "size": [100.0, 40.0, None]}
    )
    values = dict(weighted_values(prs, OutcomesConfig()).select("developer", "value").iter_rows())
    assert values == pytest.approx({"ann": _effort(100) / _effort(70), "bo": _effort(40) / _effort(70), "cy": 1.0})
    assert unsized_outcomes(prs) == {"merged_pr": 1}


def test_an_unrecognised_file_names_the_formats_expected(tmp_path: Path) -> None:
    odd = tmp_path / "odd.csv"
    odd.write_text("a,b\n1,2\n")
    with pytest.raises(InputError, match=r"odd\.csv: not a recognised outcome export"):
        read_outcomes([str(odd)], OutcomesConfig(), "UTC")


def test_invalid_json_names_line_and_column(tmp_path: Path) -> None:
    broken = tmp_path / "prs.json"
    broken.write_text('[{"number": 1, "author": {"login": "a"}, "mergedAt": "2026-03-01T00:00:00Z"},\n {"number": ]')
    with pytest.raises(InputError, match=r"prs.json:2:\d+: invalid JSON"):
        read_outcomes([str(broken)], OutcomesConfig(), "UTC")


def _usage(tmp_path: Path) -> tuple[str, str]:
    events = tmp_path / "events.csv"
    rows = ["timestamp,developer,input_tokens,output_tokens,cache_read_tokens,cache_write_tokens,request_id"]
    for day in range(1, 8):
        rows.append(f"2026-03-0{day}T10:00:00Z,ana@acme.com,1000,500,0,0,a{day}")
        rows.append(f"2026-03-0{day}T11:00:00Z,bo@acme.com,2000,700,0,0,b{day}")
        rows.append(f"2026-03-0{day}T12:00:00Z,carl@acme.com,3000,900,0,0,c{day}")
    events.write_text("\n".join(rows) + "\n")
    policy = tmp_path / "policy.yaml"
    # Three people: the one the order puts last is rarely there on 3 in 4 draws; these tests are about joining, so
    # everyone is placed.
    policy.write_text(POLICY + "ranking:\n  min_exposure: 0.001\n  bottom_quarter_confidence: 0\n")
    return str(events), str(policy)


BO_SCORE = (_effort(32) + _effort(80)) / _effort(154) + 1 + 0.5 * (5 / 3.5 + 1) - 2 - 1
"""bo's outcome score from the fixtures: PRs of 32 and 80 lines (typical 154) and one unsized REST PR,
tickets of 5 points and unsized (typical 3.5), an incident (-2) and a revert (-1)."""


def _outcome_args() -> list[str]:
    names = ("gh_pr_list.json", "gh_pr_list_overlap.json", "rest_pulls.json", "jira.csv", "incidents.csv")
    return [arg for name in names for arg in ("--outcomes", str(OUT / name))]


def test_audit_joins_outcomes_by_identity_and_lists_what_did_not_join(tmp_path: Path) -> None:
    events, policy = _usage(tmp_path)
    document = run_json("audit", events, "--policy", policy, *_outcome_args())
    people = by_developer(document)
    assert people["ana"]["outcomes"] == {
        "closed_ticket": 1,
        "defect": 1,
        "incident": 0,
        "merged_pr": 1,
        "revert": 1,
        "review": 3,
        # Typical PR 154 lines (ana's 252, bo's median of 32 and 80); typical ticket 3.5 points.
        "score": round(_effort(252) / _effort(154) + 0.5 * 2 / 3.5 - 1 - 1, 4),
    }
    assert people["bo"]["outcomes"] == {
        "closed_ticket": 2,
        "defect": 0,
        "incident": 1,
        "merged_pr": 3,
        "revert": 1,
        "review": 0,
        # web#13 comes from the REST list, which has no sizes: one typical PR.
        "score": round(BO_SCORE, 4),
    }
    assert people["carl"]["outcomes"]["score"] == 0
    quality = document["data_quality"]["outcomes"]
    assert quality["unmatched_identities"] == ["zed-contractor"]
    assert quality["developers_without_outcomes"] == ["carl"]
    assert quality["rows_rejected"] == 2
    assert quality["bot_prs_ignored"] == 2
    assert quality["unassigned_issues"] == 1
    assert quality["kinds_without_weight"] == ["review"]
    # web#13 (REST list) has no lines changed, PAY-313 no story points: each counts as one typical outcome.
    assert quality["size_weighting"] is True
    assert quality["unsized"] == {"closed_ticket": 1, "merged_pr": 1}
    assert quality["window"] == ["2026-03-01", "2026-03-21"]
    for person in people.values():
        assert person["ranking_status"] == "ranked"
        assert person["rank"]["adjusted"] in {1, 2, 3}
    ranks = sorted(p["rank"]["adjusted"] for p in people.values())
    assert ranks == [1, 2, 3]


def test_strict_identities_fails_on_an_unmatched_outcome_alias(tmp_path: Path) -> None:
    events, policy = _usage(tmp_path)
    result = run_cli("audit", events, "--policy", policy, *_outcome_args(), "--strict-identities", "-f", "json")
    assert result.exit_code == 5
    assert "zed-contractor" in result.stderr


def test_outcome_rejects_go_to_the_rejects_file_and_fail_strict(tmp_path: Path) -> None:
    events, policy = _usage(tmp_path)
    rejects = tmp_path / "rejects.csv"
    args = ("audit", events, "--policy", policy, *_outcome_args(), "-f", "json")
    assert run_cli(*args, "--rejects", str(rejects)).exit_code == 0
    written = pl.read_csv(rejects)
    assert sorted(written["raw"].to_list()) == ["PAY-316", "carl@acme.com,not-a-date,incident"]
    strict = run_cli(*args, "--strict")
    assert strict.exit_code == 4


def test_rank_prints_both_boards(tmp_path: Path) -> None:
    events, policy = _usage(tmp_path)
    document = run_json("rank", events, "--policy", policy, *_outcome_args())
    assert [row["developer"] for row in document["raw"]] == ["carl", "bo", "ana"]
    assert sorted(row["developer"] for row in document["adjusted"]) == ["ana", "bo", "carl"]
    table = run_cli("rank", events, "--policy", policy, *_outcome_args(), "-f", "table")
    assert table.exit_code == 0
    assert "Raw token leaderboard | outcome-adjusted ranking" in table.stdout


def test_rank_needs_outcomes(tmp_path: Path) -> None:
    events, policy = _usage(tmp_path)
    result = run_cli("rank", events, "--policy", policy)
    assert result.exit_code == 2
    assert "--outcomes" in result.stderr


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        ("", "empty.json", "empty.json: the file is empty"),
        ("<xml/>", "odd.xml", "odd.xml: not a recognised outcome export"),
        ('[{"number": 1, "author": {"login": "a"}}, {"number": 2,', "cut.json", "cut.json:1:"),
        ('[{"number": 1, "author": "ana"}]', "shape.json", "shape.json: unexpected pull request shape"),
        ('[{"number": 1, "user": {"login": "a"}}, 7]', "mixed.json", "mixed.json: record 2 is not an object"),
        ("Issue key,Issue Type,Status\nPAY-1,Bug,Done\n", "jira.csv", "jira.csv: missing column 'Created'"),
    ],
)
def test_a_bad_outcome_file_stops_with_one_line(tmp_path: Path, content: str, name: str, message: str) -> None:
    events, policy = _usage(tmp_path)
    bad = tmp_path / name
    bad.write_text(content)
    result = run_cli("audit", events, "--policy", policy, "--outcomes", str(bad), "-f", "json")
    assert result.exit_code == 3, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tokenaudit: error: ")
    assert message in lines[0]
    assert result.stdout == ""


def test_an_empty_outcome_file_among_others_is_listed_not_fatal(tmp_path: Path) -> None:
    events, policy = _usage(tmp_path)
    empty = tmp_path / "empty.json"
    empty.write_text("")
    document = run_json("audit", events, "--policy", policy, "--outcomes", str(empty), *_outcome_args())
    files = document["data_quality"]["outcomes"]["files"]
    assert {"file": str(empty), "format": "skipped: empty file"} in files


def test_outcomes_that_match_nobody_exculpate_nobody(tmp_path: Path) -> None:
    events, policy = _usage(tmp_path)
    stranger = tmp_path / "stranger.csv"
    stranger.write_text("developer,date,kind\nnobody,2026-03-02,merged_pr\n")
    document = run_json("audit", events, "--policy", policy, "--outcomes", str(stranger))
    assert document["data_quality"]["outcomes"]["unmatched_identities"] == ["nobody"]
    assert not any(person["risk"]["capped_by_outcomes"] for person in document["developers"])
    empty_period = run_json("audit", events, "--policy", policy, "--outcomes", str(stranger), "--since", "2030-01-01")
    assert empty_period["developers"] == []


def test_explain_shows_outcomes_and_the_adjusted_rank(tmp_path: Path) -> None:
    events, policy = _usage(tmp_path)
    result = run_cli("explain", "bo", events, "--policy", policy, *_outcome_args(), "-f", "text")
    assert result.exit_code == 0, result.stderr
    header, outcomes = result.stdout.splitlines()[:2]
    audit = by_developer(run_json("audit", events, "--policy", policy, *_outcome_args()))
    assert header.endswith(f"adjusted rank {audit['bo']['rank']['adjusted']} of 3")
    assert outcomes == f"Outcomes: closed_ticket 2, incident 1, merged_pr 3, revert 1 (score {readable(BO_SCORE)})"


def test_explain_says_why_a_developer_is_not_placed(tmp_path: Path) -> None:
    events, policy = _usage(tmp_path)
    # The default confidence: of three people, the one the order puts last is not sure to be there.
    policy_path = Path(policy)
    policy_path.write_text(policy_path.read_text().replace("  bottom_quarter_confidence: 0\n", ""))
    audit = by_developer(run_json("audit", events, "--policy", policy, *_outcome_args()))
    (last,) = [name for name, person in audit.items() if person["ranking_status"] == "not_placed"]
    rank = audit[last]["rank"]
    result = run_cli("explain", last, events, "--policy", policy, *_outcome_args(), "-f", "text")
    low, high = rank["adjusted_interval"]
    assert result.stdout.splitlines()[0].endswith(
        f"adjusted rank: not placed (uncertain: rank interval {low}–{high} of 3, bottom-quarter chance "
        f"{rank['bottom_quarter_chance']:.2f})"
    )
    explained = run_json("explain", last, events, "--policy", policy, *_outcome_args())["rank"]
    assert (explained["adjusted"], explained["adjusted_interval"]) == (None, [low, high])


def test_generic_outcomes_read_from_parquet_as_from_csv(tmp_path: Path) -> None:
    table = pl.read_csv(OUT / "incidents.csv", infer_schema=False).filter(pl.col("date") != "not-a-date")
    table.write_parquet(tmp_path / "incidents.parquet")
    from_parquet = read_outcomes([str(tmp_path / "incidents.parquet")], OutcomesConfig(), "UTC")
    assert _counts(from_parquet.outcomes) == {("bo@acme.com", "incident"): 1, ("ana@acme.com", "review"): 3}
