"""The periodic report as a self-contained HTML page or as Markdown (layout only: numbers come from
:func:`tokenaudit.report_page.report_data`).

The HTML has inline CSS and inline SVG charts and references nothing outside itself, so it opens from a
mail attachment or a wiki upload with no network. Markdown writes its charts as SVG files beside the
report when it has a folder to write to, and says so when it has not.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tokenaudit.render import charts
from tokenaudit.render.markdown import render as markdown_table
from tokenaudit.report import BOARD_COLUMNS, TableView, board_order, board_row

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;color:#222;max-width:1100px;margin:24px auto;
padding:0 16px}h1{font-size:24px;margin-bottom:4px}h2{border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:32px}
.meta{color:#666}.notice{background:#fff8e1;border-left:4px solid #f0ad4e;padding:8px 12px}
table{border-collapse:collapse;margin:8px 0;font-size:13px}td,th{border:1px solid #ddd;padding:3px 8px}
th{background:#f5f5f5;text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}
.high{color:#b71c1c;font-weight:600}.medium{color:#e65100;font-weight:600}.up{color:#1b5e20}.down{color:#b71c1c}
.cards{display:flex;gap:12px;flex-wrap:wrap}.card{border:1px solid #ddd;border-radius:6px;padding:8px 14px}
.card b{display:block;font-size:20px}.charts{display:flex;gap:16px;flex-wrap:wrap;align-items:flex-start}
.flag{margin:6px 0 12px 0}.evidence{color:#555;font-size:12px}svg{max-width:100%;height:auto}
"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _n(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return _e(value)


def _cost(value: float | None) -> str:
    return "unpriced" if value is None else f"${value:,.2f}"


def _flagged(data: dict[str, Any]) -> list[dict[str, Any]]:
    order = {"high": 0, "medium": 1, "low": 2, "none": 3}
    return sorted(
        (d for d in data["developers"] if d["flags"]),
        key=lambda d: (order[d["risk"]["level"]], -d["risk"]["score"], d["developer"]),
    )


def chart_svgs(data: dict[str, Any]) -> dict[str, str]:
    """Every chart of the report as SVG text, keyed by a file-name-safe id."""
    people = data["developers"]
    flagged = {d["developer"] for d in people if d["risk"]["level"] in ("medium", "high")}
    found = {"daily_by_team": charts.daily_trend(data["report"]["daily_by_team"])}
    if "ranking" in data:
        found["tokens_vs_outcomes"] = charts.tokens_vs_outcomes(
            [(d["developer"], d["tokens"]["total"], d["outcomes"]["score"], d["developer"] in flagged) for d in people]
        )
        ranked = [d for d in people if d["rank"].get("adjusted") is not None]
        found["rank_shift"] = charts.rank_slopes(
            [
                (
                    d["developer"],
                    d["rank"]["adjusted"] + d["rank"]["shift"],  # raw position among the ranked
                    d["rank"]["adjusted"],
                    d["developer"] in flagged,
                )
                for d in ranked
            ]
        )
    for index, (developer, minutes) in enumerate(sorted(data["report"]["hour_of_week"].items())):
        found[f"hour_of_week_{index + 1}"] = charts.hour_of_week(developer, [tuple(m) for m in minutes])
    return found


def _table(columns: list[str], rows: list[list[Any]], classes: Callable[[list[Any]], str] | None = None) -> str:
    head = "".join(f"<th>{_e(c)}</th>" for c in columns)
    body = "".join(
        f"<tr class='{classes(row) if classes else ''}'>"
        + "".join(f"<td class='n'>{_n(v)}</td>" if isinstance(v, int | float) else f"<td>{_e(v)}</td>" for v in row)
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_html(data: dict[str, Any]) -> str:
    """The report as one self-contained HTML page."""
    svgs = chart_svgs(data)
    summary, period, report = data["summary"], data["period"], data["report"]
    people = data["developers"]
    levels = summary["risk_levels"]
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>tokenaudit report {_e(period.get('since'))} – {_e(period.get('until'))}</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>What did the AI-assistant spend buy?</h1>",
        f"<p class='meta'>Period {_e(period.get('since') or period['first_event'][:10])} to "
        f"{_e(period.get('until') or period['last_event'][:10])} ({_e(period['timezone'])}) · generated "
        f"{_e(report.get('generated_at'))} by tokenaudit {_e(data['generator']['version'])}</p>",
        f"<p class='notice'>{_e(data['notice'])}</p>",
        "<h2>Summary</h2><div class='cards'>",
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
    if "ranking" in data:
        fit = data["ranking"]
        parts += [
            "<h2>Raw token leaderboard vs outcome-adjusted ranking</h2>",
            f"<p>Adjusted rank: outcome yield per effective token with shrinkage; elasticity {fit['elasticity']:.2f} "
            f"({_e(fit['elasticity_basis'])}). Shift = raw position minus adjusted rank (+ climbed).</p>",
            f"<div class='charts'>{svgs['tokens_vs_outcomes']}{svgs['rank_shift']}</div>",
            _table(list(BOARD_COLUMNS), [board_row(d) for d in board_order(people)], lambda row: str(row[-1])),
        ]
    else:
        parts += [
            "<h2>Raw token leaderboard</h2>",
            "<p>No outcome exports were given (--outcomes): only the raw token board can be shown.</p>",
            _table(
                ["rank", "developer", "team", "total tokens", "cost", "risk"],
                [
                    [
                        d["rank"]["tokens"],
                        d["developer"],
                        d["team"] or "",
                        d["tokens"]["total"],
                        _cost(d["cost_usd"]),
                        d["risk"]["level"],
                    ]
                    for d in people
                ],
                lambda row: str(row[-1]),
            ),
        ]
    parts.append("<h2>Flagged developers</h2>")
    flagged = _flagged(data)
    if not flagged:
        parts.append("<p>No flags.</p>")
    heatmaps = {name: index for index, name in enumerate(sorted(report["hour_of_week"]), start=1)}
    for d in flagged:
        capped = " — capped at low: outcome yield at or above typical" if d["risk"].get("capped_by_outcomes") else ""
        parts.append(
            f"<h3>{_e(d['developer'])} <span class='{_e(d['risk']['level'])}'>risk {_e(d['risk']['level'])}</span>"
            f"{_e(capped)}</h3>"
        )
        for flag in d["flags"]:
            evidence = ", ".join(f"{key}={value}" for key, value in flag["evidence"].items())
            parts.append(
                f"<div class='flag'><b>{_e(flag['id'])}</b> [{_e(flag['severity'])}]: {_e(flag['reason'])}"
                f"<div class='evidence'>evidence: {_e(evidence)}</div>"
                f"<div class='evidence'>consider: {_e('; '.join(flag['consider']))}</div></div>"
            )
        if d["developer"] in heatmaps:
            parts.append(svgs[f"hour_of_week_{heatmaps[d['developer']]}"])
    parts += [
        "<h2>Teams</h2>",
        svgs["daily_by_team"],
        _table(
            ["team", "developers", "total tokens", "requests", "cost", "high", "medium", "low"],
            [
                [
                    t["team"],
                    t["developers"],
                    t["total_tokens"],
                    t["requests"],
                    _cost(t["cost_usd"]),
                    t["risk_high"],
                    t["risk_medium"],
                    t["risk_low"],
                ]
                for t in report["teams"]
            ],
        ),
    ]
    if "trend" in report:
        trend = report["trend"]
        parts += [
            "<h2>Change against the previous period</h2>",
            f"<p>New flags: {_e(', '.join(trend['new_flags']) or 'none')}. Cleared: "
            f"{_e(', '.join(trend['cleared_flags']) or 'none')}. Token growth {_pct(trend['token_growth'])}, outcome "
            f"growth {_pct(trend['outcome_growth'])}.</p>",
        ]
    parts += [
        "<h2>Data quality</h2>",
        "<ul>",
        *(f"<li>{_e(note)}</li>" for note in data["report"]["quality_lines"]),
        "</ul>",
    ]
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.0%}"


def render_markdown(data: dict[str, Any], chart_dir: Path | None) -> tuple[str, dict[str, str]]:
    """The report as Markdown, and the chart files to write beside it ({file name: SVG})."""
    svgs = chart_svgs(data) if chart_dir is not None else {}
    summary, period = data["summary"], data["period"]
    lines = [
        "# What did the AI-assistant spend buy?",
        "",
        f"Period {period.get('since') or period['first_event'][:10]} to "
        f"{period.get('until') or period['last_event'][:10]} "
        f"({period['timezone']}) · generated {data['report'].get('generated_at')}",
        "",
        f"> {data['notice']}",
        "",
        "## Summary",
        "",
        f"- developers: {summary['developers']}, teams: {summary['teams']}",
        f"- total tokens: {summary['tokens']['total']:,}; requests: {summary['requests']:,}; "
        f"cost: {_cost(summary['cost_usd'])}",
        "- risk: " + ", ".join(f"{level} {summary['risk_levels'][level]}" for level in ("high", "medium", "low")),
        "",
    ]

    def image(name: str, alt: str) -> list[str]:
        if name not in svgs:
            return ["_(chart omitted: write the report with --output to get chart files beside it)_", ""]
        return [f"![{alt}]({chart_dir.name if chart_dir else '.'}/{name}.svg)", ""]

    people = data["developers"]
    if "ranking" in data:
        board = TableView(
            "Raw token leaderboard vs outcome-adjusted ranking",
            list(BOARD_COLUMNS),
            [board_row(d) for d in board_order(people)],
        )
        lines += [
            *markdown_table(board).splitlines(),
            "",
            *image("tokens_vs_outcomes", "tokens vs outcome score"),
            *image("rank_shift", "rank shift"),
        ]
    lines += ["## Flagged developers", ""]
    for d in _flagged(data):
        lines.append(f"### {d['developer']} (risk {d['risk']['level']})")
        lines.append("")
        for flag in d["flags"]:
            lines.append(f"- **{flag['id']}** [{flag['severity']}]: {flag['reason']}")
        lines.append("")
    lines += [
        "## Teams",
        "",
        *image("daily_by_team", "daily tokens by team"),
        "| team | developers | total tokens | cost | high | medium | low |",
        "|---|---:|---:|---:|---:|---:|---:|",
        *(
            f"| {t['team']} | {t['developers']} | {t['total_tokens']:,} | {_cost(t['cost_usd'])} | {t['risk_high']} | "
            f"{t['risk_medium']} | {t['risk_low']} |"
            for t in data["report"]["teams"]
        ),
        "",
        "## Data quality",
        "",
        *(f"- {line}" for line in data["report"]["quality_lines"]),
    ]
    return "\n".join(lines) + "\n", {f"{name}.svg": svg for name, svg in svgs.items()}
