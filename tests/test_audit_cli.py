"""The audit and totals commands: the JSON contract, grouping, periods, identities, costs, outputs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.helpers import FIXTURES, by_developer, run_cli, run_json

EVENTS = str(FIXTURES / "generic" / "events.csv")


def _policy(tmp_path: Path, text: str) -> str:
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    return str(path)


def test_audit_json_contract() -> None:
    document = run_json("audit", EVENTS)
    assert document["schema_version"] == 1
    assert set(document) >= {"schema_version", "period", "summary", "developers", "data_quality", "notice"}
    assert "not verdicts" in document["notice"]
    first = document["developers"][0]
    assert set(first) >= {"developer", "team", "tokens", "requests", "active_days", "cost_usd", "flags", "rank"}
    assert set(first["tokens"]) == {"input", "output", "cache_read", "cache_write", "total"}
    assert [(d["developer"], d["rank"]["tokens"]) for d in document["developers"]] == [
        ("ana@acme.io", 1),
        ("bo@acme.io", 2),
        ("cy@acme.io", 3),
    ]
    assert document["summary"]["tokens"]["total"] == sum(d["tokens"]["total"] for d in document["developers"])
    assert document["period"]["first_event"] == "2026-03-02T09:05:11.482000Z"


def test_default_format_off_a_terminal_is_json_and_env_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    assert json.loads(run_cli("audit", EVENTS).stdout)["schema_version"] == 1
    monkeypatch.setenv("TOKENAUDIT_FORMAT", "csv")
    assert run_cli("audit", EVENTS).stdout.startswith("developer,team,rank_tokens,total_tokens,")


def test_active_days_and_days_follow_the_time_zone() -> None:
    # bo's 2026-03-02T23:59:59+01:00 is 22:59 UTC on the 2nd but 09:59 on the 3rd in Sydney.
    utc = by_developer(run_json("totals", EVENTS, "--by", "developer"))
    assert utc["ana@acme.io"]["active_days"] == 2
    days = run_json("totals", EVENTS, "--by", "developer,day", "--tz", "Australia/Sydney")
    bo_days = sorted(g["day"] for g in days["groups"] if g["developer"] == "bo@acme.io")
    assert bo_days == ["2026-03-03", "2026-03-04"]


def test_since_until_are_inclusive_local_days() -> None:
    document = run_json("totals", EVENTS, "--since", "2026-03-03", "--until", "2026-03-04")
    groups = by_developer(document)
    assert groups["ana@acme.io"]["tokens"]["total"] == 5400 + 700 + 41000 + 9000
    assert groups["bo@acme.io"]["tokens"]["total"] == 100
    assert "cy@acme.io" not in groups
    assert document["data_quality"]["outside_period"] == 4
    assert document["period"]["since"] == "2026-03-03"


def test_since_after_until_is_a_usage_error() -> None:
    result = run_cli("totals", EVENTS, "--since", "2026-03-05", "--until", "2026-03-01")
    assert result.exit_code == 2
    assert "is after --until" in result.stderr


def test_identity_map_joins_aliases_and_gives_teams(tmp_path: Path) -> None:
    policy = _policy(
        tmp_path,
        "identities:\n  ana:\n    team: payments\n    aliases: [ANA@acme.io]\n"
        "  bo:\n    team: payments\n    aliases: [bo@acme.io]\n",
    )
    document = run_json("audit", EVENTS, "--policy", policy)
    developers = by_developer(document)
    assert developers["ana"]["team"] == "payments"
    assert developers["cy@acme.io"]["team"] is None
    assert document["data_quality"]["unmatched_identities"] == ["cy@acme.io"]
    teams = run_json("totals", EVENTS, "--by", "team", "--policy", policy)["groups"]
    assert [(g["team"], g["tokens"]["total"]) for g in teams] == [("payments", 127290 + 124188), (None, 12300)]


def _with_unknown_model(tmp_path: Path) -> str:
    """The generic events with cy's Codex model renamed to one no price source knows."""
    path = tmp_path / "events.csv"
    path.write_text(Path(EVENTS).read_text().replace("gpt-5.2-codex", "acme-internal-7"))
    return str(path)


def test_unknown_model_is_unpriced_not_zero(tmp_path: Path) -> None:
    developers = by_developer(run_json("audit", _with_unknown_model(tmp_path)))
    assert developers["cy@acme.io"]["cost_usd"] is None
    assert developers["cy@acme.io"]["unpriced_tokens"] == 12300
    # claude-opus-4-1: $15 in, $75 out, $1.50 cache read, $18.75 cache write per million tokens.
    expected_bo = (98 * 15 + 4020 * 75 + 120030 * 1.5 + 40 * 18.75) / 1e6
    assert abs(developers["bo@acme.io"]["cost_usd"] - expected_bo) < 1e-6
    result = run_cli("audit", _with_unknown_model(tmp_path), "--format", "table")
    assert "unpriced" in result.stdout
    assert "unpriced models (cost left out, not $0): acme-internal-7" in result.stderr  # a diagnostic


def test_codex_model_is_priced_from_the_price_source() -> None:
    developers = by_developer(run_json("audit", EVENTS))
    # gpt-5.2-codex (genai-prices: as gpt-5.2): $1.75 input, $14 output, $0.175 cache read per million.
    assert developers["cy@acme.io"]["cost_usd"] == round((3000 * 1.75 + 300 * 14 + 9000 * 0.175) / 1e6, 6)
    assert developers["cy@acme.io"]["unpriced_tokens"] == 0


def test_policy_prices_override_the_price_source(tmp_path: Path) -> None:
    policy = _policy(
        tmp_path, "pricing:\n  models:\n    gpt-5.2-codex: {input: 1, output: 10, cache_read: 0.1, cache_write: 1}\n"
    )
    developers = by_developer(run_json("audit", EVENTS, "--policy", policy))
    assert abs(developers["cy@acme.io"]["cost_usd"] - (3000 * 1 + 300 * 10 + 9000 * 0.1) / 1e6) < 1e-9


def test_output_file_is_written_and_stdout_stays_empty(tmp_path: Path) -> None:
    target = tmp_path / "reports" / "audit.json"
    result = run_cli("audit", EVENTS, "--format", "json", "--output", str(target))
    assert result.exit_code == 0
    assert result.stdout == ""
    assert json.loads(target.read_text())["schema_version"] == 1
    assert [p.name for p in target.parent.iterdir()] == ["audit.json"]


def test_failed_run_leaves_an_existing_report_untouched(tmp_path: Path) -> None:
    target = tmp_path / "audit.json"
    target.write_text("previous report")
    result = run_cli("audit", str(tmp_path / "missing.csv"), "--output", str(target))
    assert result.exit_code == 3
    assert target.read_text() == "previous report"


def test_markdown_and_csv_carry_the_same_numbers() -> None:
    markdown = run_cli("audit", EVENTS, "--format", "markdown").stdout
    assert "| 1 | ana@acme.io |  | 127,290 | 5,932 | 3,828 | 104,982 | 12,548 | 3 | 2 |" in markdown
    csv_text = run_cli("audit", EVENTS, "--format", "csv").stdout.splitlines()
    assert csv_text[0].startswith(
        "developer,team,rank_tokens,total_tokens,input_tokens,output_tokens,cache_read_tokens,cache_write_tokens,"
        "requests,active_days,cost_usd,unpriced_tokens,errored_tokens,risk_level,"
    )
    assert csv_text[1].startswith("ana@acme.io,,1,127290,5932,3828,104982,12548,3,2,0.153766,0,0,none,")
    assert csv_text[2].startswith("bo@acme.io,,2,124188,98,4020,120030,40,2,2,0.483765,0,0,none,")


def test_unknown_group_key_is_a_usage_error() -> None:
    result = run_cli("totals", EVENTS, "--by", "project")
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "tokenaudit: error: --by: unknown key 'project'; expected any of: developer, team, tool, model, day, week"
    )


def test_week_grouping_uses_iso_weeks() -> None:
    groups = run_json("totals", EVENTS, "--by", "week")["groups"]
    assert [g["week"] for g in groups] == ["2026-W10"]


def test_formats_lists_the_generic_reader() -> None:
    result = run_cli("formats")
    assert result.exit_code == 0
    assert "generic" in result.stdout
    assert "produced by:" in result.stdout


def test_identities_csv_merges_into_the_map(tmp_path: Path) -> None:
    mapping = tmp_path / "people.csv"
    mapping.write_text("alias,developer,team\nana@acme.io,ana,payments\nbo@acme.io,bo,\nBO-GH,bo,search\n")
    document = run_json("audit", EVENTS, "--identities", str(mapping))
    developers = by_developer(document)
    assert (developers["ana"]["team"], developers["bo"]["team"]) == ("payments", "search")
    assert document["data_quality"]["unmatched_identities"] == ["cy@acme.io"]
    strict = run_cli("audit", EVENTS, "--identities", str(mapping), "--strict-identities")
    assert strict.exit_code == 5
    assert strict.stderr.strip() == (
        "tokenaudit: error: 1 identities are not in the identity map (--strict-identities): cy@acme.io"
    )


def test_identities_csv_with_a_clash_names_the_line(tmp_path: Path) -> None:
    mapping = tmp_path / "people.csv"
    mapping.write_text("alias,developer\nana@acme.io,ana\nANA@acme.io,bo\n")
    result = run_cli("audit", EVENTS, "--identities", str(mapping))
    assert result.exit_code == 3
    assert result.stderr.strip() == (
        f"tokenaudit: error: {mapping}:2: alias 'ana@acme.io' is given to more than one developer"
    )


@pytest.mark.parametrize("color", [True, False])
def test_table_keeps_square_brackets_in_cells_and_notes(color: bool) -> None:
    from tokenaudit.documents import TableView
    from tokenaudit.render.table import render

    view = TableView("t", ["developer"], [["renovate[bot]"]], notes=["ana (risk high) repetition [high]: reason"])
    text = render(view, color=color, width=120)
    plain = re.sub(r"\x1b\[[0-9;]*m", "", text)
    assert "renovate[bot]" in plain
    assert "repetition [high]: reason" in plain
