"""Prices from genai-prices: per-event periods, long-context tiers per request, 1-hour cache writes, no siblings.

Every figure below is worked out by hand from the vendors' list prices (US dollars per million tokens), and a
grid of cases is checked against genai-prices' own ``calc_price`` (the source's reference calculation).
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from genai_prices import Usage, calc_price

from tests.helpers import FIXTURES, by_developer, run_cli, run_json
from tokenaudit.ingest import Period, load_events
from tokenaudit.policy import ModelPrice, Policy
from tokenaudit.pricing import apply_prices, price_for
from tokenaudit.schema import conform

SESSION = FIXTURES / "claude_home" / ".claude" / "projects" / "-home-dee-src-web"
SESSION = SESSION / "7d3f9a2e-1c4b-4e8a-9f60-2b5d8c1e7a34.jsonl"


def _priced(rows: list[dict[str, object]], overrides: dict[str, ModelPrice] | None = None) -> list[float | None]:
    defaults = {"input_tokens": 0, "output_tokens": 0, "cache_read_tokens": 0, "cache_write_tokens": 0}
    frame = pl.DataFrame([{**defaults, "grain": "request", **row} for row in rows])
    priced = conform(frame.lazy()).pipe(apply_prices, overrides or {}).collect()
    return priced["cost_usd"].to_list()


def _at(day: str) -> dt.datetime:
    return dt.datetime.fromisoformat(f"{day}T12:00:00+00:00")


def test_opus_4_6_takes_its_own_price_not_opus_4s() -> None:
    [cost] = _priced(
        [{"timestamp": _at("2026-04-01"), "model": "claude-opus-4-6", "input_tokens": 1000, "output_tokens": 2000}]
    )
    assert cost == pytest.approx((1000 * 5 + 2000 * 25) / 1e6)  # not (1000 * 15 + 2000 * 75) / 1e6
    [older] = _priced([{"timestamp": _at("2026-04-01"), "model": "claude-opus-4-20250514", "input_tokens": 1000}])
    assert older == pytest.approx(1000 * 15 / 1e6)


def test_a_model_newer_than_the_price_data_stays_unpriced() -> None:
    for model in ("claude-opus-4-9", "claude-sonnet-4-9-20270101", "gpt-6-codex", "composer-1"):
        assert price_for(model, {}) is None, model
        assert _priced([{"timestamp": _at("2026-04-01"), "model": model, "input_tokens": 10}]) == [None]


def test_one_hour_cache_writes_cost_twice_input_five_minute_ones_a_quarter_more() -> None:
    # D1 in the transcript: sonnet 4.5, 10 in, 200 out, 5,000 cache read, 1,000 5-minute + 2,000 1-hour writes.
    events = load_events([str(SESSION)], Policy(), Period(), developer="dee@acme.io").events
    d1 = events.filter(pl.col("request_id") == "req_011DeeD1")
    assert d1.select("cache_write_tokens", "cache_write_1h_tokens").row(0) == (3000, 2000)
    assert d1["cost_usd"].item() == pytest.approx((10 * 3 + 200 * 15 + 5000 * 0.3 + 1000 * 3.75 + 2000 * 6) / 1e6)


def test_a_request_over_the_long_context_threshold_pays_the_tier_rates_on_all_its_tokens() -> None:
    rows = [
        # 1M input + 1M output of sonnet 4.5 in one request: $6 + $22.50 (genai-prices' figure: $28.50).
        {"model": "claude-sonnet-4-5", "input_tokens": 1_000_000, "output_tokens": 1_000_000},
        # Exactly 200,000 input tokens (uncached + cached) is not over the threshold: base rates.
        {"model": "claude-sonnet-4-5", "input_tokens": 1000, "cache_read_tokens": 199_000, "output_tokens": 1000},
        # One more cached token and the whole request is priced at the tier.
        {"model": "claude-sonnet-4-5", "input_tokens": 1000, "cache_read_tokens": 199_001, "output_tokens": 1000},
        # A day bucket of many requests cannot tell one request's size: base rates.
        {"model": "claude-sonnet-4-5", "input_tokens": 1_000_000, "output_tokens": 1_000_000, "grain": "day"},
    ]
    costs = _priced([{"timestamp": _at("2026-04-01"), **row} for row in rows])
    assert costs == pytest.approx(
        [
            28.5,
            (1000 * 3 + 199_000 * 0.3 + 1000 * 15) / 1e6,
            (1000 * 6 + 199_001 * 0.6 + 1000 * 22.5) / 1e6,
            18.0,
        ]
    )


def test_each_event_pays_the_price_of_its_own_date() -> None:
    # claude-opus-4-6 had long-context tiers until 2026-03-12; from 2026-03-13 its whole 1M window is flat.
    request = {"model": "claude-opus-4-6", "input_tokens": 300_000, "output_tokens": 1000}
    before, after = _priced([{"timestamp": _at("2026-03-12"), **request}, {"timestamp": _at("2026-03-13"), **request}])
    assert before == pytest.approx((300_000 * 10 + 1000 * 37.5) / 1e6)
    assert after == pytest.approx((300_000 * 5 + 1000 * 25) / 1e6)


def test_off_peak_hours_are_priced_by_the_events_time_of_day() -> None:
    applied = price_for("deepseek-chat", {})
    assert applied is not None
    assert [period.applies for period in applied.periods] == ["other hours", "00:30-16:30 UTC"]
    request = {"model": "deepseek-chat", "input_tokens": 1_000_000}
    at = [dt.datetime(2026, 4, 1, hour, minute, tzinfo=dt.UTC) for hour, minute in ((0, 29), (0, 30), (16, 30))]
    costs = _priced([{"timestamp": when, **request} for when in at])
    assert costs == pytest.approx([0.135, 0.27, 0.135])


@pytest.mark.parametrize(
    ("model", "source_model", "provider", "rates"),
    [
        ("gpt-5-codex", "gpt-5", "openai", (1.25, 10.0, 0.125)),
        ("gpt-5.2-codex", "gpt-5.2", "openai", (1.75, 14.0, 0.175)),
        ("claude-4.5-sonnet-thinking", "claude-sonnet-4-5", "anthropic", (3.0, 15.0, 0.3)),
        ("gpt-5-high", "gpt-5", "openai", (1.25, 10.0, 0.125)),
        (
            "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
            "regional.anthropic.claude-sonnet-4-5-20250929-v1:0",
            "aws",
            (3.3, 16.5, 0.33),
        ),
        ("claude-sonnet-4-5@20250929", "claude-sonnet-4-5", "google", (3.0, 15.0, 0.3)),
        ("composer-2.5", "composer-2.5", "cursor", (0.5, 2.5, 0.2)),
    ],
)
def test_codex_cursor_bedrock_and_vertex_ids_are_priced_as_the_source_names_them(
    model: str, source_model: str, provider: str, rates: tuple[float, float, float]
) -> None:
    applied = price_for(model, {})
    assert applied is not None
    assert (applied.source_model, applied.provider) == (source_model, provider)
    base = applied.periods[-1].tiers[0][1]
    assert (base.input, base.output, base.cache_read) == rates


def test_policy_prices_win_for_the_exact_name_and_its_dated_ids_only() -> None:
    overrides = {"claude-opus-4-6": ModelPrice(input=1, output=2, cache_read=0.1, cache_write=1.5, cache_write_1h=3)}
    when = _at("2026-04-01")
    rows = [
        {"model": "claude-opus-4-6", "input_tokens": 1000, "cache_write_tokens": 300, "cache_write_1h_tokens": 100},
        {"model": "claude-opus-4-6-20260205", "output_tokens": 1000},
        {"model": "acme-opus-4-6-tuned", "output_tokens": 1000},
    ]
    costs = _priced([{"timestamp": when, **row} for row in rows], overrides)
    assert costs == [pytest.approx((1000 * 1 + 200 * 1.5 + 100 * 3) / 1e6), pytest.approx(2000 / 1e6), None]
    internal = {"acme-internal": ModelPrice(input=1, output=1, cache_read=1, cache_write=1)}
    costs = _priced(
        [
            {"timestamp": when, "model": name, "input_tokens": 1}
            for name in ("acme-internal-20260101", "acme-internal-2")
        ],
        internal,
    )
    assert costs == [pytest.approx(1e-6), None]  # a dated id takes its model's price; a sibling does not


def test_costs_match_the_price_sources_own_calculation() -> None:
    """A grid of models, dates and usages: every cost equals genai-prices' ``calc_price`` to the nano-dollar."""
    models = ["claude-sonnet-4-5-20250929", "claude-opus-4-6", "claude-haiku-4-5-20251001", "gpt-5-codex", "o3"]
    days = ["2026-01-15", "2026-03-12", "2026-03-13", "2026-10-20"]
    usages = [
        (10, 200, 5000, 1000, 2000),
        (150_000, 3000, 60_000, 0, 0),
        (1000, 500, 0, 40_000, 40_000),
        (0, 0, 0, 0, 0),
    ]
    rows, expected = [], []
    for model in models:
        for day in days:
            for uncached, output, read, write, write_1h in usages:
                rows.append(
                    {
                        "timestamp": _at(day),
                        "model": model,
                        "input_tokens": uncached,
                        "output_tokens": output,
                        "cache_read_tokens": read,
                        "cache_write_tokens": write + write_1h,
                        "cache_write_1h_tokens": write_1h,
                    }
                )
                usage = Usage(
                    input_tokens=uncached + read + write + write_1h,
                    output_tokens=output,
                    cache_read_tokens=read,
                    cache_write_tokens=write + write_1h,
                    cache_write_1h_tokens=write_1h,
                )
                total = calc_price(usage, model, genai_request_timestamp=_at(day)).total_price
                expected.append(None if uncached + output + read + write + write_1h == 0 else total)
    for cost, reference in zip(_priced(rows), expected, strict=True):
        if reference is None:
            assert cost is None
        else:
            assert cost is not None
            assert abs(Decimal(repr(cost)) - reference) < Decimal("1e-9")


def test_prices_command_shows_the_price_and_its_source(tmp_path: Path) -> None:
    document = run_json("prices", "claude-opus-4-6", "composer-1")
    opus, composer = document["models"]
    assert document["price_source"]["package"] == "genai-prices"
    assert (opus["source"].split()[0], opus["provider"], opus["source_model"]) == (
        "genai-prices",
        "anthropic",
        "claude-opus-4-6",
    )
    assert [period["applies"] for period in opus["periods"]] == ["before 2026-03-13", "from 2026-03-13"]
    latest = opus["periods"][-1]["tiers"]
    assert latest == [
        {
            "above_input_tokens": 0,
            "input": 5.0,
            "output": 25.0,
            "cache_read": 0.5,
            "cache_write_5m": 6.25,
            "cache_write_1h": 10.0,
        }
    ]
    assert composer == {"model": "composer-1", "source": None, "provider": None, "source_model": None, "periods": []}
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "pricing:\n  models:\n    composer-1: {input: 1.25, output: 10, cache_read: 0.125, cache_write: 1.25}\n"
    )
    overridden = run_json("prices", "composer-1", "--policy", str(policy))["models"][0]
    assert overridden["source"] == "policy"
    assert overridden["periods"][0]["tiers"][0]["output"] == 10.0
    table = run_cli("prices", "claude-opus-4-6", "--format", "table")
    assert table.exit_code == 0
    assert "upgrade the package to update it" in table.stdout


def test_claude_code_transcript_costs_on_the_real_layout_fixture() -> None:
    document = run_json("totals", str(SESSION.parent.parent), "--owner", "dee@acme.io")
    sonnet = (
        (10 * 3 + 200 * 15 + 5000 * 0.3 + 1000 * 3.75 + 2000 * 6)  # D1
        + (5 * 3 + 50 * 15 + 8000 * 0.3)  # D2
        + (8 * 3 + 400 * 15 + 9000 * 0.3 + 500 * 3.75)  # D3
        + (3 * 3 + 30 * 15 + 100 * 3.75)  # E1 (no 5m/1h split: all writes are 5-minute)
        + (4 * 3 + 40 * 15 + 600 * 0.3)  # E2
    )
    haiku = (40 * 1 + 60 * 5 + 1000 * 0.1 + 200 * 1.25) + (70 * 1 + 90 * 5 + 2000 * 0.1 + 300 * 1.25)  # SA1, SB1
    assert by_developer(document)["dee@acme.io"]["cost_usd"] == round((sonnet + haiku) / 1e6, 6)
    assert json.dumps(document["data_quality"]["unpriced_models"]) == "[]"
