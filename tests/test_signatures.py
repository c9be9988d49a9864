"""Prompt signatures: near-duplicates land close, unrelated prompts far, and the text goes nowhere."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl

from tokenaudit.policy import Policy
from tokenaudit.readers.base import ReadContext
from tokenaudit.readers.claude_code import ClaudeCodeReader
from tokenaudit.readers.codex import CodexReader
from tokenaudit.readers.generic import GenericReader
from tokenaudit.readers.otel import ClaudeCodeOtelReader
from tokenaudit.readers.sources import resolve
from tokenaudit.signatures import NEAR_DUPLICATE_BITS, attach_turns, hamming, simhash

BASE = "Refactor the payment retry module so that failed webhooks are retried with exponential backoff and logged"
EDITED = "Refactor the payment retry module so that failed webhooks are retried with exponential backoff and logged now"
OTHER = "Write a haiku about the autumn leaves falling on the quiet river near my grandmother's house today"


def distances(*texts: str | None) -> list[int | None]:
    frame = pl.DataFrame({"text": list(texts)}, schema={"text": pl.String})
    signed = frame.with_columns(signature=simhash(frame, "text"))
    first = signed["signature"][0]
    return signed.select(hamming(pl.lit(first, pl.UInt64), "signature").alias("d"))["d"].to_list()


def test_near_duplicates_are_close_and_unrelated_prompts_far() -> None:
    same, edited, other = distances(BASE, BASE, EDITED, OTHER)[1:]
    assert same == 0
    assert edited is not None and edited <= NEAR_DUPLICATE_BITS
    assert other is not None and other > 2 * NEAR_DUPLICATE_BITS


def test_short_prompts_match_only_themselves_and_missing_or_redacted_ones_have_no_signature() -> None:
    texts = ["continue", "Continue.", "keep going", "yes do it", None, "", "<REDACTED>", BASE]
    signatures = simhash(pl.DataFrame({"text": texts}, schema={"text": pl.String}), "text").to_list()
    assert signatures[4:7] == [None, None, None]
    assert signatures[0] == signatures[1]  # case and punctuation aside, the same short prompt
    far = distances("continue", "keep going", "yes do it", "continue please", BASE)[1:]
    assert all(d is not None and d > NEAR_DUPLICATE_BITS for d in far)  # any other prompt, short or long, is far


def _command(name: str, arguments: str) -> str:
    """A slash command as Claude Code records the user's line."""
    return (
        f"<command-message>{name} is running…</command-message>\n<command-name>/{name}</command-name>\n"
        f"<command-args>{arguments}</command-args>"
    )


def test_a_slash_command_is_judged_on_what_the_person_typed() -> None:
    """/review on different PRs is a habit, not one prompt sent twice: the expanded template does not count."""
    frame = pl.DataFrame({"text": [_command("review", "1234"), _command("review", "1867"), _command("clear", "")]})
    review, other_review, clear = simhash(frame, "text").to_list()
    assert len({review, other_review, clear}) == 3  # short typed lines, each its own exact hash
    assert distances("/review 1234", _command("review", "1234"))[1] == 0
    typed = f"/review {BASE}"
    far = distances(typed, f"/review {OTHER}")[1]
    assert far is not None and far > 2 * NEAR_DUPLICATE_BITS
    assert distances(typed, _command("review", BASE), _command("review", OTHER))[1:] == [0, far]


def _line(kind: str, ts: str, content: object, **extra: object) -> str:
    doc: dict[str, object] = {"type": kind, "sessionId": "s1", "timestamp": ts, "uuid": f"u{ts}"}
    doc["message"] = {"role": kind, "content": content, **extra}
    return json.dumps(doc)


def _reply(ts: str, message_id: str, output: int) -> str:
    usage = {"input_tokens": 10, "output_tokens": output, "cache_read_input_tokens": 100}
    return _line("assistant", ts, [{"type": "text", "text": "ok"}], id=message_id, model="claude-x", usage=usage)


def test_claude_code_rows_carry_their_turn_and_a_signature_but_never_the_text(tmp_path: Path) -> None:
    project = tmp_path / "ana@acme.io" / "projects" / "p"
    project.mkdir(parents=True)
    tool_result = [{"type": "tool_result", "tool_use_id": "t1", "content": "secret file contents"}]
    lines = [
        _line("user", "2026-03-02T10:00:00.000Z", BASE),
        _reply("2026-03-02T10:00:02.000Z", "m1", 5),  # streamed: first copy, then the final one
        _reply("2026-03-02T10:00:03.000Z", "m1", 50),
        _line("user", "2026-03-02T10:00:04.000Z", tool_result),
        _reply("2026-03-02T10:00:06.000Z", "m2", 40),
        _reply("2026-03-02T10:00:07.000Z", "m3", 40),
        _line("user", "2026-03-02T10:05:00.000Z", [{"type": "text", "text": EDITED}]),
        _reply("2026-03-02T10:05:02.000Z", "m4", 30),
    ]
    (project / "s1.jsonl").write_text("\n".join(lines) + "\n")
    sources = resolve([str(project)]).sources
    events = ClaudeCodeReader().read(sources, ReadContext(policy=Policy())).events
    rows = events.sort("timestamp").unique("dedup_key", keep="last", maintain_order=True)
    assert rows["turn"].to_list() == ["prompt", "tool", None, "prompt"]
    signatures = rows["prompt_signature"].to_list()
    assert signatures[1] is None and signatures[2] is None
    assert signatures[0] is not None and signatures[3] is not None
    assert bin(signatures[0] ^ signatures[3]).count("1") <= NEAR_DUPLICATE_BITS
    text_columns = [name for name, dtype in events.schema.items() if dtype == pl.String]
    for column in text_columns:
        values = " ".join(v for v in events[column].to_list() if v)
        assert "payment" not in values and "secret" not in values


def test_generic_prompt_text_becomes_a_signature_and_rejects_do_not_show_it(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text(
        "timestamp,developer,input_tokens,output_tokens,cache_read_tokens,cache_write_tokens,prompt_text\n"
        f'2026-03-02T10:00:00Z,ana,1,2,3,4,"{BASE}"\n'
        "2026-03-02T10:01:00Z,ana,1,2,3,4,\n"
        f'2026-03-02T10:02:00Z,ana,x,2,3,4,"{OTHER}"\n'
    )
    result = GenericReader().read(resolve([str(path)]).sources, ReadContext(policy=Policy()))
    assert result.events["turn"].to_list() == ["prompt", None]
    assert result.events["prompt_signature"].is_null().to_list() == [False, True]
    assert "prompt_text" not in result.events.columns
    assert result.rejects.height == 1
    assert "haiku" not in result.rejects["raw"].item()


def _otel_record(name: str, ts: str, **attributes: str) -> dict[str, object]:
    values = {"user.email": "ana@acme.io", "session.id": "s1", "event.name": name, "event.timestamp": ts}
    pairs = {**values, **attributes}
    return {
        "body": {"stringValue": f"claude_code.{name}"},
        "attributes": [{"key": key, "value": {"stringValue": value}} for key, value in pairs.items()],
    }


def test_otel_prompt_events_become_signatures_on_the_requests_they_start(tmp_path: Path) -> None:
    usage = {"model": "claude-x", "input_tokens": "10", "output_tokens": "20", "cost_usd": "0.01"}
    records = [
        _otel_record("user_prompt", "2026-03-02T10:00:00.000Z", prompt=BASE),  # OTEL_LOG_USER_PROMPTS=1
        _otel_record("api_request", "2026-03-02T10:00:03.000Z", request_id="r1", **usage),
        _otel_record("user_prompt", "2026-03-02T10:05:00.000Z", prompt="<REDACTED>"),
        _otel_record("api_request", "2026-03-02T10:05:02.000Z", request_id="r2", **usage),
    ]
    batch = {"resourceLogs": [{"resource": {"attributes": []}, "scopeLogs": [{"logRecords": records}]}]}
    path = tmp_path / "claude-code-otel.jsonl"
    path.write_text(json.dumps(batch) + "\n")
    events = ClaudeCodeOtelReader().read(resolve([str(path)]).sources, ReadContext(policy=Policy())).events
    rows = events.sort("timestamp")
    assert rows["turn"].to_list() == ["prompt", "prompt"]
    expected = simhash(pl.DataFrame({"text": [BASE]}), "text")[0]
    assert rows["prompt_signature"].to_list() == [expected, None]  # redacted text says nothing
    assert "prompt" not in events.columns


def test_codex_user_messages_become_signatures_on_the_turns_they_start(tmp_path: Path) -> None:
    folder = tmp_path / "ana@acme.io" / "sessions"
    folder.mkdir(parents=True)
    session = "0199a6c0-1d2e-7f3a-9b4c-5d6e7f8a9b02"

    def line(ts: str, kind: str, payload: dict[str, object]) -> str:
        return json.dumps({"timestamp": ts, "type": kind, "payload": payload})

    def usage(total: int) -> dict[str, object]:
        counts = {"input_tokens": total, "cached_input_tokens": 0, "output_tokens": 10, "total_tokens": total + 10}
        return {"type": "token_count", "info": {"total_token_usage": counts}}

    lines = [
        line("2026-03-03T10:00:00.000Z", "session_meta", {"id": session}),
        line("2026-03-03T10:00:00.010Z", "turn_context", {"model": "gpt-5-codex"}),
        line("2026-03-03T10:00:01.000Z", "event_msg", {"type": "user_message", "message": BASE}),
        line("2026-03-03T10:00:05.000Z", "event_msg", usage(1000)),
        line("2026-03-03T10:00:09.000Z", "event_msg", usage(2500)),  # a tool turn: no prompt before it
        line("2026-03-03T10:05:00.000Z", "event_msg", {"type": "user_message", "message": EDITED}),
        line("2026-03-03T10:05:04.000Z", "event_msg", usage(4000)),
    ]
    (folder / f"rollout-2026-03-03T10-00-00-{session}.jsonl").write_text("\n".join(lines) + "\n")
    events = CodexReader().read(resolve([str(tmp_path)]).sources, ReadContext(policy=Policy())).events.sort("timestamp")
    assert events["turn"].to_list() == ["prompt", None, "prompt"]
    first, _, last = events["prompt_signature"].to_list()
    assert first is not None and last is not None and bin(first ^ last).count("1") <= NEAR_DUPLICATE_BITS
    text_columns = [name for name, dtype in events.schema.items() if dtype == pl.String]
    assert all("payment" not in " ".join(v for v in events[c].to_list() if v) for c in text_columns)


def test_turns_attach_to_the_next_request_of_their_session_and_leave_the_other_columns_alone() -> None:
    at = [dt.datetime(2026, 3, 2, 9, minute, tzinfo=dt.UTC) for minute in range(6)]
    requests = pl.DataFrame(
        {
            "timestamp": [at[1], at[3], at[5], at[2]],
            "session_id": ["s1", "s1", "s1", "s2"],
            "turn": ["old", "old", "old", "old"],
            "tokens": [10, 20, 30, 40],
        }
    )
    turns = pl.DataFrame(
        {
            "session_id": ["s1", "s1", "s1", "s2", "s3"],
            "timestamp": [at[0], at[2], at[3], at[4], at[0]],
            "turn": ["prompt", "tool", "prompt", "prompt", "prompt"],
            "prompt_signature": [1, None, 3, 4, 5],
        },
        schema_overrides={"prompt_signature": pl.UInt64},
    )
    attached = attach_turns(requests, turns)
    # The queued pair before the second request: the last one counts; s2's turn comes after its only request.
    assert attached.columns == ["timestamp", "session_id", "tokens", "turn", "prompt_signature"]
    assert attached["turn"].to_list() == ["prompt", "prompt", None, None]
    assert attached["prompt_signature"].to_list() == [1, 3, None, None]
    assert attached.select("timestamp", "session_id", "tokens").equals(requests.drop("turn"))
