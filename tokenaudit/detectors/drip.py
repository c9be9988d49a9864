"""``drip_feed`` (automation): one long session kept spending by a stream of the same few prompts.

A script need not open sessions to spend: it can keep one session open all day and feed it "continue",
"keep going", "next" every few minutes. No session opener repeats and a short prompt says nothing on its
own, but a session *fed* dozens of prompts in which most repeat one already sent in it (the same short
prompt exactly, a longer one within a few bits of its signature: :mod:`tokenaudit.signatures`), or whose
prompts come at a steadier pace than a person reads and thinks (the spread of the log of the quiet before
each prompt: a person's think times spread over seconds to half an hour, a script's jitter is narrow), is
no conversation. The statistic is the share of the developer's active days (their own days, starting at
their quietest hour: :func:`~tokenaudit.detectors.base.with_own_day`) holding such a session, so one
afternoon of babysitting an agent with "continue" does not decide, and a drip every working day does.

Where a source marks prompt turns (Claude Code transcripts, Codex rollouts, OpenTelemetry prompt events, a
generic ``turn`` column) they are the prompts; elsewhere (Cursor's usage events, in sessions inferred from
prompt caching) every pause of ``headless_work.pause_seconds`` inside a session counts as one
(:func:`~tokenaudit.detectors.shape.with_person_turns`), and with no text to repeat only the steady pace can
make such a session fed.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from tokenaudit.detectors.base import (
    Detector,
    DetectorContext,
    band_severity,
    band_strength,
    by_developer,
    capped,
    developer_days,
    fmt_num,
    fmt_pct,
    not_evaluated,
    with_own_day,
)
from tokenaudit.detectors.config import DripFeed
from tokenaudit.detectors.repetition import near_repeats


def fed_sessions(requests: pl.DataFrame, config: DripFeed, by_session: pl.Series | None = None) -> pl.DataFrame:
    """One row per (dev, session): its day, hours, prompts fed after the opener, the
    share of them that repeat a prompt sent earlier in it, the spread of the log quiet before them, and ``fed``.

    ``requests`` in :func:`~tokenaudit.detectors.base.sorted_requests` order, with
    :func:`~tokenaudit.detectors.shape.with_person_turns`' ``person`` and ``session_gap``; and with
    :func:`~tokenaudit.detectors.base.with_own_day`'s ``day`` when every request has a session (the days of the
    requests with one are found otherwise).

    A session's rows are in time order, so its day and start are its opener's, its end its last row's: only the fed
    rows (a person's turns, a fifth of the requests at 10M flat events) are grouped, not every request. With
    ``by_session`` (the requests' :func:`~tokenaudit.detectors.base.session_order`), each session's last row is read
    from it rather than found by a hash of every request's session.
    """
    columns = ("dev", "session", "timestamp", "turn", "prompt_signature", "person", "session_gap", "opens_session")
    marked = requests.select(*columns, *(["day"] if "day" in requests.columns else [])).rename({"session_gap": "quiet"})
    if marked["session"].null_count() or "day" not in marked.columns:
        marked = with_own_day(marked.drop("day", strict=False).filter(pl.col("session").is_not_null()))
        by_session = None  # other rows than the order's
    prompts = (
        marked.with_row_index("_row")
        .filter(pl.col("turn") == "prompt", pl.col("prompt_signature").is_not_null())
        .with_columns(seq=pl.int_range(pl.len()).over("session"))
    )
    # Put back by position (most rows are no prompt, or the source marks none): no join of every request.
    seen_before = pl.repeat(None, marked.height, dtype=pl.Boolean, eager=True)
    if not prompts.is_empty():
        seen_before = seen_before.scatter(prompts["_row"], near_repeats(prompts, key="session"))
    rows = marked.lazy()
    if by_session is None:
        ends = rows.filter(pl.col("session").is_last_distinct()).select("session", pl.col("timestamp").alias("_end"))
    else:
        in_order = marked.get_column("session").gather(by_session)
        last = by_session.filter(in_order.ne_missing(in_order.shift(-1)))
        ends = marked.select("session", pl.col("timestamp").alias("_end"))[last].lazy()
    fed = (
        marked.with_columns(seen_before=seen_before)
        .lazy()
        .filter("person")
        .group_by("session")
        .agg(
            pl.col("person").sum().alias("prompts"),
            pl.col("seen_before").fill_null(value=False).sum().alias("repeated"),
            pl.col("quiet").log().std().alias("spread"),
        )
    )
    per_session = (
        rows.filter("opens_session")
        .select("dev", "session", "day", "timestamp")
        .join(ends, on="session", how="left")
        .join(fed, on="session", how="left")
        .select(
            "dev",
            "session",
            "day",
            ((pl.col("_end") - pl.col("timestamp")).dt.total_seconds() / 3600).alias("hours"),
            pl.col("prompts", "repeated").fill_null(0),
            "spread",
        )
        .with_columns(repeat_share=pl.col("repeated") / pl.col("prompts").clip(1))
        .collect()
    )
    steady = pl.col("spread") <= config.steady_spread
    return per_session.with_columns(
        fed=(pl.col("prompts") >= config.min_prompts)
        & ((pl.col("repeat_share") >= config.repeat_share) | steady.fill_null(value=False))
    )


def features(context: DetectorContext) -> pl.DataFrame:
    """Per developer: sessions, fed sessions and what they looked like, active days."""
    requests = context.requests if context.requests["session"].null_count() else context.requests_by_day
    shapes = fed_sessions(requests, context.flags.drip_feed, context.by_session)
    drip = shapes.filter("fed")
    per_developer = (
        shapes.group_by("dev")
        .agg(pl.len().alias("sessions"))
        .join(
            drip.group_by("dev").agg(
                pl.len().alias("fed_sessions"),
                pl.col("day").n_unique().alias("fed_days"),
                pl.col("prompts").sum().alias("fed_prompts"),
                (pl.col("repeated").sum() / pl.col("prompts").sum()).alias("repeat_share"),
                pl.col("spread").median().alias("median_spread"),
                pl.col("hours").median().alias("median_hours"),
            ),
            on="dev",
            how="left",
        )
    )
    days = developer_days(context.requests_by_day).group_by("dev").agg(pl.len().alias("days"))
    return by_developer(context, per_developer, days)


def judge(features: pl.DataFrame, context: DetectorContext) -> pl.DataFrame:
    """Per developer: the share of active days holding a fed session, and what those sessions looked like."""
    config = context.flags.drip_feed
    frame = (
        context.developers.select("developer")
        .join(features, on="developer", how="left")
        .with_columns(pl.col("sessions", "fed_sessions", "fed_days", "fed_prompts", "days").fill_null(0))
        .with_columns(fed_day_share=pl.col("fed_days") / pl.col("days").clip(1))
    )
    severity = pl.when(pl.col("fed_sessions") >= config.min_sessions).then(
        band_severity(pl.col("fed_day_share"), config.day_share)
    )
    return frame.with_columns(
        capped(severity.otherwise(0), config.max_severity).alias("severity"),
        band_strength(pl.col("fed_day_share"), config.day_share).alias("strength"),
        not_evaluated(
            (pl.col("sessions") == 0) | (pl.col("days") < config.min_days),
            f"per-request timestamps with session ids (or prompt caching to infer them), on {config.min_days} days",
        ).alias("needs"),
    )


def reason(row: dict[str, Any]) -> str:
    """Quote how many days held a fed session, and what fed it."""
    return (
        f"{row['fed_days']} of {row['days']} active days ({fmt_pct(row['fed_day_share'])}) held a session fed "
        f"{fmt_num(row['fed_prompts'] / max(row['fed_sessions'], 1), 0)} prompts on average over a median "
        f"{fmt_num(row['median_hours'], 1)} hours; {fmt_pct(row['repeat_share'])} of those prompts repeated one "
        f"already sent in the session, and the spread of the log quiet before them was "
        f"{fmt_num(row['median_spread'])} (people's long sessions: 0.7 or more; {row['fed_sessions']} such sessions)."
    )


DETECTOR = Detector(
    id="drip_feed",
    family="automation",
    consider=(
        "a person babysitting a long agent task, answering 'yes' or 'continue' each time it stops (outcomes tell)",
        "a legitimate script or CI job under a personal key (belongs on the service-account list)",
        "a source that records a tool's automatic follow-ups as prompt turns, or marks no prompts at all (long "
        "tool runs then count as pauses)",
    ),
    features=features,
    judge=judge,
    reason=reason,
    gauges=(("fed_day_share", "day_share"),),
    evidence=(
        "fed_days",
        "days",
        "fed_day_share",
        "fed_sessions",
        "fed_prompts",
        "repeat_share",
        "median_spread",
        "median_hours",
        "sessions",
    ),
)
