"""The commands around an audit: ``evaluate``, ``simulate``, ``policy check``, ``prices`` and ``formats``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from tokenaudit import app as library
from tokenaudit.cli.boundary import user_errors
from tokenaudit.cli.main import app, policy_app
from tokenaudit.cli.options import FormatOption, OutputOption, PolicyOption, QuietOption, RiskThreshold
from tokenaudit.cli.output import choose_format
from tokenaudit.cli.usage import TextFormat
from tokenaudit.console import stderr_console, wants_color
from tokenaudit.errors import UsageError
from tokenaudit.outcomes.read import OUTCOME_READERS
from tokenaudit.output import emit
from tokenaudit.policy import load_policy
from tokenaudit.readers import READERS
from tokenaudit.render import render
from tokenaudit.render.evaluation import evaluation_data, evaluation_text, ranking_data, ranking_text
from tokenaudit.render.json_format import render as render_json


@app.command("evaluate")
def evaluate_command(
    labels: Annotated[Path, typer.Argument(help="Ground-truth labels CSV (simulate writes labels.csv).")],
    audit_json: Annotated[Path, typer.Argument(help="An 'audit --format json' output.")],
    at: Annotated[
        RiskThreshold, typer.Option("--at", help="Risk level that counts as flagged: low, medium or high.")
    ] = RiskThreshold.MEDIUM,
    output_format: Annotated[
        TextFormat | None, typer.Option("--format", "-f", help="text or json.", show_default=False)
    ] = None,
    output: OutputOption = None,
) -> None:
    """Precision, recall and false-positive rates of an audit's flags against planted labels."""
    with user_errors():
        result, ranking = library.evaluate_files(labels, audit_json, at.value)
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
    # Imported here: the simulator needs numpy, which no other command should pay for at start-up.
    from tokenaudit.simulate import SimulationConfig, simulate, write_simulation

    with user_errors():
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
    with user_errors():
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
    with user_errors():
        chosen = choose_format(output_format, output)
        document = library.prices(models, load_policy(policy))
        emit(render(document, chosen, color=output is None and wants_color(sys.stdout)), output)


@app.command("formats")
def formats_command() -> None:
    """List the supported input formats and the command or API call that produces each."""
    for reader in READERS:
        typer.echo(f"{reader.name}\n  {reader.title}\n  produced by: {reader.exported_by}\n  limits: {reader.limits}\n")
    typer.echo("Outcome formats (--outcomes):\n")
    for outcome_reader in OUTCOME_READERS:
        typer.echo(f"{outcome_reader.name}\n  {outcome_reader.title}\n  produced by: {outcome_reader.exported_by}\n")
