"""Tiny hand-controlled event builders for detector tests (the simulator is tested separately)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from tokenaudit.schema import EVENT_SCHEMA
from tokenaudit.signatures import simhash

START = dt.datetime(2026, 9, 7, tzinfo=dt.UTC)  # a Monday


def events(
    developer: str,
    offsets_s: np.ndarray,
    *,
    team: str | None = "core",
    session_every: int = 1,
    input_tokens: int | np.ndarray = 2_000,
    output_tokens: int | np.ndarray = 500,
    cache_read_tokens: int | np.ndarray = 20_000,
    cache_write_tokens: int | np.ndarray = 1_000,
    prompt_hashes: list[str | None] | None = None,
    prompts: list[str | None] | None = None,
    tool: str = "claude-code",
) -> pl.DataFrame:
    """Canonical request events at START + offsets (seconds); a new session every N requests.

    ``prompts`` are texts turned into signatures (prompt turns), as a reader would.
    """
    n = len(offsets_s)
    index = np.arange(n)

    def column(value: int | np.ndarray) -> np.ndarray:
        return np.full(n, value, dtype=np.int64) if np.isscalar(value) else np.asarray(value, dtype=np.int64)

    frame = pl.DataFrame(
        {
            "timestamp": [START + dt.timedelta(seconds=float(s)) for s in offsets_s],
            "developer": [developer] * n,
            "team": [team] * n,
            "tool": [tool] * n,
            "model": ["claude-sonnet-4-5"] * n,
            "session_id": [f"{developer}-s{i // session_every}" for i in index],
            "request_id": [f"{developer}-r{i}" for i in index],
            "input_tokens": column(input_tokens),
            "output_tokens": column(output_tokens),
            "cache_read_tokens": column(cache_read_tokens),
            "cache_write_tokens": column(cache_write_tokens),
            "requests": [1] * n,
            "grain": ["request"] * n,
            "prompt_hash": prompt_hashes if prompt_hashes is not None else [f"{developer}-p{i}" for i in index],
            "source_format": ["test"] * n,
            "source_file": ["test"] * n,
            "source_line": index + 1,
        }
    )
    if prompts is not None:
        texts = pl.DataFrame({"text": prompts}, schema={"text": pl.String})
        frame = frame.with_columns(
            prompt_signature=simhash(texts, "text"),
            turn=pl.when(texts["text"].is_not_null()).then(pl.lit("prompt")),
        )
    missing = {name: pl.lit(None, dtype) for name, dtype in EVENT_SCHEMA.items() if name not in frame.columns}
    return frame.with_columns(**missing).select(list(EVENT_SCHEMA)).drop("dedup_key")


def human_offsets(seed: int, days: int = 20, per_day: int = 30, start_hour: float = 9.0) -> np.ndarray:
    """Weekday working-hours requests with heavy-tailed gaps, starting at ``start_hour`` UTC."""
    rng = np.random.default_rng(seed)
    offsets = []
    for day in range(days):
        if day % 7 >= 5:
            continue
        gaps = rng.lognormal(mean=5.0, sigma=1.5, size=per_day)
        times = start_hour * 3600 + np.cumsum(gaps) * (8 * 3600 / gaps.sum())
        offsets.append(day * 86400 + times)
    return np.sort(np.concatenate(offsets))


def org(n: int = 10, days: int = 20, team: str | None = "core") -> pl.DataFrame:
    """``n`` honest human developers dev00..dev(n-1), with 20 + 2·i requests per workday."""
    return pl.concat(
        [events(f"dev{i:02d}", human_offsets(i, days, 20 + 2 * i), team=team, session_every=5) for i in range(n)]
    )
