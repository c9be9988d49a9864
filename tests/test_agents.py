"""Agent attribution: agent identities (role ARNs, service accounts, bot logins) to the person or team they act for."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from tests.helpers import FIXTURES, SAMPLE, by_developer, run_cli, run_json
from tokenaudit.errors import PolicyError
from tokenaudit.identity import name_table, resolve_identities
from tokenaudit.policy import parse_policy

BEDROCK = FIXTURES / "bedrock" / "s3"
EXPORT = next((FIXTURES / "bedrock" / "cloudwatch").rglob("000000.gz"))
POLICY = """
identities:
  ana.silva: {team: payments, aliases: [ana@acme.io]}
  bo.lee: {team: search}
agents:
  - match: 'arn:aws:sts::*:assumed-role/deploy-agent/*'
    acts_for: ana@acme.io
  - match: 'arn:aws:sts::*:assumed-role/MAIL-TRIAGE-AGENT/*'
    team: platform
    name: mail-triage
  - match: 'svc-*'
  - match: 'renovate[bot]'
    team: platform
"""


def _policy(tmp_path: Path, text: str = POLICY) -> str:
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    return str(path)


def _service_account_log(tmp_path: Path) -> str:
    path = tmp_path / "flat.csv"
    path.write_text(
        "timestamp,developer,input_tokens,output_tokens,cache_read_tokens,cache_write_tokens,request_id\n"
        "2026-03-02T10:00:00Z,svc-reporting,100,10,0,0,r1\n"
        "2026-03-02T11:00:00Z,svc-reporting,200,20,0,0,r2\n"
    )
    return str(path)


def test_agent_usage_goes_to_the_person_or_team_it_acts_for(tmp_path: Path) -> None:
    service_account = _service_account_log(tmp_path)
    document = run_json("totals", str(BEDROCK), str(EXPORT), service_account, "--policy", _policy(tmp_path))
    groups = by_developer(document)
    # ana: her SSO session (the ARN's session name is her alias) plus the deploy agent acting for her,
    # including its throttled call.
    assert groups["ana.silva"]["tokens"]["total"] == (412 + 918 + 30512 + 2048) + (5000 + 700 + 20000)
    assert groups["ana.silva"]["requests"] == 3
    # bo: the IAM user name is his canonical id.
    assert groups["bo.lee"]["tokens"]["total"] == 1200 + 300
    # The triage agent acts for a team: its own line, in that team; the service account for nobody.
    assert groups["agent:mail-triage"]["tokens"]["total"] == 3000 + 250 + 6000
    assert groups["agent:svc-*"]["tokens"]["total"] == 330
    quality = document["data_quality"]
    assert quality["unattributed_agents"] == ["agent:svc-*"]
    assert quality["unmatched_identities"] == []


def test_team_view_puts_agent_usage_in_its_team(tmp_path: Path) -> None:
    document = run_json("totals", str(BEDROCK), str(EXPORT), "--policy", _policy(tmp_path), "--by", "team")
    teams = {row["team"]: row["tokens"]["total"] for row in document["groups"]}
    assert teams == {
        "payments": (412 + 918 + 30512 + 2048) + (5000 + 700 + 20000),
        "search": 1500,
        "platform": 9250,
    }


def test_unattributed_agents_are_named_on_stderr(tmp_path: Path) -> None:
    result = run_cli("totals", _service_account_log(tmp_path), "--policy", _policy(tmp_path), "--format", "csv")
    assert result.exit_code == 0, result.stderr
    assert "agent usage attributed to no person or team (its own line): agent:svc-*" in result.stderr
    assert "agent:svc-*" in result.stdout


def test_rules_match_whole_names_case_insensitively_and_brackets_literally() -> None:
    policy = parse_policy(POLICY)
    names = ["renovate[bot]", "renovateb", "svc-", "xsvc-a", "ARN:AWS:STS::1:assumed-role/deploy-agent/s"]
    table = name_table(names, policy)
    resolved = dict(zip(table["_name"], table["_developer"], strict=True))
    assert resolved == {
        "renovate[bot]": "agent:renovate[bot]",
        "renovateb": "renovateb",
        "svc-": "agent:svc-*",
        "xsvc-a": "xsvc-a",
        "ARN:AWS:STS::1:assumed-role/deploy-agent/s": "ana.silva",
    }
    matched = dict(zip(table["_name"], table["identity_matched"], strict=True))
    assert matched == {
        "renovate[bot]": True,
        "renovateb": False,
        "svc-": True,
        "xsvc-a": False,
        "ARN:AWS:STS::1:assumed-role/deploy-agent/s": True,
    }


def test_an_arn_matches_by_session_name_only_when_the_whole_arn_is_not_an_alias() -> None:
    policy = parse_policy(
        "identities:\n  ana.silva: {aliases: [ana@acme.io]}\n"
        "  deploy-owner: {aliases: ['arn:aws:sts::1:assumed-role/r/ana@acme.io']}\n"
    )
    table = name_table(
        ["arn:aws:sts::1:assumed-role/r/ana@acme.io", "arn:aws:sts::1:assumed-role/other/ana@acme.io"], policy
    )
    resolved = dict(zip(table["_name"], table["_developer"], strict=True))
    assert resolved["arn:aws:sts::1:assumed-role/r/ana@acme.io"] == "deploy-owner"
    assert resolved["arn:aws:sts::1:assumed-role/other/ana@acme.io"] == "ana.silva"


def test_unknown_rule_keys_are_refused_with_their_line() -> None:
    with pytest.raises(PolicyError, match=r"<policy>:3: agents\.0\.acts_as: unknown key"):
        parse_policy("agents:\n  - match: 'svc-*'\n    acts_as: ana\n")


def test_an_agent_rule_team_wins_over_the_sources_team() -> None:
    policy = parse_policy(POLICY)
    frame = pl.LazyFrame({"developer": ["renovate[bot]", "ana@acme.io"], "team": ["from-source", "from-source"]})
    resolved = resolve_identities(frame, policy).collect().sort("developer")
    assert resolved["team"].to_list() == ["platform", "from-source"]


def test_the_readme_agent_platform_example_is_true() -> None:
    readme = (SAMPLE.parent / "README.md").read_text()
    command = "tokenaudit totals sample_data/agents --policy sample_data/agents_policy.yaml --format table"
    block = readme.split(f"$ {command}\n", 1)[1].split("```", 1)[0]
    policy = str(SAMPLE / "agents_policy.yaml")
    result = run_cli("totals", str(SAMPLE / "agents"), "--policy", policy, "--format", "table")
    assert result.exit_code == 0, result.stderr
    shown = [line for line in block.splitlines() if line.startswith("│")]
    assert shown == [line.rstrip() for line in result.stdout.splitlines() if line.startswith("│")]
    assert block.splitlines()[-1] in result.stdout + result.stderr
