"""Requests and token accounting: honest requests, sessions, prompt caching and templates."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from tokenaudit.simulate.behaviour import Dev, hash_of
from tokenaudit.simulate.config import (
    CACHE_TTL_S,
    CONTEXT_LIMIT,
    CONTROL_PROMPTS,
    CONTROL_SHARE,
    EFF_WEIGHTS,
    F64,
    I64,
    MODELS,
    Bools,
    Num,
    Strs,
)


@dataclass(frozen=True)
class Requests:
    """A batch of API requests, sorted by time within each session (sessions are contiguous)."""

    t: F64
    session: I64
    prompt: Strs  # hash on the first request of a prompt burst, "" on tool-call follow-ups
    model: I64
    tool: I64
    tokens: I64  # (n, 4) in TOKEN_COLUMNS order

    def __len__(self) -> int:
        return int(self.t.size)

    @property
    def total(self) -> float:
        return float(self.tokens.sum())

    @property
    def effective(self) -> float:
        return float((self.tokens @ EFF_WEIGHTS).sum())

    def select(self, mask: Bools) -> Requests:
        return Requests(
            self.t[mask], self.session[mask], self.prompt[mask], self.model[mask], self.tool[mask], self.tokens[mask]
        )

    def scaled_to(self, budget: float) -> Requests:
        """The same requests with every token count scaled so that their total is ``budget``."""
        factor = budget / self.total if self.total else 0.0
        tokens = np.rint(self.tokens * factor).astype(np.int64)
        return Requests(self.t, self.session, self.prompt, self.model, self.tool, tokens)

    @staticmethod
    def concat(parts: Sequence[Requests]) -> Requests:
        """Concatenate batches, renumbering sessions so that no two batches share one."""
        offsets = np.cumsum([0] + [int(p.session.max()) + 1 if len(p) else 0 for p in parts])
        return Requests(
            np.concatenate([p.t for p in parts]),
            np.concatenate([p.session + o for p, o in zip(parts, offsets, strict=False)]),
            np.concatenate([p.prompt for p in parts]),
            np.concatenate([p.model for p in parts]),
            np.concatenate([p.tool for p in parts]),
            np.concatenate([p.tokens for p in parts]).reshape(-1, 4),
        )


def empty_requests() -> Requests:
    return Requests(
        np.empty(0), np.empty(0, np.int64), np.empty(0, "U16"), np.empty(0, np.int64), np.empty(0, np.int64),
        np.empty((0, 4), np.int64),
    )  # fmt: skip


_HEX_DIGITS: Final = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def _hex(raw: npt.NDArray[np.uint8]) -> Strs:
    """Lower-case hex of each row of a byte matrix, vectorised."""
    n, width = raw.shape
    chars = np.empty((n, 2 * width), dtype=np.uint8)
    chars[:, 0::2] = _HEX_DIGITS[raw >> 4]
    chars[:, 1::2] = _HEX_DIGITS[raw & 15]
    return chars.view(f"S{2 * width}").ravel().astype(f"U{2 * width}")


def random_hex(rng: np.random.Generator, n: int, nbytes: int) -> Strs:
    return _hex(rng.integers(0, 256, size=(n, nbytes), dtype=np.uint8))


def uuid4(rng: np.random.Generator, n: int) -> Strs:
    """Random RFC 4122 version-4 UUID strings, vectorised."""
    raw = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    digits = _hex(raw).view(np.uint32).reshape(n, 32)
    dashed = np.full((n, 36), ord("-"), dtype=np.uint32)
    dashed[:, np.r_[0:8, 9:13, 14:18, 19:23, 24:36]] = digits
    return dashed.view("U36").ravel()


def _segment_cumsum(values: npt.NDArray[Num], first: Bools) -> npt.NDArray[Num]:
    """Running sum of ``values`` that restarts wherever ``first`` is set."""
    total = np.cumsum(values)
    start = np.maximum.accumulate(np.where(first, np.arange(values.size), 0))
    return total - total[start] + values[start]


def _cache_accounting(t: F64, session: I64, added: I64, out: I64, uncached: I64, base: int) -> I64:
    """Anthropic-style token columns for conversations that grow, compact and lose their cache.

    The context of request k is the repository's base context plus everything added so far in the
    session (prompt or tool result, plus the previous output); it wraps around at the compaction limit.
    Warm requests read the prefix from the cache and write only what was added; the first request of a
    session, and one sent after the 5-minute cache TTL, writes the whole context.
    """
    first = np.r_[True, session[1:] != session[:-1]]
    previous_out = np.r_[0, out[:-1]]
    previous_out[first] = 0
    step = added + previous_out
    grown = _segment_cumsum(step, first)
    span = CONTEXT_LIMIT - base
    lap, pos = np.divmod(grown, span)
    context = base + pos
    compacted = np.r_[False, lap[1:] != lap[:-1]] & ~first
    cold = first | (np.diff(t, prepend=t[:1]) > CACHE_TTL_S)
    cache_read = np.where(cold, 0, np.where(compacted, base, context - step))
    cache_write = np.where(cold, context, np.where(compacted, pos, step))
    return np.stack([uncached, out, cache_read, cache_write], axis=1).astype(np.int64)


def _draw_sizes(rng: np.random.Generator, dev: Dev, burst_start: Bools) -> tuple[I64, I64, I64]:
    """Lognormal sizes of what each request adds (prompt or tool result), its output and uncached input."""
    n = burst_start.size
    added = np.where(burst_start, rng.lognormal(math.log(400), 1.0, n), rng.lognormal(math.log(dev.add_median), 1.1, n))
    out = np.minimum(rng.lognormal(math.log(dev.out_median), 1.0, n), 32_000)
    uncached = rng.lognormal(math.log(12), 1.2, n)
    return (
        np.minimum(added, 40_000).astype(np.int64) + 1,
        out.astype(np.int64) + 1,
        np.minimum(uncached, 5_000).astype(np.int64) + 1,
    )


def _session_choices(rng: np.random.Generator, dev: Dev, sessions: int) -> tuple[I64, I64]:
    """Model and tool of each session, from the developer's preferences."""
    model = rng.choice(len(MODELS), size=sessions, p=dev.model_p)
    tool = (rng.random(sessions) < dev.cursor_share).astype(np.int64)
    return model.astype(np.int64), tool


def human_requests(rng: np.random.Generator, dev: Dev, prompt_t: F64) -> Requests:
    """Agent bursts after each prompt: NegBin(mean 4) requests ~8 s apart, sessions split by long pauses."""
    m = prompt_t.size
    if m == 0:
        return empty_requests()
    kind = rng.random(m)
    retry = kind < dev.retry_share
    retry[0] = False
    prompt_t = np.where(retry, np.minimum(prompt_t, np.r_[prompt_t[0], prompt_t[:-1]] + 1.0), prompt_t)

    size = 1 + rng.negative_binomial(1.5, 1.5 / 4.5, m)
    owner = np.repeat(np.arange(m), size)
    burst_start = np.zeros(owner.size, dtype=bool)
    burst_start[np.cumsum(size) - size] = True
    step = np.where(
        rng.random(owner.size) < 0.06, rng.uniform(120, 300, owner.size), 2 + rng.gamma(2.0, 3.0, owner.size)
    )
    step[burst_start] = 0.0
    offset = _segment_cumsum(step, burst_start)
    duration = offset[np.cumsum(size) - 1]
    # A person waits for the agent: shift prompts so that bursts never overlap (vectorised recurrence).
    shift = np.r_[0.0, np.cumsum(duration + 3.0)[:-1]]
    start = shift + np.maximum.accumulate(prompt_t - shift)
    pause = start - np.r_[-np.inf, (start + duration)[:-1]]
    new_session = ((pause > dev.session_gap) | (rng.random(m) < dev.p_clear)) & ~retry
    new_session[0] = True
    session = np.cumsum(new_session) - 1

    pick = kind - dev.retry_share
    hashes = np.where(
        pick < dev.template_share,
        rng.choice(dev.templates, size=m),
        np.where(pick < dev.template_share + CONTROL_SHARE, rng.choice(_CONTROL_HASHES, size=m), random_hex(rng, m, 8)),
    )
    hashes = hashes[np.maximum.accumulate(np.where(retry, 0, np.arange(m)))]  # a retry resends the last prompt

    model, tool = _session_choices(rng, dev, int(session[-1]) + 1)
    added, out, uncached = _draw_sizes(rng, dev, burst_start)
    t = start[owner] + offset
    sess = session[owner]
    return Requests(
        t,
        sess,
        np.where(burst_start, hashes[owner], ""),
        model[sess],
        tool[sess],
        _cache_accounting(t, sess, added, out, uncached, dev.base_ctx),
    )


_CONTROL_HASHES: Final = np.array([hash_of(p) for p in CONTROL_PROMPTS])


def template_runs(rng: np.random.Generator, dev: Dev, starts: F64, n_templates: int, tag: str) -> Requests:
    """Fresh headless sessions that each run one of a few fixed prompts, so the runs are near-clones.

    The same prompt in a fresh session gives the exact same opening context (repetition signal S4b);
    later requests vary by well under 1 % in context and a few percent in output (S4c).
    """
    if starts.size == 0:
        return empty_requests()
    length = rng.integers(2, 7, n_templates)
    template_rows = []
    for j in range(n_templates):
        burst_start = np.arange(length[j]) == 0
        added, out, uncached = _draw_sizes(rng, dev, burst_start)
        steps = np.arange(length[j], dtype=np.float64) * 8.0
        template_rows.append(
            _cache_accounting(steps, np.zeros(length[j], np.int64), added, out, uncached, dev.base_ctx)
        )
    table = np.concatenate(template_rows)
    which = rng.choice(n_templates, size=starts.size, p=rng.dirichlet(np.ones(n_templates)))
    size = length[which]
    owner = np.repeat(np.arange(starts.size), size)
    position = np.arange(owner.size) - (np.cumsum(size) - size)[owner]
    tokens = table[(np.cumsum(length) - length)[which][owner] + position].astype(np.float64)
    later = position > 0
    tokens[later] *= rng.lognormal(0.0, [0.0, 0.02, 0.003, 0.003], (int(later.sum()), 4))
    step = np.where(position == 0, 0.0, 2 + rng.gamma(2.0, 3.0, owner.size))
    offset = _segment_cumsum(step, position == 0)
    hashes = np.array([hash_of(f"{dev.person.developer}:{tag}:{j}") for j in range(n_templates)])
    return Requests(
        starts[owner] + offset,
        owner.astype(np.int64),
        np.where(position == 0, hashes[which][owner], ""),
        np.zeros(owner.size, np.int64),
        np.zeros(owner.size, np.int64),
        np.rint(tokens).astype(np.int64),
    )


def night_runs(rng: np.random.Generator, dev: Dev, nights: Bools, budget: float) -> Requests:
    """Long agent runs between about 22:00 and 06:00 local on the given local days, one session a night."""
    days = np.flatnonzero(nights)
    if days.size == 0 or budget <= 0:
        return empty_requests()
    begin = dev.midnight[days] + 3_600 * rng.uniform(22.0, 23.5, days.size)
    length = 3_600 * rng.uniform(6.5, 8.0, days.size) - (begin - dev.midnight[days] - 22 * 3_600)
    count = rng.multinomial(max(days.size, round(budget / 80_000)), length / length.sum())
    owner = np.repeat(np.arange(days.size), count)
    t = begin[owner] + rng.random(owner.size) * length[owner]
    order = np.lexsort((t, owner))
    t, owner = t[order], owner[order]
    burst_start = np.r_[True, owner[1:] != owner[:-1]]
    model, _ = _session_choices(rng, dev, days.size)
    added, out, uncached = _draw_sizes(rng, dev, burst_start)
    runs = Requests(
        t,
        owner.astype(np.int64),
        np.where(burst_start, random_hex(rng, owner.size, 8), ""),
        model[owner],
        np.zeros(owner.size, np.int64),
        _cache_accounting(t, owner.astype(np.int64), added, out, uncached, dev.base_ctx),
    )
    return runs.scaled_to(budget)
