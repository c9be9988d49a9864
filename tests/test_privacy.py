"""--pseudonymize: stable keyed pseudonyms, and no real identity anywhere in the output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.helpers import SAMPLE, SAMPLE_ARGS, run_cli
from tokenaudit.privacy import KEY_VARIABLE, pseudonym

AUDIT = ("audit", *SAMPLE_ARGS, "--pseudonymize")


def _real_names() -> set[str]:
    identities = yaml.safe_load((SAMPLE / "policy.yaml").read_text())["identities"]
    return {name.lower() for developer, entry in identities.items() for name in (developer, *entry["aliases"])}


@pytest.fixture(scope="module")
def outputs() -> dict[str, str]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("NO_COLOR", "1")
        patch.setenv("COLUMNS", "200")
        patch.setenv(KEY_VARIABLE, "key-a-0123456789abcdef")
        first = run_cli(*AUDIT, "-f", "json")
        again = run_cli(*AUDIT, "-f", "json")
        table = run_cli(*AUDIT, "-f", "table")
        csv = run_cli(*AUDIT, "-f", "csv")
        explain = run_cli("explain", "dev.silva", *AUDIT[1:], "-f", "text")
        patch.setenv(KEY_VARIABLE, "key-b-0123456789abcdef")
        other = run_cli(*AUDIT, "-f", "json")
    for result in (first, again, table, csv, explain, other):
        assert result.exit_code == 0, result.stderr
    return {
        "first": first.stdout,
        "again": again.stdout,
        "table": table.stdout + table.stderr,
        "csv": csv.stdout + csv.stderr,
        "explain": explain.stdout,
        "other": other.stdout,
        "stderr": first.stderr,
    }


def test_pseudonyms_are_stable_with_the_same_key_and_differ_with_another(outputs: dict[str, str]) -> None:
    first = [d["developer"] for d in json.loads(outputs["first"])["developers"]]
    other = [d["developer"] for d in json.loads(outputs["other"])["developers"]]
    assert outputs["first"] == outputs["again"]
    assert all(name.startswith("dev-") and len(name) == 14 for name in first)
    assert pseudonym("dev.silva", b"key-a-0123456789abcdef") in first
    assert set(first).isdisjoint(other)


def test_no_real_identity_appears_in_any_output(outputs: dict[str, str]) -> None:
    names = _real_names()
    assert len(names) == 160
    for kind, text in outputs.items():
        lowered = text.lower()
        leaked = sorted(name for name in names if name in lowered)
        assert not leaked, (kind, leaked[:5])


def test_the_scrub_keeps_the_numbers(outputs: dict[str, str]) -> None:
    document = json.loads(outputs["first"])
    silva = next(
        d for d in document["developers"] if d["developer"] == pseudonym("dev.silva", b"key-a-0123456789abcdef")
    )
    assert silva["rank"]["tokens"] == 8
    assert silva["risk"]["level"] == "high"
    assert (
        "dev.silva" not in outputs["explain"]
        and pseudonym("dev.silva", b"key-a-0123456789abcdef") in outputs["explain"]
    )


def test_pseudonymize_without_a_key_refuses_to_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_VARIABLE, raising=False)
    result = run_cli(*AUDIT, "-f", "json")
    assert result.exit_code == 2
    assert KEY_VARIABLE in result.stderr
    assert result.stdout == ""


def test_a_short_key_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_VARIABLE, "secret")
    result = run_cli(*AUDIT, "-f", "json")
    assert result.exit_code == 2
    assert "too short" in result.stderr


def test_rejects_file_and_pseudonyms_do_not_mix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(KEY_VARIABLE, "key-a-0123456789abcdef")
    result = run_cli("totals", str(SAMPLE / "events.csv"), "--pseudonymize", "--rejects", str(tmp_path / "r.csv"))
    assert result.exit_code == 2
    assert "cannot be combined with --pseudonymize" in result.stderr


def test_teams_only_hides_a_team_smaller_than_min_group_size(tmp_path: Path) -> None:
    policy = yaml.safe_load((SAMPLE / "policy.yaml").read_text())
    sizes = {team: 0 for team in {entry["team"] for entry in policy["identities"].values()}}
    for entry in policy["identities"].values():
        sizes[entry["team"]] += 1
    assert sizes["payments"] == 3 and min(v for k, v in sizes.items() if k != "payments") >= 5
    args = ("audit", str(SAMPLE / "events.csv"), "--policy", str(SAMPLE / "policy.yaml"), "--teams-only")
    result = run_cli(*args, "-f", "json")
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert sorted(team["team"] for team in document["teams"]) == sorted(set(sizes) - {"payments"})
    assert document["suppressed_teams"] == 1
    assert {team["team"]: team["developers"] for team in document["teams"]} == {
        k: v for k, v in sizes.items() if k != "payments"
    }
    leaked = sorted(name for name in _real_names() if name in (result.stdout + result.stderr).lower())
    assert not leaked
    policy["min_group_size"] = 3
    lowered = tmp_path / "policy.yaml"
    lowered.write_text(yaml.safe_dump(policy))
    shown = json.loads(run_cli(*args[:2], "--policy", str(lowered), "--teams-only", "-f", "json").stdout)
    assert shown["suppressed_teams"] == 0 and len(shown["teams"]) == len(sizes)


def test_a_pseudonymized_html_report_names_nobody(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(KEY_VARIABLE, "key-a-0123456789abcdef")
    page = tmp_path / "report.html"
    result = run_cli("report", *AUDIT[1:], "--output", str(page))
    assert result.exit_code == 0, result.stderr
    text = page.read_text().lower() + result.stderr.lower()
    assert pseudonym("dev.silva", b"key-a-0123456789abcdef") in text
    assert not sorted(name for name in _real_names() if name in text)
