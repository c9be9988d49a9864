"""Measuring the detectors against ground truth (the simulator's ``labels.csv``).

A detector that is never measured is a guess. This compares an audit's risk levels with planted
labels: precision and recall at a risk level, recall per gaming style and intensity, false-positive
rate per honest archetype, and average precision of the risk score.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import polars as pl

from tokenaudit.errors import InputError
from tokenaudit.risk import RAISED

LEVELS: Final = RAISED
_REQUIRED: Final = ("developer", "label", "archetype", "style", "intensity")


@dataclass(frozen=True)
class Evaluation:
    """Headline figures plus per-style and per-archetype breakdowns."""

    at_level: str
    overall: dict[str, Any]
    by_style: pl.DataFrame
    by_archetype: pl.DataFrame
    missing: list[str]


def read_labels(path: Path) -> pl.DataFrame:
    """Ground-truth labels; one line naming the file and the missing column on error."""
    try:
        labels = pl.read_csv(path, infer_schema=False)
    except (OSError, pl.exceptions.PolarsError) as exc:
        msg = f"{path}: cannot read labels CSV: {str(exc).splitlines()[0]}"
        raise InputError(msg) from None
    missing = [name for name in _REQUIRED if name not in labels.columns]
    if missing:
        msg = f"{path}: missing column {missing[0]!r}; expected {', '.join(_REQUIRED)}"
        raise InputError(msg)
    optional = [name for name in ("true_yield",) if name in labels.columns]
    return labels.select(*_REQUIRED, *[pl.col(name).cast(pl.Float64, strict=False) for name in optional])


def read_audit(path: Path) -> pl.DataFrame:
    """developer, risk_level, risk_score from an ``audit --format json`` document."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        rows = [(d["developer"], d["risk"]["level"], float(d["risk"]["score"])) for d in document["developers"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        msg = f"{path}: not an audit JSON document ({type(exc).__name__}: {exc})"
        raise InputError(msg) from None
    return pl.DataFrame(
        rows, schema={"developer": pl.String, "risk_level": pl.String, "risk_score": pl.Float64}, orient="row"
    )


def _average_precision(frame: pl.DataFrame) -> float | None:
    """Area under the precision–recall curve of ``risk_score`` (ties broken pessimistically)."""
    positives = frame["is_gamer"].sum()
    if not positives:
        return None
    ranked = frame.sort(["risk_score", "is_gamer"], descending=[True, False]).with_columns(
        hits=pl.col("is_gamer").cast(pl.Int64).cum_sum(), seen=pl.int_range(1, pl.len() + 1)
    )
    precision_at_hits = ranked.filter(pl.col("is_gamer")).select((pl.col("hits") / pl.col("seen")).mean())
    return float(precision_at_hits.item())


def evaluate(labels: pl.DataFrame, audit: pl.DataFrame, at_level: str = "medium") -> Evaluation:
    """Score flags at ``at_level`` or above against the labels."""
    threshold = LEVELS.index(at_level)
    rank = {name: index for index, name in enumerate(LEVELS)}
    joined = labels.join(audit, on="developer", how="inner").with_columns(
        is_gamer=pl.col("label") == "gamer",
        flagged=pl.col("risk_level").replace_strict(rank, default=-1, return_dtype=pl.Int64) >= threshold,
    )
    missing = sorted(set(labels["developer"]) - set(joined["developer"]))
    tp = joined.filter(pl.col("is_gamer") & pl.col("flagged")).height
    fp = joined.filter(~pl.col("is_gamer") & pl.col("flagged")).height
    gamers = joined.filter(pl.col("is_gamer")).height
    honest = joined.height - gamers
    overall = {
        "developers": joined.height,
        "gamers": gamers,
        "honest": honest,
        "true_positives": tp,
        "false_positives": fp,
        "precision": tp / (tp + fp) if tp + fp else None,
        "recall": tp / gamers if gamers else None,
        "false_positive_rate": fp / honest if honest else None,
        "average_precision": _average_precision(joined),
    }
    by_style = (
        joined.filter(pl.col("is_gamer"))
        .group_by("style", "intensity")
        .agg(pl.len().alias("n"), pl.col("flagged").sum().alias("detected"))
        .with_columns(recall=pl.col("detected") / pl.col("n"))
        .sort("style", "intensity")
    )
    by_archetype = (
        joined.filter(~pl.col("is_gamer"))
        .group_by("archetype")
        .agg(pl.len().alias("n"), pl.col("flagged").sum().alias("flagged"))
        .with_columns(false_positive_rate=pl.col("flagged") / pl.col("n"))
        .sort("archetype")
    )
    return Evaluation(at_level, overall, by_style, by_archetype, missing)


@dataclass(frozen=True)
class RankingEvaluation:
    """How the raw and the adjusted board place planted gamers and honest developers (simulator truth)."""

    ranked: int
    gamers: int
    auc_raw: float | None
    """Probability that the raw board places a random gamer below a random honest developer."""
    auc_adjusted: float | None
    spearman_raw: float | None
    """Rank correlation of board position (1 = top) with the simulator's true yield (sign: + is good)."""
    spearman_adjusted: float | None
    gamers_in_bottom_half_adjusted: float | None
    gamers_in_top_quarter_raw: float | None
    heavy_productive_in_bottom_quarter: tuple[int, int]


def read_ranks(path: Path) -> pl.DataFrame:
    """developer, rank_tokens, rank_adjusted, compared (on the adjusted board, placed or not) from an
    ``audit --outcomes … --format json`` document."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        rows = [
            (
                d["developer"],
                d["rank"]["tokens"],
                d["rank"].get("adjusted"),
                d["rank"].get("adjusted_interval") is not None,
            )
            for d in document["developers"]
        ]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        msg = f"{path}: not an audit JSON document ({type(exc).__name__}: {exc})"
        raise InputError(msg) from None
    return pl.DataFrame(
        rows,
        schema={"developer": pl.String, "rank_tokens": pl.Int64, "rank_adjusted": pl.Int64, "compared": pl.Boolean},
        orient="row",
    )


def _auc_below(frame: pl.DataFrame, position: str) -> float | None:
    """Mann–Whitney: share of (gamer, honest) pairs where the gamer sits lower on the board."""
    gamers = frame.filter(pl.col("is_gamer"))
    honest = frame.filter(~pl.col("is_gamer"))
    if gamers.is_empty() or honest.is_empty():
        return None
    ranks = frame.select(pl.col(position).rank("average"), "is_gamer")
    rank_sum = float(ranks.filter(pl.col("is_gamer"))[position].sum())
    u = rank_sum - gamers.height * (gamers.height + 1) / 2
    return round(u / (gamers.height * honest.height), 4)


def _spearman(frame: pl.DataFrame, position: str) -> float | None:
    if "true_yield" not in frame.columns or frame.height < 3:
        return None
    value = frame.select(pl.corr(-pl.col(position).cast(pl.Float64), "true_yield", method="spearman")).item()
    return None if value is None else round(float(value), 4)


def evaluate_ranking(labels: pl.DataFrame, ranks: pl.DataFrame) -> RankingEvaluation:
    """Separation of gamers (AUC) and agreement with true yield (Spearman), raw board vs adjusted board.

    Only developers placed on the adjusted board are compared, so both boards see the same people; the bottom
    quarter is of everyone the board compares (those not placed keep their places).
    """
    compared = int(ranks["compared"].sum()) if "compared" in ranks.columns else None
    frame = (
        labels.join(ranks, on="developer", how="inner")
        .filter(pl.col("rank_adjusted").is_not_null())
        .with_columns(is_gamer=pl.col("label") != "honest", raw_position=pl.col("rank_tokens").rank("ordinal"))
    )
    n = frame.height
    quarter = frame.filter(pl.col("rank_adjusted") > 0.75 * (compared or n))
    heavy = frame.filter(pl.col("archetype") == "heavy_productive")
    gamers = frame.filter(pl.col("is_gamer"))
    return RankingEvaluation(
        ranked=n,
        gamers=gamers.height,
        auc_raw=_auc_below(frame, "raw_position"),
        auc_adjusted=_auc_below(frame, "rank_adjusted"),
        spearman_raw=_spearman(frame, "raw_position"),
        spearman_adjusted=_spearman(frame, "rank_adjusted"),
        gamers_in_bottom_half_adjusted=(
            round(gamers.filter(pl.col("rank_adjusted") > n / 2).height / gamers.height, 4) if gamers.height else None
        ),
        gamers_in_top_quarter_raw=(
            round(gamers.filter(pl.col("raw_position") <= n / 4).height / gamers.height, 4) if gamers.height else None
        ),
        heavy_productive_in_bottom_quarter=(
            heavy.join(quarter.select("developer"), on="developer").height,
            heavy.height,
        ),
    )
