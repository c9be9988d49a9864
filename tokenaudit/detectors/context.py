"""S5 ``context_stuffing`` (waste): context re-read far above peers, scored continuously on every tool.

Per developer and tool (tools disagree on what they count, so peers are everyone in the organisation on
the same tool; where fewer than ``min_peers`` use a tool, everyone on every tool, but never below the tool's
other users), three views; the strongest decides:

* **Peers**: a score from robust z-scores among same-tool peers, ``z_context + max(0, z_ratio) / 2``:
  the median context per request carries it, and context per output token only adds. Padding output
  lowers the ratio but not the context, so it exempts nobody; there is no floor to stay just under.
  Size is a trait, not a mechanism: review work and large codebases read much, and their context grows
  inside each session through many tool results the session itself asked for. So the score alone gives at
  most *low*; medium and high need a **loaded prefix**: what a session loads rather than grows into, typical
  over its sessions, at ``static_prefix_factor`` times the same-tool peers' or more, or the static prefix
  below. A session loads its opening (system prompt, rules file, anything prepended), plus any later intake
  at least as large in one step (a corpus pasted or read after the opening); honest work grows through many
  smaller tool results. Where a tool has no sessions, the context its lightest requests carry (the 5th
  percentile) stands in.
* **A static prefix**: the share of sessions that open with the same large cached prefix (cache reads on
  the first request within 5% of the developer's most common opening size, and over
  ``static_prefix_factor`` times the peers' typical opening context). One prefix reused session after
  session, never written in any of them, is a mechanical sign of stuffing.
* **Own history**: the developer's median context in their heaviest week against their own typical
  week, counted only where the context is above the peers' anyway. A step alone says little (a refactor
  week), so it gives at most *low*.
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
    fmt_int,
    fmt_num,
    fmt_pct,
    not_evaluated,
    packed,
    robust_z,
    session_order,
    string_codes,
    unpacked,
)
from tokenaudit.detectors.config import ContextStuffing
from tokenaudit.schema import context_tokens

_CONTEXT = context_tokens()
_SAME_PREFIX = 0.05
"""Opening cache reads within 5% of the most common one count as the same prefix (a session's own first tool
result rides on top of it)."""
_FLOOR_QUANTILE = 0.05
"""Where a tool has too few sessions, the loaded block is read as the context of a developer's lightest requests."""


def _per_tool(requests: pl.DataFrame, config: ContextStuffing, by_session: pl.Series | None = None) -> pl.DataFrame:
    """dev, tool: requests, median context, context per output, loaded block, static-prefix share, own weekly step.

    Grouped on one integer per (dev, tool) (:func:`~tokenaudit.detectors.base.packed`), named back at the end.
    ``by_session``: the requests' :func:`~tokenaudit.detectors.base.session_order`, where the caller has it."""
    tool_codes, tools = string_codes(requests["tool"])
    lows = tools.len()
    rows = requests.select(
        packed("dev", pl.lit(tool_codes), lows).alias("key"),
        "session",
        "timestamp",
        "opens_session",
        "input_tokens",
        "output_tokens",
        "cache_read_tokens",
        "cache_write_tokens",
        _CONTEXT.alias("_context"),
    )
    context = pl.col("_context")
    per_tool = rows.group_by("key").agg(
        pl.len().alias("n_requests"),
        context.median().alias("median_context"),
        (context.sum() / pl.col("output_tokens").sum().clip(1)).alias("context_per_output"),
        context.quantile(_FLOOR_QUANTILE).alias("floor_context"),
    )
    openers = rows.filter("opens_session").select(
        "key", pl.col("cache_read_tokens").alias("prefix"), context.alias("opening_context")
    )
    modal = (
        openers.filter(pl.col("prefix") > 0)
        .group_by("key", (pl.col("prefix").log() / _SAME_PREFIX).round().alias("bucket"))
        .agg(pl.len().alias("count"), pl.col("prefix").median().alias("modal_prefix"))
        .sort("count", "bucket", descending=[True, False])
        .group_by("key", maintain_order=True)
        .first()
        .select("key", "modal_prefix")
    )
    static = (
        openers.join(modal, on="key", how="left")
        .group_by("key")
        .agg(
            pl.len().alias("sessions"),
            pl.col("modal_prefix").first(),
            ((pl.col("prefix") - pl.col("modal_prefix")).abs() <= _SAME_PREFIX * pl.col("modal_prefix"))
            .mean()
            .alias("static_prefix_share"),
            pl.col("opening_context").median().alias("median_opening_context"),
        )
    )
    # What a request takes in beyond what its session already held: a tool result or a prompt (with anything
    # pasted), i.e. the growth over the previous request's context and answer, and no more than it sent uncached
    # or wrote to the cache (a parent request after its subagent's shorter ones re-reads its own cached prefix).
    # Sessions are runs of a narrow copy sorted by (session, tool) (a stable sort keeps each in time order): the
    # previous request is the row before, and a run's opening is its first row (no group-by hashing 1M sessions).
    same_run = pl.col("session").eq_missing(pl.col("session").shift(1)) & pl.col("key").eq_missing(
        pl.col("key").shift(1)
    )
    held = pl.col("_held").shift(1)
    taken_in = pl.min_horizontal(context - held, pl.col("input_tokens") + pl.col("cache_write_tokens"))
    # A session's loaded block: its opening, plus a later intake at least as large (a second opening: a corpus
    # pasted or read in one step rather than grown into through the session's work).
    order = session_order(requests) if by_session is None else by_session
    in_sessions = rows.select(
        pl.col("key", "session", "input_tokens", "cache_write_tokens", "_context").gather(order),
        (context + pl.col("output_tokens")).gather(order).alias("_held"),
    )
    # In session order already; sorted by the tool too only where a session's requests name more than one (a
    # stable sort: each (session, tool) keeps its requests in time order, as a sort of the requests gives).
    mixed = (pl.col("session") == pl.col("session").shift(1)) & (pl.col("key") != pl.col("key").shift(1))
    if in_sessions.select(mixed.any()).item():
        in_sessions = in_sessions.sort("session", "key", maintain_order=True)
    # Each row's run is named by the position of its first row. A later intake counts only when at least as large
    # as the opening, so only such rows (about 1% at 10M flat events) are grouped to find the largest, not every row.
    marked = in_sessions.with_columns(_same=same_run).select(
        "key",
        "_context",
        "_same",
        _intake=pl.when("_same").then(taken_in),
        _run=pl.when(~pl.col("_same")).then(pl.int_range(pl.len(), dtype=pl.UInt32)).forward_fill(),
    )
    later = (
        marked.filter(pl.col("_intake") >= context.gather(pl.col("_run")))
        .group_by("_run")
        .agg(pl.col("_intake").max().alias("later"))
    )
    sessions = (
        marked.filter(~pl.col("_same"))
        .select("_run", "key", context.alias("opening"))
        .join(later, on="_run", how="left")
        .with_columns((pl.col("opening") + pl.col("later").fill_null(0)).alias("block"))
    )
    blocks = sessions.group_by("key").agg(pl.col("block").median().alias("median_block"))
    week = monday_weeks()
    weekly = (
        rows.group_by(packed("key", week + _WEEKS // 2, _WEEKS).alias("week_key"))
        .agg(context.median().alias("week_context"), pl.len().alias("week_requests"))
        .filter(pl.col("week_requests") >= config.min_requests_per_week)
        .group_by((pl.col("week_key") // _WEEKS).alias("key"))
        .agg(
            pl.len().alias("weeks"),
            (pl.col("week_context").max() / pl.col("week_context").median().clip(1)).alias("own_step"),
        )
    )
    with_sessions = pl.col("sessions") >= config.min_sessions
    dev, tool = unpacked("key", lows)
    return (
        per_tool.join(static, on="key", how="left")
        .join(blocks, on="key", how="left")
        .join(weekly, on="key", how="left")
        .filter(pl.col("n_requests") >= config.min_requests)
        .with_columns(
            pl.when(with_sessions)
            .then(pl.col("median_block"))
            .otherwise(pl.col("floor_context"))
            .alias("loaded_context")
        )
        .select(dev.alias("dev"), pl.lit(tools).gather(tool).alias("tool"), pl.exclude("key"))
    )


def monday_weeks() -> pl.Expr:
    """The week of ``timestamp``, counted in weeks from Monday 1970-01-05: the week truncation's, in integer arithmetic
    (truncating 10M timestamps to their weeks costs twice the CPU)."""
    return (pl.col("timestamp").dt.epoch("d") - _FIRST_MONDAY) // 7


_FIRST_MONDAY = 4
"""Days from 1970-01-01, a Thursday, to the first Monday."""
_WEEKS = 2**20
"""Weeks since 1970 packed beside a (dev, tool) key, offset by half of this (any date a timestamp can hold)."""


def features(context: DetectorContext) -> pl.DataFrame:
    """Per developer and tool with enough requests: context per request and per output, loaded block, prefixes."""
    per_tool = _per_tool(context.requests, context.flags.context_stuffing, context.by_session)
    return by_developer(context, per_tool, how="inner")


_BASELINES = {
    "median_context": "peer_median_context",
    "context_per_output": "peer_median_ratio",
    "median_opening_context": "peer_median_opening_context",
    "loaded_context": "peer_loaded_context",
}
"""Each measure and the column holding its peers' median."""


def _few_peers_baselines(per_tool: pl.DataFrame, min_peers: int) -> pl.DataFrame:
    """developer, tool: on a tool with fewer than ``min_peers`` users, each measure's median over the tool's
    *other* users (none for a lone user), so a tool that carries more context by design raises its users'
    baseline."""
    few = per_tool.filter(pl.len().over("tool") < min_peers).select("developer", "tool", *_BASELINES)
    return (
        few.join(few, on="tool", suffix="_other")
        .filter(pl.col("developer") != pl.col("developer_other"))
        .group_by("developer", "tool")
        .agg(pl.col(f"{measure}_other").median() for measure in _BASELINES)
    )


def judge(features: pl.DataFrame, context: DetectorContext) -> pl.DataFrame:
    """Per developer: the tool with the strongest evidence, its scores and the peers' baselines.

    Peers are everyone on the same tool; where fewer than ``min_peers`` use it, the organisation's developers on
    every tool (the baseline never below what the tool's other users show), so stuffing cannot hide on a tool
    few colleagues use. The evidence's ``baseline`` says which.
    """
    config = context.flags.context_stuffing
    by_tool = pl.col("n_tool_peers") >= config.min_peers
    z_scores = {"median_context": "z_context", "context_per_output": "z_ratio"}
    scored = (
        features.join(_few_peers_baselines(features, config.min_peers), on=["developer", "tool"], how="left")
        .with_columns(pl.len().over("tool").alias("n_tool_peers"), pl.len().alias("n_organisation"))
        .with_columns(
            pl.when(by_tool)
            .then(pl.col(measure).median().over("tool"))
            .otherwise(pl.max_horizontal(pl.col(measure).median(), f"{measure}_other"))
            .alias(peer)
            for measure, peer in _BASELINES.items()
        )
        .with_columns(
            *(
                robust_z(
                    pl.col(measure).clip(1).log10(),
                    group="tool",
                    spread="pooled",
                    centre=pl.when(by_tool)
                    .then(pl.col(measure).clip(1).log10().median().over("tool"))
                    .otherwise(pl.col(_BASELINES[measure]).clip(1).log10()),
                ).alias(z)
                for measure, z in z_scores.items()
            ),
            pl.when(by_tool).then(pl.lit("tool")).otherwise(pl.lit("all tools")).alias("baseline"),
            (pl.col("loaded_context") / pl.col("peer_loaded_context").clip(1)).alias("loaded_multiple"),
        )
        .drop(f"{measure}_other" for measure in _BASELINES)
    )
    score = pl.col("z_context") + pl.col("z_ratio").clip(0) / 2
    big_prefix = pl.col("modal_prefix") >= config.static_prefix_factor * pl.col("peer_median_opening_context")
    static_severity = pl.when(big_prefix & (pl.col("sessions") >= config.min_sessions)).then(
        band_severity(pl.col("static_prefix_share"), config.static_prefix_share)
    )
    # A step up in the developer's own history counts only to a level already above the peers' typical one.
    own_severity = pl.when((pl.col("weeks") >= 3) & (pl.col("z_context") >= 1)).then(
        pl.min_horizontal(band_severity(pl.col("own_step"), config.own_step), pl.lit(1))
    )
    # Size alone is a trait: without a loaded prefix (or a static one) the score stops at low.
    loaded = (pl.col("loaded_multiple") >= config.static_prefix_factor) | (static_severity.fill_null(0) > 0)
    size = band_severity(pl.col("score"), config.score)
    size_strength = band_strength(pl.col("score"), config.score)
    below_medium = band_strength(pl.lit(config.score.medium), config.score)
    evaluated = by_tool | (pl.col("n_organisation") >= config.min_peers)
    severity = pl.when(evaluated).then(
        pl.max_horizontal(
            pl.when(loaded).then(size).otherwise(pl.min_horizontal(size, pl.lit(1))),
            static_severity.fill_null(0),
            own_severity.fill_null(0),
        )
    )
    strength = pl.max_horizontal(
        pl.when(loaded).then(size_strength).otherwise(pl.min_horizontal(size_strength, below_medium)),
        pl.when(static_severity > 0).then(band_strength(pl.col("static_prefix_share"), config.static_prefix_share)),
    ).fill_null(0.0)
    best = (
        scored.with_columns(score.alias("score"))
        .with_columns(
            severity.fill_null(0).alias("tool_severity"),
            strength.alias("strength"),
            loaded.fill_null(value=False).alias("loaded_prefix"),
        )
        .sort("developer", "tool_severity", "score", "tool", descending=[False, True, True, False], nulls_last=True)
        .group_by("developer", maintain_order=True)
        .first()
    )
    frame = (
        context.developers.select("developer", "peer_group")
        .join(best, on="developer", how="left")
        .with_columns(pl.col("n_requests", "n_tool_peers", "n_organisation").fill_null(0))
    )
    return frame.with_columns(
        capped(pl.col("tool_severity").fill_null(0), config.max_severity).alias("severity"),
        pl.col("strength").fill_null(0.0),
        not_evaluated(
            (pl.col("n_requests") < config.min_requests) | (pl.col("n_organisation") < config.min_peers),
            f"at least {config.min_requests} requests on one tool, and {config.min_peers} developers with as many "
            "in the organisation",
        ).alias("needs"),
    ).drop("tool_severity")


def reason(row: dict[str, Any]) -> str:
    """Quote context per request and per output token against same-tool peers (or all tools where a tool has too
    few users), and the mechanical signs."""
    text = (
        ""
        if row["baseline"] == "tool"
        else f"compared with all tools ({fmt_int(row['n_organisation'])} developer-tool pairs): only "
        f"{row['n_tool_peers']} developer(s) use {row['tool']}; "
    )
    text += (
        f"median context {fmt_int(row['median_context'])} tokens per request on {row['tool']} "
        f"(peer median {fmt_int(row['peer_median_context'])}, z {fmt_num(row['z_context'], 1)}) and "
        f"{fmt_int(row['context_per_output'])} context tokens per output token "
        f"(peer median {fmt_int(row['peer_median_ratio'])}, z {fmt_num(row['z_ratio'], 1)}); score "
        f"{fmt_num(row['score'], 1)}; "
    )
    loaded = f"{fmt_int(row['loaded_context'])} tokens"
    if row["loaded_context"] == row["median_block"]:
        text += f"a session typically loads {loaded} (its opening, and any later intake as large in one step; "
    else:
        text += f"too few sessions to read: its lightest requests (5%) carry {loaded} ("
    text += f"{fmt_num(row['loaded_multiple'], 1)}× the peers' {fmt_int(row['peer_loaded_context'])})"
    if row["modal_prefix"] and row["static_prefix_share"]:
        text += (
            f"; {fmt_pct(row['static_prefix_share'])} of {fmt_int(row['sessions'])} sessions opened on the same "
            f"cached prefix of {fmt_int(row['modal_prefix'])} tokens (peers open on "
            f"{fmt_int(row['peer_median_opening_context'])})"
        )
    if row["own_step"] is not None:
        text += f"; heaviest week {fmt_num(row['own_step'], 1)}× the developer's typical week"
    if not row["loaded_prefix"]:
        text += "; no loaded prefix: the extra context grows inside sessions, and size alone stays low"
    return text + "."


DETECTOR = Detector(
    id="context_stuffing",
    family="waste",
    consider=(
        "a huge monorepo or long sessions that are never compacted",
        "review or analysis work that reads much and writes little",
        "a bloated CLAUDE.md or rules file (a static prefix in every session)",
        "a refactor or migration week (a step in the developer's own history)",
        "a tool few colleagues use that sends more context by design (then compared with all tools)",
    ),
    features=features,
    judge=judge,
    reason=reason,
    gauges=(("score", "score"), ("static_prefix_share", "static_prefix_share")),
    evidence=(
        "tool",
        "n_requests",
        "median_context",
        "context_per_output",
        "z_context",
        "z_ratio",
        "score",
        "sessions",
        "modal_prefix",
        "static_prefix_share",
        "own_step",
        "weeks",
        "peer_median_context",
        "peer_median_ratio",
        "peer_median_opening_context",
        "loaded_context",
        "peer_loaded_context",
        "loaded_multiple",
        "loaded_prefix",
        "n_tool_peers",
        "baseline",
        "n_organisation",
    ),
    outcomes_exculpate=True,
)
