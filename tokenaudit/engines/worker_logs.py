"""Imported first by a local cluster's workers (:data:`~tokenaudit.engines.dask.PRELOADED`): keeps Dask's logs of
faults it recovers from off the audit's stderr.

A worker whose heartbeat meets a closed or stalled connection logs the ``OSError`` with its traceback at ERROR and
tries again at the next beat; on a busy machine, or while the cluster closes after the audit, that prints tracebacks
under a run that succeeded. A real loss still surfaces: a task whose worker is gone fails in the driver, which
reports it in one line. Workers of a cluster the user runs never import this module, so their logs stay whole.
"""

from __future__ import annotations

import logging
from typing import Final

RETRIED: Final = "Failed to communicate with scheduler during heartbeat"
"""The start of the message Dask's worker logs when a heartbeat fails and will be retried."""


def retried_heartbeat(record: logging.LogRecord) -> bool:
    """False for a failed heartbeat's record (so the logger drops it), True for every other record."""
    return not str(record.msg).startswith(RETRIED)


logging.getLogger("distributed.worker").addFilter(retried_heartbeat)
