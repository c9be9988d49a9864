"""Periods: named report periods (``--period last-week | YYYY-Www | YYYY-MM``) as inclusive local date ranges, and
the one check of a time zone name (``--tz`` and the policy's ``timezone``)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tokenaudit.errors import UsageError


@dataclass(frozen=True)
class Period:
    """Inclusive local-date bounds (either may be open) and the time zone that defines a day."""

    since: dt.date | None = None
    until: dt.date | None = None
    timezone: str = "UTC"

    def as_dict(self) -> dict[str, str | None]:
        """JSON form; open bounds are null."""
        return {
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "timezone": self.timezone,
        }


def zone_name(name: str) -> str:
    """``name`` when it is an IANA time zone; a ValueError saying what was expected otherwise."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        msg = f"expected an IANA time zone such as 'Europe/Berlin', got {name!r}"
        raise ValueError(msg) from None
    return name


def parse_period(spec: str, today: dt.date) -> tuple[dt.date, dt.date]:
    """(first day, last day) of a named period; ``today`` anchors ``last-week`` (the ISO week before)."""
    text = spec.strip()
    if text == "last-week":
        monday = today - dt.timedelta(days=today.weekday() + 7)
        return monday, monday + dt.timedelta(days=6)
    week = re.fullmatch(r"(\d{4})-W(\d{2})", text)
    if week:
        try:
            monday = dt.date.fromisocalendar(int(week.group(1)), int(week.group(2)), 1)
        except ValueError:
            raise UsageError(f"--period: no ISO week {text!r}") from None
        return monday, monday + dt.timedelta(days=6)
    month = re.fullmatch(r"(\d{4})-(\d{2})", text)
    if month and 1 <= int(month.group(2)) <= 12:
        first = dt.date(int(month.group(1)), int(month.group(2)), 1)
        following = dt.date(first.year + first.month // 12, first.month % 12 + 1, 1)
        return first, following - dt.timedelta(days=1)
    msg = f"--period: expected last-week, an ISO week such as 2026-W47 or a month such as 2026-11, got {spec!r}"
    raise UsageError(msg)


def previous_period(first: dt.date, last: dt.date) -> tuple[dt.date, dt.date]:
    """The period of equal length just before (for trends)."""
    length = last - first + dt.timedelta(days=1)
    return first - length, first - dt.timedelta(days=1)
