"""Named report periods (``--period last-week | YYYY-Www | YYYY-MM``) as inclusive local date ranges."""

from __future__ import annotations

import datetime as dt
import re

from tokenaudit.errors import UsageError


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
