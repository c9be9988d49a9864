"""Planted gaming styles: each returns the requests added on top of (or replacing) the honest baseline."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np

from tokenaudit.simulate.accounting import Requests, empty_requests, human_requests, night_runs, template_runs
from tokenaudit.simulate.behaviour import Dev, prompt_times
from tokenaudit.simulate.config import F64, STUFFED_CONTEXT, Bools
from tokenaudit.simulate.organisation import Calendar


def _cron_loop(rng: np.random.Generator, dev: Dev, cal: Calendar, budget: float) -> Requests:
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
    return template_runs(rng, dev, ticks, int(rng.integers(2, 4)), "cron").scaled_to(budget)


def _overnight_agent(rng: np.random.Generator, dev: Dev, cal: Calendar, budget: float) -> Requests:
    """Agent runs on most nights after launch, next to normal daytime use."""
    nights = (dev.midnight >= cal.launch - 86_400) & (rng.random(dev.midnight.size) < 0.85)
    return night_runs(rng, dev, nights, budget)


def _duplicate_prompts(rng: np.random.Generator, dev: Dev, cal: Calendar, budget: float) -> Requests:
    """A few prompts resubmitted in fresh sessions at the developer's usual, human-like times."""
    starts = prompt_times(rng, dev, _gaming_rate(dev, cal, budget / _mean_prompt_tokens(dev)))
    return template_runs(rng, dev, starts, int(rng.integers(3, 6)), "dup").scaled_to(budget)


def _context_stuffing(rng: np.random.Generator, dev: Dev, cal: Calendar, target: float) -> Requests:
    """Normal timing, but every request re-sends 150-190k tokens of context for a tiny answer.

    Replaces the post-launch baseline: ``target`` is the total the stuffed requests should reach. Even
    variants re-read from the cache, odd ones send the context uncached. The stuffed sizes cannot be
    rescaled, so bursts are oversampled and a random subset of them is kept up to the target.
    """
    rate = _gaming_rate(dev, cal, 1.5 * target / (4 * sum(STUFFED_CONTEXT) / 2))  # bursts average 4 requests
    shaped = human_requests(rng, dev, prompt_times(rng, dev, rate))
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
    stuffed = Requests(shaped.t, shaped.session, shaped.prompt, shaped.model, shaped.tool, tokens.astype(np.int64))
    return stuffed.select(kept)


def _snapshot_spike(rng: np.random.Generator, dev: Dev, cal: Calendar, budget: float) -> Requests:
    """A burst of sessions in the 24 h before each post-launch leaderboard snapshot."""
    snapshots = cal.snapshots[cal.snapshots - 86_400 >= cal.launch]
    if snapshots.size == 0:
        return empty_requests()
    per_window = max(3, round(budget / snapshots.size / _mean_prompt_tokens(dev)))
    owner = np.repeat(np.arange(snapshots.size), per_window)
    prompts = np.sort(snapshots[owner] - 86_400 * rng.random(owner.size))
    return human_requests(rng, dev, prompts).scaled_to(budget)


def _launch_ramp(rng: np.random.Generator, dev: Dev, cal: Calendar, budget: float) -> Requests:
    """More of the same honest-looking use after launch: a step in volume with flat outcomes."""
    rate = _gaming_rate(dev, cal, budget / _mean_prompt_tokens(dev))
    return human_requests(rng, dev, prompt_times(rng, dev, rate)).scaled_to(budget)


def _gaming_rate(dev: Dev, cal: Calendar, prompts: float) -> F64:
    """Day rates for ``prompts`` human-timed gaming prompts after launch, shaped like the developer's days.

    A developer with no active day left after launch (a holiday in a short period) games on workdays.
    """
    day = np.arange(dev.day_rate.size)
    after = (day >= cal.launch_day) & (day < day.size - 1)  # local days of the period since launch
    shape = dev.day_rate * after
    if shape.sum() == 0:
        shape = ((dev.weekday < 5) & after).astype(np.float64)
    return shape * (prompts / float(shape.sum()))


def _mean_prompt_tokens(dev: Dev) -> float:
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
class Usage:
    """What one developer sent, their honest baseline and which requests were planted."""

    requests: Requests
    injected: Bools
    baseline_eff: float


def developer_usage(base_rng: np.random.Generator, game_rng: np.random.Generator, dev: Dev, cal: Calendar) -> Usage:
    person = dev.person
    baseline = human_requests(base_rng, dev, prompt_times(base_rng, dev, dev.day_rate))
    if person.archetype == "background_agent":
        weeknights = (np.isin(dev.weekday, [0, 1, 2, 3, 6])) & (base_rng.random(dev.weekday.size) < 0.7)
        agent = night_runs(base_rng, dev, weeknights, base_rng.uniform(0.8, 1.5) * baseline.total)
        baseline = Requests.concat([baseline, agent])
    baseline = baseline.select((baseline.t >= cal.start) & (baseline.t < cal.end))
    if not person.style:
        return Usage(baseline, np.zeros(len(baseline), bool), baseline.effective)
    # Gaming volume follows the developer's typical day, not the realised post-launch baseline: a gamer
    # whose holiday starts at launch still games, and their loop does not take the holiday.
    typical = baseline.total * (cal.end - cal.launch) / (cal.end - cal.start)
    if person.style == "context_stuffing":
        kept = baseline.select(baseline.t < cal.launch)
        extra = _context_stuffing(game_rng, dev, cal, person.intensity * typical)
    else:
        kept = baseline
        budget = (person.intensity - 1) * typical
        extra = _GAMING[person.style](game_rng, dev, cal, budget) if budget > 0 else empty_requests()
    extra = extra.select((extra.t >= cal.start) & (extra.t < cal.end))
    return Usage(
        Requests.concat([kept, extra]),
        np.r_[np.zeros(len(kept), bool), np.ones(len(extra), bool)],
        baseline.effective,
    )
