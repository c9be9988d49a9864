"""Outcomes: latent yield, pull requests, tickets, reverts and their export frames."""

from __future__ import annotations

import base64
import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from tokenaudit.schema import UTC_DATETIME
from tokenaudit.simulate.behaviour import Dev, work_times
from tokenaudit.simulate.config import (
    ARCHETYPES,
    BUMPED_PACKAGES,
    F64,
    FAILURES,
    GITHUB_ORG,
    JIRA_EXTRA_LABELS,
    OBJECTS,
    OUTCOME_WEIGHTS,
    PLACES,
    PR_LABELS,
    VERBS,
)
from tokenaudit.simulate.organisation import Calendar, Person


@dataclass(frozen=True)
class Truth:
    """Latent outcome rates and their expectations for one developer."""

    pr_rate: float
    expected_prs: float
    expected_tickets: float
    defect_rate: float
    revert_rate: float

    @property
    def expected_points(self) -> float:
        w = OUTCOME_WEIGHTS
        prs = self.expected_prs * (w["pr"] + w["defect"] * self.defect_rate + w["revert"] * self.revert_rate)
        return prs + w["ticket"] * self.expected_tickets


def draw_truth(rng: np.random.Generator, dev: Dev, cal: Calendar, exposure: float, team_factor: float) -> Truth:
    """PRs ~ Poisson(pi * weeks * (E/E0)^0.3) with E the *honest* exposure; tickets alike (section 7)."""
    arch = ARCHETYPES.get(dev.person.archetype, ARCHETYPES["normal"])
    pr_rate = arch.pr_rate * team_factor * rng.lognormal(0.0, 0.35)
    ticket_rate = pr_rate * rng.lognormal(math.log(0.8), 0.3)
    period_days = np.arange(len(cal.dates))[1:-1]
    boost = np.where((dev.person.archetype == "new_adopter") & (period_days >= cal.launch_day), 1.3, 1.0)
    weeks = float(boost.sum()) / 7 * exposure**0.3
    return Truth(
        pr_rate=pr_rate,
        expected_prs=pr_rate * weeks,
        expected_tickets=ticket_rate * weeks,
        defect_rate=float(rng.beta(2.0, 28.0)),
        revert_rate=float(rng.beta(1.0, 45.0)),
    )


@dataclass(frozen=True)
class PR:
    repo: str
    created: float
    merged: float | None
    closed: float | None
    title: str
    additions: int
    deletions: int
    author: int  # person index, -1 for the dependabot app
    labels: tuple[str, ...]


@dataclass(frozen=True)
class Ticket:
    project: str
    summary: str
    kind: str
    status: str
    priority: str
    assignee: str
    created: float
    resolved: float | None
    labels: tuple[str, str]
    points: int | None


def _title(rng: np.random.Generator, team: str) -> str:
    place = PLACES[int(rng.integers(len(PLACES)))].format(team=team)
    return f"{VERBS[int(rng.integers(len(VERBS)))]} {OBJECTS[int(rng.integers(len(OBJECTS)))]} {place}"


def developer_outcomes(
    rng: np.random.Generator, dev: Dev, cal: Calendar, truth: Truth, teammates: Sequence[int]
) -> tuple[list[PR], list[Ticket]]:
    """Realised PRs (merged, closed, open, reverts of this author's work) and Jira issues for one developer."""
    person = dev.person
    hours = 3_600.0
    merged_n = int(rng.poisson(truth.expected_prs))
    other_n = int(rng.poisson(0.2 * truth.expected_prs))
    created = work_times(rng, dev, merged_n + other_n, cal)
    merged = created[:merged_n] + hours * np.maximum(0.2, rng.lognormal(math.log(18), 0.9, merged_n))
    closes = rng.random(other_n) < 0.6  # the rest is still open
    closed = created[merged_n:] + hours * rng.lognormal(math.log(48), 0.8, other_n)
    adds = rng.lognormal(math.log(120), 1.1, merged_n + other_n).astype(np.int64) + 1
    dels = rng.lognormal(math.log(40), 1.2, merged_n + other_n).astype(np.int64)
    titles = [_title(rng, person.team) for _ in range(merged_n + other_n)]
    labels = [
        (PR_LABELS[int(rng.integers(len(PR_LABELS)))][0],) if rng.random() < 0.4 else ()
        for _ in range(merged_n + other_n)
    ]
    prs = [
        PR(person.team, float(created[i]), float(merged[i]), float(merged[i]), titles[i],
            int(adds[i]), int(dels[i]), person.idx, labels[i])
        for i in range(merged_n)
    ] + [
        PR(person.team, float(created[i]), None, float(closed[i - merged_n]) if closes[i - merged_n] else None,
            titles[i], int(adds[i]), int(dels[i]), person.idx, labels[i])
        for i in range(merged_n, merged_n + other_n)
    ]  # fmt: skip
    reverted = rng.permutation(merged_n)[: int(rng.binomial(merged_n, truth.revert_rate))]
    for i in reverted:
        opened = float(merged[i]) + hours * float(rng.lognormal(math.log(6), 0.7))
        prs.append(
            PR(person.team, opened, opened + hours, opened + hours, f'Revert "{titles[i]}"', int(dels[i]),
                int(adds[i]), int(rng.choice(teammates)), ())
        )  # fmt: skip

    day = 86_400.0
    tickets = []
    n_done = int(rng.poisson(truth.expected_tickets))
    n_open = int(rng.poisson(0.25 * truth.expected_tickets))
    when = work_times(rng, dev, n_done + n_open, cal)
    for i, moment in enumerate(when):
        done = i < n_done
        kind = "Story" if rng.random() < 0.6 else "Task"
        tickets.append(
            Ticket(
                person.project,
                _title(rng, person.team),
                kind,
                "Done" if done else str(rng.choice(["In Progress", "To Do"])),
                str(rng.choice(["Medium", "High", "Low"], p=[0.6, 0.25, 0.15])),
                person.name if done or rng.random() < 0.9 else "",
                float(moment - day * rng.lognormal(math.log(5), 0.8)) if done else float(moment),
                float(moment) if done else None,
                (person.team, str(rng.choice(JIRA_EXTRA_LABELS))),
                int(rng.choice([1, 2, 3, 5, 8])) if kind == "Story" else None,
            )
        )
    defective = rng.permutation(merged_n)[: int(rng.binomial(merged_n, truth.defect_rate))]
    for i in defective:
        found = float(merged[i]) + day * float(rng.uniform(1, 12))
        fixed = rng.random() < 0.5
        tickets.append(
            Ticket(
                person.project,
                f"{OBJECTS[int(rng.integers(len(OBJECTS)))]} fails {rng.choice(FAILURES)}",
                "Bug",
                "Done" if fixed else "In Progress",
                "High" if rng.random() < 0.4 else "Medium",
                person.name,
                found,
                found + day * float(rng.lognormal(math.log(2), 0.7)) if fixed else None,
                (person.team, "defect"),
                None,
            )
        )
    return prs, tickets


def dependabot_prs(rng: np.random.Generator, repos: Sequence[str], cal: Calendar) -> list[PR]:
    """A few bot PRs per repository: outcome readers must not credit them to anyone."""
    bumps = []
    for repo in repos:
        for _ in range(int(rng.poisson((cal.end - cal.start) / 86_400 / 14))):
            opened = float(rng.uniform(cal.start, cal.end))
            merged = opened + 86_400 * float(rng.uniform(0.1, 3)) if rng.random() < 0.7 else None
            minor, patch = int(rng.integers(1, 20)), int(rng.integers(0, 9))
            package = BUMPED_PACKAGES[int(rng.integers(len(BUMPED_PACKAGES)))]
            title = f"Bump {package} from 1.{minor}.{patch} to 1.{minor}.{patch + 1}"
            bumps.append(PR(repo, opened, merged, merged, title, 3, 3, -1, ("dependencies",)))
    return bumps


def _node_id(kind: str, text: str) -> str:
    """A GitHub-style legacy node id (base64 of ``04:User123``), stable per login or label."""
    number = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=4).digest(), "big")
    return base64.b64encode(f"04:{kind}{number}".encode()).decode()


def utc(seconds: Sequence[float | None] | F64) -> pl.Series:
    """UTC datetimes from epoch seconds (None stays null), at millisecond precision."""
    millis = (pl.Series(seconds, dtype=pl.Float64) * 1000).round().cast(pl.Int64)
    return millis.cast(pl.Datetime("ms")).dt.replace_time_zone("UTC").cast(UTC_DATETIME)


def prs_frame(prs: Sequence[PR], people: Sequence[Person], rng: np.random.Generator) -> pl.DataFrame:
    """PRs numbered per repository by creation, newest first as ``gh pr list`` lists them."""
    label_info = {name: (description, color) for name, description, color in PR_LABELS}
    label_info["dependencies"] = ("Pull requests that update a dependency file", "0366d6")
    by_creation = sorted(prs, key=lambda p: (p.repo, p.created, p.title))
    first_number = {repo: int(rng.integers(100, 2_000)) for repo in sorted({p.repo for p in prs})}
    numbered, seen = [], dict.fromkeys(first_number, 0)
    for pr in by_creation:
        numbered.append((pr, first_number[pr.repo] + seen[pr.repo]))
        seen[pr.repo] += 1
    numbered.sort(key=lambda item: (item[0].repo, -item[1]))
    ordered = [pr for pr, _ in numbered]
    numbers = [number for _, number in numbered]

    def author(pr: PR) -> dict[str, object]:
        if pr.author < 0:
            return {"id": None, "is_bot": True, "login": "app/dependabot", "name": None}
        who = people[pr.author]
        return {"id": _node_id("User", who.github), "is_bot": False, "login": who.github, "name": who.name}

    return pl.DataFrame(
        {
            "number": numbers,
            "title": [p.title for p in ordered],
            "url": [
                f"https://github.com/{GITHUB_ORG}/{p.repo}/pull/{n}" for p, n in zip(ordered, numbers, strict=True)
            ],
            "state": ["MERGED" if p.merged else "CLOSED" if p.closed else "OPEN" for p in ordered],
            "createdAt": utc([p.created for p in ordered]),
            "mergedAt": utc([p.merged for p in ordered]),
            "closedAt": utc([p.closed for p in ordered]),
            "additions": [p.additions for p in ordered],
            "deletions": [p.deletions for p in ordered],
            "author": [author(p) for p in ordered],
            "labels": [
                [
                    {
                        "id": _node_id("Label", f"{p.repo}/{name}"),
                        "name": name,
                        "description": label_info[name][0],
                        "color": label_info[name][1],
                    }
                    for name in p.labels
                ]
                for p in ordered
            ],
        },
        schema_overrides={
            "labels": pl.List(
                pl.Struct({"id": pl.String, "name": pl.String, "description": pl.String, "color": pl.String})
            )
        },
    )


def jira_frame(tickets: Sequence[Ticket]) -> pl.DataFrame:
    """Issues keyed per project in creation order, listed newest first like a default Jira export."""
    ordered = sorted(tickets, key=lambda t: (t.created, t.project, t.summary))
    per_project: dict[str, int] = {}
    keys = []
    for ticket in ordered:
        per_project[ticket.project] = per_project.get(ticket.project, 100) + 1
        keys.append(f"{ticket.project}-{per_project[ticket.project]}")
    frame = pl.DataFrame(
        {
            "summary": [t.summary for t in ordered],
            "key": keys,
            "id": list(range(10_001, 10_001 + len(ordered))),
            "type": [t.kind for t in ordered],
            "status": [t.status for t in ordered],
            "priority": [t.priority for t in ordered],
            "resolution": [("Fixed" if t.kind == "Bug" else "Done") if t.resolved else None for t in ordered],
            "assignee": [t.assignee or None for t in ordered],
            "created": utc([t.created for t in ordered]),
            "resolved": utc([t.resolved for t in ordered]),
            "labels": [[label for label in t.labels if label] for t in ordered],
            "story_points": pl.Series([t.points for t in ordered], dtype=pl.Int64),
        }
    )
    return frame.sort("id", descending=True)
