"""--pseudonymize and --teams-only name nobody: no identity, path component, branch, working directory or free text
from the input in any output format or diagnostic.

The fixture organisation is the case that leaked before: Claude Code transcripts copied per person, whose project
folders encode each person's home directory (``-home-aldo-alvarez-api``), whose lines carry ``cwd``, ``gitBranch``
and prompt text with names, and whose outcome export carries logins, display names and PR titles.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
import yaml

from tests.helpers import run_cli
from tokenaudit.privacy import KEY_VARIABLE

PEOPLE = (("aldo", "alvarez"), ("birgit", "lindqvist"), ("chioma", "okonkwo"), ("dmitri", "volkov"), ("yuki", "tanaka"))
"""First and last names without hex-only spellings, so a pseudonym's hex digits cannot contain one by chance."""
KEY = "privacy-test-key-0123456789"


def _line(first: str, last: str, session: str, day: int, minute: int, input_tokens: object) -> str:
    home = f"/home/{first}-{last}"
    return json.dumps(
        {
            "type": "assistant",
            "cwd": f"{home}/api",
            "gitBranch": f"{first}/fix-{last}-login",
            "sessionId": session,
            "timestamp": f"2026-03-{day:02d}T{9 + minute // 60:02d}:{minute % 60:02d}:00.000Z",
            "requestId": f"req_{first}_{day}_{minute}",
            "message": {
                "id": f"msg_{first}_{day}_{minute}",
                "model": "claude-sonnet-4-5-20250929",
                "role": "assistant",
                "content": [{"type": "text", "text": f"Sure {first.title()} {last.title()}, see {home}/api"}],
                "usage": {
                    "input_tokens": input_tokens,
                    "output_tokens": 50 + minute,
                    "cache_read_input_tokens": 1000 * (day % 3 + 1),
                    "cache_creation_input_tokens": 10,
                },
            },
        }
    )


@pytest.fixture(scope="module")
def organisation(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, set[str]]:
    """The organisation's folder and every string that would identify someone or something of theirs."""
    root = tmp_path_factory.mktemp("org")
    secrets: set[str] = {str(root)}
    identities, pulls = {}, []
    for number, (first, last) in enumerate(PEOPLE):
        email = f"{first}.{last}@acme.example"
        login, display = f"{first[0]}{last}-gh", f"{first.title()} {last.title()}"
        session = str(uuid.UUID(int=number + 1))
        project = root / "exports" / email / "projects" / f"-home-{first}-{last}-api"
        project.mkdir(parents=True)
        lines = [_line(first, last, session, day, minute, 100 + day) for day in range(2, 12) for minute in (0, 7, 30)]
        lines.append(_line(first, last, session, 12, 0, f"{first}-typed-this"))  # a rejected row quoting a value
        (project / f"{session}.jsonl").write_text("\n".join(lines) + "\n")
        identities[f"{first}.{last}"] = {"team": "core", "aliases": [email, login, display]}
        pulls.append(
            {
                "number": 100 + number,
                "title": f"{display} fixes {first}'s login",
                "author": {"login": login, "name": display, "is_bot": False},
                "state": "MERGED",
                "createdAt": "2026-03-03T09:00:00Z",
                "mergedAt": "2026-03-04T09:00:00Z",
                "additions": 40,
                "deletions": 4,
                "url": f"https://github.com/acme/{first}-api/pull/{100 + number}",
            }
        )
        secrets |= {first, last, email, login, display, f"{first}.{last}", session, f"{first}/fix-{last}-login"}
        secrets |= {f"-home-{first}-{last}-api", f"/home/{first}-{last}", f"{first}-typed-this", f"{first}-api"}
    (root / "policy.yaml").write_text(yaml.safe_dump({"timezone": "UTC", "identities": identities}))
    (root / "prs.json").write_text(json.dumps(pulls))
    return root, secrets


def _leaks(text: str, secrets: set[str]) -> list[str]:
    lowered = text.lower()
    return sorted(secret for secret in secrets if secret.lower() in lowered)


@pytest.fixture(scope="module")
def outputs(organisation: tuple[Path, set[str]], tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Every output format of every command that takes a privacy option, with its stderr."""
    root, _ = organisation
    written = tmp_path_factory.mktemp("written")
    usage = (str(root / "exports"), "--policy", str(root / "policy.yaml"))
    outcomes = ("--outcomes", str(root / "prs.json"))
    runs: dict[str, tuple[str, ...]] = {}
    for fmt in ("json", "csv", "table", "markdown"):
        runs[f"totals-{fmt}"] = ("totals", *usage, "--by", "developer,day", "-f", fmt, "--pseudonymize")
        runs[f"audit-{fmt}"] = ("audit", *usage, *outcomes, "-f", fmt, "--pseudonymize")
        runs[f"teams-{fmt}"] = ("audit", *usage, *outcomes, "-f", fmt, "--teams-only")
        runs[f"rank-{fmt}"] = ("rank", *usage, *outcomes, "-f", fmt, "--pseudonymize")
    for fmt in ("html", "json"):
        runs[f"report-{fmt}"] = ("report", *usage, *outcomes, "-f", fmt, "--pseudonymize")
    runs["report-markdown"] = ("report", *usage, *outcomes, "-f", "markdown", "-o", str(written / "week.md"))
    runs["report-markdown"] += ("--pseudonymize",)
    runs["explain-text"] = ("explain", "aldo.alvarez", *usage, *outcomes, "-f", "text", "--pseudonymize")
    runs["explain-json"] = ("explain", "aldo.alvarez@acme.example", *usage, "-f", "json", "--pseudonymize")
    runs["strict"] = ("audit", *usage, "-f", "json", "--pseudonymize", "--strict")
    runs["missing"] = ("audit", str(root / "exports" / "aldo.alvarez@acme.example" / "gone"), "--pseudonymize")
    texts = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(KEY_VARIABLE, KEY)
        for name, args in runs.items():
            result = run_cli(*args)
            expected = {"strict": 4, "missing": 3}.get(name, 0)
            assert result.exit_code == expected, (name, result.stderr)
            texts[name] = result.stdout
            texts[f"{name} (stderr)"] = result.stderr
    texts["report-markdown"] = (written / "week.md").read_text()
    for chart in sorted((written / "week_charts").iterdir()):
        texts[f"chart {chart.name}"] = chart.name + chart.read_text()
    return texts


def test_the_fixture_would_leak_without_the_options(organisation: tuple[Path, set[str]]) -> None:
    """The near miss: the same run without --pseudonymize shows the folders, so the scan below can fail."""
    root, secrets = organisation
    result = run_cli("audit", str(root / "exports"), "--policy", str(root / "policy.yaml"), "-f", "json")
    assert result.exit_code == 0, result.stderr
    assert "-home-aldo-alvarez-api" in _leaks(result.stdout, secrets)
    assert "aldo-typed-this" in _leaks(result.stderr, secrets)


def test_no_identity_or_path_component_in_any_output(
    organisation: tuple[Path, set[str]], outputs: dict[str, str]
) -> None:
    _, secrets = organisation
    assert len(outputs) >= 40
    leaked = {name: _leaks(text, secrets)[:4] for name, text in outputs.items() if _leaks(text, secrets)}
    assert not leaked


def test_sources_are_listed_by_numbered_ids(outputs: dict[str, str]) -> None:
    quality = json.loads(outputs["audit-json"])["data_quality"]
    assert [source["file"] for source in quality["sources"]] == [f"source-{n}" for n in range(1, 6)]
    assert [source["events"] for source in quality["sources"]] == [30] * 5
    assert quality["rows_rejected"] == 5
    assert "first rejected row: source-1:31: " in outputs["audit-json (stderr)"]


def test_errors_withhold_paths_and_values(outputs: dict[str, str]) -> None:
    assert outputs["strict (stderr)"].startswith("tokenaudit: error: 5 rows rejected (--strict); first: source-1:31:")
    assert "'…'" in outputs["strict (stderr)"]
    assert outputs["missing (stderr)"].count("\n") == 1 and "(a path)" in outputs["missing (stderr)"]
