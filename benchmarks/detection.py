"""Measure the Goodhart-risk detectors on simulated organisations with planted gamers.

Usage: python benchmarks/detection.py [--seeds 1 2 3] [--developers 200] [--days 56] [--at medium]

For each seed: simulate an organisation, audit it with its policy, and compare risk levels with the
ground-truth labels. Prints per-seed figures, then pooled precision and recall (overall, and at the
standard intensities x3 and above that the targets use), recall per style and intensity, and the
false-positive rate per honest archetype.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import polars as pl

from tokenaudit.audit import run_audit
from tokenaudit.evaluate import evaluate, evaluation_text, read_labels
from tokenaudit.ingest import Period, load_events
from tokenaudit.policy import load_policy
from tokenaudit.report import audit_document
from tokenaudit.simulate import SimulationConfig, simulate, write_simulation


def audit_seed(seed: int, developers: int, days: int, folder: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Simulate and audit one organisation; return (labels, developer, risk_level, risk_score)."""
    write_simulation(simulate(SimulationConfig(developers=developers, days=days, seed=seed)), folder)
    policy = load_policy(folder / "policy.yaml")
    loaded = load_events([str(folder / "events.csv")], policy, Period(timezone=policy.timezone))
    document = audit_document(run_audit(loaded, policy)).data
    (folder / "audit.json").write_text(json.dumps(document))
    audit = pl.DataFrame(
        [(d["developer"], d["risk"]["level"], float(d["risk"]["score"])) for d in document["developers"]],
        schema={"developer": pl.String, "risk_level": pl.String, "risk_score": pl.Float64},
        orient="row",
    )
    return read_labels(folder / "labels.csv").with_columns(seed=pl.lit(seed)), audit.with_columns(seed=pl.lit(seed))


def main() -> None:
    """Run the seeds and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--developers", type=int, default=200)
    parser.add_argument("--days", type=int, default=56)
    parser.add_argument("--at", default="medium", choices=["low", "medium", "high"])
    args = parser.parse_args()
    all_labels, all_audits = [], []
    with tempfile.TemporaryDirectory() as scratch:
        for seed in args.seeds:
            started = time.perf_counter()
            labels, audit = audit_seed(seed, args.developers, args.days, Path(scratch) / f"seed{seed}")
            result = evaluate(labels, audit, args.at)
            o = result.overall
            print(
                f"seed {seed}: precision {o['precision']:.3f} recall {o['recall']:.3f} "
                f"FPR {o['false_positive_rate']:.3f} ({time.perf_counter() - started:.1f} s)"
            )
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


if __name__ == "__main__":
    main()
