"""Assembly: the whole organisation from a configuration, with events, labels and ground truth."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np
import polars as pl

from tokenaudit.schema import TOKEN_COLUMNS
from tokenaudit.simulate.accounting import Requests, random_hex, uuid4
from tokenaudit.simulate.behaviour import build_dev
from tokenaudit.simulate.config import F64, MODELS, TOOLS, SimulatedOrg, SimulationConfig
from tokenaudit.simulate.gaming import Usage, developer_usage
from tokenaudit.simulate.organisation import Calendar, Person, draw_people
from tokenaudit.simulate.outcomes import (
    PR,
    Ticket,
    Truth,
    dependabot_prs,
    developer_outcomes,
    draw_truth,
    jira_frame,
    prs_frame,
    utc,
)


def simulate(config: SimulationConfig) -> SimulatedOrg:
    """Generate the organisation for ``config``: deterministic per seed, vectorised per developer."""
    org_seq, dev_seq = np.random.SeedSequence(config.seed).spawn(2)
    org_rng = np.random.default_rng(org_seq)
    people = draw_people(org_rng, config)
    cal = Calendar.of(org_rng, config, [p.team for p in people])
    team_factor = {team: org_rng.lognormal(0.0, 0.25) for team in dict.fromkeys(p.team for p in people)}

    streams = [[np.random.default_rng(s) for s in seq.spawn(3)] for seq in dev_seq.spawn(len(people))]
    devs = [build_dev(base, person, cal) for person, (base, _, _) in zip(people, streams, strict=True)]
    usage = [developer_usage(base, game, dev, cal) for dev, (base, game, _) in zip(devs, streams, strict=True)]

    baseline = np.array([u.baseline_eff for u in usage]) / 1e6
    median_exposure = float(np.median(baseline[baseline > 0]))
    truths = [
        draw_truth(out, dev, cal, max(b, 1e-3) / median_exposure, team_factor[dev.person.team])
        for dev, b, (_, _, out) in zip(devs, baseline, streams, strict=True)
    ]
    prs: list[PR] = []
    tickets: list[Ticket] = []
    for dev, truth, (_, _, out) in zip(devs, truths, streams, strict=True):
        mates = [p.idx for p in people if p.team == dev.person.team and p.idx != dev.person.idx] or [dev.person.idx]
        dev_prs, dev_tickets = developer_outcomes(out, dev, cal, truth, mates)
        prs += dev_prs
        tickets += dev_tickets
    prs += dependabot_prs(org_rng, list(team_factor), cal)

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
        prs=prs_frame(prs, people, org_rng),
        jira=jira_frame(tickets),
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


def _variant_name(person: Person) -> str:
    """Which variant of its style a gamer plays (section 7 asks for a subtle and an obvious cron loop)."""
    names = {"cron_loop": ("24/7", "office_hours"), "context_stuffing": ("cache_read", "uncached")}
    return names[person.style][person.variant % 2] if person.style in names else ""


def _events_frames(
    rng: np.random.Generator, people: Sequence[Person], usage: Sequence[Usage]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The canonical events frame (the exact events.csv columns) and the planted request ids."""
    merged = Requests.concat([u.requests for u in usage])
    owner = np.repeat(np.arange(len(usage)), [len(u.requests) for u in usage])
    injected = np.concatenate([u.injected for u in usage])
    request_id = np.char.add("req_", random_hex(rng, len(merged), 12))
    session_id = uuid4(rng, int(merged.session.max()) + 1 if len(merged) else 0)
    events = pl.DataFrame(
        {
            "timestamp": utc(merged.t),
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


def _labels_frame(people: Sequence[Person], truths: Sequence[Truth], effective: F64) -> pl.DataFrame:
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
