"""Time present: tenure from activity or the policy, part-time schedules, and ranking on the time there."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from tokenaudit.errors import InputError, PolicyError
from tokenaudit.identity import read_identity_csv
from tokenaudit.policy import Identity, OnCall, parse_policy
from tokenaudit.presence import declared_on_call, declared_presence, presence
from tokenaudit.ranking import RankingConfig, rank_developers

FIRST = dt.date(2026, 3, 2)  # a Monday; six weeks to Sunday 12 April
LAST = dt.date(2026, 4, 12)


def _days(developer: str, days: list[dt.date]) -> pl.DataFrame:
    return pl.DataFrame(
        {"developer": [developer] * len(days), "day": days}, schema={"developer": pl.String, "day": pl.Date}
    )


def _weekdays(start: dt.date = FIRST, weekdays: tuple[int, ...] = (0, 1, 2, 3, 4)) -> list[dt.date]:
    return [d for d in (start + dt.timedelta(n) for n in range((LAST - start).days + 1)) if d.weekday() in weekdays]


def _presence(
    frames: list[pl.DataFrame], identities: dict[str, Identity] | None = None
) -> dict[str, dict[str, object]]:
    identities = identities or {}
    result = presence(pl.concat(frames), FIRST, LAST, declared_presence(identities), declared_on_call(identities))
    return {row["developer"]: row for row in result.iter_rows(named=True)}


def test_tenure_and_schedule_come_from_activity() -> None:
    rng = np.random.default_rng(4)
    light = [d for d in _weekdays() if rng.random() < 0.3]
    rows = _presence(
        [
            _days("full", _weekdays()),
            _days("joiner", _weekdays(start=FIRST + dt.timedelta(days=21))),
            _days("part", _weekdays(weekdays=(2, 3, 4))),
            _days("quiet_first_week", _weekdays(start=FIRST + dt.timedelta(days=4))),
            _days("light", light),
        ]
    )
    assert rows["full"]["presence"] == 1.0
    # Joined on day 22 of 42: ranked on the 21 days there.
    assert rows["joiner"]["starts"] == dt.date(2026, 3, 23)
    assert rows["joiner"]["presence"] == pytest.approx(0.5)
    assert rows["joiner"]["tenure_basis"] == "activity"
    # Never on a Monday or Tuesday in six weeks while on 18 of 18 Wednesdays-Fridays: three days a week.
    assert rows["part"]["fte"] == pytest.approx(0.6)
    assert rows["part"]["fte_basis"] == "weekly schedule"
    # A first activity within a week of the start is a quiet week, not a late start.
    assert rows["quiet_first_week"]["presence"] == 1.0
    # Active on 30% of weekdays at random: silent weekdays are chance, not a schedule.
    assert len(light) < 15 and rows["light"]["presence"] == 1.0


def test_the_identity_map_overrides_what_activity_suggests() -> None:
    identities = {
        "part": Identity(fte=0.5),
        "joiner": Identity(starts=dt.date(2026, 3, 16), ends=dt.date(2026, 3, 29)),
    }
    rows = _presence([_days("part", _weekdays()), _days("joiner", _weekdays())], identities)
    assert rows["part"]["presence"] == pytest.approx(0.5)
    assert rows["part"]["fte_basis"] == "policy"
    assert rows["joiner"]["presence"] == pytest.approx(14 / 42)
    assert rows["joiner"]["tenure_basis"] == "policy"


def test_declared_on_call_days_inside_the_tenure_are_not_present() -> None:
    week = [OnCall(starts=dt.date(2026, 3, 9), ends=dt.date(2026, 3, 15))]
    identities = {
        # Two overlapping rotations: the days they share count once (10 days: 9-18 March).
        "paged": Identity(on_call=[*week, OnCall(starts=dt.date(2026, 3, 12), ends=dt.date(2026, 3, 18))]),
        # On call in week 2, but joined in week 4 (declared): the rotation is outside the tenure, nothing to take out.
        "joiner": Identity(starts=dt.date(2026, 3, 23), on_call=week),
        # Part-time (0.5) and on call for a week: the week comes out of the tenure, then the fraction applies.
        "half": Identity(fte=0.5, on_call=week),
    }
    rows = _presence([_days(name, _weekdays()) for name in (*identities, "full")], identities)
    assert (rows["paged"]["on_call_days"], rows["paged"]["presence"]) == (10, pytest.approx(32 / 42))
    assert (rows["joiner"]["on_call_days"], rows["joiner"]["presence"]) == (0, pytest.approx(21 / 42))
    assert (rows["half"]["on_call_days"], rows["half"]["presence"]) == (7, pytest.approx(35 / 42 * 0.5))
    assert (rows["full"]["on_call_days"], rows["full"]["presence"]) == (0, 1.0)


def test_an_on_call_rotation_that_ends_before_it_starts_is_a_policy_error(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("identities:\n  ana:\n    on_call:\n      - {starts: 2026-03-15, ends: 2026-03-09}\n")
    with pytest.raises(PolicyError, match=r"policy.yaml:4: .*ends \(2026-03-09\) is before starts \(2026-03-15\)"):
        parse_policy(policy.read_text(), str(policy))


def test_a_new_joiner_is_ranked_on_the_weeks_there_not_sunk_for_the_weeks_absent() -> None:
    """Twins at the same rate of tokens and outcomes per week; one was there half the period."""
    rng = np.random.default_rng(11)
    names = [f"dev{i:02d}" for i in range(40)]
    exposure = rng.uniform(5, 80, size=40)
    prs = rng.poisson(4.0 * exposure**0.3)
    developers = pl.DataFrame(
        {
            "developer": [*names, "twin", "joiner"],
            "team": "core",
            "exposure": [*exposure, 40.0, 20.0],
            "active_days": 20,
            "presence": [1.0] * 40 + [1.0, 0.5],
        }
    )
    outcomes = pl.DataFrame(
        {"developer": [*names, "twin", "joiner"], "kind": "merged_pr", "value": [*prs.astype(float), 12.0, 6.0]}
    )
    config = RankingConfig(min_exposure=0.1)
    fair = rank_developers(developers, outcomes, {"merged_pr": 1.0}, config).developers
    row = {r["developer"]: r for r in fair.iter_rows(named=True)}
    assert 0.1 < rank_developers(developers, outcomes, {"merged_pr": 1.0}, config).fit.elasticity < 0.6
    assert abs(row["joiner"]["rank_adjusted"] - row["twin"]["rank_adjusted"]) <= 3
    # Ignoring presence, the half-period joiner looks 2^(1-b) times worse and sinks.
    blind = rank_developers(developers.drop("presence"), outcomes, {"merged_pr": 1.0}, config).developers
    unfair = {r["developer"]: r for r in blind.iter_rows(named=True)}
    assert unfair["joiner"]["board_row"] - unfair["twin"]["board_row"] >= 8


def test_the_identities_csv_carries_starts_ends_and_fte(tmp_path: Path) -> None:
    good = tmp_path / "people.csv"
    good.write_text(
        "alias,developer,team,starts,fte\nana@x.com,ana,core,2026-03-16,0.6\nana-gh,ana,core,,\nbo@x,bo,web,,\n"
    )
    people = read_identity_csv(good)
    assert (people["ana"].starts, people["ana"].fte) == (dt.date(2026, 3, 16), 0.6)
    assert (people["bo"].starts, people["bo"].ends, people["bo"].fte) == (None, None, None)
    bad = tmp_path / "bad.csv"
    bad.write_text("alias,developer,fte\nana@x.com,ana,1\nbo@x,bo,60%\n")
    with pytest.raises(InputError, match=r"bad.csv:3: fte: expected a number in \(0, 1\], got '60%'"):
        read_identity_csv(bad)


def test_the_identities_csv_carries_on_call_rotations(tmp_path: Path) -> None:
    rota = tmp_path / "rota.csv"
    # Rotations on any of a developer's alias rows, several to a cell; the same one twice counts once.
    rota.write_text(
        "alias,developer,on_call\n"
        "ana@x.com,ana,2026-03-09..2026-03-15; 2026-04-06..2026-04-12\n"
        "ana-gh,ana,2026-03-09..2026-03-15\n"
        "bo@x,bo,\n"
    )
    people = read_identity_csv(rota)
    assert people["ana"].on_call == [
        OnCall(starts=dt.date(2026, 3, 9), ends=dt.date(2026, 3, 15)),
        OnCall(starts=dt.date(2026, 4, 6), ends=dt.date(2026, 4, 12)),
    ]
    assert people["bo"].on_call == []
    backwards = tmp_path / "backwards.csv"
    backwards.write_text("alias,developer,on_call\nana@x.com,ana,2026-03-15..2026-03-09\n")
    with pytest.raises(
        InputError, match=r"backwards.csv:2: on_call: expected rotations .*got '2026-03-15..2026-03-09'"
    ):
        read_identity_csv(backwards)
