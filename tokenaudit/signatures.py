"""Prompt signatures: a 64-bit SimHash of a prompt's words, computed in the reader, the text dropped at once.

An exact ``prompt_hash`` misses a prompt resubmitted with one word changed, a date filled in or a
paraphrase that keeps most of its words. SimHash (Charikar 2002; Manku et al. 2007 for near-duplicate
web pages) maps text to 64 bits so that similar texts differ in few bits: each feature (a lower-cased
word or a pair of neighbouring words) votes on every bit by its hash, and the signature keeps the
majority. Two prompts sharing most of their words land within a few bits; unrelated ones differ in
about 32. Nothing here can be turned back into the text, and the text never leaves the reader.

Prompts under :data:`MIN_WORDS` words ("continue", "keep going") are too short for near-duplicates: a
word changed is a different prompt. They get an exact hash of their lower-cased words instead (``Continue.``
and ``continue`` are one prompt), which lies about 32 bits from any other prompt's signature, so only the
same short prompt matches it. One "continue" says nothing; the same few short prompts fed into one session
dozens of times a day is how a script keeps a session spending (``drip_feed``). A redacted prompt (OpenTelemetry
without ``OTEL_LOG_USER_PROMPTS``) and an empty one get no signature: there is no text to compare.

A slash command is judged on what the person typed, not on the template it expands to: Claude Code
records ``/review 1234`` as ``<command-name>/review</command-name>`` and ``<command-args>1234</command-args>``
(with a ``<command-message>`` line), so two reviews of different PRs would otherwise look like one prompt
sent twice. The typed line (the command and its arguments) goes through the same rules as any prompt: a
short one gets no signature, a long argument is compared like any other prompt.

The feature hash is Polars' own (fixed seed): stable within one Polars version, which is all that is
needed, because signatures are compared within one run and never written out.
"""

from __future__ import annotations

from functools import cache
from typing import Final

import polars as pl

from tokenaudit.schema import repeated_values

SIGNATURE_BITS: Final = 64
MIN_WORDS: Final = 4
NEAR_DUPLICATE_BITS: Final = 10
"""Hamming distance at or below which two signatures count as the same prompt. Unrelated prompts sit
near 32 (sd 4), so 10 is over five standard deviations away from chance."""
_SEED: Final = 0x7A5E
_REDACTED: Final = ("<redacted>",)
"""Texts that stand for a prompt the source withheld (lower-cased): no signature."""


_COMMAND: Final = r"<command-name>\s*(/?[^<\s]+)\s*</command-name>"
_ARGUMENTS: Final = r"(?s)<command-args>(.*?)</command-args>"


def typed_text(text: pl.Expr) -> pl.Expr:
    """What the person typed: a slash command's name and arguments, else the text itself."""
    command = text.str.extract(_COMMAND, 1)
    arguments = text.str.extract(_ARGUMENTS, 1).fill_null("")
    return pl.when(command.is_not_null()).then(pl.concat_str(command, pl.lit(" "), arguments)).otherwise(text)


def simhash(frame: pl.DataFrame, text: str) -> pl.Series:
    """One UInt64 signature per row of ``frame[text]``, in row order: a SimHash of the words, an exact hash of
    the words for prompts under :data:`MIN_WORDS` words, null for missing, empty or redacted text."""
    typed = typed_text(pl.col(text)).str.to_lowercase()
    words = pl.when(~typed.str.strip_chars().is_in(_REDACTED)).then(typed.str.extract_all(r"\w+"))
    listed = frame.select(words.alias("words")).with_row_index("row")
    word = listed.filter(pl.col("words").list.len() >= MIN_WORDS).explode("words")
    # A pair is a word and the next word of the same prompt (the exploded rows keep each prompt's words in order).
    pair = pl.when(pl.col("row") == pl.col("row").shift(-1)).then(pl.col("words") + " " + pl.col("words").shift(-1))
    features = pl.concat(
        [word.select("row", "words"), word.select("row", pair.alias("words")).drop_nulls("words")]
    ).select("row", pl.col("words").hash(seed=_SEED).alias("hash"))
    longest = listed.select(pl.col("words").list.len().max()).item()
    signed = _majority_bits(features, 2 * (longest or 0))
    short = listed.filter(pl.col("words").list.len().is_between(1, MIN_WORDS - 1)).select(
        "row", pl.col("words").list.join(" ").hash(seed=_SEED).alias("prompt_signature")
    )
    rows = pl.DataFrame({"row": pl.int_range(0, frame.height, eager=True).cast(pl.UInt32)})
    return rows.join(pl.concat([signed, short]), on="row", how="left", maintain_order="left")["prompt_signature"]


def _majority_bits(features: pl.DataFrame, most: int) -> pl.DataFrame:
    """Each ``row``'s signature from its features' ``hash``: bit ``b`` is set when more than half the hashes have it.

    The votes are counted several bits at a time: ``hash // 2**k & mask`` puts bits ``k``, ``k + width``, … in
    separate lanes of ``width`` bits, and one sum counts them all. A lane holds a row's count without carrying into
    the next while the row has fewer than ``2**width`` features: 16 bits when ``most``, an upper bound of any row's
    features, is under 65,536, else 32 (a frame holds fewer than 2**32 rows).
    """
    votes, signature = _vote_expressions(16 if most < 2**16 else 32)
    counts = features.group_by("row", maintain_order=True).agg(pl.len().alias("n"), *votes)
    return counts.select("row", signature)


@cache
def _vote_expressions(width: int) -> tuple[tuple[pl.Expr, ...], pl.Expr]:
    """:func:`_majority_bits`' vote sums and signature for lanes of ``width`` bits, built once: a reader signs its
    prompts batch by batch, and the expressions (a term per bit) cost more to build than a small batch to sign."""
    lanes = SIGNATURE_BITS // width
    mask = sum(2 ** (lane * width) for lane in range(lanes))
    votes = tuple((pl.col("hash") // 2**shift & mask).sum().alias(f"v{shift}") for shift in range(width))
    lane_bits = [(shift + lane * width, f"v{shift}", lane) for shift in range(width) for lane in range(lanes)]
    signature = pl.sum_horizontal(
        pl.when(2 * (pl.col(name) // 2 ** (lane * width) % 2**width) > pl.col("n"))
        .then(pl.lit(2**bit, pl.UInt64))
        .otherwise(pl.lit(0, pl.UInt64))
        for bit, name, lane in lane_bits
    )
    return votes, signature.cast(pl.UInt64).alias("prompt_signature")


def hamming(left: str | pl.Expr, right: str | pl.Expr) -> pl.Expr:
    """Bits in which two signatures differ."""
    a = pl.col(left) if isinstance(left, str) else left
    b = pl.col(right) if isinstance(right, str) else right
    return a.xor(b).bitwise_count_ones()


def prompt_turns(frame: pl.DataFrame, text: str) -> pl.DataFrame:
    """The prompt turns a reader found (``session_id``, parsed ``timestamp`` and ``frame[text]``), as
    :func:`attach_turns` takes them: the text becomes its signature and is left behind."""
    signature = simhash(frame, text).alias("prompt_signature")
    return frame.select("session_id", "timestamp", pl.lit("prompt").alias("turn"), signature)


def attach_turns(requests: pl.DataFrame, turns: pl.DataFrame) -> pl.DataFrame:
    """Give each request the prompt turn that triggered it: ``prompt_signature`` and ``turn``.

    ``turns`` holds what a person, a script or a tool sent into a session (session_id, timestamp, turn
    ``"prompt"`` or ``"tool"``, prompt_signature). Each turn belongs to the session's first request at or
    after it; when several turns precede one request (queued prompts), the last one counts. Requests that
    no turn precedes directly keep nulls (unknown).
    """
    # Positions and times alone are sorted and joined: each request's owning turn is found as a row number, and its
    # two columns are gathered once, at the end.
    indexed = requests.select("session_id", "timestamp").with_row_index("_request")
    sent = turns.select("session_id", "timestamp").with_row_index("_turn")
    found = (
        sent.filter(pl.col("session_id").is_not_null() & pl.col("timestamp").is_not_null())
        .sort("timestamp")
        .join_asof(
            indexed.filter(pl.col("session_id").is_not_null()).sort("timestamp"),
            on="timestamp",
            by="session_id",
            strategy="forward",
            check_sortedness=False,  # sorted by time overall, hence within every session
        )
        .filter(pl.col("_request").is_not_null())
    )
    # A request that owns one turn takes it; only the requests that own several are grouped (their last in time).
    owners = found.get_column("_request")
    several = owners.is_in(repeated_values(owners).implode())
    chosen = pl.concat(
        [
            found.filter(~several).select("_request", "_turn"),
            found.filter(several).group_by("_request").agg(pl.col("_turn").sort_by("timestamp").last()),
        ],
        how="vertical",
    ).rechunk()
    owner = pl.repeat(None, requests.height, dtype=pl.UInt32, eager=True).scatter(
        chosen.get_column("_request"), chosen.get_column("_turn")
    )
    # The requests' own columns are kept as they are (a join of the whole frame would copy every column of every
    # request); the two columns are gathered from one chunk (a gather across chunks looks each row up in them all).
    owned = turns.select("turn", "prompt_signature").rechunk()
    return requests.drop("turn", "prompt_signature", strict=False).with_columns(
        owned.get_column(name).gather(owner) for name in owned.columns
    )
