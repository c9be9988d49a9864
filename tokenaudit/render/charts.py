"""The report's overview charts as self-contained SVG text (matplotlib, Agg backend), drawn from plain data.

Why matplotlib for these: real date axes, log scales and label layout come for free, the SVG needs no script
to show (so the charts print and survive a mail client that strips scripts), and the output is byte-stable
here (fixed hash salt, no date). Every chart carries a ``<title>`` (its text alternative) and every point or
line a ``<title>`` of its own (the browser shows it as a tooltip). Labels are placed only where they do not
overlap a label already placed, highest priority first; the rest are left to the tooltips.
"""

from __future__ import annotations

import datetime as dt
import html
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.dates as mdates
import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.text import Annotation
from matplotlib.transforms import Bbox

from tokenaudit.numbers import readable

plt.rcParams.update({"svg.hashsalt": "tokenaudit", "font.size": 9, "svg.fonttype": "none"})

# Okabe & Ito's palette, distinguishable with the common colour-vision deficiencies; the yellow is left out
# (too faint on white), grey is "others".
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000")
OTHERS = "#999999"
FLAGGED = "#D55E00"
PLAIN = "#0072B2"
LINE_STYLES = ("-", "--", "-.", ":")


@dataclass(frozen=True)
class Label:
    """A label a chart would like to show, in priority order; ``x``, ``y`` in data coordinates."""

    text: str
    x: float
    y: float


def _svg(figure: Figure, title: str, tooltips: dict[str, str] | None = None) -> str:
    """The figure as SVG with ``title`` as its text alternative and ``<title>`` tooltips on artists by gid."""
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None}, bbox_inches="tight")
    plt.close(figure)
    text = buffer.getvalue()
    # Drop the XML prolog and the RDF metadata block (it only names matplotlib and licence namespaces).
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text[text.index("<svg") :], flags=re.DOTALL)
    text = re.sub(r"<svg ", "<svg role='img' ", text, count=1)
    text = re.sub(r"(<svg[^>]*>)", rf"\1<title>{html.escape(title)}</title>", text, count=1)
    for gid, tip in (tooltips or {}).items():
        text = text.replace(f'<g id="{gid}">', f'<g id="{gid}"><title>{html.escape(tip)}</title>', 1)
    return text


def _overlaps(box: Bbox, placed: list[Bbox]) -> bool:
    return any(box.overlaps(other) for other in placed)


def place_labels(figure: Figure, axis: Axes, labels: Sequence[Label], limit: int, prefix: str) -> int:
    """Annotate up to ``limit`` labels, each at the first of four offsets where it overlaps no placed label
    and stays inside the axes; the rest are skipped. Placed labels get the SVG id ``{prefix}-label-N``.
    Returns how many were placed."""
    renderer = figure.canvas.get_renderer()  # type: ignore[attr-defined]
    frame = axis.get_window_extent(renderer)
    placed: list[Bbox] = []
    for label in labels:
        if len(placed) >= limit:
            break
        for dx, dy, align in ((4, 2, "left"), (4, -9, "left"), (-4, 2, "right"), (-4, -9, "right")):
            note: Annotation = axis.annotate(
                label.text, (label.x, label.y), fontsize=7, xytext=(dx, dy), textcoords="offset points", ha=align
            )
            box = note.get_window_extent(renderer).expanded(1.05, 1.1)
            if frame.contains(box.x0, box.y0) and frame.contains(box.x1, box.y1) and not _overlaps(box, placed):
                note.set_gid(f"{prefix}-label-{len(placed)}")
                placed.append(box)
                break
            note.remove()
    return len(placed)


def tokens_vs_outcomes(points: Sequence[tuple[str, int, float, bool]], labelled: Sequence[str]) -> str:
    """(developer, total tokens, outcome score, flagged) as a scatter; ``labelled`` names in priority order."""
    figure, axis = plt.subplots(figsize=(6.5, 4))
    tips = {}
    for index, (name, tokens, score, flagged) in enumerate(points):
        gid = f"tvo-{index}"
        axis.plot(
            [max(tokens, 1) / 1e6],
            [score],
            marker="X" if flagged else "o",
            markersize=7 if flagged else 5,
            color=FLAGGED if flagged else PLAIN,
            alpha=0.95 if flagged else 0.55,
            linestyle="none",
            gid=gid,
        )
        tips[gid] = f"{name}: {tokens:,} tokens, outcome score {readable(score)}{' (flagged)' if flagged else ''}"
    axis.plot([], [], "X", color=FLAGGED, label="flagged (medium or high)")
    axis.plot([], [], "o", color=PLAIN, alpha=0.55, label="not flagged")
    axis.set_xscale("log")
    axis.set_xlabel("total tokens (millions, log scale)")
    axis.set_ylabel("outcome score")
    axis.legend(loc="upper left", frameon=False)
    where = {name: (tokens, score) for name, tokens, score, _ in points}
    place_labels(figure, axis, [Label(n, max(where[n][0], 1) / 1e6, where[n][1]) for n in labelled], 12, "tvo")
    return _svg(figure, "Total tokens against outcome score per developer; flagged developers marked X", tips)


def rank_slopes(pairs: Sequence[tuple[str, int, int, bool]], labelled: Sequence[str]) -> str:
    """(developer, raw position, adjusted rank, flagged): lines from the raw board to the adjusted one."""
    height = min(9.0, max(4.0, 0.05 * len(pairs)))
    figure, axis = plt.subplots(figsize=(5, height))
    tips = {}
    for index, (name, raw, adjusted, flagged) in enumerate(pairs):
        gid = f"rank-{index}"
        axis.plot(
            [0, 1],
            [raw, adjusted],
            color=FLAGGED if flagged else PLAIN,
            alpha=0.95 if flagged else 0.3,
            linewidth=1.8 if flagged else 0.8,
            gid=gid,
        )
        tips[gid] = f"{name}: raw position {raw} → adjusted rank {adjusted}{' (flagged)' if flagged else ''}"
    axis.invert_yaxis()
    axis.set_xticks([0, 1], ["raw token board", "outcome-adjusted"])
    axis.set_xlim(-0.1, 1.6)
    axis.set_ylabel("position (1 = top)")
    ends = {name: adjusted for name, _, adjusted, _ in pairs}
    place_labels(figure, axis, [Label(n, 1, ends[n]) for n in labelled if n in ends], 14, "rank")
    return _svg(figure, "Rank shift from the raw token board to the outcome-adjusted ranking; flagged in orange", tips)


def _team_style(index: int, team: str) -> dict[str, object]:
    if team.startswith("others ("):
        return {"color": OTHERS, "linestyle": "-"}
    return {"color": PALETTE[index % len(PALETTE)], "linestyle": LINE_STYLES[index // 2 % len(LINE_STYLES)]}


def daily_trend(days: Sequence[dt.date], series: Sequence[tuple[str, Sequence[int]]]) -> str:
    """(team, tokens per day over ``days``) in legend order: one line per team on a real date axis."""
    figure, axis = plt.subplots(figsize=(7, 3.4))
    axis_days = np.array(days, dtype="datetime64[D]")
    tips = {}
    for index, (team, values) in enumerate(series):
        axis.plot(axis_days, [v / 1e6 for v in values], label=team, linewidth=1.4, **_team_style(index, team))  # type: ignore[arg-type]
        for position, (day, value) in enumerate(zip(days, values, strict=True)):
            gid = f"day-{index}-{day.isoformat()}"
            axis.plot(
                axis_days[position : position + 1],
                [value / 1e6],
                marker="o",
                markersize=3,
                alpha=0,
                linestyle="none",
                gid=gid,
            )
            tips[gid] = f"{team}, {day.isoformat()}: {value:,} tokens"
    locator = mdates.AutoDateLocator(minticks=4, maxticks=9)  # type: ignore[no-untyped-call]
    axis.xaxis.set_major_locator(locator)
    axis.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
    axis.set_ylabel("tokens per day (millions)")
    axis.set_ylim(bottom=0)
    axis.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize=7)
    return _svg(figure, "Daily tokens by team, every day of the period (days without usage are zero)", tips)


def weekly_trend(weeks: Sequence[dt.date], series: Sequence[tuple[str, Sequence[int]]]) -> str:
    """(team, tokens per week starting on ``weeks``) as stacked bars, one bar per week."""
    figure, axis = plt.subplots(figsize=(7, 3.0))
    axis_weeks = np.array(weeks, dtype="datetime64[D]")
    base = [0.0] * len(weeks)
    tips = {}
    for index, (team, values) in enumerate(series):
        heights = [v / 1e6 for v in values]
        bars = axis.bar(axis_weeks, heights, width=5, bottom=base, label=team, color=_team_style(index, team)["color"])
        for bar, week, value in zip(bars, weeks, values, strict=True):
            bar.set_gid(f"week-{index}-{week.isoformat()}")
            tips[f"week-{index}-{week.isoformat()}"] = f"{team}, week of {week.isoformat()}: {value:,} tokens"
        base = [b + h for b, h in zip(base, heights, strict=True)]
    axis.set_xticks(axis_weeks, [f"{w:%d %b}" for w in weeks])
    axis.set_xlabel("week starting (Monday)")
    axis.set_ylabel("tokens per week (millions)")
    axis.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize=7)
    return _svg(figure, "Weekly tokens by team, stacked; first and last weeks may be partial", tips)


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def hour_of_week_by_week(label: str, weeks: Sequence[str], minutes: Sequence[tuple[str, int, int, int]]) -> str:
    """(week, weekday 1-7, hour, active minutes) for one developer: one 7×24 grid per week from the first
    active week to the last, stacked, so a pattern that changed from one week to the next is not averaged
    away. Drawn as plain SVG rectangles (no axes to lay out: a flagged developer's evidence costs
    milliseconds, not matplotlib's third of a second); darker = more minutes, scaled to this developer's
    busiest hour; each cell's ``<title>`` gives its numbers."""
    active = sorted({week for week, *_ in minutes})
    shown = [week for week in weeks if active and active[0] <= week <= active[-1]]
    cell, left, block = 14, 44, 7 * 14 + 22
    most = max((m for *_, m in minutes), default=1)
    width, height = left + 24 * cell + 4, block * max(len(shown), 1) + 18
    busiest = sorted(minutes, key=lambda m: (-m[3], m[0], m[1], m[2]))[:3]
    summary = "; ".join(f"week of {w} {_DAYS[d - 1]} {h:02d}:00 {m} min" for w, d, h, m in busiest) or "none"
    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' role='img' viewBox='0 0 {width} {height}' width='{width}' "
        f"height='{height}' font-family='sans-serif' font-size='10'><title>{html.escape(label)}: active minutes by "
        f"hour of week, week by week (darkest = {most} min). Busiest: {html.escape(summary)}</title>"
    ]
    top = {week: 14 + index * block for index, week in enumerate(shown)}
    for week, y in top.items():
        parts.append(f"<text x='0' y='{y - 3}'>week of {week}</text>")
        parts.append(f"<rect x='{left}' y='{y}' width='{24 * cell}' height='{7 * cell}' fill='#f7f7f7'/>")
        parts += [f"<text x='14' y='{y + d * cell + 10}' font-size='8'>{day}</text>" for d, day in enumerate(_DAYS)]
    for week, weekday, hour, value in minutes:
        if week in top:
            parts.append(
                f"<rect x='{left + hour * cell}' y='{top[week] + (weekday - 1) * cell}' width='{cell - 1}' "
                f"height='{cell - 1}' fill='{PLAIN}' fill-opacity='{0.15 + 0.85 * value / most:.2f}'><title>week of "
                f"{week} {_DAYS[weekday - 1]} {hour:02d}:00: {value} active min</title></rect>"
            )
    parts += [
        f"<text x='{left + hour * cell}' y='{height - 2}' text-anchor='middle'>{hour}h</text>"
        for hour in range(0, 25, 6)
    ]
    return "".join([*parts, "</svg>"])
