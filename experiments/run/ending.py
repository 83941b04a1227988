"""How a run that did not finish is closed: the status that happened, and tags saying why."""

from __future__ import annotations

import logging
from typing import Any

from experiments import names, tracking
from experiments.errors import RunFailed, StopRun, TrackingUnavailable, failure_reason, failure_tags

log = logging.getLogger(__name__)


def ending(error: BaseException) -> tuple[str, dict[str, Any]]:
    """The status and tags of a run ended by ``error``.

    ``StopRun``: its status and tags; ``RunFailed``: FAILED with its category; ``KeyboardInterrupt``
    (Ctrl-C, SIGTERM): KILLED; anything else: FAILED, category ``exception``.
    """
    if isinstance(error, StopRun):
        return error.status, {**error.tags, names.TAG_STOP_REASON: error.reason or error.status}
    if isinstance(error, RunFailed):
        return "FAILED", failure_tags(error.kind, error.message)
    if isinstance(error, KeyboardInterrupt):
        return "KILLED", {names.TAG_STOP_REASON: "interrupted (SIGINT or SIGTERM)"}
    return "FAILED", failure_tags(names.EXCEPTION, failure_reason(error))


def end_unfinished(run_id: str | None, error: BaseException) -> None:
    """Ends the run as ``error`` says; a store error here must not hide the original one."""
    if run_id is None or isinstance(error, TrackingUnavailable):
        return  # the store is what failed: reconcile ends the run once it answers again
    status, tags = ending(error)
    try:
        tracking.set_tags(run_id, tags)
        tracking.end_run(run_id, status)
    except Exception as e:  # the store itself may be what failed
        log.warning("bplab: warning: could not mark run %s %s: %s", run_id, status, e)
