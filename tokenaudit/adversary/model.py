"""The organisation: people, their working days, their sessions and the planted cases.

Every person is drawn from their own random stream (seed and roster position), so dropping the gamers
leaves everyone else's activity exactly as it was: the evaluation audits both and compares.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from tokenaudit.adversary import prompts
from tokenaudit.adversary.agent import CACHE_TTL, Conversation, Session, Style, geometric, lognormal

UTC = dt.UTC
PERIOD_START = dt.date(2026, 9, 28)
"""A Monday. In six weeks Sydney starts summer time (Oct 4), Europe ends it (Oct 25), the US ends it (Nov 1)."""
ZONES = (
    "America/Los_Angeles",
    "America/New_York",
    "Europe/London",
    "Europe/Berlin",
    "Asia/Kolkata",
    "Australia/Sydney",
)
TEAMS = ("payments", "platform", "mobile", "data", "growth", "search")
DUO_TEAM = "infra-duo"
CLAUDE, CURSOR, GATEWAY = "claude-code", "cursor", "gateway"
MODELS = {CLAUDE: "claude-sonnet-4-5-20250929", CURSOR: "claude-4.5-sonnet", GATEWAY: "gpt-5"}

GAMER, EDGE, HONEST = "gamer", "edge", "honest"

FIRST_NAMES = (
    "ana", "bo", "chen", "dara", "eli", "farah", "gus", "hana", "ivo", "jun", "kemal", "lea", "mateo", "nia",
    "omar", "priya", "quinn", "rosa", "sven", "tariq", "uma", "vik", "wen", "xavi", "yara", "zeno",
)  # fmt: skip
LAST_NAMES = (
    "abe", "bauer", "costa", "diaz", "eng", "fox", "gill", "haas", "ito", "jain", "kova", "lind", "moss", "nunez",
    "ortiz", "park", "quist", "roy", "sato", "tran", "ueda", "voss", "wu", "yilmaz", "zhou",
)  # fmt: skip


@dataclass(frozen=True)
class AdversaryConfig:
    """What to generate; the defaults are the evaluation's organisation."""

    seed: int = 0
    developers: int = 60
    weeks: int = 6
    start: dt.date = PERIOD_START
    activity: float = 1.0
    """Multiplies everyone's sessions per day (below 1 for a quick, smaller run)."""


@dataclass(frozen=True)
class Person:
    """One developer: identities, team, zone, habits, and the planted case (``ordinary`` for most)."""

    index: int
    email: str
    login: str
    name: str
    api_key: str
    team: str
    zone: str
    tool: str
    case: str
    kind: str
    intensity: str
    sessions_per_day: float
    tool_turns: float
    tool_result: float
    rules_tokens: int
    """The person's rules files and MCP tool definitions, sent with the system prompt in every session."""
    start_hour: float
    productivity: float
    fte: float = 1.0
    first_day: int = 0
    """Days after the period start before which the person was not there (a new joiner)."""

    @property
    def tzinfo(self) -> ZoneInfo:
        """The person's home zone."""
        return ZoneInfo(self.zone)


@dataclass(frozen=True)
class DayUsage:
    """A day-grain row: one UTC day of one model on an API key that only a usage report shows."""

    day: dt.date
    model: str
    input_tokens: int
    output_tokens: int
    cache_read: int
    cache_write: int

    @property
    def total(self) -> int:
        """All four token counts."""
        return self.input_tokens + self.output_tokens + self.cache_read + self.cache_write


@dataclass(frozen=True)
class PullRequest:
    """A PR as ``gh pr list --json`` reports it."""

    number: int
    repo: str
    author: str
    title: str
    created: dt.datetime
    merged: dt.datetime | None
    additions: int
    deletions: int
    changed_files: int
    reviewers: tuple[str, ...]


@dataclass(frozen=True)
class Ticket:
    """A Jira issue closed (or a bug assigned) in the period."""

    key: str
    issue_type: str
    assignee: str
    created: dt.datetime
    resolved: dt.datetime
    points: int | None


@dataclass
class Activity:
    """Everything one person produced: sessions on their tools, day-grain usage, PRs and tickets."""

    person: Person
    sessions: list[Session] = field(default_factory=list)
    day_usage: list[DayUsage] = field(default_factory=list)
    prs: list[PullRequest] = field(default_factory=list)
    tickets: list[Ticket] = field(default_factory=list)

    def tokens_by_tool(self) -> dict[str, int]:
        """Exact totals per tool (the day-grain key counts as its own source, ``anthropic-api``)."""
        totals: dict[str, int] = {}
        for session in self.sessions:
            totals[session.tool] = totals.get(session.tool, 0) + sum(r.total for r in session.requests)
        if self.day_usage:
            totals["anthropic-api"] = sum(row.total for row in self.day_usage)
        return totals


@dataclass(frozen=True)
class Organisation:
    """The generated organisation."""

    config: AdversaryConfig
    activities: list[Activity]

    @property
    def days(self) -> list[dt.date]:
        """Every day of the period."""
        return [self.config.start + dt.timedelta(days=d) for d in range(7 * self.config.weeks)]


# --- Cases -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """A planted behaviour: who it is, what it does, and how its activity is built."""

    name: str
    kind: str
    description: str
    build: Callable[[Plan], None]
    tools: tuple[str, ...] = (CLAUDE, CURSOR, GATEWAY)
    """Tools the case may be given as the person's main one (prompt-text cases need Claude Code)."""


class Plan:
    """One person's activity under construction: their random stream, days, and the builders cases use."""

    def __init__(self, person: Person, config: AdversaryConfig, rng: random.Random) -> None:
        self.person = person
        self.config = config
        self.rng = rng
        self.activity = Activity(person)
        self.dates = [config.start + dt.timedelta(days=d) for d in range(7 * config.weeks)]
        self._last_end: dict[str, dt.datetime] = {}
        self.turns = person.tool_turns
        """Mean tool turns per exchange of the person's own sessions (a case may change it)."""
        self.habits: dict[str, Any] = {}
        """Changes to the person's conversation style in their own sessions (a stuffer's prefix)."""

    # Time -------------------------------------------------------------------------------------------

    def zone_on(self, date: dt.date) -> ZoneInfo:
        """The zone the person is in on ``date`` (the traveller moves)."""
        if self.person.case == "traveller" and date >= self.dates[len(self.dates) // 2 - 1]:
            return ZoneInfo("Europe/Berlin")
        return self.person.tzinfo

    def at(self, date: dt.date, hour: float) -> dt.datetime:
        """Local ``date`` + ``hour`` (may exceed 24) in UTC."""
        local = dt.datetime.combine(date, dt.time()) + dt.timedelta(hours=hour)
        return local.replace(tzinfo=self.zone_on(date)).astimezone(UTC)

    def workdays(self) -> Iterator[dt.date]:
        """Dates the person works: weekdays after joining, outside vacation, on their schedule."""
        rng = self.rng
        vacation: set[dt.date] = set()
        if self.person.kind == HONEST and len(self.dates) > 14 and rng.random() < 0.35:
            first = rng.randrange(len(self.dates) - 7)
            vacation = set(self.dates[first : first + rng.choice((3, 5, 7))])
        days = {2, 3, 4} if self.person.case == "part_timer" else {0, 1, 2, 3, 4}
        for index, date in enumerate(self.dates):
            if index >= self.person.first_day and date.weekday() in days and date not in vacation:
                if self.person.case == "traveller" and index == len(self.dates) // 2 - 2:
                    continue  # the flight
                yield date

    def free_windows(self, date: dt.date) -> list[tuple[float, float]]:
        """Local hours free for work on a working day: the day minus lunch and meetings."""
        rng = self.rng
        start = self.person.start_hour + rng.gauss(0, 0.3)
        end = start + 8.6 + rng.gauss(0, 0.6)
        lunch = 12.0 + rng.uniform(-0.5, 1.0)
        busy = [(lunch, lunch + rng.choice((0.5, 0.75, 1.0)))]
        for _ in range(min(4, int(rng.expovariate(1 / 1.8)))):
            at = round(rng.uniform(start, end - 1) * 2) / 2
            busy.append((at, at + rng.choice((0.5, 0.5, 1.0))))
        windows, cursor = [], start
        for begin, finish in sorted(busy):
            if begin > cursor:
                windows.append((cursor, min(begin, end)))
            cursor = max(cursor, finish)
        if cursor < end:
            windows.append((cursor, end))
        return [(a, b) for a, b in windows if b - a > 0.1]

    # Sessions ---------------------------------------------------------------------------------------

    def style(self, **changes: Any) -> Style:
        """The person's conversation style, with a case's changes."""
        base = Style(
            system_tokens=14_000 + self.person.rules_tokens + self.rng.randint(0, 400),
            tool_result_median=self.person.tool_result,
        )
        return dataclasses.replace(base, **{**self.habits, **changes})

    def session(
        self,
        start: dt.datetime,
        opener: str,
        exchanges: int,
        turns_mean: float,
        style: Style,
        tool: str | None = None,
        headless: bool = False,
        next_prompt: Callable[[random.Random], str] = prompts.follow_up,
        pause_seconds: Callable[[], float] | None = None,
    ) -> Session:
        """Run one conversation from ``start`` and record it."""
        tool = tool or self.person.tool
        session_id = _uuid(self.rng)
        model = MODELS[tool]
        if tool == CLAUDE and self.rng.random() < 0.12:
            model = "claude-opus-4-1-20250805"
        session = Session(session_id, tool, model, f"/home/{self.person.login}/src/{self.person.team}", headless)
        last = self._last_end.get(tool)
        warm = last is not None and dt.timedelta(0) <= start - last < CACHE_TTL
        talk = Conversation(self.rng, session, start, style, warm)
        for number in range(exchanges):
            if number:
                if pause_seconds is not None:
                    talk.clock += dt.timedelta(seconds=pause_seconds())
                elif headless:
                    talk.clock += dt.timedelta(seconds=lognormal(self.rng, 3.0, 0.5))
                else:
                    talk.think()
            talk.exchange(opener if number == 0 else next_prompt(self.rng), geometric(self.rng, turns_mean))
        self.activity.sessions.append(session)
        self._last_end[tool] = max(session.end, last or session.end)
        return session

    def honest_day(self, date: dt.date, load: float = 1.0, opener: Callable[[], str] | None = None) -> None:
        """A working day of ordinary sessions, laid into the free windows with human gaps."""
        rng, person = self.rng, self.person
        per_day = person.sessions_per_day * load * self.config.activity
        if per_day <= 0:
            return
        gap_median = max(4.0, 400.0 / per_day - 6.0)
        for begin, end in self.free_windows(date):
            hour = begin + rng.uniform(0, 0.25)
            while hour < end:
                text = opener() if opener else prompts.honest_prompt(rng)
                session = self.session(self.at(date, hour), text, geometric(rng, 2.2), self.turns, self.style())
                hour += (session.end - session.requests[0].at).total_seconds() / 3600
                hour += lognormal(rng, gap_median, 0.9) / 60
        if rng.random() < 0.1:  # an evening session now and then
            self.session(self.at(date, rng.uniform(20, 22.5)), prompts.honest_prompt(rng), 1, 4, self.style())

    def honest_weeks(
        self, week_load: Callable[[int], float] | None = None, opener: Callable[[], str] | None = None
    ) -> None:
        """All the person's working days (``week_load`` scales a week's sessions), plus the odd weekend session."""
        working = set(self.workdays())
        for index, date in enumerate(self.dates):
            if date in working:
                self.honest_day(date, week_load(index // 7) if week_load else 1.0, opener)
            elif date.weekday() >= 5 and index >= self.person.first_day and self.rng.random() < 0.06:
                start = self.at(date, self.rng.uniform(10, 17))
                self.session(start, prompts.honest_prompt(self.rng), 1, self.turns, self.style())

    def loop(
        self,
        hours: tuple[float, float],
        gap_minutes: Callable[[], float],
        opener: Callable[[], str],
        style: Style,
        turns_mean: float = 5.0,
        every_day: bool = False,
        tool: str | None = None,
        dates: list[dt.date] | None = None,
    ) -> None:
        """A headless loop: one scripted session per tick, ticks ``gap_minutes`` apart, inside ``hours``."""
        for date in dates or self.dates:
            if not every_day and date.weekday() >= 5:
                continue
            minutes = hours[0] * 60 + self.rng.uniform(0, gap_minutes())
            while minutes < hours[1] * 60:
                self.session(self.at(date, minutes / 60), opener(), 1, turns_mean, style, tool=tool, headless=True)
                minutes += gap_minutes()

    def tokens(self, tool: str | None = None) -> int:
        """Tokens of the sessions so far (on ``tool``, or all)."""
        return sum(r.total for s in self.activity.sessions if tool is None or s.tool == tool for r in s.requests)


def _uuid(rng: random.Random) -> str:
    """A UUID4-shaped id from the person's stream (deterministic)."""
    digits = f"{rng.getrandbits(128):032x}"
    return f"{digits[:8]}-{digits[8:12]}-4{digits[13:16]}-a{digits[17:20]}-{digits[20:]}"


def generate(config: AdversaryConfig) -> Organisation:
    """The whole organisation for ``config``: roster, activity per person, outcomes."""
    from tokenaudit.adversary.cases import CASES, roster
    from tokenaudit.adversary.outcomes import add_outcomes

    people = roster(config)
    activities = []
    for person in people:
        rng = random.Random(f"{config.seed}:activity:{person.index}")
        plan = Plan(person, config, rng)
        CASES[person.case].build(plan)
        plan.activity.sessions.sort(key=lambda s: (s.requests[0].at, s.session_id))
        activities.append(plan.activity)
    add_outcomes(activities, people, config)
    return Organisation(config=config, activities=activities)
