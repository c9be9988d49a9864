"""Cursor: Admin API usage events and daily usage, and the dashboard CSV: exact totals, costs, duplicates, rejects."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from tests.helpers import FIXTURES, by_developer, run_cli, run_json
from tokenaudit.detectors import build_context
from tokenaudit.detectors.config import Flags, Leaderboard
from tokenaudit.ingest import Period, load_events
from tokenaudit.policy import Policy
from tokenaudit.readers import READERS, detect
from tokenaudit.readers.base import ReadContext, ReadResult
from tokenaudit.readers.cursor import CursorCsvReader, CursorDailyUsageReader, CursorUsageEventsReader
from tokenaudit.readers.sources import Source, resolve

ROOT = FIXTURES / "cursor"
EVENTS = ROOT / "events"
PAGE_1 = EVENTS / "usage_events_2026-03-02_p1.json"
PAGE_2 = EVENTS / "usage_events_2026-03-02_p2.json"
RERUN = EVENTS / "usage_events_rerun.jsonl"
DAILY = ROOT / "daily"
DAILY_PAGE = DAILY / "daily_usage_2026-03-02.json"
DAILY_RERUN = DAILY / "daily_usage_rerun.jsonl"
CSV = ROOT / "csv"
TEAM_CSV = CSV / "usage_export_team.csv"
LEGACY_CSV = CSV / "usage_export_legacy.csv"
PERSONAL_CSV = ROOT / "personal" / "usage_export_personal.csv"

LEGACY_REASON = (
    "Tokens: the legacy export gives only a total, with no split into input, output and cache tokens; "
    "re-export the usage CSV from the dashboard (current exports have the split)"
)

Reader = CursorUsageEventsReader | CursorDailyUsageReader | CursorCsvReader


def read(reader: Reader, *inputs: Path, developer: str | None = None) -> ReadResult:
    sources = resolve([str(path) for path in inputs]).sources
    return reader.read(sources, ReadContext(policy=Policy(), developer=developer))


def tokens(inp: int, out: int, cache_read: int, cache_write: int) -> dict[str, int]:
    total = inp + out + cache_read + cache_write
    return {"input": inp, "output": out, "cache_read": cache_read, "cache_write": cache_write, "total": total}


def rejects_of(result: ReadResult) -> list[tuple[str, int, str]]:
    rows = result.rejects.sort("source_file", "source_line", "reason").iter_rows(named=True)
    return [(Path(row["source_file"]).name, row["source_line"], row["reason"]) for row in rows]


# ---------------------------------------------------------------------------------------- usage events


def test_event_totals_per_developer_are_exact_and_overlapping_pages_count_once() -> None:
    document = run_json("totals", str(EVENTS))
    groups = by_developer(document)
    # ana: two token-billed events on page 1, an unknown model on page 2, one event on 03-03 (rerun line 1).
    assert groups["ana@acme.io"]["tokens"] == tokens(
        5400 + 126 + 800 + 200, 700 + 450 + 200 + 50, 41000 + 11964 + 1000, 9000 + 6112
    )
    assert groups["ana@acme.io"]["requests"] == 4
    # bo: one token-billed event and one billed in request units (no tokens); both repeated on page 2.
    assert groups["bo@acme.io"]["tokens"] == tokens(3000, 1200, 20000, 0)
    assert groups["bo@acme.io"]["requests"] == 2
    # cy: on page 2 and again in the rerun file.
    assert groups["cy@acme.io"]["tokens"] == tokens(1000, 100, 5000, 0)
    quality = document["data_quality"]
    assert quality["duplicates_dropped"] == 3
    assert quality["rows_rejected"] == 3
    assert quality["unpriced_models"] == ["cursor-small-preview"]


def test_cents_become_dollars_exactly_and_an_unknown_cost_stays_null() -> None:
    events = read(CursorUsageEventsReader(), PAGE_1, PAGE_2).events.unique("dedup_key").sort("timestamp")
    costs = dict(zip(events["model"] + "@" + events["timestamp"].dt.strftime("%H:%M"), events["cost_usd"], strict=True))
    assert costs["claude-4.5-sonnet@09:00"] == 0.1234  # chargedCents 12.34
    assert (
        costs["claude-4.5-sonnet@09:30"] == 0.2136232
    )  # chargedCents 21.36232, not 21.36232 / 100 = 0.21362319999999999
    assert costs["claude-4-sonnet-thinking@11:00"] == 0.08  # request-billed, chargedCents 8
    # No chargedCents: totalCents less its 10 % discount, plus the Cursor Token Fee (the docs' own formula).
    assert costs["gpt-5@10:00"] == pytest.approx((40.167 * 0.9 + 1.18) / 100)
    # Neither chargedCents nor totalCents: unknown, and the model is not in the price table either.
    assert costs["cursor-small-preview@14:00"] is None

    document = run_json("totals", str(EVENTS))
    groups = by_developer(document)
    assert groups["ana@acme.io"]["cost_usd"] == round(0.1234 + 0.2136232 + 0.0125, 6)
    assert groups["ana@acme.io"]["unpriced_tokens"] == 800 + 200
    assert groups["bo@acme.io"]["cost_usd"] == pytest.approx(0.373303 + 0.08)
    assert groups["cy@acme.io"]["cost_usd"] == 0.035


def test_a_request_billed_event_without_a_cost_is_unpriced_not_free(tmp_path: Path) -> None:
    # Older exports have no chargedCents; with no tokens either, the price table has nothing to price.
    event = {**json.loads(PAGE_1.read_text())["usageEvents"][3], "model": "claude-4.5-sonnet"}
    del event["chargedCents"]
    path = tmp_path / "old_export.jsonl"
    path.write_text(json.dumps(event) + "\n")
    events = load_events([str(path)], Policy(), Period()).events
    assert events.select("input_tokens", "requests", "cost_usd").row(0) == (0, 1, None)


def test_events_are_request_rows_keyed_without_kind() -> None:
    events = read(CursorUsageEventsReader(), PAGE_1).events.sort("timestamp")
    assert set(events["grain"]) == {"request"}
    assert set(events["tool"]) == {"cursor"}
    assert events["requests"].to_list() == [1, 1, 1, 1]
    assert events["timestamp"][1].isoformat() == "2026-03-02T09:30:00.125000+00:00"
    assert events["dedup_key"].to_list() == [
        "cursor:ana@acme.io|1772442000000|claude-4.5-sonnet|5400|700|41000|9000",
        "cursor:ana@acme.io|1772443800125|claude-4.5-sonnet|126|450|11964|6112",
        "cursor:bo@acme.io|1772445600000|gpt-5|3000|1200|20000|0",
        "cursor:bo@acme.io|1772449200000|claude-4-sonnet-thinking|0|0|0|0",
    ]
    # A pretty-printed page numbers its events by position; a JSON Lines page by its line.
    assert events["source_line"].to_list() == [1, 2, 3, 4]
    assert set(read(CursorUsageEventsReader(), RERUN).events["source_line"]) == {1}


def test_event_rejects_name_the_field_and_the_line() -> None:
    assert rejects_of(read(CursorUsageEventsReader(), RERUN)) == [
        (RERUN.name, 2, "tokenUsage.outputTokens: expected a non-negative integer, got '12.5'"),
        (RERUN.name, 2, "tokenUsage: missing although isTokenBasedCall is true"),
        (RERUN.name, 3, "not valid JSON (truncated or corrupted line)"),
    ]


def test_bare_events_as_json_lines_are_read_too(tmp_path: Path) -> None:
    events = json.loads(PAGE_1.read_text())["usageEvents"]
    path = tmp_path / "events.jsonl"
    path.write_text("".join(json.dumps(event) + "\n" for event in events))
    source = resolve([str(path)]).sources[0]
    assert detect(source, ReadContext(policy=Policy())).name == "cursor-events"
    assert read(CursorUsageEventsReader(), path).events["source_line"].to_list() == [1, 2, 3, 4]


# ---------------------------------------------------------------------------------------- daily usage


def test_daily_rows_are_zero_token_days_with_requests_and_decisions() -> None:
    document = run_json("totals", str(DAILY))
    groups = by_developer(document)
    # ana: 03-02 (20 included + 3 usage-based requests) and 03-03 (8 + 1), the latter also in the rerun.
    assert groups["ana@acme.io"]["tokens"] == tokens(0, 0, 0, 0)
    assert groups["ana@acme.io"]["requests"] == 23 + 9
    assert groups["ana@acme.io"]["active_days"] == 2
    # bo: 03-02 (15), and 03-03 from an older export without the paid-by split (4 + 2 + 1 + 0 by feature).
    assert groups["bo@acme.io"]["requests"] == 15 + 7
    # cy was listed only as an inactive member: no row, so no active day.
    assert "cy@acme.io" not in groups
    assert groups["ana@acme.io"]["cost_usd"] is None  # no cost in this report: unknown, not $0
    assert document["data_quality"]["duplicates_dropped"] == 1

    events = load_events([str(DAILY)], Policy(), Period()).events.sort("developer", "timestamp")
    assert set(events["grain"]) == {"day"}
    assert events["model"].null_count() == events.height
    assert events.select("developer", "accepted", "rejected").rows() == [
        ("ana@acme.io", 27, 4),
        ("ana@acme.io", 5, 1),
        ("bo@acme.io", 10, 6),
        ("bo@acme.io", 3, 0),
    ]


def test_daily_dedup_key_is_the_utc_day_and_email() -> None:
    events = read(CursorDailyUsageReader(), DAILY_PAGE).events.sort("developer", "timestamp")
    assert events["dedup_key"].to_list() == [
        "cursor-daily:2026-03-02 00:00:00.000000+00:00|ana@acme.io",
        "cursor-daily:2026-03-03 00:00:00.000000+00:00|ana@acme.io",
        "cursor-daily:2026-03-02 00:00:00.000000+00:00|bo@acme.io",
    ]


def test_daily_rejects_name_the_field_and_the_line() -> None:
    assert rejects_of(read(CursorDailyUsageReader(), DAILY_RERUN)) == [
        (DAILY_RERUN.name, 2, "email: missing; expected a value"),
        (DAILY_RERUN.name, 3, "totalAccepts: expected a non-negative integer, got 'many'"),
    ]


def test_timing_detectors_see_daily_rows_as_day_grain() -> None:
    # Only request rows reach the timing detectors; Cursor's daily rows never do.
    loaded = load_events([str(DAILY)], Policy(), Period())
    developers = loaded.events.select("developer").unique().with_columns(team=pl.lit(None, pl.String))
    context = build_context(loaded.events, developers, Flags(), Leaderboard(), "UTC")
    assert context.requests.is_empty()
    assert context.events.height == loaded.events.height


# ---------------------------------------------------------------------------------------- dashboard CSV


def test_csv_totals_costs_and_rejects() -> None:
    document = run_json("totals", str(CSV))
    groups = by_developer(document)
    # ana: a usage-based row ($0.12) and an included row without an amount (priced: sonnet list prices).
    assert groups["ana@acme.io"]["tokens"] == tokens(5400 + 1000, 700 + 100, 41000 + 2000, 9000)
    assert groups["ana@acme.io"]["cost_usd"] == round(0.12 + (1000 * 3 + 100 * 15 + 2000 * 0.3) / 1e6, 6)
    assert groups["bo@acme.io"]["tokens"] == tokens(1500, 250, 0, 0)
    # An errored request: every token cell empty, one request with zero tokens and its stated $0.
    assert groups["dan@acme.io"]["tokens"] == tokens(0, 0, 0, 0)
    assert groups["dan@acme.io"]["requests"] == 1
    assert groups["dan@acme.io"]["cost_usd"] == 0.0
    assert rejects_of(read(CursorCsvReader(), TEAM_CSV, LEGACY_CSV)) == [
        (LEGACY_CSV.name, 2, LEGACY_REASON),
        (TEAM_CSV.name, 5, "Total Tokens: 999 is not the sum of the four token columns (1000)"),
        (TEAM_CSV.name, 7, "has 7 fields; the header has 11 (the file ends mid-row: truncated?)"),
    ]


def test_a_csv_row_and_the_same_api_event_count_once() -> None:
    document = run_json("totals", str(PAGE_1), str(TEAM_CSV))
    assert document["data_quality"]["duplicates_dropped"] == 1
    events = read(CursorCsvReader(), TEAM_CSV).events
    assert events["dedup_key"][0] == "cursor:ana@acme.io|1772442000000|claude-4.5-sonnet|5400|700|41000|9000"


def test_a_personal_csv_needs_developer() -> None:
    result = run_cli("totals", str(PERSONAL_CSV), "--format", "json")
    assert result.exit_code == 3
    assert "pass --owner NAME" in result.stderr
    events = read(CursorCsvReader(), PERSONAL_CSV, developer="eve@acme.io").events
    assert events["developer"].to_list() == ["eve@acme.io", "eve@acme.io"]
    assert events["session_id"].to_list() == ["bc-7f3a", None]
    assert events["cache_write_tokens"].to_list() == [1200, 0]


# ---------------------------------------------------------------------------------------- detection


@pytest.mark.parametrize(("folder", "name"), [(EVENTS, "cursor-events"), (DAILY, "cursor-daily"), (CSV, "cursor-csv")])
def test_detection_picks_exactly_one_reader(folder: Path, name: str) -> None:
    context = ReadContext(policy=Policy())
    for source in resolve([str(folder)]).sources:
        assert detect(source, context).name == name
        assert [reader.name for reader in READERS if reader.detect(source, context).matched] == [name]


def test_input_format_override_and_the_private_dashboard_answer() -> None:
    forced = run_json("totals", str(PAGE_1), "--input-format", "cursor-events")
    assert by_developer(forced)["bo@acme.io"]["requests"] == 2
    private = Source(
        name="dashboard.json", data=b'{"totalUsageEventsCount":1,"usageEventsDisplay":[{"timestamp":"1"}]}'
    )
    detection = CursorUsageEventsReader().detect(private, ReadContext(policy=Policy()))
    assert not detection.matched
    assert "usageEventsDisplay" in detection.detail


def test_daily_rows_without_tokens_are_not_listed_as_unpriced_models() -> None:
    document = run_json("totals", str(FIXTURES / "cursor" / "daily"))
    assert document["data_quality"]["unpriced_models"] == []


ERRORED = FIXTURES / "cursor" / "errored"


def test_errored_no_charge_requests_cost_nothing_and_count_apart_from_usage() -> None:
    """eli's sonnet request of 30,000 in, 12,000 cache read, 1,500 out failed ("Errored, No Charge", cost
    "Included"): it was priced at list price ($0.1161) and counted in his tokens. Now: $0, out of the totals,
    reported as errored_tokens; its copy in the API page (chargedCents 0) is the same request."""
    document = run_json("totals", str(ERRORED))
    groups = by_developer(document)
    assert groups["eli@acme.io"]["tokens"] == tokens(1000, 200, 0, 0)
    assert groups["eli@acme.io"]["cost_usd"] == 0.01
    assert groups["eli@acme.io"]["errored_tokens"] == 30000 + 12000 + 1500
    assert groups["eli@acme.io"]["requests"] == 2
    assert document["data_quality"]["duplicates_dropped"] == 1  # the API page's copy
    # fin's only request failed (cost "-"): nothing counts, nothing is priced, nothing is unpriced.
    assert groups["fin@acme.io"]["tokens"] == tokens(0, 0, 0, 0)
    assert (groups["fin@acme.io"]["cost_usd"], groups["fin@acme.io"]["unpriced_tokens"]) == (0.0, 0)
    assert groups["fin@acme.io"]["errored_tokens"] == 2000 + 4000 + 500
    audit = by_developer(run_json("audit", str(ERRORED)))
    assert audit["eli@acme.io"]["errored_tokens"] == 43500
    assert audit["eli@acme.io"]["tokens"]["total"] == 1200
