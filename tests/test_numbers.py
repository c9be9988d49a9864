"""Numbers in rendered outputs read as a person reads them: about three significant figures."""

from __future__ import annotations

import pytest

from tokenaudit.numbers import readable, readable_value


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (43.5531, "43.6"),
        (8.9546, "8.95"),
        (0.4218, "0.42"),
        (3.0, "3"),
        (12.04, "12.0"),
        (0.4, "0.40"),
        (1234.5, "1,234"),
        (-1.256, "-1.26"),
        (-0.001, "0.00"),
        (99.96, "100"),
        (None, ""),
    ],
)
def test_readable(value: float | None, text: str) -> None:
    assert readable(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (2652133.5385, "2,652,134"),
        (0.8458, "0.85"),
        (201, "201"),
        (True, "True"),
        (None, "None"),
        ("prompts", "prompts"),
    ],
)
def test_evidence_values_read_as_numbers_only_where_they_are_numbers(value: object, text: str) -> None:
    assert readable_value(value) == text
