"""Property tests: totals do not depend on how the same events are packaged.

Splitting events across files, reordering rows, converting between CSV, JSON Lines and Parquet, feeding
an overlapping export twice, or adding unreadable rows must leave every developer's exact totals
unchanged; the audit must be deterministic.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from tokenaudit.cli import app
from tokenaudit.ingest import Period, load_events
from tokenaudit.metrics import totals
from tokenaudit.policy import Policy

TOKENS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")
START = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)

event = st.fixed_dictionaries(
    {
        "minute": st.integers(0, 60 * 24 * 20),
        "developer": st.sampled_from(["ana@acme.io", "bo@acme.io", "cy@acme.io"]),
        "input_tokens": st.integers(0, 2**40),
        "output_tokens": st.integers(0, 2**31),
        "cache_read_tokens": st.integers(0, 10**9),
        "cache_write_tokens": st.integers(0, 10**6),
    }
)
events = st.lists(event, min_size=1, max_size=40)
fast = settings(max_examples=25, deadline=None)


@contextmanager
def scratch() -> Iterator[Path]:
    """A fresh folder per example, removed after it (pytest's tmp_path is per test; hypothesis runs many examples)."""
    with tempfile.TemporaryDirectory(prefix="tokenaudit-prop-") as folder:
        yield Path(folder)


def frame(rows: list[dict[str, int | str]]) -> pl.DataFrame:
    return (
        pl.DataFrame(rows)
        .with_row_index("n")
        .select(
            (pl.lit(START) + pl.duration(minutes=pl.col("minute")))
            .dt.strftime("%Y-%m-%dT%H:%M:%SZ")
            .alias("timestamp"),
            "developer",
            pl.format("req-{}", pl.col("n")).alias("request_id"),
            *TOKENS,
        )
    )


def expected(rows: list[dict[str, int | str]]) -> dict[str, tuple[int, ...]]:
    sums: dict[str, list[int]] = {}
    for row in rows:
        acc = sums.setdefault(str(row["developer"]), [0, 0, 0, 0])
        for index, name in enumerate(TOKENS):
            acc[index] += int(row[name])
    return {dev: tuple(values) for dev, values in sums.items()}


def measured(paths: list[Path]) -> dict[str, tuple[int, ...]]:
    loaded = load_events([str(p) for p in paths], Policy(), Period())
    result = totals(loaded.events, ["developer"], "UTC")
    return {row["developer"]: tuple(row[name] for name in TOKENS) for row in result.iter_rows(named=True)}


def write(data: pl.DataFrame, path: Path) -> Path:
    if path.suffix == ".csv":
        data.write_csv(path)
    elif path.suffix == ".jsonl":
        data.write_ndjson(path)
    else:
        data.write_parquet(path)
    return path


@fast
@given(rows=events, cut=st.integers(0, 40), kind=st.sampled_from([".csv", ".jsonl", ".parquet"]))
def test_splitting_and_converting_keep_totals(rows: list[dict[str, int | str]], cut: int, kind: str) -> None:
    with scratch() as folder:
        data = frame(rows)
        whole = write(data, folder / f"all{kind}")
        head = write(data.head(cut), folder / f"head{kind}")
        tail = write(data.tail(max(data.height - cut, 0)), folder / f"tail{kind}")
        assert measured([whole]) == expected(rows)
        assert measured([head, tail]) == expected(rows)


@fast
@given(rows=events, seed=st.integers(0, 2**16))
def test_reordering_and_overlap_keep_totals(rows: list[dict[str, int | str]], seed: int) -> None:
    with scratch() as folder:
        data = frame(rows)
        shuffled = write(data.sample(fraction=1.0, shuffle=True, seed=seed), folder / "shuffled.csv")
        overlap = write(data.sample(fraction=0.5, seed=seed), folder / "overlap.jsonl")
        assert measured([shuffled, overlap]) == expected(rows)
        assert measured([overlap, shuffled]) == expected(rows)


@fast
@given(rows=events, junk=st.lists(st.sampled_from(["abc", "-1", "1.5", "", "99999999999999999999"]), max_size=5))
def test_rejected_rows_never_change_good_totals(rows: list[dict[str, int | str]], junk: list[str]) -> None:
    with scratch() as folder:
        good = frame(rows)
        bad = pl.DataFrame(
            {
                "timestamp": ["2026-03-02T10:00:00Z"] * len(junk),
                "developer": ["ana@acme.io"] * len(junk),
                "request_id": [f"bad-{i}" for i in range(len(junk))],
                **{name: junk for name in TOKENS},
            },
            schema={name: pl.String for name in ("timestamp", "developer", "request_id", *TOKENS)},
        )
        mixed = pl.concat([good.with_columns(pl.col(name).cast(pl.String) for name in TOKENS), bad])
        path = write(mixed, folder / "mixed.csv")
        loaded = load_events([str(path)], Policy(), Period())
        assert loaded.quality.rows_rejected == len(junk)
        assert measured([path]) == expected(rows)


@fast
@given(rows=events)
def test_the_audit_is_deterministic(rows: list[dict[str, int | str]]) -> None:
    with scratch() as folder:
        path = write(frame(rows), folder / "events.csv")
        outputs = [CliRunner().invoke(app, ["audit", str(path), "--format", "json"]).stdout for _ in range(2)]
        assert outputs[0] == outputs[1]
        assert json.loads(outputs[0])["summary"]["requests"] == len(rows)
