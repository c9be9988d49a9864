"""The CLI reference (``docs/cli.md``), generated from the commands' own help so it cannot drift from them.

Regenerate with ``python -m tokenaudit.cli.reference > docs/cli.md``; a test fails when the file is stale.
"""

from __future__ import annotations

from typing import Any

import typer

from tokenaudit.cli import app

WIDTH = 100


def _help(command: Any, path: list[str]) -> str:
    """``command --help`` at a fixed width (``command`` is a Click command inside Typer)."""
    context = typer.Context(command, info_name=" ".join(path), terminal_width=WIDTH, max_content_width=WIDTH)
    text: str = command.get_help(context)
    return text


def reference() -> str:
    """Markdown: the top-level help, then each command's (subcommands included), in the order ``--help`` lists."""
    root = typer.main.get_command(app)
    sections = ["# CLI reference", "", "Generated from `--help` by `python -m tokenaudit.cli.reference`.", ""]
    sections += ["```text", _help(root, ["tokenaudit"]), "```", ""]
    context = typer.Context(root, info_name="tokenaudit")
    for name in root.list_commands(context):  # type: ignore[attr-defined]
        command = root.get_command(context, name)  # type: ignore[attr-defined]
        subcommands = [name] if not hasattr(command, "list_commands") else command.list_commands(context)
        for sub in subcommands:
            leaf = command if sub == name else command.get_command(context, sub)
            path = ["tokenaudit", name] + ([] if sub == name else [sub])
            sections += [f"## `{' '.join(path[1:])}`", "", "```text", _help(leaf, path), "```", ""]
    return "\n".join(sections)


if __name__ == "__main__":
    print(reference(), end="")
