"""The planted cases and the roster that places them.

Gamers read the README and every threshold in ``tokenaudit/detectors`` and ``ranking.py`` and stay just
under them, or put their tokens where a detector does not look. Each appears once per organisation, at
an intensity that alternates with the seed (so five seeds give both intensities of every case). Honest
edge cases are people whose real work looks unusual. Everyone else is ``ordinary``.
"""

from __future__ import annotations

import datetime as dt
import random

from tokenaudit.adversary import prompts
from tokenaudit.adversary.agent import lognormal
from tokenaudit.adversary.model import (
    CLAUDE,
    CURSOR,
    DUO_TEAM,
    EDGE,
    FIRST_NAMES,
    GAMER,
    GATEWAY,
    HONEST,
    LAST_NAMES,
    TEAMS,
    ZONES,
    AdversaryConfig,
    Case,
    DayUsage,
    Person,
    Plan,
)

LOW, HIGH = "low", "high"


def _high(plan: Plan) -> bool:
    return plan.person.intensity == HIGH


def _scripted(plan: Plan) -> str:
    """A naive loop's prompt: one of its script's three fixed texts."""
    return prompts.scripted_prompt(plan.rng, 3)


def _queued(plan: Plan) -> str:
    """A careful loop's prompt: the next task from a queue, worded like a person's (no repeated openers)."""
    return prompts.honest_prompt(plan.rng)


# --- Gamers ------------------------------------------------------------------------------------------


def cron_lognormal(plan: Plan) -> None:
    """A cron-started agent loop, gaps around 20 min with lognormal jitter (σ 0.5), beside own work."""
    plan.honest_weeks()
    hours = (7.0, 23.0) if _high(plan) else (8.5, 18.5)
    plan.loop(hours, lambda: lognormal(plan.rng, 20.0, 0.5), lambda: _queued(plan), plan.style(), every_day=_high(plan))


def cron_poisson(plan: Plan) -> None:
    """A loop started at Poisson times (exponential gaps: as random as a clock can be) all working day."""
    plan.honest_weeks()
    mean = 12.0 if _high(plan) else 20.0
    plan.loop((8.0, 19.0), lambda: plan.rng.expovariate(1 / mean), lambda: _queued(plan), plan.style())


def cron_exact(plan: Plan) -> None:
    """An exact 20-minute cron, interleaved with the person's own sessions (which split its gaps)."""
    plan.honest_weeks()
    hours = (7.0, 23.0) if _high(plan) else (9.0, 18.0)
    plan.loop(
        hours,
        lambda: 20.0 + plan.rng.uniform(-0.05, 0.05),
        lambda: _scripted(plan),
        plan.style(),
        every_day=_high(plan),
    )


def stuffing_under_floor(plan: Plan) -> None:
    """A large static prefix in every session, holding the median context just under 100k."""
    target = 93_000 if _high(plan) else 85_000  # the median context the stuffer aims at, after session growth
    prefix = target - 14_000 - plan.person.rules_tokens - 12_000
    plan.habits = {"static_prefix": max(prefix, 20_000), "output_median": 110.0, "answer_median": 300.0}
    plan.honest_weeks()


def stuffing_padded(plan: Plan) -> None:
    """Context far above the floor, with output padded so context per output stays near 190 (< 200)."""
    plan.habits = {"static_prefix": 135_000 if _high(plan) else 95_000, "context_per_output": 190.0}
    plan.honest_weeks()


def paraphrased_prompts(plan: Plan) -> None:
    """The same task re-run in fresh sessions all day, each opener a new paraphrase (no two hashes equal)."""
    plan.honest_weeks()
    median = 4.0 if _high(plan) else 8.0
    plan.loop(
        (9.0, 18.0),
        lambda: lognormal(plan.rng, median, 0.6),
        lambda: prompts.paraphrase(plan.rng),
        plan.style(),
        turns_mean=3.0,
    )


def night_agent(plan: Plan) -> None:
    """An agent keeping a human-shaped night shift (with a break), and no daytime use of the person's own."""
    start, end = (22.0, 30.5) if _high(plan) else (23.0, 29.0)
    middle = (start + end) / 2
    nights = [d for d in plan.dates if d.weekday() < 5 and plan.rng.random() < 0.9]
    for hours in ((start, middle), (middle + 0.75, end)):
        plan.loop(
            hours,
            lambda: lognormal(plan.rng, 9.0, 1.0),
            lambda: prompts.honest_prompt(plan.rng),
            plan.style(),
            turns_mean=plan.turns,
            dates=nights,
        )


def day_grain_routing(plan: Plan) -> None:
    """40–50% of the person's usage through an API key that only a day-grain usage report shows."""
    plan.honest_weeks()
    share = 0.5 if _high(plan) else 0.4
    by_day: dict[dt.date, int] = {}
    for session in plan.activity.sessions:
        for request in session.requests:
            by_day[request.at.date()] = by_day.get(request.at.date(), 0) + request.total
    for day in sorted(by_day):
        total = int(by_day[day] * share / (1 - share) * lognormal(plan.rng, 1.0, 0.15))
        write, output, uncached = total * 8 // 100, total * 3 // 100, total // 100
        plan.activity.day_usage.append(
            DayUsage(day, "claude-sonnet-4-5-20250929", uncached, output, total - write - output - uncached, write)
        )


def stuffing_second_tool(plan: Plan) -> None:
    """Honest work on Claude Code; stuffed context on Cursor, kept below the main tool's volume."""
    plan.honest_weeks()
    main = plan.tokens(CLAUDE)
    style = plan.style(static_prefix=120_000, output_median=60.0, answer_median=90.0)
    plan.loop(
        (9.0, 18.0),
        lambda: lognormal(plan.rng, 12.0, 0.8),
        lambda: prompts.honest_prompt(plan.rng),
        style,
        turns_mean=4.0,
        tool=CURSOR,
    )
    budget = int(main * (0.9 if _high(plan) else 0.6))
    stuffed = [s for s in plan.activity.sessions if s.tool == CURSOR]
    plan.rng.shuffle(stuffed)
    spent, dropped = 0, set()
    for session in stuffed:
        tokens = sum(r.total for r in session.requests)
        if spent + tokens > budget:
            dropped.add(session.session_id)
        else:
            spent += tokens
    plan.activity.sessions = [s for s in plan.activity.sessions if s.session_id not in dropped]


def outcome_farmer(plan: Plan) -> None:
    """A jittered cron loop for tokens, plus a stream of trivial one-line PRs for outcomes (see outcomes)."""
    plan.honest_weeks()
    plan.loop((8.5, 18.5), lambda: lognormal(plan.rng, 20.0, 0.5), lambda: _queued(plan), plan.style())


def verbose_inflator(plan: Plan) -> None:
    """Ordinary outcomes, human timing, 2–6x tokens: the agent told to explore exhaustively every time."""
    plan.turns *= 2.0 if _high(plan) else 1.4
    plan.habits = {"tool_result_median": plan.person.tool_result * 1.2}
    plan.honest_weeks()


def continue_drip(plan: Plan) -> None:
    """One long session a day kept spending by near-identical 'continue' prompts at jittered intervals."""
    plan.honest_weeks()
    median = 6.0 if _high(plan) else 12.0
    for date in plan.workdays():
        plan.session(
            plan.at(date, 9.5 + plan.rng.uniform(0, 0.5)),
            "Work through the backlog in TODO.md one item at a time",
            int(8 * 60 / median),
            1.5,
            plan.style(),
            headless=True,
            next_prompt=prompts.keep_going,
            pause_seconds=lambda: 60 * lognormal(plan.rng, median, 0.4),
        )


def mimic_loop(plan: Plan) -> None:
    """A script that imitates its owner: varied prompts, follow-ups after human think times, Poisson starts
    inside the working day's free windows (lunch and meetings respected), every session interactive-looking."""
    plan.honest_weeks()
    mean = 15.0 if _high(plan) else 30.0
    for date in plan.workdays():
        for begin, end in plan.free_windows(date):
            hour = begin + plan.rng.expovariate(60 / mean)
            while hour < end:
                plan.session(
                    plan.at(date, hour),
                    prompts.honest_prompt(plan.rng),
                    1 + int(plan.rng.expovariate(1 / 1.2)),
                    plan.turns,
                    plan.style(),
                    headless=True,
                    pause_seconds=lambda: 8.0 + min(lognormal(plan.rng, 75.0, 1.0), 1500.0),
                )
                hour += plan.rng.expovariate(60 / mean)


# --- Honest edge cases -------------------------------------------------------------------------------


def ordinary(plan: Plan) -> None:
    """An ordinary developer."""
    plan.honest_weeks()


def on_call(plan: Plan) -> None:
    """Normal days, and nights of pages in two weeks of six (one in shorter periods)."""
    plan.honest_weeks()
    weeks = (1, 4) if plan.config.weeks >= 5 else (1,)
    for week in weeks:
        for date in plan.dates[7 * week : 7 * week + 7]:
            for _ in range(plan.rng.randint(1, 3)):
                start = plan.at(date, plan.rng.uniform(22.0, 30.0))
                plan.session(start, prompts.incident_prompt(plan.rng), 3, 5.0, plan.style())


def refactor_week(plan: Plan) -> None:
    """A week of heavy refactoring (three times the sessions); the period's outcome is three huge PRs."""
    plan.honest_weeks(week_load=lambda week: 3.0 if week == 2 else 1.0)


def templated_review(plan: Plan) -> None:
    """Half the sessions open with the team's /review command on a PR number."""
    plan.honest_weeks(
        opener=lambda: (
            prompts.review_command(plan.rng.randint(1000, 1999))
            if plan.rng.random() < 0.5
            else prompts.honest_prompt(plan.rng)
        )
    )


_CASES = (
    Case("cron_lognormal", GAMER, "cron loop, lognormal jitter around 20 min", cron_lognormal),
    Case("cron_poisson", GAMER, "loop at Poisson times all working day", cron_poisson),
    Case("cron_exact", GAMER, "exact 20-min cron interleaved with own sessions", cron_exact),
    Case("stuffing_under_floor", GAMER, "median context held just under 100k", stuffing_under_floor),
    Case("stuffing_padded", GAMER, "context above the floor, output padded to ratio 190", stuffing_padded),
    Case("paraphrased_prompts", GAMER, "same task re-run with paraphrased openers", paraphrased_prompts, (CLAUDE,)),
    Case("night_agent", GAMER, "agent on a human-shaped night shift, no day use", night_agent),
    Case("day_grain_routing", GAMER, "40-50% of usage via a day-grain API key", day_grain_routing, (CLAUDE,)),
    Case("stuffing_second_tool", GAMER, "stuffing on a second tool (Cursor)", stuffing_second_tool, (CLAUDE,)),
    Case("outcome_farmer", GAMER, "cron loop plus 40-60 one-line PRs", outcome_farmer),
    Case("verbose_inflator", GAMER, "ordinary outcomes, 2-6x tokens, human timing", verbose_inflator),
    Case("continue_drip", GAMER, "long session fed 'continue' prompts", continue_drip, (CLAUDE,)),
    Case("mimic_loop", GAMER, "script imitating its owner: think times, follow-ups, Poisson starts", mimic_loop),
    Case("on_call", EDGE, "nights of pages in 2 weeks of 6", on_call),
    Case("traveller", EDGE, "Los Angeles to Berlin mid-period", ordinary, (CLAUDE,)),
    Case("heavy_agent_user", EDGE, "heavy honest agent user with strong outcomes", ordinary),
    Case("part_timer", EDGE, "works Wednesday to Friday", ordinary),
    Case("new_joiner", EDGE, "starts in the second half of the period", ordinary),
    Case("refactor_week", EDGE, "a refactor week, three huge PRs", refactor_week),
    Case("templated_review", EDGE, "/review command openers", templated_review, (CLAUDE,)),
    Case("two_person_team", EDGE, "one of a two-person team", ordinary),
    Case("ordinary", HONEST, "ordinary developer", ordinary),
)
CASES = {case.name: case for case in _CASES}
GAMER_CASES = tuple(case.name for case in _CASES if case.kind == GAMER)
EDGE_CASES = tuple(case.name for case in _CASES if case.kind == EDGE)


def roster(config: AdversaryConfig) -> list[Person]:
    """Everyone, with a case each: every gamer and edge case once (the duo twice), the rest ordinary."""
    planted = [*GAMER_CASES, *EDGE_CASES, "two_person_team"]
    if config.developers < len(planted) + 8:
        msg = f"an adversarial organisation needs at least {len(planted) + 8} developers"
        raise ValueError(msg)
    rng = random.Random(f"{config.seed}:roster")
    cases = planted + ["ordinary"] * (config.developers - len(planted))
    rng.shuffle(cases)
    names = rng.sample([(f, last) for f in FIRST_NAMES for last in LAST_NAMES], config.developers)
    team_zone = {team: rng.choice(ZONES) for team in TEAMS}
    people = []
    for index, case_name in enumerate(cases):
        case = CASES[case_name]
        first, last = names[index]
        team = DUO_TEAM if case_name == "two_person_team" else TEAMS[index % len(TEAMS)]
        zone = team_zone.get(team, "Europe/London") if rng.random() < 0.7 else rng.choice(ZONES)
        if case_name == "traveller":
            zone = "America/Los_Angeles"
        tool = rng.choices((CLAUDE, CURSOR, GATEWAY), weights=(0.65, 0.2, 0.15))[0]
        if tool not in case.tools:
            tool = case.tools[0]
        sessions, turns, result = lognormal(rng, 4.0, 0.35), lognormal(rng, 4.5, 0.3), lognormal(rng, 1000, 0.35)
        productivity = ((sessions / 4.0) * (turns / 4.5) ** 1.3 * (result / 1000) ** 0.6) ** 0.3 * lognormal(
            rng, 1, 0.25
        )
        if case_name == "heavy_agent_user":
            sessions, turns, productivity = sessions * 1.8, turns * 2.0, productivity * 3.0
        gamer_number = GAMER_CASES.index(case_name) if case.kind == GAMER else 0
        people.append(
            Person(
                index=index,
                email=f"{first}.{last}@adv.example",
                login=f"{first}-{last}",
                name=f"{first.title()} {last.title()}",
                api_key=f"apikey_{rng.getrandbits(40):010x}",
                team=team,
                zone=zone,
                tool=tool,
                case=case_name,
                kind=case.kind,
                intensity=(LOW if (config.seed + gamer_number) % 2 == 0 else HIGH) if case.kind == GAMER else "",
                sessions_per_day=sessions,
                tool_turns=turns,
                tool_result=result,
                rules_tokens=int(min(lognormal(rng, 5_000, 0.9), 45_000)),
                start_hour=rng.uniform(7.5, 10.0),
                productivity=productivity,
                fte=0.6 if case_name == "part_timer" else 1.0,
                first_day=7 * (config.weeks // 2) if case_name == "new_joiner" else 0,
            )
        )
    return people
