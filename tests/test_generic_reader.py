"""The generic flat reader: exact totals across CSV, JSONL and Parquet, duplicates and bad rows."""

from __future__ import annotations

import csv
import gzip
import json
from collections import defaultdict
from pathlib import Path

import polars as pl
import pytest

from tests.helpers import FIXTURES, by_developer, run_cli, run_json
from tokenaudit.policy import Policy
from tokenaudit.readers import generic, jsonlines, plan_reads
from tokenaudit.readers.base import ReadContext
from tokenaudit.readers.generic import GenericReader
from tokenaudit.readers.sources import Source, resolve
from tokenaudit.shards import read_size

GENERIC = FIXTURES / "generic"
TOKENS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")


def expected_totals(*paths: Path) -> dict[str, dict[str, int]]:
    """Per-developer sums computed with the csv module, deduplicated on request_id."""
    seen: set[str] = set()
    sums: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(TOKENS, 0))
    for path in paths:
        with path.open(newline="") as handle:
            for row in csv.DictReader(handle):
                if row["request_id"] in seen:
                    continue
                seen.add(row["request_id"])
                for name in TOKENS:
                    sums[row["developer"]][name] += int(row[name])
    return dict(sums)


def as_tokens(row: dict[str, int]) -> dict[str, int]:
    parts = {
        "input": row["input_tokens"],
        "output": row["output_tokens"],
        "cache_read": row["cache_read_tokens"],
        "cache_write": row["cache_write_tokens"],
    }
    return {**parts, "total": sum(parts.values())}


@pytest.fixture
def converted(tmp_path: Path) -> dict[str, Path]:
    """The same events as CSV, TSV, JSONL, Parquet and gzip-compressed CSV."""
    frame = pl.read_csv(GENERIC / "events.csv", infer_schema=False)
    paths = {
        "csv": GENERIC / "events.csv",
        "tsv": tmp_path / "events.tsv",
        "jsonl": tmp_path / "events.jsonl",
        "parquet": tmp_path / "events.parquet",
        "gz": tmp_path / "events.csv.gz",
    }
    frame.write_csv(paths["tsv"], separator="\t")
    frame.with_columns(pl.col(name).cast(pl.Int64) for name in TOKENS).write_ndjson(paths["jsonl"])
    frame.with_columns(pl.col(name).cast(pl.Int64) for name in TOKENS).write_parquet(paths["parquet"])
    paths["gz"].write_bytes(gzip.compress((GENERIC / "events.csv").read_bytes()))
    return paths


@pytest.mark.parametrize("kind", ["csv", "tsv", "jsonl", "parquet", "gz"])
def test_totals_match_the_raw_file_exactly(converted: dict[str, Path], kind: str) -> None:
    expected = expected_totals(GENERIC / "events.csv")
    groups = by_developer(run_json("totals", str(converted[kind])))
    assert {dev: row["tokens"] for dev, row in groups.items()} == {
        dev: as_tokens(sums) for dev, sums in expected.items()
    }
    assert groups["ana@acme.io"]["requests"] == 3


def test_overlapping_exports_count_each_event_once() -> None:
    single = run_json("totals", str(GENERIC / "events.csv"))
    both = run_json("totals", str(GENERIC / "events.csv"), str(GENERIC / "overlap.csv"))
    twice = run_json("totals", str(GENERIC / "events.csv"), str(GENERIC / "events.csv"))
    expected = expected_totals(GENERIC / "events.csv", GENERIC / "overlap.csv")
    assert {d: r["tokens"] for d, r in by_developer(both).items()} == {d: as_tokens(s) for d, s in expected.items()}
    assert both["data_quality"]["duplicates_dropped"] == 2
    assert by_developer(twice) == by_developer(single)
    assert twice["data_quality"]["duplicates_dropped"] == 6


def test_rows_without_request_id_are_duplicates_only_when_identical(tmp_path: Path) -> None:
    header = "timestamp,developer,input_tokens,output_tokens,cache_read_tokens,cache_write_tokens\n"
    row = "2026-03-02T10:00:00Z,ana@acme.io,100,10,0,0\n"
    other = "2026-03-02T10:00:00Z,ana@acme.io,100,11,0,0\n"
    (tmp_path / "a.csv").write_text(header + row + other)
    (tmp_path / "b.csv").write_text(header + row)
    document = run_json("totals", str(tmp_path / "a.csv"), str(tmp_path / "b.csv"))
    assert by_developer(document)["ana@acme.io"]["tokens"]["output"] == 21
    assert document["data_quality"]["duplicates_dropped"] == 1


def test_policy_column_map_reads_foreign_headers(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "columns:\n  timestamp: When\n  developer: User\n  input_tokens: Input\n  output_tokens: Output\n"
        "  cache_read_tokens: Cache Read\n  cache_write_tokens: Cache Write\n  request_id: Request\n"
    )
    groups = by_developer(run_json("totals", str(GENERIC / "mapped.csv"), "--policy", str(policy)))
    assert groups["ana@acme.io"]["tokens"] == {
        "input": 300,
        "output": 30,
        "cache_read": 3000,
        "cache_write": 0,
        "total": 3330,
    }


def test_bad_rows_are_rejected_with_file_line_and_reason(tmp_path: Path) -> None:
    rejects = tmp_path / "rejects.csv"
    result = run_cli("totals", str(GENERIC / "bad_rows.csv"), "--format", "json", "--rejects", str(rejects))
    assert result.exit_code == 0
    groups = by_developer(json.loads(result.stdout))
    assert groups["ana@acme.io"]["tokens"]["input"] == 100
    assert groups["bo@acme.io"]["tokens"]["input"] == 7
    with rejects.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(int(r["source_line"]), r["reason"]) for r in rows] == [
        (3, "input_tokens: expected a non-negative integer, got 'abc'"),
        (4, "input_tokens: expected a non-negative integer, got '-5'"),
        (5, "timestamp: expected an ISO 8601 timestamp or epoch seconds/milliseconds, got '2026-03-32T10:03:00Z'"),
        (6, "developer: missing; expected a value"),
        (7, "input_tokens: '99999999999999999999' is beyond the 64-bit integer range"),
    ]
    assert all(r["source_file"].endswith("bad_rows.csv") for r in rows)
    assert "5 rows rejected" in result.stderr


def test_strict_makes_a_rejected_row_fatal() -> None:
    result = run_cli("totals", str(GENERIC / "bad_rows.csv"), "--strict", "--format", "json")
    assert result.exit_code == 4
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "tokenaudit: error: 5 rows rejected (--strict); first: "
        f"{GENERIC / 'bad_rows.csv'}:3: input_tokens: expected a non-negative integer, got 'abc'"
    ]


def test_truncated_json_line_is_rejected_and_the_rest_read() -> None:
    result = run_cli("totals", str(GENERIC / "truncated.jsonl"), "--format", "json")
    assert result.exit_code == 0
    document = json.loads(result.stdout)
    assert by_developer(document)["ana@acme.io"]["tokens"]["input"] == 105
    assert document["data_quality"]["rows_rejected"] == 1
    assert f"{GENERIC / 'truncated.jsonl'}:3: not valid JSON" in result.stderr


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("missing_column.csv", "missing column 'output_tokens'"),
        ("empty.csv", "the file is empty"),
        ("does_not_exist.csv", "no such file or directory"),
    ],
)
def test_unreadable_input_is_one_line_and_exit_3(name: str, message: str) -> None:
    result = run_cli("totals", str(GENERIC / name))
    assert result.exit_code == 3
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"tokenaudit: error: {GENERIC / name}: ")
    assert message in lines[0]


def test_stdin_is_read_with_dash() -> None:
    data = (GENERIC / "events.csv").read_bytes()
    result = run_cli("totals", "-", "--format", "json", stdin=data)
    assert result.exit_code == 0, result.stderr
    assert by_developer(json.loads(result.stdout))["bo@acme.io"]["tokens"]["total"] == 124188


def test_directory_input_walks_data_files_and_lists_others(tmp_path: Path) -> None:
    (tmp_path / "nested").mkdir()
    (tmp_path / "nested" / "events.csv").write_bytes((GENERIC / "events.csv").read_bytes())
    (tmp_path / "notes.md").write_text("not data")
    document = run_json("totals", str(tmp_path))
    assert by_developer(document)["cy@acme.io"]["tokens"]["total"] == 12300
    assert document["data_quality"]["skipped_files"] == [
        {"file": str(tmp_path / "notes.md"), "reason": "not a data file extension"}
    ]


def test_ragged_csv_row_is_rejected_not_fatal(tmp_path: Path) -> None:
    path = tmp_path / "ragged.csv"
    path.write_text(
        "timestamp,developer,input_tokens,output_tokens,cache_read_tokens,cache_write_tokens\n"
        "2026-03-02T10:00:00Z,ana@acme.io,1,2,3,4\n"
        "2026-03-02T10:01:00Z,ana@acme.io,1,2,3,4,5\n"
    )
    document = run_json("totals", str(path))
    assert by_developer(document)["ana@acme.io"]["tokens"]["total"] == 10
    assert document["data_quality"]["rows_rejected"] == 1


def test_an_empty_file_among_others_is_listed_not_fatal(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    document = run_json("totals", str(GENERIC / "events.csv"), str(empty))
    assert by_developer(document)["cy@acme.io"]["tokens"]["total"] == 12300
    assert document["data_quality"]["skipped_files"] == [{"file": str(empty), "reason": "empty file"}]


def test_a_large_json_lines_file_is_read_in_blocks_with_the_same_rows_and_line_numbers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = [
        json.dumps(
            {"timestamp": f"2026-03-02T10:{n % 60:02d}:00Z", "developer": f"dev{n % 3}", "request_id": f"r{n}"}
            | {name: n for name in TOKENS}
        )
        for n in range(200)
    ]
    lines[57] = lines[57][:30]  # cut short
    lines[120] = ""  # blank lines are skipped but counted
    lines[150] = lines[150].replace('"input_tokens": 150', '"input_tokens": "x"')
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(lines))  # no newline after the last line
    source = resolve([str(path)]).sources[0]

    def read(limit: int) -> tuple[pl.DataFrame, pl.DataFrame]:
        monkeypatch.setattr(generic, "TEXT_BLOCK_BYTES", limit)
        result = GenericReader().read([source], ReadContext(policy=Policy()))
        return result.events, result.rejects

    assert len(list(jsonlines.line_blocks(source, 1000))) > 10
    whole, whole_rejects = read(10**9)
    blocks, block_rejects = read(1000)
    assert blocks.equals(whole)
    assert block_rejects.equals(whole_rejects)
    assert sorted(block_rejects["source_line"].to_list()) == [58, 151]
    assert blocks["source_line"].max() == 200
    assert blocks["input_tokens"].sum() == sum(range(200)) - 57 - 120 - 150


def _read_in_blocks(path: Path, limit: int, monkeypatch: pytest.MonkeyPatch) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    """Events, rejects and the number of reads of ``path`` as the load reads it (a file of the generic reader a block
    at a time), with blocks of about ``limit`` bytes."""
    monkeypatch.setattr(generic, "TEXT_BLOCK_BYTES", limit)
    context = ReadContext(policy=Policy())
    results = list(plan_reads(resolve([str(path)]).sources, context).read(context))
    return (
        pl.concat([result.events for result in results], how="vertical_relaxed"),  # a block may read text as codes
        pl.concat([result.rejects for result in results]),
        len(results),
    )


def _csv_rows(count: int, odd: bool) -> list[str]:
    """CSV rows of the canonical columns (plus team); with ``odd``, quoted line breaks, doubled quotes, blank lines,
    a row cut short and a count that is not a number among them."""
    rows = [f"2026-03-02T10:{n % 60:02d}:00Z,dev{n % 3},r{n},t{n % 2},{n},{n},{n},{n}" for n in range(count)]
    if odd:
        rows[40] = "bad,row"
        rows[70] = ""
        rows[90] = rows[90].replace(",t0,", ',"t0\nsecond ""line""\n",')
        rows[91] = rows[91].replace(",t1,", ',"t1,\nstill"",quoted",')
        rows[150] = rows[150].replace(",150,150,150,150", ",150,x,150,150")
        rows[230] = ""
        rows[260] = rows[260].replace(",t0,", ',"""t0\n"",\n",')
    return rows


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
@pytest.mark.parametrize("odd", [False, True])
def test_a_large_csv_file_is_read_in_blocks_with_the_same_rows_rejects_and_line_numbers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, newline: str, odd: bool
) -> None:
    header = "timestamp,developer,request_id,team," + ",".join(TOKENS)
    path = tmp_path / "events.csv"
    path.write_bytes(newline.join([header, *_csv_rows(300, odd)]).encode())  # no line break after the last row
    whole, whole_rejects, reads = _read_in_blocks(path, 10**9, monkeypatch)
    assert reads == 1
    blocks, block_rejects, reads = _read_in_blocks(path, 500, monkeypatch)
    assert reads > 10
    assert blocks.equals(whole)
    assert block_rejects.equals(whole_rejects)
    assert blocks.height + block_rejects.height == 300
    if odd:
        # Records, not lines, are numbered (a quoted line break does not end one); the header is line 1.
        assert block_rejects.sort("source_line")["source_line"].to_list() == [42, 72, 152, 232]
        assert blocks.filter(pl.col("request_id") == "r260")["team"].item() == '"t0\n",'  # text is trimmed
        assert blocks.filter(pl.col("request_id") == "r299")["source_line"].item() == 301


def test_rows_longer_than_the_header_in_a_later_block_are_rejected_at_their_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    header = "timestamp,developer,request_id,team," + ",".join(TOKENS)
    rows = _csv_rows(300, odd=False)
    rows[250] += ",surplus"
    path = tmp_path / "events.csv"
    path.write_text("\n".join([header, *rows]) + "\n")
    whole, whole_rejects, _ = _read_in_blocks(path, 10**9, monkeypatch)
    blocks, block_rejects, reads = _read_in_blocks(path, 500, monkeypatch)
    assert reads > 10
    assert blocks.equals(whole)
    assert block_rejects.equals(whole_rejects)
    assert block_rejects.select("source_line", "reason").rows() == [(252, "has 9 fields; the header has 8")]


def test_a_large_json_lines_file_is_read_a_block_at_a_time_by_the_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = [
        json.dumps({"timestamp": "2026-03-02T10:00:00Z", "developer": f"dev{n % 3}", "request_id": f"r{n}"})
        for n in range(100)
    ]
    lines[30] = '{"timestamp": "2026-03-02T10:00:00Z", "developer": "dev0",'  # cut short: a block's first line
    path = tmp_path / "events.txt"  # recognised from its head, which a later block does not have
    path.write_text(
        "\n".join(
            json.dumps(json.loads(line) | dict.fromkeys(TOKENS, 1)) if n != 30 else line for n, line in enumerate(lines)
        )
        + "\n"
    )
    whole, whole_rejects, _ = _read_in_blocks(path, 10**9, monkeypatch)
    blocks, block_rejects, reads = _read_in_blocks(path, 300, monkeypatch)
    assert reads > 10
    assert blocks.equals(whole)
    assert block_rejects.equals(whole_rejects)
    assert block_rejects["source_line"].to_list() == [31]
    assert blocks.height == 99


@pytest.mark.parametrize("negative", [False, True])
def test_a_csv_scanned_with_integer_counts_reads_as_its_text_does(tmp_path: Path, negative: bool) -> None:
    """Counts the integer scan accepts (a sign, leading zeros, spaces inside quotes) are the text parse's numbers; a
    negative one, which it also accepts, sends the file back to the text read, whose reject shows the text."""
    header = "timestamp,developer,request_id," + ",".join(TOKENS)
    rows = [
        "2026-03-02T10:00:00Z,ana,r1,+5,007,0,1",
        '2026-03-02T10:01:00Z,ana,r2," 7",1,2,3',
        f"2026-03-02T10:02:00Z,bo,r3,{'-3' if negative else '3'},1,2,3",
    ]
    path = tmp_path / "events.csv"
    path.write_text("\n".join([header, *rows]) + "\n")
    source = resolve([str(path)]).sources[0]
    present = {name: name for name in ("timestamp", "developer", "request_id", *TOKENS)}
    context = ReadContext(policy=Policy())
    events, rejects = GenericReader()._read_rows(source, "csv", present, context)
    text_events, text_rejects = GenericReader()._read_rows(source, "csv", present, context, typed=False)
    assert events.equals(text_events)
    assert rejects.equals(text_rejects)
    assert events["input_tokens"].to_list() == ([5, 7] if negative else [5, 7, 3])
    if negative:
        assert rejects["reason"].to_list() == ["input_tokens: expected a non-negative integer, got '-3'"]
        assert '"input_tokens":"-3"' in rejects["raw"].item()


_ODD_BUT_VALID = [
    '{"timestamp": "2026-03-02T10:00:00Z", "developer": "d\\u00e9v", "request_id": "r1", "team": 7, "model": 1.50}',
    '{"timestamp": "2026-03-02T10:00:01Z", "developer": "dev", "request_id": "r2", "team": true, "tool": "  x "}',
    '{"timestamp": "2026-03-02T10:00:02Z", "developer": "dev", "request_id": "r3", "team": null, "extra": {"k": 1}}',
    '{"timestamp": 1772445603, "developer": "dev", "request_id": "r4", "team": "\\"quoted\\"\\n", "model": 1e3}',
    '{"timestamp": "2026-03-02T10:00:04Z", "developer": "dev", "developer": "twice", "request_id": "r5", "team": ""}',
    '{"timestamp": "2026-03-02T10:00:05Z", "developer": "dev", "session_id": 12345678901234567890}',
]


@pytest.mark.parametrize(
    ("odd", "decoded"),
    [
        (None, True),  # every line decoded at once with integer counts
        ('"input_tokens": "5"', False),  # a count given as text
        ('"input_tokens": 5.0', False),
        ('"input_tokens": -5', True),  # decoded, then rejected: read again as text for the reject's reason
        ('"input_tokens": 99999999999999999999', False),  # beyond 64 bits
        ('"input_tokens": null', True),  # missing: rejected, read again as text
        ('"input_tokens": 5, "team": {"name": "a"}', False),  # an object where text belongs
        ('"input_tokens": 5, "team": ["a"]', False),
    ],
)
def test_json_lines_decoded_with_integer_counts_read_as_the_text_path_reads_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, odd: str | None, decoded: bool
) -> None:
    counts = ", ".join(f'"{name}": {n + 1}' for n, name in enumerate(TOKENS))
    lines = [line[:-1] + ", " + counts + "}" for line in _ODD_BUT_VALID]
    if odd is not None:
        others = ", ".join(f'"{name}": 1' for name in TOKENS[1:])
        lines.append('{"timestamp": "2026-03-02T11:00:00Z", "developer": "dev", ' + odd + ", " + others + "}")
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(lines) + "\n")
    source = resolve([str(path)]).sources[0]
    columns = {name: name for name in (*TOKENS, "timestamp", "developer", "team")}
    assert (generic._decoded_objects(source, columns, 0) is not None) == decoded
    context = ReadContext(policy=Policy())
    both = GenericReader().read([source], context)
    monkeypatch.setattr(generic, "_decoded_objects", lambda *_: None)
    text = GenericReader().read([source], context)
    assert both.events.equals(text.events)
    assert both.rejects.equals(text.rejects)
    assert both.events.height + both.rejects.height == len(lines)


@pytest.mark.parametrize("head", [False, True])
@pytest.mark.parametrize("on_disk", [False, True])
def test_line_blocks_cut_a_file_into_whole_lines_wherever_the_reads_end(
    tmp_path: Path, head: bool, on_disk: bool
) -> None:
    """Lines shorter and longer than a read, a last line with and without its break: the blocks are the file's
    bytes in order (each after the first with the first line in front, ``head``), cut after line breaks, with the
    lines before each and its own."""
    lengths = [0, 5, 700, 3, 1999, 2000, 2001, 64, 0, 4500, 17, *range(1, 300, 7)]
    for ending in (b"\n", b""):
        data = b"\n".join(bytes([97 + number % 26]) * length for number, length in enumerate(lengths)) + ending
        path = tmp_path / "lines.txt"
        path.write_bytes(data)
        source = Source(name="lines", path=path) if on_disk else Source(name="lines", data=data)
        first = data[: data.find(b"\n") + 1] if head else b""
        pieces, lines = [], 0
        for number, (block, before, breaks) in enumerate(jsonlines.line_blocks(source, 1000, head=head)):
            assert block.data is not None
            body = block.data[len(first) :] if number else block.data
            assert block.data.startswith(first)
            assert before == lines and breaks == body.count(b"\n")
            assert body.endswith(b"\n") or data.endswith(body)  # only the last block ends without a break
            pieces.append(body)
            lines += breaks
        assert b"".join(pieces) == data
        assert len(pieces) > 5


@pytest.mark.parametrize("ending", ["\n", ""])
def test_clean_json_lines_decoded_whole_read_the_same_in_blocks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ending: str
) -> None:
    """Every line an object: each block is decoded in one call, its lines numbered from the breaks counted as it was
    read."""
    lines = [
        json.dumps({"timestamp": f"2026-03-02T10:{n % 60:02d}:00Z", "developer": f"dev{n % 3}", "request_id": f"r{n}"})
        for n in range(300)
    ]
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(json.dumps(json.loads(line) | dict.fromkeys(TOKENS, 1)) for line in lines) + ending)
    whole, whole_rejects, _ = _read_in_blocks(path, 10**9, monkeypatch)
    blocks, block_rejects, reads = _read_in_blocks(path, 700, monkeypatch)
    assert reads > 10
    assert blocks.equals(whole)
    assert block_rejects.height == whole_rejects.height == 0
    assert blocks["source_line"].to_list() == list(range(1, 301))


@pytest.mark.parametrize("kind", ["csv", "jsonl", "parquet"])
def test_clean_text_is_read_as_codes_and_text_with_spaces_as_before(tmp_path: Path, kind: str) -> None:
    """A text column the ingest holds as codes comes as codes where no value needs stripping (its values checked
    once each), else as text, stripped and empty as missing, as before; codes and text read alike."""
    frame = pl.DataFrame(
        {
            "timestamp": ["2026-03-02T10:00:00Z", "2026-03-02T11:00:00Z", "2026-03-02T12:00:00Z"],
            "developer": ["ana@acme.io", "bo@acme.io", "ana@acme.io"],
            "tool": ["claude-code", " cursor ", ""],
            "model": ["m1", None, "m2"],
            **{name: [1, 2, 3] for name in TOKENS},
        }
    )
    path = tmp_path / f"events.{kind}"
    getattr(frame, {"csv": "write_csv", "jsonl": "write_ndjson", "parquet": "write_parquet"}[kind])(path)
    context = ReadContext(policy=Policy())
    events = GenericReader().read(resolve([str(path)]).sources, context).events
    assert events.schema["developer"] == pl.Categorical and events.schema["model"] == pl.Categorical
    assert events.schema["tool"] == pl.String
    assert events["tool"].to_list() == ["claude-code", "cursor", "generic"]  # empty: missing
    assert events["developer"].cast(pl.String).to_list() == ["ana@acme.io", "bo@acme.io", "ana@acme.io"]
    assert events["model"].cast(pl.String).to_list() == ["m1", None, "m2"]
    both = GenericReader().read(resolve([str(path), str(path)]).sources, context).events
    assert both.height == 6


def test_read_rows_count_codes_as_the_text_they_stand_for() -> None:
    text = pl.DataFrame({"developer": ["ana@acme.io"] * 1000, "n": list(range(1000))})
    codes = text.with_columns(pl.col("developer").cast(pl.Categorical))
    assert read_size(codes) == int(codes.estimated_size()) + 1000 * 12
    assert read_size(text) == int(text.estimated_size())
