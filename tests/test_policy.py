"""Policy loading: compiler-style errors, defaults, and the documented example."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel

from tests.helpers import run_cli
from tokenaudit.errors import PolicyError
from tokenaudit.policy import Policy, load_policy, parse_policy

ROOT = Path(__file__).parent.parent


def test_example_policy_is_valid() -> None:
    result = run_cli("policy", "check", str(ROOT / "config.example.yaml"))
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == f"{ROOT / 'config.example.yaml'}: ok"


def _keys(model: type[BaseModel]) -> set[str]:
    keys = set(model.model_fields)
    for info in model.model_fields.values():
        if isinstance(info.annotation, type) and issubclass(info.annotation, BaseModel):
            keys |= _keys(info.annotation)
    return keys


def test_every_policy_key_is_documented_in_the_example() -> None:
    example = (ROOT / "config.example.yaml").read_text()
    for name in Policy.model_fields:
        assert f"\n{name}:" in example, name
    for name in _keys(Policy) - {"low", "medium", "high"}:
        assert f" {name}:" in example or f"\n{name}:" in example, name


def test_no_policy_means_defaults() -> None:
    assert load_policy(None) == Policy()
    assert Policy().timezone == "UTC"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("timezon: UTC\n", "p.yaml:1: timezon: unknown key"),
        ("identities:\n  ana:\n    team: x\n    alias: [a]\n", "p.yaml:4: identities.ana.alias: unknown key"),
        (
            "timezone: Mars/Base\n",
            "p.yaml:1: timezone: expected an IANA time zone such as 'Europe/Berlin', got 'Mars/Base'",
        ),
        ("timezone: UTC\ntimezone: UTC\n", "p.yaml:2: invalid YAML: duplicate key 'timezone'"),
        ("columns:\n\tdeveloper: User\n", "p.yaml:2: invalid YAML: found character '\\t' that cannot start any token"),
        (
            "leaderboard:\n  snapshot_time: 17:00\n",
            'p.yaml:2: leaderboard.snapshot_time: expected a quoted time of day such as "17:00"',
        ),
        ("columns:\n  tokens: Tokens\n", "p.yaml:1: columns: unknown canonical column 'tokens'"),
        ("- a\n- b\n", "p.yaml: expected a mapping of policy keys at the top level, got list"),
        (
            "owner_pattern: 'exports/([^/]+)/'\n",
            "p.yaml:1: owner_pattern: expected a regular expression with a named group",
        ),
        (
            "identities:\n  a: {aliases: [x@y]}\n  b: {aliases: [X@Y]}\n",
            "p.yaml: (top level): alias 'X@Y' is given to both 'a' and 'b'",
        ),
        (
            "pricing:\n  models:\n    m: {input: cheap, output: 1, cache_read: 0, cache_write: 0}\n",
            "p.yaml:3: pricing.models.m.input: input should be a valid number",
        ),
    ],
)
def test_errors_name_file_line_and_key(text: str, message: str) -> None:
    with pytest.raises(PolicyError) as caught:
        parse_policy(text, "p.yaml")
    assert caught.value.message.startswith(message)


def test_bad_policy_exits_2_with_one_line(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("flagz: {}\n")
    result = run_cli("audit", str(Path(__file__).parent / "fixtures" / "generic" / "events.csv"), "-p", str(policy))
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [f"tokenaudit: error: {policy}:1: flagz: unknown key"]


def test_missing_policy_file_exits_2(tmp_path: Path) -> None:
    result = run_cli("policy", "check", str(tmp_path / "nope.yaml"))
    assert result.exit_code == 2
    assert "policy file not found" in result.stderr
