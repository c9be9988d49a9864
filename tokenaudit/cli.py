"""The command-line interface: parse arguments, call the library, render, map errors to exit codes."""

from __future__ import annotations

import datetime as dt
import os
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import polars as pl
import typer

from tokenaudit import __version__
from tokenaudit.audit import AuditResult, run_audit
from tokenaudit.console import stderr_console, wants_color
from tokenaudit.errors import ExitCode, StrictRejectError, TokenauditError, UnmatchedIdentityError, UsageError
from tokenaudit.evaluate import (
    LEVELS,
    evaluate,
    evaluate_ranking,
    evaluation_data,
    evaluation_text,
    ranking_data,
    ranking_text,
    read_audit,
    read_labels,
    read_ranks,
)
from tokenaudit.explain import explain
from tokenaudit.identity import read_identity_csv, with_identities
from tokenaudit.ingest import LoadedEvents, Period, load_events, narrow
from tokenaudit.metrics import GROUP_KEYS, totals
from tokenaudit.outcomes.read import FORMATS as OUTCOME_FORMATS
from tokenaudit.outcomes.read import read_outcomes
from tokenaudit.output import emit, write_file
from tokenaudit.periods import parse_period, previous_period
from tokenaudit.policy import Policy, load_policy
from tokenaudit.pricing import price_for
from tokenaudit.privacy import Scrubber, build_scrubber, pseudonym, pseudonym_key, withhold
from tokenaudit.readers import READERS
from tokenaudit.readers.sources import EMPTY_FILE
from tokenaudit.render import Format, render
from tokenaudit.render.csv_format import render_table as render_csv
from tokenaudit.render.explain import explain_data, explain_text
from tokenaudit.render.json_format import render as render_json
from tokenaudit.report import (
    Document,
    TableView,
    audit_document,
    outcome_notes,
    period_headline,
    prices_document,
    quality_notes,
    rank_document,
    teams_document,
    totals_document,
)
from tokenaudit.report_page import report_data
from tokenaudit.shards import parse_memory_limit
from tokenaudit.simulate import SimulationConfig, simulate, write_simulation

app = typer.Typer(
    help="Audit what AI-assistant token spend bought: totals, Goodhart-risk flags, outcome-adjusted ranks.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)
policy_app = typer.Typer(help="Validate and inspect policy files.", no_args_is_help=True)
app.add_typer(policy_app, name="policy")

Inputs = Annotated[list[str], typer.Argument(help="Files, folders or globs to read; '-' reads standard input.")]
PolicyOption = Annotated[Path | None, typer.Option("--policy", "-p", help="Policy YAML file.", show_default=False)]
FormatOption = Annotated[
    Format | None,
    typer.Option("--format", "-f", help="Output format [default: table on a terminal, else json].", show_default=False),
]
OutputOption = Annotated[
    Path | None,
    typer.Option(
        "--output",
        "-o",
        help="Write here instead of stdout (a file atomically, keeping its mode; a device or pipe in place).",
        show_default=False,
    ),
]
SinceOption = Annotated[
    dt.datetime | None,
    typer.Option(formats=["%Y-%m-%d"], help="First day to include (inclusive).", show_default=False),
]
UntilOption = Annotated[
    dt.datetime | None,
    typer.Option(formats=["%Y-%m-%d"], help="Last day to include (inclusive).", show_default=False),
]
TzOption = Annotated[
    str | None,
    typer.Option(
        "--tz",
        help="Time zone for days and zone-less timestamps [default: policy timezone].",
        show_default=False,
    ),
]
InputFormatOption = Annotated[
    str | None,
    typer.Option("--input-format", help="Skip auto-detection and read every input as this format.", show_default=False),
]
DeveloperOption = Annotated[
    str | None,
    typer.Option("--developer", help="Owner of inputs that carry no identity.", show_default=False),
]
RejectsOption = Annotated[
    Path | None,
    typer.Option("--rejects", help="Write every rejected row (file, line, reason) to this CSV.", show_default=False),
]
StrictOption = Annotated[
    bool,
    typer.Option(
        "--strict", help="Fail (exit 4) if any row is rejected or any non-empty file in an input folder is skipped."
    ),
]
IdentitiesOption = Annotated[
    Path | None,
    typer.Option(
        "--identities", help="alias,developer,team CSV merged into the policy's identity map.", show_default=False
    ),
]
StrictIdentitiesOption = Annotated[
    bool,
    typer.Option("--strict-identities", help="Fail (exit 5) if any identity is not in the identity map."),
]
MemoryLimitOption = Annotated[
    str | None,
    typer.Option(
        "--memory-limit",
        envvar="TOKENAUDIT_MEMORY_LIMIT",
        help="Memory budget (512M, 4G); input beyond it is sharded on disk. [default: a quarter of RAM]",
        show_default=False,
    ),
]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="Print no diagnostics, only errors.")]
PseudonymizeOption = Annotated[
    bool,
    typer.Option(
        "--pseudonymize",
        help="Replace every identity with a stable keyed pseudonym (HMAC-SHA256, key in TOKENAUDIT_PSEUDONYM_KEY).",
    ),
]
OutcomesOption = Annotated[
    list[str] | None,
    typer.Option(
        "--outcomes",
        help="Outcome export (gh pr list JSON, GitHub REST pulls, Jira CSV, generic CSV/JSONL); repeatable.",
        show_default=False,
    ),
]


class FailOn(StrEnum):
    """``--fail-on`` levels, lowest first."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class TextFormat(StrEnum):
    """``--format`` for commands whose output is a text page or JSON (explain, evaluate)."""

    TEXT = "text"
    JSON = "json"


def _version(value: bool) -> None:
    if value:
        typer.echo(f"tokenaudit {__version__}")
        raise typer.Exit


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """tokenaudit: totals, flags and outcome-adjusted rankings from the logs your AI tools export."""


@dataclass
class _ErrorLine:
    """How ``_user_errors`` shows a message. Under ``--pseudonymize``/``--teams-only`` (``private_inputs`` set) the
    line withholds the inputs, every other path and every quoted value, since it may name a person's folder or
    repeat a value from a person's row; once the output's scrubber exists it replaces names too."""

    private_inputs: list[str] | None = None
    scrubber: Scrubber | None = None

    def shown(self, message: str) -> str:
        if self.scrubber is not None:
            message = self.scrubber.text(message)
        return withhold(message, self.private_inputs) if self.private_inputs is not None else message


@contextmanager
def _user_errors(private_inputs: list[str] | None = None) -> Iterator[_ErrorLine]:
    """Turn library errors into one line on stderr and the documented exit code."""
    line = _ErrorLine(private_inputs)
    try:
        yield line
    except TokenauditError as exc:
        stderr_console().print(f"tokenaudit: error: {line.shown(exc.message)}", markup=False)
        raise typer.Exit(int(exc.exit_code)) from None
    except typer.Exit:
        raise
    except BrokenPipeError:
        # The reader of our output closed it early (`| head`): stop without a message, as SIGPIPE would. Point
        # stdout at /dev/null so the interpreter's final flush does not complain again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise typer.Exit(int(ExitCode.BROKEN_PIPE)) from None
    except RecursionError:
        # Only JSON parsing recurses: a document nested deeper than Python's parser goes (about 1,000 levels).
        message = "tokenaudit: error: an input holds JSON nested too deeply to read (more than about 1,000 levels)"
        stderr_console().print(message, markup=False)
        raise typer.Exit(int(ExitCode.UNREADABLE_INPUT)) from None
    except KeyboardInterrupt:
        stderr_console().print("tokenaudit: interrupted", markup=False)
        raise typer.Exit(130) from None
    except Exception as exc:
        if os.environ.get("TOKENAUDIT_DEBUG"):
            raise
        shown = line.shown(str(exc))
        message = f"tokenaudit: internal error: {type(exc).__name__}: {shown} (set TOKENAUDIT_DEBUG=1 for details)"
        stderr_console().print(message, markup=False)
        raise typer.Exit(int(ExitCode.INTERNAL)) from None


def _private(inputs: list[str], outcomes: list[str] | None, private: bool) -> list[str] | None:
    """The paths an error line must withhold under ``--pseudonymize``/``--teams-only``; None otherwise."""
    return [*inputs, *(outcomes or [])] if private else None


def _format(chosen: Format | None, output: Path | None) -> Format:
    if chosen is not None:
        return chosen
    env = os.environ.get("TOKENAUDIT_FORMAT")
    if env:
        try:
            return Format(env)
        except ValueError:
            msg = f"TOKENAUDIT_FORMAT: unknown format {env!r}; expected one of: {', '.join(f.value for f in Format)}"
            raise UsageError(msg) from None
    return Format.TABLE if output is None and sys.stdout.isatty() else Format.JSON


def _zone_name(tz: str | None) -> str | None:
    """``--tz`` checked: an IANA zone name (exit 2 otherwise), or None when not given."""
    if tz:
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            msg = f"--tz: expected an IANA time zone such as 'Europe/Berlin', got {tz!r}"
            raise UsageError(msg) from None
    return tz


def _load(
    inputs: list[str],
    policy_path: Path | None,
    since: dt.datetime | None,
    until: dt.datetime | None,
    tz: str | None,
    input_format: str | None,
    developer: str | None,
    identities: Path | None = None,
    memory_limit: str | None = None,
) -> tuple[Policy, LoadedEvents]:
    policy = load_policy(policy_path)
    if identities is not None:
        policy = with_identities(policy, read_identity_csv(identities))
    timezone = _zone_name(tz) or policy.timezone
    if since and until and since > until:
        msg = f"--since {since.date()} is after --until {until.date()}"
        raise UsageError(msg)
    period = Period(since=since.date() if since else None, until=until.date() if until else None, timezone=timezone)
    budget = parse_memory_limit(memory_limit) if memory_limit else None
    return policy, load_events(
        inputs, policy, period, input_format=input_format, developer=developer, memory_limit=budget
    )


def _check_identities(loaded: LoadedEvents, strict: bool, result: AuditResult | None = None) -> None:
    """``--strict-identities``: every identity in the usage and outcome data must be in the identity map."""
    unmatched = loaded.quality.unmatched_identities
    if result is not None and result.outcomes is not None:
        unmatched = sorted(set(unmatched) | set(result.outcomes.unmatched))
    if strict and unmatched:
        shown = ", ".join(unmatched[:5]) + (f" and {len(unmatched) - 5} more" if len(unmatched) > 5 else "")
        msg = f"{len(unmatched)} identities are not in the identity map (--strict-identities): {shown}"
        raise UnmatchedIdentityError(msg)


def _finish(
    loaded: LoadedEvents,
    document: Document,
    output_format: Format,
    output: Path | None,
    rejects: Path | None,
    strict: bool,
    quiet: bool,
    result: AuditResult | None = None,
    scrubber: Scrubber | None = None,
) -> None:
    """Write rejects (usage and outcome rows), then the result, then diagnostics; enforce --strict."""
    rejected = loaded.rejects
    if result is not None and result.outcomes is not None:
        rejected = pl.concat([rejected, result.outcomes.read.rejects])
    if rejects is not None and scrubber is not None:
        msg = "--rejects writes raw input rows, names included; it cannot be combined with --pseudonymize"
        raise UsageError(msg)
    if rejects is not None:
        rows = [list(row) for row in rejected.iter_rows()]
        write_file(rejects, render_csv(TableView("rejects", list(rejected.columns), rows)))
    count = rejected.height
    scrub = scrubber.text if scrubber is not None else (lambda value: value)
    first_reject = ""
    if count:
        first = rejected.row(0, named=True)
        # Under a scrubber the reason loses its quoted value: it is copied from a person's row.
        reason = first["reason"] if scrubber is None else withhold(first["reason"])
        first_reject = scrub(f"{first['source_file']}:{first['source_line']}: {reason}")
    if strict and count:
        raise StrictRejectError(f"{count} rows rejected (--strict); first: {first_reject}")
    lost = [(name, why) for name, why in loaded.quality.skipped_files if why != EMPTY_FILE]
    if strict and lost:
        first_lost = scrub(f"{lost[0][0]}: {lost[0][1]}")
        raise StrictRejectError(f"{len(lost)} files in the input folders skipped (--strict); first: {first_lost}")
    color = output is None and wants_color(sys.stdout)
    diagnostics = quality_notes(loaded.quality) + (outcome_notes(result) if result else [])
    headline = document.table.headline if output_format is not Format.TABLE else None  # the table shows it
    if output_format is Format.TABLE:  # data on stdout, diagnostics on stderr: the table keeps its content notes
        kept = [note for note in document.table.notes if note not in diagnostics]
        document = replace(document, table=replace(document.table, notes=kept))
    if scrubber is not None:
        document = Document(
            data=scrubber.scrub(document.data),
            table=scrubber.scrub_table(document.table),
            records=scrubber.scrub(document.records),
        )
    emit(render(document, output_format, color=color), output)
    if not quiet:
        console = stderr_console()
        for note in ([f"warning: {headline}"] if headline else []) + diagnostics:
            console.print(f"tokenaudit: {scrub(note)}", markup=False)
        if count and rejects is None:
            console.print(f"tokenaudit: first rejected row: {first_reject}", markup=False)
        if output is not None:
            console.print(f"tokenaudit: wrote {output}", markup=False)


@app.command("totals")
def totals_command(
    inputs: Inputs,
    by: Annotated[
        list[str] | None,
        typer.Option(
            "--by", "-b", help=f"Group by one or more of: {', '.join(GROUP_KEYS)} (repeat or comma-separate)."
        ),
    ] = None,
    policy: PolicyOption = None,
    output_format: FormatOption = None,
    output: OutputOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    tz: TzOption = None,
    input_format: InputFormatOption = None,
    developer: DeveloperOption = None,
    rejects: RejectsOption = None,
    strict: StrictOption = False,
    quiet: QuietOption = False,
    identities: IdentitiesOption = None,
    memory_limit: MemoryLimitOption = None,
    strict_identities: StrictIdentitiesOption = False,
    pseudonymize: PseudonymizeOption = False,
) -> None:
    """Token totals and request counts, grouped by developer (default), team, tool, model, day or week."""
    with _user_errors(_private(inputs, None, pseudonymize)) as errors:
        keys = [key.strip() for item in (by or ["developer"]) for key in item.split(",") if key.strip()]
        chosen = _format(output_format, output)
        settings, loaded = _load(inputs, policy, since, until, tz, input_format, developer, identities, memory_limit)
        scrubber = _scrubber(pseudonym_key() if pseudonymize else None, False, settings, loaded, inputs)
        errors.scrubber = scrubber
        _check_identities(loaded, strict_identities)
        frame = totals(loaded.events, keys, loaded.period.timezone)
        document = totals_document(frame, keys, loaded)
        _finish(loaded, document, chosen, output, rejects, strict, quiet, scrubber=scrubber)


@app.command("audit")
def audit_command(
    inputs: Inputs,
    policy: PolicyOption = None,
    output_format: FormatOption = None,
    output: OutputOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    tz: TzOption = None,
    input_format: InputFormatOption = None,
    developer: DeveloperOption = None,
    rejects: RejectsOption = None,
    strict: StrictOption = False,
    quiet: QuietOption = False,
    fail_on: Annotated[
        FailOn | None,
        typer.Option("--fail-on", help="Exit 1 if any developer's risk is at or above this level.", show_default=False),
    ] = None,
    identities: IdentitiesOption = None,
    memory_limit: MemoryLimitOption = None,
    strict_identities: StrictIdentitiesOption = False,
    outcomes: OutcomesOption = None,
    pseudonymize: PseudonymizeOption = False,
    teams_only: Annotated[
        bool,
        typer.Option("--teams-only", help="Team rollups only; teams under the policy's min_group_size are hidden."),
    ] = False,
) -> None:
    """The full audit: usage, raw vs outcome-adjusted ranks, Goodhart-risk flags (JSON is the stable interface)."""
    with _user_errors(_private(inputs, outcomes, pseudonymize or teams_only)) as errors:
        chosen = _format(output_format, output)
        settings, loaded = _load(inputs, policy, since, until, tz, input_format, developer, identities, memory_limit)
        result, scrubber = _audit(settings, loaded, inputs, outcomes, pseudonymize, teams_only)
        errors.scrubber = scrubber
        _check_identities(loaded, strict_identities, result)
        document = teams_document(result, settings.min_group_size) if teams_only else audit_document(result)
        _finish(loaded, document, chosen, output, rejects, strict, quiet, result, scrubber)
        _enforce_fail_on(result, fail_on, quiet)


def _enforce_fail_on(result: AuditResult, fail_on: FailOn | None, quiet: bool) -> None:
    """``--fail-on LEVEL``: exit 7 when the period has no usage or usage on fewer than half its days (a broken
    export must not pass as a quiet week), else 1 when any developer's risk is at or above it (after the output is
    written)."""
    if fail_on is None:
        return
    if period_headline(result.loaded, result.summary["active_days"][0] or 0):
        if not quiet:
            stderr_console().print("tokenaudit: the period's usage is missing or partial (--fail-on)", markup=False)
        raise typer.Exit(int(ExitCode.EMPTY_PERIOD_FAIL_ON))
    at_or_above = [level.value for level in FailOn][list(FailOn).index(fail_on) :]
    hits = result.developers.filter(pl.col("risk_level").is_in(at_or_above)).height
    if hits:
        if not quiet:
            stderr_console().print(
                f"tokenaudit: {hits} developer(s) at risk {fail_on.value} or above (--fail-on)", markup=False
            )
        raise typer.Exit(int(ExitCode.FLAGS_AT_OR_ABOVE_FAIL_ON))


def _input_paths(given: list[str], loaded: LoadedEvents, result: AuditResult | None) -> list[str]:
    """Every input path a diagnostic or output may spell: the files read first (so they are source-1, -2, …), then
    skipped files, files that only had rejects, outcome files and the paths as given."""
    quality = loaded.quality
    frames = [loaded.rejects]
    if result is not None and result.outcomes is not None:
        frames += [result.outcomes.read.outcomes, result.outcomes.read.rejects]
    return [
        *(source.file for source in quality.sources),
        *(name for name, _ in quality.skipped_files),
        *quality.encoding_repaired,
        *(name for frame in frames for name in frame["source_file"].unique(maintain_order=True).to_list()),
        *given,
    ]


def _scrubber(
    key: bytes | None,
    teams_only: bool,
    settings: Policy,
    loaded: LoadedEvents,
    given: list[str],
    result: AuditResult | None = None,
) -> Scrubber | None:
    """The one place identities and input paths are replaced: keyed pseudonyms (``--pseudonymize``: ``key``) or,
    for ``--teams-only``, one constant label so that no diagnostic can name or tell apart a person; input paths
    (``given`` and every file read) become numbered ids. None when names may be shown."""
    if key is None and not teams_only:
        return None
    others = list(loaded.quality.unmatched_identities)
    if result is not None and result.outcomes is not None:
        others += result.outcomes.unmatched + result.outcomes.read.outcomes["developer"].unique().to_list()
    developers = loaded.events["developer"].unique().to_list()
    paths = _input_paths(given, loaded, result)
    if key is None:
        return build_scrubber(settings, developers, others, lambda _: "(a developer)", paths)
    return build_scrubber(settings, developers, others, lambda name: pseudonym(name, key), paths)


def _audit(
    settings: Policy,
    loaded: LoadedEvents,
    inputs: list[str],
    outcomes: list[str] | None,
    pseudonymize: bool = False,
    teams_only: bool = False,
) -> tuple[AuditResult, Scrubber | None]:
    """Run the audit (outcome files read in the period's time zone) and build the output's scrubber.

    The pseudonym key is checked before the audit, so a missing key fails at once, not after the work.
    """
    key = pseudonym_key() if pseudonymize else None
    read = read_outcomes(outcomes, settings.outcomes, loaded.period.timezone) if outcomes else None
    result = run_audit(loaded, settings, read)
    return result, _scrubber(key, teams_only, settings, loaded, [*inputs, *(outcomes or [])], result)


@app.command("rank")
def rank_command(
    inputs: Inputs,
    outcomes: Annotated[
        list[str],
        typer.Option(
            "--outcomes",
            help="Outcome export (gh pr list JSON, GitHub REST pulls, Jira CSV, generic CSV/JSONL); repeatable.",
        ),
    ],
    policy: PolicyOption = None,
    output_format: FormatOption = None,
    output: OutputOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    tz: TzOption = None,
    input_format: InputFormatOption = None,
    developer: DeveloperOption = None,
    rejects: RejectsOption = None,
    strict: StrictOption = False,
    quiet: QuietOption = False,
    identities: IdentitiesOption = None,
    memory_limit: MemoryLimitOption = None,
    strict_identities: StrictIdentitiesOption = False,
    pseudonymize: PseudonymizeOption = False,
) -> None:
    """The raw token leaderboard and the outcome-adjusted ranking, side by side."""
    with _user_errors(_private(inputs, outcomes, pseudonymize)) as errors:
        chosen = _format(output_format, output)
        settings, loaded = _load(inputs, policy, since, until, tz, input_format, developer, identities, memory_limit)
        result, scrubber = _audit(settings, loaded, inputs, outcomes, pseudonymize)
        errors.scrubber = scrubber
        _check_identities(loaded, strict_identities, result)
        _finish(loaded, rank_document(result), chosen, output, rejects, strict, quiet, result, scrubber)


class PageFormat(StrEnum):
    """``report --format``."""

    HTML = "html"
    MARKDOWN = "markdown"
    JSON = "json"


def _generated_at() -> str:
    """The run time for the report header; ``SOURCE_DATE_EPOCH`` pins it (reproducible builds, tests)."""
    pinned = os.environ.get("SOURCE_DATE_EPOCH")
    moment = dt.datetime.fromtimestamp(int(pinned), dt.UTC) if pinned else dt.datetime.now(dt.UTC)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


@app.command("report")
def report_command(
    inputs: Inputs,
    policy: PolicyOption = None,
    outcomes: OutcomesOption = None,
    period: Annotated[
        str | None,
        typer.Option("--period", help="last-week, an ISO week (2026-W47) or a month (2026-11).", show_default=False),
    ] = None,
    since: SinceOption = None,
    until: UntilOption = None,
    tz: TzOption = None,
    page_format: Annotated[
        PageFormat, typer.Option("--format", "-f", help="html, markdown or json.")
    ] = PageFormat.HTML,
    output: OutputOption = None,
    compare_previous: Annotated[
        bool | None,
        typer.Option(
            "--compare-previous/--no-compare-previous",
            help="Show the change against the previous period of equal length [default: on with --period].",
            show_default=False,
        ),
    ] = None,
    fail_on: Annotated[
        FailOn | None,
        typer.Option("--fail-on", help="Exit 1 if any developer's risk is at or above this level.", show_default=False),
    ] = None,
    input_format: InputFormatOption = None,
    developer: DeveloperOption = None,
    identities: IdentitiesOption = None,
    memory_limit: MemoryLimitOption = None,
    pseudonymize: PseudonymizeOption = False,
    quiet: QuietOption = False,
) -> None:
    """The weekly/monthly report for leads: HTML (self-contained, with charts), Markdown or JSON."""
    with _user_errors(_private(inputs, outcomes, pseudonymize)) as errors:
        if page_format is PageFormat.HTML and output is None and sys.stdout.isatty():
            msg = "report: an HTML page is not for a terminal; give --output report.html (or --format markdown|json)"
            raise UsageError(msg)
        if period is not None:
            if since or until:
                raise UsageError("--period cannot be combined with --since/--until")
            zone = ZoneInfo(_zone_name(tz) or load_policy(policy).timezone)
            first, last = parse_period(period, dt.datetime.now(zone).date())
            since, until = dt.datetime.combine(first, dt.time()), dt.datetime.combine(last, dt.time())
        compare = compare_previous if compare_previous is not None else period is not None
        if compare and (since is None or until is None):
            raise UsageError("--compare-previous needs a period: --period, or both --since and --until")
        # With a comparison, both periods are read in one pass and split in memory.
        before = previous_period(since.date(), until.date()) if compare and since and until else None
        start = dt.datetime.combine(before[0], dt.time()) if before else since
        settings, loaded = _load(inputs, policy, start, until, tz, input_format, developer, identities, memory_limit)
        previous = None
        if before:
            earlier = narrow(loaded, replace(loaded.period, since=before[0], until=before[1]), settings)
            loaded = narrow(loaded, replace(loaded.period, since=since.date() if since else None), settings)
        result, scrubber = _audit(settings, loaded, inputs, outcomes, pseudonymize)
        errors.scrubber = scrubber
        if before:
            previous, _ = _audit(settings, earlier, inputs, outcomes)
        data = report_data(result, previous)
        data["report"]["generated_at"] = _generated_at()
        if scrubber is not None:
            data = scrubber.scrub(data)
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
                chart_dir = output.with_name(output.stem + "_charts") if output is not None else None
                text, files = render_markdown(data, chart_dir)
        if chart_dir is not None:
            _write_charts(chart_dir, {name: scrubber.text(svg) if scrubber else svg for name, svg in files.items()})
        emit(text, output)
        for warning in [] if quiet else data.get("warnings", []):
            stderr_console().print(f"tokenaudit: warning: {warning}", markup=False)
        if not quiet and output is not None:
            stderr_console().print(f"tokenaudit: wrote {output}", markup=False)
        _enforce_fail_on(result, fail_on, quiet)


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


@app.command("explain")
def explain_command(
    developer: Annotated[
        str,
        typer.Argument(
            help="The developer to explain: canonical id, any alias the identity map knows, or as in the data."
        ),
    ],
    inputs: Inputs,
    policy: PolicyOption = None,
    output_format: Annotated[
        TextFormat | None,
        typer.Option(
            "--format", "-f", help="text or json [default: text on a terminal, else json].", show_default=False
        ),
    ] = None,
    output: OutputOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    tz: TzOption = None,
    input_format: InputFormatOption = None,
    memory_limit: MemoryLimitOption = None,
    outcomes: OutcomesOption = None,
    identities: IdentitiesOption = None,
    pseudonymize: PseudonymizeOption = False,
) -> None:
    """One developer's evidence: daily sparkline, hour-of-week heatmap, gap histogram, flags vs peers."""
    with _user_errors(_private(inputs, outcomes, pseudonymize)) as errors:
        settings, loaded = _load(inputs, policy, since, until, tz, input_format, None, identities, memory_limit)
        result, scrubber = _audit(settings, loaded, inputs, outcomes, pseudonymize)
        errors.scrubber = scrubber
        explanation = explain(result, _canonical(settings, developer))
        text_output = output_format is TextFormat.TEXT or (
            output_format is None and output is None and sys.stdout.isatty()
        )
        page = explain_text(explanation) if text_output else render_json(explain_data(explanation))
        emit(scrubber.text(page) if scrubber is not None else page, output)


def _canonical(settings: Policy, name: str) -> str:
    """The canonical id of ``name`` when the identity map knows it as an id or alias (any case), else ``name``."""
    wanted = name.strip().lower()
    for developer, identity in settings.identities.items():
        if wanted in (alias.strip().lower() for alias in (developer, *identity.aliases)):
            return developer
    return name


@app.command("evaluate")
def evaluate_command(
    labels: Annotated[Path, typer.Argument(help="Ground-truth labels CSV (simulate writes labels.csv).")],
    audit_json: Annotated[Path, typer.Argument(help="An 'audit --format json' output.")],
    at: Annotated[str, typer.Option("--at", help="Risk level that counts as flagged: low, medium or high.")] = "medium",
    output_format: Annotated[
        TextFormat | None, typer.Option("--format", "-f", help="text or json.", show_default=False)
    ] = None,
    output: OutputOption = None,
) -> None:
    """Precision, recall and false-positive rates of an audit's flags against planted labels."""
    with _user_errors():
        if at not in LEVELS:
            raise UsageError(f"--at: expected one of {', '.join(LEVELS)}, got {at!r}")
        truth = read_labels(labels)
        result = evaluate(truth, read_audit(audit_json), at)
        ranks = read_ranks(audit_json)
        ranking = evaluate_ranking(truth, ranks) if ranks["rank_adjusted"].is_not_null().any() else None
        if output_format is not TextFormat.JSON:
            emit(evaluation_text(result) + (ranking_text(ranking) if ranking else ""), output)
        else:
            data = evaluation_data(result) | ({"ranking": ranking_data(ranking)} if ranking else {})
            emit(render_json(data), output)


@app.command("simulate")
def simulate_command(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the organisation into.")],
    developers: Annotated[int, typer.Option(min=5, help="Number of developers.")] = 200,
    days: Annotated[int, typer.Option(min=7, help="Length of the period in days.")] = 56,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed writes byte-identical files.")] = 0,
    quiet: QuietOption = False,
) -> None:
    """Write a synthetic organisation with planted tokenmaxxers and ground-truth labels."""
    with _user_errors():
        try:
            config = SimulationConfig(developers=developers, days=days, seed=seed)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        written = write_simulation(simulate(config), out)
        if not quiet:
            for path in written:
                stderr_console().print(f"tokenaudit: wrote {path}", markup=False)


@policy_app.command("check")
def policy_check(file: Annotated[Path, typer.Argument(help="Policy YAML file to validate.")]) -> None:
    """Validate a policy file; print one line naming the file, line and key of the first problem."""
    with _user_errors():
        load_policy(file)
        typer.echo(f"{file}: ok")


@app.command("prices")
def prices_command(
    models: Annotated[list[str], typer.Argument(help="Model ids as the logs name them.")],
    policy: PolicyOption = None,
    output_format: FormatOption = None,
    output: OutputOption = None,
) -> None:
    """Show the price each MODEL gets, and where it comes from (the policy or the price data)."""
    with _user_errors():
        chosen = _format(output_format, output)
        overrides = load_policy(policy).pricing.models
        document = prices_document(models, [price_for(model, overrides) for model in models])
        emit(render(document, chosen, color=output is None and wants_color(sys.stdout)), output)


@app.command("formats")
def formats_command() -> None:
    """List the supported input formats and the command or API call that produces each."""
    for reader in READERS:
        typer.echo(f"{reader.name}\n  {reader.title}\n  produced by: {reader.exported_by}\n  limits: {reader.limits}\n")
    typer.echo("Outcome formats (--outcomes):\n")
    for name, title, exported_by in OUTCOME_FORMATS:
        typer.echo(f"{name}\n  {title}\n  produced by: {exported_by}\n")


def main() -> None:
    """Console-script entry point."""
    app()
