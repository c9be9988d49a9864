"""Regenerate docs/report.png (the README's screenshot) from sample_data, in the system Chromium.

    python docs/make_screenshot.py [--html PAGE] [--out docs/report.png] [--width 1400] [--full]

Needs the test extra (Playwright for Python) and Debian's ``chromium`` at /usr/bin/chromium; Playwright never
downloads a browser here. The browser tests launch Chromium through :func:`launch` too.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Playwright

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path(os.environ.get("TOKENAUDIT_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
SAMPLE_REPORT_ARGS = (
    "sample_data/events.csv",
    "--policy",
    "sample_data/policy.yaml",
    "--outcomes",
    "sample_data/prs.json",
    "--outcomes",
    "sample_data/jira.csv",
)


def launch(playwright: Playwright) -> Browser:
    """The system Chromium, headless, with nothing that phones home."""
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=list(CHROMIUM_ARGS))


def sample_report(folder: Path) -> Path:
    """Write the sample report (the README's command) into ``folder`` and return its path."""
    page = folder / "report.html"
    subprocess.run(
        [sys.executable, "-m", "tokenaudit", "report", *SAMPLE_REPORT_ARGS, "--output", str(page), "--quiet"],
        cwd=ROOT,
        check=True,
        env={**os.environ, "SOURCE_DATE_EPOCH": "1795000000"},
    )
    return page


def screenshot(page_file: Path, out: Path, width: int, full: bool) -> None:
    """Open ``page_file`` at ``width`` CSS pixels, every request blocked, and save a PNG."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch(playwright)
        page = browser.new_page(viewport={"width": width, "height": 1100})
        page.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:") else route.abort())
        page.goto(page_file.resolve().as_uri())
        page.screenshot(path=str(out), full_page=full)
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--html", type=Path, help="An existing report page (default: the sample report).")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "report.png")
    parser.add_argument("--width", type=int, default=1400)
    parser.add_argument("--full", action="store_true", help="The whole page, not the first screen.")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        page = options.html or sample_report(Path(folder))
        screenshot(page, options.out, options.width, options.full)
    print(f"wrote {options.out}")


if __name__ == "__main__":
    main()
