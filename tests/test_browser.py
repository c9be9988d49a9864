"""The report page as a person sees it: the system Chromium (headless) drives the sample report and a
200-developer report with every network request blocked.

One browser for the module. Screenshots at 1400 and 390 px go to a ``test-artifacts`` folder under pytest's
temporary folder (its path is printed). CI sets ``TOKENAUDIT_REQUIRE_BROWSER=1`` so that a missing Chromium
fails there instead of skipping.
"""

from __future__ import annotations

import itertools
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import SAMPLE_ARGS, run_cli

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "docs"))
from make_screenshot import CHROMIUM, launch

_REQUIRED = os.environ.get("TOKENAUDIT_REQUIRE_BROWSER") == "1"
if not _REQUIRED:
    pytest.importorskip("playwright.sync_api", reason="browser tests need the test extra (playwright)")
    if not CHROMIUM.exists():
        pytest.skip(f"browser tests need Chromium at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)

from playwright.sync_api import Browser, Page, sync_playwright  # noqa: E402

WIDTHS = (1400, 390)


@dataclass
class Opened:
    """A report page open in the browser, with everything it tried to fetch and every console error."""

    page: Page
    requests: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("browser")
    simulated = folder / "org"
    made = run_cli("simulate", "--out", str(simulated), "--developers", "200", "--days", "14", "--quiet")
    assert made.exit_code == 0, made.stderr
    pages = {"sample": folder / "sample.html", "org200": folder / "org200.html"}
    org_args = [str(simulated / "events.csv"), "--policy", str(simulated / "policy.yaml")]
    org_args += ["--outcomes", str(simulated / "prs.json"), "--outcomes", str(simulated / "jira.csv")]
    for name, args in (("sample", list(SAMPLE_ARGS)), ("org200", org_args)):
        result = run_cli("report", *args, "--output", str(pages[name]), "--quiet")
        assert result.exit_code == 0, result.stderr
    return pages


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("test-artifacts")
    print(f"browser screenshots in {folder}")
    return folder


def _open(browser: Browser, page_file: Path, width: int = 1400) -> Opened:
    page = browser.new_page(viewport={"width": width, "height": 1000})
    opened = Opened(page)
    page.on("console", lambda message: opened.errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: opened.errors.append(str(error)))
    page.on("request", lambda request: opened.requests.append(request.url))

    def gate(route: Any) -> None:
        if route.request.url == page_file.as_uri():
            route.continue_()
        else:
            opened.blocked.append(route.request.url)
            route.abort()

    page.route("**/*", gate)
    page.goto(page_file.as_uri())
    return opened


@pytest.fixture(params=["sample", "org200"])
def opened(request: pytest.FixtureRequest, browser: Browser, reports: dict[str, Path]) -> Iterator[Opened]:
    result = _open(browser, reports[request.param])
    yield result
    result.page.close()


def test_the_page_is_complete_offline_with_no_console_errors(opened: Opened) -> None:
    page = opened.page
    assert opened.blocked == [] and len(opened.requests) == 1, "the page fetches nothing but itself"
    assert opened.errors == []
    headings = page.locator("h2").all_inner_texts()
    assert headings[:2] == ["Summary", "Needs a conversation"] and headings[-2:] == ["Every developer", "Data quality"]
    rows = page.locator("#board tbody tr").count()
    assert rows == page.locator("details.dev").count() > 0
    assert page.locator("#shown").inner_text() == f"{rows} of {rows} developers shown", "the script ran"
    assert page.locator("svg").count() >= 5
    assert page.locator("svg > title").count() == page.locator("svg").count(), "every chart has a text alternative"


def _column(page: Page, header: str) -> list[float]:
    index = page.locator("#board thead th").all_inner_texts().index(header)
    return [float(v) for v in page.locator(f"#board tbody tr td:nth-child({index + 1})").evaluate_all(
        "cells => cells.map(c => c.getAttribute('data-v'))"
    )]  # fmt: skip


def test_clicking_a_header_sorts_the_rows(opened: Opened) -> None:
    page = opened.page
    before = _column(page, "total tokens")
    header = page.locator("#board thead th", has_text="total tokens")
    header.click()
    ascending = _column(page, "total tokens")
    assert ascending == sorted(before) and ascending != before
    header.click()
    assert _column(page, "total tokens") == sorted(before, reverse=True)
    assert header.get_attribute("aria-sort") == "descending"


def test_the_team_filter_hides_the_other_teams(opened: Opened) -> None:
    page = opened.page
    teams = page.locator("#team-filter option").evaluate_all("options => options.map(o => o.value)")
    chosen = teams[1]
    page.select_option("#team-filter", chosen)
    visible = page.locator("#board tbody tr:not([hidden])")
    hidden = page.locator("#board tbody tr[hidden]")
    assert visible.count() > 0 and hidden.count() > 0
    assert set(visible.evaluate_all("rows => rows.map(r => r.dataset.team)")) == {chosen}
    assert chosen not in hidden.evaluate_all("rows => rows.map(r => r.dataset.team)")
    assert page.locator("details.dev:not([hidden])").count() == visible.count()
    page.fill("#name-filter", "zzz-nobody")
    assert page.locator("#board tbody tr:not([hidden])").count() == 0


def test_a_name_opens_that_developer_s_drill_down(opened: Opened) -> None:
    page = opened.page
    link = page.locator("#conversation a.dev-link").first
    name = link.inner_text()
    link.click()
    details = page.locator(f"details.dev[data-name='{name.lower()}']")
    details.locator(".drawn svg").first.wait_for()
    assert details.evaluate("d => d.open")
    weeks = page.evaluate("JSON.parse(document.getElementById('drilldown-data').textContent).weeks.length")
    assert details.locator("rect.bar").count() == weeks
    assert details.locator("rect.session").count() > 0
    index = details.get_attribute("data-index")
    kinds = page.evaluate(
        f"JSON.parse(document.getElementById('drilldown-data').textContent).people[{index}].sessions.map(s => s[4])"
    )
    assert details.locator("rect.session.headless").count() == kinds.count(True) > 0, "a flagged loop shows headless"
    assert details.locator("rect.session.interactive").count() == kinds.count(False)
    assert "headless (" in details.locator("figcaption", has_text="Sessions by day").inner_text()
    assert details.locator("table.weekly tbody tr").count() == weeks
    tip = details.locator("rect.bar title").first.text_content() or ""
    assert re.fullmatch(r"week of \d{4}-\d{2}-\d{2}: [\d,]+ tokens", tip)


def test_the_daily_chart_s_dates_ascend_left_to_right(opened: Opened) -> None:
    points = opened.page.locator("g[id^='day-0-']").evaluate_all(
        "groups => groups.map(g => [g.id.slice(6), g.getBoundingClientRect().x])"
    )
    assert len(points) >= 7
    days = [day for day, _ in points]
    assert days == sorted(days) and len(set(days)) == len(days)
    xs = [x for _, x in points]
    assert all(later > earlier for earlier, later in itertools.pairwise(xs))


def test_chart_labels_never_overprint(opened: Opened) -> None:
    for prefix in ("tvo", "rank"):
        boxes = opened.page.locator(f"g[id^='{prefix}-label-']").evaluate_all(
            "labels => labels.map(l => { const r = l.getBoundingClientRect(); "
            "return [r.left, r.top, r.right, r.bottom]; })"
        )
        assert boxes, f"{prefix}: the flagged and the largest users are labelled"
        for i, (left, top, right, bottom) in enumerate(boxes):
            for other in boxes[i + 1 :]:
                assert right <= other[0] or other[2] <= left or bottom <= other[1] or other[3] <= top


@pytest.mark.parametrize("width", WIDTHS)
def test_screenshots_and_no_page_wide_scrolling(
    browser: Browser, reports: dict[str, Path], artifacts: Path, width: int
) -> None:
    for name, page_file in reports.items():
        opened = _open(browser, page_file, width)
        page = opened.page
        assert page.evaluate("document.documentElement.scrollWidth") <= width, "tables scroll inside their box"
        shot = artifacts / f"{name}-{width}.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
        page.close()


def test_printing_drops_the_controls_and_drill_downs_but_keeps_the_charts(opened: Opened) -> None:
    page = opened.page
    page.emulate_media(media="print")
    shown = "selector => getComputedStyle(document.querySelector(selector)).display"
    assert page.evaluate(shown, ".controls") == page.evaluate(shown, "#developers") == "none"
    assert page.evaluate(shown, "#conversation") != "none" and page.evaluate(shown, "#teams svg") != "none"
