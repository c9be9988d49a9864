"""Cursor: the Admin API's usage events and daily usage, and the dashboard's usage CSV.

Field names and meanings follow Cursor's Admin API reference (cursor.com/docs/account/teams/admin-api).

**Usage events** (``POST https://api.cursor.com/teams/filtered-usage-events``): a saved answer is
``{"totalUsageEventsCount", "pagination", "usageEvents": [...], "period"}``; a file may hold one page (a
JSON document), several pages (JSON Lines) or the events alone (JSON Lines), told apart by content (see
:mod:`tokenaudit.readers.pages`). One event is one ``request`` row: ``timestamp`` (epoch milliseconds as
a string, UTC), ``userEmail`` (the developer), ``model``. Tokens come from ``tokenUsage``
(``inputTokens`` is the uncached input; ``outputTokens``, ``cacheReadTokens``, ``cacheWriteTokens``),
which the docs promise for token-billed calls (``isTokenBasedCall``); an event without ``tokenUsage``
(billed in request units) has no token counts and gets 0 tokens (none are invented) and still counts as
one request. A token-billed event without ``tokenUsage`` is a reject. ``requests`` is 1 per event:
``requestsCosts`` is a billing weight in request units, not a count.

Cost, in cents in the API and converted to dollars exactly (:func:`tokenaudit.readers.coerce.cents`):
``chargedCents``, which the docs define as the model cost plus the Cursor Token Fee and as the number
that reconciles with ``/teams/spend`` and the dashboard, for token- and request-billed events alike.
Exports without ``chargedCents`` get ``tokenUsage.totalCents`` less ``tokenUsage.discountPercentOff``
plus ``cursorTokenFee`` (cents, present only for teams with the fee), which reproduces ``chargedCents``
in the docs' examples. An event with neither has no cost (null, shown as unpriced), never $0. ``kind``
is a display label (formerly ``kindLabel``, localised in translated docs) and is not interpreted.

**Daily usage** (``POST /teams/daily-usage-data``): ``{"data": [...], "period", "pagination"}``, one
record per user and UTC day (``day`` as an ISO date, or ``date`` in epoch milliseconds), keyed by
``email``. There are no tokens and no cost: each record becomes one ``day`` row with zero tokens, a null
cost and no model, so its requests and decisions count without invented usage (and the price table
cannot turn its zero tokens into $0). ``requests`` = ``subscriptionIncludedReqs`` + ``usageBasedReqs`` +
``apiKeyReqs``, which the docs say count the raw usage events (the same events the usage-events reader
counts one by one); older exports without them fall back to ``composerRequests`` + ``chatRequests`` +
``agentRequests`` + ``cmdkUsages``. ``accepted``/``rejected`` = ``totalAccepts``/``totalRejects``
(suggested edits; Tab completions shown but not taken are not rejections). Records with ``isActive:
false`` (paginated answers list every member, idle ones with zeros) are skipped, so that they do not
count as active days. Duplicates: ``cursor-daily:<day>|<email, lower case>``.

**Dashboard usage CSV** (cursor.com dashboard, Usage, Export CSV; not documented by Cursor). Headers
seen: ``Date,User,Kind,Model,Max Mode,Input (w/ Cache Write),Input (w/o Cache Write),Cache Read,Output
Tokens,Total Tokens,Cost`` (team), the same without ``User`` (personal: the owner comes from
``--owner``), with ``Cloud Agent ID,Automation ID`` after ``Date``, and ``Cost ($)``, ``Cost to
you`` or ``Requests`` in place of ``Cost``. Columns are found by name. The four token columns are
disjoint and ``Total Tokens`` is their sum: ``Input (w/ Cache Write)`` holds the cache writes, ``Input
(w/o Cache Write)`` the uncached input, ``Cache Read`` the cache reads, ``Output Tokens`` the output (the
API's ``cacheWriteTokens``/``inputTokens`` for the same event). A row whose ``Total Tokens`` is not that
sum is a reject naming both numbers, because the split would be a guess. Numbers may be quoted. A row
with every token cell empty is one request with zero tokens; a row with only some empty is a reject.

**Errored requests.** A row or event whose ``Kind`` says Cursor did not charge a failed request
(``Errored, No Charge``) costs $0, whatever the price data says, and its tokens move from the token
columns to ``errored_tokens``: the request happened (it counts as one), but it is no usage to total or
rank. ``Cost`` (else ``Cost ($)``, else ``Cost to you``) is dollars, ``$`` allowed; a
label without digits (``Included``, ``Free``, ``-``) is no amount, so the price table prices the row.
``Requests`` is request units and is not read. ``Cloud Agent ID`` becomes the ``session_id``. The legacy
header ``Date,User,Kind,Max Mode,Model,Tokens,Cost ($)`` has only a total, and splitting it into input,
output and cache tokens would be invented, so each of its rows is a reject that says so.

Duplicates of events and CSV rows: ``cursor:<developer, lower case>|<epoch ms>|<model>|<input>|<output>|
<cache read>|<cache write>``. Cursor gives events no id; ``kind`` is left out of the key because its label
differs between exports, so an event in two overlapping pages, or in both a CSV and an API page, counts
once.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import ClassVar

import polars as pl

from tokenaudit.errors import InputError
from tokenaudit.readers import coerce
from tokenaudit.readers.base import Detection, ReadContext, ReadResult
from tokenaudit.readers.csvtext import csv_header, without_cut_off_row
from tokenaudit.readers.pages import first_present, joined_key, read_records, text_fields
from tokenaudit.readers.parse import csv_with_ragged_rows, fields_as_json
from tokenaudit.readers.sources import Source
from tokenaudit.schema import TOKEN_COLUMNS, conform, total_tokens

TOOL = "cursor"

# ------------------------------------------------------------------------------------------- usage events

_USAGE = ("inputTokens", "outputTokens", "cacheWriteTokens", "cacheReadTokens", "totalCents", "discountPercentOff")
_EVENT_FIELDS = ("timestamp", "userEmail", "model", "kind", "isTokenBasedCall", "chargedCents", "cursorTokenFee")
_EVENT = text_fields(*_EVENT_FIELDS, tokenUsage=text_fields(*_USAGE))
_EVENTS_CONTAINER = "usageEvents"
_EVENT_PATHS = {
    **{name: name for name in _EVENT_FIELDS},
    **{name: f"tokenUsage.{name}" for name in _USAGE},
}
_EVENT_MARKERS = ('"isTokenBasedCall"', '"requestsCosts"', '"tokenUsage"', '"chargedCents"')

# ------------------------------------------------------------------------------------------- daily usage

_PAID_BY = ("subscriptionIncludedReqs", "usageBasedReqs", "apiKeyReqs")
_FEATURES = ("composerRequests", "chatRequests", "agentRequests", "cmdkUsages")
_DECISIONS = ("totalAccepts", "totalRejects")
_DAILY_COUNTS = (*_PAID_BY, *_FEATURES, *_DECISIONS)
_DAILY = text_fields("day", "date", "email", "isActive", *_DAILY_COUNTS)
_DAILY_MARKERS = ('"totalTabsShown"', '"composerRequests"', '"cmdkUsages"', '"agentRequests"', '"totalAccepts"')
_EMPTY_DAILY_PAGE = re.compile(r'^\s*\{\s*"data"\s*:\s*\[\s*\]\s*,\s*"period"\s*:\s*\{\s*"startDate"')

# ------------------------------------------------------------------------------------------- dashboard CSV

_CSV_COLUMNS = {
    "Date": "date",
    "User": "user",
    "Kind": "kind",
    "Model": "model",
    "Cloud Agent ID": "agent",
    "Input (w/ Cache Write)": "cache_write",
    "Input (w/o Cache Write)": "input",
    "Cache Read": "cache_read",
    "Output Tokens": "output",
    "Total Tokens": "total",
    "Tokens": "tokens",
}
_COST_COLUMNS = ("Cost", "Cost ($)", "Cost to you")
_CSV_PARTS = {
    "input": "input_tokens",
    "output": "output_tokens",
    "cache_read": "cache_read_tokens",
    "cache_write": "cache_write_tokens",
}
"""Internal CSV column -> canonical token column."""
_CSV_FIELDS = {**{internal: name for name, internal in _CSV_COLUMNS.items()}, "cost": "Cost"}
_LEGACY_REASON = (
    "Tokens: the legacy export gives only a total, with no split into input, output and cache tokens; "
    "re-export the usage CSV from the dashboard (current exports have the split)"
)


def _is_json(source: Source) -> bool:
    return source.head_text().lstrip().startswith(("{", "["))


def _lower(column: str) -> pl.Expr:
    return pl.col(column).str.to_lowercase()


def _finish(events: pl.LazyFrame, rejects: pl.LazyFrame, *invalid: pl.DataFrame) -> ReadResult:
    """Conform and collect events and rejects together, with the rejects found before parsing first."""
    collected, rejected = pl.collect_all([conform(events), rejects])
    return ReadResult(events=collected, rejects=pl.concat([*invalid, rejected], how="vertical"))


_ERRORED = r"(?i)\berrored\b|no charge|not charged"
"""``kind`` of a request Cursor did not charge because it failed (``Errored, No Charge``)."""


def _request_rows(good: pl.LazyFrame, source_format: str) -> pl.LazyFrame:
    """Typed request rows of either source, with the tool, grain and the key both sources share.

    An errored, uncharged request costs $0 and its tokens move to ``errored_tokens``: it happened (one
    request), but it must not count as usage. The key is made from the tokens as reported, so its copies in
    the CSV and the API still meet.
    """
    errored = pl.col("kind").str.contains(_ERRORED).fill_null(value=False)
    return (
        good.with_columns(developer_key=_lower("developer"), epoch_ms=pl.col("timestamp").dt.epoch("ms"))
        .with_columns(
            joined_key(TOOL, "developer_key", "epoch_ms", "model", *TOKEN_COLUMNS),
            errored_tokens=pl.when(errored).then(total_tokens()),
            tool=pl.lit(TOOL),
            grain=pl.lit("request"),
            requests=pl.lit(1),
            source_format=pl.lit(source_format),
        )
        .with_columns(
            pl.when(errored).then(0.0).otherwise("cost_usd").alias("cost_usd"),
            *[pl.when(errored).then(0).otherwise(name).alias(name) for name in TOKEN_COLUMNS],
        )
    )


class CursorUsageEventsReader:
    """Cursor Admin API filtered usage events: one row per request."""

    name: ClassVar[str] = "cursor-events"
    title: ClassVar[str] = "Cursor Admin API usage events (teams/filtered-usage-events pages)"
    exported_by: ClassVar[str] = (
        'curl -X POST https://api.cursor.com/teams/filtered-usage-events -u "$CURSOR_ADMIN_KEY:" '
        '-H \'Content-Type: application/json\' -d \'{"startDate":<epoch ms>,"endDate":<epoch ms>,"page":1,'
        '"pageSize":100}\' (follow pagination.hasNextPage; save each page, or each page as one line)'
    )
    limits: ClassVar[str] = (
        "events billed in request units carry no token counts (0 tokens, 1 request); cost is Cursor's "
        "chargedCents (model cost plus Cursor Token Fee), which counts included usage too; no session or "
        "request ids; the dashboard CSV holds the same events: rows in both count once"
    )

    def detect(self, source: Source, context: ReadContext) -> Detection:
        """A page with ``usageEvents``, or events with ``userEmail`` and Cursor's billing fields."""
        if not _is_json(source):
            return Detection(False, "not JSON")
        text = source.head_text()
        if f'"{_EVENTS_CONTAINER}"' in text:
            return Detection(True)
        if '"userEmail"' in text and any(marker in text for marker in _EVENT_MARKERS):
            return Detection(True)
        if '"usageEventsDisplay"' in text:
            return Detection(
                False,
                "cursor.com's private dashboard answer (usageEventsDisplay, no user email): export the Admin "
                "API's teams/filtered-usage-events instead",
            )
        return Detection(False, "no Cursor usage events (usageEvents, or userEmail with tokenUsage)")

    def read(self, sources: Sequence[Source], context: ReadContext) -> ReadResult:
        """Every event of every page or line, tokens as reported, cost in dollars."""
        events, invalid = read_records(sources, _EVENT, container=_EVENTS_CONTAINER)
        usage = pl.col("tokenUsage")
        rows = events.with_columns(
            has_usage=usage.is_not_null(),
            **{name: usage.struct.field(name) for name in _USAGE},
        ).with_columns(
            # No tokenUsage: a call billed in request units, which reports no tokens (0, not invented).
            **{name: pl.when("has_usage").then(name).otherwise(pl.lit("0")) for name in _USAGE[:4]}
        )
        good, rejects = coerce.split_rejects(rows, _event_parsed(), raw=fields_as_json(_EVENT_PATHS))
        model_cost = pl.col("total_cents") * (1 - pl.col("discount").fill_null(0.0) / 100)
        priced = good.with_columns(cost_usd=pl.coalesce("charged", model_cost + pl.col("fee").fill_null(0.0)))
        return _finish(_request_rows(priced, self.name), rejects, invalid)


def _event_parsed() -> dict[str, coerce.Parsed]:
    token_based = pl.col("isTokenBasedCall").str.strip_chars().str.to_lowercase() == "true"

    def usage(name: str, *, required: bool) -> coerce.Parsed:
        return coerce.count(name, field=f"tokenUsage.{name}", required=required)

    return {
        "timestamp": coerce.timestamp("timestamp", "UTC", field="timestamp"),
        "developer": coerce.text("userEmail", field="userEmail", required=True),
        "model": coerce.text("model"),
        "kind": coerce.text("kind"),
        "token_based": coerce.Parsed(
            token_based,
            pl.when(token_based & ~pl.col("has_usage")).then(
                pl.lit("tokenUsage: missing although isTokenBasedCall is true")
            ),
        ),
        "input_tokens": usage("inputTokens", required=True),
        "output_tokens": usage("outputTokens", required=True),
        "cache_write_tokens": usage("cacheWriteTokens", required=False),
        "cache_read_tokens": usage("cacheReadTokens", required=False),
        "charged": coerce.cents("chargedCents"),
        "total_cents": coerce.cents("totalCents", field="tokenUsage.totalCents"),
        "discount": coerce.money("discountPercentOff", field="tokenUsage.discountPercentOff"),
        "fee": coerce.cents("cursorTokenFee"),
    }


class CursorDailyUsageReader:
    """Cursor Admin API daily usage: one zero-token row per user and day, for requests and decisions."""

    name: ClassVar[str] = "cursor-daily"
    title: ClassVar[str] = "Cursor Admin API daily usage (teams/daily-usage-data)"
    exported_by: ClassVar[str] = (
        'curl -X POST https://api.cursor.com/teams/daily-usage-data -u "$CURSOR_ADMIN_KEY:" '
        "-H 'Content-Type: application/json' -d '{\"startDate\":<epoch ms>,\"endDate\":<epoch ms>}' "
        "(at most 30 days per call; save each answer, or each as one line)"
    )
    limits: ClassVar[str] = (
        "no tokens and no cost (0 tokens, cost unpriced): rows carry request counts and accept/reject "
        "decisions only (read the usage events for tokens); UTC days, no request timing; the usage events "
        "count the same requests again, so request totals double when both are read"
    )

    def detect(self, source: Source, context: ReadContext) -> Detection:
        """Records with ``email`` and Cursor's daily counters, or an empty ``{"data": [], "period"}``."""
        if not _is_json(source):
            return Detection(False, "not JSON")
        text = source.head_text()
        if f'"{_EVENTS_CONTAINER}"' in text:
            return Detection(False, "Cursor usage events, not daily usage")
        if '"email"' in text and any(marker in text for marker in _DAILY_MARKERS):
            return Detection(True)
        if _EMPTY_DAILY_PAGE.match(text):
            return Detection(True)  # a Cursor daily-usage answer for a period without activity
        return Detection(False, "no Cursor daily usage (email with totalTabsShown/composerRequests)")

    def read(self, sources: Sequence[Source], context: ReadContext) -> ReadResult:
        """Active user-days: zero tokens, requests counted, suggested edits accepted and rejected."""
        records, invalid = read_records(sources, _DAILY)
        active = records.filter(pl.col("isActive").str.strip_chars().str.to_lowercase().fill_null("") != "false")
        rows = active.with_columns(when=first_present("day", "date"), paid_by=_any_present(_PAID_BY))
        parsed = {
            "timestamp": coerce.timestamp("when", "UTC", field="day (or date)"),
            "developer": coerce.text("email", required=True),
            "paid_by": coerce.Parsed(pl.col("paid_by"), pl.lit(None, pl.String)),
            **{name: coerce.count(name, required=False) for name in _DAILY_COUNTS},
        }
        raw = fields_as_json({name: name for name in ("day", "date", "email", *_DAILY_COUNTS)})
        good, rejects = coerce.split_rejects(rows, parsed, raw=raw)
        events = good.with_columns(
            developer_key=_lower("developer"),
            requests=pl.when("paid_by").then(pl.sum_horizontal(_PAID_BY)).otherwise(pl.sum_horizontal(_FEATURES)),
            accepted=pl.col("totalAccepts"),
            rejected=pl.col("totalRejects"),
            **{name: pl.lit(0) for name in TOKEN_COLUMNS},
            tool=pl.lit(TOOL),
            grain=pl.lit("day"),
            source_format=pl.lit(self.name),
        ).with_columns(joined_key("cursor-daily", "timestamp", "developer_key"))
        return _finish(events, rejects, invalid)


def _any_present(columns: Sequence[str]) -> pl.Expr:
    return pl.any_horizontal([pl.col(name).str.strip_chars().fill_null("") != "" for name in columns])


def _csv_rows(source: Source, header: list[str], developer: str | None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """One export's known columns under internal names (absent ones null), lines numbered from 2."""
    missing = [name for name in ("Date", "Model") if name not in header]
    if missing or not {"Input (w/o Cache Write)", "Tokens"} & set(header):
        shown = repr(missing[0]) if missing else "'Input (w/o Cache Write)'"
        msg = f"{source.name}: missing Cursor usage CSV column {shown} (found: {', '.join(header) or 'none'})"
        raise InputError(msg)
    wanted = {name: internal for name, internal in _CSV_COLUMNS.items() if name in header}
    cost = next((name for name in _COST_COLUMNS if name in header), None)
    if cost:
        wanted[cost] = "cost"
    whole, rejects = without_cut_off_row(source, len(header))
    try:
        frame = (
            pl.scan_csv(whole.payload(), infer_schema=False, encoding="utf8-lossy", missing_columns="insert")
            .select(list(wanted))
            .with_columns(source_file=pl.lit(source.name), source_line=pl.int_range(2, pl.len() + 2, dtype=pl.Int64))
            .collect()
        )
    except pl.exceptions.ComputeError:
        # A quote left open mid-file: Python's csv module reads on, and rows of the wrong width become rejects.
        frame, ragged = csv_with_ragged_rows(whole, ",", list(wanted))
        rejects = pl.concat([rejects, ragged], how="vertical")
    frame = frame.rename(wanted).with_columns(
        *[pl.lit(None, pl.String).alias(name) for name in _CSV_FIELDS if name not in wanted.values()],
        legacy=pl.lit("input" not in wanted.values()),
    )
    if developer is not None:
        frame = frame.with_columns(user=pl.lit(developer))
    return frame.select("source_file", "source_line", "legacy", *_CSV_FIELDS), rejects


class CursorCsvReader:
    """The cursor.com dashboard's usage CSV export: one row per request."""

    name: ClassVar[str] = "cursor-csv"
    title: ClassVar[str] = "Cursor dashboard usage CSV export"
    exported_by: ClassVar[str] = (
        "cursor.com dashboard, Usage, Export CSV (team admins get a User column; a personal export has none: "
        "pass --owner)"
    )
    limits: ClassVar[str] = (
        "format not documented by Cursor (headers vary by export generation); the legacy export with a single "
        "Tokens column cannot be split and is rejected; included usage may have no dollar amount (priced from "
        "the price data); `Errored, No Charge` rows cost $0 and their tokens go to `errored_tokens`, not the "
        "totals; the API usage events hold the same requests: rows in both count once"
    )

    def detect(self, source: Source, context: ReadContext) -> Detection:
        """A CSV header with ``Date``, ``Model`` and Cursor's token columns (or the legacy ``Tokens``)."""
        if _is_json(source):
            return Detection(False, "not a CSV")
        header = set(csv_header(source))
        if {"Date", "Model"} <= header and ("Input (w/o Cache Write)" in header or {"Tokens", "Kind"} <= header):
            return Detection(True)
        return Detection(False, "no Cursor usage CSV header (Date, Model, Input (w/o Cache Write))")

    def read(self, sources: Sequence[Source], context: ReadContext) -> ReadResult:
        """Every row of every export; the four token columns must add up to Total Tokens."""
        frames, invalid = [], []
        for source in sources:
            header = csv_header(source)
            developer = None
            if "User" not in header:
                if not context.developer:
                    msg = (
                        f"{source.name}: a personal Cursor usage export has no User column; "
                        "pass --owner NAME to say whose it is"
                    )
                    raise InputError(msg)
                developer = context.developer
            frame, unreadable = _csv_rows(source, header, developer)
            frames.append(frame)
            invalid.append(unreadable)
        rows = (
            pl.concat(frames, how="vertical")
            .lazy()
            .with_columns(cost=pl.when(pl.col("cost").str.contains(r"\d")).then(pl.col("cost")))
        )
        good, rejects = coerce.split_rejects(rows, _csv_parsed(context), raw=fields_as_json(_CSV_FIELDS))
        return _finish(_request_rows(good, self.name), rejects, *invalid)


def _csv_parsed(context: ReadContext) -> dict[str, coerce.Parsed]:
    parts = {internal: coerce.count(internal, field=_CSV_FIELDS[internal], required=False) for internal in _CSV_PARTS}
    total = coerce.count("total", field="Total Tokens", required=False)
    columns = (*_CSV_PARTS, "total")
    empty = {name: pl.col(name).fill_null("").str.strip_chars() == "" for name in columns}
    cells = list(empty.values())
    first_empty = pl.coalesce([pl.when(blank).then(pl.lit(_CSV_FIELDS[name])) for name, blank in empty.items()])
    summed = pl.sum_horizontal([part.value for part in parts.values()])
    consistent = (
        pl.when(pl.any_horizontal(cells) & ~pl.all_horizontal(cells))
        .then(first_empty + pl.lit(": missing while other token columns have values (row cut short?)"))
        .when(summed != total.value)
        .then(pl.format("Total Tokens: {} is not the sum of the four token columns ({})", total.value, summed))
    )
    return {
        "legacy": coerce.Parsed(pl.col("legacy"), pl.when("legacy").then(pl.lit(_LEGACY_REASON))),
        "timestamp": coerce.timestamp("date", context.timezone, field="Date"),
        "developer": coerce.text("user", field="User", required=True),
        "model": coerce.text("model"),
        "kind": coerce.text("kind"),
        "session_id": coerce.text("agent"),
        **{canonical: parts[internal] for internal, canonical in _CSV_PARTS.items()},
        "total": coerce.Parsed(total.value, pl.coalesce(total.problem, consistent)),
        "cost_usd": coerce.money("cost", field="Cost"),
    }
