"""The audit context's and the detectors' cheaper layouts give what the plain sorts and group-bys gave.

Each helper of :func:`~tokenaudit.detectors.build_context` and each detector stage rewritten for speed is checked
against the straightforward computation it replaced, on small frames with developers interleaved in time, rows out
of time order, timestamp ties, rows that are not requests, columns without a value, and no rows at all.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal, assert_series_equal

from tests.synthetic import events, human_offsets
from tokenaudit.detectors import build_context, context, developer_totals, drip, regularity, repetition
from tokenaudit.detectors.base import (
    by_runs,
    developer_runs,
    sorted_requests,
    with_inferred_sessions,
    with_own_day,
)
from tokenaudit.detectors.config import DripFeed, Flags, HeadlessWork, Leaderboard
from tokenaudit.detectors.repetition import near_repeats
from tokenaudit.detectors.shape import with_person_turns
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


def by_name(requests: pl.DataFrame, codes: pl.DataFrame) -> pl.DataFrame:
    """``requests`` with each developer code replaced by the name it stands for, developers in name order (each one's
    rows in the order given), sessions :func:`numbered`: the codes' values, and so the order of the developers, vary
    from one cast to another (a parallel cast numbers names as its chunks meet them); a code's rows do not."""
    named = requests.join(codes, on="dev", how="left", maintain_order="left").drop("dev")
    return numbered(named.sort("developer", maintain_order=True))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sorted_requests_by_developer_runs_equal_a_sort_of_every_request(seed: int) -> None:
    frame = mixed_events(seed)
    requests, codes = sorted_requests(frame)
    expected, expected_codes = sorted_by_a_sort(frame)
    assert_frame_equal(by_name(requests, codes), by_name(expected, expected_codes))
    assert requests["session"].null_count() == requests["session_id"].null_count() > 0
    assert codes["developer"].sort().to_list() == ["dev0", "dev1", "dev2", "dev3"]  # dev9 has no request, no code
    assert codes["dev"].n_unique() == codes.height
    assert requests["dev"].is_sorted()  # in developer order: runs of each code, ascending
    in_order = frame.filter(pl.col("grain") == "request").sort("timestamp", maintain_order=True)
    assert_frame_equal(by_name(*sorted_requests(in_order)), by_name(*sorted_by_a_sort(in_order)))
    empty, no_codes = sorted_requests(frame.clear())
    assert_frame_equal(empty, sorted_by_a_sort(frame.clear())[0])
    assert no_codes.is_empty()


def test_sorted_requests_of_a_frame_in_chunks_equal_those_of_the_frame_in_one() -> None:
    """A developer shard of the load comes in one chunk per part read; :func:`sorted_requests` makes it one."""
    frame = mixed_events(1).rechunk()
    chunked = pl.concat([frame.slice(start, 7) for start in range(0, frame.height, 7)], rechunk=False)
    assert chunked.n_chunks() > 1
    assert_frame_equal(by_name(*sorted_requests(chunked)), by_name(*sorted_requests(frame)))


@pytest.mark.parametrize(
    "values",
    [[None, None, "s1", "s1", "s2", None, "s1", "s3", "s3"], ["a"], [None], []],
)
def test_codes_by_runs_equal_the_codes_of_every_value(values: list[str | None]) -> None:
    ids = pl.Series("session_id", values, dtype=pl.String)

    def words(first: pl.Series) -> pl.Series:
        return first.str.to_uppercase()

    assert_series_equal(by_runs(ids, words), words(ids))
    physical = by_runs(ids, lambda first: first.cast(pl.Categorical).to_physical())
    assert physical.len() == ids.len()
    assert physical.is_null().to_list() == ids.is_null().to_list()
    pairs = pl.DataFrame({"code": physical, "id": ids}).drop_nulls().unique()
    assert pairs["code"].n_unique() == pairs["id"].n_unique() == pairs.height  # one code, one id


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


def fed_sessions_grouped(requests: pl.DataFrame, config: DripFeed) -> pl.DataFrame:
    """:func:`drip.fed_sessions` as it was: every request grouped by session."""
    columns = ("dev", "session", "timestamp", "turn", "prompt_signature", "person", "session_gap")
    marked = requests.select(*columns, *(["day"] if "day" in requests.columns else [])).rename({"session_gap": "quiet"})
    if marked["session"].null_count() or "day" not in marked.columns:
        marked = with_own_day(marked.drop("day", strict=False).filter(pl.col("session").is_not_null()))
    prompts = (
        marked.with_row_index("_row")
        .filter(pl.col("turn") == "prompt", pl.col("prompt_signature").is_not_null())
        .with_columns(seq=pl.int_range(pl.len()).over("session"))
    )
    seen_before = pl.repeat(None, marked.height, dtype=pl.Boolean, eager=True)
    if not prompts.is_empty():
        seen_before = seen_before.scatter(prompts["_row"], near_repeats(prompts, key="session"))
    fed = pl.col("person")
    per_session = (
        marked.with_columns(seen_before=seen_before)
        .group_by("session")
        .agg(
            pl.col("dev").first(),
            pl.col("day").first(),
            ((pl.col("timestamp").max() - pl.col("timestamp").min()).dt.total_seconds() / 3600).alias("hours"),
            fed.sum().alias("prompts"),
            (pl.col("seen_before").fill_null(value=False) & fed).sum().alias("repeated"),
            pl.col("quiet").filter(fed).log().std().alias("spread"),
        )
        .select("dev", pl.exclude("dev"))
        .with_columns(repeat_share=pl.col("repeated") / pl.col("prompts").clip(1))
    )
    steady = pl.col("spread") <= config.steady_spread
    return per_session.with_columns(
        fed=(pl.col("prompts") >= config.min_prompts)
        & ((pl.col("repeat_share") >= config.repeat_share) | steady.fill_null(value=False))
    )


def fed_events() -> pl.DataFrame:
    """A person's sessions with paused prompts (some repeated), a session-less developer, and ``mixed_events``."""
    rng = np.random.default_rng(7)
    offsets = np.cumsum(rng.choice([20.0, 400.0, 900.0], 90))
    texts = [["continue", "keep going", "fix the failing test please", None][i % 4] for i in range(90)]
    fed = events("dev7", offsets, session_every=30, prompts=texts)
    return pl.concat([mixed_events(5), fed]).sort("timestamp", maintain_order=True)


@pytest.mark.parametrize("config", [DripFeed(), DripFeed(min_prompts=2, steady_spread=3.0)])
def test_fed_sessions_from_openers_and_fed_rows_equal_every_request_grouped(config: DripFeed) -> None:
    requests = with_person_turns(sorted_requests(fed_events())[0], HeadlessWork())
    assert requests["session"].null_count() > 0  # sessions found per request, days found from them
    found, expected = drip.fed_sessions(requests, config), fed_sessions_grouped(requests, config)
    assert_frame_equal(found.sort("session"), expected.sort("session"))
    assert found["prompts"].sum() > 0
    with_sessions = with_own_day(requests.filter(pl.col("session").is_not_null()))  # every request with a session
    assert_frame_equal(
        drip.fed_sessions(with_sessions, config).sort("session"),
        fed_sessions_grouped(with_sessions, config).sort("session"),
    )
    assert drip.fed_sessions(requests.clear(), config).is_empty()


def opener_shares_by_window(openers: pl.DataFrame) -> pl.DataFrame:
    """:func:`repetition._opener_shares` as it was: repeats counted by a window over each (dev, key)."""
    summary = (
        pl.len().alias("n"),
        pl.col("seen_before").mean().alias("share"),
        (pl.col("key").value_counts(sort=True).struct.field("count").head(3).sum() / pl.len()).alias("top3_share"),
    )
    signed = openers.filter(pl.col("prompt_signature").is_not_null()).with_columns(
        seq=pl.int_range(pl.len()).over("dev")
    )
    by_signature = (
        signed.with_columns(near_repeats(signed), key=pl.col("prompt_signature"))
        .group_by("dev")
        .agg(*summary, pl.lit("similar prompts").alias("basis"))
    )
    unsigned = openers.join(by_signature.select("dev"), on="dev", how="anti")
    by_hash = (
        unsigned.filter(pl.col("prompt_hash").is_not_null())
        .with_columns(seen_before=pl.col("prompt_hash").cum_count().over("dev", "prompt_hash") > 1, key="prompt_hash")
        .group_by("dev")
        .agg(*summary, pl.lit("prompts").alias("basis"))
    )
    by_context = (
        unsigned.join(by_hash.select("dev"), on="dev", how="anti")
        .with_columns(
            seen_before=pl.col("context").cum_count().over("dev", "model", "context") > 1,
            key=pl.struct("model", "context"),
        )
        .group_by("dev")
        .agg(*summary, pl.lit("sessions").alias("basis"))
    )
    return pl.concat([by_signature, by_hash, by_context])


def test_repeated_openers_by_first_of_their_kind_equal_the_window_counts() -> None:
    rng = np.random.default_rng(11)
    n = 400
    openers = pl.DataFrame(
        {
            "dev": rng.integers(0, 8, n).astype(np.uint32),
            "session_id": [f"s{i}" for i in range(n)],
            "model": [("opus", "sonnet", None)[i] for i in rng.integers(0, 3, n)],
            "context": rng.choice([1_000, 2_000, 30_000], n).astype(np.int64),
            "prompt_hash": [("a", "b", "c", "d", None)[i] for i in rng.integers(0, 5, n)],
            "prompt_signature": pl.Series(rng.integers(0, 4, n).astype(np.uint64)),
        }
    ).with_columns(
        # dev 0-1 sign their prompts, 2-4 hash them, 5-7 neither: every basis is taken
        prompt_signature=pl.when(pl.col("dev") < 2).then("prompt_signature"),
        prompt_hash=pl.when(pl.col("dev").is_between(2, 4)).then("prompt_hash"),
    )
    found = repetition._opener_shares(openers).sort("dev")
    assert_frame_equal(found, opener_shares_by_window(openers).sort("dev"))
    assert sorted(set(found["basis"])) == ["prompts", "sessions", "similar prompts"]
    assert found.select(pl.col("share").max()).item() > 0


def test_next_gap_in_a_cluster_equals_a_shift_inside_each_cluster() -> None:
    rng = np.random.default_rng(5)
    n = 300
    intervals = pl.DataFrame(
        {
            "key": np.sort(rng.integers(0, 12, n)).astype(np.uint64),  # clusters of 0 to ~50 rows, some of one row
            "delta": rng.uniform(2, 5_000, n),
            "within": rng.random(n) > 0.2,
        }
    )
    inside = pl.when(pl.col("within") & pl.col("within").shift(-1)).then(pl.col("delta").shift(-1))
    expected = intervals.group_by("key", maintain_order=True).agg(inside.alias("following")).explode("following")
    found = intervals.select("key", following=regularity.next_gap())
    assert_frame_equal(found, expected)
    assert found["following"].null_count() > intervals["key"].n_unique()  # cluster ends and breaks both count


def test_monday_weeks_group_timestamps_as_their_week_truncation_does() -> None:
    hours = pl.datetime_range(
        dt.datetime(1969, 12, 1, tzinfo=dt.UTC), dt.datetime(1970, 2, 1, tzinfo=dt.UTC), "5h", eager=True
    )
    frame = pl.DataFrame({"timestamp": pl.concat([hours, hours + dt.timedelta(days=20_000)])})
    found = frame.select(context.monday_weeks(), truncated=pl.col("timestamp").dt.truncate("1w").dt.epoch("d") // 7)
    assert found["timestamp"].to_list() == found["truncated"].to_list()
    assert found.select((pl.col("timestamp").min() < 0) & (pl.col("timestamp").max() > 0)).item()  # before 1970 too
