"""The previous benchmark: the Goodhart-risk detectors on tokenaudit.simulate's organisations.

Kept for comparison with earlier figures (the adversarial evaluation is benchmarks/detection.py).
Usage: python benchmarks/detection.py --legacy [--seeds 1 2 3] [--developers 200] [--days 56] [--at medium]
       [--no-outcomes]

For each seed: simulate an organisation, audit it with its policy, and compare risk levels with the
ground-truth labels. Prints per-seed figures, then pooled precision and recall (overall, and at the
standard intensities x3 and above that the targets use), recall per style and intensity, and the
false-positive rate per honest archetype. With outcomes (the default) it also compares the raw token
board with the outcome-adjusted board: AUC of placing gamers below honest developers, Spearman with the
simulator's true yield, and honest heavy-productive developers in the adjusted bottom quarter.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import polars as pl

from tokenaudit.audit import run_audit
from tokenaudit.documents import audit_document
from tokenaudit.evaluate import (
    RankingEvaluation,
    evaluate,
    evaluate_ranking,
    read_audit,
    read_labels,
    read_ranks,
)
from tokenaudit.ingest import Period, load_events
from tokenaudit.outcomes.read import read_outcomes
from tokenaudit.policy import load_policy
from tokenaudit.render.evaluation import evaluation_text, ranking_text
from tokenaudit.simulate import SimulationConfig, simulate, write_simulation


def audit_seed(
    seed: int, developers: int, days: int, folder: Path, with_outcomes: bool
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Simulate and audit one organisation; return (labels, developer/risk/rank columns)."""
    write_simulation(simulate(SimulationConfig(developers=developers, days=days, seed=seed)), folder)
    policy = load_policy(folder / "policy.yaml")
    loaded = load_events([str(folder / "events.csv")], policy, Period(timezone=policy.timezone))
    outcomes = (
        read_outcomes([str(folder / "prs.json"), str(folder / "jira.csv")], policy.outcomes, policy.timezone)
        if with_outcomes
        else None
    )
    document = audit_document(run_audit(loaded, policy, outcomes)).data
    (folder / "audit.json").write_text(json.dumps(document))
    audit = read_audit(folder / "audit.json").join(read_ranks(folder / "audit.json"), on="developer")
    return read_labels(folder / "labels.csv").with_columns(seed=pl.lit(seed)), audit.with_columns(seed=pl.lit(seed))


def main() -> None:
    """Run the seeds and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--developers", type=int, default=200)
    parser.add_argument("--days", type=int, default=56)
    parser.add_argument("--at", default="medium", choices=["low", "medium", "high"])
    parser.add_argument("--no-outcomes", action="store_true", help="Audit token logs only (no PRs, no Jira).")
    args = parser.parse_args()
    all_labels, all_audits = [], []
    rankings: list[RankingEvaluation] = []
    with tempfile.TemporaryDirectory() as scratch:
        for seed in args.seeds:
            started = time.perf_counter()
            folder = Path(scratch) / f"seed{seed}"
            labels, audit = audit_seed(seed, args.developers, args.days, folder, not args.no_outcomes)
            result = evaluate(labels, audit, args.at)
            o = result.overall
            print(
                f"seed {seed}: precision {o['precision']:.3f} recall {o['recall']:.3f} "
                f"FPR {o['false_positive_rate']:.3f} ({time.perf_counter() - started:.1f} s)"
            )
            if not args.no_outcomes:
                rankings.append(evaluate_ranking(labels, audit))
                print(ranking_text(rankings[-1]).rstrip())
            all_labels.append(labels)
            all_audits.append(audit)
    key = pl.concat_str(pl.col("seed").cast(pl.String), pl.lit(":"), pl.col("developer"))
    labels = pl.concat(all_labels).with_columns(developer=key).drop("seed")
    audits = pl.concat(all_audits).with_columns(developer=key).drop("seed")
    print(f"\nPooled over seeds {', '.join(map(str, args.seeds))}:")
    print(evaluation_text(evaluate(labels, audits, args.at)))
    standard = labels.filter(
        (pl.col("label") == "honest")
        | ((pl.col("intensity").cast(pl.Float64) >= 3) & (pl.col("style") != "launch_ramp"))
    )
    core = evaluate(standard, audits, args.at).overall
    print(
        "Targets' population (intensities x3 and above, launch_ramp excluded as an optional extra): "
        f"precision {core['precision']:.3f}, recall {core['recall']:.3f}, "
        f"false-positive rate {core['false_positive_rate']:.3f}"
    )
    if rankings:
        print_ranking_means(rankings)


def print_ranking_means(rankings: list[RankingEvaluation]) -> None:
    """Mean of the per-seed ranking figures (ranks are only comparable within one organisation)."""

    def mean(name: str) -> str:
        values = [getattr(r, name) for r in rankings if getattr(r, name) is not None]
        return f"{statistics.fmean(values):.3f}" if values else "n/a"

    caught = sum(r.heavy_productive_in_bottom_quarter[0] for r in rankings)
    heavy = sum(r.heavy_productive_in_bottom_quarter[1] for r in rankings)
    print(
        f"\nRanking, mean over {len(rankings)} seeds: AUC gamers below honest raw {mean('auc_raw')} "
        f"adjusted {mean('auc_adjusted')}; Spearman with true yield raw {mean('spearman_raw')} "
        f"adjusted {mean('spearman_adjusted')}; gamers in raw top quarter {mean('gamers_in_top_quarter_raw')}, "
        f"in adjusted bottom half {mean('gamers_in_bottom_half_adjusted')}; honest heavy-productive in the "
        f"adjusted bottom quarter {caught}/{heavy}"
    )


if __name__ == "__main__":
    main()
