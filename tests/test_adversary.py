"""The adversarial organisation: deterministic per seed, and its files parse with the real readers to the
manifest's exact totals (so the evaluation measures detectors, not reading mistakes)."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from tokenaudit.adversary import AdversaryConfig, generate, write_organisation
from tokenaudit.adversary.cases import EDGE_CASES, GAMER_CASES
from tokenaudit.identity import resolve_identities
from tokenaudit.ingest import LoadedEvents, Period, load_events
from tokenaudit.outcomes.read import read_outcomes
from tokenaudit.policy import load_policy
from tokenaudit.readers.anthropic import AnthropicMessagesUsageReader
from tokenaudit.readers.claude_code import ClaudeCodeReader
from tokenaudit.readers.cursor import CursorUsageEventsReader
from tokenaudit.readers.generic import GenericReader
from tokenaudit.schema import total_tokens

SMALL = AdversaryConfig(seed=5, developers=30, weeks=1, activity=0.3)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("adversary")
    write_organisation(generate(SMALL), path)
    return path


@pytest.fixture(scope="module")
def manifest(folder: Path) -> dict[str, object]:
    document: dict[str, object] = json.loads((folder / "manifest.json").read_text())
    return document


@pytest.fixture(scope="module")
def loaded(folder: Path) -> LoadedEvents:
    return load_events([str(folder / "logs")], load_policy(folder / "policy.yaml"), Period())


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _developers(manifest: dict[str, object]) -> list[dict[str, object]]:
    developers = manifest["developers"]
    assert isinstance(developers, list)
    return developers


def test_same_seed_writes_identical_files_and_another_seed_does_not(folder: Path, tmp_path: Path) -> None:
    write_organisation(generate(SMALL), tmp_path / "again")
    assert _files(tmp_path / "again") == _files(folder)
    other = AdversaryConfig(seed=6, developers=30, weeks=1, activity=0.3)
    write_organisation(generate(other), tmp_path / "other")
    assert _files(tmp_path / "other")["manifest.json"] != _files(folder)["manifest.json"]


def test_every_case_is_planted_once_and_the_duo_is_a_team_of_two(manifest: dict[str, object]) -> None:
    developers = _developers(manifest)
    cases = [d["case"] for d in developers]
    assert all(cases.count(case) == 1 for case in GAMER_CASES + EDGE_CASES if case != "two_person_team")
    duo = [d for d in developers if d["case"] == "two_person_team"]
    assert len(duo) == 2
    assert {d["team"] for d in duo} == {"infra-duo"}
    assert sum(1 for d in developers if d["team"] == "infra-duo") == 2
    assert {d["intensity"] for d in developers if d["kind"] == "gamer"} == {"low", "high"}


def test_readers_give_the_manifest_totals_to_the_token(loaded: LoadedEvents, manifest: dict[str, object]) -> None:
    assert loaded.quality.rows_rejected == 0
    assert loaded.quality.unmatched_identities == []
    formats = set(loaded.events["source_format"].unique().to_list())
    readers = (ClaudeCodeReader, CursorUsageEventsReader, GenericReader, AnthropicMessagesUsageReader)
    assert {reader.name for reader in readers} <= formats
    per_developer = dict(loaded.events.group_by("developer").agg(total_tokens().sum()).iter_rows())
    expected = {d["developer"]: d["total_tokens"] for d in _developers(manifest)}
    assert per_developer == expected
    day_grain = loaded.events.filter(pl.col("grain") == "day")
    routed = next(d for d in _developers(manifest) if d["case"] == "day_grain_routing")
    tokens = routed["tokens"]
    assert isinstance(tokens, dict)
    assert day_grain.select(total_tokens().sum()).item() == tokens["anthropic-api"]
    assert set(day_grain["developer"].unique()) == {routed["developer"]}


def test_outcomes_join_through_the_identity_map(folder: Path, manifest: dict[str, object]) -> None:
    policy = load_policy(folder / "policy.yaml")
    read = read_outcomes([str(folder / "outcomes")], policy.outcomes, "UTC")
    resolved = resolve_identities(read.outcomes.lazy(), policy).collect()
    assert resolved["identity_matched"].all()
    merged = dict(
        resolved.filter(pl.col("kind") == "merged_pr").group_by("developer").agg(pl.col("count").sum()).iter_rows()
    )
    expected = {d["developer"]: d["merged_prs"] for d in _developers(manifest) if d["merged_prs"]}
    assert merged == expected
    farmer = next(d for d in _developers(manifest) if d["case"] == "outcome_farmer")
    assert farmer["one_line_prs"] in (40, 60)


def test_without_gamers_everyone_else_is_unchanged(folder: Path, tmp_path: Path, manifest: dict[str, object]) -> None:
    honest = write_organisation(generate(SMALL), tmp_path / "honest", gamers=False)
    kept = [d for d in _developers(manifest) if d["kind"] != "gamer"]
    assert honest["developers"] == kept
