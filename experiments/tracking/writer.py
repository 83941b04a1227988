"""Metrics, params, tags and artifacts of a run, written so the training loop never waits for the store.

Each run being written has one background writer (:class:`.queue.RunWriter`). ``log_params``, ``set_tags``
(while the run has a writer) and ``log_metrics`` only queue; the writer sends everything queued in
one ``log_batch`` (params and tags travel with the first metrics), at most every
:attr:`.queue.RunWriter.MIN_INTERVAL_S`. Artifact uploads (:func:`submit`) and the run's ending
(:func:`end_run`) are queued behind them, so a run is ended only once its points and files are in.

When the store stops answering, the points stay queued and every write is retried for
``BPLAB_TRACKING_RETRY_S`` (default 120 s, see :mod:`.retry`): a server that comes back gets every
point; one that does not fails the run with one :class:`TrackingUnavailable`, raised in the training
thread. At exit, every writer is drained (within that window) before the interpreter goes.
"""

from __future__ import annotations

import atexit
import json
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from mlflow.entities import Metric, Param, RunTag

from experiments.errors import TrackingUnavailable
from experiments.tracking.queue import PARAMS_PER_BATCH, RunWriter
from experiments.tracking.store import client

MAX_PARAM_LEN = 6000  # MLflow's limit on a param value


_writers: dict[str, RunWriter] = {}
_closing: set[RunWriter] = set()  # ended without waiting, still writing
_failed: dict[str, TrackingUnavailable] = {}  # runs whose store went away: later writes fail at once
_writers_lock = threading.Lock()


def _outage(run_id: str, error: TrackingUnavailable) -> None:
    with _writers_lock:
        _failed[run_id] = error


def _done(writer: RunWriter) -> None:
    with _writers_lock:
        _closing.discard(writer)


def _writer(run_id: str, *, create: bool = True) -> RunWriter | None:
    with _writers_lock:
        if run_id in _failed:
            raise _failed[run_id]
        if run_id not in _writers and create:
            _writers[run_id] = RunWriter(run_id, on_outage=_outage, on_done=_done)
        return _writers.get(run_id)


def close(run_id: str) -> None:
    """Writes what is queued for ``run_id`` and stops its writer (the run is ending)."""
    with _writers_lock:
        writer = _writers.pop(run_id, None)
    if writer is not None:
        writer.close()
    elif run_id in _failed:
        raise _failed[run_id]


def submit(run_id: str, job: Callable[[], object]) -> None:
    """Queues ``job`` (an upload) to run in the run's writer after what is queued, retried like points."""
    _writer(run_id).put(job=job)


def end_run(run_id: str, status: str, *, wait: bool = True) -> None:
    """Ends the run with ``status`` once everything queued is written.

    With ``wait=False`` this returns at once: the run stays RUNNING until its points and artifacts
    are stored, then ends; :func:`drain` (run at exit) waits for it.
    """
    with _writers_lock:
        writer = _writers.pop(run_id, None)
    if writer is None:
        if run_id in _failed:
            raise _failed[run_id]
        client().set_terminated(run_id, status=status)
        return
    writer.ending = True
    writer.put(job=lambda: client().set_terminated(run_id, status=status))
    with _writers_lock:
        _closing.add(writer)
    writer.close(wait=wait)


def settle(run_id: str) -> None:
    """Waits until everything queued for ``run_id``, its ending included, is written, so its status
    can be read and corrected: a signal may have cut short the wait for a queued ending, which would
    otherwise land after the correction."""
    with _writers_lock:
        open_ = [w for w in _writers.values() if w.run_id == run_id]
        closing = [w for w in _closing if w.run_id == run_id]
    for w in open_:
        w.flush()
    for w in closing:
        w.join()


def drain() -> None:
    """Waits until every writer of this process has written what it holds (at exit)."""
    with _writers_lock:
        writers = [*_writers.values(), *_closing]
        _writers.clear()  # a later write to one of these runs gets a new writer
        _closing.clear()
    for w in writers:
        w.close(wait=False)
        w.join()


atexit.register(drain)


def log_metrics(run_id: str, metrics: Mapping[str, float], step: int, *, synchronous: bool = False) -> None:
    """Logs every metric at ``step``; queued for the run's writer, or written before returning.

    The training loop only queues the values, which keeps the tracking overhead of an epoch tiny;
    :func:`flush` (called when the run ends) waits until they are stored.
    """
    now = int(time.time() * 1000)
    batch = [Metric(str(k), float(v), now, int(step)) for k, v in metrics.items()]
    _writer(run_id).put(metrics=batch)
    if synchronous:
        flush(run_id)


def flush(run_id: str | None = None) -> None:
    """Waits until what is queued for ``run_id`` (or for every run) is in the store."""
    with _writers_lock:
        writers = [w for rid, w in _writers.items() if run_id in (None, rid)]
    for w in writers:
        w.flush()


def _param_value(value: Any) -> str:
    text = json.dumps(value) if isinstance(value, list | tuple | dict) else str(value)
    return text[:MAX_PARAM_LEN]


def log_params(run_id: str, params: Mapping[str, Any]) -> None:
    """Queues params (stringified): they reach the store with the run's next ``log_batch``."""
    _writer(run_id).put(params=[Param(str(k), _param_value(v)) for k, v in params.items()])


def set_tags(run_id: str, tags: Mapping[str, Any]) -> None:
    """Sets tags (values stringified): queued while the run has a writer, else one ``log_batch`` now."""
    if not tags:
        return
    items = [RunTag(str(k), str(v)) for k, v in tags.items()]
    writer = _writer(run_id, create=False)
    if writer is not None:
        writer.put(tags=items)
    else:
        for i in range(0, len(items), PARAMS_PER_BATCH):
            client().log_batch(run_id, tags=items[i : i + PARAMS_PER_BATCH])
