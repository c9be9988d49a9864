"""The detectors' integer keys and positional layouts give what the plain group-bys and joins on names gave.

Each fast helper is checked against the straightforward computation it replaced, on small frames with ties, developers
with a single row, and no rows at all.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from tokenaudit.detectors import rest
from tokenaudit.detectors.base import (
    developer_and_day,
    developer_day,
    developer_days,
    of_developer,
    packed,
    string_codes,
    unpacked,
    utc_hour,
    with_own_day,
)

START = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)


def minutes_frame(seed: int) -> pl.DataFrame:
    """dev, minute: a few developers, one with a single minute, one active every hour alike (ties everywhere)."""
    rng = np.random.default_rng(seed)
    rows: list[tuple[int, dt.datetime]] = [(0, START + dt.timedelta(hours=5))]  # a single minute
    rows += [(1, START + dt.timedelta(days=day, hours=hour)) for day in range(9) for hour in range(24)]  # ties
    for dev in range(2, 6):
        offsets = np.sort(rng.integers(0, 21 * 24 * 60, int(rng.integers(2, 400))))
        rows += [(dev, START + dt.timedelta(minutes=int(m))) for m in np.unique(offsets)]
    frame = pl.DataFrame(rows, schema={"dev": pl.UInt32, "minute": pl.Datetime("us", "UTC")}, orient="row")
    return frame.sort("dev", "minute")


def named_rhythm(minutes: pl.DataFrame, keys: list[str], share: float, min_days: int = 1) -> pl.DataFrame:
    """The rhythm as it was computed on named keys, windows over them and a sorted profile (before the layout)."""
    hours = pl.DataFrame({"hour": pl.int_range(0, 24, eager=True).cast(pl.Int8)})
    days = pl.col("day").n_unique() if min_days > 1 else pl.lit(1)
    counts = (
        minutes.group_by(*keys, pl.col("minute").dt.hour().cast(pl.Int8).alias("hour"))
        .agg(pl.len().alias("active"), days.alias("days"))
        .filter(pl.col("days") >= min_days)
        .drop("days")
    )
    profile = (
        counts.select(keys)
        .unique()
        .join(hours, how="cross")
        .join(counts, on=[*keys, "hour"], how="left")
        .with_columns(pl.col("active").fill_null(0))
        .with_columns(total=pl.col("active").sum().over(keys))
    )
    wrapped = pl.concat([profile, profile.filter(pl.col("hour") < 7).with_columns(pl.col("hour") + 24)])
    quiet = (
        wrapped.sort(*keys, "hour")
        .with_columns(window=pl.col("active").rolling_sum(8).over(keys))
        .filter(pl.col("hour") >= 7)
        .group_by(keys)
        .agg(
            pl.col("total").first().alias("active_minutes"),
            (pl.col("window").min() / pl.col("total").first()).alias("quiet_share"),
            pl.col("hour").get(pl.col("window").arg_min()).alias("quiet_end_hour"),
        )
    )
    laps = pl.concat([profile, profile.with_columns(pl.col("hour") + 24)]).sort(*keys, "hour")
    runs = laps.with_columns(quiet=pl.col("active") < share * pl.col("total")).with_columns(
        run=(pl.col("quiet") != pl.col("quiet").shift(1)).fill_null(value=True).cum_sum().over(keys)
    )
    longest = (
        runs.filter(pl.col("quiet"))
        .group_by(*keys, "run")
        .len()
        .group_by(keys)
        .agg(pl.col("len").max().clip(upper_bound=24).alias("rest_hours"))
    )
    return quiet.join(longest, on=keys, how="left").with_columns(pl.col("rest_hours").fill_null(0)).sort(keys)


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("share", [0.01, 0.05])
def test_rhythm_laid_out_by_position_equals_the_rhythm_over_named_keys(seed: int, share: float) -> None:
    minutes = minutes_frame(seed)
    pooled = rest._rhythm(minutes.with_columns(unit="dev"), share)
    expected = named_rhythm(minutes, ["dev"], share)
    assert_frame_equal(pooled.rename({"unit": "dev"}).with_columns(pl.col("dev").cast(pl.UInt32)).sort("dev"), expected)
    weekly = with_own_day(minutes, "minute").with_columns(week=pl.col("day").dt.truncate("1w"))
    by_week = rest._rhythm(weekly.with_columns(unit=developer_day(pl.col("week"))), share, min_days=2)
    dev, week = developer_and_day("unit")
    got = by_week.select(dev.alias("dev"), week.alias("week"), pl.exclude("unit")).sort("dev", "week")
    assert_frame_equal(got, named_rhythm(weekly, ["dev", "week"], share, min_days=2))


def test_rhythm_of_no_minutes_is_empty() -> None:
    empty = minutes_frame(1).clear().with_columns(unit="dev")
    assert rest._rhythm(empty, 0.05).is_empty()


def counted_own_day(requests: pl.DataFrame, time: str) -> pl.DataFrame:
    """The developer's own day counted row by row: each developer's quietest UTC hour (the earliest of equals)."""
    rows = requests.select("dev", time).rows()
    counts: dict[int, list[int]] = {}
    for dev, at in rows:
        counts.setdefault(dev, [0] * 24)[at.hour] += 1
    quietest = {dev: min(range(24), key=lambda hour: (hours[hour], hour)) for dev, hours in counts.items()}
    days = [(at - dt.timedelta(hours=quietest[dev])).date() for dev, at in rows]
    return requests.with_columns(day=pl.Series(days, dtype=pl.Date))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_own_day_by_code_equals_the_joined_quietest_hour(seed: int) -> None:
    minutes = minutes_frame(seed)
    assert_frame_equal(with_own_day(minutes, "minute"), counted_own_day(minutes, "minute"))
    assert_frame_equal(with_own_day(minutes.clear(), "minute"), counted_own_day(minutes.clear(), "minute"))


def test_string_codes_number_values_in_sorted_order_with_null_last() -> None:
    values = pl.Series("tool", ["cursor", None, "claude-code", "cursor", "aider", None, "claude-code"])
    codes, names = string_codes(values)
    assert names.to_list() == ["aider", "claude-code", "cursor", None]
    assert codes.to_list() == [2, 3, 1, 2, 0, 3, 1]
    assert names.gather(codes).to_list() == values.to_list()
    assert codes.dtype == pl.UInt32
    none, no_names = string_codes(values.clear())
    assert none.is_empty()
    assert no_names.is_empty()


def test_packed_keys_group_as_the_pairs_do() -> None:
    rng = np.random.default_rng(5)
    frame = pl.DataFrame(
        {"dev": rng.integers(0, 7, 500).astype(np.uint32), "low": rng.integers(0, 3, 500).astype(np.uint32)}
    )
    high, low = unpacked("key", 3)
    by_key = (
        frame.group_by(packed("dev", "low", 3).alias("key")).len().select(high.alias("dev"), low.alias("low"), "len")
    )
    assert_frame_equal(by_key.sort("dev", "low"), frame.group_by("dev", "low").len().sort("dev", "low"))


def test_developer_day_keys_give_back_dev_and_date_either_side_of_1970() -> None:
    frame = pl.DataFrame(
        {"dev": [0, 0, 4, 4, 9], "day": [dt.date(1969, 12, 31), dt.date(1970, 1, 1), dt.date(2026, 3, 2)] + [None] * 2}
    ).with_columns(pl.col("dev").cast(pl.UInt32))
    dev, day = developer_and_day("key")
    back = frame.select(developer_day().alias("key")).select(dev.alias("dev"), day.alias("day"))
    assert_frame_equal(back.head(3), frame.head(3))
    assert back["day"].tail(2).to_list() == [None, None]


def test_of_developer_is_a_left_join_on_the_code() -> None:
    rows = pl.DataFrame({"dev": [3, 0, 3, 7, 1, 0], "x": range(6)}).with_columns(pl.col("dev").cast(pl.UInt32))
    table = pl.DataFrame({"dev": [0, 3, 1], "hour": [5, None, 2]}, schema={"dev": pl.UInt32, "hour": pl.Int8})
    joined = rows.join(table, on="dev", how="left", maintain_order="left")
    assert_frame_equal(rows.with_columns(hour=of_developer(table, "hour")), joined)
    assert rows.with_columns(of_developer(table.clear(), "hour"))["hour"].null_count() == rows.height


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_developer_days_are_the_distinct_own_days_of_each_developer(seed: int) -> None:
    requests = with_own_day(minutes_frame(seed), "minute")
    distinct = requests.group_by("dev").agg(pl.col("day").n_unique().alias("days")).sort("dev")
    found = developer_days(requests)
    assert_frame_equal(found.group_by("dev").agg(pl.len().alias("days")).sort("dev"), distinct)
    assert found.height == requests.select("dev", "day").unique().height
    assert developer_days(requests.clear()).is_empty()


def test_utc_hour_is_dt_hour() -> None:
    """The hour in integer arithmetic is ``dt.hour``'s, before 1970 too (floored), and null stays null."""
    times = [
        dt.datetime(1969, 12, 31, 23, 30, tzinfo=dt.UTC),
        dt.datetime(1960, 5, 5, 3, 0, 0, 1, tzinfo=dt.UTC),
        dt.datetime(1970, 1, 1, tzinfo=dt.UTC),
        dt.datetime(2026, 3, 3, 17, 59, 59, 999_999, tzinfo=dt.UTC),
        None,
    ]
    frame = pl.DataFrame({"timestamp": times}, schema={"timestamp": pl.Datetime("us", "UTC")})
    assert_frame_equal(frame.select(utc_hour()), frame.select(pl.col("timestamp").dt.hour()))
    minutes = minutes_frame(3)
    assert_frame_equal(minutes.select(utc_hour("minute")), minutes.select(pl.col("minute").dt.hour()))
