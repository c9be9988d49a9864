"""What a first run, a cron job and a broken export need to be told: outcomes that joined nobody give the raw board
with one prominent line (never an adjusted board of zeros), an empty or partial period warns and fails under
--fail-on, report refuses to pour HTML into a terminal, explain takes any alias."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import SAMPLE, SAMPLE_ARGS, run_cli
from tokenaudit.errors import ExitCode

EVENTS = str(SAMPLE / "events.csv")
PRS = ("--outcomes", str(SAMPLE / "prs.json"))
NO_JOIN = "Outcomes not used, no adjusted ranking: none of the 40 names in the outcome files (abrown-gh, clee-gh, "


def test_outcomes_that_join_nobody_give_the_raw_board_with_one_prominent_line() -> None:
    result = run_cli("audit", EVENTS, *PRS, "-f", "json")
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["warnings"][0].startswith(NO_JOIN)
    assert "--identities FILE" in document["warnings"][0] and "identities:" in document["warnings"][0]
    assert "ranking" not in document
    assert all("adjusted" not in d["rank"] and "outcomes" not in d for d in document["developers"])
    assert result.stderr.startswith(f"tokenaudit: warning: {NO_JOIN}")
    table = run_cli("audit", EVENTS, *PRS, "-f", "table").stdout
    assert table.startswith(NO_JOIN)
    header = next(line for line in table.splitlines() if "developer" in line and "┃" in line)
    assert "Token leaderboard (raw)" in table and "adjusted" not in header and "▲" not in table


def test_rank_and_report_without_a_join_show_the_raw_board() -> None:
    rank = run_cli("rank", EVENTS, *PRS, "-f", "json")
    assert rank.exit_code == 0, rank.stderr
    assert json.loads(rank.stdout)["warnings"][0].startswith(NO_JOIN) and "adjusted" not in json.loads(rank.stdout)
    report = run_cli("report", EVENTS, *PRS, "-f", "json")
    assert report.exit_code == 0, report.stderr
    assert json.loads(report.stdout)["warnings"][0].startswith(NO_JOIN)
    assert f"tokenaudit: warning: {NO_JOIN}" in report.stderr


def test_the_report_page_leads_with_the_warning(tmp_path: Path) -> None:
    for fmt, name in (("html", "week.html"), ("markdown", "week.md")):
        result = run_cli("report", EVENTS, *PRS, "-f", fmt, "-o", str(tmp_path / name))
        assert result.exit_code == 0, result.stderr
        page = (tmp_path / name).read_text()
        assert NO_JOIN[:60] in page.split("Summary")[0]
        assert "outcome-adjusted ranking" not in page.lower().replace("no adjusted ranking", "")


def test_the_near_miss_a_full_join_has_no_warning() -> None:
    document = json.loads(run_cli("audit", *SAMPLE_ARGS, "-f", "json").stdout)
    assert "warnings" not in document and document["ranking"]["ranked_developers"] > 30


def test_a_partial_join_says_how_many_joined(tmp_path: Path) -> None:
    identities = tmp_path / "people.csv"
    rows = [("kofi.cohen", "payments", "kcohen-gh"), ("chen.novak", "identity", "cnovak-gh")]
    lines = [f"{who}@acme.example,{who},{team}\n{login},{who},{team}" for who, team, login in rows]
    identities.write_text("alias,developer,team\n" + "\n".join(lines) + "\n")
    result = run_cli("audit", EVENTS, *PRS, "--identities", str(identities), "-f", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["warnings"] == [
        "Outcomes joined 2 of 40 developers; the other 38 have none (if they should, map them with --identities "
        "FILE (alias,developer,team) or the policy's identities: section)."
    ]


def test_report_refuses_to_write_html_to_a_terminal() -> None:
    leader, follower = pty.openpty()
    try:
        process = subprocess.run(
            [sys.executable, "-m", "tokenaudit", "report", EVENTS],
            stdout=follower,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    finally:
        os.close(follower)
        os.close(leader)
    assert process.returncode == int(ExitCode.USAGE_OR_POLICY)
    assert process.stderr == (
        "tokenaudit: error: report: an HTML page is not for a terminal; give --output report.html "
        "(or --format markdown|json)\n"
    )


@pytest.mark.parametrize("alias", ["dev.silva@acme.example", "dsilva-gh", "Dev Silva", "DEV.SILVA"])
def test_explain_takes_any_alias_of_the_identity_map(alias: str) -> None:
    result = run_cli("explain", alias, *SAMPLE_ARGS[:3], "-f", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["developer"] == "dev.silva"


def test_explain_takes_an_alias_from_identities(tmp_path: Path) -> None:
    identities = tmp_path / "people.csv"
    identities.write_text("alias,developer,team\ndev.silva@acme.example,dsilva,platform\nDevi S.,dsilva,platform\n")
    result = run_cli("explain", "Devi S.", EVENTS, "--identities", str(identities), "-f", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["developer"] == "dsilva"


def test_an_empty_period_warns_costs_nothing_and_fails_under_fail_on(tmp_path: Path) -> None:
    result = run_cli("audit", EVENTS, "--since", "2030-01-01", "-f", "json")
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["warnings"] == [
        "No usage in the period 2030-01-01..…: 26,948 events outside it, 0 rows rejected. A broken or stale export?"
    ]
    assert document["summary"]["cost_usd"] == 0.0 and document["summary"]["unpriced_tokens"] == 0
    failing = run_cli("audit", EVENTS, "--since", "2030-01-01", "-f", "json", "--fail-on", "high")
    assert failing.exit_code == int(ExitCode.EMPTY_PERIOD_FAIL_ON) == 7
    page = tmp_path / "empty.html"
    report = run_cli("report", EVENTS, "--since", "2030-01-01", "-o", str(page), "--fail-on", "high")
    assert report.exit_code == 7
    assert "Warning" not in report.stderr and "matplotlib" not in report.stderr  # no library advice
    assert report.stderr.splitlines()[0].startswith("tokenaudit: warning: No usage in the period")
    assert "unpriced" not in page.read_text()


def test_a_partial_period_warns_and_a_full_one_does_not() -> None:
    partial = json.loads(run_cli("totals", EVENTS, "--since", "2026-09-20", "--until", "2026-11-01").stdout)
    assert partial["warnings"] == [
        "Usage on only 15 of the 43 days of the period 2026-09-20..2026-11-01: a partial export?"
    ]
    full = json.loads(run_cli("totals", EVENTS, "--since", "2026-09-20", "--until", "2026-10-01").stdout)
    assert "warnings" not in full


def test_markdown_chart_folder_holds_only_this_runs_charts(tmp_path: Path) -> None:
    charts = tmp_path / "week_charts"
    charts.mkdir()
    (charts / "hour_of_week_99.svg").write_text("<svg>someone else's heatmap</svg>")
    (charts / "README.txt").write_text("not ours to remove")
    result = run_cli("report", *SAMPLE_ARGS, "-f", "markdown", "-o", str(tmp_path / "week.md"))
    assert result.exit_code == 0, result.stderr
    markdown = (tmp_path / "week.md").read_text()
    svgs = sorted(path.name for path in charts.glob("*.svg"))
    assert "hour_of_week_99.svg" not in svgs and (charts / "README.txt").exists()
    assert svgs and all(f"(week_charts/{name})" in markdown for name in svgs)
