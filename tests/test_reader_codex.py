"""Codex rollouts: exact totals, re-emitted and forked copies, legacy totals, rejects, identity, detection."""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest

from tests.helpers import FIXTURES, by_developer, run_cli, run_json
from tokenaudit.errors import InputError
from tokenaudit.ingest import Period, load_events
from tokenaudit.policy import Policy
from tokenaudit.readers import READERS, detect
from tokenaudit.readers.base import ReadContext, ReadResult
from tokenaudit.readers.codex import CodexReader
from tokenaudit.readers.sources import resolve

ROOT = FIXTURES / "codex"
ANA = ROOT / "ana@acme.io" / "sessions" / "2026" / "03"
PARENT = ANA / "02" / "rollout-2026-03-02T09-00-00-0199a1b2-3c4d-7e5f-8a9b-0c1d2e3f4a51.jsonl"
FORK = ANA / "03" / "rollout-2026-03-03T10-00-00-0199a6c0-1d2e-7f3a-9b4c-5d6e7f8a9b02.jsonl"
LEGACY = (
    ROOT / "bo@acme.io" / "sessions" / "2025" / "09" / "20"
) / "rollout-2025-09-20T08-00-00-01995f3e-8a7b-7c6d-8e5f-4a3b2c1d0e93.jsonl"


def read(*inputs: Path, developer: str | None = None) -> ReadResult:
    sources = resolve([str(path) for path in inputs]).sources
    return CodexReader().read(sources, ReadContext(policy=Policy(), developer=developer))


def tokens(inp: int, out: int, cache_read: int, cache_write: int) -> dict[str, int]:
    total = inp + out + cache_read + cache_write
    return {"input": inp, "output": out, "cache_read": cache_read, "cache_write": cache_write, "total": total}


def test_totals_per_developer_are_exact() -> None:
    document = run_json("totals", str(ROOT))
    groups = by_developer(document)
    # ana's three turns (last_token_usage): input includes cached, so uncached = input - cached.
    assert groups["ana@acme.io"]["tokens"] == tokens(
        (2500 - 500) + (3000 - 2000) + (1000 - 800), 300 + 150 + 100, 500 + 2000 + 800, 0
    )
    assert groups["ana@acme.io"]["requests"] == 3
    # bo's legacy file has only cumulative totals: 100/0/10, then 250/100/30 -> a turn of 150/100/20.
    assert groups["bo@acme.io"]["tokens"] == tokens(100 + (150 - 100), 10 + 20, 0 + 100, 0)
    assert groups["bo@acme.io"]["requests"] == 2
    # One re-emitted event and the fork's two replayed events.
    assert document["data_quality"]["duplicates_dropped"] == 3
    assert document["data_quality"]["rows_rejected"] == 2


def test_reemitted_event_with_an_unchanged_total_counts_once() -> None:
    events = read(PARENT).events
    assert events.height == 3
    assert events["dedup_key"].n_unique() == 2
    loaded = load_events([str(PARENT)], Policy(), Period())
    assert loaded.events["output_tokens"].sum() == 300 + 150
    assert loaded.quality.duplicates_dropped == 1


def test_forked_rollout_replays_count_once_under_the_original() -> None:
    loaded = load_events([str(PARENT), str(FORK)], Policy(), Period()).events.sort("timestamp")
    assert loaded["session_id"].to_list() == [
        "0199a1b2-3c4d-7e5f-8a9b-0c1d2e3f4a51",
        "0199a1b2-3c4d-7e5f-8a9b-0c1d2e3f4a51",
        "0199a6c0-1d2e-7f3a-9b4c-5d6e7f8a9b02",
    ]
    assert loaded["timestamp"].dt.strftime("%Y-%m-%d %H:%M").to_list() == [
        "2026-03-02 09:01",
        "2026-03-02 09:06",
        "2026-03-03 10:03",
    ]
    assert loaded["model"].to_list() == ["gpt-5-codex", "gpt-5.1-codex", "gpt-5.1-codex"]


def test_fork_alone_keeps_its_own_session_id_not_the_copied_parent_meta() -> None:
    events = read(FORK).events
    assert set(events["session_id"]) == {"0199a6c0-1d2e-7f3a-9b4c-5d6e7f8a9b02"}


def test_rate_limit_only_events_are_neither_events_nor_rejects() -> None:
    result = read(PARENT)
    # Line 6 is a token_count with "info": null.
    assert 6 not in result.events["source_line"].to_list()
    assert result.rejects.is_empty()


def test_legacy_totals_only_and_missing_model() -> None:
    events = read(LEGACY).events.sort("source_line")
    assert events.select("input_tokens", "cache_read_tokens", "output_tokens").rows() == [(100, 0, 10), (50, 100, 20)]
    assert events["model"].to_list() == [None, None]
    assert events["cost_usd"].to_list() == [None, None]


def test_unknown_extra_field_is_tolerated() -> None:
    # The second turn's payload carries "new_future_field"; it is read like any other.
    row = read(PARENT).events.filter(pl.col("source_line") == 12).row(0, named=True)
    assert (row["input_tokens"], row["cache_read_tokens"], row["output_tokens"]) == (1000, 2000, 150)
    assert (row["tool"], row["grain"], row["cache_write_tokens"], row["source_format"]) == (
        "codex",
        "request",
        0,
        "codex",
    )


def test_truncated_line_and_inconsistent_turn_are_rejected_with_their_line() -> None:
    rejects = read(ROOT).rejects.sort("source_file")
    assert [(Path(r["source_file"]).name, r["source_line"], r["reason"]) for r in rejects.iter_rows(named=True)] == [
        (FORK.name, 11, "not valid JSON (truncated or corrupted line)"),
        (
            LEGACY.name,
            6,
            "payload.info.last_token_usage.cached_input_tokens: exceeds input_tokens, which include it",
        ),
    ]


def test_owner_is_the_folder_that_holds_sessions_and_can_be_overridden(tmp_path: Path) -> None:
    assert dict(read(ROOT).events.group_by("developer").len().iter_rows()) == {"ana@acme.io": 6, "bo@acme.io": 2}
    assert set(read(ROOT, developer="dan").events["developer"]) == {"dan"}
    home = tmp_path / ".codex" / "sessions" / "2026" / "03" / "02"
    home.mkdir(parents=True)
    shutil.copy(PARENT, home / PARENT.name)
    with pytest.raises(InputError, match=r"sessions/ or archived_sessions/"):
        read(home)
    result = run_cli("totals", str(tmp_path / ".codex" / "sessions"), "--format", "json")
    assert result.exit_code == 3


def test_the_same_totals_from_two_owners_stay_apart(tmp_path: Path) -> None:
    for person in ("ana@acme.io", "cy@acme.io"):
        folder = tmp_path / person / "sessions"
        folder.mkdir(parents=True)
        shutil.copy(PARENT, folder / PARENT.name)
    groups = by_developer(run_json("totals", str(tmp_path)))
    assert groups["ana@acme.io"]["tokens"] == groups["cy@acme.io"]["tokens"]
    assert groups["cy@acme.io"]["requests"] == 2


def test_detection_picks_this_reader_and_generic_does_not_match() -> None:
    context = ReadContext(policy=Policy())
    for source in resolve([str(ROOT)]).sources:
        assert detect(source, context).name == "codex"
        assert [reader.name for reader in READERS if reader.detect(source, context).matched] == ["codex"]


SUBAGENTS = FIXTURES / "codex_subagents"
EVE = SUBAGENTS / "eve@acme.io" / "sessions" / "2026" / "05" / "12"
EVE_SUBAGENT = EVE / "rollout-2026-05-12T08-03-00-0196c1a3-0000-7000-8000-00000000b001.jsonl"


def test_sub_agent_rollouts_do_not_count_their_parents_replayed_history() -> None:
    """ccusage's cases: the replay (the parent's events, all in the second of the spawn) is left out."""
    groups = by_developer(run_json("totals", str(SUBAGENTS)))
    # gus: one parent turn (1,000 in, 100 cached, 200 out) and three sub-agents of 50, 75 and 25 input, 10 out
    # each, every one replaying the parent's 700 + 300 first (ccusage: 4 events, 1,150 input with cache).
    assert groups["gus@acme.io"]["tokens"] == tokens(900 + 50 + 75 + 25, 200 + 30, 100, 0)
    assert groups["gus@acme.io"]["requests"] == 4
    # fay: a sub-agent with cumulative totals only and its parent's file absent (ccusage: 100 in, 10 cached,
    # 20 out): the replayed totals are the baseline of the first real turn, not turns of their own.
    assert groups["fay@acme.io"]["tokens"] == tokens(90, 20, 10, 0)
    assert groups["fay@acme.io"]["requests"] == 1


def test_a_sub_agent_alone_keeps_only_its_own_turns_at_their_own_times() -> None:
    events = load_events([str(EVE_SUBAGENT)], Policy(), Period()).events.sort("timestamp")
    assert events.select("input_tokens", "cache_read_tokens", "output_tokens").rows() == [(90, 10, 20), (45, 5, 10)]
    assert events["timestamp"].dt.strftime("%H:%M:%S").to_list() == ["08:04:00", "08:05:00"]
    assert set(events["session_id"]) == {"0196c1a3-0000-7000-8000-00000000b001"}


def test_token_events_naming_their_own_model_are_that_models() -> None:
    # eve's turn context says gpt-5.2-codex; the sub-agent's first own event says gpt-5.2, and so does its next
    # (ccusage carries an event's model forward, as a turn context's).
    document = run_json("totals", str(EVE.parents[3]), "--by", "model")
    models = {group["model"]: group["tokens"] for group in document["groups"]}
    assert models == {
        "gpt-5.2-codex": tokens(900 + 450, 200 + 100, 100 + 50, 0),
        "gpt-5.2": tokens(90 + 45, 20 + 10, 10 + 5, 0),
    }
