"""CSV and JSON for machines, tables for people: numbers as numbers, unique columns, time in order; terminal tables
that never split a number and say which columns they left out."""

from __future__ import annotations

import csv
import io
import json
import re
from typing import Any

import pytest

from tests.helpers import SAMPLE, SAMPLE_ARGS, run_cli
from tokenaudit.documents import TableView
from tokenaudit.render.table import render as render_table

USAGE = (str(SAMPLE / "events.csv"), "--policy", str(SAMPLE / "policy.yaml"))
DISPLAY_ONLY = ("$", "▲", "▼", "–", ",000")
"""Currency, arrows, en dashes and thousands separators belong to table, Markdown and HTML only."""


def _csv(*args: str) -> list[dict[str, str]]:
    result = run_cli(*args, "-f", "csv")
    assert result.exit_code == 0, result.stderr
    header = result.stdout.splitlines()[0].split(",")
    assert len(header) == len(set(header)), header
    assert all(re.fullmatch(r"[a-z0-9_]+", name) for name in header), header
    assert not [glyph for glyph in DISPLAY_ONLY if glyph in result.stdout]
    return list(csv.DictReader(io.StringIO(result.stdout)))


@pytest.fixture(scope="module")
def audit() -> tuple[dict[str, Any], list[dict[str, str]]]:
    result = run_cli("audit", *SAMPLE_ARGS, "-f", "json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout), _csv("audit", *SAMPLE_ARGS)


def test_audit_csv_carries_every_developer_field_of_the_json_as_numbers(
    audit: tuple[dict[str, Any], list[dict[str, str]]],
) -> None:
    document, rows = audit
    by_name = {row["developer"]: row for row in rows}
    assert len(rows) == len(document["developers"]) == 40
    for developer in document["developers"]:
        row, rank = by_name[developer["developer"]], developer["rank"]
        assert float(row["cost_usd"]) == developer["cost_usd"]
        assert int(row["unpriced_tokens"]) == developer["unpriced_tokens"]
        assert int(row["total_tokens"]) == developer["tokens"]["total"]
        assert int(row["rank_tokens"]) == rank["tokens"]
        assert row["risk_level"] == developer["risk"]["level"]
        assert row["flags"].split(";") == ([f["id"] for f in developer["flags"]] or [""])
        if rank["adjusted"] is None:
            # Below the minimum volume: no interval either; not placed (uncertain): the interval, no rank.
            assert row["rank_adjusted"] == row["shift"] == ""
            interval = rank["adjusted_interval"]
            assert [row["interval_low"], row["interval_high"]] == (
                ["", ""] if interval is None else list(map(str, interval))
            )
            assert row["placement"] == (rank["placement"] or "")
        else:
            assert int(row["rank_adjusted"]) == rank["adjusted"]
            assert int(row["shift"]) == rank["shift"]
            assert [int(row["interval_low"]), int(row["interval_high"])] == rank["adjusted_interval"]
            assert float(row["outcome_score"]) == developer["outcomes"]["score"]
            assert float(row["yield_mean"]) == developer["yield"]["mean"]
    ranked = [int(row["rank_adjusted"]) for row in rows if row["rank_adjusted"]]
    assert ranked == sorted(ranked)  # the adjusted board's order


def test_rank_csv_has_unique_columns_and_the_same_people(audit: tuple[dict[str, Any], list[dict[str, str]]]) -> None:
    _, audit_rows = audit
    rank_rows = _csv("rank", *SAMPLE_ARGS)
    assert [row["developer"] for row in rank_rows] == [row["developer"] for row in audit_rows]
    assert [row["shift"] for row in rank_rows] == [row["shift"] for row in audit_rows]


def test_totals_and_teams_csv_are_numbers() -> None:
    teams = _csv("audit", *USAGE, "--teams-only")
    assert teams and all(float(row["cost_usd"]) > 0 and int(row["risk_high"]) >= 0 for row in teams)
    groups = _csv("totals", *USAGE, "--by", "team")
    json_groups = json.loads(run_cli("totals", *USAGE, "--by", "team", "-f", "json").stdout)["groups"]
    assert [float(row["cost_usd"]) for row in groups] == [group["cost_usd"] for group in json_groups]


@pytest.mark.parametrize("keys", ["day", "week,tool", "developer,day"])
def test_time_keys_come_in_time_order(keys: str) -> None:
    rows = _csv("totals", *USAGE, "--by", keys)
    time_key = "week" if "week" in keys else "day"
    times = [row[time_key] for row in rows]
    assert times == sorted(times) and len(set(times)) > 3


def test_table_keeps_diagnostics_on_stderr() -> None:
    result = run_cli("audit", *SAMPLE_ARGS, "-f", "table")
    assert result.exit_code == 0, result.stderr
    assert "bot pull request" in result.stderr and "bot pull request" not in result.stdout
    assert "Flags are prompts for a conversation" in result.stdout  # the table's own notes stay with it


NUMBERS = TableView(
    title="t",
    columns=["rank", "developer", "team", "total", "input", "cache read", "cost"],
    rows=[[1, "kofi.cohen@acme.example", "payments", 124182418, 42041, 97381359, "$417.82"]] * 3,
    optional=("cache read", "input", "team"),
)


@pytest.mark.parametrize(
    ("width", "hidden"),
    [(200, []), (80, ["cache read"]), (70, ["cache read", "input"]), (60, ["cache read", "input", "team"])],
)
def test_narrow_tables_leave_out_optional_columns_and_say_which(width: int, hidden: list[str]) -> None:
    text = render_table(NUMBERS, color=False, width=width)
    lines = text.splitlines()
    assert all(len(line.rstrip()) <= width for line in lines)
    row = next(line for line in lines if "kofi" in line)
    assert "124,182,418" in row and "$417.82" in row
    assert ("97,381,359" in row) == ("cache read" not in hidden)
    said = f"Columns left out to fit {width} columns: {', '.join(hidden)} (all are in --format csv)."
    assert (said in " ".join(text.split())) == bool(hidden) and ("Columns left out" in text) == bool(hidden)


def test_sample_board_fits_80_columns_without_splitting_numbers() -> None:
    result = run_cli("audit", *USAGE, "-f", "table")
    document = json.loads(run_cli("audit", *USAGE, "-f", "json").stdout)
    wide = result.stdout
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("COLUMNS", "80")
        narrow = run_cli("audit", *USAGE, "-f", "table").stdout
    assert max(len(line.rstrip()) for line in narrow.splitlines()) <= 80
    for developer in document["developers"]:
        assert f"{developer['tokens']['total']:,}" in narrow and f"{developer['tokens']['total']:,}" in wide
    header = next(line for line in narrow.splitlines() if "developer" in line)
    assert "cache write" not in header and "total" in header and "Columns left out to fit 80 columns" in narrow
