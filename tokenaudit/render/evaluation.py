"""``evaluate`` output: detector and ranking measurements against the simulator's truth, as JSON or text."""

from __future__ import annotations

from typing import Any

from tokenaudit.evaluate import Evaluation, RankingEvaluation


def _figure(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def evaluation_data(result: Evaluation) -> dict[str, Any]:
    """JSON form."""
    return {
        "at_level": result.at_level,
        "overall": result.overall,
        "by_style": result.by_style.to_dicts(),
        "by_archetype": result.by_archetype.to_dicts(),
        "labels_missing_from_audit": result.missing,
    }


def evaluation_text(result: Evaluation) -> str:
    """Plain-text report for the terminal and for RESULTS files."""
    o = result.overall

    lines = [
        f"Flagged = risk {result.at_level} or above. {o['developers']} developers: {o['gamers']} planted gamers, "
        f"{o['honest']} honest.",
        f"precision {_figure(o['precision'])}  recall {_figure(o['recall'])}  "
        f"false-positive rate {_figure(o['false_positive_rate'])}  average precision {_figure(o['average_precision'])}",
        "",
        "Recall by style and intensity:",
        *(
            f"  {r['style']:<20} ×{r['intensity']:<5} {r['detected']}/{r['n']}  recall {r['recall']:.2f}"
            for r in result.by_style.iter_rows(named=True)
        ),
        "",
        "False positives by honest archetype:",
        *(
            f"  {r['archetype']:<20} {r['flagged']}/{r['n']}  rate {r['false_positive_rate']:.2f}"
            for r in result.by_archetype.iter_rows(named=True)
        ),
    ]
    if result.missing:
        lines += ["", f"labelled developers absent from the audit: {', '.join(result.missing)}"]
    return "\n".join(lines) + "\n"


def ranking_data(result: RankingEvaluation) -> dict[str, Any]:
    """JSON form."""
    data = dict(result.__dict__)
    data["heavy_productive_in_bottom_quarter"] = list(result.heavy_productive_in_bottom_quarter)
    return data


def ranking_text(result: RankingEvaluation) -> str:
    """Plain-text comparison of the two boards."""

    caught, heavy = result.heavy_productive_in_bottom_quarter
    return (
        f"\nRanking ({result.ranked} ranked developers, {result.gamers} planted gamers):\n"
        f"  AUC (board places a gamer below an honest developer): raw {_figure(result.auc_raw)}  "
        f"adjusted {_figure(result.auc_adjusted)}\n"
        f"  Spearman of board position with true yield: raw {_figure(result.spearman_raw)}  "
        f"adjusted {_figure(result.spearman_adjusted)}\n"
        f"  gamers in the raw top quarter {_figure(result.gamers_in_top_quarter_raw)}; "
        f"in the adjusted bottom half {_figure(result.gamers_in_bottom_half_adjusted)}\n"
        f"  honest heavy-productive developers in the adjusted bottom quarter: {caught}/{heavy}\n"
    )
