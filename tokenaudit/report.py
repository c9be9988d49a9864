"""Plain, format-neutral views of results: the versioned JSON document and flat tables.

Renderers only lay these out; they never compute. ``SCHEMA_VERSION`` is the contract with downstream
scripts: fields may be added freely, but renaming or removing one requires bumping it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Final

import polars as pl

from tokenaudit import __version__
from tokenaudit.audit import AuditResult
from tokenaudit.detectors.base import Flag
from tokenaudit.ingest import DataQuality, LoadedEvents, Period

SCHEMA_VERSION: Final = 1
NOTICE: Final = (
    "Token counts are a billing unit, not a performance measure. Flags are prompts for a conversation, not verdicts."
)
_TOKEN_FIELDS: Final = {
    "input": "input_tokens",
    "output": "output_tokens",
    "cache_read": "cache_read_tokens",
    "cache_write": "cache_write_tokens",
    "total": "total_tokens",
}


@dataclass(frozen=True)
class TableView:
    """A titled table with footnotes: what table, CSV and Markdown renderers lay out."""

    title: str
    columns: list[str]
    rows: list[list[Any]]
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Document:
    """A rendered-to-be result: its JSON form and its table form."""

    data: dict[str, Any]
    table: TableView


def _iso(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z") if value else None


def _money(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def _quality_dict(quality: DataQuality) -> dict[str, Any]:
    return {
        "rows_read": quality.rows_read,
        "rows_rejected": quality.rows_rejected,
        "duplicates_dropped": quality.duplicates_dropped,
        "outside_period": quality.outside_period,
        "unpriced_models": quality.unpriced_models,
        "unmatched_identities": quality.unmatched_identities,
        "sources": [
            {
                "file": s.file,
                "format": s.format,
                "events": s.events,
                "first": _iso(s.first),
                "last": _iso(s.last),
            }
            for s in quality.sources
        ],
        "skipped_files": [{"file": name, "reason": why} for name, why in quality.skipped_files],
        "encoding_repaired": quality.encoding_repaired,
    }


def _plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def quality_notes(quality: DataQuality) -> list[str]:
    """One-line diagnostics for stderr and table footers."""
    notes = []
    if quality.rows_rejected:
        notes.append(f"{_plural(quality.rows_rejected, 'row')} rejected (see --rejects FILE)")
    if quality.duplicates_dropped:
        notes.append(f"{_plural(quality.duplicates_dropped, 'duplicate event')} dropped (counted once)")
    if quality.outside_period:
        notes.append(f"{_plural(quality.outside_period, 'event')} outside the period left out")
    if quality.unpriced_models:
        notes.append(f"unpriced models (cost left out, not $0): {', '.join(quality.unpriced_models)}")
    if quality.unmatched_identities:
        shown = ", ".join(quality.unmatched_identities[:5])
        more = f" and {len(quality.unmatched_identities) - 5} more" if len(quality.unmatched_identities) > 5 else ""
        notes.append(f"identities not in the policy map: {shown}{more}")
    if quality.encoding_repaired:
        notes.append(f"invalid UTF-8 replaced (numbers unaffected) in: {', '.join(quality.encoding_repaired)}")
    if quality.skipped_files:
        notes.append(f"{_plural(len(quality.skipped_files), 'file')} skipped (empty or not data; see data_quality)")
    return notes


def _tokens(row: dict[str, Any]) -> dict[str, int]:
    return {name: int(row[column]) for name, column in _TOKEN_FIELDS.items()}


def _cost_cell(cost: float | None, unpriced: int) -> str:
    if cost is None:
        return "unpriced"
    return f"${cost:,.2f}" + (" + unpriced" if unpriced else "")


def _period_dict(period: Period, summary: dict[str, Any]) -> dict[str, Any]:
    return {
        **period.as_dict(),
        "first_event": _iso(summary["first_event"]),
        "last_event": _iso(summary["last_event"]),
    }


def _flag_dict(flag: Flag) -> dict[str, Any]:
    return {
        "id": flag.id,
        "family": flag.family,
        "severity": flag.severity,
        "strength": flag.strength,
        "reason": flag.reason,
        "evidence": flag.evidence,
        "consider": list(flag.consider),
    }


RISK_ORDER: Final = ("high", "medium", "low", "none")


def _flag_notes(developers: list[dict[str, Any]]) -> list[str]:
    """Flagged developers, highest risk first, each flag with its reason."""
    ranked = sorted(
        (d for d in developers if d["flags"]),
        key=lambda d: (RISK_ORDER.index(d["risk"]["level"]), -d["risk"]["score"], d["developer"]),
    )
    return [
        f"{d['developer']} (risk {d['risk']['level']}) {f['id']} [{f['severity']}]: {f['reason']}"
        for d in ranked
        for f in d["flags"]
    ]


def audit_document(result: AuditResult) -> Document:
    """The ``audit`` output: stable JSON (``schema_version``) and the leaderboard table."""
    summary = result.summary.row(0, named=True)
    flags: dict[str, list[dict[str, Any]]] = {}
    for flag in result.findings.flags:
        flags.setdefault(flag.developer, []).append(_flag_dict(flag))
    skipped: dict[str, list[dict[str, str]]] = {}
    for row in result.findings.not_evaluated.sort("developer", "id").iter_rows(named=True):
        skipped.setdefault(row["developer"], []).append({"id": row["id"], "needs": row["needs"]})
    developers = [
        {
            "developer": row["developer"],
            "team": row["team"],
            "tokens": _tokens(row),
            "requests": row["requests"],
            "active_days": row["active_days"],
            "cost_usd": _money(row["cost_usd"]),
            "unpriced_tokens": row["unpriced_tokens"],
            "flags": flags.get(row["developer"], []),
            "risk": {
                "level": row["risk_level"],
                "score": row["risk_score"],
                "families": row["families"] or [],
            },
            "not_evaluated": skipped.get(row["developer"], []),
            "rank": {"tokens": row["rank_tokens"]},
        }
        for row in result.developers.iter_rows(named=True)
    ]
    quality = result.loaded.quality
    data = {
        "schema_version": SCHEMA_VERSION,
        "generator": {"name": "tokenaudit", "version": __version__},
        "notice": NOTICE,
        "period": _period_dict(result.loaded.period, summary),
        "summary": {
            "developers": summary["developers"],
            "teams": summary["teams"],
            "requests": summary["requests"],
            "active_days": summary["active_days"],
            "tokens": _tokens(summary),
            "cost_usd": _money(summary["cost_usd"]),
            "unpriced_tokens": summary["unpriced_tokens"],
            "risk_levels": {level: sum(d["risk"]["level"] == level for d in developers) for level in RISK_ORDER},
        },
        "developers": developers,
        "data_quality": _quality_dict(quality),
    }
    table = TableView(
        title="Token leaderboard (raw)",
        columns=[
            "rank",
            "developer",
            "team",
            "total",
            "input",
            "output",
            "cache read",
            "cache write",
            "requests",
            "active days",
            "cost",
            "risk",
        ],
        rows=[
            [
                d["rank"]["tokens"],
                d["developer"],
                d["team"] or "",
                *(d["tokens"][k] for k in ("total", "input", "output", "cache_read", "cache_write")),
                d["requests"],
                d["active_days"],
                _cost_cell(d["cost_usd"], d["unpriced_tokens"]),
                d["risk"]["level"],
            ]
            for d in developers
        ],
        notes=[NOTICE, *_flag_notes(developers), *quality_notes(quality)],
    )
    return Document(data=data, table=table)


def totals_document(frame: pl.DataFrame, by: list[str], loaded: LoadedEvents) -> Document:
    """The ``totals`` output: one entry per group."""
    quality = loaded.quality
    span = loaded.events.select(
        pl.col("timestamp").min().alias("first_event"), pl.col("timestamp").max().alias("last_event")
    ).row(0, named=True)
    groups = [
        {
            **{key: (row[key].isoformat() if isinstance(row[key], dt.date) else row[key]) for key in by},
            "tokens": _tokens(row),
            "requests": row["requests"],
            "active_days": row["active_days"],
            "cost_usd": _money(row["cost_usd"]),
            "unpriced_tokens": row["unpriced_tokens"],
        }
        for row in frame.iter_rows(named=True)
    ]
    data = {
        "schema_version": SCHEMA_VERSION,
        "generator": {"name": "tokenaudit", "version": __version__},
        "period": _period_dict(loaded.period, span),
        "by": by,
        "groups": groups,
        "data_quality": _quality_dict(quality),
    }
    table = TableView(
        title=f"Token totals by {', '.join(by)}",
        columns=[
            *by,
            "total",
            "input",
            "output",
            "cache read",
            "cache write",
            "requests",
            "active days",
            "cost",
        ],
        rows=[
            [
                *(g[key] if g[key] is not None else "" for key in by),
                *(g["tokens"][k] for k in ("total", "input", "output", "cache_read", "cache_write")),
                g["requests"],
                g["active_days"],
                _cost_cell(g["cost_usd"], g["unpriced_tokens"]),
            ]
            for g in groups
        ],
        notes=quality_notes(quality),
    )
    return Document(data=data, table=table)
