"""Deployments and failed deployments, for change failure rate: GitHub deployments/statuses JSON or a deploy log CSV.

Every production deployment is a ``deployment`` outcome; one that failed is also a ``failed_deployment``.
Change failure rate (failed / deployments) and incidents per deployment are then team figures (DORA's
change failure rate), and both kinds can be weighted in the policy like any outcome (no default weight).

- GitHub: ``gh api --paginate repos/OWNER/REPO/deployments`` (records with ``statuses_url``) and, for each
  deployment, ``gh api repos/OWNER/REPO/deployments/ID/statuses`` (records with ``deployment_url``), in any
  files. A deployment's outcome is its latest status: ``failure`` or ``error`` is failed, anything else
  (success, inactive, in progress, none) is not. Only production deployments count
  (``production_environment`` true, or the environment named ``production`` or ``prod``); the others are
  counted as skipped. The person is the deployment's ``creator.login``: a bot creator (``github-actions[bot]``)
  credits a team only through an ``agents:`` rule. Key: the deployment's API ``url``.
- CSV (or TSV/JSONL/Parquet) deploy log: ``deployed_at`` (or ``timestamp``/``date``), ``status``
  (success/succeeded/deployed/ok, or failed/failure/error/rolled_back/rollback), optional ``team``,
  ``developer``, ``service`` and ``deploy_id``. A row's ``team`` counts even without a developer. Key:
  ``deploy_id``, else the row's values.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import polars as pl

from tokenaudit.outcomes.base import OutcomeContext, OutcomeRead
from tokenaudit.outcomes.schema import conform_outcomes
from tokenaudit.readers import coerce
from tokenaudit.readers.base import Detection
from tokenaudit.readers.pages import read_records, text_fields
from tokenaudit.readers.parse import file_header, file_kind
from tokenaudit.readers.sources import Source
from tokenaudit.schema import empty_rejects

_FAILED = ("failed", "failure", "error", "rolled_back", "rollback", "rolledback")
_SUCCEEDED = ("success", "succeeded", "successful", "deployed", "ok")
_RECORD = text_fields(
    "url",
    "created_at",
    "environment",
    "production_environment",
    "statuses_url",
    "state",
    "deployment_url",
    "id",
    creator=text_fields("login"),
)
_LOG_COLUMNS = ("deployed_at", "timestamp", "date", "status", "team", "developer", "service", "deploy_id")


def _rows(
    deploys: pl.LazyFrame, invalid: pl.DataFrame, raw: pl.Expr, timezone: str = "UTC"
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Parse ``when`` and require a known ``state``; one ``deployment`` row each, plus ``failed_deployment``."""
    state = pl.col("state").str.strip_chars().str.to_lowercase()
    parsed = {
        "timestamp": coerce.timestamp("when", timezone, field="time"),
        "developer": coerce.text("developer"),
        "team": coerce.text("team"),
        "item": coerce.Parsed(pl.col("item"), pl.lit(None, pl.String)),
        "failed": coerce.Parsed(
            state.is_in(_FAILED),
            pl.when(state.is_null() | (state == ""))
            .then(pl.lit("status: missing; expected success or failed"))
            .when(~state.is_in([*_FAILED, *_SUCCEEDED, "unknown"]))
            .then(
                pl.lit("status: expected success or failed (failure, error, rolled_back), got '")
                + pl.col("state")
                + "'"
            ),
        ),
    }
    good, rejects = coerce.parse_rows(deploys, parsed, raw=raw)
    unique = good.unique("item", keep="last", maintain_order=True)
    both = pl.concat(
        [
            unique.with_columns(kind=pl.lit("deployment")),
            unique.filter("failed").with_columns(kind=pl.lit("failed_deployment"), item="failed:" + pl.col("item")),
        ]
    )
    outcomes = conform_outcomes(both.lazy().with_columns(count=pl.lit(1))).collect()
    return outcomes, pl.concat([invalid, rejects], how="vertical")


def read_github(sources: Sequence[Source], timezone: str) -> OutcomeRead:
    """Production deployments with their latest status, from deployment and status records in any files."""
    records, invalid = read_records(sources, _RECORD)
    frame = records.collect()
    statuses = (
        frame.filter(pl.col("deployment_url").is_not_null())
        .sort("created_at", pl.col("id").cast(pl.Int64, strict=False))
        .group_by("deployment_url")
        .agg(pl.col("state").last())
    )
    deploys = frame.filter(pl.col("statuses_url").is_not_null()).drop("state")
    production = (pl.col("production_environment").str.to_lowercase() == "true") | pl.col(
        "environment"
    ).str.to_lowercase().is_in(["production", "prod"])
    counted = deploys.filter(production.fill_null(value=False))
    joined = counted.join(statuses, left_on="url", right_on="deployment_url", how="left").with_columns(
        when=pl.col("created_at"),
        developer=pl.col("creator").struct.field("login"),
        team=pl.lit(None, pl.String),
        item=pl.col("url"),
        state=pl.col("state").fill_null("unknown"),
    )
    outcomes, rejects = _rows(joined.lazy(), invalid, pl.col("url").fill_null(""), timezone)
    skipped = deploys.unique("url").height - counted.unique("url").height
    return OutcomeRead(outcomes, rejects, non_production_deployments=skipped)


def _log_frame(source: Source) -> pl.DataFrame:
    kind = file_kind(source)
    if kind == "jsonl":
        frame = pl.read_ndjson(source.payload(), infer_schema_length=None).cast(pl.String)
    elif kind == "parquet":
        frame = pl.read_parquet(source.payload()).cast(pl.String)
    else:
        separator = "\t" if kind == "tsv" else ","
        frame = pl.read_csv(source.payload(), infer_schema=False, separator=separator, encoding="utf8-lossy")
    frame = frame.rename({name: name.removeprefix("\ufeff").strip() for name in frame.columns})
    return frame.select(
        *[(pl.col(name) if name in frame.columns else pl.lit(None, pl.String)).alias(name) for name in _LOG_COLUMNS],
        pl.lit(source.name).alias("source_file"),
        pl.int_range(2 if kind in {"csv", "tsv"} else 1, frame.height + (2 if kind in {"csv", "tsv"} else 1)).alias(
            "source_line"
        ),
    )


def read_log(sources: Sequence[Source], timezone: str) -> OutcomeRead:
    """Deployments from deploy-log tables, keyed by ``deploy_id`` or by their values; zone-less times local."""
    raw = pl.concat([_log_frame(source) for source in sources], how="vertical")
    when = pl.coalesce("deployed_at", "timestamp", "date")
    row_key = pl.concat_str([when, "service", "team", "developer", "status"], separator="|", ignore_nulls=True)
    deploys = raw.lazy().with_columns(
        when=when,
        state=pl.col("status"),
        item=pl.lit("deploy:") + pl.coalesce("deploy_id", row_key),
        source_line=pl.col("source_line").cast(pl.Int64),
    )
    outcomes, rejects = _rows(deploys, empty_rejects(), pl.concat_str([when, "status"], separator=","), timezone)
    return OutcomeRead(outcomes, rejects)


class GitHubDeploymentsReader:
    """Production deployments and their failures; other environments are counted, not read."""

    name: ClassVar[str] = "github_deployments"
    title: ClassVar[str] = "GitHub deployments and deployment statuses (REST JSON)"
    exported_by: ClassVar[str] = (
        "gh api --paginate 'repos/OWNER/REPO/deployments?per_page=100' > deployments.json; for each id: "
        "gh api 'repos/OWNER/REPO/deployments/ID/statuses' >> statuses.json"
    )

    def detect(self, source: Source, context: OutcomeContext) -> Detection:
        """GitHub deployment records (``statuses_url``) or deployment status records (``deployment_url``)."""
        text = source.head_text().lstrip()
        return Detection(
            text.startswith("[") and ('"statuses_url"' in text or ('"deployment_url"' in text and '"state"' in text))
        )

    def read(self, sources: Sequence[Source], context: OutcomeContext) -> OutcomeRead:
        return read_github(sources, context.timezone)


class DeployLogReader:
    """Deployments from a CD tool's log table."""

    name: ClassVar[str] = "deploy_log"
    title: ClassVar[str] = "Deploy log (CSV/TSV/JSONL/Parquet)"
    exported_by: ClassVar[str] = "any CD tool: columns deployed_at,status[,team,developer,service,deploy_id]"

    def detect(self, source: Source, context: OutcomeContext) -> Detection:
        """A table with ``status`` and ``deployed_at`` (or ``deploy_id`` with a time column)."""
        header = {name.strip() for name in file_header(source, file_kind(source))}
        timed = bool({"deployed_at", "timestamp", "date"} & header)
        return Detection("status" in header and ("deployed_at" in header or ("deploy_id" in header and timed)))

    def read(self, sources: Sequence[Source], context: OutcomeContext) -> OutcomeRead:
        return read_log(sources, context.timezone)
