"""The background writer: the loop never waits, one ``log_batch`` carries params, tags and many epochs,
an outage is waited out for a bounded window, and a store error reaches the training thread."""

from __future__ import annotations

import json
import threading
import time

import pytest
import sqlalchemy
from mlflow.exceptions import MlflowException

from experiments import tracking
from experiments.errors import TrackingUnavailable
from experiments.tracking import queue, writer


class FakeClient:
    """Records ``log_batch`` calls; ``fail`` makes them raise; ``gate`` holds them until set."""

    def __init__(self):
        self.calls: list[dict] = []
        self.fail: Exception | None = None
        self.fail_times = 0  # fail this many calls, then succeed
        self.gate = threading.Event()
        self.gate.set()
        self.ended: list[tuple[str, str]] = []

    def _maybe_fail(self):
        if self.fail is not None and self.fail_times:
            self.fail_times -= 1
            raise self.fail

    def set_terminated(self, run_id, status=None):
        self._maybe_fail()
        self.ended.append((run_id, status))

    def log_batch(self, run_id, metrics=(), params=(), tags=()):
        self.gate.wait(10)
        self._maybe_fail()
        self.calls.append(
            {"run_id": run_id, "metrics": list(metrics), "params": list(params), "tags": list(tags)}
        )


@pytest.fixture
def fake(monkeypatch) -> FakeClient:
    client = FakeClient()
    monkeypatch.setattr(writer, "client", lambda: client)
    monkeypatch.setattr(queue, "client", lambda: client)
    return client


def test_epochs_queued_together_travel_in_one_batch(fake):
    for step in range(1, 4):
        tracking.log_metrics("r1", {"train_loss": 1.0 / step, "val_loss": 2.0}, step)
    tracking.flush("r1")
    assert len(fake.calls) == 1
    points = [(m.key, m.step, m.value) for m in fake.calls[0]["metrics"]]
    assert points[:2] == [("train_loss", 1, 1.0), ("val_loss", 1, 2.0)]
    assert len(points) == 6
    writer.close("r1")


def test_log_metrics_does_not_wait_for_the_store(fake):
    fake.gate.clear()  # the store hangs
    tracking.log_metrics("r2", {"a": 1.0}, 1)
    tracking.log_metrics("r2", {"a": 2.0}, 2)  # returns although the first write is stuck
    assert fake.calls == []
    fake.gate.set()
    writer.close("r2")
    assert sum(len(c["metrics"]) for c in fake.calls) == 2


def test_a_store_error_is_raised_in_the_training_thread(fake):
    fake.fail, fake.fail_times = RuntimeError("store down"), 1
    tracking.log_metrics("r3", {"a": 1.0}, 1)
    with pytest.raises(RuntimeError, match="store down"):
        tracking.flush("r3")
    tracking.log_metrics("r3", {"a": 2.0}, 2)  # raised once; the writer goes on
    writer.close("r3")
    assert [m.value for c in fake.calls for m in c["metrics"]] == [2.0]


def test_synchronous_writes_after_the_queue(fake):
    tracking.log_metrics("r4", {"a": 1.0}, 1)
    tracking.log_metrics("r4", {"a": 2.0}, 2, synchronous=True)
    assert [m.step for c in fake.calls for m in c["metrics"]] == [1, 2]
    writer.close("r4")


def test_params_are_stringified_cut_and_batched_by_100(fake):
    params = {f"p{i}": i for i in range(150)}
    params["hidden"] = [5, 4]
    params["long"] = "x" * (tracking.MAX_PARAM_LEN + 10)
    tracking.log_params("r5", params)
    writer.close("r5")
    assert [len(c["params"]) for c in fake.calls] == [100, 52]
    values = {p.key: p.value for c in fake.calls for p in c["params"]}
    assert values["p7"] == "7" and json.loads(values["hidden"]) == [5, 4]
    assert len(values["long"]) == tracking.MAX_PARAM_LEN


def test_tags_in_one_batch_and_none_for_nothing(fake):
    tracking.set_tags("r6", {})
    assert fake.calls == []
    tracking.set_tags("r6", {"bplab.kind": "run", "n": 1})
    assert [(t.key, t.value) for t in fake.calls[0]["tags"]] == [("bplab.kind", "run"), ("n", "1")]


def test_params_and_tags_travel_with_the_first_metrics(fake):
    tracking.log_params("r7", {"train.lr": 0.5})
    tracking.set_tags("r7", {"bplab.kind": "trial"})  # the run has a writer now: queued too
    tracking.log_metrics("r7", {"train_loss": 1.0}, 1)
    writer.close("r7")
    (call,) = fake.calls
    assert [len(call[k]) for k in ("metrics", "params", "tags")] == [1, 1, 1]


def test_an_outage_is_retried_and_every_point_stored(fake, monkeypatch):
    monkeypatch.setenv("BPLAB_TRACKING_RETRY_S", "30")
    fake.fail, fake.fail_times = MlflowException("connection refused"), 3  # HTTP 500: transient
    for step in (1, 2):
        tracking.log_metrics("r8", {"a": float(step)}, step)
    writer.close("r8")
    assert [m.step for c in fake.calls for m in c["metrics"]] == [1, 2]


def test_a_store_that_stays_away_fails_the_run_once_the_window_closes(fake, monkeypatch):
    monkeypatch.setenv("BPLAB_TRACKING_RETRY_S", "0.5")
    fake.fail, fake.fail_times = OSError("connection refused"), 10**6
    tracking.log_metrics("r9", {"a": 1.0}, 1)
    with pytest.raises(TrackingUnavailable, match="did not answer"):
        tracking.flush("r9")
    with pytest.raises(TrackingUnavailable):  # it stays failed: nothing more is accepted
        tracking.log_metrics("r9", {"a": 2.0}, 2)
    assert TrackingUnavailable("x").kind == "tracking_unavailable"


def test_a_refusal_is_not_retried(fake, monkeypatch):
    monkeypatch.setenv("BPLAB_TRACKING_RETRY_S", "60")
    fake.fail, fake.fail_times = MlflowException.invalid_parameter_value("bad"), 1
    tracking.log_metrics("r10", {"a": 1.0}, 1)
    with pytest.raises(MlflowException, match="bad"):
        tracking.flush("r10")
    writer.close("r10")


def test_an_ending_without_waiting_comes_after_the_queued_files(fake):
    fake.gate.clear()
    done = []
    tracking.log_metrics("r11", {"a": 1.0}, 1)
    writer.submit("r11", lambda: done.append("files"))
    writer.end_run("r11", "FINISHED", wait=False)  # returns while the store is stuck
    assert fake.ended == [] and done == []
    fake.gate.set()
    writer.drain()
    assert done == ["files"] and fake.ended == [("r11", "FINISHED")]


def test_settle_waits_for_an_ending_a_signal_left_queued(fake):
    """A Ctrl-C during ``end_run``'s wait leaves the ending queued; a correction made before it
    lands would be overwritten, so ``settle`` waits for it (and for nothing of other runs)."""
    fake.gate.clear()
    tracking.log_metrics("r13", {"a": 1.0}, 1)
    tracking.log_metrics("other", {"a": 1.0}, 1)
    writer.end_run("r13", "FINISHED", wait=False)  # the caller stopped waiting
    assert fake.ended == []
    threading.Timer(0.3, fake.gate.set).start()
    writer.settle("r13")
    assert fake.ended == [("r13", "FINISHED")]  # written before settle returned
    writer.drain()


def test_a_failed_upload_after_the_caller_left_ends_the_run_failed(fake):
    def upload():
        raise ValueError("disk full")

    writer.submit("r12", upload)
    writer.end_run("r12", "FINISHED", wait=False)
    writer.drain()
    assert fake.ended == [("r12", "FAILED")]  # not FINISHED: its files are missing
    tags = {t.key: t.value for c in fake.calls for t in c["tags"]}
    assert tags["bplab.failure"] == "exception" and "disk full" in tags["bplab.failure_reason"]


@pytest.mark.parametrize(
    ("error", "category"),
    [
        (MemoryError("cannot allocate 2 GiB"), "oom"),
        (RuntimeError("RESOURCE_EXHAUSTED: Out of memory allocating 1600000000 bytes."), "oom"),
        (TrackingUnavailable("the store did not answer for 120 s"), "tracking_unavailable"),
        (ValueError("disk full"), "exception"),
    ],
)
def test_a_run_ended_by_its_writer_gets_the_category_its_own_failure_would(fake, error, category):
    """The same ``bplab.failure`` as :func:`experiments.failures.classify` gives a run's own failure."""

    def upload():
        raise error

    run_id = f"r13-{type(error).__name__}"  # an outage bars its run id from later writes
    writer.submit(run_id, upload)
    writer.end_run(run_id, "FINISHED", wait=False)
    writer.drain()
    assert fake.ended == [(run_id, "FAILED")]
    tags = {t.key: t.value for c in fake.calls for t in c["tags"]}
    assert tags["bplab.failure"] == category
    assert tags["bplab.failure_reason"].startswith(f"{type(error).__name__}: ")


def test_only_a_few_writers_talk_to_the_store_at_once(fake):
    """A population's 16 runs write at once. MLflow's database store takes a second pooled connection
    inside each ``log_batch``, from a pool of 15: 16 writers at once each held one and waited for
    another until the pool timed out, 30 s later."""
    fake.gate.clear()  # every write waits in the store
    inside, most, lock = [0], [0], threading.Lock()
    log_batch = fake.log_batch

    def counting(run_id, **points):
        with lock:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
        try:
            log_batch(run_id, **points)
        finally:
            with lock:
                inside[0] -= 1

    fake.log_batch = counting
    runs = [f"pop-{i}" for i in range(16)]
    for run_id in runs:
        tracking.log_metrics(run_id, {"a": 1.0}, 1)
    deadline = time.monotonic() + 10
    while inside[0] < queue.MAX_CONCURRENT_WRITES and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(queue.RunWriter.MIN_INTERVAL_S + 0.2)  # every writer has had its chance to come in
    assert most[0] == queue.MAX_CONCURRENT_WRITES  # they do write side by side, up to the bound
    fake.gate.set()
    for run_id in runs:
        writer.close(run_id)
    assert sorted(c["run_id"] for c in fake.calls) == sorted(runs)


def test_runs_written_at_once_leave_connections_to_spare_in_the_store_pool(experiment, monkeypatch):
    """The real sqlite store: 16 runs log their epochs together. Each write is slowed while it holds
    its first connection (the metrics come second), so that the writers overlap as a population's do;
    the pool must never be drained, or a writer waits 30 s for a connection."""
    store = tracking.client()._tracking_client.store
    pool = store.engine.pool
    out, most, lock = [0], [0], threading.Lock()

    def checked_out(*_):
        with lock:
            out[0] += 1
            most[0] = max(most[0], out[0])

    def checked_in(*_):
        with lock:
            out[0] -= 1

    log_metrics = type(store)._log_metrics

    def slow_log_metrics(self, *args, **kwargs):
        time.sleep(0.05)
        return log_metrics(self, *args, **kwargs)

    monkeypatch.setattr(type(store), "_log_metrics", slow_log_metrics)
    sqlalchemy.event.listen(pool, "checkout", checked_out)
    sqlalchemy.event.listen(pool, "checkin", checked_in)
    try:
        runs = [tracking.start_run(experiment, log_system_metrics=False) for _ in range(16)]
        for epoch in range(1, 4):
            for run_id in runs:
                tracking.log_metrics(run_id, {"loss": 1.0 / epoch}, epoch)
        time.sleep(queue.RunWriter.MIN_INTERVAL_S + 0.5)  # the writers wake together, as after an epoch
        for run_id in runs:
            tracking.end_run(run_id)
    finally:
        sqlalchemy.event.remove(pool, "checkout", checked_out)
        sqlalchemy.event.remove(pool, "checkin", checked_in)
    assert most[0] < pool.size() + pool._max_overflow
    for run_id in runs:
        run = tracking.client().get_run(run_id)
        assert run.info.status == "FINISHED"
        assert [m.step for m in tracking.client().get_metric_history(run_id, "loss")] == [1, 2, 3]
