"""Policy models for the ``flags:`` section: one block per detector, every default documented.

Defaults follow the method study (``shared/goodhart-methods.md`` §3), calibrated on the simulator's
honest population; the README lists where and why they depart from it.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Severity = Literal["low", "medium", "high"]
Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
Positive = Annotated[float, Field(gt=0)]
Share = Annotated[float, Field(ge=0, le=1)]


class Leaderboard(BaseModel):
    """When the organisation's token leaderboard was launched and when it takes snapshots."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    snapshot_weekday: Weekday | None = None
    snapshot_time: str = "00:00"
    launched: dt.date | None = None

    @field_validator("snapshot_time", mode="before")
    @classmethod
    def _hh_mm(cls, value: object) -> object:
        # YAML 1.1 reads an unquoted 17:00 as the base-60 integer 1020, so insist on a string.
        try:
            dt.time.fromisoformat(str(value)) if isinstance(value, str) else None
        except ValueError:
            value = None
        if not isinstance(value, str):
            msg = 'expected a quoted time of day such as "17:00"'
            raise ValueError(msg)
        return value


class _Block(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    max_severity: Severity = "high"
    """Cap this detector's severity (e.g. ``low`` to keep it as corroboration only)."""


class Bands(BaseModel):
    """Thresholds for low / medium / high, in the statistic's own direction."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    low: float
    medium: float
    high: float

    @model_validator(mode="after")
    def _monotone(self) -> Bands:
        ascending = self.low <= self.medium <= self.high
        descending = self.low >= self.medium >= self.high
        if not (ascending or descending):
            msg = "expected low, medium and high in order (all increasing or all decreasing)"
            raise ValueError(msg)
        return self


class VolumeOutlier(_Block):
    """S1: robust z of log10(total tokens) within the peer group."""

    z: Bands = Bands(low=3.5, medium=5.0, high=7.0)
    min_peers: int = 8
    min_active_days: int = 5


class MachineRegularity(_Block):
    """S2: session/episode starts too regular for a person."""

    local_variation: Bands = Bands(low=0.75, medium=0.6, high=0.45)
    """Shinomoto's local variation LV of consecutive gaps: 1 for random, above for bursty people, 0 for a clock."""
    steady_share: Bands = Bands(low=0.25, medium=0.3, high=0.45)
    """Share of consecutive gap pairs within 10% of each other."""
    burstiness: Bands = Bands(low=-0.3, medium=-0.5, high=-0.75)
    modal_share: Bands = Bands(low=0.3, medium=0.5, high=0.7)
    unambiguous_steady_share: Share = 0.8
    """A steady share this high over 3x ``min_intervals`` starts and 2x ``min_days`` days is an exact clock:
    high risk on its own (see the README's risk table)."""
    phase_lock: Share = 0.5
    """Minute-of-hour phase lock (mean resultant length) that alone gives at most medium."""
    min_intervals: int = 20
    min_days: int = 3
    break_factor: Positive = 4
    break_hours: Positive = 3
    """Gaps longer than ``break_hours`` and than ``break_factor`` times the median gap are breaks (nights,
    weekends): pairs of gaps across a break are left out of the local variation and the steady share."""
    episode_gap_seconds: Positive = 90
    min_sessions_for_session_series: int = 20


class HeadlessWork(_Block):
    """Headless sessions (no person's turn after the opener) spread over most hours of most days."""

    think_seconds: Positive = 10
    """A prompt turn after at least this much quiet is a person's (where the source marks prompt turns)."""
    pause_seconds: Positive = 60
    """Where it does not: any pause this long inside a session counts as a person's turn."""
    hours_per_day: Bands = Bands(low=4, medium=6, high=8)
    """Median hours of an active day holding headless requests."""
    token_share: Bands = Bands(low=0.4, medium=0.6, high=0.8)
    """Share of session tokens spent in headless sessions."""
    min_peer_ratio: Positive = 2.0
    min_sessions: int = 20
    min_days: int = 5


class PromptPace(_Block):
    """Turns (session openers and a person's prompts) in a typical active day, as a multiple of the peer median."""

    ratio: Bands = Bands(low=2.5, medium=3.5, high=5.0)
    """Turns a typical day over the peer median (heavy honest users on the simulator reach 2.5x)."""
    opener_ratio: Bands = Bands(low=2.5, medium=3.0, high=5.0)
    """Sessions opened a typical day over the peer median (honest people on both generators stay under 2.1x)."""
    min_turns: int = 40
    min_days: int = 5
    min_peers: int = 5


class DripFeed(_Block):
    """One session fed dozens of prompts that repeat one another, or come at a steadier pace than a person's."""

    day_share: Bands = Bands(low=0.2, medium=0.4, high=0.6)
    """Share of the developer's active days holding a fed session."""
    min_prompts: int = 20
    """Prompts after the opener (each after think time) that make a session fed, when they repeat or are steady."""
    repeat_share: Share = 0.5
    """Share of those prompts repeating one sent earlier in the session (exactly, or within a few signature bits)."""
    steady_spread: Positive = 0.5
    """Or: standard deviation of the log quiet before each prompt at most this (people's long sessions: 0.7 or more)."""
    min_sessions: int = 3
    min_days: int = 5


class NoRestRhythm(_Block):
    """S3: no daily rest period: share of activity in the developer's own quietest 8 hours."""

    quiet_share: Bands = Bands(low=0.08, medium=0.15, high=0.25)
    rest_hours: Bands = Bands(low=8, medium=7, high=5)
    """Longest run of (circularly) consecutive hours holding under ``quiet_hour_share`` of activity."""
    quiet_hour_share: Share = 0.01
    active_hours: Bands = Bands(low=14, medium=16, high=20)
    min_active_days: int = 10
    min_active_minutes: int = 200
    min_weeks: int = 3
    """With this many qualifying weeks the typical (median) week decides, so a bounded episode (an on-call
    week, a trip across time zones) does not; with fewer, the whole period does."""
    min_days_per_week: int = 3
    min_days_per_hour: int = 2
    """In a week, an hour of the clock ends the rest only with activity on at least this many days of it: one
    evening session or one on-call night is not a week without rest; an agent that runs every night is."""
    min_active_minutes_per_week: int = 60


class Repetition(_Block):
    """S4: sessions opened with a prompt (or an exact opening context) already used in an earlier session."""

    share: Bands = Bands(low=0.3, medium=0.45, high=0.6)
    min_peer_ratio: Positive = 3.0
    min_sessions: int = 30
    repeats_per_day: Bands = Bands(low=40, medium=80, high=150)
    """Prompt turns per active day that nearly repeat an earlier prompt (needs prompt signatures), counted
    when at least ``share.low`` of the developer's prompts are such repeats."""


class ContextStuffing(_Block):
    """S5: context re-read far above same-tool peers, on every tool, scored continuously."""

    score: Bands = Bands(low=2.5, medium=4.0, high=5.0)
    """z of log median context among same-tool peers, plus half the z of context per output token when above 0;
    medium and high need a loaded prefix (``static_prefix_factor``), else size alone gives at most low."""
    static_prefix_share: Bands = Bands(low=0.4, medium=0.6, high=0.8)
    """Share of sessions opening on the same cached prefix (within 5%), when that prefix is large."""
    static_prefix_factor: Positive = 3.0
    """A prefix is large at this many times the same-tool peers' median opening context; sessions that typically
    load that much more than peers' (their opening and any later intake as large; the lightest 5% of requests where
    a tool has no sessions) carry a loaded prefix."""
    own_step: Bands = Bands(low=3.0, medium=4.0, high=6.0)
    """Heaviest week's median context over the developer's typical week: at most low (a refactor week)."""
    min_requests_per_week: int = 50
    min_sessions: int = 20
    min_requests: int = 100
    min_peers: int = 5


class SnapshotSpike(_Block):
    """S6: usage concentrated in the window before leaderboard snapshots."""

    window_hours: Positive = 24
    lift: Bands = Bands(low=2.0, medium=3.0, high=5.0)
    min_share_medium: Share = 0.25
    min_share_high: Share = 0.4
    consistency: Share = 0.67
    min_snapshots: int = 3
    min_active_days: int = 5


class LaunchStep(_Block):
    """S7: a step up in daily tokens after the leaderboard launch, relative to peers."""

    window_days: int = 28
    """Days before and after the launch compared (only days inside the data count)."""
    relative_step: Bands = Bands(low=2.0, medium=3.0, high=5.0)
    cusum_k: Positive = 1.0
    cusum_h: Positive = 5.0
    alarm_within_days: int = 14
    min_active_days_each_side: int = 6


class LowYield(_Block):
    """S8: the optimistic (90th percentile) yield is still a small share of the typical yield."""

    share_of_median: Bands = Bands(low=0.5, medium=0.25, high=0.1)


class OutcomeGaming(_Block):
    """Merged PRs that are trivial (a few lines) or rushed (merged within the hour, unreviewed when the export
    says), as a share of the developer's merged PRs, against the peer median share."""

    share: Bands = Bands(low=0.25, medium=0.4, high=0.6)
    min_peer_ratio: float = 3.0
    """The share must also be at least this many times the peer median share."""
    trivial_lines: int = 5
    """A PR changing at most this many lines (additions + deletions) is trivial."""
    rushed_minutes: float = 60.0
    min_prs: int = 10
    """Fewer merged PRs than this (or fewer trivial or rushed ones): not evaluated / no flag."""


class RejectedWork(_Block):
    """S9: acceptance far below peers where the source reports accept/reject decisions."""

    z: Bands = Bands(low=-2.5, medium=-3.5, high=-5.0)
    min_decisions: int = 50


class UnexaminedUsage(_Block):
    """Share of tokens from hour or day aggregates (no detector of timing, sessions or prompts can read them)
    above the peer median share."""

    excess_share: Bands = Bands(low=0.2, medium=0.3, high=0.5)
    min_share_of_peer_median: Share = 0.25
    """And the unexamined tokens at least this share of the peer median's total (a light user's one API day
    is not worth a conversation)."""


class Flags(BaseModel):
    """The ``flags:`` section."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_request_tokens: int = Field(default=0, ge=0)
    """Requests below this many tokens are ignored by the detectors (auxiliary title/summary calls)."""
    ignore_models: list[str] = Field(default_factory=list)
    service_accounts: list[str] = Field(default_factory=list)
    """Developers (canonical ids) exempt from flags: triage bots, CI review actions under a personal key."""
    volume_outlier: VolumeOutlier = VolumeOutlier()
    machine_regularity: MachineRegularity = MachineRegularity()
    no_rest_rhythm: NoRestRhythm = NoRestRhythm()
    headless_work: HeadlessWork = HeadlessWork()
    prompt_pace: PromptPace = PromptPace()
    drip_feed: DripFeed = DripFeed()
    repetition: Repetition = Repetition()
    context_stuffing: ContextStuffing = ContextStuffing()
    snapshot_spike: SnapshotSpike = SnapshotSpike()
    launch_step: LaunchStep = LaunchStep()
    low_yield: LowYield = LowYield()
    outcome_gaming: OutcomeGaming = OutcomeGaming()
    rejected_work: RejectedWork = RejectedWork()
    unexamined_usage: UnexaminedUsage = UnexaminedUsage()
    lookback_days: int = Field(default=42, ge=1)
    """``report`` over a shorter period (a week) runs the detectors on this many days ending with it, so a flag
    that needs weeks of data is evaluated, not shown as cleared; totals and rankings stay the period's."""
    outcome_cap: Literal["off", "median", "p10"] = "p10"
    """With outcomes, cap risk at low when the developer's yield is at or above the typical yield: by its
    10th percentile (``p10``, default: 90% sure), or by its posterior ``median`` (lenient). Flags whose
    evidence outcomes cannot explain (machine clock, prompt farm, outcome gaming) are never capped."""
