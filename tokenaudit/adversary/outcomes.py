"""Outcomes: merged PRs (with size and reviews), closed tickets and bugs, for every person.

Honest outcomes grow with tokens only weakly (elasticity about 0.3, through the habits that make a person
use more tokens); gamers keep ordinary outcomes whatever they spend, except the outcome farmer, who adds
a stream of one-line, unreviewed, quickly merged PRs, and the heavy honest agent user, whose outcomes
are strong. The refactor week's outcome is three huge PRs.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import random

from tokenaudit.adversary.agent import lognormal
from tokenaudit.adversary.model import Activity, AdversaryConfig, Person, PullRequest, Ticket

_TITLES = ("Fix", "Add", "Refactor", "Speed up", "Handle", "Clean up", "Document", "Test")
_AREAS = ("retry logic", "pagination", "CSV export", "login flow", "rate limiter", "webhooks", "billing job", "search")
_TRIVIAL = ("Fix typo in README", "Bump timeout constant", "Update comment", "Rename variable", "Tweak log message")


def _poisson(rng: random.Random, mean: float) -> int:
    """Knuth's method (means here are small)."""
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def _work_moment(rng: random.Random, person: Person, config: AdversaryConfig) -> dt.datetime:
    """A random working-hours moment of a day the person was there (local to their home zone)."""
    days = 7 * config.weeks - person.first_day
    while True:
        date = config.start + dt.timedelta(days=person.first_day + rng.randrange(days))
        if date.weekday() < 5 and (person.case != "part_timer" or date.weekday() >= 2):
            break
    local = dt.datetime.combine(date, dt.time()) + dt.timedelta(hours=person.start_hour + rng.uniform(0.5, 8.0))
    return local.replace(tzinfo=person.tzinfo).astimezone(dt.UTC)


def add_outcomes(activities: list[Activity], people: list[Person], config: AdversaryConfig) -> None:
    """Fill ``prs`` and ``tickets`` of every activity; PR numbers and ticket keys are unique per organisation."""
    teams: dict[str, list[str]] = {}
    for person in people:
        teams.setdefault(person.team, []).append(person.login)
    for activity in activities:
        person = activity.person
        rng = random.Random(f"{config.seed}:outcomes:{person.index}")
        present = (7 * config.weeks - person.first_day) / 7 * person.fte
        mates = [login for login in teams[person.team] if login != person.login] or [person.login]
        if person.case == "refactor_week":
            sizes = [(rng.randint(3000, 6000), rng.randint(2000, 5000), rng.randint(80, 200)) for _ in range(3)]
        else:
            count = _poisson(rng, 2.2 * person.productivity * present)
            sizes = [
                (int(lognormal(rng, 70, 1.0)) + 1, int(lognormal(rng, 20, 1.1)), 1 + _poisson(rng, 2.5))
                for _ in range(count)
            ]
        for additions, deletions, files in sizes:
            created = _work_moment(rng, person, config)
            title = f"{rng.choice(_TITLES)} {rng.choice(_AREAS)}"
            merged = created + dt.timedelta(hours=lognormal(rng, 18.0, 0.8))
            reviewers = tuple(rng.sample(mates, min(len(mates), rng.choice((1, 1, 2)))))
            activity.prs.append(
                PullRequest(
                    0, person.team, person.login, title, created, merged, additions, deletions, files, reviewers
                )
            )
        if person.case == "outcome_farmer":
            for _ in range(60 if person.intensity == "high" else 40):
                created = _work_moment(rng, person, config)
                merged = created + dt.timedelta(minutes=rng.uniform(2, 15))
                activity.prs.append(
                    PullRequest(0, person.team, person.login, rng.choice(_TRIVIAL), created, merged, 1, 1, 1, ())
                )
        tickets = _poisson(rng, 0.8 * len(sizes)) if person.case != "refactor_week" else 2
        for _ in range(tickets):
            resolved = _work_moment(rng, person, config)
            created = resolved - dt.timedelta(days=rng.uniform(1, 20))
            points = rng.choice((1, 2, 3, 5, 8, None))
            activity.tickets.append(Ticket("", "Story", person.name, created, resolved, points))
        for _ in range(_poisson(rng, 0.3 * present / 6)):
            resolved = _work_moment(rng, person, config)
            activity.tickets.append(Ticket("", "Bug", person.name, resolved - dt.timedelta(days=2), resolved, None))
    _number(activities)


def _number(activities: list[Activity]) -> None:
    """Give PRs numbers and tickets keys in creation order across the organisation (deterministic)."""
    prs = sorted(((pr.created, pr.author, i, a) for a in activities for i, pr in enumerate(a.prs)), key=lambda t: t[:3])
    for number, (_, _, i, activity) in enumerate(prs, start=1001):
        activity.prs[i] = dataclasses.replace(activity.prs[i], number=number)
    tickets = sorted(
        ((t.created, t.assignee, i, a) for a in activities for i, t in enumerate(a.tickets)), key=lambda t: t[:3]
    )
    for number, (_, _, i, activity) in enumerate(tickets, start=101):
        activity.tickets[i] = dataclasses.replace(activity.tickets[i], key=f"ENG-{number}")
