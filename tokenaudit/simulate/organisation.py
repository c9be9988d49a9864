"""Organisation structure (people, teams, zones, archetypes) and the calendar of the period."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from tokenaudit.simulate.config import (
    ARCHETYPES,
    DOMAIN,
    F64,
    FIRST_NAMES,
    I64,
    LAST_NAMES,
    TEAMS,
    ZONE_WEIGHTS,
    ZONES,
    SimulationConfig,
)


@dataclass(frozen=True)
class Person:
    idx: int
    developer: str
    email: str
    github: str
    name: str
    team: str
    project: str
    zone: str
    archetype: str  # honest archetype or "gamer"
    style: str  # gaming style, "" for honest developers
    intensity: float  # 1.0 for honest developers
    variant: int  # index within the style; alternates the style's variants


def _dedupe(names: Sequence[str], sep: str) -> list[str]:
    """Make names unique by numbering repeats (``ana.silva``, ``ana.silva2``)."""
    seen: dict[str, int] = {}
    unique = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        unique.append(name if seen[name] == 1 else f"{name}{sep}{seen[name]}")
    return unique


def _team_sizes(rng: np.random.Generator, n: int, lo: int, hi: int) -> list[int]:
    """Team sizes within [lo, hi], plus one team of 3 so that privacy (k-minimum) rules get exercised."""
    sizes = [3] if n >= 20 else []
    left = n - sum(sizes)
    while left > hi:
        size = int(rng.integers(lo, max(lo, min(hi, left - lo)) + 1))
        sizes.append(size)
        left -= size
    return [*sizes, left]


def _largest_remainder(total: int, shares: Sequence[float]) -> list[int]:
    """Split ``total`` into integer counts proportional to ``shares``."""
    exact = np.asarray(shares) / sum(shares) * total
    counts = np.floor(exact).astype(np.int64)
    counts[np.argsort(counts - exact, kind="stable")[: total - int(counts.sum())]] += 1
    return [int(c) for c in counts]


def draw_people(rng: np.random.Generator, config: SimulationConfig) -> list[Person]:
    """Names, teams, time zones, archetypes and planted styles; independent of gaming intensities."""
    n = config.developers
    combos = len(FIRST_NAMES) * len(LAST_NAMES)
    picks = rng.choice(combos, size=n, replace=n > combos)
    firsts = [FIRST_NAMES[p // len(LAST_NAMES)] for p in picks]
    lasts = [LAST_NAMES[p % len(LAST_NAMES)] for p in picks]
    ids = _dedupe([f"{f}.{last}".lower() for f, last in zip(firsts, lasts, strict=True)], "")
    logins = [
        f"{login}-gh" for login in _dedupe([f"{f[0]}{last}".lower() for f, last in zip(firsts, lasts, strict=True)], "")
    ]
    names = _dedupe([f"{f} {last}" for f, last in zip(firsts, lasts, strict=True)], " ")

    sizes = _team_sizes(rng, n, *config.team_size)
    team_names = [
        (name, key) if i < len(TEAMS) else (f"{name}-{i // len(TEAMS) + 1}", f"{key}{i // len(TEAMS) + 1}")
        for i, (name, key) in ((i, TEAMS[i % len(TEAMS)]) for i in range(len(sizes)))
    ]
    team_of = np.repeat(np.arange(len(sizes)), sizes)
    home_zone = rng.choice(len(ZONES), size=len(sizes), p=ZONE_WEIGHTS)

    gamers = config.per_style * len(config.styles)
    order = rng.permutation(n)
    honest_kinds = [
        kind
        for kind, count in zip(
            ARCHETYPES, _largest_remainder(n - gamers, [a.share for a in ARCHETYPES.values()]), strict=True
        )
        for _ in range(count)
    ]
    role: dict[int, tuple[str, str, float, int]] = {}
    for k, i in enumerate(order[:gamers]):
        style, variant = config.styles[k // config.per_style], k % config.per_style
        role[int(i)] = ("gamer", style, config.intensities[variant % len(config.intensities)], variant)
    for kind, i in zip(honest_kinds, order[gamers:], strict=True):
        role[int(i)] = (kind, "", 1.0, 0)

    people = []
    for i in range(n):
        archetype, style, intensity, variant = role[i]
        zone = int(home_zone[team_of[i]])
        if archetype == "other_timezone":
            zone = (zone + int(rng.integers(1, len(ZONES)))) % len(ZONES)
        team, project = team_names[team_of[i]]
        people.append(
            Person(
                i,
                ids[i],
                f"{ids[i]}@{DOMAIN}",
                logins[i],
                names[i],
                team,
                project,
                ZONES[zone],
                archetype,
                style,
                intensity,
                variant,
            )
        )
    return people


@dataclass(frozen=True)
class Calendar:
    """The period in UTC epoch seconds, local days and organisation-wide days off.

    Local day k (0..days+1) is ``start + k - 1``: one spare day on each side so that Tokyo's and Los
    Angeles' working days overlapping the UTC edges are filled, then clipped to ``[start, end)``.
    """

    start: float
    end: float
    launch: float
    snapshots: F64
    dates: tuple[date, ...]
    weekday: I64
    midnight: dict[str, F64]  # zone -> UTC seconds of each local midnight
    holidays: dict[str, I64]  # zone -> local day indices off
    crunch: tuple[str, I64]  # team with a release crunch and its local days

    @property
    def launch_day(self) -> int:
        return int((self.launch - self.start) // 86_400) + 1

    @classmethod
    def of(cls, rng: np.random.Generator, config: SimulationConfig, teams: Sequence[str]) -> Calendar:
        start = datetime.combine(config.start, time(), UTC).timestamp()
        end = start + config.days * 86_400
        launch = datetime.combine(config.launched, time(), UTC).timestamp()
        first_snapshot = (config.snapshot_weekday - config.start.weekday()) % 7
        snapshots = start + 86_400 * np.arange(first_snapshot, config.days, 7.0) + 3_600 * config.snapshot_hour
        dates = tuple(config.start + timedelta(days=k - 1) for k in range(config.days + 2))
        weekday = np.array([d.weekday() for d in dates], dtype=np.int64)
        midnight = {
            zone: np.array([datetime.combine(d, time(), ZoneInfo(zone)).timestamp() for d in dates]) for zone in ZONES
        }
        workdays = np.flatnonzero(weekday[1:-1] < 5) + 1
        holidays = {zone: rng.choice(workdays, size=max(1, round(workdays.size / 20)), replace=False) for zone in ZONES}
        # One ordinary-sized team crunches on the two days before a post-launch snapshot.
        late = snapshots[snapshots > launch]
        chosen = late[int(rng.integers(late.size))] if late.size else snapshots[-1]
        crunch_day = int((chosen - start) // 86_400) + 1
        big = [t for t in dict.fromkeys(teams) if sum(x == t for x in teams) >= 6] or list(teams)
        crunch = (big[int(rng.integers(len(big)))], np.array([crunch_day - 1, crunch_day], dtype=np.int64))
        return cls(start, end, launch, snapshots, dates, weekday, midnight, holidays, crunch)
