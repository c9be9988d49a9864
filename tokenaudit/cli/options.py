"""Options shared by commands, declared once: converted and checked at the border (a bad value exits 2 before any
work), and grouped in bundles (:class:`InputOptions`, :class:`OutputOptions`) that a command takes as one parameter.
"""

from __future__ import annotations

import datetime as dt
import functools
import inspect
from collections.abc import Callable
from dataclasses import MISSING, dataclass, fields
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeVar, get_type_hints

import typer

from tokenaudit.engines import Engine
from tokenaudit.render import Format
from tokenaudit.risk import RiskLevel


def _day(text: str) -> dt.date:
    """``--since/--until``: a calendar day."""
    try:
        return dt.datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError:
        msg = f"expected a day as YYYY-MM-DD, got {text!r}"
        raise typer.BadParameter(msg) from None


class RiskThreshold(StrEnum):
    """``--fail-on`` and ``evaluate --at``: the levels of :class:`~tokenaudit.risk.RiskLevel` a threshold can name."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"

    def and_above(self) -> list[str]:
        """This level and every higher one (the order is :class:`~tokenaudit.risk.RiskLevel`'s)."""
        return RiskLevel(self.value).and_above()


Inputs = Annotated[list[str], typer.Argument(help="Files, folders or globs to read; '-' reads standard input.")]
PolicyOption = Annotated[Path | None, typer.Option("--policy", "-p", help="Policy YAML file.", show_default=False)]
FormatOption = Annotated[
    Format | None,
    typer.Option("--format", "-f", help="Output format [default: table on a terminal, else json].", show_default=False),
]
OutcomesOption = Annotated[
    list[str] | None,
    typer.Option(
        "--outcomes",
        help="Outcome export (gh pr list JSON, GitHub REST pulls, Jira CSV, generic CSV/JSONL); repeatable.",
        show_default=False,
    ),
]
FailOnOption = Annotated[
    RiskThreshold | None,
    typer.Option("--fail-on", help="Exit 1 if any developer's risk is at or above this level.", show_default=False),
]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="Print no diagnostics, only errors.")]
OutputOption = Annotated[
    Path | None,
    typer.Option(
        "--output",
        "-o",
        help="Write here instead of stdout (a file atomically, keeping its mode; a device or pipe in place).",
        show_default=False,
    ),
]


def _valued(*flags: str, help: str, **more: Any) -> Any:
    """An option that takes a value and has no default worth showing."""
    return typer.Option(*flags, help=help, show_default=False, **more)


@dataclass(frozen=True)
class InputOptions:
    """What to read and how: the options of every command that reads usage."""

    inputs: Inputs
    policy: PolicyOption = None
    since: Annotated[
        dt.date | None, _valued(parser=_day, metavar="YYYY-MM-DD", help="First day to include (inclusive).")
    ] = None
    until: Annotated[
        dt.date | None, _valued(parser=_day, metavar="YYYY-MM-DD", help="Last day to include (inclusive).")
    ] = None
    tz: Annotated[
        str | None, _valued("--tz", help="Time zone for days and zone-less timestamps [default: policy timezone].")
    ] = None
    input_format: Annotated[
        str | None, _valued("--input-format", help="Skip auto-detection and read every input as this format.")
    ] = None
    owner: Annotated[str | None, _valued("--owner", help="Owner of inputs that carry no identity (transcripts).")] = (
        None
    )
    developer_alias: Annotated[str | None, _valued("--developer", hidden=True, help="Old name of --owner.")] = None
    identities: Annotated[
        Path | None, _valued("--identities", help="alias,developer,team CSV merged into the policy's identity map.")
    ] = None
    memory_limit: Annotated[
        str | None,
        _valued(
            "--memory-limit",
            envvar="TOKENAUDIT_MEMORY_LIMIT",
            help="Memory budget (512M, 4G): read rows beyond a quarter of it are sharded on disk and Parquet files read"
            " in parts; totals, audit and rank then reduce up to two shards at a time (report and explain hold the"
            " period's events). [default: half of RAM]",
        ),
    ] = None
    engine: Annotated[
        Engine,
        typer.Option("--engine", help="Read the inputs here (local) or on a Dask cluster (dask; the dask extra)."),
    ] = Engine.LOCAL
    scheduler: Annotated[
        str | None,
        _valued(
            "--scheduler",
            help="Dask scheduler address for --engine dask [default: DASK_SCHEDULER_ADDRESS, else a local cluster].",
        ),
    ] = None
    rejects: Annotated[
        Path | None, _valued("--rejects", help="Write every rejected row (file, line, reason) to this CSV.")
    ] = None
    strict: Annotated[
        bool,
        typer.Option(
            "--strict",
            help="Fail (exit 4) if any row is rejected or any non-empty file in an input folder is skipped.",
        ),
    ] = False
    strict_identities: Annotated[
        bool,
        typer.Option("--strict-identities", help="Fail (exit 5) if any identity is not in the identity map."),
    ] = False

    @property
    def identity_owner(self) -> str | None:
        """``--owner``, or its old name ``--developer``."""
        return self.owner or self.developer_alias


@dataclass(frozen=True)
class OutputOptions:
    """Where the result goes and what else is said: the options of every command that writes a result."""

    output: OutputOption = None
    quiet: QuietOption = False
    pseudonymize: Annotated[
        bool,
        typer.Option(
            "--pseudonymize",
            help="Replace every identity with a stable keyed pseudonym (HMAC-SHA256, key in TOKENAUDIT_PSEUDONYM_KEY).",
        ),
    ] = False


_BUNDLES = (InputOptions, OutputOptions)
Command = TypeVar("Command", bound=Callable[..., None])


def _bundle_parameters(bundle: type[Any]) -> list[inspect.Parameter]:
    hints = get_type_hints(bundle, include_extras=True)
    return [
        inspect.Parameter(
            field.name,
            inspect.Parameter.KEYWORD_ONLY,
            annotation=hints[field.name],
            default=inspect.Parameter.empty if field.default is MISSING else field.default,
        )
        for field in fields(bundle)
    ]


def bundled(command: Command) -> Command:
    """Let ``command`` take :class:`InputOptions`/:class:`OutputOptions` parameters: Typer sees their fields as
    options in their place, and the command receives them built into one object."""
    hints = get_type_hints(command, include_extras=True)
    parameters: list[inspect.Parameter] = []
    bundles: dict[str, type[Any]] = {}
    for parameter in inspect.signature(command).parameters.values():
        annotation = hints[parameter.name]
        if annotation in _BUNDLES:
            bundles[parameter.name] = annotation
            parameters += _bundle_parameters(annotation)
        else:
            parameters.append(parameter.replace(annotation=annotation, kind=inspect.Parameter.KEYWORD_ONLY))

    @functools.wraps(command)
    def with_bundles(**values: Any) -> None:
        for name, bundle in bundles.items():
            values[name] = bundle(**{field.name: values.pop(field.name) for field in fields(bundle)})
        command(**values)

    # Keyword-only, so that a parameter without a default may follow one with (Typer calls with keywords).
    with_bundles.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    return with_bundles  # type: ignore[return-value]
