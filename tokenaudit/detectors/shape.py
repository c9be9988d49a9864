"""``headless_work`` (automation): sessions no person takes part in, running through the working day.

A person prompts, reads the answer and prompts again after some thought; an agent loop or a script
starts a session with one prompt and lets tool turns run in rapid succession. Each session is
*interactive* when, after its opener, a prompt turn came after at least ``think_seconds`` of quiet
(transcripts say which turns are prompts); where the source does not say, any pause of at least
``pause_seconds`` inside the session counts as a person's turn (generous: a long tool run counts too,
so a loop is missed before a person is accused). Every other session is *headless*.

Headless sessions alone are honest (one-shot tasks, background agents). What a loop cannot avoid is its
duty cycle: headless work spread over most hours of most days, whatever its timing (a Poisson-timed
loop has no period to find). The severity is the weaker of two bands, the median hours per active day
holding headless requests and the share of tokens spent in headless sessions, and only when the hours
are well above the peer median.
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
    developer_and_day,
    developer_day,
    developer_days,
    fmt_left_out,
    fmt_num,
    fmt_pct,
    hand_baseline,
    not_evaluated,
    over_peers,
    peers_left_out,
    session_order,
    utc_hour,
)
from tokenaudit.detectors.config import HeadlessWork
from tokenaudit.schema import total_tokens


def with_person_turns(
    requests: pl.DataFrame, config: HeadlessWork, by_session: pl.Series | None = None
) -> pl.DataFrame:
    """``requests`` with ``person``: whether a person's turn after the session's opener led to the request (false
    outside sessions), and ``session_gap``: seconds since the session's previous request (null on its first and
    outside sessions).

    ``requests`` in :func:`~tokenaudit.detectors.base.sorted_requests` order. The audit adds the columns once
    (:func:`~tokenaudit.detectors.build_context`) for every detector that reads sessions. The windows over sessions
    are the costliest step of the session-based detectors, so they run on a narrow copy sorted by the integer
    ``session`` code (a stable sort keeps each session's requests in time order: :func:`session_order`, given as
    ``by_session`` where the caller has it): the gap is then a comparison with the row before, and the results are put
    back in request order.
    """
    same_session = pl.col("session") == pl.col("session").shift(1)
    gap = pl.when(same_session).then(pl.col("timestamp").diff()).dt.total_seconds(fractional=True)
    prompted = (pl.col("turn") == "prompt") & (pl.col("session_gap") >= config.think_seconds)
    paused = pl.col("session_gap") >= config.pause_seconds
    # Whether the session's source marks turns: a window over every session, unless no row or every row says.
    unmarked = requests["turn"].null_count()
    turn_known = (
        pl.lit(unmarked < requests.height)
        if unmarked in (0, requests.height)
        else pl.col("turn").is_not_null().any().over("session")
    )
    order = session_order(requests) if by_session is None else by_session
    # Rows without a session are left out: no gap, no person's turn.
    in_order = (
        requests.select("session", "timestamp", "turn")
        .with_row_index("_row")
        .select(pl.all().gather(order))
        .with_columns(session_gap=gap)
        .select(
            "_row", "session_gap", person=pl.when(turn_known).then(prompted).otherwise(paused).fill_null(value=False)
        )
    )
    # Back in request order by position (each row's own ``_row``), not by a sort of the positions.
    return requests.with_columns(
        pl.repeat(empty, requests.height, dtype=in_order.schema[name], eager=True)
        .scatter(in_order["_row"], in_order[name])
        .alias(name)
        for name, empty in (("person", False), ("session_gap", None))
    )


def sessions(requests: pl.DataFrame) -> pl.DataFrame:
    """One row per (dev, session): tool, start, requests, tokens, whether it was ``headless`` and ``inferred`` (from
    prompt caching: the source gave no session id).

    ``requests`` in :func:`~tokenaudit.detectors.base.sorted_requests` order, with :func:`with_person_turns`'
    ``person``; requests without a session id are left out. ``session``: the session's integer code.
    """
    return (
        requests.lazy()
        .filter(pl.col("session").is_not_null())
        .group_by("session", maintain_order=True)  # a session's code holds its developer's
        .agg(
            pl.col("dev").first(),
            pl.col("session_id").first(),
            pl.col("tool").first(),
            pl.col("timestamp").first().alias("start"),
            pl.len().alias("requests"),
            total_tokens().sum().alias("tokens"),
            (~pl.col("person").any()).alias("headless"),
            pl.col("inferred_session").first().alias("inferred"),
        )
        .select("dev", "session_id", pl.exclude("dev", "session_id"))
        .collect(engine="in-memory")
    )


def features(context: DetectorContext) -> pl.DataFrame:
    """Per developer: sessions, headless shares, median hours a day holding headless requests, active days."""
    shapes = context.sessions
    per_developer = shapes.group_by("dev").agg(
        pl.len().alias("sessions"),
        pl.col("headless").mean().alias("headless_session_share"),
        (pl.col("tokens").filter("headless").sum() / pl.col("tokens").sum().clip(1)).alias("headless_token_share"),
        pl.col("inferred").mean().alias("inferred_session_share"),
    )
    requests = context.requests_by_day.lazy().select(developer_day().alias("key"), "session", "timestamp")
    headless_requests = requests.join(shapes.lazy().filter("headless").select("session"), on="session", how="semi")
    dev, _ = developer_and_day("key")
    hours = (
        developer_days(context.requests_by_day)
        .lazy()
        .select(developer_day().alias("key"))
        .join(
            headless_requests.group_by("key").agg(utc_hour().n_unique().alias("hours")),
            on="key",
            how="left",
        )
        .group_by(dev.alias("dev"))
        .agg(
            pl.col("hours").fill_null(0).median().alias("headless_hours_per_day"),
            pl.len().alias("days"),
        )
        .collect(engine="in-memory")
    )
    return by_developer(context, per_developer, hours)


def judge(features: pl.DataFrame, context: DetectorContext) -> pl.DataFrame:
    """Per developer: headless session and token shares, hours a day holding headless requests."""
    config = context.flags.headless_work
    frame = (
        context.developers.select("developer", "peer_group")
        .join(features, on="developer", how="left")
        .with_columns(
            pl.col("sessions", "days").fill_null(0),
            over_peers(hand_baseline(context, "headless_hours_per_day").median()).alias("peer_median_headless_hours"),
            over_peers(hand_baseline(context, "headless_token_share").median()).alias("peer_median_headless_share"),
            over_peers(pl.col("headless_hours_per_day").count()).alias("_compared"),
            peers_left_out(context).alias("peers_left_out"),
        )
    )
    # Unusual among peers in its duty cycle or in its share: peers' one-shot tasks run through their day too, but
    # no person leaves every session to the agent.
    above_peers = (
        (pl.col("headless_hours_per_day") >= config.min_peer_ratio * pl.col("peer_median_headless_hours"))
        | (pl.col("headless_token_share") >= config.min_peer_ratio * pl.col("peer_median_headless_share"))
        | (pl.col("_compared") < 3)
    )
    severity = pl.min_horizontal(
        band_severity(pl.col("headless_hours_per_day"), config.hours_per_day),
        band_severity(pl.col("headless_token_share"), config.token_share),
    )
    strength = pl.min_horizontal(
        band_strength(pl.col("headless_hours_per_day"), config.hours_per_day),
        band_strength(pl.col("headless_token_share"), config.token_share),
    )
    return frame.with_columns(
        capped(pl.when(above_peers).then(severity).otherwise(0), config.max_severity).alias("severity"),
        strength.alias("strength"),
        not_evaluated(
            (pl.col("sessions") < config.min_sessions) | (pl.col("days") < config.min_days),
            f"per-request timestamps with session ids: at least {config.min_sessions} sessions on "
            f"{config.min_days} days",
        ).alias("needs"),
    ).drop("_compared")


def reason(row: dict[str, Any]) -> str:
    """Quote the duty cycle and the headless shares against peers."""
    inferred = (
        f"; {fmt_pct(row['inferred_session_share'])} of the sessions were inferred from prompt caching (the source "
        "gives no session ids)"
        if row.get("inferred_session_share")
        else ""
    )
    return (
        "headless work (sessions with no person's turn after the opener) ran in "
        f"{fmt_num(row['headless_hours_per_day'], 0)} hours of a typical active day "
        f"(peer median {fmt_num(row['peer_median_headless_hours'], 0)}); "
        f"{fmt_pct(row['headless_session_share'])} of {row['sessions']:,} sessions and "
        f"{fmt_pct(row['headless_token_share'])} of session tokens were headless (peer median "
        f"{fmt_pct(row['peer_median_headless_share'])}){inferred}{fmt_left_out(row)}."
    )


DETECTOR = Detector(
    id="headless_work",
    family="automation",
    consider=(
        "a legitimate background agent or CI job under a personal key (belongs on the service-account list)",
        "one-shot tasks handed to an agent all day (outcomes tell)",
        "a source that does not say which turns are prompts, where long tool runs look like a person's turns",
    ),
    features=features,
    judge=judge,
    reason=reason,
    gauges=(("headless_hours_per_day", "hours_per_day"), ("headless_token_share", "token_share")),
    evidence=(
        "sessions",
        "headless_session_share",
        "headless_token_share",
        "headless_hours_per_day",
        "inferred_session_share",
        "days",
        "peer_median_headless_hours",
        "peer_median_headless_share",
        "peers_left_out",
    ),
)
