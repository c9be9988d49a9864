"""Charts as self-contained SVG text (matplotlib, Agg backend): drawn from plain data, computing nothing.

Why matplotlib: it is the most widely kept plotting library, renders offline to SVG with no browser or
network, and its SVG output is made byte-stable here (fixed hash salt, no date), so the same input gives
the same report.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

plt.rcParams.update({"svg.hashsalt": "tokenaudit", "font.size": 9, "svg.fonttype": "none"})
FLAGGED = "#c0392b"
PLAIN = "#2c3e50"


def _svg(figure: Figure) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None}, bbox_inches="tight")
    plt.close(figure)
    text = buffer.getvalue()
    # Drop the XML prolog and the RDF metadata block (it only names matplotlib and licence namespaces).
    return re.sub(r"<metadata>.*?</metadata>\s*", "", text[text.index("<svg") :], flags=re.DOTALL)


def tokens_vs_outcomes(points: Sequence[tuple[str, float, float, bool]]) -> str:
    """(label, total tokens, outcome score, flagged): flagged points drawn as red crosses and labelled."""
    figure, axis = plt.subplots(figsize=(6.5, 4))
    for flagged in (False, True):
        chosen = [p for p in points if p[3] is flagged]
        axis.scatter(
            [p[1] / 1e6 for p in chosen],
            [p[2] for p in chosen],
            marker="x" if flagged else "o",
            color=FLAGGED if flagged else PLAIN,
            alpha=0.9 if flagged else 0.5,
            label="flagged (medium or high)" if flagged else "not flagged",
        )
        if flagged:
            for label, tokens, score, _ in chosen:
                axis.annotate(label, (tokens / 1e6, score), fontsize=7, xytext=(4, 2), textcoords="offset points")
    axis.set_xscale("log")
    axis.set_xlabel("total tokens (millions, log scale)")
    axis.set_ylabel("outcome score")
    axis.legend(loc="best", frameon=False)
    axis.set_title("Tokens vs outcomes")
    return _svg(figure)


def rank_slopes(pairs: Sequence[tuple[str, int, int, bool]]) -> str:
    """(label, raw position, adjusted rank, flagged): a slope chart from the raw board to the adjusted one."""
    height = max(4.0, 0.16 * len(pairs))
    figure, axis = plt.subplots(figsize=(5, height))
    for label, raw, adjusted, flagged in pairs:
        color = FLAGGED if flagged else PLAIN
        axis.plot(
            [0, 1], [raw, adjusted], color=color, alpha=0.9 if flagged else 0.35, linewidth=1.6 if flagged else 0.8
        )
        if flagged:
            axis.annotate(label, (1, adjusted), fontsize=7, xytext=(4, 0), textcoords="offset points", va="center")
    axis.invert_yaxis()
    axis.set_xticks([0, 1], ["raw token board", "outcome-adjusted"])
    axis.set_xlim(-0.1, 1.4)
    axis.set_ylabel("position (1 = top)")
    axis.set_title("Rank shift (flagged developers in red)")
    return _svg(figure)


def daily_trend(series: dict[str, Sequence[tuple[str, int]]]) -> str:
    """team -> [(ISO day, tokens)]: one line per team."""
    figure, axis = plt.subplots(figsize=(6.5, 3.2))
    for team, points in sorted(series.items()):
        axis.plot([day for day, _ in points], [tokens / 1e6 for _, tokens in points], label=team, linewidth=1.2)
    axis.set_ylabel("tokens per day (millions)")
    ticks = sorted({day for points in series.values() for day, _ in points})
    axis.set_xticks(ticks[:: max(1, len(ticks) // 8)])
    axis.tick_params(axis="x", labelrotation=30)
    axis.legend(loc="upper left", frameon=False, fontsize=7, ncols=3)
    axis.set_title("Daily tokens by team")
    return _svg(figure)


def hour_of_week(label: str, minutes: Sequence[tuple[int, int, int]]) -> str:
    """(weekday 1-7, hour 0-23, active minutes) for one developer: a heatmap of when the usage happens."""
    grid = [[0] * 24 for _ in range(7)]
    for weekday, hour, value in minutes:
        grid[weekday - 1][hour] = value
    figure, axis = plt.subplots(figsize=(6.5, 1.9))
    axis.imshow(grid, aspect="auto", cmap="Reds")
    axis.set_yticks(range(7), ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"])
    axis.set_xticks(range(0, 24, 3))
    axis.set_xlabel("hour of day")
    axis.set_title(f"{label}: active minutes by hour of week")
    return _svg(figure)
