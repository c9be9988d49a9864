"""S4 ``repetition`` (waste): the same prompt, or the same session opener, again and again.

Where the source gives a prompt hash, the statistic is the duplicate share 1 − distinct/count. Where
it does not, a session's first request is summarised by (model, exact context size): the same prompt
in a fresh session produces the same context to the token, so repeated openers betray resubmission.
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


def compute(context: DetectorContext) -> pl.DataFrame:
    """Per developer: duplicate share (prompt hashes, else session openers), top-3 share, counts."""
    config = context.flags.repetition
    prompts = context.requests.filter(pl.col("prompt_hash").is_not_null())
    hashed = prompts.group_by("developer").agg(
        pl.len().alias("n"),
        (1 - pl.col("prompt_hash").n_unique() / pl.len()).alias("share"),
        (pl.col("prompt_hash").value_counts(sort=True).struct.field("count").head(3).sum() / pl.len()).alias(
            "top3_share"
        ),
        pl.lit("prompts").alias("basis"),
    )
    openers = (
        context.requests.filter(pl.col("session_id").is_not_null())
        .sort("timestamp")
        .group_by("developer", "session_id")
        .agg(pl.col("model").first(), _CONTEXT.first().alias("context"))
        .with_columns(repeats=pl.len().over("developer", "model", "context"))
    )
    signatures = (
        openers.join(hashed.select("developer"), on="developer", how="anti")
        .group_by("developer")
        .agg(
            pl.len().alias("n"),
            (pl.col("repeats") >= 3).mean().alias("share"),
            (pl.col("repeats").sort(descending=True).head(3).sum() / pl.len()).alias("top3_share"),
            pl.lit("sessions").alias("basis"),
        )
    )
    frame = (
        context.developers.select("developer", "peer_group")
        .join(pl.concat([hashed, signatures]), on="developer", how="left")
        .with_columns(
            pl.col("n").fill_null(0),
            pl.col("share").median().over("peer_group", "basis").alias("peer_median_share"),
        )
    )
    ratio_ok = pl.col("share") >= config.min_peer_ratio * pl.col("peer_median_share")
    minimum = pl.when(pl.col("basis") == "prompts").then(config.min_prompts).otherwise(config.min_sessions)
    return frame.with_columns(
        capped(
            pl.when(ratio_ok).then(band_severity(pl.col("share"), config.share)).otherwise(0), config.max_severity
        ).alias("severity"),
        band_strength(pl.col("share"), config.share).alias("strength"),
        not_evaluated(
            pl.col("basis").is_null() | (pl.col("n") < minimum),
            f"at least {config.min_prompts} prompts (with prompt hashes) or {config.min_sessions} sessions",
        ).alias("needs"),
    )


def reason(row: dict[str, Any]) -> str:
    """Quote the duplicate share on the basis that was available."""
    what = "prompts were repeats of earlier ones" if row["basis"] == "prompts" else "sessions opened identically"
    return (
        f"{fmt_pct(row['share'])} of {fmt_int(row['n'])} {what} (top 3 account for {fmt_pct(row['top3_share'])}); "
        f"peer median {fmt_pct(row['peer_median_share'])}."
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
    evidence=("basis", "n", "share", "top3_share", "peer_median_share"),
)
