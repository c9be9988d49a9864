"""The periodic report as a self-contained HTML page or as Markdown (layout only: numbers come from
:func:`tokenaudit.page_data.report_data`).

Order is what a lead needs first: summary with the trend, the developers who need a conversation, the
boards, the teams, every developer's drill-down, data quality. The HTML has inline CSS, inline SVG charts,
the drill-down data as inline JSON and one small inline script (sorting, filtering, drill-down charts); it
references nothing outside itself, so it opens from a mail attachment or a wiki upload with no network.
Markdown keeps the same order and writes its charts as SVG files beside the report.
"""

from __future__ import annotations

import datetime as dt
import html
import json
from importlib import resources
from pathlib import Path
from typing import Any

from tokenaudit.documents import (
    BOARD_COLUMNS,
    CYCLE_NOTE,
    RISK_ORDER,
    TableView,
    board_order,
    board_row,
    cycle_cells,
    not_placed_note,
)
from tokenaudit.numbers import hours_or_days, readable, readable_value
from tokenaudit.outcomes.cycle_time import CYCLE_COUNTS
from tokenaudit.page_data import FLAGGED_LEVELS, top_with_others
from tokenaudit.render import charts
from tokenaudit.render.markdown import render as markdown_table

_CSS = """
*{box-sizing:border-box}body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;color:#222;
max-width:1150px;margin:16px auto;padding:0 12px}h1{font-size:22px;margin:4px 0}h2{border-bottom:1px solid #ccc;
padding-bottom:4px;margin-top:28px}h3{margin:14px 0 4px}.meta{color:#555}nav a{margin-right:10px}
.notice{background:#fff8e1;border-left:4px solid #e69f00;padding:8px 12px}
.scroll{overflow-x:auto;-webkit-overflow-scrolling:touch;max-width:100%}
table{border-collapse:collapse;margin:8px 0;font-size:13px}
td,th{border:1px solid #ddd;padding:3px 8px;white-space:nowrap}
th{background:#f3f3f3;text-align:left}th[data-sortable]{cursor:pointer}th[aria-sort=ascending]::after{content:" ▲"}
th[aria-sort=descending]::after{content:" ▼"}td.n{text-align:right;font-variant-numeric:tabular-nums}
.high{color:#a63603;font-weight:700}.medium{color:#8c5a00;font-weight:700}.up{color:#006d2c}.down{color:#a63603}
.cards{display:flex;gap:10px;flex-wrap:wrap}.card{border:1px solid #ddd;border-radius:6px;padding:6px 12px}
.card b{display:block;font-size:19px}figure{margin:8px 0;max-width:100%}figcaption{color:#555;font-size:12px}
.charts{display:flex;gap:16px;flex-wrap:wrap;align-items:flex-start}svg{max-width:100%;height:auto}
.person{border:1px solid #ddd;border-left:4px solid #e69f00;border-radius:4px;padding:4px 12px 8px;margin:10px 0}
.person.risk-high{border-left-color:#a63603}.flag{margin:6px 0}
.evidence,.consider{color:#444;font-size:12.5px}.controls{position:sticky;top:0;background:#fff;padding:6px 0;z-index:2;
border-bottom:1px solid #eee;display:flex;gap:10px;flex-wrap:wrap;align-items:center}
details.dev{border-bottom:1px solid #eee;padding:4px 0;scroll-margin-top:64px}details.dev>summary{cursor:pointer}
.dd{padding:4px 0 8px 16px}.muted{color:#666}[hidden]{display:none!important}
@media (max-width:600px){body{padding:0 6px}.card b{font-size:16px}h2{font-size:18px}}
@media print{nav,.controls,#developers,script{display:none!important}body{max-width:none;margin:0;font-size:11px}
.scroll{overflow:visible}.person,figure,tr{break-inside:avoid}a{color:inherit;text-decoration:none}
details.numbers{display:none}}
"""

_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
"""Active minutes 0-60 as one character each: a week's 168 hours become a 168-character string."""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _n(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if isinstance(value, float):
        return readable(value)
    return _e(value)


def _cost(value: float | None) -> str:
    return "unpriced" if value is None else f"${value:,.2f}"


def _not_reevaluated(trend: dict[str, Any]) -> str:
    """Developers flagged before whose flags could not be evaluated this period: neither cleared nor flagged."""
    names = trend.get("not_reevaluated_flags") or []
    return f" Not evaluated this period (not cleared): {', '.join(names)}." if names else ""


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.0%}"


def _needs_conversation(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Developers with any flag, highest risk first, then by risk score."""
    return sorted(
        (d for d in data["developers"] if d["flags"]),
        key=lambda d: (RISK_ORDER.index(d["risk"]["level"]), -d["risk"]["score"], d["developer"]),
    )


def _label_priority(data: dict[str, Any]) -> list[str]:
    """Names a chart may label, in order: the flagged (highest risk first), then the three largest users."""
    flagged = [d["developer"] for d in _needs_conversation(data) if d["risk"]["level"] in FLAGGED_LEVELS]
    largest = [d["developer"] for d in sorted(data["developers"], key=lambda d: -d["tokens"]["total"])[:3]]
    return list(dict.fromkeys([*flagged, *largest]))


def chart_svgs(data: dict[str, Any]) -> dict[str, str]:
    """Every overview chart of the report as SVG text, keyed by a file-name-safe id, in page order."""
    people, report = data["developers"], data["report"]
    flagged = {d["developer"] for d in people if d["risk"]["level"] in FLAGGED_LEVELS}
    found: dict[str, str] = {}
    weekly = top_with_others(report["weekly_by_team"])
    if weekly:
        weeks = [dt.date.fromisoformat(w) for w, _ in next(iter(report["weekly_by_team"].values()))]
        found["weekly_by_team"] = charts.weekly_trend(weeks, weekly)
    evidence = report["developer_details"]
    for index, d in enumerate(d for d in _needs_conversation(data) if d["risk"]["level"] in FLAGGED_LEVELS):
        detail = evidence[d["developer"]]
        found[f"hour_of_week_{index + 1}"] = charts.hour_of_week_by_week(
            d["developer"], [w["week"] for w in detail["weekly"]], [tuple(m) for m in detail["hour_of_week_by_week"]]
        )
    labels = _label_priority(data)
    if "ranking" in data:
        found["tokens_vs_outcomes"] = charts.tokens_vs_outcomes(
            [(d["developer"], d["tokens"]["total"], d["outcomes"]["score"], d["developer"] in flagged) for d in people],
            labels,
        )
        found["rank_shift"] = charts.rank_slopes(
            [
                (
                    d["developer"],
                    d["rank"]["adjusted"] + d["rank"]["shift"],
                    d["rank"]["adjusted"],
                    d["developer"] in flagged,
                )
                for d in people
                if d["rank"].get("adjusted") is not None
            ],
            labels,
        )
    daily = top_with_others(report["daily_by_team"])
    if daily:
        days = [dt.date.fromisoformat(day) for day, _ in next(iter(report["daily_by_team"].values()))]
        found["daily_by_team"] = charts.daily_trend(days, daily)
    return found


class _Html(str):
    """A cell that is already HTML (a link), laid out as is."""

    __slots__ = ()


def _cell(value: Any) -> str:
    if isinstance(value, _Html):
        return f"<td>{value}</td>"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"<td class='n' data-v='{value}'>{_n(value)}</td>"
    return f"<td>{_e(value)}</td>"


def _table(columns: list[str], rows: list[tuple[dict[str, str], list[Any]]], table_id: str = "") -> str:
    """A sortable table (the script sorts on click); each row's attributes (team, name) drive the filters."""
    head = "".join(f"<th data-sortable scope='col'>{_e(c)}</th>" for c in columns)
    body = "".join(
        "<tr" + "".join(f" {key}='{_e(value)}'" for key, value in attributes.items()) + ">"
        + "".join(_cell(v) for v in row) + "</tr>"
        for attributes, row in rows
    )  # fmt: skip
    identity = f" id='{table_id}'" if table_id else ""
    return f"<div class='scroll'><table{identity}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"


def _figure(svg: str, caption: str, columns: list[str], rows: list[list[Any]]) -> str:
    """A chart with its caption and its numbers (the text alternative) in a collapsed table."""
    numbers = "".join(
        "<tr>" + "".join(_cell(v) for v in row) + "</tr>" for row in rows
    )  # fmt: skip
    head = "".join(f"<th scope='col'>{_e(c)}</th>" for c in columns)
    return (
        f"<figure>{svg}<figcaption>{_e(caption)}</figcaption><details class='numbers'><summary>the numbers"
        f"</summary><div class='scroll'><table><thead><tr>{head}</tr></thead><tbody>{numbers}</tbody></table></div>"
        "</details></figure>"
    )


def _series_rows(series: dict[str, list[list[Any]]]) -> tuple[list[str], list[list[Any]]]:
    """A team-by-date series as a table: one row per date, one column per team."""
    teams = sorted(series)
    dates = [day for day, _ in next(iter(series.values()))] if series else []
    return ["date", *teams], [[day, *(series[t][i][1] for t in teams)] for i, day in enumerate(dates)]


def _anchors(data: dict[str, Any]) -> dict[str, str]:
    return {d["developer"]: f"dev-{index}" for index, d in enumerate(data["developers"])}


def _link(name: str, anchors: dict[str, str]) -> str:
    return f"<a href='#{anchors[name]}' class='dev-link'>{_e(name)}</a>"


def _summary(data: dict[str, Any], svgs: dict[str, str]) -> list[str]:
    summary, report = data["summary"], data["report"]
    levels = summary["risk_levels"]
    parts = [
        "<section id='summary'><h2>Summary</h2><div class='cards'>",
        *(
            f"<div class='card'><b>{_n(value)}</b>{_e(label)}</div>"
            for label, value in (
                ("developers", summary["developers"]),
                ("teams", summary["teams"]),
                ("total tokens", summary["tokens"]["total"]),
                ("requests", summary["requests"]),
                ("cost", _cost(summary["cost_usd"])),
                ("high risk", levels["high"]),
                ("medium risk", levels["medium"]),
                ("low risk", levels["low"]),
            )
        ),
        "</div>",
    ]
    trend = report.get("trend")
    if trend:
        before = trend["previous_period"]
        parts.append(
            f"<p id='trend'>Against the previous period ({_e(before.get('since'))} to {_e(before.get('until'))}): "
            f"tokens {_pct(trend['token_growth'])}, outcome score {_pct(trend['outcome_growth'])} "
            f"({readable(trend['outcome_score'][0])} → {readable(trend['outcome_score'][1])}). New flags: "
            f"{_e(', '.join(trend['new_flags']) or 'none')}. "
            f"Cleared: {_e(', '.join(trend['cleared_flags']) or 'none')}."
            f"{_e(_not_reevaluated(trend))}</p>"
        )
    else:
        parts.append(
            "<p id='trend' class='muted'>No previous period compared (use --period, or --compare-previous with "
            "--since/--until); the weekly chart shows the trend inside this period.</p>"
        )
    if "weekly_by_team" in svgs:
        parts.append(
            _figure(
                svgs["weekly_by_team"],
                "Weekly tokens by team (the largest teams; the rest as 'others'). Hover a bar for its numbers.",
                *_series_rows(report["weekly_by_team"]),
            )
        )
    return [*parts, "</section>"]


def _evidence(flag: dict[str, Any]) -> str:
    """The flag's evidence with its numbers readable (the JSON keeps them whole)."""
    return ", ".join(f"{key} = {readable_value(value)}" for key, value in flag["evidence"].items())


def _conversation(data: dict[str, Any], svgs: dict[str, str], anchors: dict[str, str]) -> list[str]:
    people = _needs_conversation(data)
    shown = [d for d in people if d["risk"]["level"] in FLAGGED_LEVELS]
    parts = [
        "<section id='conversation'><h2>Needs a conversation</h2>",
        "<p class='muted'>Flagged developers, highest risk first. A flag is a prompt for a conversation, not a "
        "verdict: rule out the listed explanations first.</p>",
    ]
    if not shown:
        parts.append("<p>Nobody at medium or high risk.</p>")
    for index, d in enumerate(shown, start=1):
        capped = " — capped at low: outcome yield at or above typical" if d["risk"].get("capped_by_outcomes") else ""
        outcome = f" · outcome score {readable(d['outcomes']['score'])}" if "outcomes" in d else ""
        parts.append(
            f"<div class='person risk-{_e(d['risk']['level'])}' data-team='{_e(d['team'] or '')}'>"
            f"<h3>{_link(d['developer'], anchors)} <span class='{_e(d['risk']['level'])}'>risk "
            f"{_e(d['risk']['level'])}</span>{_e(capped)}</h3><div class='meta'>{_e(d['team'] or 'no team')} · "
            f"{_n(d['tokens']['total'])} tokens{outcome}</div>{_split_paragraph(data, d['developer'])}"
        )
        for flag in d["flags"]:
            parts.append(
                f"<div class='flag'><b>{_e(flag['id'])}</b> [{_e(flag['severity'])}]: {_e(flag['reason'])}"
                f"<div class='evidence'>evidence: {_e(_evidence(flag))}</div>"
                f"<div class='consider'>rule out first: {_e('; '.join(flag['consider']))}</div></div>"
            )
        parts += [svgs.get(f"hour_of_week_{index}", ""), "</div>"]
    low = [d for d in people if d["risk"]["level"] not in FLAGGED_LEVELS]
    if low:
        parts.append(
            "<p>Low risk (flags noted, no conversation needed yet): "
            + ", ".join(f"{_link(d['developer'], anchors)} ({_e(', '.join(f['id'] for f in d['flags']))})" for d in low)
            + "</p>"
        )
    return [*parts, "</section>"]


def _split_paragraph(data: dict[str, Any], name: str) -> str:
    text = session_split_text(data["report"]["developer_details"][name]["session_split"])
    return f"<div class='meta'>{_e(text)}</div>" if text else ""


def _controls(data: dict[str, Any]) -> str:
    teams = sorted({d["team"] or "" for d in data["developers"]})
    options = "".join(f"<option value='{_e(t)}'>{_e(t or '(no team)')}</option>" for t in teams)
    return (
        "<div class='controls' role='search'><label>Team <select id='team-filter'><option value='*'>all teams</option>"
        f"{options}</select></label><label>Name <input id='name-filter' type='search' placeholder='search'></label>"
        "<span id='shown' class='muted'></span></div>"
    )


def _person_attributes(d: dict[str, Any]) -> dict[str, str]:
    return {"data-team": d["team"] or "", "data-name": d["developer"].lower()}


def _boards(data: dict[str, Any], svgs: dict[str, str], anchors: dict[str, str]) -> list[str]:
    people = data["developers"]
    if "ranking" not in data:
        rows = [
            (
                _person_attributes(d),
                [d["rank"]["tokens"], _Html(_link(d["developer"], anchors)), d["team"] or "", d["tokens"]["total"],
                 _cost(d["cost_usd"]), d["risk"]["level"]],
            )
            for d in people
        ]  # fmt: skip
        return [
            "<section id='boards'><h2>Raw token leaderboard</h2>",
            "<p>No outcome exports were given (--outcomes): only the raw token board can be shown.</p>",
            _table(["rank", "developer", "team", "total tokens", "cost", "risk"], rows, "board"),
            "</section>",
        ]
    fit = data["ranking"]
    ordered = board_order(people)
    name_at = BOARD_COLUMNS.index("developer")
    board = [
        (_person_attributes(d), [*row[:name_at], _Html(_link(d["developer"], anchors)), *row[name_at + 1 :]])
        for d, row in ((d, board_row(d)) for d in ordered)
    ]
    points = [[d["developer"], d["tokens"]["total"], d["outcomes"]["score"], d["risk"]["level"]] for d in ordered]
    slopes = [
        [d["developer"], d["rank"]["adjusted"] + d["rank"]["shift"], d["rank"]["adjusted"]]
        for d in ordered
        if d["rank"]["adjusted"] is not None
    ]
    return [
        "<section id='boards'><h2>Raw token leaderboard vs outcome-adjusted ranking</h2>",
        f"<p>Adjusted rank: outcome yield per effective token with shrinkage; elasticity {fit['elasticity']:.2f} "
        f"({_e(fit['elasticity_basis'])}). Shift = raw position minus adjusted rank (+ climbed). Click a header to "
        "sort, a name to open that developer.</p>",
        *(f"<p>{_e(note)}</p>" for note in not_placed_note(ordered, fit.get("bottom_quarter_confidence", 0.0))),
        "<div class='charts'>",
        _figure(
            svgs["tokens_vs_outcomes"],
            "Tokens against outcome score; flagged developers marked X. Labels only where they fit; hover a point.",
            ["developer", "total tokens", "outcome score", "risk"],
            points,
        ),
        _figure(
            svgs["rank_shift"],
            "From the raw token board to the adjusted ranking; flagged in orange.",
            ["developer", "raw position", "adjusted rank"],
            slopes,
        ),
        "</div>",
        _table(list(BOARD_COLUMNS), board, "board"),
        "</section>",
    ]


_CYCLE_COLUMNS = ["median hours to merge", "median ticket cycle days"]


def _timed(report: dict[str, Any]) -> bool:
    """Whether the team rows carry time to merge and ticket cycle time (only with outcomes)."""
    return any(CYCLE_COUNTS[0] in team for team in report["teams"])


def _teams(data: dict[str, Any], svgs: dict[str, str]) -> list[str]:
    report = data["report"]
    timed = _timed(report)
    rows = [
        (
            {"data-team": t["team"]},
            [t["team"], t["developers"], t["total_tokens"], t["requests"], _cost(t["cost_usd"]), t["risk_high"],
             t["risk_medium"], t["risk_low"],
             *([t["time_to_merge_hours_median"], t["ticket_cycle_days_median"]] if timed else [])],
        )
        for t in report["teams"]
    ]  # fmt: skip
    parts = ["<section id='teams'><h2>Teams</h2>"]
    if "daily_by_team" in svgs:
        parts.append(
            _figure(
                svgs["daily_by_team"],
                "Daily tokens by team over every day of the period (no usage = 0); beyond eight teams the rest are "
                "summed as 'others'. Hover a day for its numbers.",
                *_series_rows(report["daily_by_team"]),
            )
        )
    parts += [
        _table(
            [
                "team",
                "developers",
                "total tokens",
                "requests",
                "cost",
                "high",
                "medium",
                "low",
                *(_CYCLE_COLUMNS if timed else []),
            ],
            rows,
            "teams",
        ),
        f"<p class='muted'>{_e(CYCLE_NOTE)}</p>" if timed else "",
        "</section>",
    ]
    return parts


def _cycle_paragraph(d: dict[str, Any]) -> str:
    """The developer's median time to merge and ticket cycle time, where any of their outcomes were timed."""
    times = d.get("cycle_time") or {}
    parts = [
        f"{label}: median {hours_or_days(times[median], unit)} ({times[count]:,} timed)"
        for label, count, median, unit in (
            ("Merged PRs, opening to merge", "prs_timed", "time_to_merge_hours_median", "h"),
            ("Closed tickets, creation to resolution", "tickets_timed", "ticket_cycle_days_median", "d"),
        )
        if times.get(count)
    ]
    return f"<p class='muted'>{_e('. '.join(parts))}.</p>" if parts else ""


def _developers(data: dict[str, Any], anchors: dict[str, str]) -> list[str]:
    """One collapsed drill-down per developer; the script draws its charts and tables when it opens."""
    parts = [
        "<section id='developers'><h2>Every developer</h2>",
        "<p class='muted'>Open a developer for weekly tokens against outcomes, active minutes by hour of week "
        "(week by week), the session timeline and their flags' evidence.</p>",
    ]
    for d in sorted(data["developers"], key=lambda d: d["developer"]):
        flags = "".join(
            f"<li><b>{_e(f['id'])}</b> [{_e(f['severity'])}]: {_e(f['reason'])}<br><span class='evidence'>evidence: "
            f"{_e(_evidence(f))}</span></li>"
            for f in d["flags"]
        )
        skipped = ", ".join(f"{s['id']} (needs {s['needs']})" for s in d["not_evaluated"])
        parts.append(
            f"<details class='dev' id='{anchors[d['developer']]}' data-team='{_e(d['team'] or '')}' "
            f"data-name='{_e(d['developer'].lower())}' data-index='{anchors[d['developer']][4:]}'><summary>"
            f"<b>{_e(d['developer'])}</b> · {_e(d['team'] or 'no team')} · {_n(d['tokens']['total'])} tokens · "
            f"risk <span class='{_e(d['risk']['level'])}'>{_e(d['risk']['level'])}</span></summary><div class='dd'>"
            f"<div class='drawn'></div>{_cycle_paragraph(d)}{f'<ul>{flags}</ul>' if flags else '<p>No flags.</p>'}"
            f"{f'<p class=muted>Not evaluated: {_e(skipped)}</p>' if skipped else ''}</div></details>"
        )
    return [*parts, "</section>"]


def _quality(data: dict[str, Any]) -> list[str]:
    """What was read, what was dropped, and which checks could not run for whom and why."""
    lines = [f"<li>{_e(note)}</li>" for note in data["report"]["quality_lines"]]
    return ["<section id='quality'><h2>Data quality</h2><ul>", *lines, "</ul></section>"]


def _hours(minutes: int) -> str:
    return f"{minutes} min" if minutes < 60 else f"{readable(minutes / 60)} h"


def session_split_text(split: dict[str, dict[str, int]]) -> str:
    """ "12 sessions: 8 interactive (3.1 h, 40% of session tokens), 4 headless (…)", or "" without sessions."""
    total = sum(kind["sessions"] for kind in split.values())
    tokens = sum(kind["tokens"] for kind in split.values())
    if not total:
        return ""
    parts = [
        f"{split[kind]['sessions']:,} {kind} ({_hours(split[kind]['minutes'])} active, "
        f"{split[kind]['tokens'] / max(tokens, 1):.0%} of session tokens)"
        for kind in ("interactive", "headless", "unknown")
        if kind in split
    ]
    return f"{total:,} session{'s' if total != 1 else ''}: " + ", ".join(parts)


def _minutes_since(start: dt.datetime, stamp: str) -> int:
    return int((dt.datetime.fromisoformat(stamp) - start).total_seconds() // 60)


def _drilldown_data(data: dict[str, Any]) -> dict[str, Any]:
    """The drill-downs' numbers, compact: weekly series, each week's 168 hours as characters, sessions as
    minutes since the first Monday. Listed in the order of the anchors (``dev-N``)."""
    details = data["report"]["developer_details"]
    weeks = [w["week"] for w in next(iter(details.values()))["weekly"]] if details else []
    start = dt.datetime.fromisoformat(weeks[0]) if weeks else dt.datetime(1970, 1, 1)
    position = {week: index for index, week in enumerate(weeks)}
    people = []
    for d in data["developers"]:
        detail = details[d["developer"]]
        hours: dict[int, list[str]] = {}
        for week, weekday, hour, minutes in detail["hour_of_week_by_week"]:
            cells = hours.setdefault(position[week], ["0"] * 168)
            cells[(weekday - 1) * 24 + hour] = _ALPHABET[min(minutes, 60)]
        people.append(
            {
                "name": d["developer"],
                "tokens": [w["tokens"] for w in detail["weekly"]],
                "outcomes": [w["outcome_score"] for w in detail["weekly"]] if "outcomes" in d else None,
                "hours": {str(week): "".join(cells) for week, cells in hours.items()},
                "sessions": [
                    [_minutes_since(start, s[0]), _minutes_since(start, s[1]), s[2], s[3], s[4]]
                    for s in detail["sessions"]
                ],
                "split": session_split_text(detail["session_split"]),
            }
        )
    return {"weeks": weeks, "alphabet": _ALPHABET, "people": people}


def _inline_json(value: Any) -> str:
    """JSON safe inside a <script> element: no '</' can close it early."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).replace("</", "<\\/")


def render_html(data: dict[str, Any]) -> str:
    """The report as one self-contained HTML page."""
    svgs = chart_svgs(data)
    period, report = data["period"], data["report"]
    anchors = _anchors(data)
    script = resources.files("tokenaudit.render").joinpath("report.js").read_text(encoding="utf-8")
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>tokenaudit report {_e(period.get('since'))} – {_e(period.get('until'))}</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>What did the AI-assistant spend buy?</h1>",
        f"<p class='meta'>Period {_e(period.get('since') or (period['first_event'] or '')[:10])} to "
        f"{_e(period.get('until') or (period['last_event'] or '')[:10])} ({_e(period['timezone'])}) · generated "
        f"{_e(report.get('generated_at'))} by tokenaudit {_e(data['generator']['version'])}</p>",
        f"<p class='notice'>{_e(data['notice'])}</p>",
        *(f"<p class='notice'><b>{_e(warning)}</b></p>" for warning in data.get("warnings", [])),
        "<nav><a href='#summary'>Summary</a><a href='#conversation'>Needs a conversation</a><a href='#boards'>Boards"
        "</a><a href='#teams'>Teams</a><a href='#developers'>Every developer</a><a href='#quality'>Data quality</a>"
        "</nav>",
        *_summary(data, svgs),
        *_conversation(data, svgs, anchors),
        _controls(data),
        *_boards(data, svgs, anchors),
        *_teams(data, svgs),
        *_developers(data, anchors),
        *_quality(data),
        f"<script type='application/json' id='drilldown-data'>{_inline_json(_drilldown_data(data))}</script>",
        f"<script>{script}</script>",
        "</body></html>\n",
    ]
    return "\n".join(parts)


def _markdown_rows(columns: list[str], rows: list[list[Any]]) -> list[str]:
    return markdown_table(TableView("", columns, rows)).splitlines()[2:]


def render_markdown(data: dict[str, Any], chart_dir: Path | None) -> tuple[str, dict[str, str]]:
    """The report as Markdown in the page's order, and the chart files to write beside it ({file name: SVG})."""
    svgs = chart_svgs(data) if chart_dir is not None else {}
    summary, period, report = data["summary"], data["period"], data["report"]

    def image(name: str, alt: str) -> list[str]:
        if chart_dir is None:
            return ["_(chart omitted: write the report with --output to get chart files beside it)_", ""]
        return [f"![{alt}]({chart_dir.name}/{name}.svg)", ""] if name in svgs else []

    lines = [
        "# What did the AI-assistant spend buy?",
        "",
        f"Period {period.get('since') or (period['first_event'] or '')[:10]} to "
        f"{period.get('until') or (period['last_event'] or '')[:10]} ({period['timezone']}) · generated "
        f"{report.get('generated_at')}",
        "",
        f"> {data['notice']}",
        "",
        *(line for warning in data.get("warnings", []) for line in (f"> **{warning}**", "")),
        "## Summary",
        "",
        f"- developers: {summary['developers']}, teams: {summary['teams']}",
        f"- total tokens: {summary['tokens']['total']:,}; requests: {summary['requests']:,}; "
        f"cost: {_cost(summary['cost_usd'])}",
        "- risk: " + ", ".join(f"{level} {summary['risk_levels'][level]}" for level in ("high", "medium", "low")),
    ]
    trend = report.get("trend")
    if trend:
        lines.append(
            f"- against {trend['previous_period'].get('since')} to {trend['previous_period'].get('until')}: tokens "
            f"{_pct(trend['token_growth'])}, outcome score {_pct(trend['outcome_growth'])}; new flags: "
            f"{', '.join(trend['new_flags']) or 'none'}; cleared: {', '.join(trend['cleared_flags']) or 'none'}"
            f"{_not_reevaluated(trend)}"
        )
    lines += ["", *image("weekly_by_team", "weekly tokens by team"), "## Needs a conversation", ""]
    shown = [d for d in _needs_conversation(data) if d["risk"]["level"] in FLAGGED_LEVELS]
    if not shown:
        lines += ["Nobody at medium or high risk.", ""]
    for index, d in enumerate(shown, start=1):
        lines += [f"### {d['developer']} (risk {d['risk']['level']}, {d['team'] or 'no team'})", ""]
        split = session_split_text(report["developer_details"][d["developer"]]["session_split"])
        lines += [split, ""] if split else []
        for flag in d["flags"]:
            lines += [
                f"- **{flag['id']}** [{flag['severity']}]: {flag['reason']}",
                f"  - evidence: {_evidence(flag)}",
                f"  - rule out first: {'; '.join(flag['consider'])}",
            ]
        lines += ["", *image(f"hour_of_week_{index}", f"{d['developer']}: active minutes by hour of week, by week")]
    people = data["developers"]
    if "ranking" in data:
        ordered = board_order(people)
        board = TableView(
            "Raw token leaderboard vs outcome-adjusted ranking", list(BOARD_COLUMNS), [board_row(d) for d in ordered]
        )
        lines += [
            *markdown_table(board).splitlines(),
            "",
            *(f"{note}\n" for note in not_placed_note(ordered, data["ranking"].get("bottom_quarter_confidence", 0.0))),
            *image("tokens_vs_outcomes", "tokens vs outcome score"),
            *image("rank_shift", "rank shift"),
        ]
    else:
        lines += [
            "## Raw token leaderboard",
            "",
            *_markdown_rows(
                ["rank", "developer", "team", "total tokens", "risk"],
                [[d["rank"]["tokens"], d["developer"], d["team"] or "", d["tokens"]["total"], d["risk"]["level"]]
                 for d in people],
            ),
            "",
        ]  # fmt: skip
    timed = _timed(report)
    lines += [
        "## Teams",
        "",
        *image("daily_by_team", "daily tokens by team"),
        *_markdown_rows(
            [
                "team",
                "developers",
                "total tokens",
                "cost",
                "high",
                "medium",
                "low",
                *(["time to merge", "ticket cycle"] if timed else []),
            ],
            [
                [
                    t["team"],
                    t["developers"],
                    t["total_tokens"],
                    _cost(t["cost_usd"]),
                    t["risk_high"],
                    t["risk_medium"],
                    t["risk_low"],
                    *(cycle_cells(t) if timed else []),
                ]
                for t in report["teams"]
            ],
        ),
        *([CYCLE_NOTE] if timed else []),
        "",
        "## Data quality",
        "",
        *(f"- {line}" for line in report["quality_lines"]),
    ]
    return "\n".join(lines) + "\n", {f"{name}.svg": svg for name, svg in svgs.items()}
