"""tokenaudit report: HTML and Markdown pages from the sample data, checked against the JSON output."""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import SAMPLE, SAMPLE_ARGS, run_cli
from tokenaudit.page_data import top_with_others

ARGS = SAMPLE_ARGS


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("report")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SOURCE_DATE_EPOCH", "1795000000")
        patch.setenv("NO_COLOR", "1")
        html_run = run_cli("report", *ARGS, "--output", str(folder / "report.html"))
        again = run_cli("report", *ARGS, "--output", str(folder / "again.html"))
        markdown = run_cli("report", *ARGS, "--format", "markdown", "--output", str(folder / "report.md"))
        audit = run_cli("audit", *ARGS, "--format", "json")
    for result in (html_run, again, markdown, audit):
        assert result.exit_code == 0, result.stderr
    charts = sorted(path.name for path in (folder / "report_charts").iterdir())
    return {
        "html": (folder / "report.html").read_text(),
        "again": (folder / "again.html").read_text(),
        "markdown": (folder / "report.md").read_text(),
        "audit": audit.stdout,
        "charts": ",".join(charts),
    }


def _gamers() -> list[str]:
    rows = (SAMPLE / "labels.csv").read_text().splitlines()[1:]
    return [row.split(",")[0] for row in rows if row.split(",")[3] == "gamer"]


SECTIONS = (
    "Summary",
    "Needs a conversation",
    "Raw token leaderboard vs outcome-adjusted ranking",
    "Teams",
    "Every developer",
    "Data quality",
)


def test_html_has_every_section_in_a_lead_s_order_and_every_chart_with_a_title(pages: dict[str, str]) -> None:
    html = pages["html"]
    positions = [html.index(f"<h2>{heading}</h2>") for heading in SECTIONS]
    assert positions == sorted(positions)
    svgs = re.findall(r"<svg[^>]*>(.{0,300})", html)
    assert len(svgs) >= 5
    assert all(start.startswith("<title>") for start in svgs)
    for title in ("Weekly tokens by team", "Total tokens against outcome score", "Rank shift", "Daily tokens by team"):
        assert f"<title>{title}" in html
    assert "active minutes by hour of week, week by week" in html
    assert "<meta name='viewport'" in html and "@media print" in html


def test_html_references_nothing_outside_itself(pages: dict[str, str]) -> None:
    html = pages["html"]
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "<link" not in html and "@import" not in html
    assert not re.search(r"<script[^>]*\bsrc\b", html), "scripts are inline only"
    assert not re.search(r"\b(fetch|XMLHttpRequest|WebSocket|import)\s*\(", html)
    # The only URLs left are XML namespace names inside the inline SVGs, which nothing fetches.
    assert set(re.findall(r"https?://[^\"'\s)]+", html)) <= {
        "http://www.w3.org/2000/svg",
        "http://www.w3.org/1999/xlink",
    }


def test_pages_list_the_flagged_gamers_with_reasons_and_the_json_numbers(pages: dict[str, str]) -> None:
    audit = json.loads(pages["audit"])
    flagged = [d for d in audit["developers"] if d["risk"]["level"] in ("medium", "high")]
    gamers = set(_gamers())
    assert {d["developer"] for d in flagged} & gamers
    for page in (pages["html"], pages["markdown"]):
        for person in flagged:
            assert person["developer"] in page
            for flag in person["flags"]:
                assert flag["reason"].replace("'", "&#x27;") in page or flag["reason"] in page
        assert f"{audit['summary']['tokens']['total']:,}" in page
        for person in audit["developers"]:
            if person["rank"]["adjusted"] is not None:
                assert f"{person['tokens']['total']:,}" in page


def test_markdown_writes_its_charts_beside_it(pages: dict[str, str]) -> None:
    assert pages["charts"].startswith("daily_by_team.svg,hour_of_week_1.svg")
    assert "![tokens vs outcome score](report_charts/tokens_vs_outcomes.svg)" in pages["markdown"]


def test_the_same_input_gives_the_same_page(pages: dict[str, str]) -> None:
    assert pages["html"] == pages["again"]
    assert "generated 2026-11-18 " in pages["html"]


def test_fail_on_high_exits_one_and_raised_thresholds_exit_zero(tmp_path: Path) -> None:
    failing = run_cli("report", *ARGS, "--format", "json", "--fail-on", "high", "--quiet")
    assert failing.exit_code == 1
    assert json.loads(failing.stdout)["summary"]["risk_levels"]["high"] >= 1
    policy = tmp_path / "policy.yaml"
    text = (SAMPLE / "policy.yaml").read_text()
    policy.write_text(
        text
        + "flags:\n"
        + "".join(
            f"  {name}:\n    enabled: false\n"
            for name in (
                "volume_outlier",
                "machine_regularity",
                "no_rest_rhythm",
                "repetition",
                "context_stuffing",
                "snapshot_spike",
                "launch_step",
                "low_yield",
                "rejected_work",
            )
        )
    )
    args = list(ARGS)
    args[2] = str(policy)
    quiet = run_cli("report", *args, "--format", "json", "--fail-on", "high")
    assert quiet.exit_code == 0, quiet.stderr
    assert json.loads(quiet.stdout)["summary"]["risk_levels"]["high"] == 0


def test_period_names() -> None:
    import datetime as dt

    from tokenaudit.periods import parse_period, previous_period

    assert parse_period("last-week", dt.date(2026, 11, 25)) == (dt.date(2026, 11, 16), dt.date(2026, 11, 22))
    assert parse_period("2026-W40", dt.date(2026, 11, 25)) == (dt.date(2026, 9, 28), dt.date(2026, 10, 4))
    assert parse_period("2026-02", dt.date(2026, 11, 25)) == (dt.date(2026, 2, 1), dt.date(2026, 2, 28))
    assert previous_period(dt.date(2026, 9, 28), dt.date(2026, 10, 4)) == (dt.date(2026, 9, 21), dt.date(2026, 9, 27))


def test_compare_previous_lists_new_flags() -> None:
    result = run_cli("report", *ARGS, "--format", "json", "--period", "2026-W40")
    assert result.exit_code == 0, result.stderr
    trend = json.loads(result.stdout)["report"]["trend"]
    assert trend["previous_period"]["since"] == "2026-09-21"
    assert isinstance(trend["new_flags"], list) and isinstance(trend["cleared_flags"], list)
    assert trend["token_growth"] is not None


def test_an_empty_period_with_a_leaderboard_policy_reports_nothing_and_does_not_crash() -> None:
    result = run_cli("report", *ARGS, "--format", "json", "--period", "2030-01")
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["developers"] == []
    assert document["report"]["trend"]["new_flags"] == []


@pytest.fixture(scope="module")
def report_json() -> dict[str, Any]:
    result = run_cli("report", *ARGS, "--format", "json")
    assert result.exit_code == 0, result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def test_daily_series_cover_every_day_in_order_and_add_up_to_the_team_totals(report_json: dict[str, Any]) -> None:
    report = report_json["report"]
    first, last = report_json["period"]["first_event"][:10], report_json["period"]["last_event"][:10]
    span = (dt.date.fromisoformat(last) - dt.date.fromisoformat(first)).days + 1
    totals = {team["team"]: team["total_tokens"] for team in report["teams"]}
    for team, points in report["daily_by_team"].items():
        days = [day for day, _ in points]
        assert days == sorted(days) and len(days) == span == len(set(days))
        assert days[0] == first and days[-1] == last
        assert sum(tokens for _, tokens in points) == totals[team]
        assert sum(tokens for _, tokens in report["weekly_by_team"][team]) == totals[team]
    assert any(tokens == 0 for points in report["daily_by_team"].values() for _, tokens in points), "zero-filled"
    assert all(dt.date.fromisoformat(week).weekday() == 0 for week, _ in report["weekly_by_team"]["search"])


def test_drill_down_numbers_add_up_to_the_developer_rows(report_json: dict[str, Any]) -> None:
    details = report_json["report"]["developer_details"]
    assert set(details) == {d["developer"] for d in report_json["developers"]}
    for person in report_json["developers"]:
        detail = details[person["developer"]]
        assert sum(week["tokens"] for week in detail["weekly"]) == person["tokens"]["total"]
        assert sum(week["outcome_score"] for week in detail["weekly"]) == pytest.approx(
            person["outcomes"]["score"], abs=1e-3
        )  # weeks rounded to 4 places
        assert sum(session[2] for session in detail["sessions"]) <= person["requests"]
        assert all(0 < minutes <= 60 for *_, minutes in detail["hour_of_week_by_week"])
    # Per week, never pooled: the flagged developers' pooled evidence is the sum of their weekly cells.
    for name, pooled in report_json["report"]["hour_of_week"].items():
        assert sum(m for *_, m in pooled) == sum(m for *_, m in details[name]["hour_of_week_by_week"])
        assert len({week for week, *_ in details[name]["hour_of_week_by_week"]}) > 1


def test_sessions_are_split_as_the_headless_work_flag_counts_them(report_json: dict[str, Any]) -> None:
    details = report_json["report"]["developer_details"]
    for person in report_json["developers"]:
        detail = details[person["developer"]]
        split, sessions = detail["session_split"], detail["sessions"]
        assert sum(kind["sessions"] for kind in split.values()) == len(sessions)
        assert sum(kind["tokens"] for kind in split.values()) == sum(session[3] for session in sessions)
        headless = [session for session in sessions if session[4] is True]
        assert split.get("headless", {}).get("sessions", 0) == len(headless)
    # The page's split is the flag's: dev.singh's and dev.silva's loops, by the detector's own evidence.
    for name, headless_sessions, interactive_sessions in (("dev.singh", 170, 31), ("dev.silva", 508, 21)):
        person = next(d for d in report_json["developers"] if d["developer"] == name)
        evidence = next(f["evidence"] for f in person["flags"] if f["id"] == "headless_work")
        split = details[name]["session_split"]
        assert (split["headless"]["sessions"], split["interactive"]["sessions"]) == (
            headless_sessions,
            interactive_sessions,
        )
        assert evidence["sessions"] == headless_sessions + interactive_sessions
        assert round(headless_sessions / evidence["sessions"], 4) == evidence["headless_session_share"]
        share = split["headless"]["tokens"] / (split["headless"]["tokens"] + split["interactive"]["tokens"])
        assert round(share, 4) == evidence["headless_token_share"]


def test_the_pages_say_how_much_of_a_flagged_developer_s_work_was_headless(pages: dict[str, str]) -> None:
    line = (
        "201 sessions: 31 interactive (2.65 h active, 37% of session tokens), "
        "170 headless (3.97 h active, 63% of session tokens)"
    )
    assert line in html.unescape(pages["html"])
    assert line in pages["markdown"]


def test_scores_read_as_a_person_reads_them_while_json_keeps_full_precision(pages: dict[str, str]) -> None:
    page = html.unescape(pages["html"])
    assert "outcome score 8.95" in page and "outcome score 8.9546" not in page  # maya.schmidt
    assert not re.search(r"outcome score -?\d+\.\d{3}", page)
    scores = {d["developer"]: d["outcomes"]["score"] for d in json.loads(pages["audit"])["developers"]}
    assert scores["maya.schmidt"] == 8.9546 and scores["gabriel.costa"] == 43.5531
    board = run_cli("audit", *ARGS, "--format", "table").stdout  # 200 columns (conftest)
    gabriel = next(row for row in board.splitlines() if "gabriel.costa" in row)
    assert gabriel.split("│")[8].strip() == "43.6"
    assert not re.search(r"\d\.\d{3}", "".join(row for row in board.splitlines() if "│" in row))
    explained = run_cli("explain", "dev.singh", *ARGS, "-f", "text").stdout
    assert "post_mean=2,652,134" in explained and "headless_session_share=0.85," in explained
    assert not re.search(r"evidence: .*\d\.\d{3}", explained)


def test_more_than_eight_teams_become_the_seven_largest_and_others() -> None:
    series = {f"team{n:02d}": [["2026-09-07", n], ["2026-09-08", 2 * n]] for n in range(1, 25)}
    shown = top_with_others(series)
    assert [name for name, _ in shown] == [*(f"team{n:02d}" for n in range(24, 17, -1)), "others (17 teams)"]
    assert shown[-1][1] == [sum(range(1, 18)), 2 * sum(range(1, 18))]
    assert sum(sum(values) for _, values in shown) == sum(3 * n for n in range(1, 25))
    assert [name for name, _ in top_with_others(dict(list(series.items())[:8]))] == [
        f"team{n:02d}" for n in range(8, 0, -1)
    ]


def test_markdown_keeps_the_page_order_and_links_every_chart_it_writes(pages: dict[str, str]) -> None:
    markdown = pages["markdown"]
    headings = ["## Summary", "## Needs a conversation", "## Raw token leaderboard", "## Teams", "## Data quality"]
    positions = [markdown.index(heading) for heading in headings]
    assert positions == sorted(positions)
    for name in pages["charts"].split(","):
        assert f"(report_charts/{name})" in markdown


def test_both_pages_say_which_checks_could_not_run_and_why(pages: dict[str, str], report_json: dict[str, Any]) -> None:
    needing: dict[tuple[str, str], int] = {}
    for person in report_json["developers"]:
        for skipped in person["not_evaluated"]:
            needing[skipped["id"], skipped["needs"]] = needing.get((skipped["id"], skipped["needs"]), 0) + 1
    assert needing
    quality = {
        "html": pages["html"].split("<h2>Data quality</h2>")[1],
        "markdown": pages["markdown"].split("## Data quality")[1],
    }
    for (check, needs), count in needing.items():
        line = f"not evaluated: {check} for {count} developer{'s' if count != 1 else ''} (needs {needs})"
        assert line in quality["markdown"]
        assert html.escape(line) in quality["html"]


def test_a_weekly_page_runs_the_detectors_on_the_lookback_window(tmp_path: Path) -> None:
    def week(*policy: str) -> dict[str, Any]:
        result = run_cli("report", *ARGS[:1], *policy, "--format", "json", "--period", "2026-W39")
        assert result.exit_code == 0, result.stderr
        return {d["developer"]: d for d in json.loads(result.stdout)["developers"]}

    looked_back = week(*ARGS[1:])["maya.schmidt"]  # flags.lookback_days defaults to 42
    assert looked_back["risk"]["level"] == "medium"
    assert "no_rest_rhythm" in [f["id"] for f in looked_back["flags"] if f["severity"] != "low"]
    short = tmp_path / "week.yaml"
    short.write_text(SAMPLE.joinpath("policy.yaml").read_text() + "\nflags:\n  lookback_days: 7\n")
    alone = week("--policy", str(short))["maya.schmidt"]  # a week alone: too short for the rest detector
    assert "no_rest_rhythm" in [item["id"] for item in alone["not_evaluated"]]
    assert alone["risk"]["level"] == "none"


def test_a_flag_that_could_not_be_evaluated_again_is_not_cleared() -> None:
    from tokenaudit.page_data import _trend

    def document(developers: list[dict[str, Any]]) -> dict[str, Any]:
        summary = {"tokens": {"total": 100}}
        return {"developers": developers, "summary": summary, "period": {"since": "2026-09-21"}}

    def person(name: str, level: str, flags: list[str], skipped: list[str]) -> dict[str, Any]:
        return {
            "developer": name,
            "risk": {"level": level},
            "rank": {"tokens": 1},
            "flags": [{"id": flag, "severity": "high"} for flag in flags],
            "not_evaluated": [{"id": flag, "needs": "more days"} for flag in skipped],
        }

    before = document([person("a", "high", ["no_rest_rhythm"], []), person("b", "high", ["repetition"], [])])
    now = document([person("a", "none", [], ["no_rest_rhythm"]), person("b", "none", [], [])])
    trend = _trend(now, before)
    assert (trend["cleared_flags"], trend["not_reevaluated_flags"]) == (["b"], ["a"])
