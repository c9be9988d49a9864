"""One agent conversation: prompts, tool turns, and the token counts prompt caching gives each request.

A request's context is the cached prefix it reads plus what is new since the previous request (the
previous output, a tool result or a prompt), which it writes to the cache; a handful of tokens stay
uncached. The first request of a session reads the tool's system prompt from the cache when the same
person's previous request on that tool was under five minutes ago (the cache's lifetime), else writes it.
Long conversations are compacted: the context drops to the system prompt and a summary.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass, field

CACHE_TTL = dt.timedelta(minutes=5)
COMPACT_AT = 155_000
"""Context at which the agent compacts the conversation (Claude Code does so near its window's end)."""


@dataclass(frozen=True)
class Request:
    """One API request of a session, as its transcript line records it."""

    at: dt.datetime
    input_tokens: int
    output_tokens: int
    cache_read: int
    cache_write: int
    prompt: str | None
    """The prompt sent just before (human or scripted); None when the request follows a tool result."""
    uses_tool: bool
    """The response asks for a tool (the next request then follows its result)."""

    @property
    def total(self) -> int:
        """All four token counts."""
        return self.input_tokens + self.output_tokens + self.cache_read + self.cache_write

    @property
    def context(self) -> int:
        """Tokens sent with the request."""
        return self.input_tokens + self.cache_read + self.cache_write


@dataclass
class Session:
    """A conversation on one tool; ``headless`` ones are run by a script, not typed by a person."""

    session_id: str
    tool: str
    model: str
    cwd: str
    """The working directory; Claude Code names the project folder after it."""
    headless: bool
    requests: list[Request] = field(default_factory=list)

    @property
    def end(self) -> dt.datetime:
        """When its last request was sent."""
        return self.requests[-1].at


@dataclass(frozen=True)
class Style:
    """How a conversation's numbers are drawn; gamers change a few of these, honest people vary them all."""

    system_tokens: int = 17_000
    """The tool's system prompt with tool definitions and the project's rules file."""
    static_prefix: int = 0
    """Extra context loaded at the start of every session (a stuffer's pasted corpus)."""
    tool_result_median: float = 700.0
    output_median: float = 180.0
    answer_median: float = 520.0
    context_per_output: float | None = None
    """When set, output is padded so that context / output stays near this ratio."""
    tool_seconds_median: float = 5.0
    think_seconds_median: float = 75.0
    think_sigma: float = 1.0


def lognormal(rng: random.Random, median: float, sigma: float) -> float:
    """A lognormal draw given its median."""
    return median * math.exp(rng.gauss(0.0, sigma))


def geometric(rng: random.Random, mean: float) -> int:
    """A count >= 1 with the given mean (memoryless: the agent stops with the same chance each turn)."""
    if mean <= 1:
        return 1
    return 1 + int(math.log(1.0 - rng.random()) / math.log(1.0 - 1.0 / mean))


class Conversation:
    """Builds a session request by request, keeping the cache state and the clock."""

    def __init__(self, rng: random.Random, session: Session, start: dt.datetime, style: Style, warm: bool) -> None:
        self.rng = rng
        self.session = session
        self.clock = start
        self.style = style
        self.cached = 0
        self.pending = style.system_tokens + style.static_prefix + rng.randint(80, 700)  # git status varies
        self.warm_prefix = style.system_tokens + style.static_prefix if warm else 0

    def exchange(self, prompt: str, tool_turns: int) -> None:
        """A prompt, then ``tool_turns`` tool calls and their results, then an answer."""
        self.pending += max(8, len(prompt) // 4)
        for turn in range(tool_turns + 1):
            last = turn == tool_turns
            self._request(prompt if turn == 0 else None, uses_tool=not last)
            if not last:
                self.clock += dt.timedelta(seconds=lognormal(self.rng, self.style.tool_seconds_median, 0.9))
                self.pending += int(min(lognormal(self.rng, self.style.tool_result_median, 1.0), 30_000))

    def think(self) -> None:
        """A person reads the answer before typing the next prompt."""
        seconds = min(lognormal(self.rng, self.style.think_seconds_median, self.style.think_sigma), 1500.0)
        self.clock += dt.timedelta(seconds=8.0 + seconds)

    def _request(self, prompt: str | None, uses_tool: bool) -> None:
        rng, style = self.rng, self.style
        if self.cached + self.pending > COMPACT_AT:
            self.cached, self.pending = 0, style.system_tokens + style.static_prefix + rng.randint(9_000, 20_000)
            self.warm_prefix = style.system_tokens + style.static_prefix
        uncached = min(self.pending, rng.randint(1, 12))
        read = self.cached + (self.warm_prefix if self.cached == 0 else 0)
        write = self.pending - uncached - (self.warm_prefix if self.cached == 0 else 0)
        context = uncached + read + write
        if style.context_per_output is not None:
            output = max(1, int(context / style.context_per_output * lognormal(rng, 1.0, 0.15)))
        else:
            output = max(1, int(lognormal(rng, style.output_median if uses_tool else style.answer_median, 0.8)))
        self.session.requests.append(
            Request(self.clock, uncached, output, read, write, prompt=prompt, uses_tool=uses_tool)
        )
        self.cached = context
        self.pending = output
        self.warm_prefix = 0
        self.clock += dt.timedelta(seconds=1.2 + output / 75.0 + rng.random())
