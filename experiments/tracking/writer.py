"""Metrics, params and tags of a run, written so the training loop never waits for the store.

Metrics go through one background writer per run (:class:`_MetricWriter`); params and tags are
written at once, each in as few ``log_batch`` calls as MLflow's limits allow.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from typing import Any

from mlflow.entities import Metric, Param, RunTag

from experiments.tracking.store import client

MAX_PARAM_LEN = 6000  # MLflow's limit on a param value
_PARAMS_PER_BATCH = 100  # MLflow's limit of params per log_batch


class _MetricWriter:
    """A background thread that writes one run's metrics, so the training loop never waits for the store.

    ``put`` only appends to a list (microseconds). The thread takes everything pending and writes it
    with one ``log_batch``, at most every :attr:`MIN_INTERVAL_S` seconds: when epochs are faster than
    that (digits epochs take ~2 ms, a sqlite commit ~20 ms), several epochs' points travel in one
    batch, so there is never more than one ``log_batch`` per epoch, and the writer's Python work does
    not compete with the training thread for the GIL after every epoch. A store error is kept and
    raised in the training thread at the next ``put`` or ``flush``.
    """

    _MAX_METRICS_PER_BATCH = 1000  # MLflow's limit
    MIN_INTERVAL_S = 0.5

    def __init__(self, run_id: str):
        self.run_id = run_id
        self._pending: list[Metric] = []
        self._busy = False
        self._flushing = 0
        self._closed = False
        self._error: BaseException | None = None
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._loop, name=f"mlflow-metrics-{run_id[:8]}", daemon=True)
        self._thread.start()

    def put(self, metrics: list[Metric]) -> None:
        with self._cond:
            self._raise_error()
            self._pending.extend(metrics)
            self._cond.notify_all()

    def flush(self) -> None:
        """Blocks until every metric put so far is in the store; re-raises a store error."""
        with self._cond:
            self._flushing += 1
            self._cond.notify_all()
            try:
                self._cond.wait_for(lambda: (not self._pending and not self._busy) or self._error is not None)
            finally:
                self._flushing -= 1
            self._raise_error()

    def close(self) -> None:
        """Flushes, then lets the thread end."""
        try:
            self.flush()
        finally:
            with self._cond:
                self._closed = True
                self._cond.notify_all()

    def _raise_error(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            self._pending.clear()
            raise error

    def _loop(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: bool(self._pending) or self._closed)
                if not self._pending:
                    return  # closed and drained
                # Let more epochs gather, unless someone waits in flush().
                self._cond.wait_for(lambda: self._flushing, timeout=self.MIN_INTERVAL_S)
                batch, self._pending = self._pending, []
                self._busy = True
            try:
                for i in range(0, len(batch), self._MAX_METRICS_PER_BATCH):
                    client().log_batch(self.run_id, metrics=batch[i : i + self._MAX_METRICS_PER_BATCH])
            except BaseException as e:  # handed to the training thread
                with self._cond:
                    self._error = e
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()


_writers: dict[str, _MetricWriter] = {}
_writers_lock = threading.Lock()


def _writer(run_id: str) -> _MetricWriter:
    with _writers_lock:
        if run_id not in _writers:
            _writers[run_id] = _MetricWriter(run_id)
        return _writers[run_id]


def close(run_id: str) -> None:
    """Writes what is queued for ``run_id`` and stops its writer (the run is ending)."""
    with _writers_lock:
        writer = _writers.pop(run_id, None)
    if writer is not None:
        writer.close()


def log_metrics(run_id: str, metrics: Mapping[str, float], step: int, *, synchronous: bool = False) -> None:
    """Logs every metric at ``step``: one ``log_batch``, written by a background thread by default.

    The training loop only queues the values, which keeps the tracking overhead of an epoch tiny;
    :func:`flush` (called when the run ends) waits until they are stored. ``synchronous=True``
    writes before returning.
    """
    now = int(time.time() * 1000)
    batch = [Metric(str(k), float(v), now, int(step)) for k, v in metrics.items()]
    if synchronous:
        flush(run_id)
        client().log_batch(run_id, metrics=batch)
    else:
        _writer(run_id).put(batch)


def flush(run_id: str | None = None) -> None:
    """Waits until the queued metrics of ``run_id`` (or of every run) are in the store."""
    with _writers_lock:
        writers = [w for rid, w in _writers.items() if run_id in (None, rid)]
    for w in writers:
        w.flush()


def _param_value(value: Any) -> str:
    text = json.dumps(value) if isinstance(value, list | tuple | dict) else str(value)
    return text[:MAX_PARAM_LEN]


def log_params(run_id: str, params: Mapping[str, Any]) -> None:
    """Logs params (stringified), in as few ``log_batch`` calls as MLflow's limits allow."""
    items = [Param(str(k), _param_value(v)) for k, v in params.items()]
    for i in range(0, len(items), _PARAMS_PER_BATCH):
        client().log_batch(run_id, params=items[i : i + _PARAMS_PER_BATCH])


def set_tags(run_id: str, tags: Mapping[str, Any]) -> None:
    """Sets tags (values stringified) in one ``log_batch``."""
    if tags:
        client().log_batch(run_id, tags=[RunTag(str(k), str(v)) for k, v in tags.items()])
