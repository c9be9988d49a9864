"""S4 ``repetition`` (waste): sessions opened again and again with the same prompt.

The statistic is the share of sessions whose opening prompt (its hash) was already used to open an
earlier session. Where the source has no prompt hashes, a session's opener is summarised by (model,
exact context size): the same prompt in a fresh session produces the same context to the token. The
method study's prompt-level duplicate share (1 − distinct/count) is reported as evidence, but it does
not decide: honest templated work (a /review command inside sessions) repeats 40–46% of prompts in our
simulation, while resubmission in fresh sessions shows as 54–95% repeated openers against at most 38%.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from tokenaudit.detectors.base import (
    Detector,
    DetectorContext,
    band_severity,
    band_strength,
    capped,
    fmt_int,
    fmt_pct,
    not_evaluated,
)
from tokenaudit.schema import context_tokens

_CONTEXT = context_tokens()


def session_openers(requests: pl.DataFrame) -> pl.DataFrame:
    """dev, session_id, model and context of each session's first request, and its first prompt hash.

    Sessions come in the order they started, per developer (``sorted_requests`` order).
    """
    first_hash = (
        requests.filter(pl.col("session_id").is_not_null() & pl.col("prompt_hash").is_not_null())
        .filter(pl.col("session_id").is_first_distinct().over("dev"))
        .select("dev", "session_id", "prompt_hash")
    )
    return (
        requests.filter(pl.col("opens_session"))
        .select("dev", "session_id", "model", _CONTEXT.alias("context"))
        .join(first_hash, on=["dev", "session_id"], how="left", maintain_order="left")
    )


def compute(context: DetectorContext) -> pl.DataFrame:
    """Per developer: repeated-opener share (prompt hashes, else opener signatures), prompt duplicate share."""
    config = context.flags.repetition
    openers = session_openers(context.requests)
    hashed = openers.filter(pl.col("prompt_hash").is_not_null()).with_columns(
        seen_before=pl.col("prompt_hash").cum_count().over("dev", "prompt_hash") > 1
    )
    by_hash = hashed.group_by("dev").agg(
        pl.len().alias("n"),
        pl.col("seen_before").mean().alias("share"),
        (pl.col("prompt_hash").value_counts(sort=True).struct.field("count").head(3).sum() / pl.len()).alias(
            "top3_share"
        ),
        pl.lit("prompts").alias("basis"),
    )
    by_signature = (
        openers.join(by_hash.select("dev"), on="dev", how="anti")
        .with_columns(seen_before=pl.col("context").cum_count().over("dev", "model", "context") > 1)
        .group_by("dev")
        .agg(
            pl.len().alias("n"),
            pl.col("seen_before").mean().alias("share"),
            (
                pl.struct("model", "context").value_counts(sort=True).struct.field("count").head(3).sum() / pl.len()
            ).alias("top3_share"),
            pl.lit("sessions").alias("basis"),
        )
    )
    prompts = (
        context.requests.filter(pl.col("prompt_hash").is_not_null())
        .group_by("dev")
        .agg((1 - pl.col("prompt_hash").n_unique() / pl.len()).alias("prompt_duplicate_share"))
    )
    frame = (
        context.developers.select("developer", "dev", "peer_group")
        .join(pl.concat([by_hash, by_signature]), on="dev", how="left")
        .join(prompts, on="dev", how="left")
        .drop("dev")
        .with_columns(
            pl.col("n").fill_null(0),
            pl.col("share").median().over("peer_group", "basis").alias("peer_median_share"),
        )
    )
    ratio_ok = pl.col("share") >= config.min_peer_ratio * pl.col("peer_median_share")
    return frame.with_columns(
        capped(
            pl.when(ratio_ok).then(band_severity(pl.col("share"), config.share)).otherwise(0), config.max_severity
        ).alias("severity"),
        band_strength(pl.col("share"), config.share).alias("strength"),
        not_evaluated(
            pl.col("basis").is_null() | (pl.col("n") < config.min_sessions),
            f"at least {config.min_sessions} sessions with session ids",
        ).alias("needs"),
    )


def reason(row: dict[str, Any]) -> str:
    """Quote the duplicate share on the basis that was available."""
    what = (
        "with a prompt already used to open an earlier session"
        if row["basis"] == "prompts"
        else ("with exactly the same model and context size as an earlier session")
    )
    return (
        f"{fmt_pct(row['share'])} of {fmt_int(row['n'])} sessions opened {what} (the top 3 openers account for "
        f"{fmt_pct(row['top3_share'])}); peer median {fmt_pct(row['peer_median_share'])}."
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
    compute=compute,
    reason=reason,
    evidence=("basis", "n", "share", "top3_share", "prompt_duplicate_share", "peer_median_share"),
)
