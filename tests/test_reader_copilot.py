"""GitHub Copilot user-level usage metrics: day rows without tokens, CLI/app token rows, duplicates, rejects."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from tests.helpers import FIXTURES, by_developer, run_json
from tokenaudit.detectors import build_context
from tokenaudit.detectors.config import Flags, Leaderboard
from tokenaudit.ingest import Period, load_events
from tokenaudit.policy import Identity, Policy
from tokenaudit.readers import READERS, detect
from tokenaudit.readers.base import ReadContext, ReadResult
from tokenaudit.readers.copilot import CopilotUsageReader
from tokenaudit.readers.sources import Source, resolve

ROOT = FIXTURES / "copilot"
ONE_DAY = ROOT / "users-1-day_2026-03-02.ndjson"
TWENTY_EIGHT = ROOT / "users-28-day_2026-03-03.ndjson"


def read(*inputs: Path) -> ReadResult:
    sources = resolve([str(path) for path in inputs]).sources
    return CopilotUsageReader().read(sources, ReadContext(policy=Policy()))


def tokens(inp: int, out: int) -> dict[str, int]:
    return {"input": inp, "output": out, "cache_read": 0, "cache_write": 0, "total": inp + out}


def test_totals_per_login_are_exact_and_overlapping_reports_count_once() -> None:
    document = run_json("totals", str(ROOT))
    groups = by_developer(document)
    # ana-dev: IDE on 03-02 (in both reports) and 03-03; CLI tokens on 03-02 (both reports), app tokens 03-03.
    assert groups["ana-dev"]["tokens"] == tokens(21400 + 3000, 5000 + 700)
    assert groups["ana-dev"]["requests"] == 14 + 6 + 3  # IDE prompts 03-02, CLI requests 03-02, IDE prompts 03-03
    # bo-lee and cy-ng used Copilot only in the IDE: no tokens reported, so none are counted.
    assert groups["bo-lee"]["tokens"] == tokens(0, 0)
    assert groups["bo-lee"]["requests"] == 5
    assert groups["cy-ng"]["tokens"] == tokens(0, 0)
    # dan-ops used only the CLI.
    assert groups["dan-ops"]["tokens"] == tokens(52000, 3100)
    assert groups["dan-ops"]["requests"] == 11
    quality = document["data_quality"]
    assert quality["duplicates_dropped"] == 2
    assert quality["rows_rejected"] == 2
    # Copilot names no model and no price: every row is unpriced, never $0.
    assert {group["cost_usd"] for group in groups.values()} == {None}
    assert groups["dan-ops"]["unpriced_tokens"] == 52000 + 3100


def test_ide_rows_carry_acceptances_and_generations_not_accepted() -> None:
    events = read(ONE_DAY).events.filter(pl.col("tool") == "copilot").sort("developer")
    assert events.select("developer", "requests", "accepted", "rejected").rows() == [
        ("ana-dev", 14, 9, 22 - 9),
        ("bo-lee", 5, 31, 40 - 31),
        # cy-ng accepted 15 times from 12 generations (several actions on one block): nothing not accepted.
        ("cy-ng", 0, 15, 0),
    ]
    assert events.select(pl.sum_horizontal("input_tokens", "output_tokens", "cache_read_tokens")).sum().item() == 0
    assert events["cost_usd"].null_count() == events.height
    assert events["model"].null_count() == events.height


def test_rows_are_utc_days_with_one_key_per_user_day_and_surface() -> None:
    events = read(ONE_DAY).events.sort("developer", "tool")
    assert set(events["grain"]) == {"day"}
    assert {ts.isoformat() for ts in events["timestamp"]} == {"2026-03-02T00:00:00+00:00"}
    day = "2026-03-02 00:00:00.000000+00:00"
    assert events.select("tool", "dedup_key").rows() == [
        ("copilot", f"copilot:{day}|4412|ide"),
        ("copilot-cli", f"copilot:{day}|4412|cli"),
        ("copilot", f"copilot:{day}|4413|ide"),
        ("copilot", f"copilot:{day}|4414|ide"),
    ]
    cli = events.filter(pl.col("tool") == "copilot-cli")
    assert cli.select("input_tokens", "output_tokens", "requests", "accepted").row(0) == (21400, 5000, 6, None)


def test_an_app_row_has_tokens_but_no_requests_and_a_cli_only_day_has_no_ide_row() -> None:
    events = read(TWENTY_EIGHT).events.filter(pl.col("timestamp").dt.day() == 3).sort("developer", "tool")
    assert events.select("developer", "tool", "input_tokens", "output_tokens", "requests").rows() == [
        ("ana-dev", "copilot", 0, 0, 3),
        ("ana-dev", "copilot-app", 3000, 700, None),
        ("dan-ops", "copilot-cli", 52000, 3100, 11),
    ]


def test_rejects_name_the_field_and_the_line() -> None:
    rows = read(TWENTY_EIGHT).rejects.sort("source_line").iter_rows(named=True)
    assert [(Path(row["source_file"]).name, row["source_line"], row["reason"]) for row in rows] == [
        (TWENTY_EIGHT.name, 3, "user_initiated_interaction_count: expected a non-negative integer, got 'n/a'"),
        (TWENTY_EIGHT.name, 5, "not valid JSON (truncated or corrupted line)"),
    ]


def test_a_record_without_a_login_is_rejected_and_without_user_id_keys_on_the_login(tmp_path: Path) -> None:
    record = json.loads(ONE_DAY.read_text().splitlines()[1])
    no_login = {key: value for key, value in record.items() if key != "user_login"}
    no_id = {key: value for key, value in record.items() if key != "user_id"}
    path = tmp_path / "users.ndjson"
    path.write_text(json.dumps(no_login) + "\n" + json.dumps({**no_id, "user_login": "Bo-Lee"}) + "\n")
    result = read(path)
    assert result.rejects["reason"].to_list() == ["user_login: missing; expected a value"]
    assert result.events["dedup_key"].to_list() == ["copilot:2026-03-02 00:00:00.000000+00:00|login:bo-lee|ide"]


def test_a_json_array_of_records_is_read_too(tmp_path: Path) -> None:
    records = [json.loads(line) for line in ONE_DAY.read_text().splitlines()]
    path = tmp_path / "users.json"
    path.write_text(json.dumps(records, indent=2))
    assert read(path).events.height == read(ONE_DAY).events.height


def test_logins_map_to_people_through_the_policy() -> None:
    policy = Policy(identities={"ana@acme.io": Identity(team="payments", aliases=["ana-dev"])})
    events = load_events([str(ROOT)], policy, Period()).events
    assert set(events.filter(pl.col("developer") == "ana@acme.io")["tool"]) == {"copilot", "copilot-cli", "copilot-app"}


def test_day_rows_never_reach_the_timing_detectors_and_decisions_reach_rejected_work() -> None:
    loaded = load_events([str(ROOT)], Policy(), Period())
    developers = loaded.events.select("developer").unique().with_columns(team=pl.lit(None, pl.String))
    context = build_context(loaded.events, developers, Flags(), Leaderboard(), "UTC")
    assert context.requests.is_empty()
    decided = context.events.filter(pl.col("accepted").is_not_null())
    assert set(decided["tool"]) == {"copilot"}
    assert decided["accepted"].sum() == 9 + 31 + 15 + 2


def test_detection_picks_this_reader_only() -> None:
    context = ReadContext(policy=Policy())
    for source in resolve([str(ROOT)]).sources:
        assert detect(source, context).name == "copilot-usage"
        assert [reader.name for reader in READERS if reader.detect(source, context).matched] == ["copilot-usage"]


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b'{"download_links":["https://example.invalid/r.ndjson"],"report_day":"2026-03-02"}', "download_links"),
        (b'[{"day_totals":[{"day":"2026-03-02","daily_active_users":2}],"enterprise_id":"1"}]', "no per-user rows"),
        (b'{"day":"2026-03-02","user_id":1,"user_login":"ana-dev","team_id":7,"slug":"payments"}', "user-teams"),
    ],
)
def test_other_copilot_reports_say_what_they_are(content: bytes, says: str) -> None:
    detection = CopilotUsageReader().detect(Source(name="report.json", data=content), ReadContext(policy=Policy()))
    assert not detection.matched
    assert says in detection.detail


def test_input_format_override() -> None:
    document = run_json("totals", str(ONE_DAY), "--input-format", "copilot-usage")
    assert by_developer(document)["ana-dev"]["tokens"] == tokens(21400, 5000)
