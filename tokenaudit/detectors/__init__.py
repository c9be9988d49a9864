"""Goodhart-risk detectors: registry, the single entry point, and how flags combine into risk.

No single signal convicts (method study §4): a developer's risk is *medium* or *high* only with
"how" evidence (automation, waste, timing or yield), materiality (above the peer median in tokens),
and corroboration for *high*. Flags are prompts for a conversation, not verdicts.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Final

import polars as pl

from tokenaudit.detectors import (
    context,
    coverage,
    drip,
    outcome_gaming,
    pace,
    regularity,
    rejected,
    repetition,
    rest,
    shape,
    timing,
    volume,
    yield_,
)
from tokenaudit.detectors.base import (
    NO_TOKENS,
    ORG,
    SEVERITIES,
    Detector,
    DetectorContext,
    Flag,
    as_text,
    ordered_requests,
    over_peers,
)
from tokenaudit.detectors.config import Bands, Flags, Leaderboard
from tokenaudit.detectors.coverage import coverage_note as coverage_note
from tokenaudit.detectors.shape import with_person_turns
from tokenaudit.metrics import local_day
from tokenaudit.schema import TOKEN_COLUMNS, total_tokens

DETECTORS: Final[tuple[Detector, ...]] = (
    volume.DETECTOR,
    regularity.DETECTOR,
    rest.DETECTOR,
    shape.DETECTOR,
    pace.DETECTOR,
    drip.DETECTOR,
    repetition.DETECTOR,
    context.DETECTOR,
    timing.SNAPSHOT_SPIKE,
    timing.LAUNCH_STEP,
    yield_.DETECTOR,
    outcome_gaming.DETECTOR,
    rejected.DETECTOR,
    coverage.DETECTOR,
)
FEATURE_THREADS: Final = 2
"""The detectors' features are computed this many at a time (:func:`detector_features`): Polars releases the GIL, and
much of a feature's work runs on one core (ordered group-bys, stable sorts, scans of neighbours)."""
HEAVIEST_FIRST: Final = ("context_stuffing", "no_rest_rhythm", "machine_regularity")
"""The detectors whose features cost most (at 10M flat events, CPU s: 2.9, 2.3, 1.6 of about 11 in all), started
first so that the two threads end together."""
CORE_FAMILIES: Final = ("automation", "waste", "timing", "yield")
NEAR_MISS_SCHEMA: Final = {
    "developer": pl.String,
    "id": pl.String,
    "statistic": pl.String,
    "value": pl.Float64,
    "level": pl.String,
    "threshold": pl.Float64,
}
NEAR_SHARE: Final = 0.25
"""A statistic is a near miss within this share of the gap between bands below the next band's threshold."""


def near_misses(frame: pl.DataFrame, detector: Detector, blocks: Flags) -> pl.DataFrame:
    """Evaluated developers whose statistic sits just below the next band up from their severity.

    "machine_regularity: local_variation 0.62, medium starts at 0.6" tells a lead how close a pattern came,
    and a gamer's adaptations show up here before they show up as flags.
    """
    config = getattr(blocks, detector.id)
    rows = []
    for column, name in detector.gauges:
        bands: Bands = getattr(config, name)
        value = pl.col(column)
        spans = (abs(bands.medium - bands.low), abs(bands.medium - bands.low), abs(bands.high - bands.medium))
        for level, (threshold, span) in enumerate(zip((bands.low, bands.medium, bands.high), spans, strict=True), 1):
            distance = (threshold - value) if bands.high >= bands.low else (value - threshold)
            rows.append(
                frame.filter(
                    pl.col("needs").is_null()
                    & (pl.col("severity") == level - 1)
                    & (distance > 0)
                    & (distance <= NEAR_SHARE * span)
                ).select(
                    "developer",
                    pl.lit(detector.id).alias("id"),
                    pl.lit(column).alias("statistic"),
                    value.cast(pl.Float64).round(4).alias("value"),
                    pl.lit(SEVERITIES[level]).alias("level"),
                    pl.lit(float(threshold)).alias("threshold"),
                )
            )
    return pl.concat([pl.DataFrame(schema=NEAR_MISS_SCHEMA), *rows])


@dataclass(frozen=True)
class Findings:
    """Flags, what could not be evaluated (and why), and the per-developer risk."""

    flags: list[Flag]
    not_evaluated: pl.DataFrame
    """developer, id, needs."""
    risk: pl.DataFrame
    """developer, risk_level, risk_score, families (list), material (bool), coverage_* shares."""
    near_misses: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=NEAR_MISS_SCHEMA))
    """developer, id, statistic, value, level, threshold: statistics close below the next band."""
    settings: Flags = field(default_factory=Flags)
    """The policy's ``flags:`` section the detectors ran with (explain reuses its session rules)."""


def peer_groups(developers: pl.DataFrame, min_team_size: int = 8) -> pl.DataFrame:
    """Each developer's peer group: their team when it has enough developers with data, else the org.

    Developers whose sources report no tokens (Copilot metrics, Cursor daily usage) form their own group:
    counted among token users, their zeros would drag every peer median down and hide real outliers.
    """
    measured = pl.col("total_tokens") > 0
    team_size = pl.len().over("team", measured)
    return developers.with_columns(
        peer_group=pl.when(~measured)
        .then(pl.lit(NO_TOKENS))
        .when(pl.col("team").is_not_null() & (team_size >= min_team_size))
        .then(pl.col("team"))
        .otherwise(pl.lit(ORG))
    ).with_columns(n_peers=over_peers(pl.len()))


def build_context(
    events: pl.DataFrame,
    developers: pl.DataFrame,
    flags: Flags,
    leaderboard: Leaderboard,
    timezone: str,
    yields: pl.DataFrame | None = None,
    outcomes: pl.DataFrame | None = None,
    usage: pl.DataFrame | None = None,
) -> DetectorContext:
    """Apply the policy's exclusions and assemble what detectors read.

    On a slice of the events that holds whole developers (a shard), the context's ``developers`` has those
    developers' own statistics right and their peer groups wrong: :func:`detector_features` and
    :func:`people` of every shard, concatenated, give the whole period's (see :func:`judged_context`). ``usage``:
    the events' :func:`~tokenaudit.metrics.usage_cube` in ``timezone``, when at hand: where the policy excludes
    nothing, the developers' totals and active days are read from it instead of every event.
    """
    # Most policies exclude nothing: then no copy of every event, nor a test of every event where none can be excluded.
    kept = events if keeps_all(events, flags) else events.filter(kept_by(flags))
    requests, codes, by_session = ordered_requests(kept)
    requests = with_person_turns(requests, flags.headless_work, by_session)
    people = (
        developer_totals(kept, timezone, usage if kept is events else None)
        .join(developers.lazy().select("developer", "team"), on="developer", how="left")
        .join(codes.lazy(), on="developer", how="left")
        .sort("developer")
        .collect()
    )
    return DetectorContext(
        events=kept,
        requests=requests,
        developers=peer_groups(people),
        flags=flags,
        leaderboard=leaderboard,
        yields=yields,
        outcomes=outcomes,
        session_order=by_session,
    )


def kept_by(flags: Flags) -> pl.Expr:
    """Whether the policy's exclusions keep an event (null: it cannot tell, and the event is left out): not a service
    account's, not an ignored model's, no request below ``min_request_tokens``."""
    return (
        ~pl.col("developer").is_in(flags.service_accounts)
        & ~pl.col("model").fill_null("").is_in(flags.ignore_models)
        & ((pl.col("grain") != "request") | (total_tokens() >= flags.min_request_tokens))
    )


def keeps_all(events: pl.DataFrame, flags: Flags) -> bool:
    """Whether :func:`kept_by` keeps every event. Without service accounts and ignored models, with every developer and
    token count known and no count negative, no request is below a ``min_request_tokens`` of 0: null counts and four
    column minimums tell, not a test of every event (0.8 s of CPU at 10M flat events)."""
    if not (flags.service_accounts or flags.ignore_models or flags.min_request_tokens > 0):
        known = all(events.get_column(name).null_count() == 0 for name in ("developer", *TOKEN_COLUMNS))
        lowest = events.select(pl.min_horizontal(pl.col(name).min() for name in TOKEN_COLUMNS)).item()
        if known and (lowest is None or lowest >= 0):
            return True
    return bool(events.select(kept_by(flags).fill_null(value=False).all()).item())


def developer_totals(events: pl.DataFrame, timezone: str, usage: pl.DataFrame | None = None) -> pl.LazyFrame:
    """developer, total_tokens, active_days (local days in ``timezone``) of ``events``, from their usage cube when
    given (a few hundred thousand rows at 10M events, where the events' names and days cost seconds to group)."""
    if usage is not None:
        return (
            usage.lazy()
            .group_by("developer")
            .agg(pl.col("total_tokens").sum(), pl.col("day").n_unique().alias("active_days"))
        )
    return (
        events.lazy()  # the default engine groups on the names' strings in about half the time
        .group_by("developer")
        .agg(total_tokens().sum(), local_day(timezone).n_unique().alias("active_days"))
        .with_columns(pl.col("developer").cast(pl.String))  # given as codes: text
    )


def people(context: DetectorContext) -> pl.DataFrame:
    """The context's developers' own statistics, without its codes and peer groups: what a shard contributes to the
    table peer groups are formed on (:func:`judged_context`)."""
    return context.developers.select("developer", "total_tokens", "active_days", "team")


def detector_features(context: DetectorContext) -> dict[str, pl.DataFrame]:
    """The features of every enabled detector that has them, by detector id, on this context (a shard's, or the whole
    period's); the coverage shares always (the risk table reports them). Computed :data:`FEATURE_THREADS` at a time,
    the heaviest first; each detector's frame is the same as computed alone."""
    wanted = [
        detector
        for detector in DETECTORS
        if detector.features is not None
        and (getattr(context.flags, detector.id).enabled or detector is coverage.DETECTOR)
    ]
    heaviest = {name: place for place, name in enumerate(HEAVIEST_FIRST)}
    started = sorted(wanted, key=lambda detector: heaviest.get(detector.id, len(heaviest)))

    def computed(detector: Detector) -> pl.DataFrame:
        assert detector.features is not None
        return as_text(detector.features(context))

    with ThreadPoolExecutor(FEATURE_THREADS, thread_name_prefix="features") as pool:
        frames = dict(zip([detector.id for detector in started], pool.map(computed, started), strict=True))
    return {detector.id: frames[detector.id] for detector in wanted}


def merged_features(shards: Sequence[Mapping[str, pl.DataFrame]]) -> dict[str, pl.DataFrame]:
    """The shards' :func:`detector_features` concatenated per detector: the whole period's, as each holds whole
    developers."""
    return (
        {key: pl.concat([shard[key] for shard in shards], how="diagonal_relaxed") for key in shards[0]}
        if shards
        else {}
    )


@dataclass(frozen=True)
class ShardedFeatures:
    """What the detectors need of the events, computed shard by shard (each shard holding whole developers): every
    shard's :func:`people`, the detectors' :func:`merged_features`, and the settings they were computed with."""

    people: list[pl.DataFrame]
    detectors: dict[str, pl.DataFrame]
    flags: Flags
    leaderboard: Leaderboard
    timezone: str

    @classmethod
    def of(cls, shard: DetectorContext, timezone: str) -> ShardedFeatures:
        """One shard's, from its context (:func:`build_context` of its events)."""
        return cls([people(shard)], detector_features(shard), shard.flags, shard.leaderboard, timezone)

    @staticmethod
    def merged(shards: Sequence[ShardedFeatures]) -> ShardedFeatures:
        """The shards' (computed with the same settings) as one."""
        return replace(
            shards[0],
            people=[frame for shard in shards for frame in shard.people],
            detectors=merged_features([shard.detectors for shard in shards]),
        )

    def fit(self, flags: Flags, leaderboard: Leaderboard, timezone: str) -> bool:
        """Whether these were computed with these settings (else the detectors must read the events)."""
        return (self.flags, self.leaderboard, self.timezone) == (flags, leaderboard, timezone)


def judged_context(
    shards_people: Sequence[pl.DataFrame],
    flags: Flags,
    leaderboard: Leaderboard,
    yields: pl.DataFrame | None = None,
    outcomes: pl.DataFrame | None = None,
) -> DetectorContext:
    """The context the detectors' judges read, from every shard's :func:`people`: peer groups over the union, and no
    events or requests (run it with :func:`run_detectors`' ``features``)."""
    return DetectorContext(
        events=pl.DataFrame(),
        requests=pl.DataFrame(),
        developers=peer_groups(pl.concat(shards_people).sort("developer")),
        flags=flags,
        leaderboard=leaderboard,
        yields=yields,
        outcomes=outcomes,
    )


def _evidence(row: dict[str, object], names: tuple[str, ...]) -> dict[str, object]:
    values = {name: row.get(name) for name in names}
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in values.items()}


def _fired(severities: list[pl.DataFrame]) -> pl.DataFrame:
    """The detectors' fired rows so far, one frame: developer, family, severity."""
    return pl.concat([frame.select("developer", "family", "severity") for frame in severities], how="vertical_relaxed")


def corroborated(core: pl.Expr, signals: pl.Expr, volume: pl.Expr) -> pl.Expr:
    """The risk level's medium rule, materiality aside: a "how" signal at high, or one at medium beside a second
    signal or volume at medium+."""
    return (core == 3) | ((core == 2) & ((signals >= 2) | (volume >= 2)))


def flagged_independently(severities: list[pl.DataFrame]) -> list[str]:
    """Developers with a medium+ automation, waste or timing flag: evidence that does not depend on outcomes."""
    fired = _fired(severities)
    return sorted(fired.filter(pl.col("family").is_in(CORE_FAMILIES) & (pl.col("severity") >= 2))["developer"])


def corroborated_independently(severities: list[pl.DataFrame]) -> list[str]:
    """The developers of :func:`flagged_independently` whose evidence is corroborated as the risk level counts it
    (its medium rule, materiality aside): a high flag, or a medium one beside a second signal or volume at medium+.

    A lone medium flag is what the risk level calls low; the ranking counts its tokens in full in only a share of
    its draws (:func:`tokenaudit.ranking.in_full_chances`).
    """
    how = pl.col("family").is_in(CORE_FAMILIES)
    evidence = (
        _fired(severities)
        .group_by("developer")
        .agg(
            pl.col("severity").filter(how).max().fill_null(0).alias("core"),
            (how & (pl.col("severity") >= 1)).sum().alias("signals"),
            pl.col("severity").filter(pl.col("family") == "inflation").max().fill_null(0).alias("volume"),
        )
    )
    return sorted(evidence.filter(corroborated(pl.col("core"), pl.col("signals"), pl.col("volume")))["developer"])


def automated_on_full_baselines(ctx: DetectorContext, features: Mapping[str, pl.DataFrame]) -> tuple[str, ...]:
    """Developers an automation detector flags at medium or high with every peer in its baselines: the context's
    ``automated``, left out of the baselines of what people do by hand (:func:`.base.hand_baseline`).

    One round, on the full baselines: a bounded rule, which cannot keep lowering a team's median by its busiest people
    one at a time (iterating to a fixed point changed no flag on the adversarial seeds 1-25).
    """
    automated: set[str] = set()
    for detector in DETECTORS:
        enabled = getattr(ctx.flags, detector.id).enabled
        if detector.family == "automation" and detector.features is not None and enabled:
            frame = detector.run(ctx, features.get(detector.id))
            automated.update(frame.filter(pl.col("needs").is_null() & (pl.col("severity") >= 2))["developer"])
    return tuple(sorted(automated))


def run_detectors(
    ctx: DetectorContext,
    rank: Callable[[list[str], list[str]], pl.DataFrame] | None = None,
    features: Mapping[str, pl.DataFrame] | None = None,
) -> Findings:
    """Run every enabled detector and combine the results into flags and risk levels.

    Token-side detectors run first. With ``rank``, the outcome-adjusted ranking is then computed by it, told
    who is flagged on evidence independent of outcomes (:func:`flagged_independently`, kept out of its
    elasticity fit) and whose flag is corroborated (:func:`corroborated_independently`), and the yields it
    returns feed the outcome-side detectors and the exculpatory cap. ``features``: the detectors'
    :func:`detector_features`, computed beforehand (shard by shard, then :func:`merged_features`); without them each
    detector computes its own from the context.
    """
    features = detector_features(ctx) if features is None else features
    ctx = replace(ctx, automated=automated_on_full_baselines(ctx, features))
    flags: list[Flag] = []
    skipped: list[pl.DataFrame] = []
    close: list[pl.DataFrame] = []
    severities: list[pl.DataFrame] = [
        pl.DataFrame(
            schema={
                "developer": pl.String,
                "family": pl.String,
                "severity": pl.Int64,
                "id": pl.String,
                "unambiguous": pl.Boolean,
            }
        )
    ]
    for detector in sorted(DETECTORS, key=lambda d: d.uses_outcomes):
        if detector.uses_outcomes and rank is not None:
            yields = rank(flagged_independently(severities), corroborated_independently(severities))
            ctx, rank = replace(ctx, yields=yields), None
        if not getattr(ctx.flags, detector.id).enabled:
            continue
        frame = detector.run(ctx, features.get(detector.id))
        evaluated = frame.filter(pl.col("needs").is_null())
        close.append(near_misses(frame, detector, ctx.flags))
        skipped.append(
            frame.filter(pl.col("needs").is_not_null()).select("developer", pl.lit(detector.id).alias("id"), "needs")
        )
        fired = evaluated.filter(pl.col("severity") > 0).sort("developer")
        unambiguous = pl.col("unambiguous") if "unambiguous" in fired.columns else pl.lit(value=False)
        severities.append(
            fired.select(
                "developer",
                pl.lit(detector.family).alias("family"),
                "severity",
                pl.lit(detector.id).alias("id"),
                unambiguous.fill_null(value=False).alias("unambiguous"),
            )
        )
        flags.extend(
            Flag(
                developer=row["developer"],
                id=detector.id,
                family=detector.family,
                severity=SEVERITIES[row["severity"]],
                strength=round(float(row["strength"] or 0.0), 3),
                reason=detector.reason(row),
                evidence=json.loads(json.dumps(_evidence(row, detector.evidence), default=str)),
                consider=detector.consider,
            )
            for row in fired.iter_rows(named=True)
        )
    not_evaluated = pl.concat(
        [pl.DataFrame(schema={"developer": pl.String, "id": pl.String, "needs": pl.String}), *skipped]
    )
    return Findings(
        flags=flags,
        not_evaluated=not_evaluated,
        risk=combine(ctx, severities, features.get(coverage.DETECTOR.id)),
        near_misses=pl.concat([pl.DataFrame(schema=NEAR_MISS_SCHEMA), *close]).sort("developer", "id", "statistic"),
        settings=ctx.flags,
    )


def combine(ctx: DetectorContext, severities: list[pl.DataFrame], shares: pl.DataFrame | None = None) -> pl.DataFrame:
    """Risk level per developer (the README's table; method study §4, with independent signals counted).

    * **high**: material, and either one "how" signal at high corroborated by another "how" signal at
      medium or above (two automation detectors count: they measure different things), by a second
      family, or by volume at medium+; or one unambiguous signal (an exact clock all day);
    * **medium**: material, and a "how" signal at high, or one at medium with a second signal or volume;
    * **low**: any other flag (a lone weak signal); **none**: no flag.

    ``shares``: the coverage shares reported beside the level (:func:`coverage.shares` of the context's events
    unless given).
    """
    fired = pl.concat(
        [
            pl.DataFrame(
                schema={
                    "developer": pl.String,
                    "family": pl.String,
                    "severity": pl.Int32,
                    "id": pl.String,
                    "unambiguous": pl.Boolean,
                }
            ),
            *(frame.with_columns(pl.col("severity").cast(pl.Int32)) for frame in severities),
        ],
        how="diagonal_relaxed",  # frames without an "unambiguous" column claim nothing unambiguous
    ).with_columns(pl.col("unambiguous").fill_null(value=False))
    families = fired.group_by("developer", "family").agg(pl.col("severity").max())
    per_family = families.pivot(on="family", index="developer", values="severity")
    for family in ("inflation", *CORE_FAMILIES):
        if family not in per_family.columns:
            per_family = per_family.with_columns(pl.lit(0, pl.Int32).alias(family))
    how = pl.col("family").is_in(CORE_FAMILIES)
    signals = fired.group_by("developer").agg(
        (how & (pl.col("severity") >= 1)).sum().alias("signals"),
        (how & (pl.col("severity") >= 2)).sum().alias("strong_signals"),
        (how & pl.col("unambiguous") & (pl.col("severity") == 3)).any().alias("unambiguous"),
    )
    # Gaming the leaderboard's timing makes usage material even below the median, if the signal is clear.
    timing_fired = (
        fired.filter(pl.col("id").is_in(["snapshot_spike", "launch_step"]) & (pl.col("severity") >= 2))
        .select("developer")
        .unique()
    )
    core = pl.max_horizontal(*CORE_FAMILIES)
    support = pl.sum_horizontal(*((pl.col(f) >= 1).cast(pl.Int32) for f in CORE_FAMILIES))
    volume_sev = pl.col("inflation")
    material = pl.col("material")
    level = (
        pl.when(
            material
            & (
                ((core == 3) & ((support >= 2) | (volume_sev >= 2) | (pl.col("strong_signals") >= 2)))
                | pl.col("unambiguous")
            )
        )
        .then(pl.lit("high"))
        .when(material & corroborated(core, pl.col("signals"), volume_sev))
        .then(pl.lit("medium"))
        .when(pl.max_horizontal(core, volume_sev) >= 1)
        .then(pl.lit("low"))
        .otherwise(pl.lit("none"))
    )
    developers = ctx.developers.with_columns(
        material=pl.col("total_tokens") >= over_peers(pl.col("total_tokens").median())
    )
    # Exculpatory cap (method study §4): strong outcomes cap the level at low, judged by a conservative bound
    # (by default the 10th percentile of yield at or above the typical yield). Never for a medium+ flag whose
    # evidence outcomes cannot explain away (a machine clock, a prompt farm, farmed outcomes).
    unexcused = fired.filter(
        pl.col("id").is_in([d.id for d in DETECTORS if not d.outcomes_exculpate]) & (pl.col("severity") >= 2)
    )["developer"]
    strong = (
        ctx.yields.filter(
            (pl.col(f"yield_{ctx.flags.outcome_cap}") >= pl.col("peer_median_yield"))
            & (pl.col("peer_median_yield") > 0)
            & (pl.col("status") != "insufficient_data")
            & ~pl.col("developer").is_in(unexcused.implode())
        )
        .select("developer")
        .to_series()
        .implode()
        if ctx.yields is not None and ctx.flags.outcome_cap != "off"
        else pl.lit([], pl.List(pl.String))
    )
    capped_level = pl.when(pl.col("capped_by_outcomes") & pl.col("risk_level").is_in(["medium", "high"])).then(
        pl.lit("low")
    )
    return (
        developers.select("developer", "material")
        .join(per_family.fill_null(0), on="developer", how="left")
        .join(signals, on="developer", how="left")
        .with_columns(
            pl.col("inflation", *CORE_FAMILIES, "signals", "strong_signals").fill_null(0),
            pl.col("unambiguous").fill_null(value=False),
        )
        .with_columns(material=pl.col("material") | pl.col("developer").is_in(timing_fired["developer"].implode()))
        .with_columns(
            risk_level=level,
            risk_score=(core + 0.5 * (support - 1).clip(0) + 0.5 * volume_sev).cast(pl.Float64),
            families=pl.concat_list(
                [pl.when(pl.col(f) >= 1).then(pl.lit(f)) for f in ("inflation", *CORE_FAMILIES)]
            ).list.drop_nulls(),
            capped_by_outcomes=pl.col("developer").is_in(strong),
        )
        .with_columns(
            risk_level=capped_level.otherwise(pl.col("risk_level")),
            capped_by_outcomes=pl.col("capped_by_outcomes") & pl.col("risk_level").is_in(["medium", "high"]),
        )
        .with_columns(
            # Which bound of the yield excused the level (said in the output): the policy's outcome_cap.
            cap_bound=pl.when("capped_by_outcomes").then(pl.lit(f"yield_{ctx.flags.outcome_cap}")),
        )
        .join(coverage.shares(ctx.events) if shares is None else shares, on="developer", how="left")
        .select(
            "developer",
            "risk_level",
            "risk_score",
            "families",
            "material",
            "capped_by_outcomes",
            "cap_bound",
            "coverage_timing",
            "coverage_sessions",
            "coverage_prompts",
            "unexamined_sources",
        )
    )
