"""The README is the front door: every command, exit code and detector must be documented there."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer.main

from tokenaudit.cli import app
from tokenaudit.detectors import DETECTORS
from tokenaudit.errors import ExitCode
from tokenaudit.readers import READERS

README = (Path(__file__).parent.parent / "README.md").read_text()


def _command_names() -> list[str]:
    group = typer.main.get_group(app)
    names = []
    for name, command in group.commands.items():
        sub = getattr(command, "commands", None)
        names += [f"{name} {child}" for child in sub] if sub else [name]
    return names


@pytest.mark.parametrize("name", _command_names())
def test_every_command_is_in_the_readme(name: str) -> None:
    assert f"tokenaudit {name}" in README


@pytest.mark.parametrize("code", list(ExitCode))
def test_every_exit_code_is_in_the_readme(code: ExitCode) -> None:
    assert f"\n| {int(code)} |" in README


@pytest.mark.parametrize("detector", [d.id for d in DETECTORS])
def test_every_detector_is_in_the_readme(detector: str) -> None:
    assert f"`{detector}`" in README


@pytest.mark.parametrize("reader", [r.name for r in READERS])
def test_every_input_format_is_in_the_readme(reader: str) -> None:
    assert f"| `{reader}` |" in README
