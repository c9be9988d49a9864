"""The audit context's cheaper layouts give what the plain sorts and group-bys gave.

Each helper of :func:`~tokenaudit.detectors.build_context` is checked against the straightforward computation it
replaced, on small frames with developers interleaved in time, rows out of time order, timestamp ties, rows that are
not requests, columns without a value, and no rows at all.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from tests.synthetic import events, human_offsets
from tokenaudit.detectors import build_context, developer_totals
from tokenaudit.detectors.base import developer_runs, sorted_requests, with_inferred_sessions
from tokenaudit.detectors.config import Flags, Leaderboard
from tokenaudit.metrics import usage_cube
from tokenaudit.schema import TOKEN_COLUMNS


def mixed_events(seed: int) -> pl.DataFrame:
    """Four developers' requests interleaved in time (some rows swapped out of order, some timestamps tied), a
    day-grain row, a session-less stretch, prompt turns on one developer only."""
    rng = np.random.default_rng(seed)
    parts = [
        events(f"dev{i}", human_offsets(seed + i, days=6, per_day=12), session_every=3 + i, team=None if i else "a")
        for i in range(4)
    ]
    parts[1] = parts[1].with_columns(
        turn=pl.when(pl.int_range(pl.len()) % 4 == 0).then(pl.lit("prompt")),
        session_id=pl.when(pl.int_range(pl.len()) % 5 == 0).then(None).otherwise(pl.col("session_id")),
    )
    parts[2] = parts[2].with_columns(pl.col("timestamp").first().alias("timestamp"))  # every row tied
    frame = pl.concat(parts).sort("timestamp", "developer")
    swapped = rng.permutation(frame.height)[:6]
    frame = (
        frame.with_row_index("_i")
        .with_columns(
            pl.when(pl.col("_i").is_in(swapped.tolist()))
            .then(pl.col("timestamp") - dt.timedelta(hours=30))
            .otherwise(pl.col("timestamp"))
            .alias("timestamp")
        )
        .drop("_i")
    )
    day_row = frame.head(1).with_columns(grain=pl.lit("day"), developer=pl.lit("dev9"))
    return pl.concat([frame.head(20), day_row, frame.slice(20)])


def sorted_by_a_sort(frame: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """:func:`sorted_requests` as it was: the request rows copied, sorted by (dev, timestamp), ties in input order."""
    developer = pl.col("developer").cast(pl.Categorical)
    coded = (
        frame.lazy()
        .filter(pl.col("grain") == "request")
        .select(
            developer.to_physical().alias("dev"),
            developer,
            "timestamp",
            "tool",
            "model",
            "session_id",
            "prompt_hash",
            "prompt_signature",
            "turn",
            *TOKEN_COLUMNS,
        )
        .collect()
    )
    codes = coded.select(pl.col("developer").unique()).select(
        pl.col("developer").to_physical().alias("dev"), pl.col("developer").cast(pl.String)
    )
    requests = with_inferred_sessions(coded.drop("developer").sort("dev", "timestamp", maintain_order=True))
    session = pl.col("dev").cast(pl.UInt64) * (1 << 32) + pl.col("session_id").cast(pl.Categorical).to_physical()
    return requests.with_columns(session=session).with_columns(
        opens_session=pl.col("session").is_not_null() & pl.col("session").is_first_distinct()
    ), codes


def numbered(requests: pl.DataFrame) -> pl.DataFrame:
    """``requests`` with each session code replaced by its first row's number: Polars numbers categories per cast,
    so only the rows a code groups are compared."""
    first_row = pl.int_range(pl.len(), dtype=pl.UInt64).first().over("session")
    return requests.with_columns(session=pl.when(pl.col("session").is_not_null()).then(first_row))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sorted_requests_by_developer_runs_equal_a_sort_of_every_request(seed: int) -> None:
    frame = mixed_events(seed)
    requests, codes = sorted_requests(frame)
    expected, expected_codes = sorted_by_a_sort(frame)
    assert_frame_equal(numbered(requests), numbered(expected))
    assert requests["session"].null_count() == requests["session_id"].null_count() > 0
    assert_frame_equal(codes.sort("dev"), expected_codes.sort("dev"))
    assert "dev9" not in codes["developer"].to_list()  # a developer without requests has no code
    in_order = frame.filter(pl.col("grain") == "request").sort("timestamp", maintain_order=True)
    assert_frame_equal(numbered(sorted_requests(in_order)[0]), numbered(sorted_by_a_sort(in_order)[0]))
    empty, no_codes = sorted_requests(frame.clear())
    assert_frame_equal(empty, sorted_by_a_sort(frame.clear())[0])
    assert no_codes.is_empty()


def test_developer_runs_explode_to_a_stable_sort() -> None:
    dev = pl.Series("dev", np.random.default_rng(4).integers(0, 6, 300).astype(np.uint32))
    runs = developer_runs(dev)
    assert runs["rows"].explode().to_list() == np.argsort(dev.to_numpy(), kind="stable").tolist()
    assert runs["dev"].to_list() == sorted(set(dev.to_list()))
    assert developer_runs(dev.clear()).is_empty()


@pytest.mark.parametrize("timezone", ["UTC", "America/Los_Angeles", "Asia/Kolkata"])
def test_developer_totals_from_the_usage_cube_equal_those_of_every_event(timezone: str) -> None:
    frame = mixed_events(2)
    from_events = developer_totals(frame, timezone).collect().sort("developer")
    from_cube = developer_totals(frame, timezone, usage_cube(frame, timezone)).collect().sort("developer")
    assert_frame_equal(from_cube, from_events)
    assert from_events.height == 5
    flags, board = Flags(), Leaderboard()
    developers = frame.group_by("developer").agg(pl.col("team").first())
    plain = build_context(frame, developers, flags, board, timezone)
    cubed = build_context(frame, developers, flags, board, timezone, usage=usage_cube(frame, timezone))
    assert_frame_equal(cubed.developers, plain.developers)
