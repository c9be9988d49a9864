"""The data of the periodic report (``tokenaudit report``): one dict the HTML and Markdown pages lay out.

Everything here is computed from an :class:`AuditResult` (and, for trends, the previous period's): the
audit document itself (so the report's numbers are the JSON output's numbers), team rollups, the daily
token series by team, hour-of-week evidence for flagged developers, and the change against the previous
period. Renderers add nothing but layout and charts drawn from these numbers.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from tokenaudit.audit import AuditResult, team_rollups
from tokenaudit.explain import active_minutes_by_hour
from tokenaudit.metrics import totals
from tokenaudit.report import audit_document, outcome_notes, quality_notes

FLAGGED_LEVELS = ("medium", "high")


def _trend(current: dict[str, Any], previous: dict[str, Any]) -> dict[str, Any]:
    """New and cleared flags, rank moves, and token growth against outcome growth."""
    now = {d["developer"]: d for d in current["developers"]}
    before = {d["developer"]: d for d in previous["developers"]}
    flagged_now = {name for name, d in now.items() if d["risk"]["level"] in FLAGGED_LEVELS}
    flagged_before = {name for name, d in before.items() if d["risk"]["level"] in FLAGGED_LEVELS}
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

    def score(document: dict[str, Any]) -> float:
        return float(sum(d.get("outcomes", {}).get("score", 0.0) for d in document["developers"]))

    old_score, new_score = score(previous), score(current)
    return {
        "previous_period": previous["period"],
        "new_flags": sorted(flagged_now - flagged_before),
        "cleared_flags": sorted(flagged_before - flagged_now),
        "token_growth": round(new_tokens / old_tokens - 1, 4) if old_tokens else None,
        "outcome_score": [round(old_score, 4), round(new_score, 4)],
        "outcome_growth": round(new_score / old_score - 1, 4) if old_score else None,
        "rank_moves": moves,
    }


def _quality_lines(result: AuditResult) -> list[str]:
    """Data-quality facts in plain words: what was read from where, then the usual diagnostics."""
    quality = result.loaded.quality
    return [
        f"{quality.rows_read:,} rows read",
        *(f"source {s.file} ({s.format}): {s.events:,} events, {s.first} to {s.last}" for s in quality.sources),
        *quality_notes(quality),
        *outcome_notes(result),
    ]


def report_data(result: AuditResult, previous: AuditResult | None = None) -> dict[str, Any]:
    """The whole report as data (a superset of the ``audit`` JSON document)."""
    document = audit_document(result).data
    teams, _ = team_rollups(result, 1)
    daily = totals(result.loaded.events, ["day", "team"], result.loaded.period.timezone).with_columns(
        pl.col("team").fill_null("(no team)")
    )
    flagged = [d["developer"] for d in document["developers"] if d["risk"]["level"] in FLAGGED_LEVELS]
    flagged_events = result.loaded.events.filter(pl.col("developer").is_in(flagged))
    evidence: dict[str, list[list[int]]] = {developer: [] for developer in flagged}
    for developer, weekday, hour, minutes in active_minutes_by_hour(
        flagged_events, result.loaded.period.timezone
    ).iter_rows():
        evidence[developer].append([weekday, hour, minutes])
    data = {
        **document,
        "report": {
            "teams": teams.to_dicts(),
            "quality_lines": _quality_lines(result),
            "daily_by_team": {
                team: [[row["day"].isoformat(), row["total_tokens"]] for row in rows.sort("day").iter_rows(named=True)]
                for (team,), rows in sorted(daily.group_by("team"), key=lambda item: str(item[0]))
            },
            "hour_of_week": evidence,
        },
    }
    if previous is not None:
        data["report"]["trend"] = _trend(data, audit_document(previous).data)
    return data
