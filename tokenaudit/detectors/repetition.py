"""S4 ``repetition`` (waste): the same prompt again and again, verbatim or nearly so.

Two views, the stronger counts:

* **Openers**: the share of sessions whose opening prompt was already used to open an earlier session.
  The best basis available is used: prompt *signatures* (SimHash, :mod:`tokenaudit.signatures`), where a
  prompt within a few bits of an earlier one counts, so a date filled in or a word swapped changes
  nothing; else exact prompt hashes; else, with no prompt at all, the session's opener summarised by
  (model, exact context size): the same prompt in a fresh session produces the same context to the token.
* **Runs**: prompt turns (with signatures) that nearly repeat an earlier prompt of the developer, per
  active day, at high volume: re-running one prompt 140 times a day inside a long session opens no new
  session, so the opener view alone misses it.

The method study's prompt-level duplicate share (1 − distinct/count) is reported as evidence, but it does
not decide: honest templated work (a /review command inside sessions) repeats 40–46% of prompts in our
simulation, while resubmission in fresh sessions shows as 54–95% repeated openers against at most 38%.
"""

from __future__ import annotations

from typing import Any, Final

import polars as pl

from tokenaudit.detectors.base import (
    Detector,
    DetectorContext,
    band_severity,
    band_strength,
    by_developer,
    capped,
    fmt_int,
    fmt_pct,
    not_evaluated,
    over_peers,
)
from tokenaudit.schema import context_tokens
from tokenaudit.signatures import NEAR_DUPLICATE_BITS, hamming

_CONTEXT = context_tokens()
_BANDS: Final = 8
"""Signatures are compared when one of their eight bytes agrees (pigeonhole: any pair within 7 bits shares
one; pairs within 10 bits usually do), against the earliest few signatures sharing that byte."""
_CANDIDATES_PER_BAND: Final = 4
_BYTE: Final = pl.Series([256**band for band in range(_BANDS)], dtype=pl.UInt64)


def near_repeats(rows: pl.DataFrame, key: str = "dev") -> pl.Series:
    """For rows (``key``, seq, prompt_signature): whether an earlier row of the same ``key`` (a developer, or a
    session) has a signature within :data:`~tokenaudit.signatures.NEAR_DUPLICATE_BITS` bits (an exact repeat
    included). In row order.

    Bounded work per row (bands × candidates), so a loop of thousands of paraphrases costs no quadratic join: each
    signature is compared with the earliest :data:`_CANDIDATES_PER_BAND` signatures of every bucket it falls in (a
    key, a band and the byte there). Sorted by bucket, then first occurrence, those are the first rows of each run
    of a bucket, gathered by position: no join or group-by of the buckets.
    """
    first = rows.group_by(key, "prompt_signature").agg(pl.col("seq").min().alias("first"))
    shared = (pl.col("bucket") == pl.col("bucket").shift(1)) | (pl.col("bucket") == pl.col("bucket").shift(-1))
    banded = _in_buckets(first, key).filter(shared.fill_null(value=False))  # alone in its bucket: nothing to compare
    index = pl.int_range(pl.len(), dtype=pl.Int64)
    opening = pl.when(pl.col("bucket") != pl.col("bucket").shift(1)).then(index).forward_fill().fill_null(0)
    banded = banded.with_columns(opening=opening)
    last = banded.height - 1

    def candidate(rank: int) -> pl.Expr:
        """The first occurrence of the bucket's ``rank``-th signature where it came earlier and is near, else null."""
        at = (pl.col("opening") + rank).clip(upper_bound=last)
        other = pl.col("first").gather(at)
        close = hamming(pl.col("prompt_signature").gather(at), "prompt_signature") <= NEAR_DUPLICATE_BITS
        same = pl.col("bucket").gather(at) == pl.col("bucket")
        return pl.when(same & (other < pl.col("first")) & close).then(other)

    earliest_near = pl.min_horizontal(map(candidate, range(_CANDIDATES_PER_BAND))).alias("near_first")
    near = (
        banded.select(key, "prompt_signature", earliest_near)
        .group_by(key, "prompt_signature")
        .agg(pl.col("near_first").min())
        .filter(pl.col("near_first").is_not_null())
    )
    return (
        rows.join(first, on=[key, "prompt_signature"], how="left", maintain_order="left")
        .join(near, on=[key, "prompt_signature"], how="left", maintain_order="left")
        .select((pl.col("seq") > pl.col("first")) | pl.col("near_first").is_not_null())
        .to_series()
        .alias("seen_before")
    )


def _in_buckets(first: pl.DataFrame, key: str) -> pl.DataFrame:
    """``first``'s (key, signature, first) rows once per band with ``bucket``, one integer per (key, band, byte
    there), sorted by bucket, then first occurrence, then signature. The sort is on one integer holding bucket and
    first occurrence where both fit in 64 bits (always, short of billions of keys or prompts)."""
    code = pl.col(key).rank("dense").cast(pl.UInt64)
    band = pl.int_ranges(0, _BANDS, dtype=pl.UInt32)
    value = pl.col("prompt_signature") // pl.lit(_BYTE).gather(pl.col("band")) % 256
    banded = (
        first.with_columns(code=code, band=band)
        .explode("band")
        .select(key, "prompt_signature", "first", bucket=(pl.col("code") * _BANDS + pl.col("band")) * 256 + value)
    )
    if banded.is_empty():
        return banded
    lowest, highest, most = banded.select(
        pl.col("first").min().alias("lowest"), pl.col("first").max().alias("highest"), pl.col("bucket").max()
    ).row(0)
    shift = int(highest).bit_length()
    if lowest < 0 or int(most).bit_length() + shift > 64:
        return banded.sort("bucket", "first", "prompt_signature")
    packed = pl.col("bucket") * 2**shift + pl.col("first").cast(pl.UInt64)
    return banded.sort(packed, "prompt_signature")


def session_openers(requests: pl.DataFrame) -> pl.DataFrame:
    """dev, session_id, model and context of each session's first request, its first prompt hash and signature.

    Sessions come in the order they started, per developer (``sorted_requests`` order). Matched on the integer
    ``session`` code, which names the developer and the session at once.
    """

    def first_of(column: str) -> pl.DataFrame:
        return (
            requests.lazy()
            .select("session", column)
            .filter(pl.col("session").is_not_null() & pl.col(column).is_not_null())
            .filter(pl.col("session").is_first_distinct())
            .collect(engine="in-memory")
        )

    return (
        requests.lazy()
        .filter(pl.col("opens_session"))
        .select("dev", "session_id", "model", _CONTEXT.alias("context"), "session")
        .collect(engine="in-memory")
        .join(first_of("prompt_hash"), on="session", how="left", maintain_order="left")
        .join(first_of("prompt_signature"), on="session", how="left", maintain_order="left")
        .drop("session")
    )


def _opener_shares(openers: pl.DataFrame) -> pl.DataFrame:
    """Repeated-opener share per dev on the best basis it has: signatures, hashes, else (model, context). An opener
    is seen before where its (dev, key) is not the first of its kind (a hash set, no window over the groups)."""
    summary = (
        pl.len().alias("n"),
        pl.col("seen_before").mean().alias("share"),
        (pl.col("key").value_counts(sort=True).struct.field("count").head(3).sum() / pl.len()).alias("top3_share"),
    )
    signed = openers.filter(pl.col("prompt_signature").is_not_null()).with_columns(
        seq=pl.int_range(pl.len()).over("dev")
    )
    by_signature = (
        signed.with_columns(near_repeats(signed), key=pl.col("prompt_signature"))
        .group_by("dev")
        .agg(*summary, pl.lit("similar prompts").alias("basis"))
    )
    unsigned = openers.join(by_signature.select("dev"), on="dev", how="anti")
    by_hash = (
        unsigned.filter(pl.col("prompt_hash").is_not_null())
        .with_columns(seen_before=~pl.struct("dev", "prompt_hash").is_first_distinct(), key="prompt_hash")
        .group_by("dev")
        .agg(*summary, pl.lit("prompts").alias("basis"))
    )
    by_context = (
        unsigned.join(by_hash.select("dev"), on="dev", how="anti")
        .with_columns(
            seen_before=~pl.struct("dev", "model", "context").is_first_distinct(),
            key=pl.struct("model", "context"),
        )
        .group_by("dev")
        .agg(*summary, pl.lit("sessions").alias("basis"))
    )
    return pl.concat([by_signature, by_hash, by_context])


def _prompt_runs(requests: pl.DataFrame) -> pl.DataFrame:
    """Per dev: signed prompt turns, the share that nearly repeat an earlier one, and such repeats per active day."""
    prompts = (
        requests.lazy()
        .select("dev", "timestamp", "prompt_signature")
        .filter(pl.col("prompt_signature").is_not_null())
        .with_columns(seq=pl.int_range(pl.len()).over("dev"))
        .collect(engine="in-memory")
    )
    return (
        prompts.with_columns(near_repeats(prompts))
        .group_by("dev")
        .agg(
            pl.len().alias("prompt_turns"),
            pl.col("seen_before").mean().alias("repeat_share"),
            (pl.col("seen_before").sum() / pl.col("timestamp").dt.date().n_unique()).alias("repeats_per_day"),
        )
    )


def features(context: DetectorContext) -> pl.DataFrame:
    """Per developer: repeated-opener share and its basis, repeated prompt turns per day, prompt duplicate share."""
    prompts = (
        context.requests.lazy()
        .select("dev", "prompt_hash")
        .filter(pl.col("prompt_hash").is_not_null())
        .group_by("dev")
        .agg((1 - pl.col("prompt_hash").n_unique() / pl.len()).alias("prompt_duplicate_share"))
        .collect(engine="in-memory")
    )
    return by_developer(
        context, _opener_shares(session_openers(context.requests)), _prompt_runs(context.requests), prompts
    )


def judge(features: pl.DataFrame, context: DetectorContext) -> pl.DataFrame:
    """Per developer: repeated-opener share, repeated prompt turns per day, prompt duplicate share."""
    config = context.flags.repetition
    frame = (
        context.developers.select("developer", "peer_group")
        .join(features, on="developer", how="left")
        .with_columns(
            pl.col("n", "prompt_turns").fill_null(0),
            # Prompt signatures and hashes both count prompts; opener contexts are another measure.
            pl.when(pl.col("basis") == "sessions").then(pl.lit("sessions")).otherwise(pl.lit("prompts")).alias("_kind"),
        )
        .with_columns(
            over_peers(pl.col("share").median(), "_kind").alias("peer_median_share"),
            over_peers(pl.col("share").count(), "_kind").alias("_compared"),
        )
    )
    # Too few others measured the same way: no baseline, so the bands alone decide.
    ratio_ok = (pl.col("share") >= config.min_peer_ratio * pl.col("peer_median_share")) | (pl.col("_compared") < 3)
    openers_evaluated = pl.col("basis").is_not_null() & (pl.col("n") >= config.min_sessions)
    runs_evaluated = pl.col("prompt_turns") >= config.min_sessions
    opener_severity = pl.when(ratio_ok & openers_evaluated).then(band_severity(pl.col("share"), config.share))
    run_severity = pl.when(runs_evaluated & (pl.col("repeat_share") >= config.share.low)).then(
        band_severity(pl.col("repeats_per_day"), config.repeats_per_day)
    )
    return frame.with_columns(
        capped(pl.max_horizontal(opener_severity.otherwise(0), run_severity.otherwise(0)), config.max_severity).alias(
            "severity"
        ),
        pl.max_horizontal(
            band_strength(pl.col("share"), config.share),
            pl.when(run_severity > 0).then(band_strength(pl.col("repeats_per_day"), config.repeats_per_day)),
        )
        .fill_null(0.0)
        .alias("strength"),
        not_evaluated(
            ~openers_evaluated & ~runs_evaluated,
            f"at least {config.min_sessions} sessions with session ids or prompt turns",
        ).alias("needs"),
    ).drop("_kind", "_compared")


def reason(row: dict[str, Any]) -> str:
    """Quote the duplicate share on the basis that was available, and repeated prompt runs where they decide."""
    what = {
        "similar prompts": "with a prompt the same as, or nearly the same as, one that opened an earlier session",
        "prompts": "with a prompt already used to open an earlier session",
        "sessions": "with exactly the same model and context size as an earlier session",
    }.get(row["basis"] or "", "")
    openers = (
        f"{fmt_pct(row['share'])} of {fmt_int(row['n'])} sessions opened {what} (the top 3 openers account for "
        f"{fmt_pct(row['top3_share'])}); peer median {fmt_pct(row['peer_median_share'])}"
        if row["basis"]
        else "no session openers to compare"
    )
    if not row["prompt_turns"]:
        return openers + "."
    return (
        f"{openers}; {fmt_pct(row['repeat_share'])} of {fmt_int(row['prompt_turns'])} prompts nearly repeated an "
        f"earlier one, {fmt_int(row['repeats_per_day'])} such repeats per active day."
    )


DETECTOR = Detector(
    id="repetition",
    family="waste",
    consider=(
        "retries after errors or rate limits",
        "templated workflows (a /review command, commit messages)",
        "an evaluation harness that repeats prompts on purpose",
        "short control prompts such as 'continue'",
    ),
    features=features,
    judge=judge,
    reason=reason,
    gauges=(("share", "share"), ("repeats_per_day", "repeats_per_day")),
    evidence=(
        "basis",
        "n",
        "share",
        "top3_share",
        "prompt_duplicate_share",
        "peer_median_share",
        "prompt_turns",
        "repeat_share",
        "repeats_per_day",
    ),
)
