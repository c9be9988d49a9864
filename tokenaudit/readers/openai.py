"""OpenAI organization usage API, completions: ``GET /v1/organization/usage/completions`` pages.

A page is ``{"object": "page", "data": [bucket...], "has_more", "next_page"}``; a bucket is ``{"object":
"bucket", "start_time", "end_time", "results": [...]}`` with times in unix seconds (UTC). A file may hold
one page, JSON Lines of pages or JSON Lines of buckets (:mod:`tokenaudit.readers.pages`). Each
``organization.usage.completions.result`` becomes one row.

Tokens. OpenAI's ``input_tokens`` *includes* cached tokens and, in the current API, cache writes, so:
cache reads = ``input_cached_tokens``; cache writes = ``input_cache_write_tokens`` (30-minute retention)
+ ``input_cache_write_12h_tokens`` (both absent, i.e. 0, in older exports); uncached input =
``input_tokens`` minus both (a total smaller than its cached part is a reject). ``output_tokens`` is the
output. ``input_audio_tokens`` and ``output_audio_tokens`` are not added: the API reference defines
``input_tokens``/``output_tokens`` as totals across text, audio and image, and the audio counts as a
breakdown of them (adding them would count audio twice). Exports made when the reference still called
``input_tokens`` text-only therefore leave audio out, which is negligible for coding assistants.

The developer is the first present of ``user_id`` (map ``user-…`` ids to people in the policy's
identities), ``api_key_id`` and ``project_id``, else ``(ungrouped)``: group the export by ``user_id``
for per-person numbers. ``requests`` is ``num_model_requests``; the grain is ``day`` for ``1d`` buckets
and ``hour`` for ``1h`` and ``1m`` ones. The API reports no cost here, so the price table prices the
rows. Duplicates: ``openai-usage:<start>|<end>|<every group key>``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import ClassVar

import polars as pl

from tokenaudit.readers import coerce
from tokenaudit.readers.base import Detection, ReadContext, ReadResult
from tokenaudit.readers.pages import (
    bucket_grain,
    explode_records,
    first_present,
    joined_key,
    net_of,
    read_records,
    text_fields,
)
from tokenaudit.readers.parse import fields_as_json
from tokenaudit.readers.sources import Source
from tokenaudit.schema import conform

RESULT_OBJECT = "organization.usage.completions.result"
_GROUP_KEYS = ("project_id", "user_id", "api_key_id", "model", "batch", "service_tier", "api_source")
_COUNTS = (
    "input_tokens",
    "input_cached_tokens",
    "input_cache_write_tokens",
    "input_cache_write_12h_tokens",
    "output_tokens",
    "num_model_requests",
)
_BUCKET = text_fields("start_time", "end_time", results=pl.List(text_fields("object", *_COUNTS, *_GROUP_KEYS)))
_FIELDS = {
    "start_time": "start_time",
    "end_time": "end_time",
    **{name: f"results[].{name}" for name in ("object", *_COUNTS, *_GROUP_KEYS)},
}
_PAGE_OR_BUCKET = re.compile(r'"object"\s*:\s*"(?:page|bucket)"')
_OTHER_RESULT = re.compile(r'"organization\.(?:usage\.(?!completions\.)[a-z_]+|costs)\.result"')


class OpenAIUsageReader:
    """OpenAI completions usage pages: one row per bucket and group."""

    name: ClassVar[str] = "openai-usage"
    title: ClassVar[str] = "OpenAI organization usage API, completions (usage/completions pages)"
    exported_by: ClassVar[str] = (
        "curl 'https://api.openai.com/v1/organization/usage/completions?start_time=<unix s>&bucket_width=1d"
        '&group_by=user_id&group_by=model&limit=31\' -H "Authorization: Bearer $OPENAI_ADMIN_KEY" '
        "(follow next_page; save each page, or each page as one line)"
    )
    limits: ClassVar[str] = (
        "time buckets per group: no request timing, no cost (priced from the price table); no person unless "
        "grouped by user_id (map user ids to people in the policy); keys of service accounts carry no user; "
        "audio tokens are inside input/output totals, not added"
    )

    def detect(self, source: Source, context: ReadContext) -> Detection:
        """Completions usage results, or usage pages and buckets of no other usage kind."""
        text = source.head_text().lstrip()
        if not text.startswith(("{", "[")):
            return Detection(False, "not JSON")
        if RESULT_OBJECT in text:
            return Detection(True)
        if _PAGE_OR_BUCKET.search(text) and '"results"' in text and not _OTHER_RESULT.search(text):
            return Detection(True)
        return Detection(False, f"no OpenAI completions usage ({RESULT_OBJECT})")

    def read(self, sources: Sequence[Source], context: ReadContext) -> ReadResult:
        """Every result of every bucket, with uncached input = input_tokens minus cache reads and writes."""
        buckets, invalid = read_records(sources, _BUCKET)
        rows = explode_records(buckets, "results").with_columns(
            identity=first_present("user_id", "api_key_id", "project_id")
        )
        count = {name: coerce.count(name, field=_FIELDS[name], required=False) for name in _COUNTS}
        required = {name: coerce.count(name, field=_FIELDS[name]) for name in _COUNTS}
        kind = pl.col("object").str.strip_chars()
        parsed = {
            "timestamp": coerce.timestamp("start_time", "UTC", field="start_time"),
            "end_time": coerce.timestamp("end_time", "UTC", field="end_time"),
            "object": coerce.Parsed(
                kind,
                pl.when(kind.is_not_null() & (kind != RESULT_OBJECT)).then(
                    pl.lit(f"{_FIELDS['object']}: expected {RESULT_OBJECT}, got '") + kind + pl.lit("'")
                ),
            ),
            "developer": coerce.Parsed(pl.col("identity").fill_null("(ungrouped)"), pl.lit(None, pl.String)),
            **{key: coerce.text(key) for key in _GROUP_KEYS},
            "input_tokens": net_of(
                required["input_tokens"],
                [
                    count["input_cached_tokens"],
                    count["input_cache_write_tokens"],
                    count["input_cache_write_12h_tokens"],
                ],
                total_field=_FIELDS["input_tokens"],
                parts_field="input_cached_tokens + input_cache_write_tokens + input_cache_write_12h_tokens",
            ),
            "output_tokens": required["output_tokens"],
            "cache_read_tokens": count["input_cached_tokens"],
            "cache_write_30m": count["input_cache_write_tokens"],
            "cache_write_12h": count["input_cache_write_12h_tokens"],
            "requests": required["num_model_requests"],
        }
        good, rejects = coerce.split_rejects(rows, parsed, raw=fields_as_json(_FIELDS))
        events = good.with_columns(
            joined_key("openai-usage", "timestamp", "end_time", *_GROUP_KEYS),
            cache_write_tokens=pl.col("cache_write_30m") + pl.col("cache_write_12h"),
            grain=bucket_grain("timestamp", "end_time"),
            tool=pl.lit("openai-api"),
            source_format=pl.lit(self.name),
        )
        collected, rejected = pl.collect_all([conform(events), rejects])
        return ReadResult(events=collected, rejects=pl.concat([invalid, rejected], how="vertical"))
