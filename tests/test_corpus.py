"""The bad-input corpus: every case has an exact expected outcome, and none may print a traceback.

Cases live in tests/corpus/ (generic exports and policies) and tests/fixtures/<format>/ (the vendor
readers' own defects). Each case states the exit code, the one-line message where the run stops, and for
runs that succeed the exact totals and which rows were rejected (file, line, reason).
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.helpers import run_cli

TESTS = Path(__file__).parent
CORPUS = TESTS / "corpus"
FIXTURES = TESTS / "fixtures"


@dataclass(frozen=True)
class Case:
    """One bad input and everything the audit must do with it."""

    id: str
    args: tuple[str, ...]
    exit_code: int = 0
    message: str | None = None
    """Substring of the single stderr error line (for runs that stop)."""
    totals: dict[str, int] = field(default_factory=dict)
    """developer -> total tokens (for runs that succeed)."""
    rejects: tuple[tuple[str, int, str], ...] = ()
    """(file name, line, start of reason) for every rejected row, in order."""
    duplicates: int = 0


def c(name: str) -> str:
    return str(CORPUS / name)


CASES = [
    Case("bom-and-crlf", (c("bom_crlf.csv"),), totals={"ana@acme.io": 1110}),
    Case("invalid-utf8-csv", (c("invalid_utf8.csv"),), totals={"ana\ufffd@acme.io": 1110}),
    Case("invalid-utf8-jsonl", (c("invalid_utf8.jsonl"),), totals={"ana@acme.io": 4, "b\ufffdo": 6}),
    Case("header-only", (c("header_only.csv"),), totals={}),
    Case("extra-column", (c("extra_column.csv"),), totals={"ana@acme.io": 1110}),
    Case("missing-column", (c("missing_column.csv"),), 3, "missing column 'cache_write_tokens'"),
    Case("renamed-column", (c("renamed_column.csv"),), 3, "missing column 'input_tokens'"),
    Case(
        "wrong-types",
        (c("wrong_types.csv"),),
        totals={"ana@acme.io": 1110},
        rejects=(
            ("wrong_types.csv", 3, "input_tokens: expected a non-negative integer, got 'abc'"),
            ("wrong_types.csv", 4, "input_tokens: expected a non-negative integer, got '12.5'"),
            ("wrong_types.csv", 5, "output_tokens: expected a non-negative integer, got 'true'"),
        ),
    ),
    Case(
        "negative",
        (c("negative.csv"),),
        totals={"ana@acme.io": 1110},
        rejects=(("negative.csv", 3, "input_tokens: expected a non-negative integer, got '-1'"),),
    ),
    Case(
        "beyond-int64",
        (c("beyond_int64.csv"),),
        totals={"ana@acme.io": 1110},
        rejects=(("beyond_int64.csv", 3, "input_tokens: '9223372036854775808' is beyond the 64-bit integer range"),),
    ),
    Case("timestamp-forms", (c("timestamps.csv"),), totals={"ana@acme.io": 31}),
    Case(
        "timestamps-out-of-range",
        (c("timestamps_out_of_range.csv"),),
        totals={"ana@acme.io": 1110},
        rejects=tuple(
            ("timestamps_out_of_range.csv", line, "timestamp: expected an ISO 8601 timestamp") for line in (3, 4, 5, 6)
        ),
    ),
    Case("duplicates-within", (c("duplicates_within.csv"),), totals={"ana@acme.io": 1120}, duplicates=1),
    Case(
        "duplicates-across",
        (c("duplicates_across_a.jsonl"), c("duplicates_across_b.jsonl")),
        totals={"bo@acme.io": 30},
        duplicates=1,
    ),
    Case(
        "truncated-jsonl",
        (c("truncated.jsonl"),),
        totals={"ana@acme.io": 4},
        rejects=(("truncated.jsonl", 2, "not valid JSON"),),
    ),
    Case(
        "ragged-row",
        (c("ragged.csv"),),
        totals={"ana@acme.io": 1110},
        rejects=(("ragged.csv", 3, "has 7 fields; the header has 6"),),
    ),
    Case("directory-with-unrelated-files", (c("mixed_folder"),), totals={"ana@acme.io": 1110}),
    Case("gzip-whole", (c("whole.csv.gz"),), totals={"ana@acme.io": 1110}, duplicates=2),
    Case("gzip-cut-short", (c("cut_short.csv.gz"),), 3, "the gzip stream is cut short"),
    Case("binary-junk", (c("binary_junk.csv"),), 3, "no reader recognises this file; tried: claude-code"),
    Case("unknown-shape", (c("unknown_shape.xml"),), 3, "no reader recognises this file"),
    Case("empty-file", (c("empty.csv"),), 3, "the file is empty"),
    Case("unreadable-broken-link", (c("broken_link.csv"),), 3, "no such file or directory"),
    Case("missing-file", (c("nope.csv"),), 3, "no such file or directory"),
    Case("no-match-glob", (c("*.nothing"),), 3, "no file matches this pattern"),
    Case("bad-input-format", (c("header_only.csv"), "--input-format", "xml"), 2, "unknown input format 'xml'"),
    Case("bad-date", (c("header_only.csv"), "--since", "2026-13-01"), 2, "--since"),
    Case("bad-timezone", (c("header_only.csv"), "--tz", "Mars/Base"), 2, "expected an IANA time zone"),
    Case("strict-with-rejects", (c("negative.csv"), "--strict"), 4, "1 rows rejected (--strict)"),
    Case("policy-tabs", (c("header_only.csv"), "-p", c("policy_tabs.yaml")), 2, "policy_tabs.yaml:3: invalid YAML"),
    Case(
        "policy-duplicate-keys",
        (c("header_only.csv"), "-p", c("policy_duplicate_keys.yaml")),
        2,
        "policy_duplicate_keys.yaml:2: invalid YAML: duplicate key 'timezone'",
    ),
    Case("policy-anchors", (c("bom_crlf.csv"), "-p", c("policy_anchors.yaml")), totals={"ana": 1110}),
    Case(
        "policy-unknown-key",
        (c("header_only.csv"), "-p", c("policy_unknown_key.yaml")),
        2,
        "policy_unknown_key.yaml:4: flags.volume_outlier.treshold: unknown key",
    ),
    Case(
        "policy-wrong-type",
        (c("header_only.csv"), "-p", c("policy_wrong_type.yaml")),
        2,
        "policy_wrong_type.yaml:3: flags.volume_outlier.min_peers: input should be a valid integer",
    ),
    Case("policy-empty", (c("bom_crlf.csv"), "-p", c("policy_empty.yaml")), totals={"ana@acme.io": 1110}),
    Case(
        "policy-not-mapping",
        (c("header_only.csv"), "-p", c("policy_not_mapping.yaml")),
        2,
        "expected a mapping of policy keys at the top level, got list",
    ),
    Case("policy-missing", (c("header_only.csv"), "-p", c("nope.yaml")), 2, "policy file not found"),
    Case("renamed-column-mapped", (c("renamed_column.csv"), "-p", c("policy_columns.yaml")), totals={"ana@acme.io": 4}),
    Case("transcript-without-owner", (c("loose_transcript.jsonl"),), 3, "pass --owner"),
    # Three responses; one is streamed over two lines (counted once, largest usage), computed by hand.
    Case(
        "transcript-with-developer",
        (c("loose_transcript.jsonl"), "--owner", "ana"),
        totals={"ana": 33890 + 33030 + 43000},
        duplicates=1,
    ),
    Case("otel-metrics-only", (c("otel_metrics_only.jsonl"),), 3, "Claude Code metrics but no api_request events"),
]


def _reject_rows(path: Path) -> list[tuple[str, int, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return [(Path(r["source_file"]).name, int(r["source_line"]), r["reason"]) for r in csv.DictReader(handle)]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_case_outcome(case: Case, tmp_path: Path) -> None:
    rejects = tmp_path / "rejects.csv"
    result = run_cli("totals", *case.args, "--format", "json", "--rejects", str(rejects))
    assert result.exit_code == case.exit_code, result.stderr
    if case.exit_code:
        lines = result.stderr.strip().splitlines()
        if lines[0].startswith("Usage:"):
            # Argument syntax errors come from the option parser: usage, a hint, then one "Error:" line.
            lines = [line for line in lines if line.startswith("Error:")]
        else:
            assert lines[0].startswith("tokenaudit: error: ")
        assert len(lines) == 1, lines
        assert case.message is not None and case.message in lines[0]
        assert result.stdout == ""
        return
    document = json.loads(result.stdout)
    totals = {group["developer"]: group["tokens"]["total"] for group in document["groups"]}
    assert totals == case.totals
    assert document["data_quality"]["duplicates_dropped"] == case.duplicates
    found = _reject_rows(rejects)
    assert len(found) == len(case.rejects)
    for (name, line, reason), (want_name, want_line, want_reason) in zip(found, case.rejects, strict=True):
        assert (name, line) == (want_name, want_line)
        assert reason.startswith(want_reason), reason


def test_the_corpus_has_at_least_forty_cases() -> None:
    assert len(CASES) >= 40


def _run_cli_process(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "TOKENAUDIT_DEBUG"}
    return subprocess.run(
        [sys.executable, "-m", "tokenaudit", "audit", *args, "--format", "json", "--quiet"],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        check=False,
        timeout=120,
    )


def test_no_input_in_the_corpus_prints_a_traceback(tmp_path: Path) -> None:
    """Run the real CLI as a subprocess over every case and every vendor fixture folder; read stderr."""
    runs = [list(case.args) for case in CASES]
    runs += [[str(folder)] for folder in sorted(FIXTURES.iterdir()) if folder.is_dir()]
    with ThreadPoolExecutor(max_workers=4) as pool:
        completed = list(pool.map(lambda args: _run_cli_process(args, tmp_path), runs))
    for args, done in zip(runs, completed, strict=True):
        assert "Traceback" not in done.stderr, (args, done.stderr)
        assert done.returncode in {0, 2, 3, 4}, (args, done.returncode, done.stderr)
