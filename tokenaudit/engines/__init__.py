"""Engines that run the load: the embedded local one (:func:`tokenaudit.ingest.load_events`) and, with the
``dask`` extra, a Dask cluster (:mod:`tokenaudit.engines.dask`). Both give the same events, byte for byte.

Importing this package costs nothing (the command line reads :class:`Engine` before anything heavy is loaded).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from enum import StrEnum
from typing import TYPE_CHECKING

from tokenaudit.errors import UsageError

if TYPE_CHECKING:
    from tokenaudit.ingest import LoadedEvents, Period
    from tokenaudit.policy import Policy
    from tokenaudit.shards import Reduction


class Engine(StrEnum):
    """``--engine``."""

    LOCAL = "local"
    DASK = "dask"


def load(
    inputs: Sequence[str],
    policy: Policy,
    period: Period,
    *,
    engine: Engine = Engine.LOCAL,
    scheduler: str | None = None,
    input_format: str | None = None,
    developer: str | None = None,
    stdin: Iterable[bytes] | None = None,
    memory_limit: int | None = None,
    detector_features: bool = False,
    keep_events: bool = True,
    reduction: Reduction | None = None,
) -> LoadedEvents:
    """The load on the chosen engine; a Dask cluster is connected (or started) for the load alone. With
    ``detector_features`` the shards' detectors' features are computed where they are cleaned; without
    ``keep_events`` a cluster sends back the events' usage cube instead of the events, and the local engine, past its
    memory budget, keeps the cube alone too (for ``totals`` and an audit, which read nothing else of them), both with
    what ``reduction`` asks for besides (a report's periods, ``explain``'s views).
    """
    if engine is Engine.LOCAL:
        if scheduler:
            raise UsageError("--scheduler needs --engine dask")
        from tokenaudit.ingest import load_events

        return load_events(
            inputs,
            policy,
            period,
            input_format=input_format,
            developer=developer,
            stdin=stdin,
            memory_limit=memory_limit,
            detector_features=detector_features,
            keep_events=keep_events,
            reduction=reduction,
        )
    try:
        from tokenaudit.engines.dask import connect, load_events_on
    except ImportError:
        msg = '--engine dask needs the dask extra: pip install "tokenaudit[dask]"'
        raise UsageError(msg) from None
    with connect(scheduler) as client:
        return load_events_on(
            client,
            inputs,
            policy,
            period,
            input_format=input_format,
            developer=developer,
            stdin=stdin,
            detector_features=detector_features,
            keep_events=keep_events,
            reduction=reduction,
        )
