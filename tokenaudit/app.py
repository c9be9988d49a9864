"""The application: what each command does, as functions a Python user can call without a command line.

A run is: settings (:func:`load_settings`, once) → a period (:func:`resolve_period`) → events (:func:`load`) → an
audit (:func:`audit`) → a document or the report's data. The CLI only translates options into these calls and
renders what they return::

    settings = load_settings(Path("policy.yaml"))
    loaded = load(["exports/"], settings, resolve_period(settings, since=dt.date(2026, 3, 1)))
    print(audit_document(audit(loaded, settings)).data["developers"][0])
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl

from tokenaudit import engines
from tokenaudit.audit import AuditResult, run_audit
from tokenaudit.documents import Document, period_headline, prices_document, totals_document
from tokenaudit.engines import Engine
from tokenaudit.errors import StrictRejectError, UnmatchedIdentityError, UsageError
from tokenaudit.evaluate import (
    Evaluation,
    RankingEvaluation,
    evaluate,
    evaluate_ranking,
    read_audit,
    read_labels,
    read_ranks,
)
from tokenaudit.identity import read_identity_csv, with_identities
from tokenaudit.ingest import LoadedEvents, narrow
from tokenaudit.metrics import cube_totals
from tokenaudit.outcomes.read import read_outcomes
from tokenaudit.page_data import report_data as page_data
from tokenaudit.periods import Period, parse_period, previous_period, zone_name
from tokenaudit.policy import Policy, load_policy
from tokenaudit.pricing import price_for
from tokenaudit.privacy import Scrubber, build_scrubber, pseudonym, withhold
from tokenaudit.readers.sources import EMPTY_FILE
from tokenaudit.shards import Reduction

__all__ = [
    "audit",
    "canonical_developer",
    "check_identities",
    "check_strict",
    "developers_at_or_above",
    "evaluate_files",
    "first_reject",
    "generated_at",
    "load",
    "load_settings",
    "missing_usage",
    "output_scrubber",
    "previous",
    "prices",
    "rejected_rows",
    "report_data",
    "resolve_period",
    "split_comparison",
    "totals_by",
    "with_previous",
]


def load_settings(policy: str | Path | None = None, identities: str | Path | None = None) -> Policy:
    """The policy (documented defaults without a file) with an ``alias,developer,team`` CSV merged in."""
    settings = load_policy(Path(policy) if policy is not None else None)
    return with_identities(settings, read_identity_csv(Path(identities))) if identities is not None else settings


def resolve_period(
    settings: Policy,
    *,
    period: str | None = None,
    since: dt.date | None = None,
    until: dt.date | None = None,
    timezone: str | None = None,
    compare_previous: bool = False,
    today: dt.date | None = None,
) -> Period:
    """The period to read from ``--period`` or ``--since/--until`` in ``timezone`` (default: the policy's).

    With ``compare_previous`` the period must be closed; the period of equal length before it is then found with
    :func:`tokenaudit.periods.previous_period`. ``today`` anchors ``last-week`` (default: today in the zone).
    """
    zone = _checked_zone(timezone) or settings.timezone
    if period is not None:
        if since or until:
            raise UsageError("--period cannot be combined with --since/--until")
        since, until = parse_period(period, today or dt.datetime.now(ZoneInfo(zone)).date())
    if since and until and since > until:
        msg = f"--since {since} is after --until {until}"
        raise UsageError(msg)
    if compare_previous and (since is None or until is None):
        raise UsageError("--compare-previous needs a period: --period, or both --since and --until")
    return Period(since=since, until=until, timezone=zone)


def _checked_zone(timezone: str | None) -> str | None:
    """``--tz``: an IANA zone name, or None when not given."""
    try:
        return zone_name(timezone) if timezone else None
    except ValueError as exc:
        raise UsageError(f"--tz: {exc}") from None


def load(
    inputs: Sequence[str],
    settings: Policy,
    period: Period,
    *,
    input_format: str | None = None,
    owner: str | None = None,
    memory_limit: int | None = None,
    engine: Engine = Engine.LOCAL,
    scheduler: str | None = None,
    detector_features: bool = False,
    keep_events: bool = True,
    reduction: Reduction | None = None,
) -> LoadedEvents:
    """Read, deduplicate, price and filter every input (see :func:`tokenaudit.ingest.load_events`), here or on a
    Dask cluster (:mod:`tokenaudit.engines`; ``detector_features``: the cluster computes them too, for an audit of
    the whole period loaded; without ``keep_events`` it sends back only their usage cube, for totals and audits, and
    the local engine past its memory budget what ``reduction`` asks for besides: a report's periods, ``explain``'s
    views)."""
    return engines.load(
        inputs,
        settings,
        period,
        engine=engine,
        scheduler=scheduler,
        input_format=input_format,
        developer=owner,
        memory_limit=memory_limit,
        detector_features=detector_features,
        keep_events=keep_events,
        reduction=reduction,
    )


def split_comparison(loaded: LoadedEvents, period: Period, settings: Policy) -> tuple[LoadedEvents, LoadedEvents]:
    """(``period``, the period of equal length before it) from a load over both (:func:`with_previous`): both are
    read in one pass and split in memory."""
    return narrow(loaded, period, settings), narrow(loaded, previous(period), settings)


def previous(period: Period) -> Period:
    """The period of equal length just before ``period`` (a closed one)."""
    assert period.since is not None and period.until is not None, "a comparison needs a closed period"
    first, last = previous_period(period.since, period.until)
    return replace(period, since=first, until=last)


def with_previous(period: Period) -> Period:
    """``period`` widened to start where the previous period of equal length starts."""
    assert period.since is not None and period.until is not None, "a comparison needs a closed period"
    return replace(period, since=previous_period(period.since, period.until)[0])


def audit(loaded: LoadedEvents, settings: Policy, outcomes: Sequence[str] | None = None) -> AuditResult:
    """The full audit of ``loaded``, with outcome exports read in the period's time zone."""
    read = read_outcomes(list(outcomes), settings.outcomes, loaded.period.timezone) if outcomes else None
    return run_audit(loaded, settings, read)


def totals_by(loaded: LoadedEvents, by: list[str]) -> Document[dict[str, Any]]:
    """The ``totals`` document: token totals grouped by ``by`` (keys of :data:`tokenaudit.metrics.GROUP_KEYS`)."""
    return totals_document(cube_totals(loaded.usage, by), by, loaded)


def report_data(
    result: AuditResult, previous: AuditResult | None = None, generated: str | None = None
) -> dict[str, Any]:
    """The report page's data (a superset of the audit document), stamped with when it was generated."""
    data = page_data(result, previous)
    data["report"]["generated_at"] = generated or generated_at()
    return data


def generated_at() -> str:
    """The run time for the report header; ``SOURCE_DATE_EPOCH`` pins it (reproducible builds, tests)."""
    pinned = os.environ.get("SOURCE_DATE_EPOCH")
    moment = dt.datetime.fromtimestamp(int(pinned), dt.UTC) if pinned else dt.datetime.now(dt.UTC)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def prices(models: list[str], settings: Policy) -> Document[dict[str, Any]]:
    """The price each model gets and where it comes from (the policy or the price data)."""
    return prices_document(models, [price_for(model, settings.pricing.models) for model in models])


def canonical_developer(settings: Policy, name: str) -> str:
    """The canonical id of ``name`` when the identity map knows it as an id or alias (any case), else ``name``."""
    wanted = name.strip().lower()
    for developer, identity in settings.identities.items():
        if wanted in (alias.strip().lower() for alias in (developer, *identity.aliases)):
            return developer
    return name


def evaluate_files(labels: Path, audit_json: Path, at_level: str) -> tuple[Evaluation, RankingEvaluation | None]:
    """Flags of an ``audit --format json`` output against planted labels, and its ranking when it has one."""
    truth = read_labels(labels)
    result = evaluate(truth, read_audit(audit_json), at_level)
    ranks = read_ranks(audit_json)
    ranking = evaluate_ranking(truth, ranks) if ranks["rank_adjusted"].is_not_null().any() else None
    return result, ranking


def check_identities(loaded: LoadedEvents, result: AuditResult | None = None) -> None:
    """``--strict-identities``: every identity in the usage and outcome data must be in the identity map."""
    unmatched = loaded.quality.unmatched_identities
    if result is not None and result.outcomes is not None:
        unmatched = sorted(set(unmatched) | set(result.outcomes.unmatched))
    if unmatched:
        shown = ", ".join(unmatched[:5]) + (f" and {len(unmatched) - 5} more" if len(unmatched) > 5 else "")
        msg = f"{len(unmatched)} identities are not in the identity map (--strict-identities): {shown}"
        raise UnmatchedIdentityError(msg)


def rejected_rows(loaded: LoadedEvents, result: AuditResult | None = None) -> pl.DataFrame:
    """Every rejected row, usage then outcome, with file, line and reason."""
    if result is not None and result.outcomes is not None:
        return pl.concat([loaded.rejects, result.outcomes.read.rejects])
    return loaded.rejects


def first_reject(rejected: pl.DataFrame, scrubber: Scrubber | None) -> str:
    """``file:line: reason`` of the first rejected row ('' without one). Under a scrubber the reason loses its
    quoted value: it is copied from a person's row."""
    if not rejected.height:
        return ""
    first = rejected.row(0, named=True)
    reason = first["reason"] if scrubber is None else withhold(first["reason"])
    line = f"{first['source_file']}:{first['source_line']}: {reason}"
    return scrubber.text(line) if scrubber is not None else line


def check_strict(loaded: LoadedEvents, rejected: pl.DataFrame, scrubber: Scrubber | None) -> None:
    """``--strict``: no row rejected, and no non-empty file in an input folder skipped."""
    if rejected.height:
        raise StrictRejectError(
            f"{rejected.height} rows rejected (--strict); first: {first_reject(rejected, scrubber)}"
        )
    lost = [(name, why) for name, why in loaded.quality.skipped_files if why != EMPTY_FILE]
    if lost:
        first_lost = f"{lost[0][0]}: {lost[0][1]}"
        first_lost = scrubber.text(first_lost) if scrubber is not None else first_lost
        raise StrictRejectError(f"{len(lost)} files in the input folders skipped (--strict); first: {first_lost}")


def missing_usage(result: AuditResult) -> bool:
    """The period has no usage, or usage on fewer than half its days: a broken export, not a quiet week."""
    return period_headline(result.loaded, result.summary["active_days"][0] or 0) is not None


def developers_at_or_above(result: AuditResult, levels: Sequence[str]) -> int:
    """How many developers have a risk level among ``levels``."""
    return result.developers.filter(pl.col("risk_level").is_in(list(levels))).height


def _input_paths(given: list[str], loaded: LoadedEvents, result: AuditResult | None) -> list[str]:
    """Every input path a diagnostic or output may spell: the files read first (so they are source-1, -2, …), then
    skipped files, files that only had rejects, outcome files and the paths as given."""
    quality = loaded.quality
    frames = [loaded.rejects]
    if result is not None and result.outcomes is not None:
        frames += [result.outcomes.read.outcomes, result.outcomes.read.rejects]
    return [
        *(source.file for source in quality.sources),
        *(name for name, _ in quality.skipped_files),
        *quality.encoding_repaired,
        *(name for frame in frames for name in frame["source_file"].unique(maintain_order=True).to_list()),
        *given,
    ]


def output_scrubber(
    key: bytes | None,
    teams_only: bool,
    settings: Policy,
    loaded: LoadedEvents,
    given: list[str],
    result: AuditResult | None = None,
) -> Scrubber | None:
    """The one place identities and input paths are replaced: keyed pseudonyms (``--pseudonymize``: ``key``) or,
    for ``--teams-only``, one constant label so that no diagnostic can name or tell apart a person; input paths
    (``given`` and every file read) become numbered ids. None when names may be shown."""
    if key is None and not teams_only:
        return None
    others = list(loaded.quality.unmatched_identities)
    if result is not None and result.outcomes is not None:
        others += result.outcomes.unmatched + result.outcomes.read.outcomes["developer"].unique().to_list()
    developers = loaded.usage["developer"].unique().to_list()
    paths = _input_paths(given, loaded, result)
    if key is None:
        return build_scrubber(settings, developers, others, lambda _: "(a developer)", paths)
    return build_scrubber(settings, developers, others, lambda name: pseudonym(name, key), paths)
