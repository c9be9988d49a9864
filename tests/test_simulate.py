"""The synthetic organisation: determinism, file shapes, and that the planted behaviour is really there."""

from __future__ import annotations

import csv
import json
import re
from datetime import timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from tokenaudit.policy import parse_policy
from tokenaudit.schema import TOKEN_COLUMNS
from tokenaudit.simulate import GAMING_STYLES, MODELS, TOOLS, SimulatedOrg, SimulationConfig, simulate, write_simulation

SMALL = SimulationConfig(developers=30, days=14, seed=7)
EVENT_COLUMNS = [
    "timestamp", "developer", "tool", "model", "session_id", "request_id", *TOKEN_COLUMNS, "prompt_hash",
]  # fmt: skip
PR_KEYS = {
    "additions", "author", "closedAt", "createdAt", "deletions", "labels",
    "mergedAt", "number", "state", "title", "url",
}  # fmt: skip


@pytest.fixture(scope="module")
def org() -> SimulatedOrg:
    return simulate(SMALL)


@pytest.fixture(scope="module")
def out_dir(org: SimulatedOrg, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sim")
    write_simulation(org, path)
    return path


def _files(path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(path.iterdir())}


def _aliases(out_dir: Path) -> dict[str, str]:
    policy = parse_policy((out_dir / "policy.yaml").read_text(encoding="utf-8"), "policy.yaml")
    return {alias: dev for dev, ident in policy.identities.items() for alias in ident.aliases}


def _session_start_cv(events: pl.DataFrame, email: str) -> float:
    starts = (
        events.filter(pl.col("developer") == email)
        .group_by("session_id")
        .agg(pl.col("timestamp").min())
        .sort("timestamp")
        .get_column("timestamp")
    )
    gaps = starts.diff().drop_nulls().dt.total_seconds().to_numpy()
    return float(gaps.std() / gaps.mean())


def test_written_files_and_returned_paths(org: SimulatedOrg, tmp_path: Path) -> None:
    paths = write_simulation(org, tmp_path / "nested")
    assert [p.name for p in paths] == ["events.csv", "labels.csv", "prs.json", "jira.csv", "policy.yaml"]
    assert all(p.is_file() and p.stat().st_size > 0 for p in paths)


def test_same_seed_gives_byte_identical_files(out_dir: Path, tmp_path: Path) -> None:
    write_simulation(simulate(SMALL), tmp_path)
    assert _files(tmp_path) == _files(out_dir)


def test_different_seed_gives_different_files(out_dir: Path, tmp_path: Path) -> None:
    write_simulation(simulate(SimulationConfig(developers=30, days=14, seed=8)), tmp_path)
    assert all(content != _files(out_dir)[name] for name, content in _files(tmp_path).items())


def test_every_style_is_planted_with_the_configured_count(out_dir: Path) -> None:
    labels = pl.read_csv(out_dir / "labels.csv")
    assert labels.columns == [
        "developer", "email", "team", "label", "archetype", "style", "intensity", "true_yield", "timezone",
    ]  # fmt: skip
    assert labels.height == SMALL.developers
    gamers = labels.filter(pl.col("label") == "gamer")
    counts = dict(gamers.group_by("style").len().iter_rows())
    assert counts == dict.fromkeys(GAMING_STYLES, SMALL.per_style)
    assert set(gamers["archetype"]) == {"gamer"}
    assert set(gamers["intensity"]) <= {1.5, 3.0, 10.0}
    honest = labels.filter(pl.col("label") == "honest")
    assert honest["style"].null_count() == honest.height
    assert honest["intensity"].null_count() == honest.height
    assert "gamer" not in set(honest["archetype"])
    assert labels["true_yield"].is_finite().all()


def test_events_csv_columns_types_and_order(out_dir: Path) -> None:
    raw = pl.read_csv(out_dir / "events.csv", infer_schema=False)
    assert raw.columns == EVENT_COLUMNS
    assert raw["timestamp"].str.contains(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$").all()
    for column in TOKEN_COLUMNS:
        assert raw[column].str.contains(r"^\d+$").all(), column
    assert raw["request_id"].n_unique() == raw.height
    assert raw["request_id"].str.starts_with("req_").all()
    assert set(raw["model"]) <= set(MODELS)
    assert set(raw["tool"]) <= set(TOOLS)
    assert (
        raw["session_id"].str.contains(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$").all()
    )
    hashes = raw["prompt_hash"].drop_nulls()
    assert 0 < hashes.len() < raw.height  # only the first request of a burst carries the prompt
    assert hashes.str.contains(r"^[0-9a-f]{16}$").all()
    assert raw.select("timestamp", "request_id").equals(raw.select("timestamp", "request_id").sort(pl.all()))


def test_event_developers_are_emails_in_the_policy(out_dir: Path) -> None:
    events = pl.read_csv(out_dir / "events.csv", columns=["developer"])
    emails = set(events["developer"])
    assert all(re.fullmatch(r"[a-z]+\.[a-z]+\d*@acme\.example", email) for email in emails)
    assert emails <= set(_aliases(out_dir))


def test_prs_json_has_the_gh_shape_and_authors_resolve(out_dir: Path) -> None:
    prs = json.loads((out_dir / "prs.json").read_text(encoding="utf-8"))
    aliases = _aliases(out_dir)
    assert isinstance(prs, list)
    assert prs
    for pr in prs:
        assert set(pr) == PR_KEYS
        assert pr["state"] in {"OPEN", "CLOSED", "MERGED"}
        assert (pr["mergedAt"] is not None) == (pr["state"] == "MERGED")
        assert (pr["closedAt"] is None) == (pr["state"] == "OPEN")
        assert re.fullmatch(r"https://github\.com/acme/[a-z-]+/pull/\d+", pr["url"])
        assert pr["url"].endswith(f"/pull/{pr['number']}")
        assert all(set(label) == {"id", "name", "description", "color"} for label in pr["labels"])
        author = pr["author"]
        if author["is_bot"]:
            assert author == {"is_bot": True, "login": "app/dependabot"}
        else:
            assert set(author) == {"id", "is_bot", "login", "name"}
            assert author["login"] in aliases
            assert aliases[author["login"]] != author["login"]
    titles = {pr["title"] for pr in prs}
    reverts = [t for t in titles if t.startswith('Revert "')]
    assert reverts
    assert all(t.removeprefix("Revert ").strip('"') in titles for t in reverts)
    assert any(pr["author"]["is_bot"] for pr in prs)


def test_jira_csv_has_the_export_shape(out_dir: Path) -> None:
    text = (out_dir / "jira.csv").read_text(encoding="utf-8-sig")
    rows = list(csv.reader(text.splitlines()))
    assert rows[0] == [
        "Summary", "Issue key", "Issue id", "Issue Type", "Status", "Priority", "Resolution", "Assignee",
        "Created", "Resolved", "Labels", "Labels", "Custom field (Story Points)",
    ]  # fmt: skip
    aliases = _aliases(out_dir)
    date = re.compile(r"^\d\d/[A-Z][a-z]{2}/\d\d \d{1,2}:\d\d [AP]M$")
    for row in rows[1:]:
        _, key, _, kind, status, _, resolution, assignee, created, resolved, *_ = row
        assert re.fullmatch(r"[A-Z]+\d*-\d+", key)
        assert kind in {"Story", "Task", "Bug"}
        assert date.match(created)
        assert (status == "Done") == bool(resolved) == bool(resolution)
        assert not resolved or date.match(resolved)
        assert not assignee or assignee in aliases
    assert any(row[3] == "Bug" for row in rows[1:])


def test_policy_yaml_is_a_valid_policy_with_only_the_expected_keys(org: SimulatedOrg, out_dir: Path) -> None:
    text = (out_dir / "policy.yaml").read_text(encoding="utf-8")
    assert text.startswith("#")
    policy = parse_policy(text, "policy.yaml")
    assert set(policy.model_fields_set) == {"timezone", "identities", "leaderboard"}
    assert policy.leaderboard.snapshot_weekday == "friday"
    assert policy.leaderboard.snapshot_time == "17:00"
    assert policy.leaderboard.launched == org.launched
    assert SMALL.start < org.launched < SMALL.start + timedelta(days=SMALL.days)
    teams = dict(org.labels.select("developer", "team").iter_rows())
    assert {dev: ident.team for dev, ident in policy.identities.items()} == teams
    assert min(org.labels.group_by("team").len()["len"]) == 3  # a small team for privacy rules


def test_cron_loop_session_starts_are_far_more_regular_than_a_normal_developers(org: SimulatedOrg) -> None:
    labels = org.labels
    normal = labels.filter(pl.col("archetype") == "normal")["email"]
    human_cv = float(np.median([_session_start_cv(org.events, email) for email in normal]))
    for gamer in labels.filter(pl.col("style") == "cron_loop").iter_rows(named=True):
        planted = org.events.join(org.injected.filter(pl.col("developer") == gamer["developer"]), on="request_id")
        first, last = planted["timestamp"].min(), planted["timestamp"].max()
        while_looping = org.events.filter(pl.col("timestamp").is_between(first, last))
        assert _session_start_cv(while_looping, gamer["email"]) < 0.5 < 1.0 < human_cv


def test_context_stuffing_requests_carry_huge_contexts(org: SimulatedOrg) -> None:
    """Gaming starts at the leaderboard launch, so look at the requests sent since then."""
    context = pl.sum_horizontal("input_tokens", "cache_read_tokens", "cache_write_tokens")
    since_launch = org.events.filter(pl.col("timestamp").dt.date() >= org.launched)
    for email in org.labels.filter(pl.col("style") == "context_stuffing")["email"]:
        mine = since_launch.filter(pl.col("developer") == email)
        assert mine.select(context.median()).item() > 150_000
    normal = org.labels.filter(pl.col("archetype") == "normal")["email"]
    assert org.events.filter(pl.col("developer").is_in(normal)).select(context.median()).item() < 100_000


def test_gaming_inflates_tokens_but_buys_no_outcomes(org: SimulatedOrg) -> None:
    """Same seed without inflation: gamers' PR counts are exactly what their honest baseline earned."""
    flat = simulate(SimulationConfig(developers=30, days=14, seed=7, intensities=(1.0,)))

    def merged(o: SimulatedOrg) -> pl.DataFrame:
        human = o.prs.filter(pl.col("state") == "MERGED", ~pl.col("author").struct.field("is_bot"))
        return human.group_by(login=pl.col("author").struct.field("login")).len().sort("login")

    def tokens(o: SimulatedOrg) -> pl.DataFrame:
        total = pl.sum_horizontal(*TOKEN_COLUMNS).sum()
        return o.events.group_by("developer").agg(total.alias("tokens")).sort("developer")

    assert merged(org).equals(merged(flat))
    assert org.truth.select("developer", "expected_prs").equals(flat.truth.select("developer", "expected_prs"))
    both = (
        tokens(org)
        .join(tokens(flat), on="developer", suffix="_flat")
        .join(org.labels.select("email", "intensity"), left_on="developer", right_on="email")
    )
    gamers = both.filter(pl.col("intensity") >= 3)
    assert (gamers["tokens"] > 1.3 * gamers["tokens_flat"]).all()
    honest = both.filter(pl.col("intensity").is_null())
    assert (honest["tokens"] == honest["tokens_flat"]).all()
    yields = org.labels.join(flat.labels, on="developer", suffix="_flat").filter(pl.col("intensity") >= 3)
    assert (yields["true_yield"] < yields["true_yield_flat"]).all()


def test_injected_requests_are_gamers_only(org: SimulatedOrg) -> None:
    assert set(org.injected["request_id"]) <= set(org.events["request_id"])
    gamers = set(org.labels.filter(pl.col("label") == "gamer")["developer"])
    assert set(org.injected["developer"]) == gamers
    styles = dict(org.labels.select("developer", "style").iter_rows())
    assert all(styles[dev] == style for dev, style in org.injected.select("developer", "style").unique().iter_rows())


@pytest.mark.parametrize(
    "bad",
    [
        {"days": 3},
        {"developers": 5},
        {"gamer_share": 0.7},
        {"styles": ("mining",)},
        {"intensities": (0.5,)},
        {"team_size": (8, 4)},
    ],
)
def test_invalid_configs_are_rejected(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        SimulationConfig(**bad)  # type: ignore[arg-type]
