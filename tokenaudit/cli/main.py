"""The Typer application and its entry point; the commands register themselves in their modules."""

from __future__ import annotations

from typing import Annotated

import typer

from tokenaudit import __version__

app = typer.Typer(
    help="Audit what AI-assistant token spend bought: totals, Goodhart-risk flags, outcome-adjusted ranks.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)
policy_app = typer.Typer(help="Validate and inspect policy files.", no_args_is_help=True)
app.add_typer(policy_app, name="policy")


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
