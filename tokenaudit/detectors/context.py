"""S5 ``context_stuffing`` (waste): tokens dominated by re-read context, with little output.

Two statistics on the developer's main tool, each as a robust z among everyone in the organisation on
the same tool (tools disagree on what they count, and teams are too small for a stable baseline): the
median context per request, and context per output token. Cache reads alone are no signal (80–99% is normal
for agents), so both an absolute floor and a peer comparison are required.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from tokenaudit.detectors.base import (
    Detector,
    DetectorContext,
    capped,
    fmt_int,
    fmt_num,
    not_evaluated,
    robust_z,
)
from tokenaudit.schema import context_tokens

_CONTEXT = context_tokens()


def compute(context: DetectorContext) -> pl.DataFrame:
    """Per developer on their main tool: median context, context per output, their robust z."""
    config = context.flags.context_stuffing
    per_tool = context.requests.group_by("dev", "tool").agg(
        pl.len().alias("n_requests"),
        _CONTEXT.median().alias("median_context"),
        (_CONTEXT.sum() / pl.col("output_tokens").sum().clip(1)).alias("context_per_output"),
        (_CONTEXT + pl.col("output_tokens")).sum().alias("tool_tokens"),
    )
    main = per_tool.sort("tool_tokens", "tool", descending=[True, False]).group_by("dev", maintain_order=True).first()
    frame = (
        context.developers.select("developer", "dev", "peer_group")
        .join(main, on="dev", how="left")
        .drop("dev")
        .with_columns(
            pl.col("n_requests").fill_null(0),
            robust_z(pl.col("median_context").clip(1).log10(), group="tool").alias("z_context"),
            robust_z(pl.col("context_per_output").clip(1).log10(), group="tool").alias("z_ratio"),
            pl.len().over("tool").alias("n_tool_peers"),
            pl.col("median_context").median().over("tool").alias("peer_median_context"),
            pl.col("context_per_output").median().over("tool").alias("peer_median_ratio"),
        )
    )
    floors = (pl.col("median_context") >= config.min_median_context) & (
        pl.col("context_per_output") >= config.min_context_per_output
    )
    low_z = pl.min_horizontal("z_context", "z_ratio")
    high_z = pl.max_horizontal("z_context", "z_ratio")
    severity = (
        pl.when(~floors)
        .then(0)
        .when(low_z >= config.z_high)
        .then(3)
        .when(low_z >= config.z_both)
        .then(2)
        .when(high_z >= config.z_one)
        .then(1)
        .otherwise(0)
    )
    return frame.with_columns(
        capped(severity, config.max_severity).alias("severity"),
        ((low_z - config.z_both) / max(config.z_high - config.z_both, 1e-9)).clip(0.0, 1.0).alias("strength"),
        not_evaluated(
            (pl.col("n_requests") < config.min_requests) | (pl.col("n_tool_peers") < config.min_peers),
            f"at least {config.min_requests} requests and {config.min_peers} peers on the same tool",
        ).alias("needs"),
    )


def reason(row: dict[str, Any]) -> str:
    """Quote context per request and per output token against same-tool peers."""
    return (
        f"median context {fmt_int(row['median_context'])} tokens per request on {row['tool']} "
        f"(peer median {fmt_int(row['peer_median_context'])}, z {fmt_num(row['z_context'], 1)}) and "
        f"{fmt_int(row['context_per_output'])} context tokens per output token "
        f"(peer median {fmt_int(row['peer_median_ratio'])}, z {fmt_num(row['z_ratio'], 1)})."
    )


DETECTOR = Detector(
    id="context_stuffing",
    family="waste",
    consider=(
        "a huge monorepo or long sessions that are never compacted",
        "review or analysis work that reads much and writes little",
        "a bloated CLAUDE.md or rules file",
    ),
    compute=compute,
    reason=reason,
    evidence=(
        "tool",
        "n_requests",
        "median_context",
        "context_per_output",
        "z_context",
        "z_ratio",
        "peer_median_context",
        "peer_median_ratio",
        "n_tool_peers",
    ),
    outcomes_exculpate=True,
)
