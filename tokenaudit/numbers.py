"""Numbers as a person reads them in rendered outputs (tables, pages, charts); JSON keeps full precision.

A score of 43.5531 reads as 43.6 and 8.9546 as 8.95: three significant figures are as many as a reader
compares, and more suggest a precision the outcome weights do not have. A column keeps its trailing zeros
(22.97 reads 23.0 beside 18.3); whole numbers show no decimals and large ones get thousands separators.
"""

from __future__ import annotations


def _decimals(value: float) -> int:
    magnitude = abs(value)
    return 0 if magnitude >= 100 else 1 if magnitude >= 10 else 2


def readable(value: float | None) -> str:
    """``value`` to about three significant figures: 1,234 · 43.6 · 23.0 · 8.95 · 0.40 · 3 (empty for None)."""
    if value is None:
        return ""
    digits = 0 if value == int(value) else _decimals(round(value, _decimals(value)))  # 99.96 rounds to 100
    text = f"{value:,.{digits}f}"
    return text.lstrip("-") if text.strip("-0.") == "" else text


def readable_value(value: object) -> str:
    """A flag's evidence value: numbers :func:`readable`, anything else (a basis, a flag, None) as it is."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return readable(value)
    return str(value)


def hours_or_days(value: float | None, unit: str) -> str:
    """A median duration with its unit (``h`` or ``d``), readable; empty when nothing was timed."""
    return "" if value is None else f"{readable(value)} {unit}"
