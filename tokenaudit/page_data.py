"""The data of the periodic report (``tokenaudit report``): one dict the HTML and Markdown pages lay out.

Everything here is computed from an :class:`AuditResult` (and, for trends, the previous period's): the
audit document itself (so the report's numbers are the JSON output's numbers), team rollups, the daily
token series by team, hour-of-week evidence for flagged developers, and the change against the previous
period. Renderers add nothing but layout and charts drawn from these numbers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import polars as pl

from tokenaudit.audit import AuditResult, team_rollups
from tokenaudit.documents import audit_document, outcome_notes, quality_notes
from tokenaudit.metrics import local_day
from tokenaudit.risk import FLAGGED
from tokenaudit.views import EventViews, minutes_by_hour, report_views, week_start

FLAGGED_LEVELS = FLAGGED
NO_TEAM = "(no team)"


def _trend(current: Mapping[str, Any], previous: Mapping[str, Any]) -> dict[str, Any]:
    """New and cleared flags, rank moves, and token growth against outcome growth."""
    now = {d["developer"]: d for d in current["developers"]}
    before = {d["developer"]: d for d in previous["developers"]}
    flagged_now = {name for name, d in now.items() if d["risk"]["level"] in FLAGGED_LEVELS}
    flagged_before = {name for name, d in before.items() if d["risk"]["level"] in FLAGGED_LEVELS}
    # Cleared only where every flag that made the risk was evaluated again and no longer fires.
    unresolved = {
        name
        for name in flagged_before - flagged_now
        if name not in now
        or {f["id"] for f in before[name].get("flags", []) if f["severity"] in FLAGGED_LEVELS}
        & {item["id"] for item in now[name].get("not_evaluated", [])}
    }
    moves = sorted(
        (
            {
                "developer": name,
                "rank_tokens": [before[name]["rank"]["tokens"], d["rank"]["tokens"]],
                "rank_adjusted": [before[name]["rank"].get("adjusted"), d["rank"].get("adjusted")],
            }
            for name, d in now.items()
            if name in before
        ),
        key=lambda move: move["developer"],
    )

    old_tokens, new_tokens = previous["summary"]["tokens"]["total"], current["summary"]["tokens"]["total"]

    def score(document: Mapping[str, Any]) -> float:
        return float(sum(d.get("outcomes", {}).get("score", 0.0) for d in document["developers"]))

    old_score, new_score = score(previous), score(current)
    return {
        "previous_period": previous["period"],
        "new_flags": sorted(flagged_now - flagged_before),
        "cleared_flags": sorted(flagged_before - flagged_now - unresolved),
        "not_reevaluated_flags": sorted(unresolved),
        "token_growth": round(new_tokens / old_tokens - 1, 4) if old_tokens else None,
        "outcome_score": [round(old_score, 4), round(new_score, 4)],
        "outcome_growth": round(new_score / old_score - 1, 4) if old_score else None,
        "rank_moves": moves,
    }


def _quality_lines(result: AuditResult) -> list[str]:
    """Data-quality facts in plain words: what was read from where, the usual diagnostics, then which checks
    could not run for how many developers and what they need."""
    quality = result.loaded.quality
    return [
        f"{quality.rows_read:,} rows read",
        *(f"source {s.file} ({s.format}): {s.events:,} events, {s.first} to {s.last}" for s in quality.sources),
        *quality_notes(quality),
        *outcome_notes(result),
        *(
            f"not evaluated: {check} for {count} developer{'s' if count != 1 else ''} (needs {needs})"
            for check, needs, count in result.findings.not_evaluated.group_by("id", "needs")
            .agg(pl.col("developer").n_unique())
            .sort("id", "needs")
            .iter_rows()
        ),
    ]


def calendar(result: AuditResult) -> list[dt.date]:
    """Every day of the period (or of the data's span): the x axis, so days without usage count as zero."""
    period = result.loaded.period
    days = result.loaded.usage["day"]
    first, last = period.since or days.min(), period.until or days.max()
    if not isinstance(first, dt.date) or not isinstance(last, dt.date):
        return []
    return [first + dt.timedelta(days=offset) for offset in range((last - first).days + 1)]


def _zero_filled(frame: pl.DataFrame, key: str, axis: list[dt.date], value: str) -> dict[str, list[list[Any]]]:
    """``key`` -> [[ISO day, value]] over every day of ``axis`` (missing days are 0), keys sorted."""
    grid = (
        frame.select(key)
        .unique()
        .join(pl.DataFrame({"day": axis}, schema={"day": pl.Date}), how="cross")
        .join(frame, on=[key, "day"], how="left")
        .with_columns(pl.col(value).fill_null(0))
        .sort(key, "day")
    )
    return {
        name: [[day.isoformat(), amount] for day, amount in zip(rows["day"], rows[value], strict=True)]
        for (name,), rows in grid.group_by(key, maintain_order=True)
    }


def team_series(result: AuditResult) -> tuple[dict[str, list[list[Any]]], dict[str, list[list[Any]]]]:
    """Tokens per team per day and per week (Monday), zero-filled over the whole period, days ascending."""
    days = calendar(result)
    usage = result.loaded.usage.select(pl.col("team").fill_null(NO_TEAM), "day", "total_tokens")
    daily = usage.group_by("team", "day").agg(pl.col("total_tokens").sum())
    weeks = sorted({day - dt.timedelta(days=day.weekday()) for day in days})
    weekly = daily.group_by("team", week_start(pl.col("day"))).agg(pl.col("total_tokens").sum())
    return _zero_filled(daily, "team", days, "total_tokens"), _zero_filled(weekly, "team", weeks, "total_tokens")


def _by_developer(frame: pl.DataFrame, columns: list[str]) -> dict[str, list[list[Any]]]:
    """developer -> rows of ``columns`` (dates as ISO strings), in the frame's order."""
    return {
        name: [[v.isoformat() if isinstance(v, dt.date) else v for v in row] for row in rows.select(columns).rows()]
        for (name,), rows in frame.group_by("developer", maintain_order=True)
    }


def period_views(result: AuditResult) -> EventViews:
    """The report's views of the period's events: computed shard by shard past the memory budget, else here."""
    views = result.loaded.views
    if views is not None and views.minutes is not None and views.sessions is not None:
        return views
    return report_views(result.loaded.events, result.findings.settings.headless_work, result.loaded.period.timezone)


def session_split(spans: pl.DataFrame) -> dict[str, dict[str, dict[str, int]]]:
    """developer -> interactive / headless / unknown -> sessions, active minutes (minutes holding a request, summed
    over the sessions: a loop of one-request sessions every five minutes is active, not a few seconds long) and
    tokens."""
    kind = (
        pl.when(pl.col("headless"))
        .then(pl.lit("headless"))
        .when(pl.col("headless").not_())
        .then(pl.lit("interactive"))
        .otherwise(pl.lit("unknown"))
    )
    totals = (
        spans.group_by("developer", kind.alias("kind"))
        .agg(pl.len().alias("sessions"), pl.col("minutes").sum(), pl.col("tokens").sum())
        .sort("developer", "kind")
    )
    split: dict[str, dict[str, dict[str, int]]] = {}
    for row in totals.iter_rows(named=True):
        split.setdefault(row["developer"], {})[row["kind"]] = {
            key: int(row[key]) for key in ("sessions", "minutes", "tokens")
        }
    return split


def developer_details(result: AuditResult, views: EventViews) -> dict[str, dict[str, Any]]:
    """Each developer's drill-down: weekly tokens and outcome score, hour-of-week minutes per week, sessions (each
    marked headless or interactive, and their totals of each kind), the last two from the period's ``views``
    (:func:`period_views`).

    The weekly outcome score weighs outcomes as the ranking does. With outcomes, the weeks run on to the end of
    the outcome window (the period plus the policy's lag), because work merges after the tokens that made it:
    those trailing weeks show outcomes against no tokens.
    """
    timezone = result.loaded.period.timezone
    days = calendar(result)
    if result.outcomes is not None and days:
        days += [days[-1] + dt.timedelta(days=n) for n in range(1, (result.outcomes.window[1] - days[-1]).days + 1)]
    weeks = sorted({day - dt.timedelta(days=day.weekday()) for day in days})
    weekly = result.loaded.usage.group_by("developer", week_start(pl.col("day"))).agg(
        pl.col("total_tokens").sum().alias("tokens")
    )
    tokens = _zero_filled(weekly, "developer", weeks, "tokens")
    outcomes: dict[str, list[list[Any]]] | None = None
    if result.outcomes is not None:
        weekly_score = result.outcomes.outcomes.group_by("developer", week_start(local_day(timezone)).alias("day")).agg(
            (
                pl.col("value")
                * pl.col("kind").replace_strict(result.outcome_weights, default=0.0, return_dtype=pl.Float64)
            )
            .sum()
            .round(4)
            .alias("score")
        )
        outcomes = _zero_filled(weekly_score, "developer", weeks, "score")
    minutes, spans_frame = views.minutes, views.sessions
    assert minutes is not None and spans_frame is not None
    heat = _by_developer(minutes, ["week", "weekday", "hour", "minutes"])
    spans = _by_developer(spans_frame, ["start", "end", "requests", "tokens", "headless"])
    splits = session_split(spans_frame)

    def week_row(name: str, index: int, week: str, amount: int) -> dict[str, Any]:
        if outcomes is None:
            return {"week": week, "tokens": amount}
        scores = outcomes.get(name)
        return {"week": week, "tokens": amount, "outcome_score": scores[index][1] if scores else 0.0}

    return {
        name: {
            "weekly": [week_row(name, index, week, amount) for index, (week, amount) in enumerate(series)],
            "hour_of_week_by_week": heat.get(name, []),
            "sessions": spans.get(name, []),
            "session_split": splits.get(name, {}),
        }
        for name, series in tokens.items()
    }


def report_data(result: AuditResult, previous: AuditResult | None = None) -> dict[str, Any]:
    """The whole report as data (a superset of the ``audit`` JSON document)."""
    document = audit_document(result).data
    teams, _ = team_rollups(result, 1)
    daily, weekly = team_series(result)
    flagged = [d["developer"] for d in document["developers"] if d["risk"]["level"] in FLAGGED_LEVELS]
    views = period_views(result)
    grid = views.minutes
    assert grid is not None
    evidence: dict[str, list[list[int]]] = {developer: [] for developer in flagged}
    for developer, weekday, hour, minutes in minutes_by_hour(
        grid.filter(pl.col("developer").is_in(flagged))
    ).iter_rows():
        evidence[developer].append([weekday, hour, minutes])
    data: dict[str, Any] = {
        **document,
        "report": {
            "teams": teams.to_dicts(),
            "quality_lines": _quality_lines(result),
            "daily_by_team": daily,
            "weekly_by_team": weekly,
            "hour_of_week": evidence,
            "developer_details": developer_details(result, views),
        },
    }
    if previous is not None:
        data["report"]["trend"] = _trend(data, audit_document(previous).data)
    return data


def top_with_others(series: dict[str, list[list[Any]]], shown: int = 8) -> list[tuple[str, list[int]]]:
    """The largest teams by total and, beyond ``shown`` teams, the rest summed as "others" (so a chart keeps
    at most ``shown`` lines). Every series must share one axis, as :func:`team_series` gives them."""
    totals = sorted(series.items(), key=lambda item: (-sum(v for _, v in item[1]), item[0]))
    if len(totals) <= shown:
        return [(name, [v for _, v in points]) for name, points in totals]
    kept, rest = totals[: shown - 1], totals[shown - 1 :]
    others = [sum(values) for values in zip(*([v for _, v in points] for _, points in rest), strict=True)]
    return [*((name, [v for _, v in points]) for name, points in kept), (f"others ({len(rest)} teams)", others)]
