"""The layering the code relies on: the CLI translates, the library computes."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import tokenaudit.cli
from tests.helpers import FIXTURES, by_developer, run_cli, run_json

CLI = Path(tokenaudit.cli.__file__).parent


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    return names | {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}


def test_cli_never_imports_polars() -> None:
    modules = sorted(CLI.glob("*.py"))
    assert len(modules) >= 5
    offenders = {
        path.name: name
        for path in modules
        for name in _imported_modules(path)
        if name == "polars" or name.startswith("polars.")
    }
    assert offenders == {}


def test_an_audit_without_outcomes_never_loads_numpy() -> None:
    """numpy costs 0.1-0.6 s at start-up; only the outcome ranking, the report's charts and the simulator need it.
    The modules a Python process has loaded are its own, so the audit runs in a fresh one."""
    audit = (
        "import sys; from typer.testing import CliRunner; from tokenaudit.cli import app; "
        f"result = CliRunner().invoke(app, ['audit', {str(FIXTURES / 'claude_code')!r}, '-f', 'json']); "
        "print(result.exit_code, 'numpy' in sys.modules)"
    )
    ran = subprocess.run([sys.executable, "-c", audit], capture_output=True, text=True, check=True, timeout=120)
    assert ran.stdout.split() == ["0", "False"]


def _loaded_by(code: str) -> set[str]:
    """The tokenaudit modules a fresh interpreter has loaded after running ``code``."""
    shown = f"import sys; {code}; print(' '.join(m for m in sys.modules if m.split('.')[0] == 'tokenaudit'))"
    ran = subprocess.run([sys.executable, "-c", shown], capture_output=True, text=True, check=True, timeout=120)
    return set(ran.stdout.split())


def test_a_transcript_helper_process_imports_the_readers_alone() -> None:
    """A helper process of a large transcript read imports its reader's module, and the console script it runs
    again as its main module: neither may pull in the application, its detectors or the policy's settings models
    (0.4-0.6 s of start-up in each helper)."""
    reader = _loaded_by("import tokenaudit.readers.claude_code")
    assert "tokenaudit.readers.claude_code" in reader
    assert not reader & {"tokenaudit.app", "tokenaudit.audit", "tokenaudit.policy", "tokenaudit.detectors"}
    assert _loaded_by("from tokenaudit.cli import main") == {"tokenaudit", "tokenaudit.cli"}


def test_the_package_api_stays_the_application_functions() -> None:
    """``tokenaudit.audit`` is the application's function although a submodule shares its name."""
    import importlib

    import tokenaudit
    from tokenaudit import app

    submodule = importlib.import_module("tokenaudit.audit")  # sets the package's attribute, as any import of it does
    assert submodule.__name__ == "tokenaudit.audit"
    assert tokenaudit.audit is app.audit
    assert tokenaudit.load is app.load


def test_the_check_sees_a_polars_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("from polars import col\nimport os\n", encoding="utf-8")
    assert _imported_modules(sample) == {"polars", "os"}


def test_owner_and_its_hidden_old_name_own_identityless_files() -> None:
    transcripts = str(FIXTURES / "claude_code" / "bo@acme.io")
    assert set(by_developer(run_json("totals", transcripts, "--owner", "bob"))) == {"bob"}
    assert set(by_developer(run_json("totals", transcripts, "--developer", "bob"))) == {"bob"}
    assert set(by_developer(run_json("totals", transcripts))) == {"bo@acme.io"}


def test_a_bad_day_exits_2_before_any_reading(tmp_path: Path) -> None:
    result = run_cli("totals", str(tmp_path / "missing.csv"), "--since", "2026-02-30")
    assert result.exit_code == 2
    assert "--since" in result.stderr and "expected a day as YYYY-MM-DD, got '2026-02-30'" in result.stderr


def test_the_cli_reference_is_current() -> None:
    from tokenaudit.cli.reference import reference

    written = (Path(__file__).parent.parent / "docs" / "cli.md").read_text(encoding="utf-8")
    assert written == reference(), "docs/cli.md is stale: python -m tokenaudit.cli.reference > docs/cli.md"
    assert "## `audit`" in written and "## `policy check`" in written and "--owner" in written


def test_the_readme_library_example_runs(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    example = readme.split("### From Python", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    assert len([line for line in example.splitlines() if line.strip()]) == 4
    monkeypatch.chdir(Path(__file__).parent.parent)
    exec(compile(example, "README.md", "exec"), {})
    assert capsys.readouterr().out.strip() in {"none", "low", "medium", "high"}


def test_no_reader_imports_a_private_name_or_another_readers_module() -> None:
    readers = Path(tokenaudit.cli.__file__).parent.parent / "readers"
    helpers = {"base", "coerce", "csvtext", "jsonlines", "owner", "pages", "parse", "sources"}
    for path in readers.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.ImportFrom):
                continue
            module = node.module or ""
            if module.startswith("tokenaudit.readers."):
                assert module.rsplit(".", 1)[1] in helpers or path.name == "__init__.py", (path.name, module)
                assert not [alias.name for alias in node.names if alias.name.startswith("_")], (path.name, module)


def test_every_list_of_risk_levels_comes_from_one_ordered_enum() -> None:
    from tokenaudit.cli.options import RiskThreshold
    from tokenaudit.detectors.base import SEVERITIES
    from tokenaudit.documents import RISK_ORDER
    from tokenaudit.evaluate import LEVELS
    from tokenaudit.page_data import FLAGGED_LEVELS
    from tokenaudit.risk import RiskLevel

    assert [level.value for level in RiskLevel] == ["none", "low", "medium", "high"]
    assert SEVERITIES == ("none", "low", "medium", "high")
    assert [level.value for level in RiskThreshold] == list(LEVELS) == ["low", "medium", "high"]
    assert RISK_ORDER == ("high", "medium", "low", "none")
    assert FLAGGED_LEVELS == ("medium", "high")
    assert RiskThreshold.MEDIUM.and_above() == ["medium", "high"]
    assert RiskLevel.LOW.and_above() == ["low", "medium", "high"]
