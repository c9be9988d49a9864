"""The policy's ``outcomes:`` section: how outcome exports are read and scored."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

DEFAULT_WEIGHTS = {"merged_pr": 1.0, "closed_ticket": 0.5, "defect": -1.0, "incident": -2.0, "revert": -1.0}


class OutcomesConfig(BaseModel):
    """Outcome weights, what counts as a defect, a revert or a bot, and the lag after the period."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    weights: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    """Points per outcome kind; kinds from generic exports (``review``, ``incident``…) get theirs here."""
    size_weighting: bool = True
    """Weigh outcomes instead of counting them: a merged PR by its effort (lines changed, with a floor and
    diminishing returns), a closed ticket by its story points; both relative to the typical one, so a
    typical PR or ticket is still worth one. Exports without sizes fall back to counts (data quality says so)."""
    tiny_pr_lines: Annotated[int, Field(ge=0)] = 2
    """A merged PR changing at most this many lines (additions + deletions) is worth nothing."""
    small_pr_lines: Annotated[float, Field(gt=0)] = 20.0
    """Below about this many lines a PR's worth fades faster than its size, so splitting work into many
    small PRs does not pay; above it, worth grows with the square root of size (a huge PR is not sunk,
    nor does it dominate)."""
    outcome_lag_days: Annotated[int, Field(ge=0, le=365)] = 14
    """Outcomes this many days after the period still count: a PR merges days after its tokens."""
    defect_issue_types: list[str] = Field(default_factory=lambda: ["Bug"])
    """Jira issue types counted as a defect of their assignee (never as a closed ticket)."""
    not_done_resolutions: list[str] = Field(
        default_factory=lambda: [
            "Won't Do",
            "Won't Fix",
            "Duplicate",
            "Cannot Reproduce",
            "Incomplete",
            "Declined",
            "Rejected",
            "Obsolete",
            "Not a Bug",
            "Invalid",
        ]
    )
    """Jira resolutions that close an issue without the work being done: such an issue is never a closed
    ticket (closing duplicates or declining tickets would otherwise be the cheapest way to climb)."""
    revert_title_pattern: str = r'^Revert "(?P<title>.+)"$'
    """A PR whose title matches is a revert; the named group ``title`` links it to the reverted PR."""
    revert_labels: list[str] = Field(default_factory=lambda: ["revert"])
    bot_pattern: str = r"(\[bot\]$|^app/|^dependabot|^renovate)"
    """PR authors matching this (besides GitHub's own bot marker) are bots and credit nobody."""

    @field_validator("revert_title_pattern", "bot_pattern")
    @classmethod
    def _regex(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            msg = f"expected a regular expression: {exc}"
            raise ValueError(msg) from None
        return value

    @field_validator("weights")
    @classmethod
    def _kinds(cls, value: dict[str, float]) -> dict[str, float]:
        bad = [kind for kind in value if not re.fullmatch(r"[a-z][a-z0-9_]*", kind)]
        if bad:
            msg = f"expected outcome kinds in snake_case (merged_pr, closed_ticket…), got {bad[0]!r}"
            raise ValueError(msg)
        return value
