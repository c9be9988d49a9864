"""Per-developer behaviour: working rhythm, prompt processes and work times."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np

from tokenaudit.simulate.config import (
    ARCHETYPES,
    F64,
    I64,
    SHARED_TEMPLATES,
    WARM_UP,
    WEEKDAY_FACTOR,
    WEEKEND_ACTIVE,
    Strs,
)
from tokenaudit.simulate.organisation import Calendar, Person


@dataclass(frozen=True)
class Dev:
    """One developer's honest habits: calendar, daily profile, gap family and token sizes."""

    person: Person
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


def hash_of(text: str) -> str:
    """Stable 16-hex prompt hash of a text, the same for everyone who sends it."""
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def build_dev(rng: np.random.Generator, person: Person, cal: Calendar) -> Dev:
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
    return Dev(
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
            [hash_of(t) for t in SHARED_TEMPLATES] + [hash_of(f"{person.developer}:template:{j}") for j in range(3)]
        ),
    )


def _unit_gaps(rng: np.random.Generator, family: str, shape: float, size: tuple[int, int]) -> F64:
    """Heavy-tailed gaps with mean 1, from the developer's own family so no detector inverts one generator."""
    if family == "lognormal":
        return rng.lognormal(-(shape**2) / 2, shape, size)
    if family == "pareto":  # numpy's pareto is Lomax with scale 1 and mean 1/(shape - 1)
        return rng.pareto(shape, size) * (shape - 1)
    return rng.weibull(shape, size) / math.gamma(1 + 1 / shape)


def prompt_times(rng: np.random.Generator, dev: Dev, day_rate: F64) -> F64:
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


def work_times(rng: np.random.Generator, dev: Dev, n: int, cal: Calendar) -> F64:
    """``n`` moments inside the period on the developer's active days, at their usual hours."""
    weight = dev.day_rate[1:-1] + 1e-9 * (dev.weekday[1:-1] < 5)
    day = 1 + rng.choice(weight.size, size=n, p=weight / weight.sum())
    moment = dev.midnight[day] + 3_600 * np.interp(rng.random(n), dev.cdf, dev.hours)
    return np.clip(moment, cal.start, cal.end - 1)
