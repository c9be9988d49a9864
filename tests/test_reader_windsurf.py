"""Windsurf Cascade analytics: day rows of messages per user and conversation, no invented tokens."""

from __future__ import annotations

import polars as pl
import pytest

from tests.helpers import FIXTURES, by_developer, run_cli, run_json
from tokenaudit.errors import InputError
from tokenaudit.policy import Policy
from tokenaudit.readers import detect
from tokenaudit.readers.base import ReadContext
from tokenaudit.readers.sources import resolve
from tokenaudit.readers.windsurf import WindsurfCascadeReader

ROOT = FIXTURES / "windsurf"
EXPORTS = ROOT / "exports"


def test_messages_per_user_and_day_without_tokens() -> None:
    document = run_json("totals", str(EXPORTS))
    groups = by_developer(document)
    # ana: 12 + 3 messages on 2 March, 5 on 3 March (in both overlapping exports: once), 7 on 4 March.
    assert groups["ana@acme.io"]["requests"] == 12 + 3 + 5 + 7
    assert groups["ana@acme.io"]["active_days"] == 3
    assert groups["ana@acme.io"]["tokens"]["total"] == 0
    assert groups["ana@acme.io"]["cost_usd"] is None  # credits are not dollars: unpriced, never $0
    assert groups["bo@acme.io"]["requests"] == 9
    quality = document["data_quality"]
    assert quality["duplicates_dropped"] == 1
    assert quality["rows_rejected"] == 1
    assert quality["unpriced_models"] == []  # rows without tokens have no per-token price to miss


def test_rows_are_day_grain_conversations_with_their_model() -> None:
    sources = resolve([str(EXPORTS)]).sources
    events = WindsurfCascadeReader().read(sources, ReadContext(policy=Policy())).events
    row = events.filter(pl.col("session_id") == "c0a1b2c3-0000-4000-8000-000000000003").row(0, named=True)
    assert (row["developer"], row["model"], row["requests"], row["grain"], row["tool"]) == (
        "ana@acme.io",
        "GPT-5 (high reasoning)",
        7,
        "day",
        "windsurf",
    )
    assert row["timestamp"].isoformat() == "2026-03-04T00:00:00+00:00"


def test_a_bad_count_is_rejected_by_name() -> None:
    result = run_cli("totals", str(EXPORTS), "--format", "csv")
    assert "messagesSent: expected a non-negative integer, got 'many'" in result.stderr


def test_an_answer_without_an_owner_is_refused() -> None:
    source = resolve([str(next(EXPORTS.rglob("cascade-2026-03.json")))]).sources[0]
    orphan = source.__class__(name="team-wide.json", data=source.read_bytes())
    with pytest.raises(InputError, match="cannot tell whose log this is"):
        WindsurfCascadeReader().read([orphan], ReadContext(policy=Policy()))
    owned = WindsurfCascadeReader().read([orphan], ReadContext(policy=Policy(), developer="cy@acme.io")).events
    assert owned["developer"].unique().to_list() == ["cy@acme.io"]


def test_other_windsurf_answers_are_named_not_misread() -> None:
    source = resolve([str(ROOT / "user_page.json")]).sources[0]
    detection = WindsurfCascadeReader().detect(source, ReadContext(policy=Policy()))
    assert not detection.matched
    assert "UserPageAnalytics" in detection.detail
    for cascade in resolve([str(EXPORTS)]).sources:
        assert detect(cascade, ReadContext(policy=Policy())).name == "windsurf-cascade"
