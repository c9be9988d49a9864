"""Size and time of the HTML report page: audit, report data, page rendering, and the page in Chromium.

    python benchmarks/report_page.py FOLDER [FOLDER ...]

Each FOLDER holds ``events.csv``, ``policy.yaml``, ``prs.json`` and ``jira.csv`` (``sample_data/`` or a
``tokenaudit simulate`` output). Prints one line per folder: developers, page bytes (and the inline JSON and
script parts), seconds for audit, report data and HTML, and Chromium's time from navigation to the
script's first filter (the page usable), every request blocked. Python steps are CPU seconds of this
process (the machine may be shared; wall time is printed beside them).
"""

from __future__ import annotations

import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "docs"))
from make_screenshot import launch

from tokenaudit.audit import run_audit
from tokenaudit.ingest import Period, load_events
from tokenaudit.outcomes.read import read_outcomes
from tokenaudit.page_data import report_data
from tokenaudit.policy import load_policy
from tokenaudit.render.page import render_html


def measure(folder: Path) -> str:
    """One line of figures for the organisation in ``folder``."""
    wall, started = time.perf_counter(), time.process_time()
    policy = load_policy(folder / "policy.yaml")
    loaded = load_events([str(folder / "events.csv")], policy, Period(None, None, policy.timezone))
    outcomes = read_outcomes([str(folder / "prs.json"), str(folder / "jira.csv")], policy.outcomes, policy.timezone)
    result = run_audit(loaded, policy, outcomes)
    audited = time.process_time()
    data = report_data(result)
    data["report"]["generated_at"] = "benchmark"
    shaped = time.process_time()
    page = render_html(data)
    rendered = time.process_time()
    wall = time.perf_counter() - wall
    inline_json = len(re.search(r"id='drilldown-data'>(.*?)</script>", page, re.DOTALL).group(1).encode())  # type: ignore[union-attr]
    svg = sum(len(m.encode()) for m in re.findall(r"<svg.*?</svg>", page, re.DOTALL))
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as scratch, sync_playwright() as playwright:
        path = Path(scratch) / "report.html"
        path.write_text(page, encoding="utf-8")
        browser = launch(playwright)
        tab = browser.new_page(viewport={"width": 1400, "height": 1000})
        tab.route("**/*", lambda route: route.continue_() if route.request.url == path.as_uri() else route.abort())
        opened = time.perf_counter()
        tab.goto(path.as_uri(), wait_until="load")
        tab.wait_for_function("document.getElementById('shown').textContent.length > 0")
        usable = time.perf_counter() - opened
        tab.locator("details.dev").first.evaluate("d => { d.open = true; }")
        tab.locator("details.dev .drawn svg").first.wait_for()
        browser.close()
    size = len(page.encode())
    return (
        f"{folder}: {len(data['developers'])} developers, {loaded.events.height:,} events; page {size / 1e6:.2f} MB "
        f"(SVG charts {svg / 1e6:.2f} MB, drill-down JSON {inline_json / 1e6:.2f} MB); CPU: audit "
        f"{audited - started:.1f} s, report data {shaped - audited:.2f} s, HTML {rendered - shaped:.2f} s "
        f"(wall, all three: {wall:.1f} s); "
        f"Chromium load to usable {usable:.2f} s"
    )


if __name__ == "__main__":
    for argument in sys.argv[1:]:
        print(measure(Path(argument)), flush=True)
