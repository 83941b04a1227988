"""One run's background writer: a thread that sends queued points in few ``log_batch`` calls, then jobs.

Params, tags and metrics queued together travel in one ``log_batch`` (within MLflow's limits per
call); queued jobs (uploads, the run's ending) run after them, in order. Every write is retried
through an outage (:mod:`.retry`). The registry of writers and the public calls are in :mod:`.writer`.

At most :data:`MAX_CONCURRENT_WRITES` writers of a process talk to the store at once. MLflow's
database store holds one pooled connection through a ``log_batch`` and takes a second inside it (for
the metrics), from a pool of 15 (SQLAlchemy's default 5 + 10 overflow); 16 writers of a population
writing at once each took one and waited for another, all of them, until the pool's 30 s timeout. A
database serialises the writes anyway, so a few at a time lose nothing.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from mlflow.entities import Metric, Param, RunTag

from experiments.errors import TrackingUnavailable, failure_reason, failure_tags
from experiments.failures import classify
from experiments.tracking.retry import one_line, retry_window_s, retrying
from experiments.tracking.store import client

PARAMS_PER_BATCH = 100  # MLflow's limit of params (and of tags) per log_batch
_ENTITIES_PER_BATCH = 1000  # MLflow's limit of metrics + params + tags per log_batch
MAX_QUEUED_POINTS = 200_000  # a bound on what an outage may hold in memory (~40 MB)
# Two connections per write, for 4 writers, leave 7 of the 15 to the training thread's own calls
# (opening and ending runs) and MLflow's system-metrics thread.
MAX_CONCURRENT_WRITES = 4
_store_writes = threading.BoundedSemaphore(MAX_CONCURRENT_WRITES)

log = logging.getLogger(__name__)


class RunWriter:
    """A background thread that writes one run's queued points, then its queued jobs, in order.

    ``put`` only appends (microseconds). The thread takes everything pending, at most every
    :attr:`MIN_INTERVAL_S` unless someone waits, and writes it with as few ``log_batch`` calls as
    MLflow's limits allow: several epochs travel together, so the thread neither adds a store round
    trip per epoch nor competes with training for the GIL after every epoch. A store error is kept
    and raised in the training thread at the next ``put`` or ``flush``.
    """

    MIN_INTERVAL_S = 0.5

    def __init__(
        self, run_id: str, *, on_outage: Callable[[str, TrackingUnavailable], None], on_done: Callable
    ):
        self.run_id = run_id
        self._on_outage, self._on_done = on_outage, on_done
        self.ending = False  # the run's ending is queued: an error after its caller left ends it FAILED
        self._metrics: list[Metric] = []
        self._params: list[Param] = []
        self._tags: list[RunTag] = []
        self._jobs: list[Callable[[], object]] = []
        self._busy = False
        self._waiting = 0
        self._closed = False
        self._error: BaseException | None = None
        self._detached = False  # closed without waiting: no caller will see an error
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._loop, name=f"mlflow-writer-{run_id[:8]}", daemon=True)
        self._thread.start()

    def _pending(self) -> bool:
        return bool(self._metrics or self._params or self._tags or self._jobs)

    def put(self, *, metrics=(), params=(), tags=(), job: Callable[[], object] | None = None) -> None:
        with self._cond:
            self._raise_error()
            if len(self._metrics) + len(metrics) > MAX_QUEUED_POINTS:
                raise TrackingUnavailable(f"{MAX_QUEUED_POINTS} metric points are waiting for the store")
            self._metrics.extend(metrics)
            self._params.extend(params)
            self._tags.extend(tags)
            if job is not None:
                self._jobs.append(job)
            self._cond.notify_all()

    def flush(self) -> None:
        """Blocks until everything put so far is written; re-raises a store error."""
        with self._cond:
            self._waiting += 1
            self._cond.notify_all()
            try:
                self._cond.wait_for(
                    lambda: (not self._pending() and not self._busy) or self._error is not None
                )
            finally:
                self._waiting -= 1
            self._raise_error()

    def close(self, *, wait: bool = True) -> None:
        """Lets the thread end once it has written everything; with ``wait``, blocks until then."""
        try:
            if wait:
                self.flush()
        finally:
            with self._cond:
                self._detached = not wait
                self._closed = True
                self._cond.notify_all()

    def join(self) -> None:
        self._thread.join()

    def _raise_error(self) -> None:
        if self._error is not None:
            error = self._error
            if not isinstance(error, TrackingUnavailable):  # an outage stays: nothing more gets in
                self._error = None
            self._metrics, self._params, self._tags, self._jobs = [], [], [], []
            raise error

    def _take(self) -> tuple[list[dict[str, list]], list[Callable[[], object]]]:
        batches = []
        while self._metrics or self._params or self._tags:
            params, self._params = self._params[:PARAMS_PER_BATCH], self._params[PARAMS_PER_BATCH:]
            tags, self._tags = self._tags[:PARAMS_PER_BATCH], self._tags[PARAMS_PER_BATCH:]
            room = _ENTITIES_PER_BATCH - len(params) - len(tags)
            metrics, self._metrics = self._metrics[:room], self._metrics[room:]
            batches.append({"metrics": metrics, "params": params, "tags": tags})
        jobs, self._jobs = self._jobs, []
        return batches, jobs

    def _loop(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._pending() or self._closed)
                if not self._pending():
                    break  # closed and drained
                if not self._closed:  # let more epochs gather, unless someone waits
                    self._cond.wait_for(lambda: self._waiting or self._closed, timeout=self.MIN_INTERVAL_S)
                batches, jobs = self._take()
                self._busy = True
            try:
                window = retry_window_s()
                for b in batches:
                    retrying(lambda b=b: _in_a_slot(client().log_batch, self.run_id, **b), window_s=window)
                for job in jobs:
                    retrying(lambda j=job: _in_a_slot(j), window_s=window)
            except BaseException as e:  # handed to the training thread
                with self._cond:
                    self._error = e
                    if isinstance(e, TrackingUnavailable):
                        self._on_outage(self.run_id, e)
                    # Nobody will see a later error, or the store is gone for this run (its later
                    # writes fail at once, and the caller is told once): what waits is dropped.
                    if self._detached or isinstance(e, TrackingUnavailable):
                        self._metrics, self._params, self._tags, self._jobs = [], [], [], []
                if self._detached:  # nobody waits to see the error
                    _orphaned(self.run_id, e, end=self.ending)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()
        self._on_done(self)


def _in_a_slot(call: Callable[..., object], *args, **kwargs) -> object:
    """One call to the store, as one of at most :data:`MAX_CONCURRENT_WRITES` at a time (a retry
    waits for the store outside its slot)."""
    with _store_writes:
        return call(*args, **kwargs)


def _orphaned(run_id: str, error: BaseException, *, end: bool) -> None:
    """Best effort for writes that failed after their caller moved on: say so, and end the run FAILED
    with the reason when its ending was queued (else `bplab runs reconcile` ends it later)."""
    log.warning("bplab: warning: run %s: queued writes failed: %s", run_id, one_line(error))
    if end:
        _end_failed(run_id, error)


def _end_failed(run_id: str, error: BaseException) -> None:
    """Best effort: the run ends FAILED with the category a run's own failure would get (``oom``,
    ``tracking_unavailable``, else ``exception``: :func:`experiments.failures.classify`) and why."""
    tags = failure_tags(classify(error), failure_reason(error))
    try:
        client().log_batch(run_id, tags=[RunTag(k, v) for k, v in tags.items()])
        client().set_terminated(run_id, status="FAILED")
    except Exception as e:  # the store is what failed; `bplab runs reconcile` ends the run later
        log.warning("bplab: warning: run %s could not be ended FAILED: %s", run_id, one_line(e))
