"""``report``: the weekly/monthly page for leads (HTML with charts, Markdown or JSON)."""

from __future__ import annotations

import datetime as dt
import warnings
from dataclasses import replace
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from tokenaudit import app as library
from tokenaudit.cli.boundary import private_paths, user_errors
from tokenaudit.cli.main import app
from tokenaudit.cli.options import FailOnOption, InputOptions, OutcomesOption, OutputOptions, bundled
from tokenaudit.cli.output import Run, deliver, on_terminal, settle
from tokenaudit.cli.usage import audited, enforce_fail_on, read_usage
from tokenaudit.errors import UsageError
from tokenaudit.ingest import narrow, with_lookback
from tokenaudit.output import write_file
from tokenaudit.render.json_format import render as render_json
from tokenaudit.shards import Reduction


class PageFormat(StrEnum):
    """``report --format``."""

    HTML = "html"
    MARKDOWN = "markdown"
    JSON = "json"


@app.command("report")
@bundled
def report_command(
    inputs: InputOptions,
    outcomes: OutcomesOption = None,
    period: Annotated[
        str | None,
        typer.Option("--period", help="last-week, an ISO week (2026-W47) or a month (2026-11).", show_default=False),
    ] = None,
    page_format: Annotated[
        PageFormat, typer.Option("--format", "-f", help="html, markdown or json.")
    ] = PageFormat.HTML,
    compare_previous: Annotated[
        bool | None,
        typer.Option(
            "--compare-previous/--no-compare-previous",
            help="Show the change against the previous period of equal length [default: on with --period].",
            show_default=False,
        ),
    ] = None,
    fail_on: FailOnOption = None,
    output: OutputOptions = OutputOptions(),
) -> None:
    """The weekly/monthly report for leads: HTML (self-contained, with charts), Markdown or JSON."""
    with user_errors(private_paths(inputs.inputs, outcomes, output.pseudonymize)) as errors:
        if page_format is PageFormat.HTML and on_terminal(output.output):
            msg = "report: an HTML page is not for a terminal; give --output report.html (or --format markdown|json)"
            raise UsageError(msg)
        settings = library.load_settings(inputs.policy, inputs.identities)
        compare = compare_previous if compare_previous is not None else period is not None
        span = library.resolve_period(
            settings,
            period=period,
            since=inputs.since,
            until=inputs.until,
            timezone=inputs.tz,
            compare_previous=compare,
        )
        # The detectors read flags.lookback_days ending with each period (a week is too short for most of them).
        days = settings.flags.lookback_days
        reach = library.with_previous(span) if compare else span
        if reach.since is not None and span.since is not None:
            reach = replace(reach, since=min(reach.since, span.since - dt.timedelta(days=days)))
        audited_periods = (span, library.previous(span)) if compare else (span,)
        reduction = Reduction(features=False, periods=audited_periods, lookback_days=days)
        _, run = read_usage(inputs, reach, events=False, reduction=reduction)
        whole, earlier = run.loaded, None
        if compare:
            current, earlier = library.split_comparison(whole, span, settings)
            earlier = with_lookback(whole, earlier, days)
        else:
            current = narrow(whole, span, settings)
        run = Run(with_lookback(whole, current, days))
        run = audited(settings, run, inputs, outcomes, output, errors)
        assert run.result is not None
        settle(run, inputs)
        previous = library.audit(earlier, settings, outcomes) if earlier is not None else None
        data = library.report_data(run.result, previous)
        if run.scrubber is not None:
            data = run.scrubber.scrub(data)
        # Imported here: matplotlib takes most of a second to load, and only report pages draw charts.
        from tokenaudit.render.page import render_html, render_markdown

        chart_dir: Path | None = None
        files: dict[str, str] = {}
        with warnings.catch_warnings():  # a chart library's advice (an empty legend) is not the user's business
            warnings.simplefilter("ignore")
            if page_format is PageFormat.JSON:
                text = render_json(data)
            elif page_format is PageFormat.HTML:
                text = render_html(data)
            else:
                chart_dir = output.output.with_name(output.output.stem + "_charts") if output.output else None
                text, files = render_markdown(data, chart_dir)
        if chart_dir is not None:
            _write_charts(chart_dir, {name: run.scrub(svg) for name, svg in files.items()})
        deliver(text, output, [f"warning: {warning}" for warning in data.get("warnings", [])])
        enforce_fail_on(run, fail_on, output.quiet)


def _write_charts(folder: Path, files: dict[str, str]) -> None:
    """This run's chart files, and only them: SVGs left by an earlier run are removed, since an old name can point
    at another person's chart."""
    if folder.is_dir():
        for stale in folder.glob("*.svg"):
            if stale.name not in files:
                stale.unlink()
    for name, svg in files.items():
        folder.mkdir(parents=True, exist_ok=True)
        write_file(folder / name, svg)
