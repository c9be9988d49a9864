"""The README is the front door: every command, exit code and detector must be documented there."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import typer.main

from tests.helpers import run_cli
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


# --- The README's claims about options, its set-up and its shown outputs, checked against the CLI itself. ---

ROOT = Path(__file__).parent.parent
SETUP_TEST_LINE = 'pip install ".[test]" && python -m pytest'


def _commands() -> dict[str, Any]:
    group = typer.main.get_group(app)
    found: dict[str, Any] = {}
    for name, command in group.commands.items():
        children = getattr(command, "commands", None)
        found |= {f"{name} {child}": sub for child, sub in children.items()} if children else {name: command}
    return found


def _options(command: Any) -> set[str]:
    return {opt for param in command.params for opt in (*param.opts, *param.secondary_opts) if opt.startswith("-")}


def _format_choices(name: str) -> str:
    """The ``--format`` choices as ``--help`` prints them (``table|json|csv|markdown``)."""
    found = re.search(r"--format <([a-z|]+)>", run_cli(*name.split(), "--help").stdout)
    assert found, name
    return found.group(1)


def _code_blocks() -> list[list[str]]:
    """Shell and output blocks (Python examples are run by tests/test_architecture.py)."""
    blocks = re.findall(r"```([a-z]*)\n(.*?)```", README, flags=re.DOTALL)
    return [block.splitlines() for language, block in blocks if language != "python"]


def _example_commands() -> list[str]:
    """Every ``tokenaudit …`` command line in the README's code blocks (continuations joined, prompt dropped)."""
    commands = []
    for lines in _code_blocks():
        text = "\n".join(lines).replace("\\\n", " ")
        commands += [line.removeprefix("$ ").strip() for line in text.splitlines()]
    found = []
    for line in commands:
        for part in line.split("&&"):
            words = part.split("|")[0].split("#")[0].split()
            if "tokenaudit" in words:
                found.append(" ".join(words[words.index("tokenaudit") :]))
    return found


def test_setup_is_two_commands_and_ci_runs_the_second_as_written() -> None:
    section = README.split("## Set up", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, flags=re.DOTALL)
    assert block is not None
    lines = [line for line in block.group(1).splitlines() if line.strip()]
    assert len(lines) == 2
    assert lines[0].startswith("pip install . && tokenaudit audit sample_data/")
    assert lines[1] == SETUP_TEST_LINE
    assert SETUP_TEST_LINE in (ROOT / ".ci" / "run").read_text().splitlines()


@pytest.mark.parametrize("example", _example_commands())
def test_every_option_in_an_example_exists(example: str) -> None:
    words = shlex.split(example)[1:]
    commands = _commands()
    name = " ".join(words[:2]) if " ".join(words[:2]) in commands else words[0]
    assert name in commands, example
    unknown = [word.split("=")[0] for word in words if word.startswith("-") and word != "-"]
    assert not set(unknown) - _options(commands[name]), example


def _claims() -> list[tuple[list[str], list[str]]]:
    """(options, commands) for every "`--option …` … (on … `cmd`, `cmd`)" clause of the README."""
    claims = []
    for match in re.finditer(r"([^;.(]*?)\(on ([^)]*)\)", README):
        options = re.findall(r"`(--[a-z-]+)", match.group(1))
        named = re.findall(r"`([a-z]+)`", match.group(2))
        if options and named:
            claims.append((options, named))
    return claims


def test_option_claims_match_help() -> None:
    commands = _commands()
    claims = _claims()
    assert len(claims) >= 5
    for options, named in claims:
        for option in options:
            having = {name for name, command in commands.items() if option in _options(command)}
            if option == "--format":  # several commands take --format, with different choices
                assert all(option in _options(commands[name]) for name in named), (option, named)
                continue
            assert having == set(named), (option, sorted(having), named)


def test_format_choices_in_the_readme_match_help() -> None:
    claims = [
        (choices, re.findall(r"`([a-z]+)`", named))
        for choices, named in re.findall(r"`--format\s+([a-z|]+)`\s+\(on ([^)]*)\)", README)
    ]
    claims += [([name], choices) for name, choices in re.findall(r"`([a-z]+)` takes `--format\s+([a-z|]+)`", README)]
    claims = [(c, n) if isinstance(c, str) else (n, c) for c, n in claims]
    both = re.findall(r"`([a-z]+)` and `([a-z]+)` take `--format\s+([a-z|]+)`", README)
    claims += [(choices, [first, second]) for first, second, choices in both]
    assert len(claims) >= 3
    for choices, names in claims:
        for name in names:
            assert _format_choices(name) == choices, name


def _shown_examples() -> list[tuple[str, list[list[str]]]]:
    """(command, the stretches of output shown under it) for README examples over the sample data; a line that is
    only "…" elides what the command prints between two stretches (or after the last)."""
    shown = []
    for lines in _code_blocks():
        for index, line in enumerate(lines):
            writes = re.search(r" -o |--output\b|simulate|evaluate", line)
            if not line.startswith("$ tokenaudit") or "sample_data" not in line or writes or line.endswith("\\"):
                continue
            stretches: list[list[str]] = [[]]
            for following in lines[index + 1 :]:
                if following.startswith("$ "):
                    break
                if following.strip() == "…":
                    stretches.append([])
                elif following.strip():
                    stretches[-1].append(following)
            shown.append((line.removeprefix("$ "), [s for s in stretches if "".join(s).strip()]))
    return shown


@pytest.mark.parametrize(("command", "output"), _shown_examples())
def test_shown_output_is_what_the_command_prints(
    command: str, output: list[list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    pipeline = command.split("|")
    words = shlex.split(pipeline[0])[1:]
    if "--format" not in words and "-f" not in words:
        words += ["--format", "text" if words[0] == "explain" else "table"]  # what a terminal gets
    result = run_cli(*words)
    assert result.exit_code == 0, result.stderr
    printed = [line.rstrip() for line in result.stdout.splitlines() if line.strip()]
    if len(pipeline) > 1:
        head = re.fullmatch(r"\s*head -(\d+)\s*", pipeline[1])
        assert head, command
        printed = printed[: int(head.group(1))]
    # Compared as words: notes wrap at the terminal's width, the words and numbers must be the same. The first
    # stretch is the start of the output; each later one comes after the one before.
    text = " ".join(" ".join(printed).split())
    found = 0
    for number, stretch in enumerate(output):
        expected = " ".join(" ".join(stretch).split())
        at = text.find(expected, found)
        assert at == 0 if number == 0 else at >= found, f"{command}: not printed in order: {expected[:200]}"
        found = at + len(expected)
