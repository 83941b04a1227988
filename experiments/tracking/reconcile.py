"""Ending the runs that a dead process left RUNNING (``bplab runs reconcile``).

Every run carries the host, pid and start time of the process that opened it. A RUNNING run whose
process is gone (on this host: the pid does not run, or it runs with another start time, i.e. the pid
was reused) is ended FAILED with ``bplab.failure=worker_lost``; KILLED when its tags show that it was
being stopped on purpose. A run whose process is alive is never touched.

Only this host can tell whether its pid lives. Runs of other hosts (and runs without the three tags,
older than this bookkeeping) are left alone, unless ``stale_after`` is given: then such a run is ended
when it has shown no sign of life (its start, its last metric) for that many seconds. A sweep's parent
run belongs to its study, not to a process (``bplab sweep --workers 0`` leaves it open for the workers
it waits for), so it is never ended here: the sweep finalises it.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from mlflow.entities import ViewType
from mlflow.exceptions import MlflowException

from experiments.errors import BadInput, failure_tags
from experiments.names import (
    TAG_HOST,
    TAG_KIND,
    TAG_PID,
    TAG_PID_START,
    TAG_STOP_REASON,
    WORKER_LOST,
)
from experiments.process import process_alive
from experiments.tracking.runs import end_run
from experiments.tracking.store import client
from experiments.tracking.writer import set_tags

_PAGE = 1000
log = logging.getLogger("bplab")  # with no handler set up, Python writes warnings to stderr, one line each
OWNED_BY_STUDY = ("sweep",)  # TAG_KIND values whose run no single process holds


@dataclass(frozen=True)
class Ended:
    """A run that reconcile ended: its id, experiment, new status and why."""

    run_id: str
    experiment_id: str
    run_name: str
    status: str
    reason: str


def _int(text: str | None) -> int | None:
    return int(text) if text and text.lstrip("-").isdigit() else None


def running_runs() -> Iterator:
    """Every RUNNING run of every active experiment of the store in use."""
    c = client()
    ids, token = [], None
    while True:
        page = c.search_experiments(view_type=ViewType.ACTIVE_ONLY, max_results=_PAGE, page_token=token)
        ids += [e.experiment_id for e in page]
        token = page.token
        if not token:
            break
    for start in range(0, len(ids), 100):  # servers cap the experiments of one search
        token = None
        while True:
            page = c.search_runs(
                ids[start : start + 100],
                filter_string="attributes.status = 'RUNNING'",
                max_results=_PAGE,
                page_token=token,
            )
            yield from page
            token = page.token
            if not token:
                break


def last_sign_of_life_ms(run) -> int:
    """The run's start, or its latest metric's timestamp if later (epoch milliseconds)."""
    stamps = [m.timestamp for m in getattr(run.data, "_metric_objs", ())]
    return max([run.info.start_time or 0, *stamps])


def why_gone(run, *, this_host: str, stale_after: float | None, now_ms: int) -> str | None:
    """Why ``run``'s process is gone, in words, or ``None`` when it may be alive (leave it)."""
    tags = run.data.tags
    if tags.get(TAG_KIND) in OWNED_BY_STUDY:
        return None
    host, pid, start = tags.get(TAG_HOST), _int(tags.get(TAG_PID)), _int(tags.get(TAG_PID_START))
    if host == this_host and pid is not None:
        if process_alive(host, pid, start, this_host=this_host):
            return None
        return f"its process {pid} on {host} is gone (found by bplab runs reconcile)"
    if stale_after is None:
        return None
    idle_s = (now_ms - last_sign_of_life_ms(run)) / 1000
    if idle_s < stale_after:
        return None
    where = f"on {host}" if host else "with no process recorded"
    return f"no sign of life for {idle_s:.0f} s {where} (bplab runs reconcile --stale-after {stale_after:g})"


def reconcile_runs(
    *,
    stale_after: float | None = None,
    dry_run: bool = False,
    on_ended: Callable[[Ended], None] | None = None,
) -> list[Ended]:
    """Ends every RUNNING run whose process is gone; returns them (``dry_run``: only finds them).

    Args:
      stale_after: also end runs of other hosts, or without a recorded process, that showed no sign
        of life for this many seconds (``None``: leave them; only their host can tell).
      dry_run: find and return them, change nothing.
      on_ended: called with each run as it is ended (for a CLI that prints as it goes).

    Raises:
      BadInput: the store refused to end a run (the runs before it stay ended).
    """
    this_host = socket.gethostname()
    now_ms = int(time.time() * 1000)
    ended = []
    for run in list(running_runs()):
        reason = why_gone(run, this_host=this_host, stale_after=stale_after, now_ms=now_ms)
        if reason is None:
            continue
        status = "KILLED" if TAG_STOP_REASON in run.data.tags else "FAILED"
        item = Ended(run.info.run_id, run.info.experiment_id, run.info.run_name or "", status, reason)
        if not dry_run:
            if client().get_run(item.run_id).info.status != "RUNNING":
                continue  # its process ended it after the search (and then exited): leave it as it ended
            try:
                set_tags(item.run_id, failure_tags(WORKER_LOST, reason))
                end_run(item.run_id, status)
            except MlflowException as e:  # e.g. a user who may only read: one line, not a traceback
                raise BadInput(
                    f"run {item.run_id}: MLflow refused to end it: {' '.join(str(e).split())[:200]}"
                ) from None
        ended.append(item)
        if on_ended is not None:
            on_ended(item)
    return ended


def describe(item: Ended) -> str:
    """One line for a run reconcile ended."""
    name = f" ({item.run_name})" if item.run_name else ""
    return f"{item.status} run {item.run_id}{name} in experiment {item.experiment_id}: {item.reason}"


def reconcile_at_start(command: str) -> list[Ended]:
    """What ``bplab sweep``, ``worker`` and ``schedule`` run first: :func:`reconcile_runs`, with one
    warning line per ended run. It is housekeeping: a store that refuses it is said in one warning
    line, and the command goes on (its own preflight reports the store)."""
    try:
        return reconcile_runs(
            on_ended=lambda item: log.warning("bplab %s: ended %s", command, describe(item))
        )
    except Exception as e:  # housekeeping must not stop the command that runs it
        log.warning("bplab %s: could not reconcile runs: %s", command, " ".join(str(e).split())[:300])
        return []
