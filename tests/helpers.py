"""Shared test helpers: the fixture and sample paths, and the CLI run in-process with stdout and stderr kept apart."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from typer.testing import CliRunner, Result

from tokenaudit.cli import app

FIXTURES = Path(__file__).parent / "fixtures"
SAMPLE = Path(__file__).parent.parent / "sample_data"
SAMPLE_ARGS = (
    str(SAMPLE / "events.csv"),
    "--policy",
    str(SAMPLE / "policy.yaml"),
    "--outcomes",
    str(SAMPLE / "prs.json"),
    "--outcomes",
    str(SAMPLE / "jira.csv"),
)
"""The bundled sample organisation with its policy and both outcome exports (the README's first command)."""


def run_cli(*args: str, stdin: bytes | None = None) -> Result:
    """Invoke ``tokenaudit ARGS`` in-process."""
    return CliRunner().invoke(app, list(args), input=stdin)


def run_json(*args: str) -> dict[str, Any]:
    """Invoke with ``--format json`` and parse stdout, failing loudly on a non-zero exit."""
    result = run_cli(*args, "--format", "json")
    assert result.exit_code == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def by_developer(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The ``developers`` (audit) or ``groups`` (totals) list keyed by developer."""
    rows = document.get("developers") or document.get("groups") or []
    return {row["developer"]: row for row in rows}


def load_benchmark(name: str) -> ModuleType:
    """The script ``benchmarks/NAME.py`` as a module (benchmarks are scripts, not a package)."""
    spec = importlib.util.spec_from_file_location(f"{name}_benchmark", SAMPLE.parent / "benchmarks" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the script loads
    spec.loader.exec_module(module)
    return module
