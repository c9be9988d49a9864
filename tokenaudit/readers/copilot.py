"""GitHub Copilot usage metrics, user level: the NDJSON reports behind ``copilot/metrics/reports/users-*``.

Field names and meanings follow GitHub's reference (docs.github.com, "Data available in Copilot usage
metrics" and "Example schema for Copilot usage metrics"). The REST endpoints (``GET
/orgs/{org}/copilot/metrics/reports/users-1-day?day=YYYY-MM-DD``, ``users-28-day/latest``, and the same
under ``/enterprises/{enterprise}``) answer ``{"download_links": [...], "report_day"}``; the linked files
are NDJSON, one record per user and day. Those files are what this reader takes (a JSON array of records,
as in GitHub's example schema, works too).

A record is one user-day: ``day`` (a calendar date, read as a UTC day), ``user_id`` and ``user_login``
(the developer is the GitHub login; map logins to people in the policy's identities). Copilot reports
**no tokens for IDE use**, so the IDE activity becomes one ``day`` row with zero tokens, a null cost and
no model (never a $0 cost: the usage is unmeasured, not free):

- ``requests`` = ``user_initiated_interaction_count``, the explicit prompts sent (completions shown
  while typing are not prompts and are not counted as requests);
- ``accepted`` = ``code_acceptance_activity_count`` and ``rejected`` = ``code_generation_activity_count``
  minus it (never below 0, since one generation can be accepted by several actions), so that accepted /
  (accepted + rejected) is GitHub's own acceptance rate, acceptances / generations.

The only token counts are in ``totals_by_cli.token_usage`` (Copilot CLI, which the docs say is
independent of every IDE field) and ``totals_by_copilot_app.token_usage`` (the Copilot app, same shape).
Each present block becomes its own ``day`` row (tool ``copilot-cli`` / ``copilot-app``) with
``prompt_tokens_sum`` as input and ``output_tokens_sum`` as output: GitHub does not split cached prompt
tokens out, so all prompt tokens count as uncached input, and no model is named, so the rows stay
unpriced. The CLI row's ``requests`` is ``totals_by_cli.request_count`` (prompts plus agentic
follow-up calls); the app row has none, because app activity is also folded into the IDE-side counts.

The breakdowns (``totals_by_ide``, ``totals_by_feature``, ``totals_by_language_feature``,
``totals_by_language_model``, ``totals_by_model_feature``) slice the same totals along overlapping
dimensions (the model ones cover chat only, not completions), so they are not added as rows: that would
count the same activity twice. An IDE row is kept when any of its counts is above zero, or when the
record has nothing else (a user-day GitHub reports as active).

Duplicates: ``copilot:<day>|<user_id, else login:<login, lower case>>|ide`` (``cli``, ``app``), so a day in
both a 1-day and a 28-day report, or in an organization and an enterprise report, counts once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import polars as pl

from tokenaudit.readers import coerce
from tokenaudit.readers.base import Detection, ReadContext, ReadResult
from tokenaudit.readers.pages import joined_key, read_records, text_fields
from tokenaudit.readers.parse import fields_as_json
from tokenaudit.readers.sources import Source
from tokenaudit.schema import conform

_COUNTS = ("user_initiated_interaction_count", "code_generation_activity_count", "code_acceptance_activity_count")
_SURFACES = {"cli": "totals_by_cli", "app": "totals_by_copilot_app"}
"""Row kind -> the record's block with ``token_usage``."""
_SURFACE = text_fields("request_count", token_usage=text_fields("prompt_tokens_sum", "output_tokens_sum"))
_RECORD = text_fields("day", "user_id", "user_login", *_COUNTS, **dict.fromkeys(_SURFACES.values(), _SURFACE))
_FIELDS = {
    "day": "day",
    "user_id": "user_id",
    "user_login": "user_login",
    **{name: name for name in _COUNTS},
    **{
        f"{kind}_{leaf}": f"{block}.{path}"
        for kind, block in _SURFACES.items()
        for leaf, path in (
            ("requests", "request_count"),
            ("prompt", "token_usage.prompt_tokens_sum"),
            ("output", "token_usage.output_tokens_sum"),
        )
    },
}
_SURFACE_LEAVES = ("requests", "prompt", "output")
_MARKERS = (
    '"user_initiated_interaction_count"',
    '"code_generation_activity_count"',
    '"code_acceptance_activity_count"',
    '"totals_by_ide"',
    '"totals_by_cli"',
)
_TOOLS = {"ide": "copilot", "cli": "copilot-cli", "app": "copilot-app"}


class CopilotUsageReader:
    """GitHub Copilot user-level usage metrics (NDJSON): one day row per user, plus CLI/app token rows."""

    name: ClassVar[str] = "copilot-usage"
    title: ClassVar[str] = "GitHub Copilot usage metrics, user level (users-1-day / users-28-day NDJSON reports)"
    exported_by: ClassVar[str] = (
        "gh api '/orgs/<org>/copilot/metrics/reports/users-1-day?day=YYYY-MM-DD' --jq '.download_links[]' "
        "(or users-28-day/latest, or /enterprises/<enterprise>/…), then curl -sL each link >> copilot-users.ndjson "
        "(the links expire soon; save the NDJSON files they point to)"
    )
    limits: ClassVar[str] = (
        "no tokens for IDE use (0 tokens, cost unpriced): day rows carry prompts, generations and acceptances "
        "only; tokens only for Copilot CLI and app use (prompt tokens not split into cached and uncached, no "
        "model, unpriced); GitHub logins, not emails (map them in the policy); UTC days, no request timing; "
        "users with IDE telemetry off are missing"
    )

    def detect(self, source: Source, context: ReadContext) -> Detection:
        """Records with ``user_login`` and Copilot's activity counts; the other report kinds say what they are."""
        text = source.head_text().lstrip()
        if not text.startswith(("{", "[")):
            return Detection(False, "not JSON")
        if '"download_links"' in text:
            return Detection(
                False,
                "a Copilot report answer (download_links): download the NDJSON files it links to and read those",
            )
        if '"day_totals"' in text:
            return Detection(
                False, "a Copilot organization/enterprise report has no per-user rows: export users-1-day instead"
            )
        if '"user_login"' in text and any(marker in text for marker in _MARKERS):
            return Detection(True)
        if '"user_login"' in text and '"slug"' in text:
            return Detection(False, "a Copilot user-teams report (team membership, not usage)")
        return Detection(False, "no Copilot usage records (user_login with user_initiated_interaction_count)")

    def read(self, sources: Sequence[Source], context: ReadContext) -> ReadResult:
        """IDE activity rows without tokens, and token rows for CLI and app use, per user and UTC day."""
        records, invalid = read_records(sources, _RECORD)
        flat = records.with_columns(
            **{f"has_{kind}": pl.col(block).is_not_null() for kind, block in _SURFACES.items()},
            **{f"{kind}_requests": pl.col(block).struct.field("request_count") for kind, block in _SURFACES.items()},
            **{
                f"{kind}_{leaf}": pl.col(block).struct.field("token_usage").struct.field(f"{leaf}_tokens_sum")
                for kind, block in _SURFACES.items()
                for leaf in ("prompt", "output")
            },
        )
        good, rejects = coerce.split_rejects(flat, _parsed(), raw=fields_as_json(_FIELDS))
        user_key = pl.coalesce(pl.col("user_id"), pl.lit("login:") + pl.col("developer").str.to_lowercase())
        days = good.with_columns(user_key=user_key)
        interactions, generated, accepted = (pl.col(name) for name in _COUNTS)
        ide_activity = (interactions + generated + accepted) > 0
        ide = days.filter(ide_activity | ~(pl.col("has_cli") | pl.col("has_app"))).with_columns(
            kind=pl.lit("ide"),
            requests=interactions,
            accepted=accepted,
            rejected=pl.max_horizontal(generated - accepted, pl.lit(0)),
            input_tokens=pl.lit(0),
            output_tokens=pl.lit(0),
        )
        surfaces = [
            days.filter(f"has_{kind}").with_columns(
                kind=pl.lit(kind),
                requests=pl.col(f"{kind}_requests") if kind == "cli" else pl.lit(None, pl.Int64),
                accepted=pl.lit(None, pl.Int64),
                rejected=pl.lit(None, pl.Int64),
                input_tokens=pl.col(f"{kind}_prompt"),
                output_tokens=pl.col(f"{kind}_output"),
            )
            for kind in _SURFACES
        ]
        events = (
            pl.concat([ide, *surfaces], how="diagonal_relaxed")
            .with_columns(
                cache_read_tokens=pl.lit(0),
                cache_write_tokens=pl.lit(0),
                tool=pl.col("kind").replace_strict(_TOOLS, return_dtype=pl.String),
                grain=pl.lit("day"),
                source_format=pl.lit(self.name),
            )
            .with_columns(joined_key("copilot", "timestamp", "user_key", "kind"))
        )
        collected, rejected = pl.collect_all([conform(events), rejects])
        return ReadResult(events=collected, rejects=pl.concat([invalid, rejected], how="vertical"))


def _parsed() -> dict[str, coerce.Parsed]:
    def count(name: str) -> coerce.Parsed:
        return coerce.count(name, field=_FIELDS[name], required=False)

    return {
        "timestamp": coerce.timestamp("day", "UTC", field="day"),
        "developer": coerce.text("user_login", required=True),
        "user_id": coerce.text("user_id"),
        **{name: count(name) for name in _COUNTS},
        **{f"has_{kind}": coerce.Parsed(pl.col(f"has_{kind}"), pl.lit(None, pl.String)) for kind in _SURFACES},
        **{f"{kind}_{leaf}": count(f"{kind}_{leaf}") for kind in _SURFACES for leaf in _SURFACE_LEAVES},
    }
