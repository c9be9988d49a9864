"""The adjusted board end to end (events and outcomes through run_audit and the JSON document): presence, the
farmed-outcome defence, tokens counted in full for flagged developers, and the exculpatory cap."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import numpy as np
import polars as pl

from tests.synthetic import START, events, human_offsets
from tokenaudit.audit import run_audit
from tokenaudit.documents import AuditData, Document, audit_document
from tokenaudit.ingest import DataQuality, LoadedEvents, Period
from tokenaudit.outcomes.read import OutcomeRead
from tokenaudit.outcomes.schema import conform_outcomes
from tokenaudit.policy import Identity, OnCall, Policy
from tokenaudit.ranking import RankingConfig
from tokenaudit.schema import empty_rejects

DAY = 86_400
WEEKS = 6
PERIOD = Period(since=START.date(), until=(START + dt.timedelta(days=7 * WEEKS - 1)).date())


def _prs(
    developer: str, days: list[int], lines: int = 120, minutes: float = 20 * 60, reviewed: bool = True
) -> list[dict[str, Any]]:
    """Merged PRs on the given period days (15:00 UTC), ``lines`` changed, opened ``minutes`` before merging."""
    merged = [START + dt.timedelta(days=day, hours=15) for day in days]
    return [
        {"developer": developer, "kind": "merged_pr", "timestamp": at, "count": 1, "size": float(lines),
         "opened": at - dt.timedelta(minutes=minutes), "reviewed": reviewed, "item": f"{developer}#{i}-{lines}"}
        for i, at in enumerate(merged)
    ]  # fmt: skip


def _weekly(developer: str, per_week: int, first_week: int = 0) -> list[dict[str, Any]]:
    """``per_week`` ordinary PRs every week from ``first_week`` (on weekdays)."""
    return _prs(developer, [7 * week + 1 + day % 4 for week in range(first_week, WEEKS) for day in range(per_week)])


def _document(frame: pl.DataFrame, rows: list[dict[str, Any]], policy: Policy | None = None) -> Document[AuditData]:
    loaded = LoadedEvents(
        frame.with_columns(pl.lit(None, pl.String).alias("dedup_key")),
        empty_rejects(),
        DataQuality(frame.height, 0, 0, 0, [], [], []),
        PERIOD,
    )
    outcomes = conform_outcomes(pl.DataFrame(rows).lazy()).collect()
    return audit_document(
        run_audit(loaded, policy or Policy(), OutcomeRead(outcomes=outcomes, rejects=empty_rejects()))
    )


def _audit(
    frame: pl.DataFrame, rows: list[dict[str, Any]], policy: Policy | None = None
) -> dict[str, Mapping[str, Any]]:
    return {d["developer"]: d for d in _document(frame, rows, policy).data["developers"]}


def _peers(n: int = 12) -> tuple[list[pl.DataFrame], list[dict[str, Any]]]:
    """Honest developers with 20-42 requests a workday and 2-3 ordinary PRs a week (more PRs with more use)."""
    frames = [
        events(f"dev{i:02d}", human_offsets(i, 7 * WEEKS, 20 + 2 * i), session_every=5, input_tokens=5_000)
        for i in range(n)
    ]
    rows = [row for i in range(n) for row in _weekly(f"dev{i:02d}", 2 + i // 6)]
    return frames, rows


def _from(offsets: np.ndarray, day: int) -> np.ndarray:
    """The offsets from period day ``day`` on."""
    return offsets[offsets >= day * DAY]


def _position(people: dict[str, Mapping[str, Any]], name: str) -> float:
    """Adjusted rank over the developers the board compares (those not placed keep their places)."""
    compared = sum(1 for d in people.values() if d["ranking_status"] in ("ranked", "not_placed"))
    return float(people[name]["rank"]["adjusted"]) / compared


def test_a_new_joiner_is_ranked_on_the_weeks_they_were_there() -> None:
    frames, rows = _peers()
    # Joins in week 4 of 6; uses AI like dev06 and ships at the same weekly rate, for three weeks.
    joiner = events("joiner", _from(human_offsets(6, 7 * WEEKS, 32), 21), session_every=5, input_tokens=5_000)
    people = _audit(pl.concat([*frames, joiner]), rows + _weekly("joiner", 3, first_week=3))
    presence = people["joiner"]["presence"]
    assert (presence["share"], presence["starts"], presence["tenure_basis"]) == (0.5, "2026-09-28", "activity")
    assert people["joiner"]["ranking_status"] == "ranked"
    # On his three weeks he matches dev06 (same use per day, same PRs per week): the same yield, not half of it.
    joiner, twin = people["joiner"]["yield"]["mean"], people["dev06"]["yield"]["mean"]
    assert abs(joiner - twin) < 0.1 * twin
    assert _position(people, "joiner") <= 0.75


def test_declared_on_call_weeks_are_not_counted_against_delivery() -> None:
    frames, rows = _peers()
    # Works like dev09 (three PRs a week) except in weeks 2 and 5, on call: pages at night, no PRs.
    days = human_offsets(9, 7 * WEEKS, 38)
    pages = np.array([(7 * week + day) * DAY + 23 * 3600.0 + 600 * k for week in (1, 4) for day in range(7)
                      for k in range(6)])  # fmt: skip
    oncall = events("oncall", np.sort(np.concatenate([days, pages])), session_every=5, input_tokens=5_000)
    shipped = _prs("oncall", [7 * week + 1 + day for week in (0, 2, 3, 5) for day in range(3)])
    # Three incidents paged him on nights of his rotation (PagerDuty names the responder, not who shipped the fault).
    pages_answered = [
        {"developer": "oncall", "kind": "incident", "timestamp": START + dt.timedelta(days=day, hours=23), "count": 1,
         "item": f"pagerduty:P{day}"}
        for day in (8, 10, 30)
    ]  # fmt: skip
    frame, prs = pl.concat([*frames, oncall]), rows + shipped + pages_answered
    undeclared = _audit(frame, prs)["oncall"]
    # Judged on six weeks, two thirds of dev09's PRs and charged the incidents, he is at the bottom by the order.
    assert undeclared["outcomes"]["incident"] == 3
    assert undeclared["presence"]["share"] == 1.0 and undeclared["rank"]["board_row"] > 0.75 * 13
    week_start = [START.date() + dt.timedelta(days=7 * week) for week in (1, 4)]
    rota = [OnCall(starts=day, ends=day + dt.timedelta(days=6)) for day in week_start]
    people = _audit(frame, prs, Policy(identities={"oncall": Identity(on_call=rota)}))
    declared = people["oncall"]
    assert (declared["presence"]["on_call_days"], declared["presence"]["share"]) == (14, round(28 / 42, 4))
    # Paged because of the rota: the incidents of his rotation are not charged to him.
    assert declared["outcomes"]["incident"] == 0
    # Declared, he is judged on his four weeks of delivery: out of the bottom quarter, placed, level with dev09.
    assert declared["ranking_status"] == "ranked" and declared["rank"]["adjusted"] <= 0.75 * 13
    assert abs(declared["yield"]["mean"] - people["dev09"]["yield"]["mean"]) < 0.15 * people["dev09"]["yield"]["mean"]


def test_two_weeks_of_data_is_insufficient_rather_than_a_low_rank() -> None:
    frames, rows = _peers()
    late = events("late", _from(human_offsets(3, 7 * WEEKS, 30), 38), session_every=5, input_tokens=5_000)
    people = _audit(pl.concat([*frames, late]), rows + _prs("late", [38]))
    assert people["late"]["ranking_status"] == "insufficient_data"
    assert people["late"]["rank"]["adjusted"] is None


def test_a_farmer_of_one_line_prs_gains_nothing_and_stays_out_of_the_top_half() -> None:
    frames, rows = _peers()
    # The farmer: dev09's ordinary use and PRs, plus 40 one-line PRs merged within ten minutes, unreviewed.
    farmer = events("farmer", human_offsets(9, 7 * WEEKS, 38), session_every=5, input_tokens=5_000)
    real = _weekly("farmer", 2)
    farmed = _prs("farmer", sorted(2 * [day for day in range(7 * WEEKS) if day % 7 < 5])[:40], lines=1, minutes=10,
                  reviewed=False)  # fmt: skip
    honest = _audit(pl.concat([*frames, farmer]), rows + real)["farmer"]
    people = _audit(pl.concat([*frames, farmer]), rows + real + farmed)
    flags = {flag["id"]: flag["severity"] for flag in people["farmer"]["flags"]}
    assert flags.get("outcome_gaming") == "high"
    assert people["farmer"]["outcomes"]["merged_pr"] == 52
    # The one-line PRs score nothing, and the flag counts his tokens above the typical in full: farming lowers
    # his yield rather than raising it.
    assert people["farmer"]["tokens_in_full"] is True and honest["tokens_in_full"] is False
    assert people["farmer"]["yield"]["mean"] < honest["yield"]["mean"]
    # Out of the top half: the board's order puts him in the bottom quarter of 13; with 13 developers the evidence
    # puts him there in fewer than 3 in 4 draws, so he is listed as uncertain (not placed), never above the middle.
    assert (people["farmer"]["rank"]["adjusted"], people["farmer"]["rank"]["placement"]) == (None, "uncertain")
    assert people["farmer"]["rank"]["adjusted_interval"][1] == 13


def test_a_lone_medium_flag_leaves_a_developer_not_placed_where_counting_it_in_full_would_sink_him() -> None:
    frames, rows = _peers()
    # About four times the peers' turns a day at half their prompt size: prompt_pace medium, volume only low, nothing
    # else (the risk level calls it low); four PRs a week where the peers ship two or three.
    busy = events("busy", human_offsets(77, 7 * WEEKS, 110), session_every=5, input_tokens=2_000)
    frame, prs = pl.concat([*frames, busy]), rows + _weekly("busy", 4)
    document = _document(frame, prs)
    lone: Mapping[str, Any] = next(d for d in document.data["developers"] if d["developer"] == "busy")
    assert {flag["id"]: flag["severity"] for flag in lone["flags"]} == {
        "prompt_pace": "medium",
        "volume_outlier": "low",
    }
    assert lone["risk"]["level"] == "low"
    # Counted in full in half the draws: not placed in the bottom quarter, with the bottom row inside his interval.
    assert (lone["tokens_in_full"], lone["tokens_in_full_share"]) == (False, 0.5)
    assert (lone["ranking_status"], lone["rank"]["board_row"], lone["rank"]["adjusted_interval"][1]) == (
        "not_placed",
        13,
        13,
    )
    assert 0.25 < lone["rank"]["bottom_quarter_chance"] < 0.75
    assert document.data["ranking"]["developers_with_tokens_in_full_in_part"] == 1
    assert any("busy (50% of draws)" in note and "lone medium flag" in note for note in document.table.notes)
    # Near misses: the same flag counted in full in every draw places him last; without the flag he is mid-board.
    every = _audit(frame, prs, Policy(ranking=RankingConfig(uncorroborated_in_full=1.0)))["busy"]
    assert (every["tokens_in_full"], every["rank"]["adjusted"]) == (True, 13)
    never = _audit(frame, prs, Policy(ranking=RankingConfig(uncorroborated_in_full=0.0)))["busy"]
    assert never["rank"]["adjusted"] <= 0.75 * 13 and never["rank"]["bottom_quarter_chance"] < 0.5


def _ranked_with(name: str, offsets: np.ndarray, per_week: int, **usage: Any) -> dict[str, Mapping[str, Any]]:
    frames, rows = _peers()
    return _audit(pl.concat([*frames, events(name, offsets, **usage)]), rows + _weekly(name, per_week))


def test_the_cap_excuses_round_the_clock_use_that_ships_and_says_which_bound() -> None:
    # Human-like use in three shifts (01:00, 09:00, 17:00 UTC), every day: no rest window, but no machine clock.
    shifts = [human_offsets(40 + k, 7 * WEEKS, 12, start_hour=hour) for k, hour in enumerate((1.0, 9.0, 17.0))]
    offsets = np.sort(np.concatenate(shifts))
    ships = _ranked_with("nightly", offsets, 8, session_every=5, input_tokens=5_000)["nightly"]
    assert {flag["id"]: flag["severity"] for flag in ships["flags"]}.get("no_rest_rhythm") == "high"
    # 90% sure of a yield above the typical: capped at low, and the output says so and by which bound.
    assert ships["risk"]["level"] == "low"
    assert (ships["risk"]["capped_by_outcomes"], ships["risk"]["cap_bound"]) == (True, "yield_p10")
    # Near miss: the same rhythm with ordinary outcomes is not excused.
    ordinary = _ranked_with("nightly", offsets, 2, session_every=5, input_tokens=5_000)["nightly"]
    assert ordinary["risk"]["level"] == "medium"
    assert (ordinary["risk"]["capped_by_outcomes"], ordinary["risk"]["cap_bound"]) == (False, None)


def test_the_cap_never_silences_a_machine_clock_however_strong_the_outcomes() -> None:
    loop = np.arange(0, 7 * WEEKS * DAY, 600.0)  # a ten-minute loop, one request per session
    people = _ranked_with("looped", loop, 9, input_tokens=2_000)
    looped = people["looped"]
    flags = {flag["id"]: flag["severity"] for flag in looped["flags"]}
    assert flags.get("machine_regularity") == "high"
    assert looped["risk"]["level"] in ("medium", "high")
    assert (looped["risk"]["capped_by_outcomes"], looped["risk"]["cap_bound"]) == (False, None)
    assert looped["tokens_in_full"] is True


def _weekdays(offsets: np.ndarray, keep: list[int]) -> np.ndarray:
    """The offsets on the given days of the week (0 = Monday; the period starts on a Monday)."""
    return offsets[np.isin((offsets // DAY).astype(int) % 7, keep)]


def test_the_bottom_quarter_needs_confidence_thin_data_is_not_placed_and_strong_evidence_is() -> None:
    frames, rows = _peers()
    # Slow: full time, one PR a week, six in all. Part-timer (Wednesday to Friday, inferred 0.6): six PRs on
    # Thursdays and Fridays, a little below the peers' rate for the time present, on thin evidence.
    slow = events("slow", human_offsets(3, 7 * WEEKS, 26), session_every=5, input_tokens=5_000)
    part = events("part", _weekdays(human_offsets(4, 7 * WEEKS, 28), [2, 3, 4]), session_every=5, input_tokens=5_000)
    frame = pl.concat([*frames, slow, part])
    prs = (
        rows
        + _prs("slow", [7 * week + 1 for week in range(WEEKS)])
        + _prs("part", [7 * w + 3 + w % 2 for w in range(6)])
    )
    people = _audit(frame, prs)
    assert people["part"]["presence"]["fte"] == 0.6
    # The part-timer's expected rank falls in the bottom quarter, but fewer than 3 in 4 posterior draws put him
    # there: the board lists him as not placed (uncertain), with his rank interval, instead of a rank.
    part_rank = people["part"]["rank"]
    assert (people["part"]["ranking_status"], part_rank["placement"], part_rank["adjusted"]) == (
        "not_placed", "uncertain", None
    )  # fmt: skip
    assert part_rank["bottom_quarter_chance"] < 0.75
    low, high = part_rank["adjusted_interval"]
    assert low <= 7 and high == 14
    # Slow has six weeks of evidence for his low rate: placed, last of the 14 compared (the board does not close
    # up around the part-timer, so 14 is the bottom, not 13).
    assert people["slow"]["rank"]["bottom_quarter_chance"] >= 0.75
    assert (people["slow"]["rank"]["placement"], people["slow"]["rank"]["adjusted"]) == ("placed", 14)
    # Near miss: with the confidence switched off, the part-timer is ranked in the bottom quarter.
    placed = _audit(frame, prs, Policy(ranking=RankingConfig(bottom_quarter_confidence=0)))
    assert placed["part"]["ranking_status"] == "ranked"
    assert placed["part"]["rank"]["adjusted"] > 0.75 * 14
