"""Risk levels: one ordered enum for a developer's risk, a flag's severity, ``--fail-on`` and ``evaluate --at``.

Levels are compared by their order here, never by spelling them out again.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class RiskLevel(StrEnum):
    """Lowest first."""

    NONE = "none"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"

    @property
    def rank(self) -> int:
        """0 for none up to 3 for high."""
        return list(RiskLevel).index(self)

    def and_above(self) -> list[str]:
        """This level and every higher one, as their values."""
        return [level.value for level in RiskLevel if level.rank >= self.rank]


LEVELS: Final = tuple(level.value for level in RiskLevel)
"""Every level, lowest first."""
RAISED: Final = LEVELS[1:]
"""The levels a threshold can name (``--fail-on``, ``evaluate --at``): low, medium, high."""
FLAGGED: Final = tuple(RiskLevel.MEDIUM.and_above())
"""The levels that ask for a conversation (the report's flagged list)."""
MOST_SEVERE_FIRST: Final = tuple(reversed(LEVELS))
