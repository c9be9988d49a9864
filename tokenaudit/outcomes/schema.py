"""The canonical outcome schema every outcome reader normalises into."""

from __future__ import annotations

from typing import Final

import polars as pl

from tokenaudit.schema import UTC_DATETIME

OUTCOME_SCHEMA: Final[dict[str, pl.DataType]] = {
    "developer": pl.String(),
    "timestamp": UTC_DATETIME,
    "kind": pl.String(),
    "count": pl.Int64(),
    "size": pl.Float64(),
    "item": pl.String(),
    "files": pl.Int64(),
    "opened": UTC_DATETIME,
    "merged_by": pl.String(),
    "reviewed": pl.Boolean(),
    "team": pl.String(),
    "source_file": pl.String(),
    "source_line": pl.Int64(),
}
"""``kind``: merged_pr, closed_ticket, defect, revert, incident or any kind of a generic export.
``count``: how many (1 per PR or ticket). ``size``: lines changed or story points, when known.
``files``, ``opened``, ``merged_by``, ``reviewed``: PR details when the export has them (files changed,
creation time, who merged, reviewed or approved by someone else), for the outcome-gaming detector; ``opened`` is
also a closed ticket's creation time (for the cycle time, :mod:`tokenaudit.outcomes.cycle_time`).
``item``: the natural key (``acme/payments#482``, ``PAY-311``) that makes overlapping exports count once.
``team``: a team the export itself names (deploy logs); otherwise the identity map's.
``source_line``: the line of a CSV/JSON Lines file, or the record number inside a JSON array."""


def conform_outcomes(frame: pl.LazyFrame) -> pl.LazyFrame:
    """Order and cast to :data:`OUTCOME_SCHEMA`, adding missing optional columns as nulls."""
    present = set(frame.collect_schema().names())
    return frame.select(
        [
            (pl.col(name) if name in present else pl.lit(None)).cast(dtype).alias(name)
            for name, dtype in OUTCOME_SCHEMA.items()
        ]
    )


def empty_outcomes() -> pl.DataFrame:
    """An outcome frame with no rows."""
    return pl.DataFrame(schema=OUTCOME_SCHEMA)
