"""A synthetic engineering organisation with planted token-gamers and ground truth (methods doc section 7).

Why a simulator: real token logs never come with labels, so detector precision/recall and the ranking's
agreement with true yield can only be measured on an organisation whose truth we wrote ourselves. The
generator is deliberately *not* the inverse of any detector: honest prompt gaps come from three
heavy-tailed families, days have two personal peaks in the developer's own time zone, and gamers keep
their honest baseline underneath the planted behaviour.

Conventions the evaluation relies on:

- Everything is deterministic per ``seed``. Each developer draws from their own random streams
  (baseline, gaming, outcomes), so gaming intensity never changes a developer's baseline or outcomes:
  inflated tokens buy nothing, by construction.
- Gaming starts on the leaderboard launch date. ``intensity`` is the ratio of total tokens while
  gaming to the developer's typical honest volume over the same days (their baseline's daily average).
- Outcomes: a merged PR is +1 and a closed Story/Task +0.5; a Jira Bug is a defect (-1) of its assignee
  (Bugs never count as closed tickets); a revert (-1) is charged to the author of the reverted PR, while
  the revert PR itself is authored by a teammate and is no outcome for them. No incidents are generated.
- ``true_yield`` is the expected weighted outcome points per million effective tokens actually used.

The package follows the generator's steps: :mod:`.config` (constants, :class:`SimulationConfig`, the result),
:mod:`.organisation` (people, teams, calendar), :mod:`.behaviour` (each developer's rhythm), :mod:`.accounting`
(requests and tokens), :mod:`.gaming` (the planted styles), :mod:`.outcomes` (PRs, tickets, truth),
:mod:`.assembly` (:func:`simulate`) and :mod:`.files` (:func:`write_simulation`).
"""

from tokenaudit.simulate.assembly import simulate
from tokenaudit.simulate.config import GAMING_STYLES, MODELS, TOOLS, SimulatedOrg, SimulationConfig
from tokenaudit.simulate.files import write_simulation

__all__ = ["GAMING_STYLES", "MODELS", "TOOLS", "SimulatedOrg", "SimulationConfig", "simulate", "write_simulation"]
