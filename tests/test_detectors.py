"""Each detector on hand-built events: one case that must fire (with its evidence), one near miss."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from tests.synthetic import START, events, human_offsets, org
from tokenaudit.detectors import (
    Findings,
    build_context,
    coverage_note,
    drip,
    regularity,
    repetition,
    rest,
    run_detectors,
    shape,
)
from tokenaudit.detectors.base import sorted_requests
from tokenaudit.detectors.config import DripFeed, Flags, HeadlessWork
from tokenaudit.detectors.shape import with_person_turns
from tokenaudit.policy import Policy, parse_policy
from tokenaudit.schema import TOKEN_COLUMNS

DAY = 86_400
LEADERBOARD = 'leaderboard:\n  snapshot_weekday: friday\n  snapshot_time: "17:00"\n  launched: 2026-10-05\n'


def detect(frame: pl.DataFrame, policy: Policy | None = None) -> Findings:
    settings = policy or Policy()
    developers = frame.group_by("developer").agg(pl.col("team").first())
    return run_detectors(build_context(frame, developers, settings.flags, settings.leaderboard, "UTC"))


def flag(findings: Findings, developer: str, detector: str) -> dict[str, Any] | None:
    found = [f for f in findings.flags if f.developer == developer and f.id == detector]
    return None if not found else {"severity": found[0].severity, **found[0].evidence, "reason": found[0].reason}


def risk(findings: Findings, developer: str) -> str:
    return str(findings.risk.filter(pl.col("developer") == developer)["risk_level"].item())


def needs(findings: Findings, developer: str, detector: str) -> str | None:
    rows = findings.not_evaluated.filter((pl.col("developer") == developer) & (pl.col("id") == detector))
    return None if rows.is_empty() else str(rows["needs"].item())


def test_honest_humans_are_not_flagged() -> None:
    findings = detect(org(12))
    assert findings.flags == []
    assert set(findings.risk["risk_level"]) == {"none"}


def test_machine_regularity_fires_on_a_ten_minute_loop() -> None:
    loop = events("bot", np.arange(0, 20 * DAY, 600.0))
    found = flag(detect(pl.concat([org(12), loop])), "bot", "machine_regularity")
    assert found is not None
    assert found["severity"] == "high"
    assert found["n_intervals"] == 2879
    assert found["burstiness"] == -1.0
    assert found["modal_share"] == 1.0
    assert found["median_interval_s"] == 600.0
    assert "100% of 2,879 gaps" in found["reason"]


def test_machine_regularity_near_miss_random_timing_at_the_same_rate() -> None:
    # Same average rate as the loop, but memoryless (Poisson) timing: local variation is near 1.
    rng = np.random.default_rng(7)
    starts = np.cumsum(rng.exponential(600, size=2000))
    findings = detect(pl.concat([org(12), events("random", starts)]))
    assert flag(findings, "random", "machine_regularity") is None
    assert needs(findings, "random", "machine_regularity") is None


def test_no_rest_rhythm_fires_on_round_the_clock_activity() -> None:
    minutes = np.arange(0, 12 * DAY, 60.0)
    found = flag(detect(pl.concat([org(12), events("allday", minutes, session_every=60)])), "allday", "no_rest_rhythm")
    assert found is not None
    assert found["severity"] == "high"
    assert found["quiet_share"] == pytest.approx(8 / 24, abs=1e-4)
    assert found["active_hours"] == 24.0
    assert found["active_minutes"] == 12 * 24 * 60


def test_no_rest_rhythm_ignores_night_owls_in_any_time_zone() -> None:
    owl = events("owl", human_offsets(99, per_day=40, start_hour=20.0), session_every=5)
    findings = detect(pl.concat([org(12), owl]))
    assert flag(findings, "owl", "no_rest_rhythm") is None
    assert needs(findings, "owl", "no_rest_rhythm") is None


def test_repetition_fires_on_a_few_prompts_resubmitted() -> None:
    offsets = human_offsets(5, per_day=4)[:60]
    hashes: list[str | None] = [f"h{i % 6}" for i in range(60)]
    found = flag(detect(pl.concat([org(12), events("dup", offsets, prompt_hashes=hashes)])), "dup", "repetition")
    assert found is not None
    assert (found["severity"], found["basis"], found["n"]) == ("high", "prompts", 60)
    assert found["share"] == pytest.approx(0.9)
    assert found["top3_share"] == pytest.approx(0.5)


def test_repetition_near_miss_below_the_low_band() -> None:
    offsets = human_offsets(5, per_day=4)[:60]
    hashes: list[str | None] = [*(f"h{i}" for i in range(45)), *(f"h{i}" for i in range(15))]
    findings = detect(pl.concat([org(12), events("some", offsets, prompt_hashes=hashes)]))
    assert flag(findings, "some", "repetition") is None


def test_context_stuffing_fires_on_huge_context_tiny_output() -> None:
    stuffer = events(
        "stuffer",
        human_offsets(3, per_day=30),
        input_tokens=0,
        cache_read_tokens=180_000,
        cache_write_tokens=0,
        output_tokens=50,
        session_every=5,
    )
    found = flag(detect(pl.concat([org(12), stuffer])), "stuffer", "context_stuffing")
    assert found is not None
    assert found["severity"] == "high"
    assert (found["median_context"], found["context_per_output"], found["peer_median_context"]) == (
        180_000.0,
        3600.0,
        23_000.0,
    )


def _varied_context_org(n: int = 12) -> pl.DataFrame:
    """Honest peers whose context per request differs from person to person (12k to 45k cache reads)."""
    reads = np.geomspace(12_000, 45_000, n).round()
    return pl.concat(
        [
            events(f"dev{i:02d}", human_offsets(i, 20, 20 + 2 * i), session_every=5, cache_read_tokens=int(reads[i]))
            for i in range(n)
        ]
    )


def test_context_stuffing_padding_output_exempts_nobody() -> None:
    # Context per output padded down to the peers' level, and no two sessions open alike: the context alone scores.
    offsets = human_offsets(3, per_day=30)
    reads = 200_000 + (np.arange(len(offsets)) * 7_919) % 30_000 - 15_000
    padded = events(
        "padded", offsets, input_tokens=2_000, cache_read_tokens=reads, output_tokens=2_000, session_every=5
    )
    found = flag(detect(pl.concat([_varied_context_org(), padded])), "padded", "context_stuffing")
    assert found is not None
    assert found["severity"] == "medium"
    assert found["median_context"] == pytest.approx(203_000, abs=1_000)
    assert found["z_context"] == pytest.approx(4.1085, abs=0.001)
    assert found["z_ratio"] == pytest.approx(1.2497, abs=0.001)
    assert found["score"] == pytest.approx(found["z_context"] + found["z_ratio"] / 2, abs=1e-3)
    assert found["static_prefix_share"] < 0.6  # openers vary by up to 7.5%: at most low on this view


def test_context_stuffing_near_miss_within_the_spread_of_honest_peers() -> None:
    reader = events(
        "reader",
        human_offsets(3, per_day=30),
        cache_read_tokens=48_000,  # just above the heaviest honest peer (45k)
        output_tokens=500,
        session_every=5,
    )
    assert flag(detect(pl.concat([_varied_context_org(), reader])), "reader", "context_stuffing") is None


def test_context_stuffing_finds_one_large_static_prefix_opening_every_session() -> None:
    # Ordinary median context, but every session opens on the same 120k cached prefix it never wrote.
    offsets = human_offsets(3, per_day=30)
    reads = np.where(np.arange(len(offsets)) % 5 == 0, 120_000, 20_000)
    prefixed = events("prefix", offsets, cache_read_tokens=reads, session_every=5)
    found = flag(detect(pl.concat([_varied_context_org(), prefixed])), "prefix", "context_stuffing")
    assert found is not None
    assert found["severity"] == "high"
    assert (found["sessions"], found["modal_prefix"], found["static_prefix_share"]) == (90, 120_000.0, 1.0)


def _growing_sessions(developer: str, opening_factor: float, median_context: int = 120_000) -> pl.DataFrame:
    """Sessions of five requests that open on ``opening_factor`` times the varied peers' median opening context and
    grow by equal steps (tool results the session asked for) to the same ``median_context`` whatever the opening."""
    offsets = human_offsets(3, per_day=30)
    opening = opening_factor * (np.geomspace(12_000, 45_000, 12).round()[6] + 3_000)  # 2k uncached + 1k written
    step = (median_context - opening) / 2
    reads = (opening - 3_000 + (np.arange(len(offsets)) % 5) * step).round()
    return events(developer, offsets, cache_read_tokens=reads, session_every=5)


def test_context_stuffing_review_work_that_grows_inside_sessions_stays_low() -> None:
    # A reviewer: sessions open like everyone's and grow through what they read to 4x the peers' median context.
    # The size scores past medium, but size is a trait; with no loaded prefix it stays a low flag.
    found = flag(
        detect(pl.concat([_varied_context_org(), _growing_sessions("reviewer", 1.0)])), "reviewer", "context_stuffing"
    )
    assert found is not None
    assert found["severity"] == "low"
    assert found["score"] == pytest.approx(4.537, abs=0.001)  # medium starts at 4
    assert (found["loaded_context"], found["peer_loaded_context"], found["loaded_prefix"]) == (27_677, 27_677, False)
    assert "no loaded prefix" in found["reason"]


def test_context_stuffing_a_loaded_prefix_just_over_three_times_the_peers_opening_is_medium() -> None:
    above, below = (
        flag(detect(pl.concat([_varied_context_org(), _growing_sessions(name, factor)])), name, "context_stuffing")
        for name, factor in (("above", 3.1), ("below", 2.9))
    )
    assert above is not None and below is not None
    assert above["score"] == below["score"]  # the same size; only where the context comes from differs
    assert (above["severity"], above["loaded_prefix"]) == ("medium", True)
    assert above["loaded_multiple"] == pytest.approx(3.1, abs=1e-3)
    assert (below["severity"], below["loaded_prefix"]) == ("low", False)
    assert below["loaded_multiple"] == pytest.approx(2.9, abs=1e-3)


def test_context_stuffing_without_sessions_reads_the_opening_from_the_lightest_requests() -> None:
    # A tool that gives no session ids (and no cache links to infer them from): the context its lightest requests
    # carry (5th percentile) stands in for the opening. Every request of the stuffer carries 153k; the reviewer's
    # lightest carry what everyone's sessions open on.
    sessionless = pl.lit(None, pl.String).alias("session_id")
    stuffer = events("stuffer", human_offsets(3, per_day=30), cache_read_tokens=150_000, session_every=5)
    found = flag(
        detect(pl.concat([_varied_context_org(), stuffer.with_columns(sessionless)])), "stuffer", "context_stuffing"
    )
    assert found is not None
    assert (found["severity"], found["sessions"], found["loaded_context"]) == ("high", None, 153_000)
    assert found["loaded_multiple"] == pytest.approx(153_000 / 27_677, abs=1e-4)
    assert "its lightest requests (5%) carry 153,000 tokens (5.5× the peers' 27,677)" in found["reason"]
    reviewer = _growing_sessions("reviewer", 1.0, median_context=153_000).with_columns(sessionless)
    found = flag(detect(pl.concat([_varied_context_org(), reviewer])), "reviewer", "context_stuffing")
    assert found is not None
    assert (found["severity"], found["sessions"], found["loaded_context"]) == ("low", None, 27_677)


def _patterned_sessions(developer: str, contexts: list[int], written: list[int]) -> pl.DataFrame:
    """Every session repeats one pattern: each request's context and what it wrote to the cache (2k of it uncached),
    the rest read from the cache."""
    offsets = human_offsets(3, per_day=30)
    repeats = -(-len(offsets) // len(contexts))
    context, new = (np.tile(values, repeats)[: len(offsets)] for values in (contexts, written))
    return events(
        developer,
        offsets,
        input_tokens=2_000,
        cache_read_tokens=context - new,
        cache_write_tokens=new - 2_000,
        session_every=len(contexts),
    )


def test_context_stuffing_a_corpus_read_after_the_opening_still_counts_as_loaded() -> None:
    # Sessions open like the peers' (27,677) and the first file read brings in a 58k corpus, more than the opening
    # in one step: the session loads 3.1x what peers' sessions load, as if the corpus had been prepended. Then it
    # grows by 25k reads. The near miss: an honest session whose subagent runs in between (same session, smaller
    # contexts); the parent's next request re-reads its own cached prefix and writes only what is new, so the drop
    # and the climb back are no intake.
    opening, corpus = 27_677, 58_122
    loaded = opening + 500 + corpus
    late = [opening, *(loaded + 25_000 * k for k in range(4))]
    found = flag(
        detect(
            pl.concat(
                [_varied_context_org(), _patterned_sessions("late", late, [opening, corpus + 500, *[25_000] * 3])]
            )
        ),
        "late",
        "context_stuffing",
    )
    assert found is not None
    assert (found["severity"], found["loaded_context"], found["loaded_prefix"]) == ("medium", opening + corpus, True)
    assert found["loaded_multiple"] == pytest.approx(3.1, abs=1e-3)
    # Tool results of 25k a request; the subagent runs after the parent's fourth request (15k cold, then 16k).
    parent = [opening + 25_500 * k for k in range(4)] + [15_000, 16_000] + [opening + 25_500 * k for k in range(4, 11)]
    written = [opening, *[25_500] * 3, 15_000, 1_000, *[25_500] * 7]
    found = flag(
        detect(pl.concat([_varied_context_org(), _patterned_sessions("parent", parent, written)])),
        "parent",
        "context_stuffing",
    )
    assert found is not None
    assert (found["median_context"], found["score"]) == (129_677, pytest.approx(4.7998, abs=1e-4))  # past medium (4)
    assert (found["severity"], found["loaded_context"], found["loaded_prefix"]) == ("low", opening, False)


def test_volume_alone_gives_low_risk_at_most() -> None:
    heavy = events("heavy", human_offsets(4, per_day=30), output_tokens=200_000, session_every=5)
    findings = detect(pl.concat([org(12), heavy]))
    found = flag(findings, "heavy", "volume_outlier")
    assert found is not None and found["severity"] in {"medium", "high"}
    assert risk(findings, "heavy") == "low"


def test_developers_without_token_data_do_not_dilute_peer_baselines() -> None:
    heavy = events("heavy", human_offsets(4, per_day=30), output_tokens=200_000, session_every=5)
    copilot_only = [
        _decisions(f"copilot{i:02d}", 50, 10).with_columns(
            [
                pl.lit(0, pl.Int64).alias(c)
                for c in ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")
            ]
        )
        for i in range(12)
    ]
    alone = flag(detect(pl.concat([org(12), heavy])), "heavy", "volume_outlier")
    diluted = flag(detect(pl.concat([org(12), heavy, *copilot_only])), "heavy", "volume_outlier")
    assert alone is not None and diluted is not None
    assert diluted["severity"] == alone["severity"]
    assert (diluted["z"], diluted["peer_median_tokens"]) == (alone["z"], alone["peer_median_tokens"])


def _spiker() -> pl.DataFrame:
    human = human_offsets(11, days=28, per_day=30)
    # Each Friday 17:00 UTC snapshot (days 4, 11, 18, 25): 300 extra requests in the 20 hours before it.
    bursts = np.concatenate([d * DAY + 17 * 3600 - np.linspace(60, 20 * 3600, 300) for d in (4, 11, 18, 25)])
    return events("spiker", np.sort(np.concatenate([human, bursts])), session_every=5)


def test_snapshot_spike_fires_before_leaderboard_snapshots() -> None:
    frame = pl.concat([org(12, days=28), _spiker()])
    found = flag(detect(frame, parse_policy(LEADERBOARD)), "spiker", "snapshot_spike")
    assert found is not None
    assert found["severity"] in {"medium", "high"}
    assert found["snapshots"] == 3  # the week of the 4th starts before the first event
    assert found["consistency"] == 1.0
    assert found["share"] > 0.6


def test_snapshot_spike_thresholds_come_from_the_policy() -> None:
    frame = pl.concat([org(12, days=28), _spiker()])
    strict = parse_policy(LEADERBOARD + "flags:\n  snapshot_spike:\n    lift: {low: 50, medium: 60, high: 70}\n")
    assert flag(detect(frame, strict), "spiker", "snapshot_spike") is None
    capped = parse_policy(LEADERBOARD + "flags:\n  snapshot_spike:\n    max_severity: low\n")
    assert flag(detect(frame, capped), "spiker", "snapshot_spike")["severity"] == "low"  # type: ignore[index]


def test_timing_detectors_without_a_leaderboard_are_not_evaluated() -> None:
    findings = detect(pl.concat([org(12, days=28), _spiker()]))
    assert flag(findings, "spiker", "snapshot_spike") is None
    assert needs(findings, "spiker", "snapshot_spike") == "leaderboard.snapshot_weekday in the policy"
    assert needs(findings, "spiker", "launch_step") == "leaderboard.launched in the policy"


def _ramp(developer: str, seed: int, factor: int) -> pl.DataFrame:
    offsets = human_offsets(seed, days=56, per_day=20)
    after = offsets >= (dt.datetime(2026, 10, 5, tzinfo=dt.UTC) - START).total_seconds()
    extra = np.repeat(offsets[after], factor - 1) + np.tile(np.arange(1, factor) * 7.0, after.sum())
    return events(developer, np.sort(np.concatenate([offsets, extra])), session_every=5)


def test_launch_step_fires_on_a_solo_jump_after_launch() -> None:
    frame = pl.concat([org(12, days=56), _ramp("ramper", 21, 6)])
    found = flag(detect(frame, parse_policy(LEADERBOARD)), "ramper", "launch_step")
    assert found is not None
    assert found["step"] == pytest.approx(6.0, rel=0.05)
    assert found["alarm"] is True
    assert found["severity"] in {"high", "medium"}


def test_launch_step_near_miss_when_the_whole_team_ramps() -> None:
    frame = pl.concat([_ramp(f"dev{i:02d}", i, 6) for i in range(12)])
    findings = detect(frame, parse_policy(LEADERBOARD))
    assert [f for f in findings.flags if f.id == "launch_step"] == []


def _decisions(developer: str, accepted: int, rejected: int) -> pl.DataFrame:
    day = events(developer, np.array([3600.0]), tool="cursor")
    return day.with_columns(
        pl.lit(accepted, pl.Int64).alias("accepted"),
        pl.lit(rejected, pl.Int64).alias("rejected"),
        pl.lit("day").alias("grain"),
    )


def test_rejected_work_fires_on_low_acceptance() -> None:
    peers = [_decisions(f"dev{i:02d}", 160 + i, 40 - i) for i in range(12)]
    findings = detect(pl.concat([*peers, _decisions("rejecter", 40, 160)]))
    found = flag(findings, "rejecter", "rejected_work")
    assert found is not None
    assert (found["decisions"], found["raw_acceptance"]) == (200, 0.2)
    assert found["severity"] == "high"


def test_rejected_work_needs_enough_decisions() -> None:
    peers = [_decisions(f"dev{i:02d}", 160 + i, 40 - i) for i in range(12)]
    findings = detect(pl.concat([*peers, _decisions("few", 2, 8)]))
    assert flag(findings, "few", "rejected_work") is None
    assert needs(findings, "few", "rejected_work").startswith("accept/reject decisions (at least 50")  # type: ignore[union-attr]


def test_daily_aggregates_are_not_evaluated_for_timing() -> None:
    daily = _decisions("daily", 10, 0)
    findings = detect(pl.concat([org(12), daily]))
    assert needs(findings, "daily", "machine_regularity").startswith("per-request timestamps")  # type: ignore[union-attr]
    assert needs(findings, "daily", "no_rest_rhythm").startswith("per-request timestamps")  # type: ignore[union-attr]


def test_a_loop_with_repeated_prompts_is_high_risk() -> None:
    n = int(20 * DAY / 600)
    loop = events("bot", np.arange(0, 20 * DAY, 600.0), prompt_hashes=[f"t{i % 3}" for i in range(n)])
    findings = detect(pl.concat([org(12), loop]))
    assert risk(findings, "bot") == "high"
    assert {f.id for f in findings.flags if f.developer == "bot"} >= {"machine_regularity", "repetition"}


def test_per_developer_features_ignore_row_order_and_other_developers() -> None:
    # The per-event stage must give each developer the same features whatever the input order and
    # whichever other developers share the slice: that is what lets it run shard by shard.
    rng = np.random.default_rng(3)
    loop = events("bot", np.arange(0, 10 * DAY, 900.0) + rng.uniform(0, 5, 960))
    frame = pl.concat([org(10), loop])
    settings = Policy()
    developers = frame.group_by("developer").agg(pl.col("team").first())

    def features(events_frame: pl.DataFrame) -> pl.DataFrame:
        context = build_context(events_frame, developers, settings.flags, settings.leaderboard, "UTC")
        names = context.developers.select("developer", "dev")
        regular = regularity.best_clusters(context.requests, settings.flags.machine_regularity)
        minutes = rest.active_minutes(context.requests).group_by("dev").len("active_minutes")
        openers = (
            repetition.session_openers(context.requests)
            .group_by("dev")
            .agg(pl.len().alias("sessions"), pl.col("context").sum().alias("opening_context"))
        )
        return (
            names.join(regular, on="dev")
            .join(minutes, on="dev")
            .join(openers, on="dev", how="left")
            .drop("dev")
            .sort("developer")
        )

    whole = features(frame)
    assert whole.filter(pl.col("developer") == "bot")["n_intervals"].item() == 959
    shuffled = features(frame.sample(fraction=1.0, shuffle=True, seed=11))
    assert_frame_equal(shuffled, whole)
    shard = ["bot", *sorted(set(frame["developer"]) - {"bot"})[:3]]
    alone = features(frame.filter(pl.col("developer").is_in(shard)))
    assert_frame_equal(alone, whole.filter(pl.col("developer").is_in(shard)))


TEMPLATES = (
    "summarise the open incidents for service {} and list the owners with their next steps",
    "generate unit tests for the parser module covering edge case number {} and run them",
    "rewrite the changelog entry for release {} in a friendlier tone for customers please",
)
WORDS = [
    "alpha",
    "beta",
    "gamma",
    "delta",
    "river",
    "stone",
    "cloud",
    "paper",
    "engine",
    "window",
    "garden",
    "silver",
    "orange",
    "planet",
    "music",
]


def _varied(n: int, seed: int) -> list[str | None]:
    """Prompts of random words from a shared vocabulary: similar topics, different prompts."""
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=12)) for _ in range(n)]


def test_repetition_fires_on_near_duplicate_openers() -> None:
    offsets = human_offsets(5, per_day=4)[:60]
    texts: list[str | None] = [TEMPLATES[i % 3].format(1000 + i) for i in range(60)]
    found = flag(detect(pl.concat([org(12), events("para", offsets, prompts=texts)])), "para", "repetition")
    assert found is not None
    assert (found["severity"], found["basis"], found["n"]) == ("high", "similar prompts", 60)
    assert found["share"] == pytest.approx(57 / 60)  # all but the first use of each template


def test_repetition_near_miss_varied_prompts_from_one_vocabulary() -> None:
    offsets = human_offsets(5, per_day=4)[:60]
    findings = detect(pl.concat([org(12), events("varied", offsets, prompts=_varied(60, 1))]))
    assert flag(findings, "varied", "repetition") is None
    assert needs(findings, "varied", "repetition") is None


def test_repetition_fires_on_one_prompt_rerun_inside_a_long_session() -> None:
    offsets = 9 * 3600 + np.concatenate([day * DAY + np.arange(160) * 180.0 for day in range(3)])
    texts: list[str | None] = [TEMPLATES[0].format(i) for i in range(480)]
    runner = events("rerun", offsets, prompts=texts, session_every=480)
    found = flag(detect(pl.concat([org(12), runner])), "rerun", "repetition")
    assert found is not None
    assert found["severity"] == "high"
    assert (found["prompt_turns"], found["n"]) == (480, 1)
    assert found["repeats_per_day"] == pytest.approx(479 / 3)


def _loop_starts(
    seed: int, days: int = 20, mean_gap: float = 1200.0, hours: tuple[float, float] = (9, 18)
) -> np.ndarray:
    """Poisson-timed starts inside the working hours of weekdays (no period to find)."""
    rng = np.random.default_rng(seed)
    starts = []
    for day in range(days):
        if day % 7 >= 5:
            continue
        t = hours[0] * 3600 + rng.exponential(mean_gap)
        while t < hours[1] * 3600:
            starts.append(day * DAY + t)
            t += rng.exponential(mean_gap)
    return np.array(starts)


def _headless(developer: str, starts: np.ndarray, per_session: int = 4) -> pl.DataFrame:
    """Sessions of ``per_session`` requests 8 s apart: no person's turn after the opener."""
    offsets = (starts[:, None] + np.arange(per_session) * 8.0).ravel()
    return events(developer, offsets, session_every=per_session, output_tokens=2_000)


def test_headless_work_fires_on_a_poisson_timed_loop_all_working_day() -> None:
    loop = _headless("poisson", _loop_starts(1))
    findings = detect(pl.concat([org(12), loop]))
    found = flag(findings, "poisson", "headless_work")
    assert found is not None
    assert found["severity"] == "high"
    # A second automation signal: 28 sessions opened a typical day against the peers' 6.
    pace = flag(findings, "poisson", "prompt_pace")
    assert pace is not None and (pace["openers_per_day"], pace["peer_median_openers_per_day"]) == (28.0, 6.0)
    assert risk(findings, "poisson") == "high"
    assert (found["sessions"], found["days"]) == (420, 15)
    assert (found["headless_session_share"], found["headless_token_share"]) == (1.0, 1.0)
    assert found["headless_hours_per_day"] == 9.0
    assert found["peer_median_headless_hours"] == 0.0
    assert found["inferred_session_share"] == 0.0 and found["reason"].endswith(
        "session tokens were headless (peer median 0%)."
    )
    assert flag(findings, "poisson", "machine_regularity") is None  # nothing periodic about it


def test_headless_work_near_miss_a_few_headless_tasks_a_day() -> None:
    # An honest developer who hands an agent four one-shot tasks a day besides interactive work.
    human = events("mixed", human_offsets(8, per_day=30), session_every=5)
    tasks = _headless("mixed", _loop_starts(2, mean_gap=7200.0)).with_columns(
        pl.col("session_id") + "-task", pl.col("request_id") + "-task"
    )
    findings = detect(pl.concat([org(12), human, tasks]))
    assert flag(findings, "mixed", "headless_work") is None
    assert needs(findings, "mixed", "headless_work") is None


def _jittered_starts(seed: int, days: int = 20, sigma: float = 0.5) -> np.ndarray:
    """Working-hours starts about 20 minutes apart with lognormal jitter."""
    rng = np.random.default_rng(seed)
    starts = []
    for day in range(days):
        if day % 7 >= 5:
            continue
        t = 9 * 3600.0
        while t < 18 * 3600:
            starts.append(day * DAY + t)
            t += rng.lognormal(np.log(1200), sigma)
    return np.array(starts)


def test_machine_regularity_finds_a_jittered_loop_among_its_owners_own_sessions() -> None:
    own = events("hidden", human_offsets(9, per_day=30), session_every=5)
    loop = _headless("hidden", _jittered_starts(4)).with_columns(pl.col("session_id") + "-loop")
    findings = detect(pl.concat([org(12), own, loop]))
    found = flag(findings, "hidden", "machine_regularity")
    assert found is not None
    assert found["cluster"] == "claude-code headless"
    assert found["severity"] == "high"
    assert (found["n_intervals"], found["days"]) == (354, 15)
    assert found["local_variation"] == pytest.approx(0.317)
    assert found["peer_median_local_variation"] == pytest.approx(1.1592)
    # A second, independent automation signal: the loop's duty cycle.
    assert flag(findings, "hidden", "headless_work")["severity"] == "medium"  # type: ignore[index]
    assert risk(findings, "hidden") == "high"


def test_machine_regularity_near_miss_the_owners_own_sessions_alone() -> None:
    own = events("hidden", human_offsets(9, per_day=30), session_every=5)
    findings = detect(pl.concat([org(12), own]))
    assert flag(findings, "hidden", "machine_regularity") is None


def test_an_exact_clock_in_working_hours_alone_is_high_risk() -> None:
    starts = np.concatenate([day * DAY + 9 * 3600 + np.arange(0, 9 * 3600, 1200.0) for day in range(20) if day % 7 < 5])
    clock = _headless("clock", starts, per_session=3)
    alone = parse_policy("flags:\n  headless_work:\n    enabled: false\n  prompt_pace:\n    enabled: false\n")
    findings = detect(pl.concat([org(12), clock]), alone)
    found = flag(findings, "clock", "machine_regularity")
    assert found is not None
    assert (found["severity"], found["steady_share"], found["n_intervals"]) == (
        "high",
        1.0,
        404,
    )  # 15 weekdays x 27 starts
    assert [f.id for f in findings.flags if f.developer == "clock"] == ["machine_regularity"]
    assert risk(findings, "clock") == "high"


def test_a_lone_medium_signal_stays_low_risk() -> None:
    loop = _headless("poisson", _loop_starts(1, hours=(9, 15)))
    findings = detect(pl.concat([org(12), loop]), parse_policy("flags:\n  prompt_pace:\n    enabled: false\n"))
    assert [f.id for f in findings.flags if f.developer == "poisson" and f.severity != "low"] == ["headless_work"]
    assert risk(findings, "poisson") == "low"


def _on_call(developer: str, night_weeks: list[int], days: int = 35) -> pl.DataFrame:
    """A day worker who also works through the nights of the given weeks (requests every 15 min, 22:00–06:00)."""
    nights = [
        week * 7 * DAY + day * DAY + 22 * 3600 + np.arange(0, 8 * 3600, 900.0)
        for week in night_weeks
        for day in range(7)
    ]
    offsets = np.sort(np.concatenate([human_offsets(31, days=days, per_day=40), *nights]))
    return events(developer, offsets, session_every=5)


def test_no_rest_rhythm_near_miss_one_on_call_week_in_five() -> None:
    findings = detect(pl.concat([org(12, days=35), _on_call("oncall", [1])]))
    assert flag(findings, "oncall", "no_rest_rhythm") is None
    pooled = parse_policy("flags:\n  no_rest_rhythm:\n    min_weeks: 99\n")  # the whole period decides
    found = flag(detect(pl.concat([org(12, days=35), _on_call("oncall", [1])]), pooled), "oncall", "no_rest_rhythm")
    assert found is not None and found["basis"] == "whole period"


def test_no_rest_rhythm_fires_on_nights_worked_week_after_week() -> None:
    found = flag(
        detect(pl.concat([org(12, days=35), _on_call("chronic", [0, 1, 2, 3, 4])])), "chronic", "no_rest_rhythm"
    )
    assert found is not None
    assert found["severity"] == "high"
    assert (found["basis"], found["weeks"], found["weeks_without_rest"]) == ("typical week", 5, 1.0)
    assert found["rest_hours"] == 4.0  # 06:00–09:00 and the evening are all that is left


def test_a_two_person_team_is_compared_with_the_whole_organisation() -> None:
    offsets = human_offsets(5, per_day=4)[:60]
    partner = events("partner", offsets, team="duo")
    repeater = events("repeater", offsets, team="duo", prompt_hashes=[f"h{i % 6}" for i in range(60)])
    findings = detect(pl.concat([org(12), partner, repeater]))
    found = flag(findings, "repeater", "repetition")
    assert found is not None
    # The baseline is the organisation's (0%), not the two-person remainder's (45%).
    assert (found["severity"], found["share"], found["peer_median_share"]) == ("high", 0.9, 0.0)
    assert flag(findings, "partner", "repetition") is None


def test_coverage_names_the_share_no_timing_detector_could_examine() -> None:
    timed = events("mixed", human_offsets(6, per_day=30))  # 450 requests of 23,500 tokens
    daily = events("mixed", np.array([3600.0]), input_tokens=450 * 23_500, cache_read_tokens=0, output_tokens=0)
    daily = daily.with_columns(pl.lit("day").alias("grain"), pl.lit("cursor-daily").alias("source_format"))
    findings = detect(pl.concat([org(12), timed, daily]))
    row = findings.risk.filter(pl.col("developer") == "mixed").row(0, named=True)
    assert (row["coverage_timing"], row["coverage_sessions"], row["coverage_prompts"]) == (0.5, 0.5, 0.5)
    assert row["unexamined_sources"] == ["cursor-daily"]
    note = coverage_note(row)
    assert note is not None and note.startswith("only 50% of this developer's tokens") and "(cursor-daily)" in note
    honest = findings.risk.filter(pl.col("developer") == "dev00").row(0, named=True)
    assert (honest["coverage_timing"], coverage_note(honest)) == (1.0, None)


def test_near_misses_name_the_statistic_and_the_next_band() -> None:
    offsets = human_offsets(5, per_day=4)[:60]
    dup = events("dup", offsets, prompt_hashes=[f"h{i % 6}" for i in range(60)])  # share 0.9
    strict = parse_policy("flags:\n  repetition:\n    share: {low: 0.3, medium: 0.45, high: 0.95}\n")
    findings = detect(pl.concat([org(12), dup]), strict)
    assert flag(findings, "dup", "repetition")["severity"] == "medium"  # type: ignore[index]
    close = findings.near_misses.filter(pl.col("developer") == "dup").drop("developer")
    assert close.rows() == [("repetition", "share", 0.9, "high", 0.95)]
    far = parse_policy("flags:\n  repetition:\n    share: {low: 0.3, medium: 0.85, high: 1.0}\n")
    assert detect(pl.concat([org(12), dup]), far).near_misses.filter(pl.col("developer") == "dup").is_empty()


def _paced(developer: str, per_day: int, days: int = 10) -> pl.DataFrame:
    """``per_day`` sessions at random times in 9:00-17:00 on weekdays, each a prompt and two tool turns 8 s apart."""
    rng = np.random.default_rng(per_day)
    starts = [day * DAY + np.sort(rng.uniform(9 * 3600, 17 * 3600, per_day)) for day in range(days) if day % 7 < 5]
    return _headless(developer, np.concatenate(starts), per_session=3)


def _paced_org(n: int = 10) -> pl.DataFrame:
    return pl.concat([_paced(f"peer{i:02d}", 8 + i % 3) for i in range(n)])  # medians 9 turns a day


def test_prompt_pace_fires_on_more_turns_a_day_than_a_person_types() -> None:
    findings = detect(pl.concat([_paced_org(), _paced("mimic", 36)]))
    found = flag(findings, "mimic", "prompt_pace")
    assert found is not None
    assert found["severity"] == "medium"
    assert (found["turns_per_day"], found["peer_median_turns_per_day"], found["pace_ratio"]) == (36.0, 9.0, 4.0)
    assert (found["turns"], found["days"]) == (288, 8)
    assert (found["openers_per_day"], found["opener_ratio"]) == (36.0, 4.0)  # every turn here opens a session
    assert found["reason"].startswith("a typical active day held 36 turns")


def test_prompt_pace_near_miss_a_busy_person_at_twice_the_peers() -> None:
    findings = detect(pl.concat([_paced_org(), _paced("busy", 18)]))
    assert flag(findings, "busy", "prompt_pace") is None
    assert needs(findings, "busy", "prompt_pace") is None
    assert findings.near_misses.filter(pl.col("developer") == "busy").is_empty()  # 2.0x: well below low (2.5x)


def test_prompt_pace_counts_a_night_shift_as_one_day() -> None:
    # Sessions 22:00-06:00 UTC: calendar days would halve them; the developer's own day keeps the night whole.
    starts = np.array([day * DAY + 22 * 3600 + k * 1200.0 for day in range(10) if day % 7 < 5 for k in range(24)])
    findings = detect(pl.concat([_paced_org(), _headless("nights", starts, per_session=3)]))
    found = flag(findings, "nights", "prompt_pace")
    assert found is not None
    assert (found["turns_per_day"], found["pace_ratio"]) == (24.0, pytest.approx(2.6667))
    assert found["severity"] == "medium"  # every turn opens a session: both ratios at 2.7x, above the low band


def _routed(developer: str, day_share: float) -> pl.DataFrame:
    """A paced developer plus a day-grain row holding ``day_share`` of their tokens."""
    timed = _paced(developer, 9)
    tokens = round(timed.select(pl.sum_horizontal(TOKEN_COLUMNS).sum()).item() * day_share / (1 - day_share))
    daily = events(developer, np.array([3600.0]), input_tokens=tokens, cache_read_tokens=0, output_tokens=0,
                   cache_write_tokens=0)  # fmt: skip
    daily = daily.with_columns(pl.lit("day").alias("grain"), pl.lit("anthropic-messages-usage").alias("source_format"))
    return pl.concat([timed, daily])


def test_unexamined_usage_fires_on_usage_routed_through_a_day_grain_key() -> None:
    findings = detect(pl.concat([_paced_org(), _routed("router", 0.4)]))
    found = flag(findings, "router", "unexamined_usage")
    assert found is not None
    assert found["severity"] == "medium"
    assert (found["unexamined_share"], found["peer_median_share"], found["excess_share"]) == (0.4, 0.0, 0.4)
    assert found["unexamined_sources"] == ["anthropic-messages-usage"]
    assert "40% of this developer's tokens" in found["reason"] and "(anthropic-messages-usage)" in found["reason"]
    assert risk(findings, "router") == "low"  # volume only: it corroborates, it does not say how


def test_unexamined_usage_near_miss_a_small_share_or_a_team_on_day_grain_exports() -> None:
    findings = detect(pl.concat([_paced_org(), _routed("notebook", 0.15)]))
    assert flag(findings, "notebook", "unexamined_usage") is None
    everyone = pl.concat([_routed(f"peer{i:02d}", 0.5) for i in range(10)] + [_routed("router", 0.6)])
    assert flag(detect(everyone), "router", "unexamined_usage") is None  # 10 points above peers who all route


def _cached_conversations(
    developer: str, starts: np.ndarray, exchanges: int, think_s: float, seed: int, tool_turns: int = 2
) -> pl.DataFrame:
    """Conversations as a source without session ids (Cursor's usage events) records them: each of ``exchanges``
    prompts is followed by ``tool_turns`` tool calls 8 s apart, and prompts come ``think_s`` after the previous
    answer. Every request reads from the cache what the previous request of its conversation sent (its cache
    reads and writes), as prompt caching does, and writes what is new."""
    rng = np.random.default_rng(seed)
    offsets, reads, writes = [], [], []
    for start in starts:
        read, write, clock = 0, int(rng.integers(15_000, 16_000)), float(start)
        for exchange in range(exchanges):
            if exchange:
                clock += think_s
            for turn in range(tool_turns + 1):
                if exchange or turn:
                    read, write, clock = read + write, int(rng.integers(300, 3_000)), clock + 8.0
                offsets.append(clock)
                reads.append(read)
                writes.append(write)
    order = np.argsort(offsets, kind="stable")
    frame = events(
        developer,
        np.asarray(offsets)[order],
        tool="cursor",
        input_tokens=10,
        cache_read_tokens=np.asarray(reads)[order],
        cache_write_tokens=np.asarray(writes)[order],
    )
    return frame.with_columns(pl.lit(None, pl.String).alias("session_id"), pl.lit(None, pl.String).alias("prompt_hash"))


def test_sessions_are_inferred_from_prompt_caching_where_the_source_has_no_session_ids() -> None:
    # Two conversations interleaved (a loop's one-shot run inside its owner's conversation): each request is linked
    # to the one whose cache reads and writes it reads, so the two stay apart.
    owner = _cached_conversations("cursor", np.array([0.0]), exchanges=3, think_s=90.0, seed=1)
    loop = _cached_conversations("cursor", np.array([100.0]), exchanges=1, think_s=0.0, seed=2)
    requests, _ = sorted_requests(pl.concat([owner, loop]).with_columns(pl.col("request_id") + pl.lit("x")))
    sessions = requests.group_by("session_id").agg(pl.len(), pl.col("inferred_session").all())
    assert sorted(sessions.select("session_id", "len", "inferred_session").rows()) == [
        ("~cursor@2026-09-07T00:00:00.000", 9, True),
        ("~cursor@2026-09-07T00:01:40.000", 3, True),
    ]
    assert requests["opens_session"].sum() == 2
    # A source that reports no caching links nothing: its rows keep no session rather than one session each.
    uncached = owner.with_columns(pl.lit(0, pl.Int64).alias("cache_read_tokens"))
    requests, _ = sorted_requests(uncached)
    assert requests["session_id"].null_count() == 9
    assert not requests["inferred_session"].any()


def test_headless_work_fires_on_a_one_shot_loop_in_a_source_without_session_ids() -> None:
    starts = _loop_starts(1)
    loop = _cached_conversations("loop", starts, exchanges=1, think_s=0.0, seed=3, tool_turns=3)
    findings = detect(pl.concat([org(12), loop]))
    found = flag(findings, "loop", "headless_work")
    assert found is not None
    assert found["severity"] == "high"
    # One inferred session per run of the loop (420 runs), none of them with a person's turn.
    assert (len(starts), found["sessions"], found["headless_session_share"], found["headless_token_share"]) == (
        420,
        420,
        1.0,
        1.0,
    )
    assert found["headless_hours_per_day"] == 9.0
    assert found["inferred_session_share"] == 1.0
    assert found["reason"].endswith(
        "100% of the sessions were inferred from prompt caching (the source gives no session ids)."
    )


def test_headless_work_near_miss_a_persons_conversations_without_session_ids() -> None:
    # The same session starts, but each a conversation of three prompts after 90 s of reading: a person's turns.
    person = _cached_conversations("person", _loop_starts(1), exchanges=3, think_s=90.0, seed=3)
    findings = detect(pl.concat([org(12), person]))
    assert flag(findings, "person", "headless_work") is None
    assert needs(findings, "person", "headless_work") is None  # evaluated, on the inferred sessions


def test_volume_outlier_near_miss_a_heavy_user_in_a_team_of_lookalikes() -> None:
    # In a team whose members happen to use almost the same tokens (within 4%), a user at 3x the team median
    # would be a robust z of about 60 against the team's own spread. The spread is at least the one pooled over
    # the organisation's teams (each developer's distance from their own team's median), so it is not an outlier;
    # a user at 100x still is.
    offsets = human_offsets(3, per_day=20)  # 300 requests each, of input + 21,500 tokens
    inputs = {f"a{i}": ("alike", 2_000 + 100 * i) for i in range(9)}
    inputs |= {f"{team}{i}": (team, 2_000 * 2**i) for team in ("v", "w") for i in range(9)}
    inputs |= {"heavy": ("alike", 50_000), "huge": ("alike", 2_500_000)}
    findings = detect(pl.concat([events(d, offsets, team=team, input_tokens=t) for d, (team, t) in inputs.items()]))
    logs = {d: np.log10(300 * (t + 21_500)) for d, (_, t) in inputs.items()}
    medians = {team: np.median([logs[d] for d, (g, _) in inputs.items() if g == team]) for team in ("alike", "v", "w")}
    deviations = np.array([logs[d] - medians[team] for d, (team, _) in inputs.items()])
    own = np.median(np.abs([logs[d] - medians["alike"] for d, (team, _) in inputs.items() if team == "alike"]))
    spread = max(own, np.median(np.abs(deviations)))
    assert own < np.median(np.abs(deviations)) / 5  # the team alone would make 3x look extreme
    assert flag(findings, "heavy", "volume_outlier") is None
    assert 0.6745 * (logs["heavy"] - medians["alike"]) / own > 7  # high against the team's own spread
    found = flag(findings, "huge", "volume_outlier")
    assert found is not None and found["severity"] == "medium"
    assert found["z"] == pytest.approx(0.6745 * (logs["huge"] - medians["alike"]) / spread, abs=1e-4)


def test_no_rest_rhythm_near_miss_one_late_session_a_week() -> None:
    # A day worker (09:00-17:00) with one session at 00:30 on one night a week: that hour is not a habit, so the
    # week's rest is the 16 hours from 17:00, not the 7 hours either side of the late session.
    late = np.array([week * 7 * DAY + 2 * DAY + 0.5 * 3600 + k * 300.0 for week in range(4) for k in range(12)])
    worker = events("late", np.sort(np.concatenate([human_offsets(8, days=28), late])), session_every=5)
    findings = detect(pl.concat([org(12, days=28), worker]))
    assert flag(findings, "late", "no_rest_rhythm") is None
    every_hour = parse_policy("flags:\n  no_rest_rhythm:\n    min_days_per_hour: 1\n")  # before: any hour counted
    found = flag(detect(pl.concat([org(12, days=28), worker]), every_hour), "late", "no_rest_rhythm")
    assert found is not None and (found["severity"], found["rest_hours"]) == ("medium", 7.0)


def test_context_stuffing_near_miss_a_heavier_reader_among_a_few_lookalikes_on_one_tool() -> None:
    # Five people on Cursor whose context per request happens to be within 2% of each other: against their own
    # spread, a sixth at 1.5x would score far above high. The spread is pooled over every tool (each developer's
    # distance from their own tool's median), so only context well beyond how people differ stands out.
    offsets = human_offsets(3, per_day=30)
    alike = [
        events(f"cursor{i}", offsets, tool="cursor", cache_read_tokens=20_000 + 100 * i, session_every=5)
        for i in range(5)
    ]
    reader = events("reader", offsets, tool="cursor", cache_read_tokens=31_000, session_every=5)
    stuffer = events("stuffer", offsets, tool="cursor", cache_read_tokens=110_000, session_every=5)
    findings = detect(pl.concat([_varied_context_org(), *alike, reader, stuffer]))
    contexts = np.log10([23_000 + 100 * i for i in range(5)] + [34_000, 113_000])
    own_spread = np.median(np.abs(contexts - np.median(contexts)))
    assert 0.6745 * (contexts[5] - np.median(contexts)) / own_spread > 5  # high against Cursor's own spread
    assert flag(findings, "reader", "context_stuffing") is None
    found = flag(findings, "stuffer", "context_stuffing")
    assert found is not None
    assert (found["severity"], found["tool"], found["n_tool_peers"]) == ("high", "cursor", 7)
    claude = np.log10(np.geomspace(12_000, 45_000, 12).round() + 3_000)
    pooled = np.median(np.abs(np.concatenate([claude - np.median(claude), contexts - np.median(contexts)])))
    assert found["z_context"] == pytest.approx(0.6745 * (contexts[6] - np.median(contexts)) / pooled, abs=1e-4)


def _fed(
    developer: str, prompts: list[str | None], quiet: list[float], days: int = 14, fed_days: int = 10
) -> pl.DataFrame:
    """One session a weekday opened at 09:00 and fed ``prompts`` after ``quiet`` seconds each (cycled); on the
    first ``fed_days`` weekdays, else the session holds only its opener and two follow-ups."""
    offsets: list[float] = []
    texts: list[str | None] = []
    sessions: list[int] = []
    weekdays = [day for day in range(days) if day % 7 < 5]
    for number, day in enumerate(weekdays):
        fed = prompts if number < fed_days else prompts[:2]
        at = day * DAY + 9 * 3600.0
        offsets.append(at)
        texts.append(f"work through the backlog in TODO.md one item at a time, day {day}")
        for index, text in enumerate(fed):
            at += quiet[index % len(quiet)]
            offsets.append(at)
            texts.append(text)
        sessions += [number] * (len(fed) + 1)
    frame = events(developer, np.array(offsets), prompts=texts)
    return frame.with_columns(session_id=pl.Series([f"{developer}-s{n}" for n in sessions]))


DRIP_QUIET = [540.0, 600.0, 660.0, 720.0]


def test_drip_feed_fires_on_one_session_a_day_fed_the_same_short_prompts() -> None:
    drip = _fed("drip", ["continue", "keep going", "Continue."] * 10, DRIP_QUIET)
    findings = detect(pl.concat([org(12), drip]))
    found = flag(findings, "drip", "drip_feed")
    assert found is not None
    assert found["severity"] == "high"
    assert (found["fed_days"], found["days"], found["fed_day_share"]) == (10, 10, 1.0)
    assert (found["fed_sessions"], found["fed_prompts"], found["sessions"]) == (10, 300, 10)
    assert found["repeat_share"] == pytest.approx(28 / 30, abs=1e-4)  # all but the first 'continue' and 'keep going'
    assert found["median_spread"] == pytest.approx(np.log(np.resize(DRIP_QUIET, 30)).std(ddof=1), abs=1e-4)
    assert found["median_hours"] == pytest.approx(sum(np.resize(DRIP_QUIET, 30)) / 3600, abs=1e-4)
    assert found["reason"].startswith("10 of 10 active days (100%) held a session fed 30 prompts")
    assert flag(findings, "dev00", "drip_feed") is None  # sessions of five requests: nothing fed


def test_drip_feed_fires_on_varied_prompts_at_a_scripts_steady_pace() -> None:
    steady = _fed("steady", _varied(30, 3), DRIP_QUIET)
    found = flag(detect(pl.concat([org(12), steady])), "steady", "drip_feed")
    assert found is not None
    assert (found["severity"], found["fed_days"], found["repeat_share"]) == ("high", 10, 0.0)


def test_drip_feed_fires_on_a_steady_drip_where_the_source_marks_no_prompts() -> None:
    # Cursor-like rows: no turns, no text; the pauses inside the session stand for the prompts, and their pace decides.
    unmarked = _fed("unmarked", ["continue"] * 30, DRIP_QUIET).with_columns(
        pl.lit(None, pl.String).alias("turn"), pl.lit(None, pl.UInt64).alias("prompt_signature")
    )
    found = flag(detect(pl.concat([org(12), unmarked])), "unmarked", "drip_feed")
    assert found is not None
    assert (found["severity"], found["fed_prompts"], found["repeat_share"]) == ("high", 300, 0.0)


def test_drip_feed_near_miss_a_persons_long_sessions_and_one_day_of_babysitting() -> None:
    rng = np.random.default_rng(5)
    think = list(8.0 + rng.lognormal(np.log(75.0), 1.0, 30))  # a person's think times: spread about 1
    person = _fed("person", _varied(30, 4), think)
    babysitter = _fed("babysitter", ["continue", "keep going", "Continue."] * 10, DRIP_QUIET, fed_days=1)
    findings = detect(pl.concat([org(12), person, babysitter]))
    shapes = drip.fed_sessions(with_person_turns(sorted_requests(person)[0], HeadlessWork()), DripFeed())
    assert shapes.select(pl.col("spread").min() > 0.7, pl.col("repeat_share").max() == 0, ~pl.col("fed").any()).row(
        0
    ) == (
        True,
        True,
        True,
    )
    for developer in ("person", "babysitter"):
        assert flag(findings, developer, "drip_feed") is None
        assert needs(findings, developer, "drip_feed") is None


def test_prompt_pace_is_medium_when_sessions_and_turns_are_both_above_the_low_band() -> None:
    findings = detect(pl.concat([_paced_org(), _paced("mimic", 24)]))
    found = flag(findings, "mimic", "prompt_pace")
    assert found is not None
    assert found["severity"] == "medium"  # each ratio alone is low (2.5x to 3x)
    assert (found["pace_ratio"], found["opener_ratio"]) == (pytest.approx(24 / 9, abs=1e-4),) * 2
    busy = flag(detect(pl.concat([_paced_org(), _long_conversations("busy", 24)])), "busy", "prompt_pace")
    assert busy is not None  # the same turns in a third of the sessions: the turns alone, low
    assert (busy["severity"], busy["opener_ratio"]) == ("low", pytest.approx(8 / 9, abs=1e-4))


def _long_conversations(developer: str, per_day: int, days: int = 10) -> pl.DataFrame:
    """``per_day`` prompts a weekday, three to a session, each after two minutes of thought."""
    starts = [day * DAY + 9 * 3600 + np.arange(per_day) * 1200.0 for day in range(days) if day % 7 < 5]
    offsets = np.concatenate(starts)
    return events(developer, offsets, session_every=3, prompts=["prompt"] * len(offsets))


@pytest.mark.parametrize(("think_minutes", "sessions"), [(55.0, 1), (65.0, 2)])
def test_an_inferred_conversation_idle_past_the_caches_lifetime_is_split(think_minutes: float, sessions: int) -> None:
    # Prompt caching links a request to its conversation only within LINK_WINDOW (1 h, the extended cache lifetime):
    # a prompt after a longer pause starts a new inferred session, as the cache would have to be written anew.
    talk = _cached_conversations("idle", np.array([0.0]), exchanges=2, think_s=60 * think_minutes, seed=4)
    requests, _ = sorted_requests(talk)
    assert requests["session_id"].n_unique() == sessions
    assert requests["opens_session"].sum() == sessions
    assert requests["inferred_session"].all()


def test_context_stuffing_alone_on_a_rare_tool_is_compared_with_all_tools() -> None:
    # Stuffing routed through a tool nobody else uses: too few same-tool peers, so the organisation's developers on
    # every tool are the baseline (medians over all 13 developer-tool pairs, the stuffer included), and it says so.
    stuffer = events(
        "stuffer", human_offsets(3, per_day=30), tool="gateway", cache_read_tokens=150_000, session_every=5
    )
    findings = detect(pl.concat([_varied_context_org(), stuffer]))
    found = flag(findings, "stuffer", "context_stuffing")
    assert found is not None
    honest = np.geomspace(12_000, 45_000, 12).round() + 3_000
    contexts = np.append(honest, 153_000)
    assert (found["severity"], found["tool"], found["baseline"]) == ("high", "gateway", "all tools")
    assert (found["n_tool_peers"], found["n_organisation"]) == (1, 13)
    assert found["peer_median_context"] == found["peer_loaded_context"] == np.median(contexts) == honest[6]
    assert found["loaded_multiple"] == pytest.approx(153_000 / honest[6], abs=1e-4)
    # The spread stays the one pooled over tools: each pair's distance from its own tool's median.
    pooled = np.median(np.abs(np.append(np.log10(honest) - np.median(np.log10(honest)), 0.0)))
    assert found["z_context"] == pytest.approx(0.6745 * np.log10(153_000 / honest[6]) / pooled, abs=1e-4)
    assert found["reason"].startswith(
        "compared with all tools (13 developer-tool pairs): only 1 developer(s) use gateway"
    )


def test_context_stuffing_near_miss_an_honest_developer_alone_on_a_rare_tool() -> None:
    # Evaluated against all tools now (not skipped), and just above the heaviest honest peer is no flag.
    reader = events("reader", human_offsets(3, per_day=30), tool="gateway", cache_read_tokens=48_000, session_every=5)
    findings = detect(pl.concat([_varied_context_org(), reader]))
    assert needs(findings, "reader", "context_stuffing") is None
    assert flag(findings, "reader", "context_stuffing") is None


def test_context_stuffing_a_rare_tool_that_sends_more_by_design_raises_its_users_baseline() -> None:
    # Three people on a gateway whose sessions all carry about 3.5x the organisation's context (its callers send
    # that much, on one static prefix): each is compared with the larger of the organisation's median and the tool's
    # other users' (against the organisation alone two would be high), so none is flagged; a fourth who loads 4x
    # what they do still is.
    offsets = human_offsets(3, per_day=30)
    reads = {"gw1": 90_000, "gw2": 100_000, "gw3": 110_000, "stuffer": 400_000}
    gateway = [
        events(name, offsets, tool="gateway", cache_read_tokens=read, session_every=5) for name, read in reads.items()
    ]
    findings = detect(pl.concat([_varied_context_org(), *gateway]))
    assert [flag(findings, name, "context_stuffing") for name in ("gw1", "gw2", "gw3")] == [None, None, None]
    found = flag(findings, "stuffer", "context_stuffing")
    assert found is not None
    assert (found["severity"], found["baseline"], found["n_tool_peers"]) == ("high", "all tools", 4)
    assert found["peer_loaded_context"] == 103_000  # the other three's median, above the organisation's


def _clock(developer: str, days: int = 10) -> pl.DataFrame:
    """An exact 20-minute clock 9:00-17:00 on weekdays (24 one-prompt sessions a day): machine_regularity at high."""
    starts = [day * DAY + 9 * 3600 + np.arange(0, 8 * 3600, 1200.0) for day in range(days) if day % 7 < 5]
    return _headless(developer, np.concatenate(starts), per_session=3)


def _team_with_clocks(mimic_per_day: int) -> pl.DataFrame:
    """Five people (about 9 turns a day), four clocks (24) and a mimic: half the team scripted."""
    return pl.concat([_paced_org(5), *(_clock(f"clock{i}") for i in range(4)), _paced("mimic", mimic_per_day)])


def test_prompt_pace_baseline_leaves_out_colleagues_already_flagged_for_automation() -> None:
    # With the four clocks in it the team's median is 17 turns a day and a mimic at 28 is 1.6x; the people's is 9.
    findings = detect(_team_with_clocks(28))
    assert all(flag(findings, f"clock{i}", "machine_regularity") is not None for i in range(4))
    found = flag(findings, "mimic", "prompt_pace")
    assert found is not None
    assert found["severity"] == "medium"  # both ratios at 3.1x, above the low band
    assert (found["turns_per_day"], found["peer_median_turns_per_day"], found["peers_left_out"]) == (28.0, 9.0, 4)
    assert found["n_compared"] == 10
    assert "leave out 4 peers already flagged for automation" in found["reason"]
    clock = flag(findings, "clock0", "prompt_pace")
    assert clock is None or clock["peers_left_out"] == 3  # never counted among its own left-out peers


def test_prompt_pace_near_miss_under_the_peoples_baseline_or_beside_busy_people() -> None:
    # What a mimic reading the README does: stay under 2.5x the people's median, not the team's.
    findings = detect(_team_with_clocks(22))
    assert flag(findings, "mimic", "prompt_pace") is None  # 22 / 9 = 2.4x
    assert needs(findings, "mimic", "prompt_pace") is None
    # Busy colleagues no automation detector flags stay in the baseline: at 18-21 turns a day they lift the median
    # to 14 and the mimic at 28 is 2.0x.
    busy = pl.concat([_paced_org(5), *(_paced(f"busy{i}", 18 + i) for i in range(4)), _paced("mimic", 28)])
    findings = detect(busy)
    assert not [f for f in findings.flags if f.family == "automation" and f.severity != "low"]
    assert flag(findings, "mimic", "prompt_pace") is None
    assert findings.near_misses.filter(pl.col("developer") == "mimic").is_empty()


def _busy_with_tasks(developer: str, seed: int, task_requests: int = 2, rounds: int = 1) -> pl.DataFrame:
    """A person's interactive day (60 requests) plus ``rounds`` streams of one-shot agent tasks (each about every 90
    minutes, ``task_requests`` requests long)."""
    human = events(developer, human_offsets(seed, per_day=60), session_every=5)
    tasks = [
        _headless(developer, _loop_starts(seed + 50 * k, mean_gap=5400.0), per_session=task_requests).with_columns(
            pl.col("session_id") + f"-t{k}", pl.col("request_id") + f"-t{k}"
        )
        for k in range(rounds)
    ]
    return pl.concat([human, *tasks])


def _night_agent(developer: str, every_s: float) -> pl.DataFrame:
    """One-prompt sessions every ``every_s`` seconds 23:00-06:00 UTC on weeknights, nothing by day: all headless."""
    starts = [day * DAY + 23 * 3600 + np.arange(0, 7 * 3600, every_s) for day in range(20) if day % 7 < 5]
    return _headless(developer, np.concatenate(starts), per_session=2)


def test_headless_work_fires_when_every_session_is_left_to_the_agent_though_peers_run_tasks_all_day() -> None:
    # The peers' one-shot tasks fill 4 hours of their day, so the agent's 7 hours are under 2x the peers'; but all
    # of its tokens are headless against a peer median of 17%.
    findings = detect(pl.concat([*(_busy_with_tasks(f"peer{i}", i) for i in range(10)), _night_agent("night", 540.0)]))
    found = flag(findings, "night", "headless_work")
    assert found is not None
    assert found["severity"] == "medium"  # 7 hours: medium; all tokens headless: high; the weaker counts
    assert (found["headless_hours_per_day"], found["peer_median_headless_hours"]) == (7.0, 4.0)
    assert (found["headless_token_share"], found["peer_median_headless_share"]) == (1.0, 0.1744)
    assert found["reason"].endswith("100% of session tokens were headless (peer median 17%).")


def test_headless_work_near_miss_a_team_that_delegates_and_its_busiest_delegator() -> None:
    # Peers hand out 6-request tasks all day (5 hours, 39% of tokens); one hands out twice as many: 7 hours (1.4x)
    # and 59% of tokens (1.5x). Both bands are reached, neither is twice the peers'.
    team = [_busy_with_tasks(f"peer{i}", i, task_requests=6) for i in range(10)]
    frame = pl.concat([*team, _busy_with_tasks("busier", 99, task_requests=6, rounds=2)])
    findings = detect(frame)
    assert flag(findings, "busier", "headless_work") is None
    assert needs(findings, "busier", "headless_work") is None
    settings = Policy().flags
    context = build_context(
        frame, frame.group_by("developer").agg(pl.col("team").first()), settings, Policy().leaderboard, "UTC"
    )
    row = shape.DETECTOR.run(context).filter(pl.col("developer") == "busier").row(0, named=True)
    assert (row["headless_hours_per_day"], row["peer_median_headless_hours"]) == (7.0, 5.0)
    assert (round(row["headless_token_share"], 4), round(row["peer_median_headless_share"], 4)) == (0.5901, 0.385)


@pytest.mark.parametrize(
    "flags",
    [
        {},
        {"service_accounts": ["bot@acme.example"]},
        {"ignore_models": ["cheap-model"]},
        {"min_request_tokens": 10_000},
    ],
)
def test_exclusions_keep_the_same_events_from_text_and_from_codes(flags: dict[str, Any]) -> None:
    """The policy's exclusions keep exactly the events their rule keeps (a null developer: left out), with or
    without the shortcut for a policy that excludes nothing, and the same from text as from categorical codes."""
    small = events("small@acme.example", np.arange(20) * 600.0, cache_read_tokens=0, cache_write_tokens=0)
    bot = events("bot@acme.example", np.arange(20) * 600.0).with_columns(pl.lit("cheap-model").alias("model"))
    person = events("a@acme.example", np.arange(20) * 600.0)
    nobody = events("x", np.arange(3) * 600.0).with_columns(pl.lit(None, pl.String).alias("developer"))
    settings = Policy(flags=Flags(**flags))
    rule = (
        ~pl.col("developer").is_in(settings.flags.service_accounts)
        & ~pl.col("model").fill_null("").is_in(settings.flags.ignore_models)
        & ((pl.col("grain") != "request") | (pl.sum_horizontal(*TOKEN_COLUMNS) >= settings.flags.min_request_tokens))
    )
    text_columns = ["developer", "model", "grain", "tool", "session_id", "prompt_hash"]
    for frame in (pl.concat([small, bot, person]), pl.concat([small, bot, person, nobody])):
        expected = frame.filter(rule)
        assert expected.height == frame.height - 20 * bool(flags) - 3 * (frame.height == 63)
        developers = frame.group_by("developer").agg(pl.lit(None, pl.String).alias("team"))
        for given in (frame, frame.with_columns(pl.col(text_columns).cast(pl.Categorical))):
            context = build_context(given, developers, settings.flags, settings.leaderboard, "UTC")
            assert_frame_equal(context.events.with_columns(pl.col(text_columns).cast(pl.String)), expected)
