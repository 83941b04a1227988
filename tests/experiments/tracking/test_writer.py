"""The background metric writer: the loop never waits, one ``log_batch`` carries many epochs, and a
store error reaches the training thread."""

from __future__ import annotations

import json
import threading

import pytest

from experiments import tracking
from experiments.tracking import writer


class FakeClient:
    """Records ``log_batch`` calls; ``fail`` makes them raise; ``gate`` holds them until set."""

    def __init__(self):
        self.calls: list[dict] = []
        self.fail: Exception | None = None
        self.gate = threading.Event()
        self.gate.set()

    def log_batch(self, run_id, metrics=(), params=(), tags=()):
        self.gate.wait(10)
        if self.fail is not None:
            raise self.fail
        self.calls.append(
            {"run_id": run_id, "metrics": list(metrics), "params": list(params), "tags": list(tags)}
        )


@pytest.fixture
def fake(monkeypatch) -> FakeClient:
    client = FakeClient()
    monkeypatch.setattr(writer, "client", lambda: client)
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
    fake.fail = RuntimeError("store down")
    tracking.log_metrics("r3", {"a": 1.0}, 1)
    with pytest.raises(RuntimeError, match="store down"):
        tracking.flush("r3")
    fake.fail = None
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
    assert [len(c["params"]) for c in fake.calls] == [100, 52]
    values = {p.key: p.value for c in fake.calls for p in c["params"]}
    assert values["p7"] == "7" and json.loads(values["hidden"]) == [5, 4]
    assert len(values["long"]) == tracking.MAX_PARAM_LEN


def test_tags_in_one_batch_and_none_for_nothing(fake):
    tracking.set_tags("r6", {})
    assert fake.calls == []
    tracking.set_tags("r6", {"bplab.kind": "run", "n": 1})
    assert [(t.key, t.value) for t in fake.calls[0]["tags"]] == [("bplab.kind", "run"), ("n", "1")]
