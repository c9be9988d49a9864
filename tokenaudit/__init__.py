"""tokenaudit: audit what AI-assistant token spend bought.

The public API is the application layer (:mod:`tokenaudit.app`): load settings, resolve a period, load events,
audit, and turn the result into a document::

    import tokenaudit as ta

    settings = ta.load_settings(Path("policy.yaml"))
    result = ta.audit(ta.load(["exports/"], settings, ta.resolve_period(settings)), settings)
"""

__version__ = "0.1.0"

import sys
from importlib import import_module
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tokenaudit.app import audit, load, load_settings, report_data, resolve_period, totals_by
    from tokenaudit.audit import AuditResult
    from tokenaudit.documents import audit_document, rank_document, teams_document
    from tokenaudit.ingest import LoadedEvents
    from tokenaudit.periods import Period
    from tokenaudit.policy import Policy

_HOMES = {
    **dict.fromkeys(("audit", "load", "load_settings", "report_data", "resolve_period", "totals_by"), "tokenaudit.app"),
    "AuditResult": "tokenaudit.audit",
    **dict.fromkeys(("audit_document", "rank_document", "teams_document"), "tokenaudit.documents"),
    "LoadedEvents": "tokenaudit.ingest",
    "Period": "tokenaudit.periods",
    "Policy": "tokenaudit.policy",
}
"""Where each public name lives. They are imported on first use, not with the package: a reader's helper process
imports ``tokenaudit.readers`` alone, without the application, its detectors and their settings' models."""


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        msg = f"module 'tokenaudit' has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(import_module(_HOMES[name]), name)
    globals()[name] = value
    return value


class _Package(ModuleType):
    """The package's module, whose ``audit`` is the application's function even once the submodule of that name is
    imported (the import system then sets the package's attribute to the submodule; an eager import of the function
    after the submodules, as this package once made, had the same effect)."""

    @property
    def audit(self) -> Any:
        return getattr(import_module("tokenaudit.app"), "audit")  # noqa: B009

    @audit.setter
    def audit(self, _submodule: Any) -> None:
        """The submodule stays in ``sys.modules``, where ``from tokenaudit.audit import`` finds it."""


sys.modules[__name__].__class__ = _Package

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
