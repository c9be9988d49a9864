"""The honest-self benchmark's counterfactual: the planted gamer rebuilt as an ordinary developer, nothing else."""

from __future__ import annotations

from types import ModuleType

import pytest

from tests.helpers import load_benchmark
from tokenaudit.adversary import AdversaryConfig, generate
from tokenaudit.adversary.model import Activity


@pytest.fixture(scope="module")
def honest_self() -> ModuleType:
    return load_benchmark("honest_self")


def test_the_honest_self_keeps_the_person_and_outcomes_and_drops_only_the_inflation(honest_self: ModuleType) -> None:
    planted = generate(AdversaryConfig(seed=3, developers=30, weeks=2, activity=0.5))
    rebuilt = honest_self.honest_self(planted, "verbose_inflator")
    pairs = list(zip(planted.activities, rebuilt.activities, strict=True))
    (gamer, honest), *_ = [(a, b) for a, b in pairs if a.person.case == "verbose_inflator"]
    # Same person and outcomes; the tool turns it inflated (x2 at high intensity) are gone, so fewer requests per
    # session and fewer tokens (the sessions themselves are another draw of the person's own stream).
    assert gamer.person.intensity == "high"
    assert honest.person == gamer.person and honest.prs == gamer.prs and honest.tickets == gamer.tickets

    def requests_per_session(activity: Activity) -> float:
        return sum(len(session.requests) for session in activity.sessions) / len(activity.sessions)

    assert requests_per_session(gamer) > 1.5 * requests_per_session(honest)
    assert sum(gamer.tokens_by_tool().values()) > 1.5 * sum(honest.tokens_by_tool().values())
    # Everyone else is exactly as planted (the other gamers too).
    assert all(a is b for a, b in pairs if a.person.case != "verbose_inflator")
    # Another case rebuilt leaves the inflator alone.
    other = honest_self.honest_self(planted, "night_agent")
    assert [a.person.case for a in other.activities] == [a.person.case for a in planted.activities]
    assert next(a for a in other.activities if a.person.case == "verbose_inflator") is gamer
