"""An adversarial organisation, written as real export files, for evaluating flags and the adjusted board.

Independent of :mod:`tokenaudit.simulate` by design: that simulator was built next to the detectors, so
figures measured on it say little about people who read the README and the thresholds. Here the gamers
are modelled as such readers (each stays just under a documented cliff, or hides where a detector does
not look), the honest population has the awkward shapes real people have (on-call weeks, travel,
part-time schedules, late joiners, refactor weeks, templated commands, tiny teams), and every session is an
agent conversation with tool turns and prompt caching. The output is what the readers parse: Claude
Code transcripts, Cursor Admin API pages, a generic gateway CSV, an Anthropic Messages usage report
(day grain), ``gh pr list --json`` and a Jira CSV, a policy with the identity map, and a manifest of the
planted cases with each developer's exact token totals.

Usage: ``organisation = generate(AdversaryConfig(seed=3)); write_organisation(organisation, folder)``.
The same seed writes byte-identical files.
"""

from tokenaudit.adversary.files import write_organisation
from tokenaudit.adversary.model import AdversaryConfig, Organisation, generate

__all__ = ["AdversaryConfig", "Organisation", "generate", "write_organisation"]
