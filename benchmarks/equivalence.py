"""Behaviour equivalence of two checkouts: the same commands on the same inputs, every output compared byte for byte.

A restructuring must not change what users see. This runs each checkout's CLI in its own process (its source first on
``sys.path``) over the sample data, three simulated organisations and every fixture, and diffs stdout, stderr and the
exit code of each run::

    python benchmarks/equivalence.py /tmp/base /work/wt-arch
    python benchmarks/equivalence.py /tmp/base /work/wt-arch --memory-limit 4M   # loads past a budget, sharded

The simulated organisations are written by each checkout (and compared), then both checkouts read the same copy so
that paths in messages agree. Nothing is stripped: the report's ``generated_at`` is pinned by ``SOURCE_DATE_EPOCH``
and the pseudonym key is fixed, so no field depends on the clock or the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

SIMULATION_SEEDS = (1, 2, 3)
ROOT = Path(__file__).resolve().parent.parent


def _usage_inputs(root: Path) -> list[Path]:
    """Every usage fixture file and folder (outcome exports are read with ``--outcomes`` instead)."""
    outcome_dirs = {"outcomes", "jira", "incidents", "deployments"}
    found: list[Path] = []
    for base in (root / "tests" / "fixtures", root / "tests" / "corpus"):
        for child in sorted(base.iterdir()):
            if child.name in outcome_dirs:
                continue
            found.append(child)
            if child.is_dir():
                found += sorted(path for path in child.rglob("*") if path.is_file())
    return found


def _outcome_inputs(root: Path) -> list[Path]:
    fixtures = root / "tests" / "fixtures"
    names = ("outcomes", "jira", "incidents", "deployments")
    return sorted(path for name in names for path in (fixtures / name).rglob("*") if path.is_file())


def runs(data: Path, simulations: list[Path]) -> dict[str, list[str]]:
    """Named argument lists; ``data`` is the checkout whose fixtures and sample data both sides read."""
    sample = data / "sample_data"
    policy = ["--policy", str(sample / "policy.yaml")]
    outcomes = ["--outcomes", str(sample / "prs.json"), "--outcomes", str(sample / "jira.csv")]
    events = str(sample / "events.csv")
    window = ["--since", "2026-03-02", "--until", "2026-03-29"]
    named: dict[str, list[str]] = {
        "sample-audit-json": ["audit", events, *policy, *outcomes, "-f", "json"],
        "sample-audit-csv": ["audit", events, *policy, *outcomes, "-f", "csv"],
        "sample-audit-markdown": ["audit", events, *policy, *outcomes, "-f", "markdown"],
        "sample-audit-table": ["audit", events, *policy, *outcomes, "-f", "table"],
        "sample-audit-window": ["audit", events, *policy, *outcomes, *window, "--tz", "Europe/Berlin", "-f", "json"],
        "sample-audit-teams": ["audit", events, *policy, "--teams-only", "-f", "json"],
        "sample-audit-pseudo": ["audit", events, *policy, *outcomes, "--pseudonymize", "-f", "json"],
        "sample-audit-incidents": ["audit", events, *policy, "--outcomes", str(sample / "incidents.json")],
        "sample-audit-failon": ["audit", events, *policy, "--fail-on", "medium", "-f", "json"],
        "sample-audit-agents": [
            "audit",
            str(sample / "agents"),
            "--policy",
            str(sample / "agents_policy.yaml"),
            "-f",
            "json",
        ],
        "sample-totals-json": ["totals", events, *policy, "-f", "json"],
        "sample-totals-by": ["totals", events, *policy, "--by", "team,model", "--by", "day", "-f", "json"],
        "sample-totals-csv": ["totals", events, *policy, "--by", "week", "-f", "csv"],
        "sample-totals-markdown": ["totals", events, *policy, "-f", "markdown"],
        "sample-rank-json": ["rank", events, *policy, *outcomes, "-f", "json"],
        "sample-report-json": ["report", events, *policy, *outcomes, *window, "-f", "json"],
        "sample-report-markdown": ["report", events, *policy, *outcomes, *window, "-f", "markdown"],
        "sample-report-period": ["report", events, *policy, "--period", "2026-W12", "-f", "json"],
        "sample-explain": ["explain", "ana", events, *policy, *outcomes, "-f", "json"],
        "sample-prices": ["prices", "claude-sonnet-4-5", "gpt-4o", "no-such-model", "-f", "json"],
        "bad-tz": ["totals", events, "--tz", "Mars/Base", "-f", "json"],
        "bad-since": ["totals", events, "--since", "2026-13-01", "-f", "json"],
        "bad-order": ["totals", events, "--since", "2026-03-05", "--until", "2026-03-01", "-f", "json"],
        "bad-period": ["report", events, "--period", "2026-W60", "-f", "json"],
        "formats": ["formats"],
    }
    for seed, folder in zip(SIMULATION_SEEDS, simulations, strict=True):
        sim_policy = ["--policy", str(folder / "policy.yaml")]
        sim_outcomes = ["--outcomes", str(folder / "prs.json"), "--outcomes", str(folder / "jira.csv")]
        sim_events = str(folder / "events.csv")
        named[f"sim{seed}-audit-json"] = ["audit", sim_events, *sim_policy, *sim_outcomes, "-f", "json"]
        named[f"sim{seed}-audit-csv"] = ["audit", sim_events, *sim_policy, *sim_outcomes, "-f", "csv"]
        named[f"sim{seed}-totals-json"] = ["totals", sim_events, *sim_policy, "--by", "team", "-f", "json"]
        named[f"sim{seed}-report-json"] = ["report", sim_events, *sim_policy, *sim_outcomes, "-f", "json"]
    for path in _usage_inputs(data):
        label = str(path.relative_to(data)).replace("/", "~")
        named[f"{label}-audit-json"] = ["audit", str(path), "-f", "json"]
        named[f"{label}-totals-json"] = ["totals", str(path), "-f", "json"]
        named[f"{label}-totals-csv"] = ["totals", str(path), "--by", "model,day", "-f", "csv"]
        named[f"{label}-report-json"] = ["report", str(path), "-f", "json"]
    for path in _outcome_inputs(data):
        label = str(path.relative_to(data)).replace("/", "~")
        named[f"{label}-audit-json"] = ["audit", events, *policy, "--outcomes", str(path), "-f", "json"]
    return named


def worker(plan: Path, out: Path) -> None:
    """Run every planned command in this process (this checkout's ``tokenaudit`` is first on ``sys.path``)."""
    from typer.testing import CliRunner

    from tokenaudit.cli import app

    out.mkdir(parents=True, exist_ok=True)
    for name, args in json.loads(plan.read_text()).items():
        result = CliRunner().invoke(app, args)
        (out / f"{name}.stdout").write_bytes(result.stdout_bytes)
        (out / f"{name}.stderr").write_bytes(result.stderr_bytes)
        (out / f"{name}.exit").write_text(f"{result.exit_code}\n")


MEMORY_LIMIT = "TOKENAUDIT_MEMORY_LIMIT"


def _environment(checkout: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("TOKENAUDIT_") or key == MEMORY_LIMIT}
    env |= {
        "PYTHONPATH": str(checkout),
        "SOURCE_DATE_EPOCH": "1774000000",
        "TOKENAUDIT_PSEUDONYM_KEY": "equivalence-check-key",
        "NO_COLOR": "1",
        "COLUMNS": "200",
        "TZ": "UTC",
    }
    return env


def _simulate(checkout: Path, folder: Path, seed: int) -> None:
    command = [sys.executable, "-m", "tokenaudit", "simulate", "--out", str(folder), "--developers", "40"]
    command += ["--days", "28", "--seed", str(seed), "--quiet"]
    subprocess.run(command, env=_environment(checkout), check=True)


def _differences(left: Path, right: Path) -> list[str]:
    names = sorted({path.name for path in left.iterdir()} | {path.name for path in right.iterdir()})
    return [
        name
        for name in names
        if not (left / name).exists()
        or not (right / name).exists()
        or (left / name).read_bytes() != (right / name).read_bytes()
    ]


def compare(before: Path, after: Path, keep: Path | None = None) -> int:
    """Run both checkouts and print the runs whose outputs differ; 0 when none do."""
    work = Path(tempfile.mkdtemp(prefix="equivalence-")) if keep is None else keep
    simulations: list[Path] = []
    differing: list[str] = []
    for seed in SIMULATION_SEEDS:
        for side, checkout in (("before", before), ("after", after)):
            _simulate(checkout, work / f"sim-{side}-{seed}", seed)
        written = _differences(work / f"sim-before-{seed}", work / f"sim-after-{seed}")
        differing += [f"simulate seed {seed}: {name}" for name in written]
        simulations.append(work / f"sim-before-{seed}")
    plan = work / "plan.json"
    plan.write_text(json.dumps(runs(after, simulations)))
    for side, checkout in (("before", before), ("after", after)):
        command = [sys.executable, str(Path(__file__).resolve()), "--worker", str(plan), str(work / side)]
        subprocess.run(command, env=_environment(checkout), check=True, cwd=work)
    differing += _differences(work / "before", work / "after")
    total = len(json.loads(plan.read_text()))
    print(f"{total} runs (x stdout, stderr, exit code) and {len(SIMULATION_SEEDS)} simulations compared in {work}")
    for name in differing:
        print(f"differs: {name}")
    print("identical" if not differing else f"{len(differing)} outputs differ")
    if keep is None and not differing:
        shutil.rmtree(work)
    return 1 if differing else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", nargs=2, type=Path, metavar=("PLAN", "OUT"), help=argparse.SUPPRESS)
    parser.add_argument("before", type=Path, nargs="?", help="checkout before the change")
    parser.add_argument("after", type=Path, nargs="?", default=ROOT, help="checkout after the change [this one]")
    parser.add_argument("--keep", type=Path, help="work folder to keep (default: a temporary one)")
    parser.add_argument(
        "--memory-limit", help="both sides' --memory-limit (e.g. 4M: loads past it take the sharded path)"
    )
    options = parser.parse_args()
    if options.memory_limit:
        os.environ[MEMORY_LIMIT] = options.memory_limit
    if options.worker:
        worker(*options.worker)
        return
    if options.before is None:
        parser.error("give the checkout to compare with")
    sys.exit(compare(options.before.resolve(), options.after.resolve(), options.keep))


if __name__ == "__main__":
    main()
