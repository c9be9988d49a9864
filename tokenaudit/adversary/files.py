"""Writing the organisation as the files tokenaudit reads, plus its policy and the manifest of planted cases.

Layout under the output folder::

    logs/claude/<email>/projects/<project>/<session>.jsonl   Claude Code transcripts
    logs/cursor/usage_events_p<N>.json                        Cursor Admin API usage-event pages
    logs/gateway/events.csv                                   a gateway's export, with prompt text (generic)
    logs/anthropic/messages_usage_1d.json                     Messages usage report, 1d buckets by API key
    outcomes/prs.json, outcomes/jira.csv                      gh pr list --json, Jira CSV export
    policy.yaml                                               identity map (emails, logins, names, keys)
    manifest.json                                             planted cases and exact token totals
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import hashlib
import io
import json
import random
from pathlib import Path
from typing import Any

import yaml

from tokenaudit.adversary.agent import Session
from tokenaudit.adversary.model import CLAUDE, CURSOR, GAMER, GATEWAY, Activity, Organisation

CURSOR_PAGE = 5_000
_ALPHANUMERIC = bytes.maketrans(b"+/=", b"kQ7")


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _dumps(document: object) -> str:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)


def _token(rng: random.Random, length: int) -> str:
    """Letters and digits, like Anthropic's message and request ids (base64 in C: ids are most of the writing)."""
    return base64.b64encode(rng.randbytes(length)).translate(_ALPHANUMERIC)[:length].decode()


def transcript_lines(session: Session) -> list[str]:
    """A Claude Code transcript: prompt and tool-result user lines, assistant lines with usage.

    One response in five that calls a tool is written as two lines (a text block, then the tool call),
    the first with a partial output count, as Claude Code does for multi-block responses.
    """
    rng = random.Random(session.session_id)
    common = {"isSidechain": False, "userType": "external", "cwd": session.cwd, "sessionId": session.session_id}
    common |= {"version": "2.0.14", "gitBranch": "main"}
    lines: list[str] = []
    parent: str | None = None
    tool_id = ""

    def add(kind: str, message: dict[str, Any], at: dt.datetime, **extra: object) -> None:
        nonlocal parent
        uuid = f"{rng.getrandbits(128):032x}"
        line = {"parentUuid": parent, **common, "type": kind, "message": message, **extra, "uuid": uuid}
        lines.append(_dumps({**line, "timestamp": _iso(at)}))
        parent = uuid

    for request in session.requests:
        asked = request.at - dt.timedelta(milliseconds=200)
        if request.prompt is not None:
            add("user", {"role": "user", "content": request.prompt}, asked)
        else:
            result = {
                "tool_use_id": tool_id,
                "type": "tool_result",
                "content": f"(output, {rng.randint(3, 400)} lines)",
            }
            add("user", {"role": "user", "content": [result]}, asked)
        message_id, request_id = f"msg_01{_token(rng, 22)}", f"req_011C{_token(rng, 20)}"
        usage = {
            "input_tokens": request.input_tokens,
            "cache_creation_input_tokens": request.cache_write,
            "cache_read_input_tokens": request.cache_read,
            "cache_creation": {"ephemeral_5m_input_tokens": request.cache_write, "ephemeral_1h_input_tokens": 0},
            "output_tokens": request.output_tokens,
            "service_tier": "standard",
        }
        base = {"model": session.model, "id": message_id, "type": "message", "role": "assistant"}
        if request.uses_tool:
            tool_id = f"toolu_01{_token(rng, 22)}"
            if rng.random() < 0.2:
                partial = {**usage, "output_tokens": min(request.output_tokens, rng.randint(1, 30))}
                text = [{"type": "text", "text": "Let me check."}]
                add(
                    "assistant",
                    {**base, "content": text, "stop_reason": None, "usage": partial},
                    request.at,
                    requestId=request_id,
                )
            content: list[dict[str, Any]] = [
                {"type": "tool_use", "id": tool_id, "name": rng.choice(("Read", "Bash", "Grep", "Edit")), "input": {}}
            ]
            stop = "tool_use"
        else:
            content, stop = [{"type": "text", "text": "Done."}], "end_turn"
        at = request.at + dt.timedelta(milliseconds=rng.randint(300, 2000))
        add("assistant", {**base, "content": content, "stop_reason": stop, "usage": usage}, at, requestId=request_id)
    return lines


def _write_claude(activity: Activity, logs: Path) -> None:
    person = activity.person
    for session in activity.sessions:
        if session.tool != CLAUDE:
            continue
        folder = logs / "claude" / person.email / "projects" / session.cwd.replace("/", "-")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{session.session_id}.jsonl").write_text("\n".join(transcript_lines(session)) + "\n")


def _cursor_events(activities: list[Activity]) -> list[dict[str, Any]]:
    events = []
    for activity in activities:
        for session in activity.sessions:
            if session.tool != CURSOR:
                continue
            for request in session.requests:
                cents = round(
                    (request.input_tokens * 3 + request.output_tokens * 15) / 1e4
                    + (request.cache_read * 0.3 + request.cache_write * 3.75) / 1e4,
                    2,
                )
                events.append(
                    {
                        "timestamp": str(int(request.at.timestamp() * 1000)),
                        "userEmail": activity.person.email,
                        "model": session.model,
                        "kind": "Included in Business",
                        "maxMode": False,
                        "requestsCosts": 1,
                        "isTokenBasedCall": True,
                        "isChargeable": False,
                        "isHeadless": False,
                        "tokenUsage": {
                            "inputTokens": request.input_tokens,
                            "outputTokens": request.output_tokens,
                            "cacheWriteTokens": request.cache_write,
                            "cacheReadTokens": request.cache_read,
                            "totalCents": cents,
                        },
                        "chargedCents": cents,
                    }
                )
    return sorted(events, key=lambda e: (int(e["timestamp"]), e["userEmail"]))


def _write_cursor(activities: list[Activity], logs: Path) -> None:
    events = _cursor_events(activities)
    pages = max(1, -(-len(events) // CURSOR_PAGE))
    if not events:
        return
    (logs / "cursor").mkdir(parents=True, exist_ok=True)
    for page in range(pages):
        chunk = events[page * CURSOR_PAGE : (page + 1) * CURSOR_PAGE]
        document = {
            "totalUsageEventsCount": len(events),
            "pagination": {
                "numPages": pages,
                "currentPage": page + 1,
                "pageSize": CURSOR_PAGE,
                "hasNextPage": page + 1 < pages,
                "hasPreviousPage": page > 0,
            },
            "usageEvents": chunk,
        }
        (logs / "cursor" / f"usage_events_p{page + 1}.json").write_text(_dumps(document) + "\n")


def _write_gateway(activities: list[Activity], logs: Path) -> None:
    columns = ["timestamp", "developer", "tool", "model", "session_id", "request_id", "input_tokens"]
    columns += ["output_tokens", "cache_read_tokens", "cache_write_tokens", "turn", "prompt_hash", "prompt_text"]
    rows: list[list[Any]] = []
    for activity in activities:
        for session in activity.sessions:
            if session.tool != GATEWAY:
                continue
            for number, request in enumerate(session.requests):
                prompt = request.prompt or ""
                digest = hashlib.sha256(prompt.encode()).hexdigest()[:16] if prompt else ""
                rows.append(
                    [
                        _iso(request.at),
                        activity.person.login,
                        GATEWAY,
                        session.model,
                        session.session_id,
                        f"{session.session_id}-{number}",
                        request.input_tokens,
                        request.output_tokens,
                        request.cache_read,
                        request.cache_write,
                        "prompt" if prompt else "tool",
                        digest,
                        prompt,
                    ]
                )
    if not rows:
        return
    rows.sort(key=lambda row: (row[0], row[1], row[5]))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)
    (logs / "gateway").mkdir(parents=True, exist_ok=True)
    (logs / "gateway" / "events.csv").write_text(buffer.getvalue())


def _write_day_usage(activities: list[Activity], logs: Path) -> None:
    by_day: dict[dt.date, list[dict[str, Any]]] = {}
    for activity in activities:
        for row in activity.day_usage:
            by_day.setdefault(row.day, []).append(
                {
                    "api_key_id": activity.person.api_key,
                    "workspace_id": None,
                    "model": row.model,
                    "service_tier": "standard",
                    "context_window": "0-200k",
                    "uncached_input_tokens": row.input_tokens,
                    "cache_creation": {"ephemeral_5m_input_tokens": row.cache_write, "ephemeral_1h_input_tokens": 0},
                    "cache_read_input_tokens": row.cache_read,
                    "output_tokens": row.output_tokens,
                    "server_tool_use": {"web_search_requests": 0},
                }
            )
    if not by_day:
        return
    buckets: list[dict[str, Any]] = [
        {
            "starting_at": f"{day.isoformat()}T00:00:00Z",
            "ending_at": f"{(day + dt.timedelta(days=1)).isoformat()}T00:00:00Z",
            "results": sorted(results, key=lambda result: str(result["api_key_id"])),
        }
        for day, results in sorted(by_day.items())
    ]
    (logs / "anthropic").mkdir(parents=True, exist_ok=True)
    document = {"data": buckets, "has_more": False, "next_page": None}
    (logs / "anthropic" / "messages_usage_1d.json").write_text(_dumps(document) + "\n")


def _gh_time(moment: dt.datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _write_prs(activities: list[Activity], folder: Path) -> None:
    prs = sorted(((pr, a.person) for a in activities for pr in a.prs), key=lambda item: item[0].number)
    documents = []
    for pr, person in prs:
        reviews = [
            {
                "author": {"login": login},
                "state": "APPROVED",
                "body": "",
                "submittedAt": _gh_time(pr.merged - dt.timedelta(minutes=10) if pr.merged else None),
            }
            for login in pr.reviewers
        ]
        documents.append(
            {
                "additions": pr.additions,
                "author": {"id": f"U_{person.index:04d}", "is_bot": False, "login": pr.author, "name": person.name},
                "changedFiles": pr.changed_files,
                "closedAt": _gh_time(pr.merged),
                "createdAt": _gh_time(pr.created),
                "deletions": pr.deletions,
                "labels": [],
                "mergedAt": _gh_time(pr.merged),
                "mergedBy": {"login": pr.author if not pr.reviewers else pr.reviewers[0]},
                "number": pr.number,
                "reviewDecision": "APPROVED" if pr.reviewers else "",
                "reviews": reviews,
                "state": "MERGED" if pr.merged else "OPEN",
                "title": pr.title,
                "url": f"https://github.com/adv-example/{pr.repo}/pull/{pr.number}",
            }
        )
    (folder / "prs.json").write_text("[" + ",\n".join(_dumps(d) for d in documents) + "]\n")


def _jira_time(moment: dt.datetime) -> str:
    moment = moment.astimezone(dt.UTC)
    hour = moment.hour % 12 or 12
    return f"{moment:%d/%b/%y} {hour}:{moment:%M} {'AM' if moment.hour < 12 else 'PM'}"


def _write_jira(activities: list[Activity], folder: Path) -> None:
    tickets = sorted((t for a in activities for t in a.tickets), key=lambda t: t.key)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(
        [
            "Summary",
            "Issue key",
            "Issue id",
            "Issue Type",
            "Status",
            "Priority",
            "Resolution",
            "Assignee",
            "Created",
            "Resolved",
            "Custom field (Story Points)",
        ]
    )
    for ticket in tickets:
        number = ticket.key.split("-")[1]
        writer.writerow(
            [
                f"Work item {number}",
                ticket.key,
                f"10{number}",
                ticket.issue_type,
                "Done",
                "Medium",
                "Fixed" if ticket.issue_type == "Bug" else "Done",
                ticket.assignee,
                _jira_time(ticket.created),
                _jira_time(ticket.resolved),
                "" if ticket.points is None else ticket.points,
            ]
        )
    (folder / "jira.csv").write_text(buffer.getvalue())


def policy_document(activities: list[Activity]) -> dict[str, Any]:
    """The policy: UTC days and the identity map joining emails, GitHub logins, Jira names and API keys."""
    identities = {
        a.person.email: {"team": a.person.team, "aliases": [a.person.login, a.person.name, a.person.api_key]}
        for a in sorted(activities, key=lambda a: a.person.email)
    }
    return {"timezone": "UTC", "identities": identities}


def manifest_document(organisation: Organisation, activities: list[Activity]) -> dict[str, Any]:
    """Planted cases and exact token totals per developer."""
    days = organisation.days
    developers = []
    for activity in sorted(activities, key=lambda a: a.person.email):
        person, by_tool = activity.person, activity.tokens_by_tool()
        developers.append(
            {
                "developer": person.email,
                "team": person.team,
                "kind": person.kind,
                "case": person.case,
                "intensity": person.intensity,
                "tool": person.tool,
                "zone": person.zone,
                "fte": person.fte,
                "starts": (days[0] + dt.timedelta(days=person.first_day)).isoformat(),
                "tokens": dict(sorted(by_tool.items())),
                "total_tokens": sum(by_tool.values()),
                "sessions": len(activity.sessions),
                "headless_sessions": sum(1 for s in activity.sessions if s.headless),
                "merged_prs": sum(1 for pr in activity.prs if pr.merged),
                "one_line_prs": sum(1 for pr in activity.prs if pr.additions + pr.deletions <= 2),
                # The person's latent outcome rate (1 = typical), set before any case changed their tokens: the
                # truth a board can only estimate, for the evaluation to say whom a gamer's honest self resembles.
                "productivity": round(person.productivity, 4),
            }
        )
    config = organisation.config
    return {
        "generator": "tokenaudit.adversary",
        "seed": config.seed,
        "weeks": config.weeks,
        "period": {"since": days[0].isoformat(), "until": days[-1].isoformat()},
        "developers": developers,
    }


def write_organisation(organisation: Organisation, folder: Path, gamers: bool = True) -> dict[str, Any]:
    """Write every file under ``folder`` (created); without ``gamers``, the planted gamers are left out entirely.

    Returns the manifest (also written as ``manifest.json``).
    """
    activities = [a for a in organisation.activities if gamers or a.person.kind != GAMER]
    logs, outcomes = folder / "logs", folder / "outcomes"
    logs.mkdir(parents=True, exist_ok=True)
    outcomes.mkdir(parents=True, exist_ok=True)
    for activity in activities:
        _write_claude(activity, logs)
    _write_cursor(activities, logs)
    _write_gateway(activities, logs)
    _write_day_usage(activities, logs)
    _write_prs(activities, outcomes)
    _write_jira(activities, outcomes)
    (folder / "policy.yaml").write_text(yaml.safe_dump(policy_document(activities), sort_keys=True))
    manifest = manifest_document(organisation, activities)
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest
