"""The outcome side of the risk: the outcome-gaming detector, the trimmed elasticity fit, and the cap."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import polars as pl
import pytest

from tokenaudit.detectors import combine, corroborated_independently, flagged_independently, outcome_gaming
from tokenaudit.detectors.base import DetectorContext
from tokenaudit.detectors.config import Flags, Leaderboard
from tokenaudit.outcomes.schema import conform_outcomes
from tokenaudit.ranking import ElasticityPrior, RankingConfig, rank_developers, value_dispersion, with_prior

MERGED = dt.datetime(2026, 3, 10, 15, 0, tzinfo=dt.UTC)


def _prs(developer: str, n: int, lines: int, minutes: float, reviewed: bool | None = True) -> list[dict[str, object]]:
    return [
        {
            "developer": developer,
            "kind": "merged_pr",
            "timestamp": MERGED,
            "opened": MERGED - dt.timedelta(minutes=minutes),
            "size": float(lines),
            "reviewed": reviewed,
            "count": 1,
        }
        for _ in range(n)
    ]


def _context(rows: list[dict[str, object]], people: list[str], yields: pl.DataFrame | None = None) -> DetectorContext:
    outcomes = conform_outcomes(pl.DataFrame(rows).lazy()).collect()
    developers = pl.DataFrame(
        {"developer": people, "peer_group": "(org)", "n_peers": len(people), "total_tokens": 1_000_000, "team": None}
    )
    return DetectorContext(
        events=pl.DataFrame(),
        requests=pl.DataFrame(),
        developers=developers,
        flags=Flags(),
        leaderboard=Leaderboard(),
        yields=yields,
        outcomes=outcomes,
    )


def test_outcome_gaming_fires_on_a_stream_of_trivial_prs_and_not_on_a_near_miss() -> None:
    peers = [f"dev{i}" for i in range(8)]
    rows = [row for name in peers for row in _prs(name, 12, 120, 20 * 60)]
    # The farmer: 40 two-line PRs merged ten minutes after opening, unreviewed, beside 15 ordinary ones.
    rows += _prs("farmer", 15, 150, 24 * 60) + _prs("farmer", 40, 2, 10, reviewed=False)
    # Near miss: 4 one-line fixes and 2 quick unreviewed merges among 30 PRs (20%, under the 25% floor).
    rows += _prs("tidy", 24, 90, 30 * 60) + _prs("tidy", 4, 1, 3 * 60) + _prs("tidy", 2, 40, 30, reviewed=False)
    # A quick merge that was reviewed is not rushed.
    rows += _prs("pairing", 20, 60, 20, reviewed=True)
    frame = outcome_gaming.compute(_context(rows, [*peers, "farmer", "tidy", "pairing"]))
    row = {r["developer"]: r for r in frame.iter_rows(named=True)}
    farmer = row["farmer"]
    assert (farmer["merged_prs"], farmer["trivial_prs"], farmer["rushed_prs"], farmer["farmed_prs"]) == (55, 40, 40, 40)
    assert farmer["share"] == pytest.approx(40 / 55)
    assert farmer["severity"] == 3
    assert "40 of 55 merged PRs (73%) were trivial" in outcome_gaming.reason(farmer)
    assert (row["tidy"]["farmed_prs"], row["tidy"]["merged_prs"], row["tidy"]["severity"]) == (6, 30, 0)
    assert row["pairing"]["severity"] == 0 and row["pairing"]["rushed_prs"] == 0
    assert row["dev0"]["needs"] is None and row["dev0"]["severity"] == 0


def test_outcome_gaming_is_not_evaluated_without_enough_prs_or_outcomes() -> None:
    frame = outcome_gaming.compute(_context(_prs("few", 9, 1, 5, reviewed=False), ["few", "none"]))
    row = {r["developer"]: r for r in frame.iter_rows(named=True)}
    assert row["few"]["needs"] == "at least 10 merged PRs with sizes or creation times"
    assert row["none"]["needs"] == "at least 10 merged PRs with sizes or creation times"
    bare = _context([], ["a"])
    without = outcome_gaming.compute(DetectorContext(**{**bare.__dict__, "outcomes": None}))
    assert without["needs"].to_list() == ["outcomes (--outcomes: PR exports with additions/deletions or createdAt)"]


def test_the_cap_never_silences_a_machine_clock_but_excuses_round_the_clock_use_that_ships() -> None:
    people = ["clock", "night", "flat"]
    yields = pl.DataFrame(
        {
            "developer": people,
            "status": "ranked",
            "outcome_score": 30.0,
            "yield_mean": 3.0,
            "yield_median": 3.0,
            "yield_p10": [2.5, 2.5, 1.5],
            "yield_p90": 3.5,
            "peer_median_yield": 2.0,
        }
    )
    severities = [
        pl.DataFrame(
            {
                "developer": ["clock", "clock", "night", "night", "flat", "flat"],
                "family": ["automation", "waste", "automation", "waste", "automation", "waste"],
                "severity": [3, 2, 3, 2, 3, 2],
                "id": ["machine_regularity", "context_stuffing", "no_rest_rhythm", "context_stuffing"] * 1
                + ["no_rest_rhythm", "context_stuffing"],
            }
        )
    ]
    risk = combine(_context([], people, yields), severities)
    level = {r["developer"]: (r["risk_level"], r["capped_by_outcomes"]) for r in risk.iter_rows(named=True)}
    # 90% sure of a yield above typical, but a machine clock is not explained by outcomes: not capped.
    assert level["clock"] == ("high", False)
    # The same outcomes excuse an overnight rhythm and big contexts: capped at low, and the output says so.
    assert level["night"] == ("low", True)
    # A median yield above typical is not enough: the bound is the 10th percentile (1.5 < 2.0).
    assert level["flat"] == ("high", False)


def _population(gamers: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Honest developers with outcomes = 3·E^0.5 exactly; gamers with 4× the tokens of an honest twin from the
    upper half, so their inflated exposure sits in the top quarter."""
    exposure = np.geomspace(2, 60, 40)
    names = [f"dev{i:02d}" for i in range(40)] + [f"gamer{i}" for i in range(gamers)]
    twins = exposure[np.linspace(20, 39, gamers).astype(int)] if gamers else np.zeros(0)
    developers = pl.DataFrame(
        {
            "developer": names,
            "team": "core",
            "exposure": [*exposure, *(4 * twins)],
            "active_days": 20,
        }
    )
    prs = [*np.round(3 * exposure**0.5), *np.round(3 * twins**0.5)]
    return developers, pl.DataFrame({"developer": names, "kind": "merged_pr", "value": prs})


def test_inflated_tokens_do_not_flatten_the_elasticity() -> None:
    honest = rank_developers(*_population(0), {"merged_pr": 1.0}, RankingConfig()).fit
    planted = rank_developers(*_population(10), {"merged_pr": 1.0}, RankingConfig()).fit
    assert honest.elasticity == pytest.approx(0.5, abs=0.02)
    # On everyone, ten 4x inflators (20%) drag the fit down; with a say that falls as the square of exposure
    # above the typical (a weight on the regressor does not bias the slope) it stays within 0.05 of honest.
    all_b = planted.alternatives["all"][0]
    assert all_b < honest.elasticity - 0.1
    assert planted.elasticity == pytest.approx(honest.elasticity, abs=0.05)
    assert planted.alternatives["trimmed"][0] == pytest.approx(honest.alternatives["trimmed"][0], abs=0.05)
    # Everyone is in the fit; 21 (11 honest above 1.41x the typical, the 10 inflators) have under half a say.
    assert planted.fit_developers == 50 and planted.fit_excluded_volume == 21
    assert planted.fit_effective_developers == pytest.approx(30.8, abs=0.1)
    # Developers flagged on evidence independent of outcomes are left out of the fit too.
    flagged = rank_developers(
        *_population(10), {"merged_pr": 1.0}, RankingConfig(), flagged=[f"gamer{i}" for i in range(10)]
    ).fit
    assert flagged.fit_excluded_flagged == 10
    assert flagged.alternatives["unflagged"][0] == pytest.approx(honest.alternatives["all"][0], abs=1e-9)


def test_the_prior_steadies_a_noisy_elasticity_and_stands_alone_without_a_fit() -> None:
    prior = ElasticityPrior(mean=0.5, sd=0.15)
    # Equal precision: halfway, with the standard error shrunk by sqrt(2).
    assert with_prior(0.1, 0.15, prior) == pytest.approx((0.3, 0.15 / 2**0.5))
    # A precise fit (a large organisation) outweighs the prior.
    assert with_prior(0.3, 0.015, prior)[0] == pytest.approx(
        (0.3 / 0.015**2 + 0.5 / 0.15**2) / (1 / 0.015**2 + 1 / 0.15**2)
    )
    assert with_prior(0.3, None, prior) == (0.5, 0.15)


def test_a_flagged_developers_tokens_above_the_typical_count_in_full() -> None:
    developers, outcomes = _population(0)
    # Two twins of an upper-half honest developer, each with 4x the tokens and the same PRs; one is flagged.
    twin = developers.filter(pl.col("developer") == "dev30")
    prs = outcomes.filter(pl.col("developer") == "dev30")["value"].item()
    extra = pl.DataFrame({"developer": ["loud", "looped"], "team": "core", "exposure": 4 * twin["exposure"].item(),
                          "active_days": 20})  # fmt: skip
    developers = pl.concat([developers, extra], how="vertical_relaxed")
    outcomes = pl.concat([outcomes, pl.DataFrame({"developer": ["loud", "looped"], "kind": "merged_pr", "value": prs})])
    ranking = rank_developers(developers, outcomes, {"merged_pr": 1.0}, RankingConfig(), flagged=["looped", "dev05"])
    row = {r["developer"]: r for r in ranking.developers.iter_rows(named=True)}
    unflagged = developers.filter(~pl.col("developer").is_in(["looped", "dev05"]))
    b, typical = ranking.fit.elasticity, float(np.median(unflagged["exposure"].to_numpy()))
    # Unflagged: 4x the tokens cost 4^b; flagged: tokens above the typical count in full (4x), and it is said.
    assert row["loud"]["compared_exposure"] == pytest.approx(typical * (row["loud"]["exposure"] / typical) ** b)
    assert row["looped"]["compared_exposure"] == pytest.approx(row["looped"]["exposure"])
    assert (row["looped"]["tokens_in_full"], row["loud"]["tokens_in_full"]) == (True, False)
    assert row["looped"]["rank_adjusted"] > row["loud"]["rank_adjusted"] > row["dev30"]["rank_adjusted"]
    # Below the typical, a flag changes nothing (no bonus for a light flagged user).
    assert row["dev05"]["tokens_in_full"] is False
    assert row["dev05"]["compared_exposure"] == pytest.approx(typical * (row["dev05"]["exposure"] / typical) ** b)
    assert ranking.fit.in_full == 1


def test_the_typical_use_above_which_flagged_tokens_count_in_full_is_the_unflagged_developers() -> None:
    developers, outcomes = _population(10)
    gamers = [f"gamer{i}" for i in range(10)]
    honest = developers.filter(~pl.col("developer").is_in(gamers))
    # Ten flagged 4x inflators raise the median of everyone's use well above the honest developers' median.
    between = float(np.sqrt(np.median(honest["exposure"].to_numpy()) * np.median(developers["exposure"].to_numpy())))
    extra = pl.DataFrame({"developer": ["flagged", "unflagged", "light"], "team": "core",
                          "exposure": [between, between, 0.8 * float(np.median(honest["exposure"].to_numpy()))],
                          "active_days": 20})  # fmt: skip
    developers = pl.concat([developers, extra], how="vertical_relaxed")
    prs = float(round(3 * between**0.5))
    outcomes = pl.concat([outcomes, pl.DataFrame({"developer": extra["developer"], "kind": "merged_pr", "value": prs})])
    flagged = [*gamers, "flagged", "light"]
    ranking = rank_developers(developers, outcomes, {"merged_pr": 1.0}, RankingConfig(), flagged=flagged)
    row = {r["developer"]: r for r in ranking.developers.iter_rows(named=True)}
    typical = float(np.median(developers.filter(~pl.col("developer").is_in(flagged))["exposure"].to_numpy()))
    assert typical < between < float(np.median(developers["exposure"].to_numpy()))
    # Above the unflagged developers' typical use, a flagged developer's tokens count in full, though they are below
    # everyone's median (which the flagged inflators raised): the gamers do not set their own allowance.
    assert row["flagged"]["tokens_in_full"] is True
    assert row["flagged"]["compared_exposure"] == pytest.approx(between)
    assert row["flagged"]["expected_rank"] > row["unflagged"]["expected_rank"]
    # The near misses: unflagged at the same use keeps diminishing returns; flagged below the typical changes nothing.
    b = ranking.fit.elasticity
    assert row["unflagged"]["tokens_in_full"] is False
    assert row["unflagged"]["compared_exposure"] == pytest.approx(typical * (between / typical) ** b)
    assert row["light"]["tokens_in_full"] is False
    assert row["light"]["compared_exposure"] == pytest.approx(typical * (row["light"]["exposure"] / typical) ** b)


def test_a_flag_is_corroborated_as_the_risk_level_counts_it() -> None:
    fired = [
        ("lone", "waste", 2, "context_stuffing"),
        ("seconded", "automation", 2, "prompt_pace"),
        ("seconded", "waste", 1, "repetition"),
        ("with_volume", "waste", 2, "context_stuffing"),
        ("with_volume", "inflation", 2, "volume_outlier"),
        ("high", "automation", 3, "machine_regularity"),
        ("volume_only", "inflation", 3, "volume_outlier"),
        ("two_low", "automation", 1, "prompt_pace"),
        ("two_low", "waste", 1, "repetition"),
    ]
    severities = [pl.DataFrame(fired, schema=["developer", "family", "severity", "id"], orient="row")]
    assert flagged_independently(severities) == ["high", "lone", "seconded", "with_volume"]
    # A medium flag needs a second signal or volume at medium+, as for medium risk; a high one stands alone.
    assert corroborated_independently(severities) == ["high", "seconded", "with_volume"]


def test_a_lone_medium_flag_widens_the_rank_interval_rather_than_sinking_solid_outcomes() -> None:
    developers, outcomes = _population(0)
    twin = developers.filter(pl.col("developer") == "dev35")
    heavy = 4 * twin["exposure"].item()
    # A heavy honest reviewer whose outcomes keep pace with his tokens (on the honest curve at 4x: 3 * E^0.5), and a
    # gamer with the same tokens and only his twin's ordinary outcomes.
    extra = pl.DataFrame({"developer": ["reviewer", "gamer"], "team": "core", "exposure": heavy, "active_days": 20})
    developers = pl.concat([developers, extra], how="vertical_relaxed")
    prs = [float(round(3 * heavy**0.5)), outcomes.filter(pl.col("developer") == "dev35")["value"].item()]
    outcomes = pl.concat([outcomes, pl.DataFrame({"developer": ["reviewer", "gamer"], "kind": "merged_pr",
                                                   "value": prs})])  # fmt: skip

    def board(corroborated: list[str]) -> dict[str, dict[str, Any]]:
        ranking = rank_developers(
            developers, outcomes, {"merged_pr": 1.0}, RankingConfig(), ["reviewer", "gamer"], corroborated
        )
        return {r["developer"]: r for r in ranking.developers.iter_rows(named=True)} | {"fit": vars(ranking.fit)}

    quarter = 0.75 * developers.height
    # Both corroborated (a high flag, or a medium one with a second signal): tokens above the typical count in full
    # in every draw, and both are placed in the bottom quarter.
    both = board(["reviewer", "gamer"])
    assert all(both[d]["tokens_in_full"] and both[d]["rank_adjusted"] > quarter for d in ("reviewer", "gamer"))
    # The reviewer's flag alone at medium (the risk level calls it low): counted in full in half the draws, so his
    # bottom-quarter chance is about the mean of the two boards', under the 3-in-4 the board needs: not placed there.
    lone = board(["gamer"])
    reviewer = lone["reviewer"]
    assert (reviewer["tokens_in_full"], reviewer["tokens_in_full_share"]) == (False, 0.5)
    assert 0.3 < reviewer["bottom_quarter_chance"] < 0.75 and reviewer["rank_adjusted"] is None
    assert reviewer["rank_high"] > quarter  # the bottom quarter stays inside his rank interval
    # The corroborated gamer with ordinary outcomes is still placed there.
    assert lone["gamer"]["tokens_in_full"] is True and lone["gamer"]["rank_adjusted"] > quarter
    assert (lone["fit"]["in_full"], lone["fit"]["in_part"]) == (1, 1)
    # A lone flag never lifts anyone: below the typical it changes nothing, as a corroborated one.
    assert lone["dev05"]["tokens_in_full_share"] == 0.0


def test_kinds_the_policy_does_not_weigh_never_move_the_board() -> None:
    developers, outcomes = _population(4)
    plain = rank_developers(developers, outcomes, {"merged_pr": 1.0}, RankingConfig())
    deployments = pl.DataFrame({"developer": developers["developer"][::3], "kind": "deployment", "value": 7.0})
    extended = rank_developers(developers, pl.concat([outcomes, deployments]), {"merged_pr": 1.0}, RankingConfig())
    columns = ["developer", "yield_mean", "rank_adjusted", "rank_low", "rank_high"]
    assert extended.developers.select(columns).equals(plain.developers.select(columns))
    assert extended.developers["deployment"].sum() == 7.0 * deployments.height  # counted and listed, not scored
    assert list(extended.fit.dispersion) == ["merged_pr"]
    # Weighed by the policy, the same kind does count.
    weighed = rank_developers(
        developers, pl.concat([outcomes, deployments]), {"merged_pr": 1.0, "deployment": 0.5}, RankingConfig()
    )
    assert not weighed.developers.select(columns).equals(plain.developers.select(columns))


def test_weighed_outcomes_are_shrunk_as_the_compound_counts_they_are() -> None:
    rows = pl.DataFrame(
        {
            "developer": ["a", "a", "b", "c"],
            "kind": ["merged_pr", "merged_pr", "merged_pr", "closed_ticket"],
            "count": [1, 1, 2, 3],
            "value": [3.0, 1.0, 2.0, 3.0],
        }
    )
    # merged_pr items worth 3, 1, 1, 1 (b's row is two items of 1): mean square 12/4 over mean 6/4 = 2.
    assert value_dispersion(rows) == {"merged_pr": pytest.approx(2.0), "closed_ticket": pytest.approx(1.0)}
    assert value_dispersion(rows.drop("count")) == {}
