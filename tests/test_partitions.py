"""Detectors split into per-developer features and a judge over all of them give the whole period's flags exactly
when the features are computed shard by shard (events split by a hash of the developer) and concatenated: what lets
the per-event stage run on shards, one at a time or on a cluster's workers."""

from __future__ import annotations

import datetime as dt
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from tests.helpers import SAMPLE
from tokenaudit.adversary import AdversaryConfig, generate, write_organisation
from tokenaudit.audit import run_audit
from tokenaudit.detectors import (
    DETECTORS,
    Findings,
    ShardedFeatures,
    build_context,
    detector_features,
    judged_context,
    merged_features,
    people,
    run_detectors,
)
from tokenaudit.detectors.base import DetectorContext, computed_once
from tokenaudit.ingest import LoadedEvents, Period, load_events
from tokenaudit.policy import Policy, load_policy
from tokenaudit.shards import developer_table

SHARDS = 3


def developer_shards(events: pl.DataFrame, shards: int = SHARDS) -> list[pl.DataFrame]:
    """The events split by a hash of the developer, each shard in input order."""
    shard = pl.col("developer").hash(seed=7) % shards
    return [events.filter(shard == number) for number in range(shards)]


def whole_and_sharded(loaded: LoadedEvents, policy: Policy) -> tuple[Findings, Findings]:
    """The findings of the whole period's context, and of the judges over the shards' concatenated features."""
    timezone = loaded.period.timezone
    developers = developer_table(loaded.events, timezone)
    flags, board = policy.flags, policy.leaderboard
    whole = run_detectors(build_context(loaded.events, developers, flags, board, timezone))
    contexts = [build_context(part, developers, flags, board, timezone) for part in developer_shards(loaded.events)]
    assert all(not context.developers.is_empty() for context in contexts)
    judged = judged_context([people(context) for context in contexts], flags, board)
    sharded = run_detectors(judged, features=merged_features([detector_features(context) for context in contexts]))
    return whole, sharded


def assert_same_findings(sharded: Findings, whole: Findings) -> None:
    assert sharded.flags == whole.flags
    assert_frame_equal(sharded.risk, whole.risk)
    assert_frame_equal(sharded.not_evaluated, whole.not_evaluated)
    assert_frame_equal(sharded.near_misses, whole.near_misses)


@pytest.fixture(scope="module")
def adversary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("adversary")
    write_organisation(generate(AdversaryConfig(seed=5, developers=30, weeks=2, activity=0.3)), path)
    return path


def test_sample_data_flags_are_the_same_from_developer_shards() -> None:
    policy = load_policy(SAMPLE / "policy.yaml")
    whole, sharded = whole_and_sharded(load_events([str(SAMPLE / "events.csv")], policy, Period()), policy)
    # The sample's leaderboard is configured, so the timing detectors judge too.
    assert {"snapshot_spike", "launch_step", "machine_regularity", "no_rest_rhythm"} <= {f.id for f in whole.flags}
    assert_same_findings(sharded, whole)


def test_a_shard_that_starts_late_and_ends_early_is_judged_on_the_whole_period() -> None:
    # Which snapshots and launch days count depends on the period's first and last event, not a shard's.
    policy = load_policy(SAMPLE / "policy.yaml")
    loaded = load_events([str(SAMPLE / "events.csv")], policy, Period())
    last = developer_shards(loaded.events)[-1]["developer"].unique().implode()
    inside = pl.col("timestamp").is_between(
        dt.datetime(2026, 9, 10, tzinfo=dt.UTC), dt.datetime(2026, 10, 2, tzinfo=dt.UTC)
    )
    trimmed = replace(loaded, events=loaded.events.filter(~pl.col("developer").is_in(last) | inside))
    whole, sharded = whole_and_sharded(trimmed, policy)
    assert "snapshot_spike" in {f.id for f in whole.flags}
    unevaluated = whole.not_evaluated.filter(pl.col("id") == "launch_step").height
    assert 0 < unevaluated < whole.risk.height  # the trimmed developers lack days before the launch; others have them
    assert_same_findings(sharded, whole)


def test_adversarial_organisation_flags_are_the_same_from_developer_shards(adversary: Path) -> None:
    policy = load_policy(adversary / "policy.yaml")
    whole, sharded = whole_and_sharded(load_events([str(adversary / "logs")], policy, Period()), policy)
    fired = {f.id for f in whole.flags}
    assert len(fired) >= 5
    assert_same_findings(sharded, whole)


def test_every_token_side_detector_is_split_and_the_outcome_side_reads_small_tables() -> None:
    whole = {d.id for d in DETECTORS if d.compute is not None}
    assert whole == {"volume_outlier", "low_yield", "outcome_gaming"}
    assert all(d.features is not None and d.judge is not None for d in DETECTORS if d.id not in whole)


def test_the_audit_judges_features_computed_elsewhere_only_for_its_own_settings() -> None:
    policy = load_policy(SAMPLE / "policy.yaml")
    loaded = load_events([str(SAMPLE / "events.csv")], policy, Period())
    timezone = loaded.period.timezone
    developers = developer_table(loaded.events, timezone)
    shards = [
        ShardedFeatures.of(build_context(part, developers, policy.flags, policy.leaderboard, timezone), timezone)
        for part in developer_shards(loaded.events)
    ]
    computed = run_audit(loaded, policy).findings
    assert_same_findings(run_audit(replace(loaded, features=ShardedFeatures.merged(shards)), policy).findings, computed)
    # One shard's features are judged as given: only its developers.
    partial = run_audit(replace(loaded, features=shards[0]), policy).findings
    assert partial.risk.height == shards[0].people[0].height < computed.risk.height
    # Features computed with other settings are not used: the audit computes its own from the events.
    elsewhere = replace(shards[0], timezone="Asia/Tokyo")
    assert_same_findings(run_audit(replace(loaded, features=elsewhere), policy).findings, computed)


def test_the_features_computed_side_by_side_are_each_detectors_own(adversary: Path) -> None:
    policy = load_policy(adversary / "policy.yaml")
    loaded = load_events([str(adversary / "logs")], policy, Period())
    timezone = loaded.period.timezone
    developers = developer_table(loaded.events, timezone)

    def context() -> DetectorContext:
        return build_context(loaded.events, developers, policy.flags, policy.leaderboard, timezone)

    side_by_side = detector_features(context())
    alone = context()
    assert list(side_by_side) == [d.id for d in DETECTORS if d.id in side_by_side]  # in the registry's order
    for detector in DETECTORS:
        if detector.id in side_by_side:
            assert detector.features is not None
            assert_frame_equal(side_by_side[detector.id], detector.features(alone), check_row_order=False)


def test_a_property_two_threads_ask_for_at_once_is_computed_once() -> None:
    calls: list[str] = []
    asked = threading.Barrier(2)

    class Holder:
        @computed_once
        def value(self) -> int:
            calls.append(threading.current_thread().name)
            time.sleep(0.05)  # the other thread asks meanwhile
            return 7

    holder = Holder()

    def ask(_: int) -> int:
        asked.wait()
        return holder.value

    with ThreadPoolExecutor(2) as pool:
        assert list(pool.map(ask, range(2))) == [7, 7]
    assert len(calls) == 1
    assert holder.value == 7
