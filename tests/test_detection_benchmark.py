"""Smoke test of the adversarial evaluation's quick path: one small organisation, every table filled."""

from __future__ import annotations

import re
from types import ModuleType

import polars as pl
import pytest

from tests.helpers import load_benchmark
from tokenaudit.adversary import AdversaryConfig
from tokenaudit.adversary.cases import EDGE_CASES, GAMER_CASES


@pytest.fixture(scope="module")
def detection() -> ModuleType:
    return load_benchmark("detection")


def test_one_small_seed_reports_every_case_and_the_board(detection: ModuleType) -> None:
    text = detection.evaluate([3], AdversaryConfig(developers=30, weeks=1, activity=0.3))
    rows: dict[str, str] = {}
    placed: dict[str, str] = {}
    for line in (line for line in text.splitlines() if line.startswith("| ")):
        case = line.split(" | ")[0].lstrip("| ")
        # The first table naming a case is the gamers' or edge cases'; the last, the placement per seed.
        rows.setdefault(case, line)
        placed[case] = line
    assert set(GAMER_CASES) | set(EDGE_CASES) <= set(rows)
    for case in GAMER_CASES:
        assert re.search(r"\| (low|high) \| [01]/1 \| [01]/1 \|", rows[case])
    assert "| 0/2 |" in rows["two_person_team"] or "| 1/2 |" in rows["two_person_team"]
    # Per case and seed: the row over the developers compared, a mark, the bottom-quarter chance (the duo: one or
    # two, as a one-week organisation may leave one with too little data to compare).
    cell = r"[\d.]+[*?]? \([\d.]+\)"
    assert re.fullmatch(rf"\| two_person_team \| {cell}( / {cell})? \|", placed["two_person_team"])
    ordinary = 30 - len(GAMER_CASES) - len(EDGE_CASES) - 1  # the two-person team is two people
    assert re.search(rf"ordinary honest with medium\+ \d+/{ordinary} ", text)
    assert re.search(r"AUC gamers placed below honest, adjusted 0\.\d\d|1\.00", text)
    assert re.search(r"\| behaviour-only precision \| [\d.]+ \| >= 0.9 \| (yes|NO) \|", text)
    assert re.search(r"fitted elasticity b with / without planted gamers per seed: -?\d\.\d{3} / -?\d\.\d{3}", text)
    assert "| seed | case | intensity | row (bottom-quarter chance) | honest at least as likely (edge cases) |" in text


def test_a_missed_gamer_is_reported_with_the_honest_developers_the_board_held_as_likely(detection: ModuleType) -> None:
    def row(kind: str, chance: float, productivity: float, caught: bool = False, row: int = 5) -> dict[str, object]:
        return {
            "mode": "outcomes", "seed": 7, "kind": kind, "case": "verbose_inflator" if kind == "gamer" else kind,
            "intensity": "high" if kind == "gamer" else "", "caught": caught, "bottom_quarter": False,
            "board_row": row, "n_ranked": 6, "status": "ranked", "bottom_quarter_chance": chance,
            "productivity": productivity,
        }  # fmt: skip

    rows = pl.DataFrame(
        [
            row("gamer", 0.4, 1.2, row=4),
            row("gamer", 0.1, 0.9, caught=True),  # a flag caught it: not a miss
            row("edge", 0.5, 0.8),
            row("honest", 0.4, 1.0),
            row("honest", 0.1, 1.3),
            row("honest", 0.7, 0.7),
        ]
    )
    table = detection.missed_table(rows)
    assert table.rows() == [(7, "verbose_inflator", "high", "0.67 (0.4)", "3 (1)", 0.67)]
