"""``explain`` output: a terminal page of small charts, or the same data as JSON."""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl

from tokenaudit.documents import NOTICE, SCHEMA_VERSION
from tokenaudit.explain import Explanation
from tokenaudit.numbers import readable, readable_value

_BLOCKS = " ▁▂▃▄▅▆▇█"
_SHADES = " ░▒▓█"
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _scaled(values: list[float], alphabet: str) -> str:
    top = max(values, default=0) or 1
    return "".join(alphabet[round(value / top * (len(alphabet) - 1))] for value in values)


def _adjusted(e: Explanation) -> str:
    if e.outcomes is None:
        return ""
    if e.rank_adjusted is not None:
        return f", adjusted rank {e.rank_adjusted} of {e.ranked}"
    if e.rank_interval is None:
        return ", adjusted rank: none (insufficient data)"
    low, high = e.rank_interval
    return (
        f", adjusted rank: not placed (uncertain: rank interval {low}–{high} of {e.ranked}, bottom-quarter chance "
        f"{e.bottom_quarter_chance or 0:.2f})"
    )


def _outcome_line(e: Explanation) -> list[str]:
    if e.outcomes is None:
        return []
    counts = ", ".join(f"{kind} {count}" for kind, count in e.outcomes.items() if count)
    return [f"Outcomes: {counts or 'none'} (score {readable(e.outcome_score or 0)})"]


def explain_data(explanation: Explanation) -> dict[str, Any]:
    """The drill-down as JSON (same ``schema_version`` family as ``audit``)."""
    return {
        "schema_version": SCHEMA_VERSION,
        "notice": NOTICE,
        "developer": explanation.developer,
        "team": explanation.team,
        "risk": explanation.risk_level,
        "rank": {
            "tokens": explanation.rank_tokens,
            "adjusted": explanation.rank_adjusted,
            "adjusted_interval": list(explanation.rank_interval) if explanation.rank_interval else None,
            "bottom_quarter_chance": (
                None if explanation.bottom_quarter_chance is None else round(explanation.bottom_quarter_chance, 4)
            ),
        },
        "outcomes": explanation.outcomes,
        "outcome_score": explanation.outcome_score,
        "timezone": explanation.timezone,
        "daily_tokens": [
            {"day": row["day"].isoformat(), "tokens": row["tokens"], "peer_median": row["peer_median_tokens"]}
            for row in explanation.daily.iter_rows(named=True)
        ],
        "hour_of_week": [dict(row) for row in explanation.hour_of_week.iter_rows(named=True)],
        "gaps_between_requests": [
            {
                "bucket": r["bucket"],
                "count": r["count"],
                "share": round(r["share"], 4),
                "peer_share": None if r["peer_share"] is None else round(r["peer_share"], 4),
            }
            for r in explanation.gaps.iter_rows(named=True)
        ],
        "top_repeated_prompts": [dict(row) for row in explanation.top_prompts.iter_rows(named=True)],
        "flags": [
            {
                "id": f.id,
                "severity": f.severity,
                "reason": f.reason,
                "evidence": f.evidence,
                "consider": list(f.consider),
            }
            for f in explanation.flags
        ],
        "not_evaluated": [{"id": key, "needs": why} for key, why in explanation.not_evaluated],
        "near_misses": _rows(explanation.near_misses),
        "weeks": _rows(explanation.weeks),
        "sources": _rows(explanation.sources),
        "coverage": explanation.coverage,
    }


def _rows(frame: pl.DataFrame | None) -> list[dict[str, Any]]:
    """A small frame as JSON rows (dates as ISO text)."""
    if frame is None:
        return []
    return [
        {k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in row.items()}
        for row in frame.iter_rows(named=True)
    ]


def _evidence_lines(e: Explanation) -> list[str]:
    """Near misses, when it happened (week by week), and what each source let the detectors see."""
    lines: list[str] = []
    if e.near_misses is not None and not e.near_misses.is_empty():
        lines += ["", "Near misses (statistic just short of the next band):"]
        lines.extend(
            f"  {r['id']}: {r['statistic']} {r['value']:g}, {r['level']} starts at {r['threshold']:g}"
            for r in e.near_misses.iter_rows(named=True)
        )
    if e.weeks is not None and not e.weeks.is_empty():
        lines += ["", f"Week by week ({e.timezone}; night = 00:00–06:00 local):"]
        lines.append("  week         tokens        sessions  headless (tokens)       night minutes")
        lines.extend(
            f"  {r['week']}  {r['tokens']:>13,}  {r['sessions']:>8,}  {r['headless_sessions']:>8,} "
            f"({r['headless_tokens'] / max(r['tokens'], 1):>4.0%})  {r['night_minutes']:>13,}"
            for r in e.weeks.iter_rows(named=True)
        )
    if e.sources is not None and not e.sources.is_empty():
        coverage = e.coverage or {}
        shares = ", ".join(f"{k} {v:.0%}" for k, v in coverage.items() if isinstance(v, float))
        lines += ["", f"Sources (share of tokens the detectors could examine: {shares}):"]
        lines.extend(
            f"  {r['source_format']:<28} {r['grain']:<8} {r['tokens']:>14,}  {r['share']:>4.0%}"
            for r in e.sources.iter_rows(named=True)
        )
    return lines


def _daily_lines(explanation: Explanation) -> list[str]:
    rows = list(explanation.daily.iter_rows(named=True))
    if not rows:
        return ["  (no activity)"]
    first: dt.date = rows[0]["day"]
    last: dt.date = rows[-1]["day"]
    by_day = {row["day"]: row for row in rows}
    span = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    mine = [float(by_day[d]["tokens"]) if d in by_day else 0.0 for d in span]
    peers = [float(by_day[d]["peer_median_tokens"]) if d in by_day else 0.0 for d in span]
    scale = max(*mine, *peers, 1.0)
    return [
        f"  {first} … {last}  (max {int(max(mine)):,} tokens/day)",
        "  this developer  " + _scaled([*mine, scale], _BLOCKS)[:-1],
        "  peer median     " + _scaled([*peers, scale], _BLOCKS)[:-1],
    ]


def _heatmap_lines(explanation: Explanation) -> list[str]:
    grid = {(r["weekday"], r["hour"]): r["active_minutes"] for r in explanation.hour_of_week.iter_rows(named=True)}
    top = max(grid.values(), default=0) or 1
    lines = ["       " + "".join(f"{h:<3}" if h % 3 == 0 else "" for h in range(24))]
    for weekday in range(1, 8):
        cells = "".join(_SHADES[round(grid.get((weekday, h), 0) / top * (len(_SHADES) - 1))] for h in range(24))
        lines.append(f"  {_DAYS[weekday - 1]}  {cells}")
    return lines


def explain_text(explanation: Explanation) -> str:
    """A terminal page: header, flags, then the charts."""
    e = explanation
    lines = [
        f"{e.developer} ({e.team or 'no team'}) — risk {e.risk_level}, raw token rank {e.rank_tokens}" + _adjusted(e),
        *_outcome_line(e),
        NOTICE,
        "",
        "Flags:" if e.flags else "Flags: none",
    ]
    for flag in e.flags:
        lines.append(f"  [{flag.severity}] {flag.id}: {flag.reason}")
        lines.append("      evidence: " + ", ".join(f"{k}={readable_value(v)}" for k, v in flag.evidence.items()))
        lines.append("      consider: " + "; ".join(flag.consider))
    if e.not_evaluated:
        lines.append("Not evaluated:")
        lines.extend(f"  {key}: needs {why}" for key, why in e.not_evaluated)
    lines += ["", "Daily tokens (sparkline):", *_daily_lines(e), "", f"Active minutes by hour of week ({e.timezone}):"]
    lines += _heatmap_lines(e)
    lines += ["", "Gaps between requests (share; peer median share):"]
    for row in e.gaps.iter_rows(named=True):
        bar = "█" * round(row["share"] * 40)
        peer = "n/a" if row["peer_share"] is None else f"{row['peer_share']:.0%}"
        lines.append(f"  {row['bucket']:>7} {bar:<40} {row['share']:>4.0%}  ({peer})")
    lines += _evidence_lines(e)
    if not e.top_prompts.is_empty():
        lines += ["", "Most repeated prompts (hash prefix, never text):"]
        lines.extend(
            f"  {r['prompt_hash']}  ×{r['count']:,}  ({r['share']:.0%} of prompts)"
            for r in e.top_prompts.iter_rows(named=True)
        )
    return "\n".join(lines) + "\n"
