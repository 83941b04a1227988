"""The reaper on PostgreSQL, in this process against a real database: no trial stays RUNNING.

A worker killed inside ``reserve`` (after ``study.ask()``, before any heartbeat) left its trial
RUNNING forever: Optuna's stale check skips a trial that never beat. And trials failed as stale
lacked ``bplab.failure=worker_lost`` (Optuna fails them before its callback could label them).
A killed process is simulated by what it leaves in the database: a trial asked and never beaten,
or a heartbeat aged past the grace period (instead of waiting the grace period out).
"""

from __future__ import annotations

import socket

import pytest
import sqlalchemy
from mlflow.tracking import MlflowClient
from optuna.trial import TrialState

from experiments.config import load_config
from sweeps.space import parse_sweep
from sweeps.study import create_or_resume, reap, reserve, resolve_storage
from tests.sweeps.conftest import write_config
from tests.sweeps.inprocess import use_tmp_stores

pytestmark = pytest.mark.integration


def open_pg(folder, pg_url, name="reap"):
    cfg = load_config(write_config(folder, name=name), [])
    spec = parse_sweep(cfg.sweep, cfg.source)
    url = resolve_storage(pg_url)
    # A long grace period (3 × 10 min): a live trial nobody beats for must not go stale while a
    # loaded machine runs the test; the dead ones are dead by what they lack, or aged by an hour.
    return create_or_resume(url, name, cfg, spec, tracking_uri="sqlite:///unused.db", heartbeat=600)


def retries_of(study, number):
    return [t for t in study.get_trials() if t.system_attrs.get("failed_trial") == number]


def test_trials_whose_process_died_inside_reserve_are_failed_and_requeued(tmp_path, pg_url):
    handle = open_pg(tmp_path, pg_url)
    study, storage = handle.study, handle.study._storage
    study.enqueue_trial({"lr": 2.0})
    bare = study.ask()  # killed right after ask: the queued params popped, no heartbeat, no host
    beaten = study.ask()  # killed after the first beat, before the stamp
    storage.record_heartbeat(beaten._trial_id)
    stamped = study.ask()  # stamped but never beaten: a trial stuck from before reserve beat first
    stamped.set_user_attr("bplab.host", socket.gethostname())
    alive = reserve(handle)  # a live worker's trial: reserve beats and stamps it under the lock

    assert sorted(reap(handle)) == [bare.number, beaten.number, stamped.number]
    trials = study.get_trials()
    for orphan in (bare, beaten, stamped):
        dead = trials[orphan.number]
        assert dead.state == TrialState.FAIL and dead.user_attrs["bplab.failure"] == "worker_lost"
        (retry,) = retries_of(study, orphan.number)
        assert retry.state == TrialState.WAITING
    (retry,) = retries_of(study, bare.number)
    assert retry.system_attrs["fixed_params"] == {"lr": 2.0}  # the same params, queued again
    assert trials[alive.number].state == TrialState.RUNNING  # its heartbeat (from reserve) keeps it
    assert reap(handle) == []  # nothing is failed twice


def test_a_stale_trial_is_labelled_worker_lost_requeued_and_its_run_ended(tmp_path, pg_url, monkeypatch):
    uri = use_tmp_stores(monkeypatch, tmp_path)
    handle = open_pg(tmp_path, pg_url, name="stale")
    trial = reserve(handle)
    lr = trial.suggest_float("lr", 0.5, 10.0, log=True)
    client = MlflowClient(uri)
    exp = client.create_experiment("stale")
    parent = client.create_run(exp, tags={"bplab.kind": "sweep"}).info.run_id
    tags = {"mlflow.parentRunId": parent, "optuna.trial": str(trial.number), "bplab.kind": "trial"}
    child = client.create_run(exp, tags=tags).info.run_id
    handle.study.set_user_attr("bplab.parent_run_id", parent)
    engine = sqlalchemy.create_engine(pg_url, poolclass=sqlalchemy.pool.NullPool)
    with engine.begin() as conn:  # its worker died an hour ago
        conn.execute(
            sqlalchemy.text(
                "UPDATE trial_heartbeats SET heartbeat = heartbeat - interval '1 hour' WHERE trial_id = :t"
            ),
            {"t": trial._trial_id},
        )
    engine.dispose()

    assert reap(handle) == [trial.number]
    dead = handle.study.get_trials()[trial.number]
    assert dead.state == TrialState.FAIL and dead.user_attrs["bplab.failure"] == "worker_lost"
    (retry,) = retries_of(handle.study, trial.number)
    assert retry.state == TrialState.WAITING and retry.params == {"lr": lr}
    run = client.get_run(child)
    assert run.info.status == "FAILED" and run.data.tags["bplab.failure"] == "worker_lost"
