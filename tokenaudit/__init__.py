"""tokenaudit: audit what AI-assistant token spend bought.

The public API is the application layer (:mod:`tokenaudit.app`): load settings, resolve a period, load events,
audit, and turn the result into a document::

    import tokenaudit as ta

    settings = ta.load_settings(Path("policy.yaml"))
    result = ta.audit(ta.load(["exports/"], settings, ta.resolve_period(settings)), settings)
"""

__version__ = "0.1.0"

from tokenaudit.app import audit, load, load_settings, report_data, resolve_period, totals_by
from tokenaudit.audit import AuditResult
from tokenaudit.documents import audit_document, rank_document, teams_document
from tokenaudit.ingest import LoadedEvents
from tokenaudit.periods import Period
from tokenaudit.policy import Policy

__all__ = [
    "AuditResult",
    "LoadedEvents",
    "Period",
    "Policy",
    "__version__",
    "audit",
    "audit_document",
    "load",
    "load_settings",
    "rank_document",
    "report_data",
    "resolve_period",
    "teams_document",
    "totals_by",
]
