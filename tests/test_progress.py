"""The read progress bar: silent off a terminal, counts every input byte, drawn only for long reads."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from tests.helpers import FIXTURES, run_cli
from tokenaudit import progress
from tokenaudit.policy import Policy
from tokenaudit.readers.base import ReadContext
from tokenaudit.readers.claude_code import ClaudeCodeReader
from tokenaudit.readers.generic import GenericReader
from tokenaudit.readers.sources import resolve


def test_advance_outside_a_read_is_a_no_op() -> None:
    progress.advance(10)
    assert progress.done() == 0


@pytest.mark.parametrize(
    ("reader", "folder"), [(ClaudeCodeReader(), "claude_code"), (GenericReader(), "generic")], ids=lambda x: str(x)
)
def test_readers_report_every_input_byte(reader: ClaudeCodeReader | GenericReader, folder: str) -> None:
    sources = [s for s in resolve([str(FIXTURES / folder)]).sources if reader.detect(s, ReadContext(Policy())).matched]
    total = sum(source.path.stat().st_size for source in sources if source.path)
    with progress.reading(total, enabled=False):
        reader.read(sources, ReadContext(policy=Policy()))
        assert progress.done() == total


def test_bar_is_drawn_only_after_the_delay(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = io.StringIO()
    monkeypatch.setattr(progress, "stderr_console", lambda: Console(file=stream, force_terminal=True, width=80))
    with progress.reading(100, enabled=True):
        progress.advance(10)
        assert stream.getvalue() == ""  # a short read draws nothing
        monkeypatch.setattr(progress, "DELAY", 0.0)
        progress.advance(40)
        assert "reading" in stream.getvalue()
    assert progress.done() == 0


def test_no_bar_when_stderr_is_not_a_terminal() -> None:
    result = run_cli("totals", str(FIXTURES / "claude_code"), "--format", "json", "-q")
    assert "reading" not in result.stderr
