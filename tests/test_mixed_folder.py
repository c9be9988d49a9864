"""One folder mixing Claude Code transcripts, Cursor usage-event pages and a generic CSV.

Each file goes to its own reader and all events meet in one schema, so the audit of the mixed folder
must give every developer exactly the sum of the audits of each format on its own.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import FIXTURES, by_developer, run_json

PARTS = {
    "claude": FIXTURES / "claude_code",
    "cursor": FIXTURES / "cursor" / "events",
    "generic": FIXTURES / "generic" / "events.csv",
}
TOKEN_KEYS = ("input", "output", "cache_read", "cache_write", "total")


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("mixed")
    for name, source in PARTS.items():
        if source.is_dir():
            shutil.copytree(source, root / name)
        else:
            (root / name).mkdir()
            shutil.copy(source, root / name / source.name)
    return root


def _audit(path: Path) -> dict[str, Any]:
    return run_json("audit", str(path))


def test_mixed_folder_totals_are_the_sum_of_the_per_format_runs(mixed: Path) -> None:
    whole = _audit(mixed)
    parts = [_audit(mixed / name) for name in PARTS]
    formats = {source["format"] for source in whole["data_quality"]["sources"]}
    assert formats == {"claude-code", "cursor-events", "generic"}

    combined = by_developer(whole)
    separate = [by_developer(part) for part in parts]
    assert set(combined) == set().union(*separate)
    for developer, row in combined.items():
        mine = [part[developer] for part in separate if developer in part]
        for key in TOKEN_KEYS:
            assert row["tokens"][key] == sum(part["tokens"][key] for part in mine), (developer, key)
        assert row["requests"] == sum(part["requests"] for part in mine), developer
        assert row["unpriced_tokens"] == sum(part["unpriced_tokens"] for part in mine), developer
        costs = [part["cost_usd"] for part in mine if part["cost_usd"] is not None]
        if costs:
            assert row["cost_usd"] == pytest.approx(sum(costs), abs=1e-6), developer
        else:
            assert row["cost_usd"] is None

    # ana has usage in all three formats, so the check above really adds across readers.
    assert sum("ana@acme.io" in part for part in separate) == 3
    assert whole["summary"]["tokens"]["total"] == sum(part["summary"]["tokens"]["total"] for part in parts)


def test_mixed_folder_quality_counts_add_up(mixed: Path) -> None:
    whole = _audit(mixed)["data_quality"]
    parts = [_audit(mixed / name)["data_quality"] for name in PARTS]
    for key in ("rows_read", "rows_rejected", "duplicates_dropped"):
        assert whole[key] == sum(part[key] for part in parts), key
    assert whole["duplicates_dropped"] > 0
    assert parts[1]["rows_rejected"] == 3  # the Cursor rerun file's three bad rows are counted in the mix too
