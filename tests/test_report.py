"""tokenaudit report: HTML and Markdown pages from the sample data, checked against the JSON output."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import SAMPLE, SAMPLE_ARGS, run_cli

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


def test_html_has_every_section_and_chart(pages: dict[str, str]) -> None:
    html = pages["html"]
    for heading in (
        "Summary",
        "Raw token leaderboard vs outcome-adjusted ranking",
        "Flagged developers",
        "Teams",
        "Data quality",
    ):
        assert f"<h2>{heading}</h2>" in html
    assert html.count("<svg") >= 4
    assert "Tokens vs outcomes" in html and "Rank shift" in html and "Daily tokens by team" in html
    assert "active minutes by hour of week" in html


def test_html_references_nothing_outside_itself(pages: dict[str, str]) -> None:
    html = pages["html"]
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "<link" not in html and "<script" not in html and "@import" not in html
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
