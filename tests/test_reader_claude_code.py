"""Claude Code transcripts: exact totals, the duplicate rules, rejects, identity and detection."""

from __future__ import annotations

import datetime as dt
import random
import shutil
import subprocess
import sys
import time
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import polars as pl
import pytest

from tests.helpers import FIXTURES, by_developer, run_cli, run_json
from tokenaudit.errors import InputError
from tokenaudit.helper_pool import HELPERS
from tokenaudit.ingest import Period, load_events
from tokenaudit.policy import Policy, parse_policy
from tokenaudit.readers import READERS, detect
from tokenaudit.readers.base import ReadContext, ReadResult
from tokenaudit.readers.claude_code import (
    _COPIES,
    _KEPT,
    _MERGED,
    ClaudeCodeReader,
    HeadStart,
    _dedup_key,
    _Dictionary,
    _drop_replays,
    _encoded,
    _helper_processes,
    _merged_copies,
    _responses,
    _Settled,
    _settled_batches,
    _TypedLines,
    _whole_lines,
    _work,
    head_start,
)
from tokenaudit.readers.jsonlines import object_lines
from tokenaudit.readers.sources import Source, resolve
from tokenaudit.shards import deduplicate

ROOT = FIXTURES / "claude_code"
ANA = ROOT / "ana@acme.io" / "projects" / "-home-ana-src-payments"
SESSION_A = ANA / "5b1d0c7e-2f4a-4a51-9d0e-8c3f1a7b2e90.jsonl"
RESUMED = ANA / "9c2e7a10-44d1-4b8e-a0f3-2d6c5e8b1f47.jsonl"
SUBAGENT = ANA / "5b1d0c7e-2f4a-4a51-9d0e-8c3f1a7b2e90" / "subagents" / "agent-a1b2c3d.jsonl"
BO = ROOT / "bo@acme.io" / "projects" / "-home-bo-src-api" / "e1f0a9b8-7c6d-4e5f-8a9b-0c1d2e3f4a5b.jsonl"


def read(*inputs: Path, policy: Policy | None = None, developer: str | None = None) -> ReadResult:
    sources = resolve([str(path) for path in inputs]).sources
    return ClaudeCodeReader().read(sources, ReadContext(policy=policy or Policy(), developer=developer))


def tokens(inp: int, out: int, cache_read: int, cache_write: int) -> dict[str, int]:
    total = inp + out + cache_read + cache_write
    return {"input": inp, "output": out, "cache_read": cache_read, "cache_write": cache_write, "total": total}


def test_totals_per_developer_are_exact() -> None:
    document = run_json("totals", str(ROOT))
    groups = by_developer(document)
    # ana: msg_A1 (final streamed line), msg_A2, msg_A3 (main-chain copy), msg_A4 (resumed file), msg_S1 (subagent).
    assert groups["ana@acme.io"]["tokens"] == tokens(
        412 + 20 + 1000 + 7 + 30,
        918 + 300 + 2000 + 70 + 40,
        30512 + 32560 + 40000 + 7000 + 6000,
        2048 + (100 + 50) + 0 + 700 + 500,
    )
    assert groups["ana@acme.io"]["requests"] == 5
    # bo: two good responses; the one with input_tokens "12x" is rejected.
    assert groups["bo@acme.io"]["tokens"] == tokens(100 + 1, 200 + 2, 400 + 4, 300 + 3)
    assert groups["bo@acme.io"]["requests"] == 2
    quality = document["data_quality"]
    # msg_A1's partial streamed line and its copy in the resumed file.
    assert quality["duplicates_dropped"] == 2
    assert quality["rows_rejected"] == 2


def test_streamed_lines_count_once_with_the_largest_usage_and_the_first_time() -> None:
    loaded = load_events([str(SESSION_A)], Policy(), Period())
    first = loaded.events.filter(pl.col("request_id") == "req_011CXa9pQ2A1")
    assert first.height == 1
    assert first["output_tokens"].to_list() == [918]
    assert first["timestamp"].dt.strftime("%H:%M:%S%.3f").to_list() == ["14:05:09.001"]


def test_resumed_copy_in_another_file_is_the_same_response() -> None:
    result = read(SESSION_A, RESUMED)
    events = result.events.filter(pl.col("request_id") == "req_011CXa9pQ2A1")
    # The reader keeps the copy the ingest's dedup keeps: the final streamed line, of the first file by name (the
    # resumed copy has as many tokens).
    assert events.select("dedup_key", "source_file", "output_tokens").rows() == [
        ("claude-code:msg_01HkT8A1:req_011CXa9pQ2A1", str(SESSION_A), 918)
    ]
    # The partial streamed line and the resumed copy still count among their files' rows.
    assert result.copies is not None
    assert sorted(result.copies.select("source_file", "events").rows()) == [(str(SESSION_A), 1), (str(RESUMED), 1)]


def test_each_batchs_codes_become_the_reads_codes() -> None:
    """A batch encodes its files, sessions and models against its own values (where it is settled); the read's
    dictionaries turn those codes into one numbering across batches, and back into the same text."""
    read = {
        name: _Dictionary(["a.jsonl", "b.jsonl", "c.jsonl"] if name == "files" else [])
        for name in ("files", "sessions", "models")
    }
    batches = [
        (["b.jsonl", "c.jsonl"], ["s2", "s1", None], ["m1", None, "m1"], ["s3", None]),
        (["a.jsonl"], ["s1", "s1", "s4"], [None, None, None], []),
    ]
    for files, sessions, models, turn_sessions in batches:
        good = pl.DataFrame(
            {
                "source_file": [files[index % len(files)] for index in range(3)],
                "session_id": sessions,
                "model": models,
                "sidechain": ["true", None, "false"],
            },
            schema=dict.fromkeys(("source_file", "session_id", "model", "sidechain"), pl.String),
        )
        turns = pl.DataFrame({"session_id": turn_sessions}, schema={"session_id": pl.String})
        usage, turned, values = _encoded(good, turns, files)
        assert usage["side"].to_list() == [True, False, False]
        for column, name, frame in (
            ("file_number", "files", usage),
            ("session_id", "sessions", usage),
            ("model", "models", usage),
            ("session_id", "sessions", turned),
        ):
            dictionary = read[name]
            codes = dictionary.table(getattr(values, name)).gather(frame[column])
            original = good["source_file" if column == "file_number" else column] if frame is usage else turns[column]
            assert dictionary.values().gather(codes).to_list() == original.to_list()
    assert read["sessions"].values().to_list() == ["s2", "s1", "s3", "s4"]


@pytest.mark.parametrize("seed", range(6))
def test_the_reader_keeps_the_copies_the_ingest_keeps(seed: int) -> None:
    """Copies of responses with ties in tokens, file names and lines, orphans (no message id) keyed by request id,
    uuid or line, messages seen with and without a request id; message ids of a colon, or spelling an orphan's key
    (``req``, a file name), which the key's text groups as one response. Grouped by hashes or by text, the read keeps
    the rows :func:`~tokenaudit.shards.deduplicate` keeps, and every copy takes its response's first time."""
    rng = random.Random(seed)
    names = pl.Series(["b.jsonl", "a.jsonl", "c:1", "req"], dtype=pl.String)
    messages = [f"m{number}" for number in range(8)] + [None, None]
    if seed % 3 == 1:
        messages += ["m1:r1", "req", "c"]
    rows = []
    for line in range(300):
        message = rng.choice(messages)
        rows.append(
            {
                "message_id": message,
                "request_id": rng.choice(["r1", "r2", "1", None]) if message != "m0" else "r1",
                "uuid": rng.choice(["u1", "u2", None]) if message is None else None,
                "file_number": rng.randrange(len(names)),
                "source_line": rng.randrange(1, 5) if seed % 2 else line + 1,
                "timestamp": dt.datetime(2026, 3, 1, tzinfo=dt.UTC) + dt.timedelta(minutes=rng.randrange(100)),
                "input_tokens": rng.choice([1, 2]),
                "output_tokens": rng.choice([3, 4, None]),
                "cache_read_tokens": rng.choice([0, 5]),
                "cache_write_tokens": None,
            }
        )
    frame = pl.DataFrame(rows).with_columns(pl.col("file_number").cast(pl.UInt32)).with_row_index(_COPIES)
    read_rows = _responses(frame.with_columns(pl.col(_COPIES).alias("row")), names)
    one = pl.col("request_id").n_unique().over("message_id") == 1
    keyed = frame.with_columns(_dedup_key(names, one), pl.lit(names).gather(pl.col("file_number")).alias("source_file"))
    expected = deduplicate(keyed.lazy()).collect()
    assert read_rows.filter(_KEPT)["row"].to_list() == expected[_COPIES].to_list()
    first = keyed.select(pl.col("timestamp").min().over("dedup_key"))["timestamp"]
    assert read_rows["timestamp"].to_list() == first.to_list()
    copies = keyed.select(pl.col(_COPIES).min().over("dedup_key"))[_COPIES]
    assert read_rows[_COPIES].to_list() == copies.to_list()


@pytest.mark.parametrize("seed", range(6))
def test_copies_merged_within_a_file_keep_what_the_duplicate_rules_keep(seed: int) -> None:
    """A batch merges the copies of a response within one file (:func:`_merged_copies`); the duplicate rules over
    the merged rows keep the very rows they keep over all rows, with the same first times, and the merged counts make
    up the losing copies per file."""
    rng = random.Random(seed)
    names = ["a.jsonl", "b.jsonl", "c.jsonl"]
    rows = []
    for file_number, name in enumerate(names):
        for line in range(1, 120):
            message = rng.choice([*(f"m{number}" for number in range(10)), None])
            rows.append(
                {
                    "source_file": name,
                    "file_number": file_number,
                    "source_line": line if seed % 2 else rng.randrange(1, 4),
                    "message_id": message,
                    "request_id": rng.choice(["r1", "r2", None]),
                    "session_id": rng.choice(["s1", "s2"]),
                    "sidechain": rng.choice(["true", "false", None]),
                    "uuid": rng.choice(["u1", "u2", None]) if message is None else None,
                    "timestamp": dt.datetime(2026, 3, 1, tzinfo=dt.UTC) + dt.timedelta(minutes=rng.randrange(100)),
                    "input_tokens": rng.choice([1, 2]),
                    "output_tokens": rng.choice([3, 4, None]),
                    "cache_read_tokens": rng.choice([0, 5]),
                    "cache_write_tokens": None,
                }
            )
    frame = pl.DataFrame(rows).with_columns(pl.col("file_number").cast(pl.UInt32)).with_row_index("row")
    file_names = pl.Series(names, dtype=pl.String)

    def responses(rows: pl.DataFrame) -> pl.DataFrame:
        return _responses(rows.drop("source_file", "sidechain").with_row_index(_COPIES), file_names)

    everything = responses(frame)
    merged = responses(_merged_copies(frame))
    assert merged.height < everything.height
    kept = everything.filter(_KEPT).select("row", "timestamp")
    assert merged.filter(_KEPT).select("row", "timestamp").equals(kept)
    losing = pl.when(pl.col(_KEPT)).then(pl.col(_MERGED)).otherwise(pl.col(_MERGED) + 1)
    by_file = merged.group_by("file_number").agg(losing.sum().cast(pl.UInt32).alias("copies")).sort("file_number")
    expected = everything.group_by("file_number").agg((~pl.col(_KEPT)).sum().alias("copies")).sort("file_number")
    assert by_file.equals(expected)


def test_sidechain_replay_of_a_parent_message_is_not_counted_again() -> None:
    events = read(ROOT).events
    replayed = events.filter(pl.col("request_id") == "req_011CXsubR9")
    assert replayed.is_empty()
    parent = events.filter(pl.col("request_id") == "req_011CXa9pQ2A3")
    assert parent["cache_read_tokens"].to_list() == [40000]
    own = events.filter(pl.col("request_id") == "req_011CXsubS1")
    assert own["input_tokens"].to_list() == [30]


def test_sidechain_file_alone_counts_its_copy() -> None:
    # Without the parent transcript there is nothing to prefer, so the replay is the only record.
    events = read(SUBAGENT).events
    assert sorted(events["request_id"].to_list()) == ["req_011CXsubR9", "req_011CXsubS1"]


def test_missing_request_id_keys_on_the_message_id() -> None:
    events = read(SESSION_A).events.filter(pl.col("dedup_key") == "claude-code:msg_01HkT8A2")
    assert events.height == 1
    assert events["request_id"].to_list() == [None]


def test_message_seen_with_and_without_request_id_is_one_response(tmp_path: Path) -> None:
    project = tmp_path / "ana@acme.io" / "projects" / "p"
    project.mkdir(parents=True)
    line = SESSION_A.read_text().splitlines()[3]
    (project / "a.jsonl").write_text(line + "\n")
    (project / "b.jsonl").write_text(line.replace(',"requestId":"req_011CXa9pQ2A1"', "") + "\n")
    assert read(project).events["dedup_key"].unique().to_list() == ["claude-code:msg_01HkT8A1"]


def test_cache_write_uses_the_5m_and_1h_breakdown_and_cost_is_dollars() -> None:
    row = read(SESSION_A).events.filter(pl.col("dedup_key") == "claude-code:msg_01HkT8A2").row(0, named=True)
    assert row["cache_write_tokens"] == 100 + 50
    assert row["cost_usd"] == pytest.approx(0.0123)
    assert row["session_id"] == "5b1d0c7e-2f4a-4a51-9d0e-8c3f1a7b2e90"
    assert (row["tool"], row["grain"], row["requests"], row["source_format"]) == (
        "claude-code",
        "request",
        1,
        "claude-code",
    )


def test_timestamps_other_than_utc_z_get_the_full_parser_and_its_reasons(tmp_path: Path) -> None:
    project = tmp_path / "ana@acme.io" / "projects" / "p"
    project.mkdir(parents=True)
    line = SESSION_A.read_text().splitlines()[7]
    offset = line.replace('"2026-03-02T15:00:00.000Z"', '"2026-03-02T16:00:00.000+01:00"')
    impossible = line.replace('"2026-03-02T15:00:00.000Z"', '"2026-03-32T15:00:00Z"').replace("A3", "A9")
    (project / "s.jsonl").write_text(f"{offset}\n{impossible}\n")
    result = read(project)
    assert result.events["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%S").to_list() == ["2026-03-02T15:00:00"]
    assert result.rejects["reason"].to_list() == [
        "timestamp: expected an ISO 8601 timestamp or epoch seconds/milliseconds, got '2026-03-32T15:00:00Z'"
    ]


def test_synthetic_lines_are_neither_events_nor_rejects() -> None:
    result = read(SESSION_A)
    assert "<synthetic>" not in result.events["model"].to_list()
    assert result.rejects.is_empty()


def test_usage_outside_message_is_ignored() -> None:
    # Line 5 is a tool result whose toolUseResult carries its own usage block: not an API call here.
    assert 5 not in read(SESSION_A).events["source_line"].to_list()


def test_truncated_last_line_and_bad_count_are_rejected_with_their_line() -> None:
    rejects = read(ROOT).rejects.sort("source_file", "source_line")
    assert [(Path(r["source_file"]).name, r["source_line"], r["reason"]) for r in rejects.iter_rows(named=True)] == [
        (RESUMED.name, 4, "not valid JSON (truncated or corrupted line)"),
        (BO.name, 3, "message.usage.input_tokens: expected a non-negative integer, got '12x'"),
    ]
    assert rejects["raw"][0].startswith('{"parentUuid":"u-b2"')


def test_owner_is_the_folder_that_holds_projects() -> None:
    developers = read(ROOT).events.group_by("source_file").agg(pl.col("developer").first())
    assert dict(developers.iter_rows()) == {
        str(SESSION_A): "ana@acme.io",
        str(RESUMED): "ana@acme.io",
        str(SUBAGENT): "ana@acme.io",
        str(BO): "bo@acme.io",
    }


def test_developer_flag_and_owner_pattern_win_over_the_folder() -> None:
    assert set(read(ROOT, developer="carol@acme.io").events["developer"]) == {"carol@acme.io"}
    policy = parse_policy(r"owner_pattern: 'claude_code/(?P<developer>[a-z]+)@'")
    assert set(read(ROOT, policy=policy).events["developer"]) == {"ana", "bo"}
    document = run_json("totals", str(BO), "--owner", "bob")
    assert set(by_developer(document)) == {"bob"}


def test_relative_paths_and_links_name_the_owner_by_the_path_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT / "ana@acme.io")
    assert set(read(Path("projects")).events["developer"]) == {"ana@acme.io"}
    (tmp_path / "zed@acme.io").symlink_to(ROOT / "bo@acme.io", target_is_directory=True)
    assert set(read(tmp_path / "zed@acme.io" / "projects").events["developer"]) == {"zed@acme.io"}


def test_no_owner_is_an_input_error(tmp_path: Path) -> None:
    target = tmp_path / ".claude" / "projects" / "-home-x"
    target.mkdir(parents=True)
    shutil.copy(BO, target / BO.name)
    with pytest.raises(InputError, match="pass --owner NAME or set owner_pattern"):
        read(target)
    result = run_cli("totals", str(tmp_path / ".claude" / "projects"), "--format", "json")
    assert result.exit_code == 3
    assert len(result.stderr.strip().splitlines()) == 1


def test_detection_picks_this_reader_and_generic_does_not_match() -> None:
    context = ReadContext(policy=Policy())
    for source in resolve([str(ROOT)]).sources:
        assert detect(source, context).name == "claude-code"
        generic = next(reader for reader in READERS if reader.name == "generic")
        assert not generic.detect(source, context).matched
        assert [reader.name for reader in READERS if reader.detect(source, context).matched] == ["claude-code"]


_ODD_LINES = [
    # Each ends like a JSON object, so the typed decode sees it first; most of them it must hand to the text path.
    '{"type":"assistant","sessionId":"s-odd","timestamp":"2026-03-03T10:00:00.000Z","requestId":"r-1",'
    '"message":{"id":"m-1","model":"claude-sonnet-4-5","usage":{"input_tokens":"12","output_tokens":3}}}',
    '{"type":"assistant","sessionId":"s-odd","timestamp":"2026-03-03T10:01:00.000Z","requestId":"r-2",'
    '"message":{"id":"m-2","model":"claude-sonnet-4-5","usage":{"input_tokens":412.5,"output_tokens":3}}}',
    '{"type":"assistant","sessionId":"s-odd","timestamp":"2026-03-03T10:02:00.000Z","requestId":"r-3",'
    '"message":{"id":"m-3","model":"claude-sonnet-4-5","usage":{"input_tokens":99999999999999999999,"output_tokens":3}}}',
    '{"type":"assistant","sessionId":"s-odd","timestamp":"2026-03-03T10:03:00.000Z","requestId":"r-4",'
    '"message":{"id":"m-4","model":"claude-sonnet-4-5","usage":{"input_tokens":-5,"output_tokens":3}}}',
    '{"type":"assistant","sessionId":"s-odd","timestamp":"2026-03-03T10:04:00.000Z","requestId":"r-5",'
    '"message":{"id":"m-5","model":{"name":"x"},"usage":{"input_tokens":5,"output_tokens":3}}}',
    '{"type":"assistant","sessionId":"s-odd","timestamp":1772532300,"requestId":"r-6",'
    '"message":{"id":"m-6","model":"claude-sonnet-4-5","usage":{"input_tokens":6,"output_tokens":3}},"costUSD":0.25}',
    '{"type":"assistant","sessionId":"s-odd","timestamp":"2026-03-03T10:06:00.000Z","requestId":"r-7",'
    '"isSidechain":"true","message":{"id":"m-7","model":"claude-sonnet-4-5","usage":{"input_tokens":7}}}',
    '{"type":"assistant","usage": oops}',
    '{"type":"user","sessionId":"s-odd","timestamp":"2026-03-03T10:07:00.000Z",'
    '"message":{"role":"user","content":"[WIP] please look at the \\"tool_result\\" handling in the parser"}}',
    '{"type":"user","sessionId":"s-odd","timestamp":"2026-03-03T10:08:00.000Z",'
    '"message":{"role":"user","content":[{"type":"text","text":"explain what \\"tool_result\\" blocks carry here"}]}}',
    '{"type":"user","sessionId":"s-odd","timestamp":"2026-03-03T10:09:00.000Z",'
    '"message":{"role":"user","content":[{"type":"tool_result","content":[{"type":"tool_result"}]}]}}',
    '{"type":"user","sessionId":"s-odd","timestamp":"2026-03-03T10:10:00.000Z","message":{"content":42}}',
    '{"type":"user","sessionId":"s-odd","timestamp":"2026-03-03T10:11:00.000Z","message":{"content":[]}}',
    '{"type":"assistant","sessionId":"s-odd","timestamp":"2026-03-03T10:12:00.000Z","requestId":"r-8",'
    '"message":{"id":"m-8","model":"claude-sonnet-4-5","content":[{"type":"text","text":"said \\"user\\""}],'
    '"usage":{"input_tokens":8,"output_tokens":3,"cache_creation":{"ephemeral_1h_input_tokens":2}}}}',
    '{"type":"user","sessionId":"s-odd","timestamp":"2026-03-03T10:13:00.000Z",'
    '"message":{"content":[{"te\\u0078t":"an escaped key"}]}}',
    '{"type":"user","sessionId":"s-odd","timestamp":"2026-03-03T10:14:00.000Z",'
    '"message":{"content":[{"type":"tool\\u005fresult","content":"escaped"},{"text":"second"}]}}',
    '{"type":"user","sessionId":"s-odd","timestamp":"2026-03-03T10:15:00.000Z",'
    '"message":{"content":[{"text":"first"},{"content":[{"type":"tool_result"}]}]}}',
]


_TYPED_LINES = [_ODD_LINES[index] for index in (3, *range(8, len(_ODD_LINES)))]
"""The odd lines the typed decode takes (a negative count, user lines' odd contents, a cache breakdown)."""


def test_typed_decode_reads_every_line_as_the_text_path_does(tmp_path: Path) -> None:
    """The same transcripts read twice: as they are (whole-object files take the typed decode) and with a
    byte-order mark in front, which sends every line down the text path. Events and rejects must be equal."""
    for copy, prefix in (("typed", b""), ("text", "\ufeff".encode())):
        shutil.copytree(ROOT, tmp_path / copy)
        folder = tmp_path / copy / "cy@acme.io" / "projects" / "-home-cy"
        folder.mkdir(parents=True)
        (folder / "odd.jsonl").write_text("\n".join(_ODD_LINES) + "\n")
        (folder / "typed.jsonl").write_text("\n".join(_TYPED_LINES))  # and no newline at the end
        for path in (tmp_path / copy).rglob("*.jsonl"):
            path.write_bytes(prefix + path.read_bytes())
    odd_files = [resolve([str(tmp_path / copy / "cy@acme.io")]).sources for copy in ("typed", "text")]
    assert [[object_lines(source) is not None for source in sources] for sources in odd_files] == [
        [True, True],
        [False, False],
    ]
    odd, typed_file = (object_lines(source) for source in odd_files[0])
    assert odd is not None and typed_file is not None
    assert _whole_lines(*odd) is None and _whole_lines(*typed_file) is not None
    # Each user line's turn and text (the prompt's, before its signature), as the text path reads them.
    users = [_TypedLines.of(sources[1:]).user_rows() for sources in odd_files]
    assert users[0].equals(users[1])
    # The text path's rules, quirks included: a prompt that starts like a list and quotes "tool_result" is a tool
    # turn; a number is its text.
    assert users[0].select("turn", "text").rows() == [
        ("tool", None),
        ("prompt", 'explain what "tool_result" blocks carry here'),
        ("tool", None),
        ("prompt", "42"),
        ("prompt", None),
        ("prompt", "an escaped key"),
        ("tool", None),
        ("tool", "first"),
    ]
    typed, text = read(tmp_path / "typed"), read(tmp_path / "text")

    def plain(frame: pl.DataFrame) -> pl.DataFrame:
        names = pl.col("source_file").str.replace(str(tmp_path / "text"), str(tmp_path / "typed"), literal=True)
        return frame.with_columns(names).sort("source_file", "source_line")

    assert plain(typed.events).equals(plain(text.events))
    assert plain(typed.rejects).equals(plain(text.rejects))
    odd_rows = pl.col("source_file").str.ends_with("odd.jsonl")
    # Read: "12" as text, a model given as an object (kept as its JSON text), epoch seconds, and m-8.
    assert typed.events.filter(odd_rows).sort("source_line")["request_id"].to_list() == ["r-1", "r-5", "r-6", "r-8"]
    # Rejected: 412.5, beyond 64 bits, -5, a sidechain line without output_tokens, and invalid JSON.
    assert typed.rejects.filter(odd_rows).sort("source_line")["source_line"].to_list() == [2, 3, 4, 7, 8]
    typed_rows = pl.col("source_file").str.ends_with("typed.jsonl")
    # typed.jsonl's m-8 line is read too: a copy of odd.jsonl's, which the read keeps (the first file by name).
    assert typed.copies is not None and text.copies is not None
    copies = [plain(copied.with_columns(source_line=0)).drop("source_line") for copied in (typed.copies, text.copies)]
    assert copies[0].equals(copies[1])
    assert typed.copies.filter(typed_rows)["events"].to_list() == [1]
    assert typed.rejects.filter(typed_rows)["source_line"].to_list() == [1]


def test_a_typed_cost_is_read_as_the_text_path_reads_it(tmp_path: Path) -> None:
    """costUSD stays a number through the typed decode; the text path (a byte-order mark in front) reads its text.
    Both keep the same amount to the bit and reject a negative one with the same reason."""
    line = (
        '{{"type":"assistant","sessionId":"s-c","timestamp":"2026-03-03T10:0{0}:00.000Z","requestId":"r-{0}",'
        '"message":{{"id":"m-{0}","model":"claude-sonnet-4-5","usage":{{"input_tokens":5,"output_tokens":3}}}},'
        '"costUSD":{1}}}'
    )
    costs = ["0.1", "-0.5", "1e-7", "0", "12.345678901234567"]
    for copy, prefix in (("typed", b""), ("text", "\ufeff".encode())):
        folder = tmp_path / copy / "cy@acme.io" / "projects" / "-home-cy"
        folder.mkdir(parents=True)
        lines = "\n".join(line.format(index, cost) for index, cost in enumerate(costs)) + "\n"
        (folder / "costs.jsonl").write_bytes(prefix + lines.encode())
    assert [object_lines(resolve([str(tmp_path / copy)]).sources[0]) is not None for copy in ("typed", "text")] == [
        True,
        False,
    ]
    typed, text = read(tmp_path / "typed"), read(tmp_path / "text")
    assert typed.events.sort("source_line")["cost_usd"].to_list() == [0.1, 1e-7, 0.0, 12.345678901234567]
    assert text.events.sort("source_line")["cost_usd"].to_list() == [0.1, 1e-7, 0.0, 12.345678901234567]
    assert typed.rejects.select("source_line", "reason").rows() == [
        (2, "costUSD: expected a non-negative amount, got '-0.5'")
    ]
    assert text.rejects.select("source_line", "reason").rows() == typed.rejects.select("source_line", "reason").rows()
    assert typed.rejects["raw"].to_list() == text.rejects["raw"].to_list()


def test_helper_processes_read_batches_as_this_process_does(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every file its own batch, every other batch decoded in a helper process: the same events and rejects, so the
    duplicate rules still see every batch's rows (a resumed copy, a sidechain replay, a streamed response)."""
    shutil.copytree(ROOT, tmp_path / "logs")
    odd = tmp_path / "logs" / "cy@acme.io" / "projects" / "-home-cy"
    odd.mkdir(parents=True)
    (odd / "odd.jsonl").write_text("\n".join(_ODD_LINES) + "\n")
    whole = read(tmp_path / "logs")
    monkeypatch.setattr("tokenaudit.readers.jsonlines.BATCH_BYTES", 1)
    monkeypatch.setenv(HELPERS, "0")
    alone = read(tmp_path / "logs")
    monkeypatch.setenv(HELPERS, "1")
    assert _helper_processes(5) == 1
    helped = read(tmp_path / "logs")
    assert helped.events.equals(alone.events)
    assert helped.rejects.equals(alone.rejects)
    assert helped.events.equals(whole.events)
    assert helped.copies is not None and alone.copies is not None and whole.copies is not None
    assert helped.copies.sort("source_file").equals(alone.copies.sort("source_file"))
    assert helped.copies.sort("source_file").equals(whole.copies.sort("source_file"))
    # Usage lines after the duplicate rules, and the copies they dropped (a streamed line, a resumed copy).
    assert (helped.events.height, int(helped.copies["events"].sum()), helped.rejects.height) == (11, 2, 7)


@pytest.mark.parametrize(
    ("data", "lines"),
    [
        (b'{"a": 1}\n{"b": {}}\n{"c": [{}]}\n', 3),
        (b'{"a": 1}\n{"b": 2}', 2),
        (b'{"a": 1}\n\n{"b": 2}\n', None),  # a blank line
        (b'{"a": 1}\n {"b": 2}\n', None),  # a padded line
        (b'{"a": 1} \n{"b": 2}\n', None),
        (b'{"a":\n1}\n', None),  # an object across lines
        (b'{"a": 1}\n{"b": 2}\n\n', None),  # a blank last line
        (b'{"a": 1}\r\n{"b": 2}\r\n', None),
        (b'{"a": 1}{"b": 2}\n{"c": 3}\n', 2),  # two objects on a line: the decode's count (3) refuses it
    ],
)
def test_only_files_of_one_object_per_line_are_read_whole(data: bytes, lines: int | None) -> None:
    found = object_lines(Source(name="t.jsonl", data=data))
    assert (found[1] if found is not None else None) == lines


def test_with_helpers_the_last_batches_are_read_in_quarters(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ten files of 100 bytes in batches of 200: with a helper, the last three batches' six files are read one by one
    (a quarter batch is 50 bytes), every file once, in order; without one, the batches stay whole."""
    sources = [Source(name=f"{index}.jsonl", data=b"x" * 100) for index in range(10)]
    monkeypatch.setattr("tokenaudit.readers.jsonlines.BATCH_BYTES", 200)
    monkeypatch.setenv(HELPERS, "1")
    work, helpers = _work(sources)
    assert helpers == 1
    assert [len(batch) for batch, _ in work] == [2, 2, 1, 1, 1, 1, 1, 1]
    assert [source for batch, _ in work for source in batch] == sources
    assert [size for _, size in work] == [200, 200, 100, 100, 100, 100, 100, 100]
    monkeypatch.setenv(HELPERS, "0")
    assert _work(sources) == ([(sources[index : index + 2], 200) for index in range(0, 10, 2)], 0)


class _DeadHelpers:
    """A process pool whose helpers die before returning anything."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        pass

    def submit(self, *args: object) -> Future[object]:
        dead: Future[object] = Future()
        dead.set_exception(BrokenProcessPool("a helper was killed"))
        return dead

    def shutdown(self, *args: object, **kwargs: object) -> None:
        pass


class _BrokenPool(_DeadHelpers):
    """A process pool already broken: it takes no more work."""

    def submit(self, *args: object) -> Future[object]:
        raise BrokenProcessPool("a helper was killed earlier")


@pytest.mark.parametrize("pool", [_DeadHelpers, _BrokenPool])
def test_a_batch_whose_helper_died_is_read_here(pool: type[_DeadHelpers], monkeypatch: pytest.MonkeyPatch) -> None:
    whole = read(ROOT)
    monkeypatch.setattr("tokenaudit.readers.jsonlines.BATCH_BYTES", 1)
    monkeypatch.setattr("tokenaudit.helper_pool.ProcessPoolExecutor", pool)
    monkeypatch.setenv(HELPERS, "1")
    helped = read(ROOT)
    assert helped.events.equals(whole.events)
    assert helped.rejects.equals(whole.rejects)


_KILLED_PARENT = """
import os, time
from tokenaudit.readers.claude_code import _pool
with _pool(1) as (pool, _):
    print(pool.submit(os.getpid).result(), flush=True)
    time.sleep(60)
"""


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process states from /proc")
def test_a_helper_exits_when_its_parent_is_killed() -> None:
    """A killed parent tells its pool nothing: its helper must not wait for work for ever."""
    run = [sys.executable, "-c", _KILLED_PARENT]
    with subprocess.Popen(run, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) as parent:
        assert parent.stdout is not None
        helper = Path(f"/proc/{int(parent.stdout.readline())}/stat")
        parent.kill()
    deadline = time.monotonic() + 10
    while helper.exists() and helper.read_text().split(") ")[-1][:1] != "Z" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not helper.exists() or helper.read_text().split(") ")[-1][:1] == "Z"  # gone, or dead and not yet reaped


def test_a_replay_is_dropped_from_its_own_batch_whatever_batch_holds_its_parent() -> None:
    def rows(*lines: tuple[str | None, bool, int]) -> pl.DataFrame:
        return pl.DataFrame(lines, schema=["message_id", "side", "tokens"], orient="row")

    first = rows(("m1", False, 1), ("m2", True, 2))
    second = rows(("m1", True, 3), ("m3", True, 4), (None, True, 5))
    third = rows(("m2", False, 6))
    batches = [first, second, third]
    _drop_replays(batches)
    # m1's sidechain copy follows its main-chain line; m2's precedes it (a main-chain line without isSidechain).
    assert [batch["tokens"].to_list() for batch in batches] == [[1], [4, 5], [6]]
    alone = [rows(("m1", True, 1)), rows(("m2", False, 2))]
    unchanged = list(alone)
    _drop_replays(alone)
    assert all(after is before for after, before in zip(alone, unchanged, strict=True))


def _done(start: HeadStart | None) -> Future[HeadStart | None]:
    future: Future[HeadStart | None] = Future()
    future.set_result(start)
    return future


def test_the_batches_a_helper_began_before_the_read_are_taken_where_they_are_the_reads_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An early helper finds the read's first batches from the command line's arguments alone (those naming no file or
    folder passed over) and settles them (:func:`head_start`); the read takes such a batch as its own where it holds
    the same sources in the same time zone, and reads any other again."""
    monkeypatch.setattr("tokenaudit.readers.jsonlines.BATCH_BYTES", 1)  # a batch per file
    monkeypatch.delenv(HELPERS, raising=False)
    work, _ = _work(resolve([str(ROOT)]).sources)
    arguments = (str(ROOT), "json", str(tmp_path / "missing"))
    starts = [head_start(arguments, "UTC", index) for index in range(len(work) + 1)]
    assert [None if start is None else start.batch for start in starts] == [batch for batch, _ in work] + [None]
    assert head_start((str(tmp_path / "missing"),), "UTC", 0) is None

    def same(one: _Settled, other: _Settled) -> bool:
        return all(a.equals(b) for a, b in zip(one[:3], other[:3], strict=True)) and one[3] == other[3]

    alone = list(_settled_batches(work, "UTC", None, 0))
    first = starts[0]
    assert first is not None
    assert all(same(*pair) for pair in zip(alone, _settled_batches(work, "UTC", None, 0, [_done(first)]), strict=True))
    taken = next(_settled_batches(work, "UTC", None, 0, [_done(first)]))
    assert taken is first.settled
    for other in (starts[1], HeadStart(first.batch, "Europe/Berlin", first.settled), None):
        again = next(_settled_batches(work, "UTC", None, 0, [_done(other)]))
        assert again is not first.settled
        assert same(again, alone[0])
