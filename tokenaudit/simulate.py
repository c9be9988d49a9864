"""A synthetic engineering organisation with planted token-gamers and ground truth (methods doc section 7).

Why a simulator: real token logs never come with labels, so detector precision/recall and the ranking's
agreement with true yield can only be measured on an organisation whose truth we wrote ourselves. The
generator is deliberately *not* the inverse of any detector: honest prompt gaps come from three
heavy-tailed families, days have two personal peaks in the developer's own time zone, and gamers keep
their honest baseline underneath the planted behaviour.

Conventions the evaluation relies on:

- Everything is deterministic per ``seed``. Each developer draws from their own random streams
  (baseline, gaming, outcomes), so gaming intensity never changes a developer's baseline or outcomes:
  inflated tokens buy nothing, by construction.
- Gaming starts on the leaderboard launch date. ``intensity`` is the ratio of total tokens while
  gaming to the developer's typical honest volume over the same days (their baseline's daily average).
- Outcomes: a merged PR is +1 and a closed Story/Task +0.5; a Jira Bug is a defect (-1) of its assignee
  (Bugs never count as closed tickets); a revert (-1) is charged to the author of the reverted PR, while
  the revert PR itself is authored by a teammate and is no outcome for them. No incidents are generated.
- ``true_yield`` is the expected weighted outcome points per million effective tokens actually used.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Final, TypeVar
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import polars as pl
import yaml

from tokenaudit.schema import TOKEN_COLUMNS, UTC_DATETIME

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]
Strs = npt.NDArray[np.str_]
_Num = TypeVar("_Num", np.int64, np.float64)

DOMAIN: Final = "acme.example"
GITHUB_ORG: Final = "acme"
MODELS: Final = ("claude-sonnet-4-5-20250929", "claude-opus-4-1-20250805", "claude-haiku-4-5-20251001")
TOOLS: Final = ("claude-code", "cursor")
ZONES: Final = ("America/Los_Angeles", "America/New_York", "Europe/Berlin", "Asia/Kolkata", "Asia/Tokyo")
ZONE_WEIGHTS: Final = (0.25, 0.30, 0.25, 0.12, 0.08)
WEEKDAYS: Final = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

GAMING_STYLES: Final = (
    "cron_loop",
    "overnight_agent",
    "duplicate_prompts",
    "context_stuffing",
    "snapshot_spike",
    "launch_ramp",
)
CORE_STYLE_COUNT: Final = 5
"""``gamer_share`` is spread over the five core styles of section 7; ``launch_ramp`` (an optional extra there)
gets the same count on top, so 200 developers at 10 % give 4 per style."""

OUTCOME_WEIGHTS: Final = {"pr": 1.0, "ticket": 0.5, "defect": -1.0, "incident": -2.0, "revert": -1.0}
EFF_WEIGHTS: Final = np.array([1.0, 1.0, 0.1, 1.25])
"""Effective-token weights in :data:`TOKEN_COLUMNS` order (input, output, cache_read, cache_write)."""

CACHE_TTL_S: Final = 300.0
CONTEXT_LIMIT: Final = 160_000
STUFFED_CONTEXT: Final = (150_000, 190_000)

FIRST_NAMES: Final = (
    "Ana", "Bo", "Chen", "Dev", "Emma", "Farah", "Gabriel", "Hana", "Ivan", "Jonas",
    "Kenji", "Lea", "Maya", "Nils", "Omar", "Priya", "Quinn", "Rafael", "Sara", "Tomas",
    "Uma", "Victor", "Wei", "Ximena", "Yuki", "Zoe", "Arjun", "Lena", "Mateo", "Noah",
    "Ines", "Hugo", "Mei", "Rohan", "Elif", "Kofi", "Lucia", "Sven", "Aiko", "Diego",
)  # fmt: skip
LAST_NAMES: Final = (
    "Silva", "Lee", "Wang", "Patel", "Schmidt", "Tanaka", "Garcia", "Kim", "Nguyen", "Okafor",
    "Rossi", "Novak", "Cohen", "Singh", "Sato", "Jensen", "Moreau", "Ivanova", "Costa", "Haddad",
    "Kowalski", "Yilmaz", "Andersson", "Mensah", "Fischer", "Lopez", "Ito", "Sharma", "Brown", "Murphy",
)  # fmt: skip
TEAMS: Final = (
    ("payments", "PAY"), ("search", "SRCH"), ("platform", "PLAT"), ("checkout", "CHK"), ("identity", "IDN"),
    ("mobile", "MOB"), ("data", "DATA"), ("growth", "GRW"), ("infra", "INFRA"), ("billing", "BILL"),
    ("messaging", "MSG"), ("security", "SEC"), ("web", "WEB"), ("ml", "ML"), ("api", "API"),
    ("devex", "DX"), ("analytics", "ANL"), ("notifications", "NOTIF"), ("onboarding", "ONB"), ("risk", "RISK"),
    ("catalog", "CAT"), ("ledger", "LDG"), ("storage", "STOR"), ("observability", "OBS"),
)  # fmt: skip
VERBS: Final = ("Fix", "Add", "Refactor", "Speed up", "Remove", "Handle", "Validate", "Migrate", "Test")
OBJECTS: Final = (
    "retry logic", "rate limiter", "cache invalidation", "pagination", "webhook handler", "feature flag",
    "error messages", "timeouts", "schema migration", "metrics", "auth middleware", "CSV export",
    "date parsing", "config loader", "request logging", "batch scheduler",
)  # fmt: skip
PLACES: Final = ("in the {team} service", "for the {team} API", "in batch jobs", "in the admin UI", "in the SDK")
FAILURES: Final = ("on empty input", "after deploy", "under load", "for non-UTC users", "on retry", "for big payloads")
PR_LABELS: Final = (
    ("bug", "Something isn't working", "d73a4a"),
    ("enhancement", "New feature or request", "a2eeef"),
    ("refactor", "", "fbca04"),
    ("tests", "", "0e8a16"),
    ("documentation", "Improvements or additions to documentation", "0075ca"),
)
JIRA_EXTRA_LABELS: Final = ("backend", "frontend", "tech-debt", "customer", "")
BUMPED_PACKAGES: Final = ("lodash", "requests", "urllib3", "axios", "protobuf", "jackson-databind")
JIRA_HEADER: Final = (
    "Summary", "Issue key", "Issue id", "Issue Type", "Status", "Priority", "Resolution", "Assignee",
    "Created", "Resolved", "Labels", "Labels", "Custom field (Story Points)",
)  # fmt: skip


@dataclass(frozen=True)
class _Archetype:
    """How an honest kind of developer uses the assistant and how much they ship."""

    share: float
    rate: tuple[float, float]  # prompts per active workday, uniform range
    workday_active: float
    pr_rate: float  # median merged PRs per week at the organisation's median exposure
    context: float  # multiplier on the repository's base context
    night_owl: bool = False
    template_share: float = 0.03
    retry_share: float = 0.01


ARCHETYPES: Final = {
    "light": _Archetype(0.22, (1.0, 3.0), 0.55, 1.5, 1.0),
    "normal": _Archetype(0.30, (5.0, 10.0), 0.95, 2.0, 1.0),
    "heavy_productive": _Archetype(0.15, (13.0, 20.0), 0.97, 3.2, 1.6),
    "night_owl": _Archetype(0.08, (5.0, 10.0), 0.93, 2.0, 1.0, night_owl=True),
    "other_timezone": _Archetype(0.10, (5.0, 10.0), 0.95, 2.0, 1.0),
    "background_agent": _Archetype(0.05, (6.0, 10.0), 0.95, 3.5, 1.2),
    "new_adopter": _Archetype(0.05, (5.0, 9.0), 0.95, 1.7, 1.0),
    "templated": _Archetype(0.05, (6.0, 10.0), 0.95, 2.0, 1.0, template_share=0.35, retry_share=0.08),
}
"""Honest archetypes and their shares of the honest developers (methods doc section 7)."""

WEEKDAY_FACTOR: Final = np.array([1.0, 1.05, 1.05, 1.0, 0.85, 0.4, 0.4])
WEEKEND_ACTIVE: Final = 0.08
WARM_UP: Final = 2.0  # days of operational time a day's prompt process runs before it is observed
CONTROL_PROMPTS: Final = ("continue", "yes", "go on", "looks good, proceed", "try again")
CONTROL_SHARE: Final = 0.03  # of everyone's prompts: short control prompts with org-wide hashes
SHARED_TEMPLATES: Final = ("/review", "/commit", "/test", "/explain", "/fix-lint", "/pr-description")


@dataclass(frozen=True)
class SimulationConfig:
    """Size, seed and calendar of the synthetic organisation. Equal configs give byte-equal files."""

    developers: int = 200
    days: int = 56
    seed: int = 0
    start: date = date(2026, 9, 7)  # a Monday
    team_size: tuple[int, int] = (6, 12)
    gamer_share: float = 0.10  # over the five core styles; launch_ramp gets the same count on top
    styles: tuple[str, ...] = GAMING_STYLES
    intensities: tuple[float, ...] = (3.0, 10.0, 1.5)  # cycled within each style
    launch_after_days: int = 14  # leaderboard launch, clamped to the first third of the period
    snapshot_weekday: int = 4  # date.weekday(): Friday
    snapshot_hour: int = 17  # UTC

    def __post_init__(self) -> None:
        problems = [
            msg
            for bad, msg in (
                (self.days < 7, "days must be at least 7"),
                (not 0 <= self.gamer_share < 0.5, "gamer_share must be in [0, 0.5)"),
                (not 3 <= self.team_size[0] <= self.team_size[1], "team_size must be (lo, hi) with 3 <= lo <= hi"),
                (not set(self.styles) <= set(GAMING_STYLES), f"styles must be among {GAMING_STYLES}"),
                (not self.intensities or min(self.intensities) < 1, "intensities must be >= 1"),
                (not 0 <= self.snapshot_weekday <= 6, "snapshot_weekday must be 0 (Monday) to 6"),
                (not 0 <= self.snapshot_hour <= 23, "snapshot_hour must be 0 to 23"),
                (self.developers < max(10, 2 * self.per_style * len(self.styles)), "too few developers"),
            )
            if bad
        ]
        if problems:
            raise ValueError("; ".join(problems))

    @property
    def per_style(self) -> int:
        """Planted gamers per style: 4 at 200 developers and 10 %, at least 1 when gamers are wanted."""
        if self.gamer_share == 0:
            return 0
        return max(1, round(self.gamer_share * self.developers / CORE_STYLE_COUNT))

    @property
    def launched(self) -> date:
        """The day the token leaderboard was announced; always inside the period."""
        return self.start + timedelta(days=min(self.launch_after_days, self.days // 3))


@dataclass(frozen=True)
class SimulatedOrg:
    """The generated organisation: canonical events, outcome exports, identities and ground truth.

    ``events``, ``labels`` have exactly the columns of ``events.csv`` / ``labels.csv``. ``truth`` holds the
    latent per-developer numbers behind ``true_yield`` and ``injected`` lists every planted request, for
    event-level precision. ``prs`` and ``jira`` are the outcome exports before rendering. ``snapshots``
    are all weekly snapshot times in the period (what the policy's weekly rule yields); gamers only spike
    before those after ``launched``.
    """

    config: SimulationConfig
    events: pl.DataFrame
    labels: pl.DataFrame
    truth: pl.DataFrame
    injected: pl.DataFrame
    prs: pl.DataFrame
    jira: pl.DataFrame
    identities: pl.DataFrame
    launched: date
    snapshots: tuple[datetime, ...]


# ---------------------------------------------------------------------------------------------------------
# Organisation structure


@dataclass(frozen=True)
class _Person:
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


def _people(rng: np.random.Generator, config: SimulationConfig) -> list[_Person]:
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
            _Person(
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


# ---------------------------------------------------------------------------------------------------------
# Calendar


@dataclass(frozen=True)
class _Calendar:
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
    def of(cls, rng: np.random.Generator, config: SimulationConfig, teams: Sequence[str]) -> _Calendar:
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


# ---------------------------------------------------------------------------------------------------------
# Per-developer behaviour


@dataclass(frozen=True)
class _Dev:
    """One developer's honest habits: calendar, daily profile, gap family and token sizes."""

    person: _Person
    midnight: F64
    weekday: I64
    day_rate: F64  # expected prompts per local day
    hours: F64  # inverse-CDF grid of the local daily profile
    cdf: F64
    gap_family: str
    gap_shape: float
    session_gap: float
    p_clear: float
    base_ctx: int
    add_median: float
    out_median: float
    model_p: tuple[float, float, float]
    cursor_share: float
    template_share: float
    retry_share: float
    templates: Strs


def _hash_of(text: str) -> str:
    """Stable 16-hex prompt hash of a text, the same for everyone who sends it."""
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def _build_dev(rng: np.random.Generator, person: _Person, cal: _Calendar) -> _Dev:
    arch = ARCHETYPES.get(person.archetype, ARCHETYPES["normal"])
    k = len(cal.dates)
    workday = cal.weekday < 5
    active = np.where(workday, rng.random(k) < arch.workday_active, rng.random(k) < WEEKEND_ACTIVE)
    active[cal.holidays[person.zone]] = False
    if rng.random() < 0.25:  # a vacation block
        first = int(rng.integers(0, k - 3))
        active[first : first + int(rng.integers(3, 8))] = False
    mult = np.ones(k)
    if person.archetype == "new_adopter":
        since = np.arange(k) - cal.launch_day
        mult = np.where(since < 0, 0.25, np.clip(0.25 + 0.075 * since, 0.25, 1.0))
    if person.team == cal.crunch[0]:
        mult[cal.crunch[1]] *= 2.5
    rate = rng.uniform(*arch.rate)
    day_rate = rate * WEEKDAY_FACTOR[cal.weekday] * active * mult * rng.lognormal(0.0, 0.35, k)

    # Two-peak local day between waking and sleeping; night owls are shifted late, not sleepless.
    shift = rng.uniform(4.0, 5.5) if arch.night_owl else 0.0
    peaks = np.array([rng.uniform(9.3, 11.0), rng.uniform(14.0, 16.0)]) + shift
    widths = rng.uniform(0.9, 1.8, 2)
    wake, sleep = rng.uniform(7.5, 9.0) + shift, rng.uniform(19.0, 23.0) + shift
    hours = np.arange(0.0, 32.0, 1 / 12)
    weights = np.array([1.0, rng.uniform(0.7, 1.3)])
    density = (weights * np.exp(-0.5 * ((hours[:, None] - peaks) / widths) ** 2)).sum(axis=1) + 0.05
    density *= (hours >= wake) & (hours <= sleep)
    cdf = np.r_[0.0, np.cumsum(density)]
    gap_family = str(rng.choice(["lognormal", "pareto", "weibull"]))
    gap_shape = {"lognormal": rng.uniform(1.0, 1.6), "pareto": rng.uniform(1.7, 2.6), "weibull": rng.uniform(0.5, 0.8)}
    opus = min(0.6, float(rng.beta(1.0, 6.0)))
    return _Dev(
        person=person,
        midnight=cal.midnight[person.zone],
        weekday=cal.weekday,
        day_rate=day_rate,
        hours=np.r_[hours, 32.0],
        cdf=cdf / cdf[-1],
        gap_family=gap_family,
        gap_shape=float(gap_shape[gap_family]),
        session_gap=rng.uniform(30, 90) * 60,
        p_clear=rng.uniform(0.05, 0.2),
        base_ctx=int(rng.lognormal(math.log(18_000 * arch.context), 0.3)),
        add_median=rng.uniform(1_000, 2_500) * arch.context,
        out_median=rng.uniform(200, 500),
        model_p=(0.92 - opus, opus, 0.08),
        cursor_share=rng.uniform(0.5, 1.0) if rng.random() < 0.15 else 0.0,
        template_share=arch.template_share,
        retry_share=arch.retry_share,
        templates=np.array(
            [_hash_of(t) for t in SHARED_TEMPLATES] + [_hash_of(f"{person.developer}:template:{j}") for j in range(3)]
        ),
    )


def _unit_gaps(rng: np.random.Generator, family: str, shape: float, size: tuple[int, int]) -> F64:
    """Heavy-tailed gaps with mean 1, from the developer's own family so no detector inverts one generator."""
    if family == "lognormal":
        return rng.lognormal(-(shape**2) / 2, shape, size)
    if family == "pareto":  # numpy's pareto is Lomax with scale 1 and mean 1/(shape - 1)
        return rng.pareto(shape, size) * (shape - 1)
    return rng.weibull(shape, size) / math.gamma(1 + 1 / shape)


def _prompt_times(rng: np.random.Generator, dev: _Dev, day_rate: F64) -> F64:
    """Prompt times (UTC seconds): a renewal process per day, time-warped through the daily profile.

    Each day's process starts ``WARM_UP`` days early: heavy-tailed gaps have a decreasing hazard, so a
    process started cold front-loads arrivals; warmed up it is stationary and averages ``day_rate``.
    """
    days = np.flatnonzero(day_rate > 0)
    if days.size == 0:
        return np.empty(0)
    rate = day_rate[days]
    width = int(rate.max() * (WARM_UP + 1) * 2 + 30)
    gaps = _unit_gaps(rng, dev.gap_family, dev.gap_shape, (days.size, width)) / rate[:, None]
    elapsed = np.cumsum(gaps, axis=1) - WARM_UP
    inside = (elapsed >= 0) & (elapsed < 1)
    row, _ = np.nonzero(inside)
    local_hour = np.interp(elapsed[inside], dev.cdf, dev.hours)
    return np.sort(dev.midnight[days[row]] + 3_600 * local_hour)


def _work_times(rng: np.random.Generator, dev: _Dev, n: int, cal: _Calendar) -> F64:
    """``n`` moments inside the period on the developer's active days, at their usual hours."""
    weight = dev.day_rate[1:-1] + 1e-9 * (dev.weekday[1:-1] < 5)
    day = 1 + rng.choice(weight.size, size=n, p=weight / weight.sum())
    moment = dev.midnight[day] + 3_600 * np.interp(rng.random(n), dev.cdf, dev.hours)
    return np.clip(moment, cal.start, cal.end - 1)


# ---------------------------------------------------------------------------------------------------------
# Requests and token accounting


@dataclass(frozen=True)
class _Requests:
    """A batch of API requests, sorted by time within each session (sessions are contiguous)."""

    t: F64
    session: I64
    prompt: Strs  # hash on the first request of a prompt burst, "" on tool-call follow-ups
    model: I64
    tool: I64
    tokens: I64  # (n, 4) in TOKEN_COLUMNS order

    def __len__(self) -> int:
        return int(self.t.size)

    @property
    def total(self) -> float:
        return float(self.tokens.sum())

    @property
    def effective(self) -> float:
        return float((self.tokens @ EFF_WEIGHTS).sum())

    def select(self, mask: Bools) -> _Requests:
        return _Requests(
            self.t[mask], self.session[mask], self.prompt[mask], self.model[mask], self.tool[mask], self.tokens[mask]
        )

    def scaled_to(self, budget: float) -> _Requests:
        """The same requests with every token count scaled so that their total is ``budget``."""
        factor = budget / self.total if self.total else 0.0
        tokens = np.rint(self.tokens * factor).astype(np.int64)
        return _Requests(self.t, self.session, self.prompt, self.model, self.tool, tokens)

    @staticmethod
    def concat(parts: Sequence[_Requests]) -> _Requests:
        """Concatenate batches, renumbering sessions so that no two batches share one."""
        offsets = np.cumsum([0] + [int(p.session.max()) + 1 if len(p) else 0 for p in parts])
        return _Requests(
            np.concatenate([p.t for p in parts]),
            np.concatenate([p.session + o for p, o in zip(parts, offsets, strict=False)]),
            np.concatenate([p.prompt for p in parts]),
            np.concatenate([p.model for p in parts]),
            np.concatenate([p.tool for p in parts]),
            np.concatenate([p.tokens for p in parts]).reshape(-1, 4),
        )


def _empty_requests() -> _Requests:
    return _Requests(
        np.empty(0), np.empty(0, np.int64), np.empty(0, "U16"), np.empty(0, np.int64), np.empty(0, np.int64),
        np.empty((0, 4), np.int64),
    )  # fmt: skip


_HEX_DIGITS: Final = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def _hex(raw: npt.NDArray[np.uint8]) -> Strs:
    """Lower-case hex of each row of a byte matrix, vectorised."""
    n, width = raw.shape
    chars = np.empty((n, 2 * width), dtype=np.uint8)
    chars[:, 0::2] = _HEX_DIGITS[raw >> 4]
    chars[:, 1::2] = _HEX_DIGITS[raw & 15]
    return chars.view(f"S{2 * width}").ravel().astype(f"U{2 * width}")


def _random_hex(rng: np.random.Generator, n: int, nbytes: int) -> Strs:
    return _hex(rng.integers(0, 256, size=(n, nbytes), dtype=np.uint8))


def _uuid4(rng: np.random.Generator, n: int) -> Strs:
    """Random RFC 4122 version-4 UUID strings, vectorised."""
    raw = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    digits = _hex(raw).view(np.uint32).reshape(n, 32)
    dashed = np.full((n, 36), ord("-"), dtype=np.uint32)
    dashed[:, np.r_[0:8, 9:13, 14:18, 19:23, 24:36]] = digits
    return dashed.view("U36").ravel()


def _segment_cumsum(values: npt.NDArray[_Num], first: Bools) -> npt.NDArray[_Num]:
    """Running sum of ``values`` that restarts wherever ``first`` is set."""
    total = np.cumsum(values)
    start = np.maximum.accumulate(np.where(first, np.arange(values.size), 0))
    return total - total[start] + values[start]


def _cache_accounting(t: F64, session: I64, added: I64, out: I64, uncached: I64, base: int) -> I64:
    """Anthropic-style token columns for conversations that grow, compact and lose their cache.

    The context of request k is the repository's base context plus everything added so far in the
    session (prompt or tool result, plus the previous output); it wraps around at the compaction limit.
    Warm requests read the prefix from the cache and write only what was added; the first request of a
    session, and one sent after the 5-minute cache TTL, writes the whole context.
    """
    first = np.r_[True, session[1:] != session[:-1]]
    previous_out = np.r_[0, out[:-1]]
    previous_out[first] = 0
    step = added + previous_out
    grown = _segment_cumsum(step, first)
    span = CONTEXT_LIMIT - base
    lap, pos = np.divmod(grown, span)
    context = base + pos
    compacted = np.r_[False, lap[1:] != lap[:-1]] & ~first
    cold = first | (np.diff(t, prepend=t[:1]) > CACHE_TTL_S)
    cache_read = np.where(cold, 0, np.where(compacted, base, context - step))
    cache_write = np.where(cold, context, np.where(compacted, pos, step))
    return np.stack([uncached, out, cache_read, cache_write], axis=1).astype(np.int64)


def _draw_sizes(rng: np.random.Generator, dev: _Dev, burst_start: Bools) -> tuple[I64, I64, I64]:
    """Lognormal sizes of what each request adds (prompt or tool result), its output and uncached input."""
    n = burst_start.size
    added = np.where(burst_start, rng.lognormal(math.log(400), 1.0, n), rng.lognormal(math.log(dev.add_median), 1.1, n))
    out = np.minimum(rng.lognormal(math.log(dev.out_median), 1.0, n), 32_000)
    uncached = rng.lognormal(math.log(12), 1.2, n)
    return (
        np.minimum(added, 40_000).astype(np.int64) + 1,
        out.astype(np.int64) + 1,
        np.minimum(uncached, 5_000).astype(np.int64) + 1,
    )


def _session_choices(rng: np.random.Generator, dev: _Dev, sessions: int) -> tuple[I64, I64]:
    """Model and tool of each session, from the developer's preferences."""
    model = rng.choice(len(MODELS), size=sessions, p=dev.model_p)
    tool = (rng.random(sessions) < dev.cursor_share).astype(np.int64)
    return model.astype(np.int64), tool


def _human_requests(rng: np.random.Generator, dev: _Dev, prompt_t: F64) -> _Requests:
    """Agent bursts after each prompt: NegBin(mean 4) requests ~8 s apart, sessions split by long pauses."""
    m = prompt_t.size
    if m == 0:
        return _empty_requests()
    kind = rng.random(m)
    retry = kind < dev.retry_share
    retry[0] = False
    prompt_t = np.where(retry, np.minimum(prompt_t, np.r_[prompt_t[0], prompt_t[:-1]] + 1.0), prompt_t)

    size = 1 + rng.negative_binomial(1.5, 1.5 / 4.5, m)
    owner = np.repeat(np.arange(m), size)
    burst_start = np.zeros(owner.size, dtype=bool)
    burst_start[np.cumsum(size) - size] = True
    step = np.where(
        rng.random(owner.size) < 0.06, rng.uniform(120, 300, owner.size), 2 + rng.gamma(2.0, 3.0, owner.size)
    )
    step[burst_start] = 0.0
    offset = _segment_cumsum(step, burst_start)
    duration = offset[np.cumsum(size) - 1]
    # A person waits for the agent: shift prompts so that bursts never overlap (vectorised recurrence).
    shift = np.r_[0.0, np.cumsum(duration + 3.0)[:-1]]
    start = shift + np.maximum.accumulate(prompt_t - shift)
    pause = start - np.r_[-np.inf, (start + duration)[:-1]]
    new_session = ((pause > dev.session_gap) | (rng.random(m) < dev.p_clear)) & ~retry
    new_session[0] = True
    session = np.cumsum(new_session) - 1

    pick = kind - dev.retry_share
    hashes = np.where(
        pick < dev.template_share,
        rng.choice(dev.templates, size=m),
        np.where(
            pick < dev.template_share + CONTROL_SHARE, rng.choice(_CONTROL_HASHES, size=m), _random_hex(rng, m, 8)
        ),
    )
    hashes = hashes[np.maximum.accumulate(np.where(retry, 0, np.arange(m)))]  # a retry resends the last prompt

    model, tool = _session_choices(rng, dev, int(session[-1]) + 1)
    added, out, uncached = _draw_sizes(rng, dev, burst_start)
    t = start[owner] + offset
    sess = session[owner]
    return _Requests(
        t,
        sess,
        np.where(burst_start, hashes[owner], ""),
        model[sess],
        tool[sess],
        _cache_accounting(t, sess, added, out, uncached, dev.base_ctx),
    )


_CONTROL_HASHES: Final = np.array([_hash_of(p) for p in CONTROL_PROMPTS])


def _template_runs(rng: np.random.Generator, dev: _Dev, starts: F64, n_templates: int, tag: str) -> _Requests:
    """Fresh headless sessions that each run one of a few fixed prompts, so the runs are near-clones.

    The same prompt in a fresh session gives the exact same opening context (repetition signal S4b);
    later requests vary by well under 1 % in context and a few percent in output (S4c).
    """
    if starts.size == 0:
        return _empty_requests()
    length = rng.integers(2, 7, n_templates)
    template_rows = []
    for j in range(n_templates):
        burst_start = np.arange(length[j]) == 0
        added, out, uncached = _draw_sizes(rng, dev, burst_start)
        steps = np.arange(length[j], dtype=np.float64) * 8.0
        template_rows.append(
            _cache_accounting(steps, np.zeros(length[j], np.int64), added, out, uncached, dev.base_ctx)
        )
    table = np.concatenate(template_rows)
    which = rng.choice(n_templates, size=starts.size, p=rng.dirichlet(np.ones(n_templates)))
    size = length[which]
    owner = np.repeat(np.arange(starts.size), size)
    position = np.arange(owner.size) - (np.cumsum(size) - size)[owner]
    tokens = table[(np.cumsum(length) - length)[which][owner] + position].astype(np.float64)
    later = position > 0
    tokens[later] *= rng.lognormal(0.0, [0.0, 0.02, 0.003, 0.003], (int(later.sum()), 4))
    step = np.where(position == 0, 0.0, 2 + rng.gamma(2.0, 3.0, owner.size))
    offset = _segment_cumsum(step, position == 0)
    hashes = np.array([_hash_of(f"{dev.person.developer}:{tag}:{j}") for j in range(n_templates)])
    return _Requests(
        starts[owner] + offset,
        owner.astype(np.int64),
        np.where(position == 0, hashes[which][owner], ""),
        np.zeros(owner.size, np.int64),
        np.zeros(owner.size, np.int64),
        np.rint(tokens).astype(np.int64),
    )


def _night_runs(rng: np.random.Generator, dev: _Dev, nights: Bools, budget: float) -> _Requests:
    """Long agent runs between about 22:00 and 06:00 local on the given local days, one session a night."""
    days = np.flatnonzero(nights)
    if days.size == 0 or budget <= 0:
        return _empty_requests()
    begin = dev.midnight[days] + 3_600 * rng.uniform(22.0, 23.5, days.size)
    length = 3_600 * rng.uniform(6.5, 8.0, days.size) - (begin - dev.midnight[days] - 22 * 3_600)
    count = rng.multinomial(max(days.size, round(budget / 80_000)), length / length.sum())
    owner = np.repeat(np.arange(days.size), count)
    t = begin[owner] + rng.random(owner.size) * length[owner]
    order = np.lexsort((t, owner))
    t, owner = t[order], owner[order]
    burst_start = np.r_[True, owner[1:] != owner[:-1]]
    model, _ = _session_choices(rng, dev, days.size)
    added, out, uncached = _draw_sizes(rng, dev, burst_start)
    runs = _Requests(
        t,
        owner.astype(np.int64),
        np.where(burst_start, _random_hex(rng, owner.size, 8), ""),
        model[owner],
        np.zeros(owner.size, np.int64),
        _cache_accounting(t, owner.astype(np.int64), added, out, uncached, dev.base_ctx),
    )
    return runs.scaled_to(budget)


# ---------------------------------------------------------------------------------------------------------
# Planted gaming styles: each returns the requests added on top of (or replacing) the honest baseline.


def _cron_loop(rng: np.random.Generator, dev: _Dev, cal: _Calendar, budget: float) -> _Requests:
    """Headless runs every P minutes with 0-30 % jitter; even variants run 24/7, odd ones in office hours.

    P is the period in {5, 10, 15, 30} min whose runs come closest to a typical run's size; a budget
    too small even for that keeps the loop running only for the first part of the period.
    """
    office_hours = dev.person.variant % 2 == 1
    per_run = _mean_prompt_tokens(dev)
    span = cal.end - cal.launch
    window = span * (45 / 168 if office_hours else 1.0)
    period = min((5, 10, 15, 30), key=lambda p: abs(math.log(window / (60 * p) * per_run / budget)))
    fill = budget / (window / (60 * period) * per_run)
    running = span * min(1.0, 3 * fill)  # runs carry at least a third of a typical run
    ticks = cal.launch + 60 * period * (rng.random() + np.arange(running // (60 * period)))
    ticks += rng.uniform(-1, 1, ticks.size) * rng.uniform(0.0, 0.3) * 60 * period
    if office_hours:
        day = np.searchsorted(dev.midnight, ticks, side="right") - 1
        hour = (ticks - dev.midnight[day]) / 3_600
        ticks = ticks[(dev.weekday[day] < 5) & (hour >= 9) & (hour < 18)]
    return _template_runs(rng, dev, ticks, int(rng.integers(2, 4)), "cron").scaled_to(budget)


def _overnight_agent(rng: np.random.Generator, dev: _Dev, cal: _Calendar, budget: float) -> _Requests:
    """Agent runs on most nights after launch, next to normal daytime use."""
    nights = (dev.midnight >= cal.launch - 86_400) & (rng.random(dev.midnight.size) < 0.85)
    return _night_runs(rng, dev, nights, budget)


def _duplicate_prompts(rng: np.random.Generator, dev: _Dev, cal: _Calendar, budget: float) -> _Requests:
    """A few prompts resubmitted in fresh sessions at the developer's usual, human-like times."""
    starts = _prompt_times(rng, dev, _gaming_rate(dev, cal, budget / _mean_prompt_tokens(dev)))
    return _template_runs(rng, dev, starts, int(rng.integers(3, 6)), "dup").scaled_to(budget)


def _context_stuffing(rng: np.random.Generator, dev: _Dev, cal: _Calendar, target: float) -> _Requests:
    """Normal timing, but every request re-sends 150-190k tokens of context for a tiny answer.

    Replaces the post-launch baseline: ``target`` is the total the stuffed requests should reach. Even
    variants re-read from the cache, odd ones send the context uncached. The stuffed sizes cannot be
    rescaled, so bursts are oversampled and a random subset of them is kept up to the target.
    """
    rate = _gaming_rate(dev, cal, 1.5 * target / (4 * sum(STUFFED_CONTEXT) / 2))  # bursts average 4 requests
    shaped = _human_requests(rng, dev, _prompt_times(rng, dev, rate))
    n = len(shaped)
    context = rng.integers(*STUFFED_CONTEXT, size=n)
    out = np.minimum(rng.lognormal(math.log(60), 0.6, n), 400).astype(np.int64) + 1
    if dev.person.variant % 2 == 0:
        written = rng.lognormal(math.log(600), 0.8, n).astype(np.int64) + 1
        uncached = rng.integers(1, 40, n)
        tokens = np.stack([uncached, out, context - written - uncached, written], axis=1)
    else:
        tokens = np.stack([context, out, np.zeros(n, np.int64), np.zeros(n, np.int64)], axis=1)
    burst = np.cumsum(shaped.prompt != "") - 1
    order = rng.permutation(int(burst.max()) + 1 if n else 0)
    per_burst = np.bincount(burst, weights=tokens.sum(axis=1), minlength=order.size)
    kept = np.isin(burst, order[np.cumsum(per_burst[order]) <= target])
    stuffed = _Requests(shaped.t, shaped.session, shaped.prompt, shaped.model, shaped.tool, tokens.astype(np.int64))
    return stuffed.select(kept)


def _snapshot_spike(rng: np.random.Generator, dev: _Dev, cal: _Calendar, budget: float) -> _Requests:
    """A burst of sessions in the 24 h before each post-launch leaderboard snapshot."""
    snapshots = cal.snapshots[cal.snapshots - 86_400 >= cal.launch]
    if snapshots.size == 0:
        return _empty_requests()
    per_window = max(3, round(budget / snapshots.size / _mean_prompt_tokens(dev)))
    owner = np.repeat(np.arange(snapshots.size), per_window)
    prompts = np.sort(snapshots[owner] - 86_400 * rng.random(owner.size))
    return _human_requests(rng, dev, prompts).scaled_to(budget)


def _launch_ramp(rng: np.random.Generator, dev: _Dev, cal: _Calendar, budget: float) -> _Requests:
    """More of the same honest-looking use after launch: a step in volume with flat outcomes."""
    rate = _gaming_rate(dev, cal, budget / _mean_prompt_tokens(dev))
    return _human_requests(rng, dev, _prompt_times(rng, dev, rate)).scaled_to(budget)


def _gaming_rate(dev: _Dev, cal: _Calendar, prompts: float) -> F64:
    """Day rates for ``prompts`` human-timed gaming prompts after launch, shaped like the developer's days.

    A developer with no active day left after launch (a holiday in a short period) games on workdays.
    """
    day = np.arange(dev.day_rate.size)
    after = (day >= cal.launch_day) & (day < day.size - 1)  # local days of the period since launch
    shape = dev.day_rate * after
    if shape.sum() == 0:
        shape = ((dev.weekday < 5) & after).astype(np.float64)
    return shape * (prompts / float(shape.sum()))


def _mean_prompt_tokens(dev: _Dev) -> float:
    """Rough tokens per prompt burst or headless run (4 requests at a mid-sized context), to size extras."""
    return 4.0 * (dev.base_ctx + 25_000)


_GAMING: Final = {
    "cron_loop": _cron_loop,
    "overnight_agent": _overnight_agent,
    "duplicate_prompts": _duplicate_prompts,
    "snapshot_spike": _snapshot_spike,
    "launch_ramp": _launch_ramp,
}


@dataclass(frozen=True)
class _Usage:
    """What one developer sent, their honest baseline and which requests were planted."""

    requests: _Requests
    injected: Bools
    baseline_eff: float


def _usage(base_rng: np.random.Generator, game_rng: np.random.Generator, dev: _Dev, cal: _Calendar) -> _Usage:
    person = dev.person
    baseline = _human_requests(base_rng, dev, _prompt_times(base_rng, dev, dev.day_rate))
    if person.archetype == "background_agent":
        weeknights = (np.isin(dev.weekday, [0, 1, 2, 3, 6])) & (base_rng.random(dev.weekday.size) < 0.7)
        agent = _night_runs(base_rng, dev, weeknights, base_rng.uniform(0.8, 1.5) * baseline.total)
        baseline = _Requests.concat([baseline, agent])
    baseline = baseline.select((baseline.t >= cal.start) & (baseline.t < cal.end))
    if not person.style:
        return _Usage(baseline, np.zeros(len(baseline), bool), baseline.effective)
    # Gaming volume follows the developer's typical day, not the realised post-launch baseline: a gamer
    # whose holiday starts at launch still games, and their loop does not take the holiday.
    typical = baseline.total * (cal.end - cal.launch) / (cal.end - cal.start)
    if person.style == "context_stuffing":
        kept = baseline.select(baseline.t < cal.launch)
        extra = _context_stuffing(game_rng, dev, cal, person.intensity * typical)
    else:
        kept = baseline
        budget = (person.intensity - 1) * typical
        extra = _GAMING[person.style](game_rng, dev, cal, budget) if budget > 0 else _empty_requests()
    extra = extra.select((extra.t >= cal.start) & (extra.t < cal.end))
    return _Usage(
        _Requests.concat([kept, extra]),
        np.r_[np.zeros(len(kept), bool), np.ones(len(extra), bool)],
        baseline.effective,
    )


# ---------------------------------------------------------------------------------------------------------
# Outcomes


@dataclass(frozen=True)
class _Truth:
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


def _truth(rng: np.random.Generator, dev: _Dev, cal: _Calendar, exposure: float, team_factor: float) -> _Truth:
    """PRs ~ Poisson(pi * weeks * (E/E0)^0.3) with E the *honest* exposure; tickets alike (section 7)."""
    arch = ARCHETYPES.get(dev.person.archetype, ARCHETYPES["normal"])
    pr_rate = arch.pr_rate * team_factor * rng.lognormal(0.0, 0.35)
    ticket_rate = pr_rate * rng.lognormal(math.log(0.8), 0.3)
    period_days = np.arange(len(cal.dates))[1:-1]
    boost = np.where((dev.person.archetype == "new_adopter") & (period_days >= cal.launch_day), 1.3, 1.0)
    weeks = float(boost.sum()) / 7 * exposure**0.3
    return _Truth(
        pr_rate=pr_rate,
        expected_prs=pr_rate * weeks,
        expected_tickets=ticket_rate * weeks,
        defect_rate=float(rng.beta(2.0, 28.0)),
        revert_rate=float(rng.beta(1.0, 45.0)),
    )


@dataclass(frozen=True)
class _PR:
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
class _Ticket:
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


def _outcomes(
    rng: np.random.Generator, dev: _Dev, cal: _Calendar, truth: _Truth, teammates: Sequence[int]
) -> tuple[list[_PR], list[_Ticket]]:
    """Realised PRs (merged, closed, open, reverts of this author's work) and Jira issues for one developer."""
    person = dev.person
    hours = 3_600.0
    merged_n = int(rng.poisson(truth.expected_prs))
    other_n = int(rng.poisson(0.2 * truth.expected_prs))
    created = _work_times(rng, dev, merged_n + other_n, cal)
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
        _PR(person.team, float(created[i]), float(merged[i]), float(merged[i]), titles[i],
            int(adds[i]), int(dels[i]), person.idx, labels[i])
        for i in range(merged_n)
    ] + [
        _PR(person.team, float(created[i]), None, float(closed[i - merged_n]) if closes[i - merged_n] else None,
            titles[i], int(adds[i]), int(dels[i]), person.idx, labels[i])
        for i in range(merged_n, merged_n + other_n)
    ]  # fmt: skip
    reverted = rng.permutation(merged_n)[: int(rng.binomial(merged_n, truth.revert_rate))]
    for i in reverted:
        opened = float(merged[i]) + hours * float(rng.lognormal(math.log(6), 0.7))
        prs.append(
            _PR(person.team, opened, opened + hours, opened + hours, f'Revert "{titles[i]}"', int(dels[i]),
                int(adds[i]), int(rng.choice(teammates)), ())
        )  # fmt: skip

    day = 86_400.0
    tickets = []
    n_done = int(rng.poisson(truth.expected_tickets))
    n_open = int(rng.poisson(0.25 * truth.expected_tickets))
    when = _work_times(rng, dev, n_done + n_open, cal)
    for i, moment in enumerate(when):
        done = i < n_done
        kind = "Story" if rng.random() < 0.6 else "Task"
        tickets.append(
            _Ticket(
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
            _Ticket(
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


def _dependabot(rng: np.random.Generator, repos: Sequence[str], cal: _Calendar) -> list[_PR]:
    """A few bot PRs per repository: outcome readers must not credit them to anyone."""
    bumps = []
    for repo in repos:
        for _ in range(int(rng.poisson((cal.end - cal.start) / 86_400 / 14))):
            opened = float(rng.uniform(cal.start, cal.end))
            merged = opened + 86_400 * float(rng.uniform(0.1, 3)) if rng.random() < 0.7 else None
            minor, patch = int(rng.integers(1, 20)), int(rng.integers(0, 9))
            package = BUMPED_PACKAGES[int(rng.integers(len(BUMPED_PACKAGES)))]
            title = f"Bump {package} from 1.{minor}.{patch} to 1.{minor}.{patch + 1}"
            bumps.append(_PR(repo, opened, merged, merged, title, 3, 3, -1, ("dependencies",)))
    return bumps


def _node_id(kind: str, text: str) -> str:
    """A GitHub-style legacy node id (base64 of ``04:User123``), stable per login or label."""
    number = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=4).digest(), "big")
    return base64.b64encode(f"04:{kind}{number}".encode()).decode()


def _utc(seconds: Sequence[float | None] | F64) -> pl.Series:
    """UTC datetimes from epoch seconds (None stays null), at millisecond precision."""
    millis = (pl.Series(seconds, dtype=pl.Float64) * 1000).round().cast(pl.Int64)
    return millis.cast(pl.Datetime("ms")).dt.replace_time_zone("UTC").cast(UTC_DATETIME)


def _prs_frame(prs: Sequence[_PR], people: Sequence[_Person], rng: np.random.Generator) -> pl.DataFrame:
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

    def author(pr: _PR) -> dict[str, object]:
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
            "createdAt": _utc([p.created for p in ordered]),
            "mergedAt": _utc([p.merged for p in ordered]),
            "closedAt": _utc([p.closed for p in ordered]),
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


def _jira_frame(tickets: Sequence[_Ticket]) -> pl.DataFrame:
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
            "created": _utc([t.created for t in ordered]),
            "resolved": _utc([t.resolved for t in ordered]),
            "labels": [[label for label in t.labels if label] for t in ordered],
            "story_points": pl.Series([t.points for t in ordered], dtype=pl.Int64),
        }
    )
    return frame.sort("id", descending=True)


# ---------------------------------------------------------------------------------------------------------
# Assembly


def simulate(config: SimulationConfig) -> SimulatedOrg:
    """Generate the organisation for ``config``: deterministic per seed, vectorised per developer."""
    org_seq, dev_seq = np.random.SeedSequence(config.seed).spawn(2)
    org_rng = np.random.default_rng(org_seq)
    people = _people(org_rng, config)
    cal = _Calendar.of(org_rng, config, [p.team for p in people])
    team_factor = {team: org_rng.lognormal(0.0, 0.25) for team in dict.fromkeys(p.team for p in people)}

    streams = [[np.random.default_rng(s) for s in seq.spawn(3)] for seq in dev_seq.spawn(len(people))]
    devs = [_build_dev(base, person, cal) for person, (base, _, _) in zip(people, streams, strict=True)]
    usage = [_usage(base, game, dev, cal) for dev, (base, game, _) in zip(devs, streams, strict=True)]

    baseline = np.array([u.baseline_eff for u in usage]) / 1e6
    median_exposure = float(np.median(baseline[baseline > 0]))
    truths = [
        _truth(out, dev, cal, max(b, 1e-3) / median_exposure, team_factor[dev.person.team])
        for dev, b, (_, _, out) in zip(devs, baseline, streams, strict=True)
    ]
    prs: list[_PR] = []
    tickets: list[_Ticket] = []
    for dev, truth, (_, _, out) in zip(devs, truths, streams, strict=True):
        mates = [p.idx for p in people if p.team == dev.person.team and p.idx != dev.person.idx] or [dev.person.idx]
        dev_prs, dev_tickets = _outcomes(out, dev, cal, truth, mates)
        prs += dev_prs
        tickets += dev_tickets
    prs += _dependabot(org_rng, list(team_factor), cal)

    events, injected = _events_frames(org_rng, people, usage)
    effective = np.array([u.requests.effective for u in usage]) / 1e6
    return SimulatedOrg(
        config=config,
        events=events,
        labels=_labels_frame(people, truths, effective),
        truth=pl.DataFrame(
            {
                "developer": [p.developer for p in people],
                "variant": [_variant_name(p) for p in people],
                "baseline_eff_mtok": baseline,
                "eff_mtok": effective,
                "pr_rate_per_week": [t.pr_rate for t in truths],
                "expected_prs": [t.expected_prs for t in truths],
                "expected_tickets": [t.expected_tickets for t in truths],
                "defect_rate": [t.defect_rate for t in truths],
                "revert_rate": [t.revert_rate for t in truths],
                "expected_points": [t.expected_points for t in truths],
            }
        ).sort("developer"),
        injected=injected,
        prs=_prs_frame(prs, people, org_rng),
        jira=_jira_frame(tickets),
        identities=pl.DataFrame(
            {
                "developer": [p.developer for p in people],
                "email": [p.email for p in people],
                "github": [p.github for p in people],
                "jira": [p.name for p in people],
                "team": [p.team for p in people],
                "timezone": [p.zone for p in people],
            }
        ).sort("developer"),
        launched=config.launched,
        snapshots=tuple(datetime.fromtimestamp(float(s), UTC) for s in cal.snapshots),
    )


def _variant_name(person: _Person) -> str:
    """Which variant of its style a gamer plays (section 7 asks for a subtle and an obvious cron loop)."""
    names = {"cron_loop": ("24/7", "office_hours"), "context_stuffing": ("cache_read", "uncached")}
    return names[person.style][person.variant % 2] if person.style in names else ""


def _events_frames(
    rng: np.random.Generator, people: Sequence[_Person], usage: Sequence[_Usage]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The canonical events frame (the exact events.csv columns) and the planted request ids."""
    merged = _Requests.concat([u.requests for u in usage])
    owner = np.repeat(np.arange(len(usage)), [len(u.requests) for u in usage])
    injected = np.concatenate([u.injected for u in usage])
    request_id = np.char.add("req_", _random_hex(rng, len(merged), 12))
    session_id = _uuid4(rng, int(merged.session.max()) + 1 if len(merged) else 0)
    events = pl.DataFrame(
        {
            "timestamp": _utc(merged.t),
            "developer": pl.Series([p.email for p in people]).gather(owner),
            "tool": pl.Series(TOOLS).gather(merged.tool),
            "model": pl.Series(MODELS).gather(merged.model),
            "session_id": pl.Series(session_id).gather(merged.session),
            "request_id": pl.Series(request_id),
            **{name: pl.Series(merged.tokens[:, k]) for k, name in enumerate(TOKEN_COLUMNS)},
            "prompt_hash": pl.Series(merged.prompt).replace("", None),
        }
    )
    planted = pl.DataFrame(
        {
            "request_id": pl.Series(request_id[injected], dtype=pl.String),
            "developer": pl.Series([p.developer for p in people]).gather(owner[injected]),
            "style": pl.Series([p.style for p in people]).gather(owner[injected]),
        }
    )
    return events.sort(["timestamp", "request_id"]), planted.sort("request_id")


def _labels_frame(people: Sequence[_Person], truths: Sequence[_Truth], effective: F64) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "developer": [p.developer for p in people],
            "email": [p.email for p in people],
            "team": [p.team for p in people],
            "label": ["gamer" if p.style else "honest" for p in people],
            "archetype": [p.archetype for p in people],
            "style": [p.style or None for p in people],
            "intensity": [p.intensity if p.style else None for p in people],
            "true_yield": [round(t.expected_points / max(e, 1e-6), 4) for t, e in zip(truths, effective, strict=True)],
            "timezone": [p.zone for p in people],
        },
        schema_overrides={"style": pl.String, "intensity": pl.Float64},
    ).sort("developer")


# ---------------------------------------------------------------------------------------------------------
# Files


def _gh_time(value: datetime | None) -> str | None:
    return None if value is None else value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _gh_json(prs: pl.DataFrame) -> str:
    """Render like ``gh pr list --json``: Go sorts map keys, bots carry only ``is_bot`` and ``login``."""
    rows = []
    for pr in prs.iter_rows(named=True):
        author = {key: value for key, value in sorted(pr["author"].items()) if value is not None}
        rows.append(
            {
                "additions": pr["additions"],
                "author": author,
                "closedAt": _gh_time(pr["closedAt"]),
                "createdAt": _gh_time(pr["createdAt"]),
                "deletions": pr["deletions"],
                "labels": pr["labels"],
                "mergedAt": _gh_time(pr["mergedAt"]),
                "number": pr["number"],
                "state": pr["state"],
                "title": pr["title"],
                "url": pr["url"],
            }
        )
    return json.dumps(rows, separators=(",", ":"), ensure_ascii=False) + "\n"


def _jira_time(column: str) -> pl.Expr:
    return pl.col(column).dt.to_string("%d/%b/%y %-I:%M %p").fill_null("")


def _write_jira(jira: pl.DataFrame, path: Path) -> None:
    """Jira's CSV export: a BOM, CRLF, repeated ``Labels`` columns and d/MMM/yy h:mm a dates (UTC here)."""
    rendered = jira.select(
        "summary", "key", pl.col("id").cast(pl.String), "type", "status", "priority",
        pl.col("resolution").fill_null(""), pl.col("assignee").fill_null(""),
        _jira_time("created"), _jira_time("resolved"),
        pl.col("labels").list.get(0, null_on_oob=True).fill_null(""),
        pl.col("labels").list.get(1, null_on_oob=True).fill_null("").alias("labels_2"),
        pl.col("story_points").cast(pl.String).fill_null(""),
    )  # fmt: skip
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(JIRA_HEADER)
        writer.writerows(rendered.iter_rows())


def _policy_text(org: SimulatedOrg) -> str:
    identities = {
        row["developer"]: {"team": row["team"], "aliases": [row["email"], row["github"], row["jira"]]}
        for row in org.identities.iter_rows(named=True)
    }
    policy = {
        "timezone": "UTC",
        "identities": identities,
        "leaderboard": {
            "snapshot_weekday": WEEKDAYS[org.config.snapshot_weekday],
            "snapshot_time": f"{org.config.snapshot_hour:02d}:00",
            "launched": org.launched,
        },
    }
    header = (
        f"# tokenaudit policy for the synthetic organisation (seed {org.config.seed}, "
        f"{org.config.developers} developers, {org.config.days} days).\n"
        "# Generated by tokenaudit.simulate; identities map each canonical id to its email, GitHub login\n"
        "# and Jira display name.\n"
    )
    return header + yaml.safe_dump(policy, sort_keys=False, allow_unicode=True)


def write_simulation(org: SimulatedOrg, out_dir: Path) -> list[Path]:
    """Write events.csv, labels.csv, prs.json, jira.csv and policy.yaml into ``out_dir``; return the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / name for name in ("events.csv", "labels.csv", "prs.json", "jira.csv", "policy.yaml")]
    events, labels, prs, jira, policy = paths
    org.events.write_csv(events, datetime_format="%Y-%m-%dT%H:%M:%S%.3fZ")
    org.labels.write_csv(labels)
    prs.write_text(_gh_json(org.prs), encoding="utf-8")
    _write_jira(org.jira, jira)
    policy.write_text(_policy_text(org), encoding="utf-8")
    return paths
