"""How a run that did not finish is closed: the status that happened, and tags saying why."""

from __future__ import annotations

import logging
from typing import Any

from experiments import names, tracking
from experiments.errors import (
    OutOfMemory,
    RunFailed,
    StopRun,
    TrackingUnavailable,
    failure_reason,
    failure_tags,
)
from experiments.failures import classify

log = logging.getLogger(__name__)

# The unexpected exceptions that are a known way for a run to fail, not a bug: the caller is told
# with a RunFailed (one line from the CLI, exit 1), as for a diverged run.
AS_RUN_FAILED: dict[str, type[RunFailed]] = {
    names.OOM: OutOfMemory,
    names.TRACKING_UNAVAILABLE: TrackingUnavailable,
}


def ending(error: BaseException) -> tuple[str, dict[str, Any]]:
    """The status and tags of a run ended by ``error``.

    ``StopRun``: its status and tags; ``RunFailed``: FAILED with its category; ``KeyboardInterrupt``
    (Ctrl-C, SIGTERM): KILLED; anything else: FAILED with :func:`experiments.failures.classify`'s
    category (``oom``, ``tracking_unavailable`` or ``exception``).
    """
    if isinstance(error, StopRun):
        return error.status, {**error.tags, names.TAG_STOP_REASON: error.reason or error.status}
    if isinstance(error, RunFailed):
        return "FAILED", failure_tags(error.kind, error.message)
    if isinstance(error, KeyboardInterrupt):
        return "KILLED", {names.TAG_STOP_REASON: "interrupted (SIGINT or SIGTERM)"}
    return "FAILED", failure_tags(classify(error), failure_reason(error))


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


def run_failed(error: BaseException, run_id: str | None) -> BaseException:
    """What the caller of a run ended by ``error`` is told: ``error`` itself, or for an out-of-memory
    or a tracking outage the :class:`RunFailed` of that category (raise it ``from error``).

    A bug keeps its own exception and traceback; running out of memory or losing the server is how
    a run fails on a given machine, so it reads like a diverged run: one line, exit 1, the run named.
    """
    if not isinstance(error, Exception) or isinstance(error, RunFailed | StopRun):
        return error
    failed = AS_RUN_FAILED.get(classify(error))
    return error if failed is None else failed(failure_reason(error), run_id)
