"""How a sweep or a worker call ends: the parent run's status and tags, and the result.

Every path leaves the parent run right: FINISHED with the results when the budget is spent (a stale
``sweep.stopped`` from an earlier interrupt is removed); KILLED with the counts so far and
``sweep.stopped=interrupted`` on SIGINT/SIGTERM; FAILED with ``bplab.failure=storage_unavailable``
when the Optuna storage was lost. A later call of the same command resumes it.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence

from experiments import tracking
from experiments.errors import failure_tags
from experiments.names import INTERRUPTED, STORAGE_UNAVAILABLE, TAG_SWEEP_POISON, TAG_SWEEP_STOPPED
from sweeps.failure import StorageLost, classify, root_cause
from sweeps.parent import finalize
from sweeps.progress import Progress, Snapshot, progress, snapshot
from sweeps.result import Ending, SweepResult
from sweeps.study import StudyHandle, is_done


def result(handle: StudyHandle, ending: Ending, **fields) -> SweepResult:
    """The :class:`SweepResult` of ``handle``'s study; ``fields`` are its optional attributes."""
    spec = handle.spec
    fields.setdefault("parent_run_id", handle.parent_run_id)
    return SweepResult(
        ending, handle.name, handle.url.redacted(), handle.budget, spec.metric, spec.direction, **fields
    )


def _counts(handle: StudyHandle, start: float) -> tuple[Snapshot, Progress]:
    """The study's snapshot and counts now."""
    snap = snapshot(handle.study.get_trials(deepcopy=False))
    elapsed = time.monotonic() - start
    return snap, progress(snap, budget=handle.budget, direction=handle.spec.direction, elapsed=elapsed)


def count_tags(p: Progress) -> dict[str, int]:
    """The parent run's ``sweep.<count>`` tags."""
    names = ("done", "complete", "pruned", "failed", "diverged", "gradient_bugs", "poison")
    return {f"sweep.{name}": getattr(p, name) for name in names}


def _clear_stopped(parent: str) -> None:
    """A resumed sweep that finished is no longer stopped: its stale ``sweep.stopped`` goes."""
    if TAG_SWEEP_STOPPED in tracking.get_run(parent).data.tags:
        tracking.client().delete_tag(parent, TAG_SWEEP_STOPPED)


def finish(handle: StudyHandle, start: float, *, deadline_hit: bool, lost: Sequence[str] = ()) -> SweepResult:
    """Finalises the parent run when nothing is left (or time is up); otherwise leaves that to the
    last worker and says so."""
    trials = handle.study.get_trials(deepcopy=False)
    done = is_done(trials, handle.budget)
    ending, parent_url = Ending.OTHERS_RUNNING, None
    if done or deadline_hit:
        finalize(handle, elapsed=time.monotonic() - start, stopped=None if done else "timeout")
        if done:
            _clear_stopped(handle.parent_run_id)
        ending = Ending.DONE if done else Ending.TIMED_OUT
        parent_url = tracking.run_url(handle.parent_run_id)
    snap, p = _counts(handle, start)
    if parent_url:
        tracking.set_tags(handle.parent_run_id, {TAG_SWEEP_POISON: p.poison})
    return result(handle, ending, progress=p, snapshot=snap, parent_url=parent_url, lost_workers=lost)


def stop_parent(handle: StudyHandle, start: float, ending: Ending, reason: str = "") -> SweepResult:
    """The parent run of a stopped sweep: KILLED (interrupted) or FAILED (storage lost), with the
    counts so far when the storage still answers, and ``sweep.stopped``."""
    snap = p = None
    with contextlib.suppress(Exception):  # a lost storage has no counts to give
        snap, p = _counts(handle, start)
    if handle.parent_run_id:  # the same command resumes under this parent run
        tags = {**(count_tags(p) if p else {}), TAG_SWEEP_STOPPED: INTERRUPTED}
        status = "KILLED"
        if ending == Ending.STORAGE_LOST:
            tags.update(failure_tags(STORAGE_UNAVAILABLE, reason))
            tags[TAG_SWEEP_STOPPED] = STORAGE_UNAVAILABLE
            status = "FAILED"
        tracking.set_tags(handle.parent_run_id, tags)
        tracking.end_run(handle.parent_run_id, status)
    return result(handle, ending, progress=p, snapshot=snap, reason=reason or None)


def storage_lost(handle: StudyHandle, error: Exception) -> str | None:
    """The one line of a lost storage, or ``None`` when ``error`` is something else."""
    if isinstance(error, StorageLost):
        return str(error)
    if classify(error) == STORAGE_UNAVAILABLE:
        return f"the Optuna storage {handle.url.redacted()} stopped answering: {root_cause(error)}"
    return None
