"""train_run in-process against a real sqlite store: statuses, tags, StopRun, divergence, mismatch."""

from __future__ import annotations

import math
import uuid

import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from experiments import tracking
from experiments.config import load_config
from experiments.errors import BadInput, Diverged, GradientMismatch, RunFailed, StopRun
from experiments.run import loop, train_run
from tests.mutants import bp2_no_sigma_prime

from .conftest import CONFIGS


@pytest.fixture(scope="module")
def _shared_uri(tmp_path_factory):
    """One sqlite store for the module (its schema costs a CPU-second); tests keep apart by experiment."""
    uri = f"sqlite:///{tmp_path_factory.mktemp('runner') / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", uri)
        tracking.ensure_reachable()
    return uri


@pytest.fixture
def store(_shared_uri, monkeypatch):
    """``MLFLOW_TRACKING_URI`` set to the module's store; returns ``(uri, a fresh experiment name)``."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", _shared_uri)
    return _shared_uri, f"runner-{uuid.uuid4().hex[:8]}"


def _cfg(*overrides, experiment="digits"):
    base = [
        f"experiment.name={experiment}",
        "model.hidden=[4]",
        "train.epochs=3",
        "train.batch_size=8",
        "train.lr=0.5",
        "train.gradcheck_every=1",
    ]
    return load_config(CONFIGS / "digits.toml", [*base, "data.dataset=iris", *overrides])


def _only_run(uri, experiment):
    c = MlflowClient(uri)
    (run,) = c.search_runs([c.get_experiment_by_name(experiment).experiment_id])
    return c, run


def _run(uri, run_id):
    return MlflowClient(uri).get_run(run_id)


def test_untracked_run_touches_no_store(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    result = train_run(_cfg(), track=False)
    assert result.run_id is None
    assert len(result.history) == 3
    assert {"test_loss", "test_accuracy", "val_loss"} <= set(result.final)
    assert [W.shape for W, _ in result.params] == [(4, 4), (3, 4)]
    assert not any(tmp_path.iterdir())


def test_on_epoch_sees_every_epoch_with_design_names(store):
    uri, exp = store
    seen = []
    result = train_run(_cfg(experiment=exp), on_epoch=lambda e, m: seen.append((e, m)), artifacts="light")
    assert [e for e, _ in seen] == [1, 2, 3]
    names = set(seen[0][1])
    assert {"train_loss", "val_loss", "val_accuracy", "samples_per_sec", "gradcheck/max_rel_err"} <= names
    assert {"grad_norm/W1", "grad_norm/b2", "saturation/layer1", "gradcheck/rel_err/W2"} <= names
    run = _run(uri, result.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.tags["bplab.kind"] == "run"


def test_stop_run_ends_with_its_status_and_tags(store):
    uri, exp = store

    def prune(epoch, metrics):
        if epoch == 2:
            raise StopRun("KILLED", {"optuna.pruned": "true"}, reason="pruned at epoch 2")

    with pytest.raises(StopRun) as e:
        train_run(_cfg(experiment=exp), on_epoch=prune, tags={"bplab.kind": "trial"})
    c, run = _only_run(uri, exp)
    assert e.value.status == "KILLED"
    assert run.info.status == "KILLED"
    assert run.data.tags["optuna.pruned"] == "true"
    assert run.data.tags["bplab.stop_reason"] == "pruned at epoch 2"
    assert run.data.tags["bplab.kind"] == "trial"
    assert [m.step for m in c.get_metric_history(run.info.run_id, "val_loss")] == [1, 2]


def test_the_next_epoch_is_queued_before_an_epoch_is_judged(monkeypatch):
    """The device trains epoch e + 1 while the host logs and judges epoch e; a stop drops it unlogged."""
    queued, train_epoch = [], loop.train_epoch

    def spy(*args, **kwargs):
        queued.append(len(queued) + 1)
        return train_epoch(*args, **kwargs)

    monkeypatch.setattr(loop, "train_epoch", spy)
    seen = []
    train_run(_cfg("train.epochs=4"), track=False, on_epoch=lambda e, m: seen.append((e, len(queued))))
    assert seen == [(1, 2), (2, 3), (3, 4), (4, 4)]

    def stop(epoch, metrics):
        if epoch == 2:
            raise StopRun("KILLED", {}, reason="stopped at epoch 2")

    queued.clear()
    with pytest.raises(StopRun) as stopped:
        train_run(_cfg("train.epochs=4"), track=False, on_epoch=stop)
    assert stopped.value.reason == "stopped at epoch 2"
    assert len(queued) == 3  # epoch 3 was in flight when epoch 2 stopped the run


def test_nested_under_parent(store):
    uri, exp = store
    parent = tracking.start_run(exp, run_name="parent", tags={"bplab.kind": "sweep"})
    child = train_run(_cfg(experiment=exp), parent_run_id=parent, run_name="child", artifacts="light")
    tracking.end_run(parent)
    run = _run(uri, child.run_id)
    assert run.data.tags["mlflow.parentRunId"] == parent
    assert run.info.run_name == "child"


def test_divergence_fails_the_run_and_names_the_epoch(store):
    uri, exp = store
    cfg = _cfg(
        "model.activation=relu",
        "model.cost=softmax_cross_entropy",
        "train.lr=1e30",
        "train.epochs=20",
        experiment=exp,
    )
    logged, passed = [], []
    with pytest.raises(Diverged) as e:
        train_run(cfg, on_metrics=lambda e, m: logged.append(e), on_epoch=lambda e, m: passed.append(e))
    assert isinstance(e.value, RunFailed) and e.value.kind == "diverged"
    run = _run(uri, e.value.run_id)
    assert run.info.status == "FAILED"
    assert run.data.tags["bplab.failure"] == "diverged"
    reason = run.data.tags["bplab.failure_reason"]
    assert "at epoch" in reason and "smaller learning rate" in reason
    epoch = int(reason.split("at epoch ")[1].split()[0])
    history = MlflowClient(uri).get_metric_history(e.value.run_id, "train_loss")
    assert len(history) == epoch < 20  # stopped at the first non-finite epoch
    assert logged == [*passed, epoch]  # a display sees the failing epoch, a pruner does not
    assert not math.isfinite(history[-1].value)


def test_periodic_gradcheck_catches_a_planted_bug(store):
    uri, exp = store
    with pytest.raises(GradientMismatch) as e:
        train_run(_cfg("model.hidden=[5, 4]", experiment=exp), grad=bp2_no_sigma_prime)
    run = _run(uri, e.value.run_id)
    assert run.info.status == "FAILED"
    assert run.data.tags["bplab.failure"] == "gradient_mismatch"
    assert "BP2" in run.data.tags["bplab.failure_reason"]
    assert run.data.tags["bplab.fault"] == "bp2_no_sigma_prime"


def test_exception_in_callback_fails_the_run(store):
    uri, exp = store

    def boom(epoch, metrics):
        raise RuntimeError("callback exploded")

    with pytest.raises(RuntimeError):
        train_run(_cfg(experiment=exp), on_epoch=boom)
    _, run = _only_run(uri, exp)
    assert run.info.status == "FAILED"
    assert run.data.tags["bplab.failure"] == "exception"
    assert "callback exploded" in run.data.tags["bplab.failure_reason"]


def test_keyboard_interrupt_kills_the_run(store):
    uri, exp = store

    def interrupt(epoch, metrics):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_run(_cfg(experiment=exp), on_epoch=interrupt)
    _, run = _only_run(uri, exp)
    assert run.info.status == "KILLED"


def test_batch_larger_than_training_set_is_refused_before_any_run(unopened_store):
    with pytest.raises(BadInput, match=r"train\.batch_size = 5000 is larger than the training set"):
        train_run(_cfg("train.batch_size=5000"))
    assert not unopened_store.exists()


def test_float64_run(store):
    _, exp = store
    result = train_run(_cfg("train.dtype=float64", experiment=exp), artifacts="light")
    assert result.params[0][0].dtype == np.float64
    assert result.history[-1]["gradcheck/max_rel_err"] <= 1e-10


def test_at_most_one_log_batch_per_epoch(store, monkeypatch):
    uri, exp = store
    client = tracking.client()
    calls = []
    real = client.log_batch

    def counting(run_id, metrics=(), params=(), tags=(), **kw):
        if metrics:
            calls.append(sorted({m.step for m in metrics}))
        return real(run_id, metrics=metrics, params=params, tags=tags, **kw)

    monkeypatch.setattr(client, "log_batch", counting)
    epochs = 4
    result = train_run(_cfg(f"train.epochs={epochs}", experiment=exp))  # full artifacts: their batches count
    assert 1 <= len(calls) <= epochs + 1  # + the final test metrics
    steps = MlflowClient(uri).get_metric_history(result.run_id, "val_loss")
    assert sorted(m.step for m in steps) == list(range(1, epochs + 1))
