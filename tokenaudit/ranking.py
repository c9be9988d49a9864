"""Outcome-adjusted ranking: what did each developer's tokens buy, fairly estimated?

Method (method study §5, in plain words):

1. **Exposure** is effective tokens in millions (input + output + 1.25·cache writes + 0.1·cache reads, so
   cheap cache re-reads do not make honest agent users look wasteful).
2. **Diminishing returns.** Outcomes do not grow in proportion to tokens: someone with 8× a colleague's
   tokens and 2.5× their merged PRs is not inefficient. A Poisson regression of each developer's positive
   outcomes on log exposure gives the organisation's own elasticity *b* (policy ``ranking.elasticity``
   can fix it instead), and everyone is compared at exposure ``E^b``.
3. **Shrinkage.** Per outcome kind, a gamma–Poisson empirical-Bayes prior is fitted across developers
   (Marshall's moment estimator, on the elasticity fit's sample so that gamers do not set it); each
   developer's rate is their posterior, pulled towards the organisation's (or team's) rate the less exposure
   they have, so two lucky PRs on a few tokens do not top the table.
4. **Yield** is the weighted sum of the kinds' rates (merged PR +1, closed ticket +0.5, defect −1, …).
   Seeded posterior draws give its 5–95 % interval and each developer's *rank interval*; the board is
   sorted by posterior expected rank. Below the minimum volume a developer is listed as "insufficient
   data" and gets no rank. The bottom quarter is a claim that hurts, so a developer is shown there only when
   at least 3 in 4 posterior draws put them there; otherwise they are listed as "not placed" (uncertain)
   with their rank interval, and the others keep their places (:func:`placements`).
"""

from __future__ import annotations

import zlib
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Final, Literal

import polars as pl
from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

EFFECTIVE_WEIGHTS_PERCENT: Final = {
    "input_tokens": 100,
    "output_tokens": 100,
    "cache_write_tokens": 125,
    "cache_read_tokens": 10,
}
"""Effective-token weights in percent: integers, so exposure sums are exact whatever the summation order."""
MIN_FIT_DEVELOPERS: Final = 8
"""Fewer ranked developers than this: no fit, elasticity 1 (outcomes per token), reported as not fitted."""
BIWEIGHT_C: Final = 4.685
"""Tukey's constant: residuals beyond this many robust standard deviations get no weight in the fit."""
MIN_PRIOR_CV: Final = 0.25
"""Smallest between-developer coefficient of variation the prior assumes."""
POSITIVE_KINDS: Final = ("merged_pr", "closed_ticket")
"""Kinds whose counts fit the elasticity (defects and reverts are too sparse to carry it)."""


class ElasticityPrior(BaseModel):
    """A normal prior on the elasticity: by default centred between "tokens do not matter" (0) and "outcomes per
    token" (1), with 95% of its weight between 0.2 and 0.8."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mean: Annotated[float, Field(ge=0, le=1)] = 0.5
    sd: Annotated[float, Field(gt=0)] = 0.15


class RankingConfig(BaseModel):
    """The policy's ``ranking:`` section."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    elasticity: Literal["fit"] | Annotated[float, Field(ge=0, le=1)] = "fit"
    """Fit from the organisation's data, or a fixed exponent (1 = outcomes per token, no diminishing returns)."""
    min_exposure: Annotated[float, Field(ge=0)] = 1.0
    """Minimum effective tokens (millions) to be ranked; the floor is also at least 10% of the median."""
    min_active_days: Annotated[int, Field(ge=0)] = 5
    normalize: Literal["org", "team"] = "org"
    """``team``: fit the prior per team (teams with at least ``min_team_size`` ranked developers)."""
    min_team_size: Annotated[int, Field(ge=2)] = 8
    draws: Annotated[int, Field(ge=100, le=100_000)] = 2000
    elasticity_prior: ElasticityPrior = ElasticityPrior()
    """Combined with the fitted elasticity by precision; a very large ``sd`` leaves the fit alone."""
    fit_taper: Annotated[float, Field(ge=0, le=10)] = 2.0
    """Above the typical (median) exposure per unit of presence, a developer's say in the elasticity fit falls
    as (typical/theirs)^fit_taper: inflated tokens sit there and would flatten it. 0 = an equal say."""
    uncorroborated_in_full: Annotated[float, Field(ge=0, le=1)] = 0.5
    """The share of posterior draws in which a developer with a lone medium flag (one the risk level calls low: no
    high flag, no second signal, no volume at medium+) has tokens above the typical counted in full; a corroborated
    flag counts them in full in every draw. 0.5: even odds that a lone flag is right, so it widens the rank interval
    instead of deciding it (:func:`in_full_chances`). 1 = as a corroborated flag, 0 = never."""
    bottom_quarter_confidence: Annotated[float, Field(ge=0, le=1)] = 0.75
    """A developer is shown in the bottom quarter only when at least this share of the posterior draws put them
    there; otherwise not placed (uncertain), with their rank interval (:func:`placements`). 0.75: a wrong place
    there costs a person more than a missed one costs the organisation (whose flags still see gamers), taken as 3
    to 1, so the claim is made when it is at least three times as likely right as wrong. 0 = place everyone."""
    seed: int = 0
    sort: Literal["expected_rank", "lower"] = "expected_rank"
    """``lower`` sorts by the 10th percentile of yield instead (cautious: uncertain developers sink)."""


@dataclass(frozen=True)
class RankingFit:
    """What was fitted, for the report: elasticity, its standard error, priors per kind."""

    elasticity: float
    elasticity_se: float | None
    fitted: bool
    basis: str
    """Where the elasticity came from, in words: fitted, fixed by policy, or the default and why."""
    min_exposure: float
    ranked: int
    priors: dict[str, tuple[float, float]]
    """kind -> (prior mean rate m, between-developer variance phi)."""
    alternatives: dict[str, tuple[float, float | None]] = field(default_factory=dict)
    """Elasticity (and standard error) fitted on ``all`` ranked developers, on the ``unflagged`` ones, and on
    the unflagged with the high-volume taper (``trimmed``, the fit used) before the prior."""
    dispersion: dict[str, float] = field(default_factory=dict)
    """Scored kind -> the dispersion its weighed values were divided by (:func:`value_dispersion`); kinds the
    policy does not weigh are absent: they score nothing."""
    in_full: int = 0
    """Ranked developers whose tokens above the typical counted in full in every draw (a corroborated flag)."""
    in_part: int = 0
    """Ranked developers whose tokens above the typical counted in full in a share of the draws (a lone medium
    flag, :attr:`RankingConfig.uncorroborated_in_full`)."""
    fit_developers: int = 0
    fit_excluded_flagged: int = 0
    fit_excluded_volume: int = 0
    """Unflagged developers with less than half a say in the fit (far above the typical exposure)."""
    fit_effective_developers: float = 0.0
    """The fit's sum of say (a developer at or below the typical exposure counts as one)."""
    not_placed: int = 0
    """Ranked developers the board could not place with confidence (:func:`placements`)."""
    bottom_quarter_confidence: float = 0.0
    """The share of posterior draws needed to show a developer in the bottom quarter."""
    uncorroborated_in_full: float = 1.0
    """The share of draws in which a lone medium flag's tokens above the typical counted in full."""


@dataclass(frozen=True)
class Ranking:
    """Per-developer yields and ranks, plus the fit."""

    developers: pl.DataFrame
    fit: RankingFit


def fit_elasticity(
    counts: npt.NDArray[np.float64],
    exposure: npt.NDArray[np.float64],
    presence: npt.NDArray[np.float64] | None = None,
    say: npt.NDArray[np.float64] | None = None,
) -> tuple[float, float | None]:
    """Robust Poisson regression log E[y] = a + log(p) + b·log(E/p); returns (b clipped to [0, 1], its standard error).

    ``p`` is the share of the period each developer was there (:mod:`tokenaudit.presence`, default 1):
    outcomes grow in proportion to time present and with diminishing returns in tokens per unit of time,
    so someone with half the period is compared on the half they were there.

    Tukey biweights on Pearson residuals (``BIWEIGHT_C`` robust standard deviations, at least the
    Poisson one) give developers far off the curve no say in it: a tokenmaxxer adds exposure without
    outcomes and would otherwise flatten the elasticity for everyone, making inflated tokens look free.
    ``say`` (default 1 each) multiplies those weights: how much each developer counts in the fit.
    """
    import numpy as np  # here, not at the top: `audit` without outcomes never needs numpy

    offset = np.zeros_like(exposure) if presence is None else np.log(presence)
    intensity = np.log(exposure) - offset
    if counts.size < MIN_FIT_DEVELOPERS or counts.sum() == 0 or np.ptp(intensity) == 0:
        return 1.0, None
    try:
        return _robust_poisson_slope(counts, intensity, offset, np.ones_like(counts) if say is None else say)
    except np.linalg.LinAlgError:
        return 1.0, None


def _robust_poisson_slope(
    counts: npt.NDArray[np.float64],
    intensity: npt.NDArray[np.float64],
    offset: npt.NDArray[np.float64],
    say: npt.NDArray[np.float64],
) -> tuple[float, float | None]:
    import numpy as np  # here, not at the top: `audit` without outcomes never needs numpy

    x = np.column_stack([np.ones_like(intensity), intensity])
    beta = np.array([np.log(counts.mean() + 1e-9) - (intensity + offset).mean(), 1.0])
    weights = np.ones_like(counts)
    for _ in range(100):
        mu = np.exp(x @ beta + offset)
        residual = (counts - mu) / np.sqrt(mu)
        spread = max(1.0, 1.4826 * float(np.median(np.abs(residual - np.median(residual)))))
        scaled = residual / (BIWEIGHT_C * spread)
        weights = say * np.where(np.abs(scaled) < 1, (1 - scaled**2) ** 2, 0.0)
        gradient = x.T @ (weights * (counts - mu))
        hessian = x.T @ (x * (weights * mu)[:, None])
        step = np.linalg.solve(hessian, gradient)
        beta += step
        if np.abs(step).max() < 1e-10:
            break
    mu = np.exp(x @ beta + offset)
    covariance = np.linalg.inv(x.T @ (x * (weights * mu)[:, None]))
    # Quasi-Poisson: developers differ by more than Poisson noise (skill, PR habits), so the standard error
    # grows with the Pearson dispersion of the weighted fit (never below Poisson's).
    dispersion = max(1.0, float((weights * (counts - mu) ** 2 / mu).sum() / max(weights.sum() - 2, 1.0)))
    return float(np.clip(beta[1], 0.0, 1.0)), float(np.sqrt(covariance[1, 1] * dispersion))


def with_prior(fitted: float, se: float | None, prior: ElasticityPrior) -> tuple[float, float]:
    """The elasticity and its standard error after combining the fit with the normal prior (precision-weighted).

    A 60-developer organisation pins the elasticity down to about ±0.1 at best; the prior keeps a noisy or
    contaminated fit from swinging the board to "tokens cost nothing" (b near 0) or "outcomes per token"
    (b near 1). Large organisations' data outweigh it.
    """
    import numpy as np  # here, not at the top: `audit` without outcomes never needs numpy

    if se is None:
        return prior.mean, prior.sd
    precision = 1 / se**2 + 1 / prior.sd**2
    return float(np.clip((fitted / se**2 + prior.mean / prior.sd**2) / precision, 0.0, 1.0)), float(precision**-0.5)


def _prior(
    counts: npt.NDArray[np.float64], exposure: npt.NDArray[np.float64], say: npt.NDArray[np.float64]
) -> tuple[float, float]:
    """Marshall's moment estimator of the gamma prior, (mean rate m, between-developer variance phi), with each
    developer counting by their ``say`` (the elasticity fit's: see :func:`_fit_sample`).

    The prior is what everyone is shrunk towards, in proportion to how little evidence they have. Fitted on
    everyone, flagged developers with ordinary outcomes on inflated tokens lowered its rate by a third and doubled
    its spread, so a part-timer or new joiner with a few PRs was pulled towards the gamers and barely at all.
    """
    weight = say * exposure
    if exposure.size == 0 or weight.sum() <= 0:
        return 0.0, 0.0
    m = (say * counts).sum() / weight.sum()
    rates = counts / exposure
    phi = (weight * (rates - m) ** 2).sum() / weight.sum() - m * say.sum() / weight.sum()
    # The moment estimate is often <= 0 in small or uniform groups; developers' delivery differs by far more than
    # that (skill, PR habits, kinds of work), and a prior that said so would pull a genuine outlier nearly to the
    # average, so at least 25% between-developer variation is assumed.
    return float(m), float(max(phi, (MIN_PRIOR_CV * m) ** 2))


def _posterior_draws(
    y: npt.NDArray[np.float64], x: npt.NDArray[np.float64], m: float, phi: float, rng: np.random.Generator, draws: int
) -> npt.NDArray[np.float64]:
    """Draws (draws × developers) of each developer's rate under the gamma prior (point mass if phi = 0); ``x``, the
    compared exposure, is per developer or per draw and developer."""
    import numpy as np  # here, not at the top: `audit` without outcomes never needs numpy

    if phi <= 0 or m <= 0:
        return np.full((draws, y.size), m)
    alpha, beta = m * m / phi, m / phi
    return rng.gamma(shape=alpha + y, scale=1.0 / (beta + x), size=(draws, y.size))


def rank_developers(
    developers: pl.DataFrame,
    outcomes: pl.DataFrame,
    weights: dict[str, float],
    config: RankingConfig,
    flagged: Collection[str] = (),
    corroborated: Collection[str] | None = None,
) -> Ranking:
    """Rank developers by outcome yield per effective exposure, with shrinkage and uncertainty.

    ``developers``: developer, team, exposure (effective tokens, millions), active_days, and optionally
    presence (share of the period there, :mod:`tokenaudit.presence`; 1 when absent).
    ``outcomes``: developer, kind, value (identity-resolved, inside the period; value is the count or the
    size-weighted count), and optionally count (items per row, for :func:`value_dispersion`). Only kinds the
    policy weighs score (:func:`scored_kinds`). ``flagged``: developers flagged at medium+ on evidence
    independent of outcomes; they are still ranked, but left out of the elasticity fit, and their tokens
    above the typical count in full (:func:`compared_exposure`): in every posterior draw for those in
    ``corroborated`` (default: all of them), in a share of the draws for the others (:func:`in_full_chances`).
    """
    import numpy as np  # here, not at the top: `audit` without outcomes never needs numpy

    kinds = sorted(set(weights) | set(outcomes["kind"].unique().to_list()))
    counts = (
        outcomes.group_by("developer", "kind")
        .agg(pl.col("value").sort().sum())
        .pivot(on="kind", index="developer", values="value")
    )
    developers = developers.with_columns(
        presence=pl.col("presence").fill_null(1.0) if "presence" in developers.columns else pl.lit(1.0)
    )
    frame = developers.join(counts, on="developer", how="left").with_columns(
        [
            pl.col(kind).fill_null(0).cast(pl.Float64) if kind in counts.columns else pl.lit(0.0).alias(kind)
            for kind in kinds
        ]
    )
    median_exposure = frame.select(pl.col("exposure").median().fill_null(0.0)).item()
    floor = max(config.min_exposure, 0.1 * float(median_exposure))
    frame = frame.with_columns(
        eligible=(pl.col("exposure") >= floor) & (pl.col("active_days") >= config.min_active_days),
        outcome_score=pl.sum_horizontal(pl.col(kind) * weights.get(kind, 0.0) for kind in kinds),
    ).sort("developer")
    ranked = frame.filter(pl.col("eligible"))
    exposure = ranked["exposure"].to_numpy().astype(np.float64)
    presence = ranked["presence"].to_numpy().astype(np.float64)
    positive = ranked.select(pl.sum_horizontal(k for k in POSITIVE_KINDS if k in kinds)).to_series().to_numpy()
    in_full = ranked["developer"].is_in(list(flagged)).to_numpy()
    sample = _fit_sample(in_full, exposure / presence, config)
    typical_use = typical_intensity(exposure / presence, sample["unflagged"])
    fits = {
        name: fit_elasticity(positive[say > 0].astype(np.float64), exposure[say > 0], presence[say > 0], say[say > 0])
        for name, say in sample.items()
    }
    if config.elasticity == "fit":
        b, se = with_prior(*fits["trimmed"], config.elasticity_prior)
    else:
        b, se = float(config.elasticity), None
    chance = in_full_chances(
        ranked["developer"], flagged, flagged if corroborated is None else corroborated, config.uncorroborated_in_full
    )
    diminished, _ = compared_exposure(exposure, presence, b, np.zeros(ranked.height, dtype=bool), typical_use)
    full, above = compared_exposure(exposure, presence, b, chance > 0, typical_use)
    # Each draw counts a developer's tokens above the typical in full with their chance (the same draws for every
    # kind): a lone flag's doubt widens their rank interval rather than deciding their place.
    in_full_draws = (
        np.random.default_rng([config.seed, zlib.crc32(b"tokens_in_full")]).random((config.draws, ranked.height))
        < chance
    )
    x = chance * full + (1 - chance) * diminished
    x_draws = np.where(in_full_draws, full, diminished)
    say = sample["trimmed"]
    groups = (
        ranked["team"].fill_null("(org)").to_numpy()
        if config.normalize == "team"
        else np.full(ranked.height, "(org)", dtype=object)
    )
    group_sizes = {g: int((groups == g).sum()) for g in set(groups)}
    groups = np.array([g if group_sizes[g] >= config.min_team_size else "(org)" for g in groups], dtype=object)
    yield_draws = np.zeros((config.draws, ranked.height))
    priors: dict[str, tuple[float, float]] = {}
    typical: dict[str, float] = {}
    """group -> the typical yield of its prior (sum of weight x prior rate); "(org)" always present."""
    dispersion = value_dispersion(outcomes)
    for kind in scored_kinds(kinds, weights):
        # Weighed outcomes are a compound count (a few big PRs vary more than many typical ones): dividing by
        # the kind's dispersion turns them into effective counts whose variance is Poisson's, so a developer
        # with few, large items is shrunk as much as their evidence warrants, not as if each line were an item.
        scale = dispersion.get(kind, 1.0)
        y = ranked[kind].to_numpy().astype(np.float64) / scale
        weight = weights[kind] * scale
        rng = np.random.default_rng([config.seed, zlib.crc32(kind.encode())])
        org_prior = _prior(y, x, say)
        priors[kind] = (org_prior[0] * scale, org_prior[1] * scale**2)
        typical["(org)"] = typical.get("(org)", 0.0) + weight * org_prior[0]
        rates = np.zeros((config.draws, ranked.height))
        for group in sorted(set(groups.tolist())):
            members = groups == group
            # Teams with enough developers get their own prior; everyone else shares the organisation's.
            m, phi = org_prior if group == "(org)" else _prior(y[members], x[members], say[members])
            rates[:, members] = _posterior_draws(y[members], x_draws[:, members], m, phi, rng, config.draws)
            if group != "(org)":
                priors[f"{kind}@{group}"] = (m * scale, phi * scale**2)
                typical[group] = typical.get(group, 0.0) + weight * m
        yield_draws += weight * rates
    org_typical = typical.get("(org)", 0.0)
    for group, level in typical.items():
        # Team normalisation: express each team's yields on the organisation's scale, so a team with
        # finer-grained pull requests does not outrank one with coarser ones by PR size alone.
        if group != "(org)" and level > 0 and org_typical > 0:
            yield_draws[:, groups == group] *= org_typical / level
    if ranked.height:
        order = np.argsort(np.argsort(-yield_draws, axis=1), axis=1) + 1
        expected_rank = order.mean(axis=0)
        bottom_quarter_chance = (order > 0.75 * ranked.height).mean(axis=0)
        low, high = np.percentile(order, [5, 95], axis=0)
        p05, p10, median, p90, p95 = np.percentile(yield_draws, [5, 10, 50, 90, 95], axis=0)
    else:
        expected_rank = bottom_quarter_chance = low = high = p05 = p10 = median = p90 = p95 = np.zeros(0)
    key = expected_rank if config.sort == "expected_rank" else -p10
    row, placed = placements(key, bottom_quarter_chance >= config.bottom_quarter_confidence)
    estimates = pl.DataFrame(
        {
            "developer": ranked["developer"],
            "yield_mean": yield_draws.mean(axis=0) if ranked.height else np.zeros(0),
            "yield_p05": p05,
            "yield_p10": p10,
            "yield_median": median,
            "yield_p90": p90,
            "yield_p95": p95,
            "expected_rank": expected_rank,
            "bottom_quarter_chance": bottom_quarter_chance,
            "compared_exposure": x,
            "tokens_in_full": above & (chance == 1),
            "tokens_in_full_share": np.where(above, chance, 0.0),
            "board_row": row,
            "rank_adjusted": pl.Series(row, dtype=pl.Int64).scatter(np.flatnonzero(~placed), None),
            "rank_low": np.floor(low).astype(np.int64),
            "rank_high": np.ceil(high).astype(np.int64),
        }
    )
    result = frame.join(estimates, on="developer", how="left").with_columns(
        status=pl.when(~pl.col("eligible"))
        .then(pl.lit("insufficient_data"))
        .when(pl.col("rank_adjusted").is_null())
        .then(pl.lit("not_placed"))
        .otherwise(pl.lit("ranked")),
        peer_median_yield=pl.col("yield_mean").median(),
    )
    fit = RankingFit(
        elasticity=b,
        elasticity_se=se,
        fitted=config.elasticity == "fit" and fits["trimmed"][1] is not None,
        basis=(
            "fixed by policy"
            if config.elasticity != "fit"
            else "fitted, combined with the prior"
            if fits["trimmed"][1] is not None
            else f"the prior alone: fewer than {MIN_FIT_DEVELOPERS} ranked developers with spread to fit"
        ),
        min_exposure=floor,
        ranked=ranked.height,
        priors=priors,
        alternatives={name: fits[name] for name in ("all", "unflagged", "trimmed")},
        dispersion={kind: dispersion.get(kind, 1.0) for kind in scored_kinds(kinds, weights)},
        in_full=int((above & (chance == 1)).sum()),
        in_part=int((above & (chance > 0) & (chance < 1)).sum()),
        fit_developers=int((sample["trimmed"] > 0).sum()),
        fit_excluded_flagged=int((sample["unflagged"] == 0).sum()),
        fit_excluded_volume=int(((sample["trimmed"] > 0) & (sample["trimmed"] < 0.5)).sum()),
        fit_effective_developers=float(sample["trimmed"].sum()),
        not_placed=int((~placed).sum()),
        bottom_quarter_confidence=config.bottom_quarter_confidence,
        uncorroborated_in_full=config.uncorroborated_in_full,
    )
    return Ranking(developers=result, fit=fit)


def placements(
    key: npt.NDArray[np.float64], sure: npt.NDArray[np.bool_]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    """Each developer's row on the board (1 = best) by ``key``, and whether that row is a rank the board claims:
    not for developers the key puts in the bottom quarter who are not ``sure`` to be there (too few posterior
    draws put them there).

    The others keep their places (the board does not close up): closing up would move the next developers into
    the bottom quarter on no new evidence, and the bottom-quarter chance is a statement about the whole board.
    A developer with strong evidence of a low yield is sure, so is placed there however long their data.
    """
    import numpy as np  # here, not at the top: `audit` without outcomes never needs numpy

    order = np.argsort(key, kind="stable")
    row = np.empty(key.size, dtype=np.int64)
    row[order] = np.arange(1, key.size + 1)
    return row, (row <= 0.75 * key.size) | sure


def compared_exposure(
    exposure: npt.NDArray[np.float64],
    presence: npt.NDArray[np.float64],
    b: float,
    flagged: npt.NDArray[np.bool_],
    typical: float,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    """The exposure each developer's outcomes are compared with, presence x typical x (intensity/typical)^b,
    and who had tokens counted in full.

    Intensity is exposure per unit of presence, so time present counts in full and tokens per unit of time
    with diminishing returns (b < 1), relative to the ``typical`` intensity (:func:`typical_intensity`).
    Diminishing returns are an allowance for a person's own heavy use; a developer flagged at medium+ on
    evidence independent of outcomes (a loop, a prompt farm, stuffed context, farmed PRs) gets none above
    the typical: those tokens count in full (b = 1), so inflating them costs yield in proportion.
    """
    import numpy as np  # here, not at the top: `audit` without outcomes never needs numpy

    relative = exposure / presence / typical
    in_full = flagged & (relative > 1)
    return presence * typical * np.where(in_full, relative, relative**b), in_full


def typical_intensity(intensity: npt.NDArray[np.float64], say: npt.NDArray[np.float64]) -> float:
    """The typical (median) exposure per unit of presence of the developers with a say in the elasticity fit (the
    unflagged; everyone when too few are): where diminishing returns stop for a flagged developer.

    Taken over everyone, it let flagged developers' inflated tokens raise the line above which their own tokens
    count in full (by 5-21% on adversarial seeds 1-25, where 10-12 of 60 were flagged); the elasticity fit's
    taper (:func:`_fit_sample`) is anchored on the same median.
    """
    import numpy as np  # here, not at the top: `audit` without outcomes never needs numpy

    return float(np.median(intensity[say > 0])) if intensity.size else 1.0


def in_full_chances(
    developers: pl.Series, flagged: Collection[str], corroborated: Collection[str], uncorroborated: float
) -> npt.NDArray[np.float64]:
    """Per developer, the share of posterior draws in which their tokens above the typical count in full: 1 with a
    corroborated flag, ``uncorroborated`` with a lone medium flag, 0 unflagged.

    A flag is a prompt for a conversation, not a verdict. One medium flag with nothing beside it is what the risk
    level calls low; counting its tokens in full in every draw would turn a borderline statistic (a score at 4.06
    where 4 makes medium) into a near-certain place in the bottom quarter. In a share of the draws it widens the
    rank interval instead, so the board places such a developer only when their outcomes say so either way.
    """
    import numpy as np  # here, not at the top: `audit` without outcomes never needs numpy

    flagged_now = developers.is_in(list(flagged)).to_numpy()
    strong = flagged_now & developers.is_in(list(corroborated)).to_numpy()
    return np.where(strong, 1.0, np.where(flagged_now, uncorroborated, 0.0))


def scored_kinds(kinds: Collection[str], weights: dict[str, float]) -> list[str]:
    """The kinds that count toward yield: those the policy weighs (non-zero). Kinds only the data names
    (deployments, reviews from a generic export) are listed and counted, but score nothing until the policy
    gives them a weight, so adding an export never moves the board by itself."""
    return sorted(kind for kind in kinds if weights.get(kind, 0.0) != 0.0)


def value_dispersion(outcomes: pl.DataFrame) -> dict[str, float]:
    """Per kind, the mean square over the mean of its items' values: 1 for plain counts, above 1 when sizes
    weigh them (a row of ``count`` items worth ``value`` in all holds items of value/count each; without a
    ``count`` column the values are taken as plain counts).

    A sum of weighed items has variance (count x mean square), not its mean; divided by this factor it is an
    effective count with Poisson variance (the quasi-Poisson scaling of a compound Poisson sum).
    """
    if "count" not in outcomes.columns:
        return {}
    items = pl.col("count").cast(pl.Float64)
    totals = (
        outcomes.filter(items > 0)
        .group_by("kind")
        .agg((pl.col("value") ** 2 / items).sum().alias("square"), pl.col("value").sum().alias("total"))
    )
    return {kind: (square / total if total > 0 and square > 0 else 1.0) for kind, square, total in totals.iter_rows()}


def _fit_sample(
    flagged: npt.NDArray[np.bool_], intensity: npt.NDArray[np.float64], config: RankingConfig
) -> dict[str, npt.NDArray[np.float64]]:
    """Each ranked developer's say in the elasticity fit (0 = left out): ``all`` equally; ``unflagged``,
    without those flagged on evidence independent of outcomes; ``trimmed`` (the fit used), the unflagged with
    a say that falls as (typical/intensity)^``fit_taper`` above the typical intensity (exposure per unit of
    presence).

    Inflated tokens sit above the typical with ordinary outcomes and flatten the fit (inflating would then
    cost almost no yield). A say that depends on exposure alone, the regressor, does not bias a regression on
    it, so the taper is safe for honest data; being smooth and anchored on the median, not a cut at a
    quantile, it barely moves when gamers join or leave the organisation.
    """
    import numpy as np  # here, not at the top: `audit` without outcomes never needs numpy

    everyone = np.ones(flagged.size)
    unflagged = (~flagged).astype(np.float64) if (~flagged).sum() >= MIN_FIT_DEVELOPERS else everyone
    taper = np.minimum(1.0, (typical_intensity(intensity, unflagged) / intensity) ** config.fit_taper)
    return {"all": everyone, "unflagged": unflagged, "trimmed": unflagged * taper}
