"""The outcome-adjusted ranking: shrinkage, minimum volume, elasticity, team normalisation, low_yield."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from tests.synthetic import START, events, human_offsets
from tokenaudit.audit import run_audit
from tokenaudit.ingest import DataQuality, LoadedEvents, Period
from tokenaudit.outcomes.config import DEFAULT_WEIGHTS
from tokenaudit.outcomes.read import OutcomeRead
from tokenaudit.outcomes.schema import OUTCOME_SCHEMA
from tokenaudit.policy import Policy
from tokenaudit.ranking import RankingConfig, fit_elasticity, rank_developers
from tokenaudit.schema import empty_rejects


def _org(
    exposures: dict[str, float], prs: dict[str, float], team: str | None = "core"
) -> tuple[pl.DataFrame, pl.DataFrame]:
    developers = pl.DataFrame(
        {
            "developer": list(exposures),
            "team": [team] * len(exposures),
            "exposure": list(exposures.values()),
            "active_days": [20] * len(exposures),
        }
    )
    outcomes = pl.DataFrame(
        {"developer": list(prs), "kind": ["merged_pr"] * len(prs), "value": [float(v) for v in prs.values()]}
    )
    return developers, outcomes


def _peers(seed: int = 1, n: int = 30, low: float = 10, high: float = 40) -> tuple[dict[str, float], dict[str, float]]:
    rng = np.random.default_rng(seed)
    exposure = {f"dev{i:02d}": float(rng.uniform(low, high)) for i in range(n)}
    skill = rng.lognormal(0.0, 0.5, size=n)
    prs = {name: float(rng.poisson(skill[i] * e)) for i, (name, e) in enumerate(exposure.items())}
    return exposure, prs


def test_one_lucky_pr_on_tiny_use_does_not_outrank_forty_prs_on_moderate_use() -> None:
    exposure, prs = _peers(low=2, high=8)
    exposure |= {"lucky": 0.55, "steady": 25.0}
    prs |= {"lucky": 1, "steady": 40}
    developers, outcomes = _org(exposure, prs)
    # Per token, with no diminishing returns, lucky's raw rate (1.8/M) beats steady's (1.6/M).
    config = RankingConfig(elasticity=1.0, min_exposure=0.1)
    ranked = rank_developers(developers, outcomes, {"merged_pr": 1.0}, config).developers
    row = {r["developer"]: r for r in ranked.iter_rows(named=True)}
    assert row["lucky"]["status"] == "ranked"
    assert 1 / 0.55 > 40 / 25
    assert row["steady"]["rank_adjusted"] < row["lucky"]["rank_adjusted"]
    # Shrinkage: lucky's estimate is pulled most of the way to the organisation's rate, with a wide interval.
    assert row["lucky"]["yield_mean"] < 1.3
    assert row["lucky"]["rank_high"] - row["lucky"]["rank_low"] > row["steady"]["rank_high"] - row["steady"]["rank_low"]


def test_below_the_minimum_volume_is_insufficient_data_not_a_rank() -> None:
    exposure, prs = _peers()
    exposure |= {"newcomer": 0.5}
    prs |= {"newcomer": 3}
    developers, outcomes = _org(exposure, prs)
    ranked = rank_developers(developers, outcomes, {"merged_pr": 1.0}, RankingConfig(min_exposure=2.0))
    newcomer = ranked.developers.filter(pl.col("developer") == "newcomer").row(0, named=True)
    assert newcomer["status"] == "insufficient_data"
    assert newcomer["rank_adjusted"] is None
    assert ranked.fit.ranked == 30
    # Everyone above the minimum is compared: placed at a distinct rank 1..30, or (uncertain in the bottom quarter)
    # listed as not placed with an interval while the others keep their places.
    placed = ranked.developers["rank_adjusted"].drop_nulls().to_list()
    assert len(placed) == 30 - ranked.fit.not_placed == len(set(placed))
    assert set(placed) <= set(range(1, 31)) and set(range(1, 23)) <= set(placed)
    assert ranked.developers.filter(pl.col("status") == "not_placed")["rank_low"].null_count() == 0


def test_elasticity_is_recovered_from_the_organisations_data() -> None:
    rng = np.random.default_rng(3)
    exposure = rng.uniform(1, 100, size=400)
    counts = rng.poisson(2.0 * exposure**0.4).astype(np.float64)
    b, se = fit_elasticity(counts, exposure)
    assert se is not None
    assert b == pytest.approx(0.4, abs=3 * se)
    assert se < 0.03


def test_a_productive_heavy_user_is_not_an_inefficient_one() -> None:
    """8x a colleague's tokens and 2.5x their PRs: per token they look 3x worse; with the fitted
    elasticity they rank above the colleague, as the organisation's own returns say they should."""
    rng = np.random.default_rng(5)
    exposure = {f"dev{i:02d}": float(e) for i, e in enumerate(rng.uniform(2, 80, size=60))}
    prs = {name: float(rng.poisson(3.0 * e**0.3)) for name, e in exposure.items()}
    exposure |= {"heavy": 80.0, "colleague": 10.0}
    prs |= {"heavy": 3.0 * 80**0.3 * 1.25, "colleague": 3.0 * 10**0.3}
    prs["heavy"] = round(prs["colleague"] * 2.5)
    prs["colleague"] = round(prs["colleague"])
    developers, outcomes = _org(exposure, prs)
    fitted = rank_developers(developers, outcomes, {"merged_pr": 1.0}, RankingConfig())
    assert fitted.fit.fitted and 0.1 < fitted.fit.elasticity < 0.5
    row = {r["developer"]: r for r in fitted.developers.iter_rows(named=True)}
    assert row["heavy"]["rank_adjusted"] < row["colleague"]["rank_adjusted"]
    per_token = rank_developers(developers, outcomes, {"merged_pr": 1.0}, RankingConfig(elasticity=1.0))
    naive = {r["developer"]: r for r in per_token.developers.iter_rows(named=True)}
    assert naive["heavy"]["rank_adjusted"] > naive["colleague"]["rank_adjusted"]


def test_team_normalisation_compares_within_the_team() -> None:
    exposure_a, prs_a = _peers(seed=7, n=10)
    exposure_b = {f"b{name}": e for name, e in exposure_a.items()}
    prs_b = {f"b{name}": 3 * v for name, v in prs_a.items()}  # team b opens 3x finer-grained PRs
    developers = pl.concat([_org(exposure_a, prs_a, team="a")[0], _org(exposure_b, prs_b, team="b")[0]])
    outcomes = pl.concat([_org(exposure_a, prs_a)[1], _org(exposure_b, prs_b)[1]])
    weights = {"merged_pr": 1.0}
    org = rank_developers(developers, outcomes, weights, RankingConfig(elasticity=1.0)).developers
    team = rank_developers(
        developers, outcomes, weights, RankingConfig(elasticity=1.0, normalize="team", min_team_size=5)
    ).developers

    def top_half(frame: pl.DataFrame) -> list[str]:
        teams: list[str] = frame.filter(pl.col("rank_adjusted") <= 10)["team"].to_list()
        return teams

    assert top_half(org).count("b") >= 8
    assert 3 <= top_half(team).count("b") <= 7


def test_a_two_person_team_is_compared_with_the_organisation_even_under_team_normalisation() -> None:
    exposure, prs = _peers(seed=3, n=30)
    developers, outcomes = _org(exposure, prs)
    developers = developers.with_columns(
        team=pl.when(pl.col("developer").is_in(["dev00", "dev01"])).then(pl.lit("duo")).otherwise(pl.col("team"))
    )
    weights = {"merged_pr": 1.0}
    org = rank_developers(developers, outcomes, weights, RankingConfig(elasticity=0.5))
    team = rank_developers(developers, outcomes, weights, RankingConfig(elasticity=0.5, normalize="team"))
    # The 28 get a prior of their own; two people are too few to set one (it would pull each towards the other and
    # make any pair look ordinary), so the duo shares the organisation's and keeps its yields.
    assert "merged_pr@core" in team.fit.priors and "merged_pr@duo" not in team.fit.priors
    mean = {name: dict(frame.developers.select("developer", "yield_mean").iter_rows()) for name, frame in
            (("org", org), ("team", team))}  # fmt: skip
    for person in ("dev00", "dev01"):
        assert mean["team"][person] == pytest.approx(mean["org"][person], rel=0.03)
    # Near miss: allowed teams of two, the duo gets a prior of its own.
    pairs = rank_developers(
        developers, outcomes, weights, RankingConfig(elasticity=0.5, normalize="team", min_team_size=2)
    )
    assert "merged_pr@duo" in pairs.fit.priors


def _loaded(frame: pl.DataFrame) -> LoadedEvents:
    quality = DataQuality(frame.height, 0, 0, 0, [], [], [])
    return LoadedEvents(
        frame.with_columns(pl.lit(None, pl.String).alias("dedup_key")), empty_rejects(), quality, Period()
    )


def test_low_yield_fires_for_heavy_use_with_no_outcomes_and_not_for_peers() -> None:
    people = [
        events(f"dev{i:02d}", human_offsets(i, 20, 10 + 4 * i), session_every=5, input_tokens=5_000) for i in range(12)
    ]
    burner = events("burner", human_offsets(99, 20, 60), session_every=5, input_tokens=40_000)
    frame = pl.concat([*people, burner])
    rows = []
    for i in range(12):
        rows += [(f"dev{i:02d}", START + np.timedelta64(day, "D").item(), "merged_pr", 1) for day in range(6 + i)]
    rows += [("burner", START, "merged_pr", 1)]
    outcomes = pl.DataFrame(rows, schema=["developer", "timestamp", "kind", "count"], orient="row").with_columns(
        pl.col("timestamp").dt.replace_time_zone("UTC").dt.cast_time_unit("us")
    )
    read = OutcomeRead(
        outcomes=outcomes.with_columns(
            [pl.lit(None, dtype).alias(name) for name, dtype in OUTCOME_SCHEMA.items() if name not in outcomes.columns]
        ).select(list(OUTCOME_SCHEMA)),
        rejects=empty_rejects(),
    )
    result = run_audit(_loaded(frame), Policy(), read)
    fired = {flag.developer for flag in result.findings.flags if flag.id == "low_yield"}
    assert fired == {"burner"}
    assert sorted(DEFAULT_WEIGHTS) == result.outcome_kinds


def test_flagged_developers_with_inflated_tokens_do_not_move_the_prior_everyone_is_shrunk_towards() -> None:
    exposure, prs = _peers(n=40)
    # Ten flagged developers with ordinary outcomes on five times the tokens: rates a fifth of everyone's.
    gamers = {f"gamer{i}": 5 * exposure[f"dev{i:02d}"] for i in range(10)}
    developers, outcomes = _org(exposure | gamers, prs | {g: prs[f"dev{i:02d}"] for i, g in enumerate(gamers)})
    config = RankingConfig(elasticity=1.0)
    honest_only = rank_developers(*_org(exposure, prs), {"merged_pr": 1.0}, config).fit.priors["merged_pr"]
    with_gamers = rank_developers(developers, outcomes, {"merged_pr": 1.0}, config, flagged=list(gamers))
    # Fitted on the fit's sample (flagged out, high volume tapered), the prior's rate and spread are the honest
    # developers'; fitted on everyone, the gamers' low rates would pull it down by a third and widen it.
    rate, variance = with_gamers.fit.priors["merged_pr"]
    assert rate == pytest.approx(honest_only[0], rel=0.05)
    assert variance == pytest.approx(honest_only[1], rel=0.1)
