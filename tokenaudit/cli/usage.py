"""The commands that read usage and write a document: ``totals``, ``audit``, ``rank``, and ``explain``."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from tokenaudit import app as library
from tokenaudit.cli.boundary import ErrorLine, private_paths, user_errors
from tokenaudit.cli.main import app
from tokenaudit.cli.options import (
    FailOnOption,
    FormatOption,
    InputOptions,
    OutcomesOption,
    OutputOptions,
    RiskThreshold,
    bundled,
)
from tokenaudit.cli.output import Run, choose_format, deliver, finish_document, on_terminal, settle
from tokenaudit.console import stderr_console
from tokenaudit.documents import audit_document, rank_document, teams_document
from tokenaudit.errors import ExitCode
from tokenaudit.explain import explain
from tokenaudit.metrics import GROUP_KEYS
from tokenaudit.periods import Period
from tokenaudit.policy import Policy
from tokenaudit.privacy import pseudonym_key
from tokenaudit.render.explain import explain_data, explain_text
from tokenaudit.render.json_format import render as render_json
from tokenaudit.shards import Reduction, parse_memory_limit


def read_usage(
    inputs: InputOptions,
    period: Period | None = None,
    *,
    audits: bool = False,
    events: bool = True,
    reduction: Reduction | None = None,
) -> tuple[Policy, Run]:
    """The policy (loaded once) and the events of the period the options name (or ``period``); ``audits``: the
    whole period loaded is audited (a cluster then computes the detectors' features too); without ``events`` the
    command reads only usage totals and features (a cluster keeps the events on its workers), and what
    ``reduction`` asks for besides (a report's periods, ``explain``'s views)."""
    settings = library.load_settings(inputs.policy, inputs.identities)
    if period is None:
        period = library.resolve_period(settings, since=inputs.since, until=inputs.until, timezone=inputs.tz)
    loaded = library.load(
        inputs.inputs,
        settings,
        period,
        input_format=inputs.input_format,
        owner=inputs.identity_owner,
        memory_limit=parse_memory_limit(inputs.memory_limit) if inputs.memory_limit else None,
        engine=inputs.engine,
        scheduler=inputs.scheduler,
        detector_features=audits,
        keep_events=events,
        reduction=reduction,
    )
    return settings, Run(loaded)


def audited(
    settings: Policy,
    run: Run,
    inputs: InputOptions,
    outcomes: list[str] | None,
    output: OutputOptions,
    errors: ErrorLine,
    teams_only: bool = False,
) -> Run:
    """The audit (outcome files read in the period's time zone) with the output's scrubber, which error lines use
    from now on. The pseudonym key is checked before the audit, so a missing key fails at once, not after the work.
    """
    key = pseudonym_key() if output.pseudonymize else None
    result = library.audit(run.loaded, settings, outcomes)
    given = [*inputs.inputs, *(outcomes or [])]
    scrubber = library.output_scrubber(key, teams_only, settings, run.loaded, given, result)
    errors.scrubber = scrubber
    return Run(run.loaded, result, scrubber)


def enforce_fail_on(run: Run, fail_on: RiskThreshold | None, quiet: bool) -> None:
    """``--fail-on LEVEL``: exit 7 when the period has no usage or usage on fewer than half its days (a broken
    export must not pass as a quiet week), else 1 when any developer's risk is at or above it (after the output is
    written)."""
    if fail_on is None or run.result is None:
        return
    if library.missing_usage(run.result):
        if not quiet:
            stderr_console().print("tokenaudit: the period's usage is missing or partial (--fail-on)", markup=False)
        raise typer.Exit(int(ExitCode.EMPTY_PERIOD_FAIL_ON))
    hits = library.developers_at_or_above(run.result, fail_on.and_above())
    if hits:
        if not quiet:
            stderr_console().print(
                f"tokenaudit: {hits} developer(s) at risk {fail_on.value} or above (--fail-on)", markup=False
            )
        raise typer.Exit(int(ExitCode.FLAGS_AT_OR_ABOVE_FAIL_ON))


@app.command("totals")
@bundled
def totals_command(
    inputs: InputOptions,
    by: Annotated[
        list[str] | None,
        typer.Option(
            "--by", "-b", help=f"Group by one or more of: {', '.join(GROUP_KEYS)} (repeat or comma-separate)."
        ),
    ] = None,
    output_format: FormatOption = None,
    output: OutputOptions = OutputOptions(),
) -> None:
    """Token totals and request counts, grouped by developer (default), team, tool, model, day or week."""
    with user_errors(private_paths(inputs.inputs, None, output.pseudonymize)) as errors:
        keys = [key.strip() for item in (by or ["developer"]) for key in item.split(",") if key.strip()]
        chosen = choose_format(output_format, output.output)
        settings, run = read_usage(inputs, events=False)
        key = pseudonym_key() if output.pseudonymize else None
        run = Run(run.loaded, scrubber=library.output_scrubber(key, False, settings, run.loaded, inputs.inputs))
        errors.scrubber = run.scrubber
        finish_document(run, library.totals_by(run.loaded, keys), chosen, inputs, output)


@app.command("audit")
@bundled
def audit_command(
    inputs: InputOptions,
    outcomes: OutcomesOption = None,
    output_format: FormatOption = None,
    fail_on: FailOnOption = None,
    teams_only: Annotated[
        bool,
        typer.Option("--teams-only", help="Team rollups only; teams under the policy's min_group_size are hidden."),
    ] = False,
    output: OutputOptions = OutputOptions(),
) -> None:
    """The full audit: usage, raw vs outcome-adjusted ranks, Goodhart-risk flags (JSON is the stable interface)."""
    with user_errors(private_paths(inputs.inputs, outcomes, output.pseudonymize or teams_only)) as errors:
        chosen = choose_format(output_format, output.output)
        settings, run = read_usage(inputs, audits=True, events=False)
        run = audited(settings, run, inputs, outcomes, output, errors, teams_only)
        assert run.result is not None
        document = teams_document(run.result, settings.min_group_size) if teams_only else audit_document(run.result)
        finish_document(run, document, chosen, inputs, output)
        enforce_fail_on(run, fail_on, output.quiet)


@app.command("rank")
@bundled
def rank_command(
    inputs: InputOptions,
    outcomes: Annotated[
        list[str],
        typer.Option(
            "--outcomes",
            help="Outcome export (gh pr list JSON, GitHub REST pulls, Jira CSV, generic CSV/JSONL); repeatable.",
        ),
    ],
    output_format: FormatOption = None,
    output: OutputOptions = OutputOptions(),
) -> None:
    """The raw token leaderboard and the outcome-adjusted ranking, side by side."""
    with user_errors(private_paths(inputs.inputs, outcomes, output.pseudonymize)) as errors:
        chosen = choose_format(output_format, output.output)
        settings, run = read_usage(inputs, audits=True, events=False)
        run = audited(settings, run, inputs, outcomes, output, errors)
        assert run.result is not None
        finish_document(run, rank_document(run.result), chosen, inputs, output)


class TextFormat(StrEnum):
    """``--format`` for commands whose output is a text page or JSON (explain, evaluate)."""

    TEXT = "text"
    JSON = "json"


@app.command("explain")
@bundled
def explain_command(
    developer: Annotated[
        str,
        typer.Argument(
            help="The developer to explain: canonical id, any alias the identity map knows, or as in the data."
        ),
    ],
    inputs: InputOptions,
    outcomes: OutcomesOption = None,
    output_format: Annotated[
        TextFormat | None,
        typer.Option(
            "--format", "-f", help="text or json [default: text on a terminal, else json].", show_default=False
        ),
    ] = None,
    output: OutputOptions = OutputOptions(),
) -> None:
    """One developer's evidence: daily sparkline, hour-of-week heatmap, gap histogram, flags vs peers."""
    with user_errors(private_paths(inputs.inputs, outcomes, output.pseudonymize)) as errors:
        settings = library.load_settings(inputs.policy, inputs.identities)
        name = library.canonical_developer(settings, developer)
        settings, run = read_usage(inputs, audits=True, events=False, reduction=Reduction(explained=name))
        run = audited(settings, run, inputs, outcomes, output, errors)
        assert run.result is not None
        settle(run, inputs)
        explanation = explain(run.result, name)
        as_text = output_format is TextFormat.TEXT or (output_format is None and on_terminal(output.output))
        deliver(run.scrub(explain_text(explanation) if as_text else render_json(explain_data(explanation))), output)
