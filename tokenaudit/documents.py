"""Plain, format-neutral views of results: the versioned JSON document and flat tables.

Renderers only lay these out; they never compute. ``SCHEMA_VERSION`` is the contract with downstream
scripts: fields may be added freely, but renaming or removing one requires bumping it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Final, Generic, NotRequired, TypedDict, TypeVar

import polars as pl

from tokenaudit import __version__
from tokenaudit.audit import AuditResult, team_rollups
from tokenaudit.detectors import coverage_note
from tokenaudit.detectors.base import Flag
from tokenaudit.ingest import DataQuality, LoadedEvents, Period
from tokenaudit.numbers import hours_or_days, readable
from tokenaudit.outcomes.cycle_time import CYCLE_COUNTS, CYCLE_FIELDS
from tokenaudit.pricing import SOURCE_PACKAGE, AppliedPrice, data_version
from tokenaudit.readers import UNRECOGNISED
from tokenaudit.readers.sources import EMPTY_FILE, NOT_DATA
from tokenaudit.risk import MOST_SEVERE_FIRST

SCHEMA_VERSION: Final = 1
NOTICE: Final = (
    "Token counts are a billing unit, not a performance measure. Flags are prompts for a conversation, not verdicts."
)


_USAGE_COLUMNS: Final = ("total", "input", "output", "cache read", "cache write", "requests", "active days", "cost")
_OPTIONAL_USAGE: Final = ("cache write", "cache read", "input", "output", "active days", "requests")
"""Usage columns a narrow terminal drops first: the parts of the total before the total itself."""

# Schema version 1 of the documents read back by field (the audit and rank documents). A field added to the JSON is
# added here too, so mypy checks every place that builds or reads it; key order is the builders', not these classes'.


class Tokens(TypedDict):
    input: int
    output: int
    cache_read: int
    cache_write: int
    total: int


class Usage(TypedDict):
    """Tokens, requests, days and cost of one developer or group."""

    tokens: Tokens
    requests: int
    active_days: int
    cost_usd: float | None
    unpriced_tokens: int
    errored_tokens: int


class FlagEntry(TypedDict):
    id: str
    family: str
    severity: str
    strength: float
    reason: str
    evidence: dict[str, Any]
    consider: list[str]


class NotEvaluated(TypedDict):
    id: str
    needs: str


class Coverage(TypedDict):
    """Share of a developer's tokens each kind of detector could examine."""

    timing: float | None
    sessions: float | None
    prompts: float | None
    unexamined_sources: list[str]


class Risk(TypedDict):
    level: str
    score: float
    families: list[str]
    capped_by_outcomes: bool
    cap_bound: str | None
    coverage: Coverage
    note: str | None


class Rank(TypedDict):
    """``tokens`` always; the adjusted rank, its interval and the shift only when outcomes ranked anybody."""

    tokens: int
    adjusted: NotRequired[int | None]
    adjusted_interval: NotRequired[list[int] | None]
    shift: NotRequired[int | None]
    bottom_quarter_chance: NotRequired[float | None]
    placement: NotRequired[str | None]
    board_row: NotRequired[int | None]


class Yield(TypedDict):
    mean: float | None
    p05: float | None
    p95: float | None


class Presence(TypedDict):
    share: float | None
    starts: str | None
    ends: str | None
    fte: float | None
    on_call_days: NotRequired[int | None]
    tenure_basis: str | None
    fte_basis: str | None


OutcomeFields = TypedDict(
    "OutcomeFields",
    {
        "outcomes": dict[str, float],
        "exposure_mtok": float,
        "tokens_in_full": bool | None,
        "tokens_in_full_share": float | None,
        "yield": Yield,
        "ranking_status": str,
        "cycle_time": dict[str, float | None],
        "presence": Presence,
    },
    total=False,
)
"""A developer's outcome side, present only when outcomes were given (``yield`` is a keyword, hence this form)."""


class DeveloperEntry(Usage, OutcomeFields):
    """One developer of the audit document."""

    developer: str
    team: str | None
    flags: list[FlagEntry]
    risk: Risk
    not_evaluated: list[NotEvaluated]
    rank: Rank


class Generator(TypedDict):
    name: str
    version: str


class Summary(TypedDict):
    developers: int
    teams: int
    requests: int
    active_days: int
    tokens: Tokens
    cost_usd: float | None
    unpriced_tokens: int
    errored_tokens: int
    risk_levels: dict[str, int]


class AuditData(TypedDict):
    """The ``audit`` document (JSON)."""

    schema_version: int
    generator: Generator
    notice: str
    period: dict[str, str | None]
    summary: Summary
    developers: list[DeveloperEntry]
    data_quality: dict[str, Any]
    warnings: NotRequired[list[str]]
    ranking: NotRequired[dict[str, Any]]


class RawRank(TypedDict):
    rank: int
    developer: str
    tokens: int


AdjustedRank = TypedDict(
    "AdjustedRank",
    {
        "rank": int | None,
        "developer": str,
        "interval": list[int] | None,
        "shift": int | None,
        "yield": float | None,
        "outcome_score": float,
    },
)


NotPlaced = TypedDict("NotPlaced", {"developer": str, "interval": list[int] | None, "yield": float | None})
"""A developer the board's order puts in the bottom quarter, but too few posterior draws do (uncertain)."""


class RankData(TypedDict):
    """The ``rank`` document (JSON) when outcomes ranked anybody."""

    schema_version: int
    generator: Generator
    notice: str
    period: dict[str, str | None]
    ranking: dict[str, Any] | None
    raw: list[RawRank]
    adjusted: list[AdjustedRank]
    insufficient_data: list[str]
    not_placed: list[NotPlaced]
    data_quality: dict[str, Any]
    warnings: NotRequired[list[str]]


def _usage_record(entry: Mapping[str, Any]) -> dict[str, Any]:
    """Tokens, requests, days and cost of one developer or group as flat CSV fields."""
    return {
        "total_tokens": entry["tokens"]["total"],
        **{f"{name}_tokens": value for name, value in entry["tokens"].items()},
        "requests": entry["requests"],
        "active_days": entry["active_days"],
        "cost_usd": entry["cost_usd"],
        "unpriced_tokens": entry["unpriced_tokens"],
        "errored_tokens": entry["errored_tokens"],
    }


def developer_record(developer: DeveloperEntry) -> dict[str, Any]:
    """One developer of an audit document as a flat CSV row: every per-developer field of the JSON."""
    rank, risk = developer["rank"], developer["risk"]
    record = {
        "developer": developer["developer"],
        "team": developer["team"],
        "rank_tokens": rank["tokens"],
        **_usage_record(developer),
        "risk_level": risk["level"],
        "risk_score": risk["score"],
        "risk_families": ";".join(risk["families"]),
        "capped_by_outcomes": risk["capped_by_outcomes"],
        "cap_bound": risk.get("cap_bound"),
        "flags": ";".join(flag["id"] for flag in developer["flags"]),
        "not_evaluated": ";".join(item["id"] for item in developer["not_evaluated"]),
    }
    if "adjusted" not in rank:
        return record
    low, high = rank["adjusted_interval"] or (None, None)
    outcomes = developer["outcomes"]
    return record | {
        "rank_adjusted": rank["adjusted"],
        "interval_low": low,
        "interval_high": high,
        "shift": rank["shift"],
        "ranking_status": developer["ranking_status"],
        "placement": rank.get("placement"),
        "bottom_quarter_chance": rank.get("bottom_quarter_chance"),
        "outcome_score": outcomes["score"],
        **{f"outcome_{kind}": count for kind, count in outcomes.items() if kind != "score"},
        "exposure_mtok": developer["exposure_mtok"],
        **{f"yield_{name}": value for name, value in developer["yield"].items()},
        **developer["cycle_time"],
    }


@dataclass(frozen=True)
class TableView:
    """A titled table with footnotes: what table, CSV and Markdown renderers lay out."""

    title: str
    columns: list[str]
    rows: list[list[Any]]
    notes: list[str] = field(default_factory=list)
    emphasis: dict[int, str] = field(default_factory=dict)
    """Row index -> ``rise`` or ``fall``: rows a colour terminal highlights (the biggest rank moves)."""
    optional: tuple[str, ...] = ()
    """Columns a narrow terminal may leave out, the first to go first."""
    headline: str | None = None
    """One line shown above the table, prominently: something that changes how the table must be read."""


DataT = TypeVar("DataT", bound=Mapping[str, Any])
EntryT = TypeVar("EntryT", bound=Mapping[str, Any])


@dataclass(frozen=True)
class Document(Generic[DataT]):
    """A rendered-to-be result: its JSON form, its table form and its flat records (the CSV)."""

    data: DataT
    table: TableView
    records: list[dict[str, Any]] | None = None
    """One flat row per entry with the JSON's fields under unique snake_case names, numbers as numbers;
    None where the table itself is flat enough (its columns are then the CSV's)."""


def _generator() -> Generator:
    return Generator(name="tokenaudit", version=__version__)


def _iso(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z") if value else None


def _money(value: float | None, *, nothing_used: bool = False) -> float | None:
    """Dollars to the micro-dollar; None when unknown (unpriced usage, or requests without token counts), $0 when
    nothing at all was used."""
    if value is None:
        return 0.0 if nothing_used else None
    return round(value, 6)


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
        "unattributed_agents": quality.unattributed_agents,
    }


def _plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


_SKIP_KINDS = {EMPTY_FILE: "empty", UNRECOGNISED: "no reader recognises", NOT_DATA: "other extensions"}


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
    if quality.unattributed_agents:
        shown = ", ".join(quality.unattributed_agents)
        notes.append(f"agent usage attributed to no person or team (its own line): {shown}")
    if quality.encoding_repaired:
        notes.append(f"invalid UTF-8 replaced (numbers unaffected) in: {', '.join(quality.encoding_repaired)}")
    if quality.skipped_files:
        # Counted by reason, not named: a file name can name a person, and notes are not scrubbed path by path.
        reasons = Counter(_SKIP_KINDS.get(why, "tool files") for _, why in quality.skipped_files)
        counted = ", ".join(f"{count} {kind}" for kind, count in sorted(reasons.items()))
        skipped = _plural(len(quality.skipped_files), "file")
        notes.append(f"{skipped} skipped ({counted}; see data_quality.skipped_files)")
    return notes


def _tokens(row: dict[str, Any]) -> Tokens:
    return Tokens(
        input=int(row["input_tokens"]),
        output=int(row["output_tokens"]),
        cache_read=int(row["cache_read_tokens"]),
        cache_write=int(row["cache_write_tokens"]),
        total=int(row["total_tokens"]),
    )


def _cost_cell(cost: float | None, unpriced: int) -> str:
    if cost is None:
        return "unpriced"
    return f"${cost:,.2f}" + (" + unpriced" if unpriced else "")


def _usage_cells(entry: Mapping[str, Any]) -> list[Any]:
    """The cells under :data:`_USAGE_COLUMNS` for one developer or group."""
    return [
        *(entry["tokens"][k] for k in ("total", "input", "output", "cache_read", "cache_write")),
        entry["requests"],
        entry["active_days"],
        _cost_cell(entry["cost_usd"], entry["unpriced_tokens"]),
    ]


def _period_dict(period: Period, summary: dict[str, Any]) -> dict[str, str | None]:
    return {
        **period.as_dict(),
        "first_event": _iso(summary["first_event"]),
        "last_event": _iso(summary["last_event"]),
    }


def _flag_dict(flag: Flag) -> FlagEntry:
    return {
        "id": flag.id,
        "family": flag.family,
        "severity": flag.severity,
        "strength": flag.strength,
        "reason": flag.reason,
        "evidence": flag.evidence,
        "consider": list(flag.consider),
    }


RISK_ORDER: Final = MOST_SEVERE_FIRST


def _capped(developer: DeveloperEntry) -> str:
    risk = developer["risk"]
    if not risk.get("capped_by_outcomes"):
        return ""
    bound = {"yield_p10": "its 10th percentile", "yield_median": "its median"}.get(risk.get("cap_bound") or "", "it")
    return f", capped: outcome yield ({bound}) at or above typical"


def _flag_notes(developers: list[DeveloperEntry]) -> list[str]:
    """Flagged developers, highest risk first, each flag with its reason, then what could not be examined."""
    ranked = sorted(
        (d for d in developers if d["flags"] or d["risk"].get("note")),
        key=lambda d: (RISK_ORDER.index(d["risk"]["level"]), -d["risk"]["score"], d["developer"]),
    )
    notes: list[str] = []
    for d in ranked:
        who = f"{d['developer']} (risk {d['risk']['level']}{_capped(d)})"
        notes.extend(f"{who} {f['id']} [{f['severity']}]: {f['reason']}" for f in d["flags"])
        if d["risk"].get("note"):
            notes.append(f"{who} coverage: {d['risk']['note']}")
    return notes


def _rounded(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


CYCLE_NOTE: Final = (
    "time to merge: median hours from a PR's opening to its merge; ticket cycle: median days from a ticket's "
    "creation to its resolution (outcome-side measures, not weighted into any ranking)."
)


def cycle_cells(times: dict[str, Any]) -> list[str]:
    """Median time to merge and ticket cycle time as table cells (blank where nothing was timed)."""
    return [
        hours_or_days(times["time_to_merge_hours_median"], "h"),
        hours_or_days(times["ticket_cycle_days_median"], "d"),
    ]


def _cycle_time(row: dict[str, Any]) -> dict[str, Any]:
    """Median hours to merge and days of ticket cycle, each with how many it rests on (0 and null: none timed)."""
    return {name: (row.get(name) or 0) if name in CYCLE_COUNTS else _rounded(row.get(name)) for name in CYCLE_FIELDS}


def _outcome_fields(row: dict[str, Any], counts: dict[str, int]) -> OutcomeFields:
    """Outcomes, yield and ranking status of one developer (present only when outcomes were given)."""
    ranked = row["status"] != "insufficient_data"
    return {
        "outcomes": {**counts, "score": round(row["outcome_score"], 4)},
        "exposure_mtok": round(row["exposure"], 4),
        "tokens_in_full": bool(row["tokens_in_full"]) if ranked else None,
        "tokens_in_full_share": _rounded(row["tokens_in_full_share"]) if ranked else None,
        "yield": {
            "mean": _rounded(row["yield_mean"]) if ranked else None,
            "p05": _rounded(row["yield_p05"]) if ranked else None,
            "p95": _rounded(row["yield_p95"]) if ranked else None,
        },
        "ranking_status": row["status"],
        "cycle_time": _cycle_time(row),
        "presence": {
            "share": _rounded(row["presence"]),
            "starts": row["starts"].isoformat() if row["starts"] else None,
            "ends": row["ends"].isoformat() if row["ends"] else None,
            "fte": _rounded(row["fte"]),
            "on_call_days": row.get("on_call_days"),
            "tenure_basis": row["tenure_basis"],
            "fte_basis": row["fte_basis"],
        },
    }


PLACEMENT: Final = {"ranked": "placed", "not_placed": "uncertain"}
"""``rank.placement`` by ranking status: ``uncertain`` is the bottom quarter by the board's order, on fewer posterior
draws than ``ranking.bottom_quarter_confidence`` asks for."""


def _adjusted_rank(row: dict[str, Any]) -> Rank:
    """The raw rank, ``rank.adjusted`` (null below the minimum volume, and when the evidence does not place the
    developer in the bottom quarter with confidence), its 90% interval (also for those not placed), the shift from
    the raw rank, the bottom-quarter chance and the placement that follows from it."""
    ranked = row["status"] == "ranked"
    return {
        "tokens": row["rank_tokens"],
        "adjusted": row["rank_adjusted"] if ranked else None,
        "adjusted_interval": [row["rank_low"], row["rank_high"]] if row["status"] != "insufficient_data" else None,
        "shift": row["rank_shift"] if ranked else None,
        "bottom_quarter_chance": _rounded(row["bottom_quarter_chance"]),
        "placement": PLACEMENT.get(row["status"]),
        "board_row": row["board_row"],
    }


def _outcome_quality(result: AuditResult) -> dict[str, Any]:
    joined = result.outcomes
    if joined is None:
        return {}
    read = joined.read
    return {
        "outcomes": {
            "files": [{"file": name, "format": kind} for name, kind in read.files],
            "rows_rejected": read.rejects.height,
            "window": [joined.window[0].isoformat(), joined.window[1].isoformat()],
            "outside_window": joined.outside_window,
            "unmatched_identities": joined.unmatched,
            "developers_without_outcomes": joined.without_outcomes,
            "bot_prs_ignored": read.bot_prs,
            "unassigned_issues": read.unassigned_issues,
            "unlinked_reverts": read.unlinked_reverts,
            "unassigned_incidents": read.unassigned_incidents,
            "on_call_incidents": joined.on_call_incidents,
            "non_production_deployments": read.non_production_deployments,
            "kinds_without_weight": _unweighted(result),
            "size_weighting": joined.size_weighting,
            "unsized": joined.unsized,
        }
    }


def _unweighted(result: AuditResult) -> list[str]:
    kinds = {kind for counts in result.outcome_counts.values() for kind, n in counts.items() if n}
    return sorted(kinds - set(result.outcome_weights))


def outcome_notes(result: AuditResult) -> list[str]:
    """One-line diagnostics about the outcome files: what credits nobody and what did not join."""
    joined = result.outcomes
    if joined is None:
        return []
    read, notes = joined.read, []
    if read.rejects.height:
        notes.append(f"{_plural(read.rejects.height, 'outcome row')} rejected (see --rejects FILE)")
    if joined.unmatched:
        shown = ", ".join(joined.unmatched[:5]) + (
            f" and {len(joined.unmatched) - 5} more" if len(joined.unmatched) > 5 else ""
        )
        notes.append(f"outcome identities with no token usage (add them to identities:): {shown}")
    if joined.without_outcomes:
        notes.append(f"{_plural(len(joined.without_outcomes), 'developer')} with token usage but no outcomes")
    if joined.outside_window:
        notes.append(
            f"{_plural(joined.outside_window, 'outcome')} outside {joined.window[0]}..{joined.window[1]} left out"
        )
    if read.bot_prs:
        notes.append(f"{_plural(read.bot_prs, 'bot pull request')} credited to nobody")
    if read.unassigned_issues:
        notes.append(f"{_plural(read.unassigned_issues, 'unassigned issue')} credited to nobody")
    if read.unassigned_incidents:
        notes.append(f"{_plural(read.unassigned_incidents, 'incident')} with no responding user charged to nobody")
    if joined.on_call_incidents:
        notes.append(
            f"{_plural(joined.on_call_incidents, 'incident')} on a responder's declared on-call day not charged to them"
        )
    if read.unlinked_reverts:
        notes.append(f"{_plural(read.unlinked_reverts, 'revert')} not linked to the PR they revert")
    for kind, missing in joined.unsized.items():
        what = "lines changed (additions/deletions)" if kind == "merged_pr" else "story points"
        notes.append(f"{_plural(missing, kind)} without {what}: each counted as one typical {kind}")
    return notes


def period_headline(loaded: LoadedEvents, active_days: int) -> str | None:
    """The line above the output when the period has no usage, or usage on fewer than half of its days: the sign of
    a broken or partial export that a cron job must not report as a quiet week."""
    period, quality = loaded.period, loaded.quality
    span = f" {period.since or '…'}..{period.until or '…'}" if period.since or period.until else ""
    if loaded.usage.is_empty():
        return (
            f"No usage in the period{span}: {quality.outside_period:,} events outside it, "
            f"{quality.rows_rejected:,} rows rejected. A broken or stale export?"
        )
    if period.since and period.until:
        days = (period.until - period.since).days + 1
        if active_days * 2 < days:
            return f"Usage on only {active_days} of the {days} days of the period{span}: a partial export?"
    return None


def joined_headline(*lines: str | None) -> str | None:
    """Headlines joined into the one line shown above a table."""
    return " ".join(line for line in lines if line) or None


def outcome_headline(result: AuditResult) -> str | None:
    """The line above the board when outcomes were given but joined nobody (the raw board is shown instead of an
    adjusted one) or only some developers (how many)."""
    joined = result.outcomes
    if joined is None:
        return None
    fix = "map them with --identities FILE (alias,developer,team) or the policy's identities: section"
    if result.ranking is None:
        if joined.unmatched:
            shown = ", ".join(joined.unmatched[:3]) + (" …" if len(joined.unmatched) > 3 else "")
            why = f"none of the {_plural(len(joined.unmatched), 'name')} in the outcome files ({shown}) matched a "
            why += f"developer in the usage data: {fix}"
        elif joined.outside_window:
            why = f"all {_plural(joined.outside_window, 'outcome')} fall outside {joined.window[0]}..{joined.window[1]}"
        else:
            why = "the outcome files hold no outcome"
        return f"Outcomes not used, no adjusted ranking: {why}. Showing the raw token leaderboard."
    people = result.developers.height
    with_outcomes = len(result.outcome_counts)
    if with_outcomes < people:
        return (
            f"Outcomes joined {with_outcomes} of {people} developers; the other {people - with_outcomes} have none "
            f"(if they should, {fix})."
        )
    return None


def _ranking_dict(result: AuditResult) -> dict[str, Any]:
    fit = result.ranking
    assert fit is not None
    return {
        "method": "gamma-Poisson empirical Bayes per outcome kind on effective-token exposure^elasticity",
        "elasticity": round(fit.elasticity, 4),
        "elasticity_se": _rounded(fit.elasticity_se),
        "elasticity_fitted": fit.fitted,
        "elasticity_basis": fit.basis,
        "min_exposure_mtok": round(fit.min_exposure, 4),
        "ranked_developers": fit.ranked,
        "not_placed": fit.not_placed,
        "bottom_quarter_confidence": fit.bottom_quarter_confidence,
        "elasticity_interval": _interval(fit.elasticity, fit.elasticity_se),
        "elasticity_fit": {
            "developers": fit.fit_developers,
            "left_out_flagged": fit.fit_excluded_flagged,
            "left_out_high_volume": fit.fit_excluded_volume,
            "effective_developers": round(fit.fit_effective_developers, 2),
            "all_developers": _fitted(*fit.alternatives.get("all", (None, None))),
            "without_flagged": _fitted(*fit.alternatives.get("unflagged", (None, None))),
            "fitted_sample": _fitted(*fit.alternatives.get("trimmed", (None, None))),
        },
        "scored_kinds": {kind: {"dispersion": round(value, 4)} for kind, value in fit.dispersion.items()},
        "developers_with_tokens_in_full": fit.in_full,
        "developers_with_tokens_in_full_in_part": fit.in_part,
        "uncorroborated_in_full": fit.uncorroborated_in_full,
        "spearman_raw_vs_adjusted": result.spearman_raw_vs_adjusted,
        "priors": {kind: {"rate": round(m, 6), "variance": round(phi, 6)} for kind, (m, phi) in fit.priors.items()},
    }


def _interval(value: float | None, se: float | None) -> list[float] | None:
    """The 90% interval of a fitted value (±1.645 standard errors), or null when not fitted."""
    return None if value is None or se is None else [round(value - 1.645 * se, 4), round(value + 1.645 * se, 4)]


def _fitted(value: float | None, se: float | None) -> dict[str, Any]:
    return {"elasticity": _rounded(value), "interval": _interval(value, se)}


def _shift_cell(shift: int | None) -> str:
    return "" if shift is None else f"{shift:+d}"


UNRANKED: Final = {"insufficient_data": "insufficient data"}
"""What the board's rank cell says for a developer below the minimum volume (one not placed shows their interval)."""
BOARD_COLUMNS: Final = (
    "adjusted", "interval", "raw", "shift", "developer", "team", "total tokens", "outcome score", "risk"
)  # fmt: skip


def board_order(developers: list[EntryT]) -> list[EntryT]:
    """Developers of an audit document in the adjusted board's order (those not placed in the row the order gives
    them, without a rank); those with insufficient data last."""
    return sorted(
        developers,
        key=lambda d: (d["rank"].get("board_row") is None, d["rank"].get("board_row") or 0, d["rank"]["tokens"]),
    )


def board_row(developer: DeveloperEntry, mark: str = "") -> list[Any]:
    """One developer's cells under :data:`BOARD_COLUMNS` (``mark`` flags the biggest moves)."""
    rank = developer["rank"]
    return [
        _rank_cell(developer),
        "" if rank["adjusted_interval"] is None else "{}–{}".format(*rank["adjusted_interval"]),
        rank["tokens"],
        _shift_cell(rank["shift"]) + mark,
        developer["developer"],
        developer["team"] or "",
        developer["tokens"]["total"],
        readable(developer["outcomes"]["score"]),
        developer["risk"]["level"],
    ]


def _rank_cell(developer: DeveloperEntry) -> int | str:
    """The adjusted rank; for a developer not placed, their 90% rank interval with a question mark ("31–40?"), so it
    survives when a narrow terminal leaves the interval column out; below the minimum volume, "insufficient data"."""
    rank = developer["rank"]
    interval = rank["adjusted_interval"]
    if rank["adjusted"] is not None:
        return rank["adjusted"]
    if developer["ranking_status"] == "not_placed" and interval is not None:
        return "{}–{}?".format(*interval)
    return UNRANKED.get(developer["ranking_status"], "")


def _shift(developer: DeveloperEntry) -> int:
    """Places climbed from the raw rank (0 when not ranked)."""
    return developer["rank"].get("shift") or 0


def not_placed_note(developers: list[EntryT], confidence: float) -> list[str]:
    """Who the board lists as not placed, and why (the cell itself is kept short so the interval still fits), in the
    order given."""
    names = [d["developer"] for d in developers if d["ranking_status"] == "not_placed"]
    if not names:
        return []
    return [f"a–b? (a rank interval) = not placed, uncertain: the order puts them in the bottom quarter but fewer than "
            f"{confidence:.0%} of the posterior draws do, so their 90% rank interval is shown instead of a rank (the "
            f"others keep their places): {', '.join(names)}"]  # fmt: skip


def _in_full_note(developers: list[DeveloperEntry]) -> list[str]:
    """Who had tokens above the typical counted in full (no diminishing returns), in every draw or in some, and why."""
    names = [d["developer"] for d in developers if d.get("tokens_in_full")]
    partly = [(d["developer"], d.get("tokens_in_full_share") or 0.0) for d in developers if not d.get("tokens_in_full")]
    notes = [
        f"Tokens above the typical counted in full (a corroborated medium+ flag on evidence outcomes cannot explain): "
        f"{', '.join(names)}."
    ]
    shares = [f"{name} ({share:.0%} of draws)" for name, share in partly if share > 0]
    doubted = [
        f"Tokens above the typical counted in full in only some of the draws (a lone medium flag, which the risk "
        f"level calls low: it widens the rank interval rather than deciding the place): {', '.join(shares)}."
    ]
    return (notes if names else []) + (doubted if shares else [])


def _ranked_table(developers: list[DeveloperEntry], result: AuditResult, quality: DataQuality) -> TableView:
    """Raw and adjusted boards side by side, sorted by adjusted rank; the insufficient-data rows last."""
    ordered = board_order(developers)
    moved = [d for d in ordered if _shift(d)]
    fallers = sorted(moved, key=lambda d: (_shift(d), d["developer"]))[:3]
    climbers = sorted(moved, key=lambda d: (-_shift(d), d["developer"]))[:3]

    def moves(people: list[DeveloperEntry]) -> str:
        return ", ".join(f"{d['developer']} ({_shift(d):+d})" for d in people) or "none"

    fit = result.ranking
    assert fit is not None
    notes = [
        NOTICE,
        f"Adjusted rank: outcome yield per effective token with shrinkage (elasticity {fit.elasticity:.2f}"
        f", {fit.basis}); interval = 90% rank interval; shift = raw rank "
        "among ranked developers minus adjusted rank (+ climbed).",
        f"Biggest fallers (▼): {moves(fallers)}. Biggest climbers (▲): {moves(climbers)}.",
        *not_placed_note(ordered, fit.bottom_quarter_confidence),
        *_in_full_note(developers),
        *_flag_notes(developers),
        *quality_notes(quality),
        *outcome_notes(result),
    ]
    marks = {d["developer"]: " ▲" for d in climbers} | {d["developer"]: " ▼" for d in fallers}
    return TableView(
        title="Raw token leaderboard vs outcome-adjusted ranking",
        columns=list(BOARD_COLUMNS),
        rows=[board_row(d, marks.get(d["developer"], "")) for d in ordered],
        notes=notes,
        optional=("interval", "team", "outcome score", "total tokens"),
        emphasis={
            index: "rise" if marks[d["developer"]] == " ▲" else "fall"
            for index, d in enumerate(ordered)
            if d["developer"] in marks
        },
    )


def _developer_entry(
    row: dict[str, Any], result: AuditResult, flags: list[FlagEntry], skipped: list[NotEvaluated]
) -> DeveloperEntry:
    """One row of the audit's developer frame as its JSON entry (the outcome side only when outcomes ranked)."""
    outcome = OutcomeFields()
    if result.ranking:
        counts = {**dict.fromkeys(result.outcome_kinds, 0), **result.outcome_counts.get(row["developer"], {})}
        outcome = _outcome_fields(row, counts)
    return DeveloperEntry(
        developer=row["developer"],
        team=row["team"],
        tokens=_tokens(row),
        requests=row["requests"],
        active_days=row["active_days"],
        cost_usd=_money(row["cost_usd"]),
        unpriced_tokens=row["unpriced_tokens"],
        errored_tokens=row["errored_tokens"],
        flags=flags,
        risk=Risk(
            level=row["risk_level"],
            score=row["risk_score"],
            families=row["families"] or [],
            capped_by_outcomes=bool(row.get("capped_by_outcomes")),
            cap_bound=row.get("cap_bound"),
            coverage=Coverage(
                timing=row.get("coverage_timing"),
                sessions=row.get("coverage_sessions"),
                prompts=row.get("coverage_prompts"),
                unexamined_sources=row.get("unexamined_sources") or [],
            ),
            note=coverage_note(row),
        ),
        not_evaluated=skipped,
        rank=_adjusted_rank(row) if result.ranking else Rank(tokens=row["rank_tokens"]),
        **outcome,
    )


def audit_document(result: AuditResult) -> Document[AuditData]:
    """The ``audit`` output: stable JSON (``schema_version``) and the leaderboard table."""
    summary = result.summary.row(0, named=True)
    flags: dict[str, list[FlagEntry]] = {}
    for flag in result.findings.flags:
        flags.setdefault(flag.developer, []).append(_flag_dict(flag))
    skipped: dict[str, list[NotEvaluated]] = {}
    for row in result.findings.not_evaluated.sort("developer", "id").iter_rows(named=True):
        skipped.setdefault(row["developer"], []).append(NotEvaluated(id=row["id"], needs=row["needs"]))
    developers = [
        _developer_entry(row, result, flags.get(row["developer"], []), skipped.get(row["developer"], []))
        for row in result.developers.iter_rows(named=True)
    ]
    quality = result.loaded.quality
    data = AuditData(
        schema_version=SCHEMA_VERSION,
        generator=_generator(),
        notice=NOTICE,
        period=_period_dict(result.loaded.period, summary),
        summary=Summary(
            developers=summary["developers"],
            teams=summary["teams"],
            requests=summary["requests"],
            active_days=summary["active_days"],
            tokens=_tokens(summary),
            cost_usd=_money(summary["cost_usd"], nothing_used=not summary["requests"]),
            unpriced_tokens=summary["unpriced_tokens"],
            errored_tokens=summary["errored_tokens"],
            risk_levels={level: sum(d["risk"]["level"] == level for d in developers) for level in RISK_ORDER},
        ),
        developers=developers,
        data_quality={**_quality_dict(quality), **_outcome_quality(result)},
    )
    warnings = [
        line for line in (period_headline(result.loaded, summary["active_days"]), outcome_headline(result)) if line
    ]
    if warnings:
        data["warnings"] = warnings
    headline = joined_headline(*warnings)
    if result.ranking:
        data["ranking"] = _ranking_dict(result)
        records = [developer_record(d) for d in board_order(developers)]
        table = replace(_ranked_table(developers, result, quality), headline=headline)
        return Document(data=data, table=table, records=records)
    table = TableView(
        title="Token leaderboard (raw)",
        columns=["rank", "developer", "team", *_USAGE_COLUMNS, "risk"],
        rows=[
            [
                d["rank"]["tokens"],
                d["developer"],
                d["team"] or "",
                *_usage_cells(d),
                d["risk"]["level"],
            ]
            for d in developers
        ],
        notes=[NOTICE, *_flag_notes(developers), *quality_notes(quality), *outcome_notes(result)],
        optional=(*_OPTIONAL_USAGE, "team", "cost"),
        headline=headline,
    )
    return Document(data=data, table=table, records=[developer_record(d) for d in developers])


def totals_document(frame: pl.DataFrame, by: list[str], loaded: LoadedEvents) -> Document[dict[str, Any]]:
    """The ``totals`` output: one entry per group."""
    quality = loaded.quality
    span = loaded.usage.select(
        pl.col("first").min().alias("first_event"),
        pl.col("last").max().alias("last_event"),
        pl.col("day").n_unique().alias("active_days"),
    ).row(0, named=True)
    warning = period_headline(loaded, span["active_days"])
    groups = [
        {
            **{key: (row[key].isoformat() if isinstance(row[key], dt.date) else row[key]) for key in by},
            "tokens": _tokens(row),
            "requests": row["requests"],
            "active_days": row["active_days"],
            "cost_usd": _money(row["cost_usd"]),
            "unpriced_tokens": row["unpriced_tokens"],
            "errored_tokens": row["errored_tokens"],
        }
        for row in frame.iter_rows(named=True)
    ]
    data = {
        "schema_version": SCHEMA_VERSION,
        "generator": _generator(),
        "period": _period_dict(loaded.period, span),
        "by": by,
        "groups": groups,
        "data_quality": _quality_dict(quality),
        **({"warnings": [warning]} if warning else {}),
    }
    table = TableView(
        title=f"Token totals by {', '.join(by)}",
        columns=[*by, *_USAGE_COLUMNS],
        rows=[
            [
                *(g[key] if g[key] is not None else "" for key in by),
                *_usage_cells(g),
            ]
            for g in groups
        ],
        notes=quality_notes(quality),
        optional=_OPTIONAL_USAGE,
        headline=warning,
    )
    records = [{**{key: g[key] for key in by}, **_usage_record(g)} for g in groups]
    return Document(data=data, table=table, records=records)


def rank_document(result: AuditResult) -> Document[AuditData] | Document[RankData]:
    """The ``rank`` output: the raw token leaderboard and the outcome-adjusted ranking side by side (the audit's
    raw board, with its headline, when no outcome joined anybody)."""
    if result.ranking is None:
        return audit_document(result)
    audit = audit_document(result).data
    people = audit["developers"]
    raw = sorted(people, key=lambda d: (d["rank"]["tokens"], d["developer"]))
    adjusted = sorted(
        (d for d in people if d["rank"].get("adjusted") is not None), key=lambda d: d["rank"].get("adjusted") or 0
    )
    thin = sorted(d["developer"] for d in people if d["ranking_status"] == "insufficient_data")
    unplaced = sorted(d["developer"] for d in people if d["ranking_status"] == "not_placed")
    data = RankData(
        schema_version=SCHEMA_VERSION,
        generator=audit["generator"],
        notice=NOTICE,
        period=audit["period"],
        ranking=audit.get("ranking"),
        raw=[RawRank(rank=d["rank"]["tokens"], developer=d["developer"], tokens=d["tokens"]["total"]) for d in raw],
        adjusted=[
            {
                "rank": d["rank"]["adjusted"],
                "developer": d["developer"],
                "interval": d["rank"]["adjusted_interval"],
                "shift": d["rank"]["shift"],
                "yield": d["yield"]["mean"],
                "outcome_score": d["outcomes"]["score"],
            }
            for d in adjusted
        ],
        insufficient_data=thin,
        not_placed=[
            {"developer": d["developer"], "interval": d["rank"]["adjusted_interval"], "yield": d["yield"]["mean"]}
            for d in people
            if d["developer"] in unplaced
        ],
        data_quality=audit["data_quality"],
    )
    if "warnings" in audit:
        data["warnings"] = audit["warnings"]
    # The table's adjusted side in the board's order, those not placed in their rows with their interval.
    board = [d for d in board_order(people) if d["ranking_status"] != "insufficient_data"]
    height = max(len(raw), len(board))
    rows = [
        [
            *(
                [raw[i]["rank"]["tokens"], raw[i]["developer"], raw[i]["tokens"]["total"]]
                if i < len(raw)
                else ["", "", ""]
            ),
            *(
                [
                    _rank_cell(board[i]),
                    board[i]["developer"],
                    _shift_cell(board[i]["rank"]["shift"]),
                    f"{board[i]['yield']['mean']:.2f}",
                ]
                if i < len(board)
                else ["", "", "", ""]
            ),
        ]
        for i in range(height)
    ]
    fit = result.ranking
    notes = [NOTICE, "yield = outcome points per million effective tokens^elasticity (posterior mean)."]
    if fit is not None:
        notes.append(f"elasticity {fit.elasticity:.2f} ({fit.basis})")
    if thin:
        notes.append(f"insufficient data (not ranked): {', '.join(thin)}")
    notes += not_placed_note(
        sorted(people, key=lambda d: d["developer"]), fit.bottom_quarter_confidence if fit else 0.0
    )
    notes += quality_notes(result.loaded.quality) + outcome_notes(result)
    table = TableView(
        headline=joined_headline(*audit.get("warnings", [])),
        title="Raw token leaderboard | outcome-adjusted ranking",
        columns=["raw", "developer", "total tokens", "adjusted", "developer ", "shift", "yield"],
        rows=rows,
        notes=notes,
        optional=("total tokens", "yield", "shift"),
    )
    records = [developer_record(d) for d in board_order(people)]
    return Document(data=data, table=table, records=records)


_DELIVERY_FIELDS = (
    "deployments",
    "failed_deployments",
    "change_failure_rate",
    "incidents",
    "incidents_per_deployment",
)
"""DORA-style team fields, present when deployment or incident exports were read (null: no data for the team)."""


def _delivery_value(value: float | None) -> float | int | None:
    return round(value, 4) if isinstance(value, float) else value


def _delivery_cells(row: dict[str, Any]) -> list[str]:
    """Deploys, change failure rate, incidents and incidents per deploy; blank where the team has no data."""

    def rate(value: float | None) -> str:
        return "" if value is None else f"{value:.0%}"

    deployments, incidents = row["deployments"], row["incidents"]
    per_deploy = row["incidents_per_deployment"]
    return [
        "" if deployments is None else f"{deployments:,}",
        rate(row["change_failure_rate"]),
        "" if incidents is None else f"{incidents:,}",
        "" if per_deploy is None else f"{per_deploy:.2f}",
    ]


def teams_document(result: AuditResult, min_group_size: int) -> Document[dict[str, Any]]:
    """``--teams-only``: team rollups, no person anywhere; teams under ``min_group_size`` are suppressed."""
    teams, suppressed = team_rollups(result, min_group_size)
    summary = result.summary.row(0, named=True)
    quality = result.loaded.quality
    rows = [
        {
            "team": row["team"],
            "developers": row["developers"],
            "total_tokens": row["total_tokens"],
            "requests": row["requests"],
            "cost_usd": _money(row["cost_usd"]),
            "unpriced_tokens": row["unpriced_tokens"],
            "risk": {level: row[f"risk_{level}"] for level in ("high", "medium", "low")},
            **({"outcome_score": round(row["outcome_score"], 4)} if "outcome_score" in row else {}),
            **(_cycle_time(row) if CYCLE_COUNTS[0] in row else {}),
            **({name: _delivery_value(row[name]) for name in _DELIVERY_FIELDS} if "deployments" in row else {}),
        }
        for row in teams.iter_rows(named=True)
    ]
    data = {
        "schema_version": SCHEMA_VERSION,
        "generator": _generator(),
        "notice": NOTICE,
        "teams_only": True,
        "min_group_size": min_group_size,
        "period": _period_dict(result.loaded.period, summary),
        "teams": rows,
        "suppressed_teams": suppressed,
        "data_quality": {
            "rows_read": quality.rows_read,
            "rows_rejected": quality.rows_rejected,
            "duplicates_dropped": quality.duplicates_dropped,
            "unmatched_identities": len(quality.unmatched_identities),
            "unpriced_models": quality.unpriced_models,
        },
    }
    notes = [NOTICE]
    if suppressed:
        notes.append(f"{_plural(suppressed, 'team')} with fewer than {min_group_size} developers not shown")
    delivery = "deployments" in teams.columns
    timed = CYCLE_COUNTS[0] in teams.columns
    table = TableView(
        title=f"Team rollups (teams of {min_group_size}+ developers)",
        columns=[
            "team",
            "developers",
            "total",
            "requests",
            "cost",
            "risk high",
            "risk medium",
            "risk low",
            *(["deploys", "change failure rate", "incidents", "incidents per deploy"] if delivery else []),
            *(["time to merge", "ticket cycle"] if timed else []),
        ],
        rows=[
            [
                r["team"],
                r["developers"],
                r["total_tokens"],
                r["requests"],
                _cost_cell(r["cost_usd"], r["unpriced_tokens"]),
                *r["risk"].values(),
                *(_delivery_cells(r) if delivery else []),
                *(cycle_cells(r) if timed else []),
            ]
            for r in rows
        ],
        notes=[*notes, *([CYCLE_NOTE] if timed else [])],
        optional=("risk low", "risk medium", "requests", "ticket cycle", "time to merge"),
    )
    records = [
        {**{key: value for key, value in r.items() if key != "risk"}, **{f"risk_{k}": n for k, n in r["risk"].items()}}
        for r in rows
    ]
    return Document(data=data, table=table, records=records)


_RATE_COLUMNS = ["input", "output", "cache read", "write 5m", "write 1h"]


def prices_document(models: list[str], prices: list[AppliedPrice | None]) -> Document[dict[str, Any]]:
    """The ``prices`` output: the price each model gets, where it comes from, per period and tier."""
    entries: list[dict[str, Any]] = []
    rows: list[list[Any]] = []
    for model, applied in zip(models, prices, strict=True):
        if applied is None:
            entries.append({"model": model, "source": None, "provider": None, "source_model": None, "periods": []})
            rows.append([model, "unpriced (no price in the policy or the price source)", "", "", "", *[""] * 5])
            continue
        periods = [
            {
                "applies": period.applies,
                "tiers": [{"above_input_tokens": start, **dataclasses.asdict(rates)} for start, rates in period.tiers],
            }
            for period in applied.periods
        ]
        entries.append(
            {
                "model": model,
                "source": applied.source,
                "provider": applied.provider,
                "source_model": applied.source_model,
                "periods": periods,
            }
        )
        named = "/".join(part for part in (applied.provider, applied.source_model) if part)
        for period in applied.periods:
            for start, rates in period.tiers:
                tier = f"input > {start:,}" if start else "base"
                rows.append([model, applied.source, named, period.applies, tier, *dataclasses.astuple(rates)])
    data = {
        "schema_version": SCHEMA_VERSION,
        "generator": _generator(),
        "price_source": {"package": SOURCE_PACKAGE, "version": data_version()},
        "models": entries,
    }
    table = TableView(
        title="Prices, US dollars per million tokens",
        columns=["model", "source", "priced as", "applies", "tier", *_RATE_COLUMNS],
        rows=rows,
        notes=[f"price data: {SOURCE_PACKAGE} {data_version()} (upgrade the package to update it)"],
    )
    return Document(data=data, table=table)
