"""Constants of the synthetic organisation, its configuration and the generated result."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Final, TypeVar

import numpy as np
import numpy.typing as npt
import polars as pl

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]
Strs = npt.NDArray[np.str_]
Num = TypeVar("Num", np.int64, np.float64)

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
