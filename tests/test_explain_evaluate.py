"""explain (one developer's evidence) and evaluate (flags against planted labels)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from tests.helpers import run_cli
from tests.synthetic import events, org

DAY = 86_400


@pytest.fixture(scope="module")
def org_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    n = int(20 * DAY / 600)
    loop = events("bot", np.arange(0, 20 * DAY, 600.0), prompt_hashes=[f"t{i % 3}" for i in range(n)])
    path = tmp_path_factory.mktemp("org") / "events.csv"
    pl.concat([org(12), loop]).write_csv(path)
    return path


def test_explain_text_shows_flags_charts_and_baseline(org_csv: Path) -> None:
    result = run_cli("explain", "bot", str(org_csv), "--format", "text")
    assert result.exit_code == 0, result.stderr
    page = result.stdout
    assert page.startswith("bot (core) — risk high, raw token rank 1")
    assert "not verdicts" in page
    assert "[high] machine_regularity: 100% of 2,879 gaps" in page
    assert "Daily tokens (sparkline):" in page and "peer median" in page
    assert "Active minutes by hour of week (UTC):" in page
    assert "10-30m ████████████████████████████████████████ 100%" in page
    assert "t0  ×960  (33% of prompts)" in page


def test_explain_json_matches_the_audit(org_csv: Path) -> None:
    explained = json.loads(run_cli("explain", "bot", str(org_csv), "--format", "json").stdout)
    audited = json.loads(run_cli("audit", str(org_csv), "--format", "json").stdout)
    bot = next(d for d in audited["developers"] if d["developer"] == "bot")
    assert [f["id"] for f in explained["flags"]] == [f["id"] for f in bot["flags"]]
    assert sum(day["tokens"] for day in explained["daily_tokens"]) == bot["tokens"]["total"]
    assert explained["risk"] == bot["risk"]["level"] == "high"


def test_explain_unknown_developer_suggests_a_name(org_csv: Path) -> None:
    result = run_cli("explain", "bott", str(org_csv))
    assert result.exit_code == 2
    assert result.stderr.strip() == "tokenaudit: error: developer 'bott' is not in the audited data; did you mean bot?"


def test_evaluate_counts_hits_and_false_positives(org_csv: Path, tmp_path: Path) -> None:
    audit = tmp_path / "audit.json"
    assert run_cli("audit", str(org_csv), "--format", "json", "--output", str(audit)).exit_code == 0
    labels = tmp_path / "labels.csv"
    rows = ["developer,label,archetype,style,intensity", "bot,gamer,gamer,cron_loop,3"]
    rows += [f"dev{i:02d},honest,normal,," for i in range(12)]
    rows += ["dev00x,honest,normal,,"]
    labels.write_text("\n".join(rows) + "\n")
    data = json.loads(run_cli("evaluate", str(labels), str(audit), "--format", "json").stdout)
    assert data["overall"]["precision"] == 1.0
    assert data["overall"]["recall"] == 1.0
    assert data["overall"]["false_positive_rate"] == 0.0
    assert data["by_style"] == [{"style": "cron_loop", "intensity": "3", "n": 1, "detected": 1, "recall": 1.0}]
    assert data["labels_missing_from_audit"] == ["dev00x"]
    text = run_cli("evaluate", str(labels), str(audit)).stdout
    assert "precision 1.000  recall 1.000" in text


def test_evaluate_rejects_a_non_audit_file(tmp_path: Path) -> None:
    labels = tmp_path / "labels.csv"
    labels.write_text("developer,label,archetype,style,intensity\n")
    bogus = tmp_path / "x.json"
    bogus.write_text("[]")
    result = run_cli("evaluate", str(labels), str(bogus))
    assert result.exit_code == 3
    assert "not an audit JSON document" in result.stderr


def test_fail_on_exits_1_when_risk_reaches_the_level(org_csv: Path, tmp_path: Path) -> None:
    failing = run_cli("audit", str(org_csv), "--format", "json", "--fail-on", "high")
    assert failing.exit_code == 1
    assert json.loads(failing.stdout)["summary"]["risk_levels"]["high"] == 1
    assert "1 developer(s) at risk high or above (--fail-on)" in failing.stderr
    relaxed = tmp_path / "relaxed.yaml"
    relaxed.write_text(
        "flags:\n"
        + "".join(
            f"  {name}:\n    max_severity: low\n"
            for name in (
                "machine_regularity",
                "no_rest_rhythm",
                "headless_work",
                "prompt_pace",
                "repetition",
                "volume_outlier",
            )
        )
    )
    passing = run_cli("audit", str(org_csv), "--format", "json", "--fail-on", "medium", "--policy", str(relaxed))
    assert passing.exit_code == 0, passing.stderr
    assert json.loads(passing.stdout)["summary"]["risk_levels"]["high"] == 0
