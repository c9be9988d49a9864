"""Where the adjusted board puts a planted gamer's honest self: the same person built as an ordinary developer (the
same habits and random stream, the same pull requests and tickets), beside the gamer as planted. The rows between
the two are what the gamer's extra tokens cost it on the board; the honest self's row is where its outcomes alone put
it. Each side is one audit with outcomes of the whole organisation (everyone else unchanged).

Usage: python benchmarks/honest_self.py [--case verbose_inflator] [--seeds 1 2 3] [--elasticity 1] [--jobs 2]

``--elasticity`` fixes the board's elasticity (policy ``ranking.elasticity``; 1 = plain outcomes per token) instead
of fitting it, to see what a harsher board would do, and the honest heavy agent user's row beside.
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, cast

from tokenaudit.adversary import AdversaryConfig, Organisation, generate, write_organisation
from tokenaudit.adversary.cases import CASES
from tokenaudit.adversary.model import Plan
from tokenaudit.audit import run_audit
from tokenaudit.documents import audit_document
from tokenaudit.ingest import Period, load_events
from tokenaudit.outcomes.read import read_outcomes
from tokenaudit.policy import load_policy


def honest_self(organisation: Organisation, case: str) -> Organisation:
    """The organisation with the developer planted as ``case`` built as an ordinary developer instead: their own
    random stream (as :func:`tokenaudit.adversary.generate` seeds it), and the outcomes they were given."""
    config = organisation.config
    activities = []
    for activity in organisation.activities:
        person = activity.person
        if person.case == case:
            plan = Plan(person, config, random.Random(f"{config.seed}:activity:{person.index}"))
            CASES["ordinary"].build(plan)
            plan.activity.sessions.sort(key=lambda s: (s.requests[0].at, s.session_id))
            activity = dataclasses.replace(plan.activity, prs=activity.prs, tickets=activity.tickets)
        activities.append(activity)
    return dataclasses.replace(organisation, activities=activities)


def board_rows(organisation: Organisation, elasticity: float | None) -> dict[str, dict[str, Any]]:
    """Audit the organisation with outcomes; per developer, the manifest's case and tokens with the board's figures."""
    with tempfile.TemporaryDirectory(dir="/dev/shm" if Path("/dev/shm").is_dir() else None) as scratch:
        folder = Path(scratch)
        manifest = write_organisation(organisation, folder)
        policy = load_policy(folder / "policy.yaml")
        if elasticity is not None:
            policy = policy.model_copy(update={"ranking": policy.ranking.model_copy(update={"elasticity": elasticity})})
        loaded = load_events([str(folder / "logs")], policy, Period(timezone=policy.timezone))
        read = read_outcomes([str(folder / "outcomes")], policy.outcomes, policy.timezone)
        document = audit_document(run_audit(loaded, policy, read)).data
    developers = cast(list[dict[str, Any]], document["developers"])  # read as the JSON it is written as
    compared = sum(1 for d in developers if d.get("ranking_status") in ("ranked", "not_placed"))
    truth = {d["developer"]: d for d in manifest["developers"]}
    rows = {}
    for developer in developers:
        rank = developer.get("rank") or {}
        rows[developer["developer"]] = {
            **truth[developer["developer"]],
            "row": rank.get("board_row"),
            "chance": rank.get("bottom_quarter_chance"),
            "compared": compared,
        }
    return rows


def _cell(row: dict[str, Any]) -> str:
    """Row over the developers compared, with the bottom-quarter chance; '-' when not compared."""
    if row["row"] is None:
        return "-"
    return f"{row['row'] / row['compared']:.2f} ({row['chance']:.2f})"


def seed_line(seed: int, case: str, elasticity: float | None) -> str:
    """One Markdown row: the planted gamer's tokens over its honest self's, both rows, the heavy agent user's."""
    planted = generate(AdversaryConfig(seed=seed))
    honest = honest_self(planted, case)
    as_planted, as_honest = board_rows(planted, elasticity), board_rows(honest, elasticity)
    gamer = next(d for d, row in as_planted.items() if row["case"] == case)
    heavy = next(d for d, row in as_planted.items() if row["case"] == "heavy_agent_user")
    ordinary = [row["productivity"] for row in as_planted.values() if row["kind"] == "honest"]
    latent = sum(p < as_planted[gamer]["productivity"] for p in ordinary) / len(ordinary)
    ratio = as_planted[gamer]["total_tokens"] / as_honest[gamer]["total_tokens"]
    return (
        f"| {seed} | {as_planted[gamer]['intensity']} | {ratio:.2f} | {latent:.2f} | {_cell(as_honest[gamer])} | "
        f"{_cell(as_planted[gamer])} | {_cell(as_planted[heavy])} |"
    )


def main() -> None:
    """Print the table, one seed per row."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--case", default="verbose_inflator", choices=sorted(CASES))
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--elasticity", type=float, help="Fix the board's elasticity instead of fitting it.")
    parser.add_argument("--jobs", type=int, default=1, help="Seeds run at the same time (one process each).")
    args = parser.parse_args()
    print(
        f"| seed | intensity | tokens / honest self's | latent rate, percentile | honest self: row (chance) | "
        f"{args.case}: row (chance) | heavy agent user: row (chance) |\n|---|---|---|---|---|---|---|"
    )
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        for line in pool.map(seed_line, args.seeds, [args.case] * len(args.seeds), [args.elasticity] * len(args.seeds)):
            print(line, flush=True)


if __name__ == "__main__":
    main()
